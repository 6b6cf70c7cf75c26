/**
 * Which bytes of a command the signature really covers (security review of issue 13, finding
 * 2), performed on the executor with the raw message bytes an attacker on the broker would
 * publish: the target's region and municipality count as much as the gateway id, a re-encoded
 * message acts only as signed, and no field travels unsigned.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import type { CommandAddress, CommandEnvelope } from '@kedge/cloud-sync/downlink/envelope.ts';
import { rawPublicKey } from '../ota/verify.ts';
import { CommandStore } from './command-store.ts';
import { CommandExecutor, type CommandTarget } from './executor.ts';
import type { WriteValue } from './write-point.ts';

const center = generateKeyPairSync('ed25519');
const SELF: CommandAddress = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-1' };

function box(t: test.TestContext): { executor: CommandExecutor; writes: Array<[string, string, WriteValue]> } {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-signed-fields-'));
  const store = new CommandStore(join(dir, 'commands.db'));
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const writes: Array<[string, string, WriteValue]> = [];
  const target: CommandTarget = {
    address: SELF,
    commandsConfig: () => ({ trustedKeys: [{ id: 'center-1', publicKey: rawPublicKey(center.publicKey).toString('base64') }], maxAgeMs: 120_000, maxClockSkewMs: 30_000 }),
    maintainerKeys: () => undefined,
    writePoint: async (device, point, value) => {
      writes.push([device, point, value]);
      return { device, point, value } as never;
    },
    rebirth: () => true,
    configFile: null,
    logLevel: { get: () => 'info', set: () => {} },
  };
  return { executor: new CommandExecutor(target, store), writes };
}

const signed = (to: CommandAddress, args: Record<string, unknown>): CommandEnvelope =>
  buildCommand({ kind: 'write', target: to, args, keyId: 'center-1', sign: (b) => sign(null, b, center.privateKey) });

const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));

test('a command signed for the same gateway id in another municipality or region is refused with wrong_target', async (t) => {
  const { executor, writes } = box(t);
  for (const other of [{ ...SELF, municipality: 'novokuznetsk' }, { ...SELF, region: 'altai' }, { ...SELF, prefix: 'kedge-test/v1' }]) {
    const r = await executor.handle('write', bytes(signed(other, { device: 'plc', point: 'pump', value: true })));
    assert.equal(r.error?.code, 'wrong_target', JSON.stringify(other));
  }
  assert.deepEqual(writes, []);
  const own = await executor.handle('write', bytes(signed(SELF, { device: 'plc', point: 'pump', value: true })));
  assert.equal(own.ok, true, JSON.stringify(own.error));
});

test('a re-encoded message (key order, unicode escapes, number forms) acts only as signed; a duplicate key that changes a value breaks the signature', async (t) => {
  const { executor, writes } = box(t);
  const env = signed(SELF, { device: 'plc', point: 'pump', value: 1 });
  // Same values, other bytes: keys reversed, "plc" as escapes, 1 as 1.0e0.
  const reencoded = `{${Object.entries(env)
    .reverse()
    .map(([k, v]) => `${JSON.stringify(k)}:${k === 'device' ? '"\\u0070\\u006c\\u0063"' : k === 'value' ? '1.0e0' : JSON.stringify(v)}`)
    .join(',')}}`;
  assert.equal((await executor.handle('write', Buffer.from(reencoded))).ok, true);
  assert.deepEqual(writes, [['plc', 'pump', 1]]);

  // JSON.parse keeps the last of duplicate keys: the value that acts is the one verified.
  const twice = { ...signed(SELF, { device: 'plc', point: 'pump', value: 1 }) };
  const dup = Buffer.from(`${JSON.stringify(twice).slice(0, -1)},"value":0}`);
  assert.equal((await executor.handle('write', dup)).error?.code, 'bad_signature');
  assert.deepEqual(writes, [['plc', 'pump', 1]], 'the altered value never reached the device');
});

test('an envelope carrying its own kind or format is refused: those places are filled by the signature, an own value would be unsigned', async (t) => {
  const { executor, writes } = box(t);
  for (const extra of [{ format: 'kedge-cmd/1' }, { kind: 'config' }]) {
    const r = await executor.handle('write', bytes({ ...signed(SELF, { device: 'plc', point: 'pump', value: true }), ...extra }));
    assert.equal(r.error?.code, 'bad_request', JSON.stringify(extra));
    assert.match(r.error!.message, new RegExp(`must not carry "${Object.keys(extra)[0]}"`));
  }
  assert.deepEqual(writes, []);
});
