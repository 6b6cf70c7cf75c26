/**
 * The real daemon (gateway/src/main.ts) under the launcher: a trial boot reports healthy once
 * its uplink connects, and the launcher marks it good; systemd hears READY=1 and WATCHDOG=1.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'node:test';
import assert from 'node:assert/strict';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { waitFor } from '@kedge/scripts/testing/wait.ts';
import { evaluateHealth } from './health.ts';
import { startLauncher } from './launcher.ts';
import { readState, seed, switchCurrent, writeState } from './slots.ts';
import { tempDir } from './testing.ts';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

test('health: healthy when the uplink is online or the log grew, otherwise the reason names both', () => {
  const first = { started: true, uplinkState: 'connecting', uplinkError: null, lastSeq: 10 };
  assert.deepEqual(evaluateHealth(first, { ...first, uplinkState: 'online' }), { healthy: true, why: 'uplink connected' });
  assert.deepEqual(evaluateHealth(first, { ...first, lastSeq: 12 }), { healthy: true, why: 'log grew from seq 10 to 12' });
  assert.deepEqual(evaluateHealth(first, { ...first, uplinkState: 'offline', uplinkError: 'connect ECONNREFUSED' }), {
    healthy: false,
    why: 'uplink offline (connect ECONNREFUSED) and the log did not grow (seq 10)',
  });
  assert.deepEqual(evaluateHealth(first, { ...first, started: false }), { healthy: false, why: 'the gateway did not finish starting (config, drivers)' });
});

test('the real gateway daemon on trial passes its health check when its uplink connects, and the launcher notifies systemd', async (t) => {
  const work = tempDir(t);
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const config = join(work, 'kedge.yaml');
  writeFileSync(
    config,
    [
      'gateway: { id: kem-ota-01, region: kuzbass, municipality: kemerovo }',
      `dataDir: ${join(work, 'data')}`,
      `uplink: { url: "${broker.url}" }`,
      'web: { enabled: false }',
      'ota:',
      '  trustedKeys: [{ id: test, publicKey: "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=" }]',
      '  healthDeadlineMs: 20000',
    ].join('\n'),
  );
  // Two slots that both run this checkout's daemon; slot b is on trial.
  const slots = join(work, 'slots');
  const release = join(work, 'release');
  mkdirSync(release);
  const entry = ['--import', TSX, MAIN];
  seed(slots, release, { version: '1.0.0', entry });
  const st = readState(slots)!;
  mkdirSync(join(slots, 'b'));
  writeFileSync(join(slots, 'b', 'kedge-release.json'), JSON.stringify({ version: '1.1.0', entry }));
  writeState(slots, { ...st, versions: { a: '1.0.0', b: '1.1.0' }, pending: { slot: 'b', version: '1.1.0', attempts: 0, deadline: null, installedAt: Date.now() } });
  switchCurrent(slots, 'b');

  const notified = join(work, 'notified');
  const fakeNotify = join(work, 'systemd-notify');
  writeFileSync(fakeNotify, `#!/bin/sh\necho "$@" >> ${notified}\n`);
  chmodSync(fakeNotify, 0o755);
  const l = startLauncher({
    slotsDir: slots,
    healthDeadlineMs: 20_000,
    maxCrashes: 3,
    daemonArgs: ['--config', config, '--log-level', 'warn'],
    log: () => {},
    env: { ...process.env, NOTIFY_SOCKET: '/run/fake-notify', KEDGE_SYSTEMD_NOTIFY: fakeNotify },
  });
  t.after(async () => {
    l.stop();
    await l.done;
  });
  const s = await waitFor(() => { const x = readState(slots); return x && !x.pending ? x : null; }, { timeoutMs: 30_000, what: 'the trial to finish' });
  assert.deepEqual({ current: s.current, last: s.history.at(-1)?.event }, { current: 'b', last: 'good' });
  // systemd-notify runs as a child per message: READY=1 and the first ping may land in either order.
  const ready = new RegExp(`--pid=${process.pid} READY=1`);
  await waitFor(() => { const x = readFileSync(notified, 'utf8'); return x.includes('WATCHDOG=1') && ready.test(x); }, { what: 'READY=1 and a watchdog ping', timeoutMs: 10_000 });
});
