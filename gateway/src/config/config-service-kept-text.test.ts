/**
 * The text of the config in force is kept by the service for as long as the daemon runs (a
 * SIGHUP compares against it and restores it), so it is kept deflated: plain, it was ~60-75 B of
 * live heap per configured point (issue 20). The behaviours that read it must not notice.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { ConfigApplyError, ConfigService } from './config-service.ts';
import { ConfigStore } from './config-store.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A JSON config like the poll bench's (devices x registers), big enough for the kept size to matter. */
function benchConfig(dir: string, name: string, devices = 10, registers = 50): string {
  const points = Array.from({ length: registers }, (_, i) => ({ id: `r${i}`, table: 'holding', address: i, type: 'uint16' }));
  return JSON.stringify({
    gateway: { id: 'bench-gw', name, region: 'kuzbass', municipality: 'kemerovo' },
    dataDir: join(dir, 'data'),
    uplink: { url: 'mqtt://127.0.0.1:1883', codec: 'compact' },
    devices: Array.from({ length: devices }, (_, i) => ({
      id: `dev-${i}`,
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: 15000 + i,
      unitId: 1,
      intervalMs: 1000,
      points,
    })),
  });
}

test('the text in force is kept deflated, and SIGHUP history, restore after a failed apply and UI changes still use it exactly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-kept-text-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'kedge.json');
  const loaded = benchConfig(dir, 'Насосная 1');
  writeFileSync(path, loaded);
  const applied: string[] = [];
  const service = new ConfigService({
    path,
    apply: async (c) => {
      applied.push(c.gateway.name ?? '');
      if (c.gateway.name === 'не применяется') throw new Error('uplink: tls.ca unreadable');
    },
    dataDir: join(dir, 'data'),
  });
  const textBytes = Buffer.byteLength(loaded);
  // A tenth is far above what zlib makes of a config (20x and more) and far below the plain text.
  const keptAtMost = () => Buffer.byteLength(readFileSync(path, 'utf8')) / 10;
  assert.ok(service.appliedTextBytes > 0, 'the loaded text is kept');
  assert.ok(service.appliedTextBytes < keptAtMost(), `${service.appliedTextBytes} B kept for a text of ${textBytes} B`);

  // A valid hand edit that cannot be applied: the text kept is applied again and written back byte for byte.
  const failing = benchConfig(dir, 'не применяется');
  writeFileSync(path, failing);
  await assert.rejects(service.reloadFile(), ConfigApplyError);
  assert.deepEqual(applied, ['не применяется', 'Насосная 1']);
  assert.equal(readFileSync(path, 'utf8'), loaded, 'the file holds the text in force again');
  assert.equal(readFileSync(`${path}.rejected`, 'utf8'), failing);

  // A hand edit applied, then a hand edit refused: each SIGHUP compares against the text last applied, not the file.
  const edit = benchConfig(dir, 'правка на месте');
  writeFileSync(path, edit);
  await service.reloadFile();
  assert.ok(service.appliedTextBytes < keptAtMost());
  writeFileSync(path, `${edit.slice(0, -1)},"devices":[]}`);
  await assert.rejects(service.reloadFile(), { name: 'ConfigError' });

  // A UI change starts from the file and is kept deflated too; the next SIGHUP chains from it.
  writeFileSync(path, edit);
  const fromUi = benchConfig(dir, 'из интерфейса', 10, 51);
  await new ConfigStore(service).replace(fromUi, { source: 'web', actor: 'admin', what: 'PUT /api/config' });
  const written = readFileSync(path, 'utf8');
  assert.ok(service.appliedTextBytes < keptAtMost());
  const handAfterUi = benchConfig(dir, 'правка 2', 10, 51);
  writeFileSync(path, handAfterUi);
  await service.reloadFile();

  assert.deepEqual(
    service.history().map((c) => [c.source, c.outcome, c.before, c.after]),
    [
      ['sighup', 'failed', sha256(loaded), sha256(loaded)],
      ['sighup', 'applied', sha256(loaded), sha256(edit)],
      ['sighup', 'refused', sha256(edit), sha256(edit)],
      ['web', 'applied', sha256(edit), sha256(written)],
      ['sighup', 'applied', sha256(written), sha256(handAfterUi)],
    ],
  );
  assert.deepEqual(applied.slice(-2), ['из интерфейса', 'правка 2']);
});
