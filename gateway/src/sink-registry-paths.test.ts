/**
 * A composed sink registry (the tape fixture added with one line) reaches every path that reads
 * a config, not only the loader: a center's `config` command is checked against the tape's own
 * credential binding (the registry of the config service, not the product's SINKS), and the
 * device routes read a file holding a tape uplink.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { parseDocument } from 'yaml';
import { buildCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import type { CommandAddress } from '@kedge/cloud-sync/downlink/envelope.ts';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { rawPublicKey } from './ota/verify.ts';
import { ConfigService } from './config/config-service.ts';
import { ConfigStore } from './config/config-store.ts';
import { commandConfigFile } from './commands/index.ts';
import { CommandStore } from './commands/command-store.ts';
import { CommandExecutor } from './commands/executor.ts';
import { webFixture } from './web/test-fixture.ts';

const WITH_TAPE = [...SINKS, tapeSink] as const;
const center = generateKeyPairSync('ed25519');
const SELF: CommandAddress = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-tape' };
const regional = { name: 'regional', kind: 'mqtt', url: 'mqtt://127.0.0.1:1' };
const fileText = (dir: string, tape: string) =>
  `${JSON.stringify({ gateway: { id: 'gw-tape', region: 'kuzbass', municipality: 'kemerovo' }, dataDir: join(dir, 'data'), uplinks: [regional, { name: 'archive', kind: 'tape', tape, sealKeyFile: 'data/secrets/archive.key' }] }, null, 1)}\n`;

test("a center's config command is checked against the config service's registry: moving the tape's sealed archive elsewhere is refused", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-sink-paths-'));
  mkdirSync(join(dir, 'data', 'secrets'), { recursive: true });
  writeFileSync(join(dir, 'data', 'secrets', 'archive.key'), 'seal\n', { mode: 0o600 });
  const path = join(dir, 'kedge.yaml');
  writeFileSync(path, fileText(dir, 'archive'));
  const applied: string[] = [];
  const service = new ConfigService({ path, apply: async (c) => void applied.push(String((c.uplinks[1] as unknown as { tape: string }).tape)), dataDir: join(dir, 'data'), sinks: WITH_TAPE });
  const store = new CommandStore(join(dir, 'commands.db'));
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const configFile = commandConfigFile(new ConfigStore(service), () => service.validate(service.read()));
  const executor = new CommandExecutor(
    {
      address: SELF,
      commandsConfig: () => ({ trustedKeys: [{ id: 'center-1', publicKey: rawPublicKey(center.publicKey).toString('base64') }], maxAgeMs: 120_000, maxClockSkewMs: 30_000 }),
      maintainerKeys: () => undefined,
      writePoint: async () => assert.fail('no write'),
      rebirth: () => true,
      configFile,
      logLevel: { get: () => 'info', set: () => {} },
    },
    store,
  );
  const command = (yaml: string) => Buffer.from(JSON.stringify(buildCommand({ kind: 'config', target: SELF, args: { yaml }, keyId: 'center-1', sign: (b) => sign(null, b, center.privateKey) })));

  const moved = await executor.handle('config', command(fileText(dir, 'attacker')));
  assert.equal(moved.error?.code, 'protected_section', JSON.stringify(moved));
  assert.match(moved.error!.message, /uplinks\[1\]\.tape/);
  assert.match(moved.error!.message, /stored credentials to another receiver \(tape archive -> tape attacker\)/);
  assert.equal(readFileSync(path, 'utf8'), fileText(dir, 'archive'), 'the file is untouched');
  assert.deepEqual(applied, []);

  // The same registry lets a harmless change through (the check is not a blanket refusal).
  const doc = parseDocument(fileText(dir, 'archive'));
  doc.setIn(['gateway', 'name'], 'Насосная 3');
  const kept = await executor.handle('config', command(doc.toString()));
  assert.equal(kept.ok, true, JSON.stringify(kept.error));
  assert.deepEqual(applied, ['archive']);
});

test('the device routes read a config file holding a fixture sink: a saved device gets its warnings, a test read is answered', async () => {
  const f = await webFixture({ sinks: WITH_TAPE });
  try {
    // The file gains a tape uplink (through the service, with the composed registry).
    const doc = parseDocument(readFileSync(f.configPath, 'utf8'));
    const uplink = doc.toJSON().uplink as { url: string } | undefined;
    doc.delete('uplink');
    doc.set('uplinks', doc.createNode([{ name: 'regional', kind: 'mqtt', url: uplink?.url ?? 'mqtt://127.0.0.1:1' }, { name: 'archive', kind: 'tape', tape: 'web-archive' }]));
    writeFileSync(f.configPath, doc.toString());
    await f.web.ctx.configService.reloadFile();
    assert.deepEqual(f.gateway.currentConfig().uplinks.map((u) => u.kind), ['mqtt', 'tape']);

    const c = await f.setup();
    const device = { id: 'added', driver: 'modbus-tcp', host: '127.0.0.1', port: f.sim.port, unitId: 1, intervalMs: 100, points: [{ id: 'flow', table: 'holding', address: 0, type: 'float32' }, { id: 'volume', table: 'holding', address: 1, type: 'uint32' }] };
    const read = await c.request('POST', '/api/devices/test-read', device);
    assert.equal(read.statusCode, 200, read.body);
    const saved = await c.request('PUT', '/api/devices/added', device);
    assert.equal(saved.statusCode, 200, saved.body);
    assert.deepEqual(
      (saved.json().warnings as Array<{ path: string }>).map((w) => w.path),
      ['points[1].address'],
      'the overlap is reported: the saved file (with its tape uplink) was read with the same registry',
    );
    // The uplinks page: the tape's endpoint as its binding names it, and its form offered.
    const uplinks = (await c.request('GET', '/api/uplinks')).json() as Array<{ name: string; url: string }>;
    assert.equal(uplinks.find((u) => u.name === 'archive')?.url, 'web-archive');
    const forms = (await c.request('GET', '/api/uplinks/forms')).json() as Array<{ kind: string }>;
    assert.ok(forms.some((x) => x.kind === 'tape'), `forms of ${forms.map((x) => x.kind).join(', ')}`);
  } finally {
    await f.close();
  }
});
