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
import { once } from 'node:events';
import net from 'node:net';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess, type ManagedProcess, type ProcessExit } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { evaluateHealth } from './health.ts';
import { startLauncher } from './launcher.ts';
import { readState, seed, switchCurrent, writeState } from './slots.ts';
import { tempDir } from './testing.ts';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

test('health: healthy when the uplink is online or the log grew, otherwise the reason names both', () => {
  const first = { started: true, uplinkState: 'connecting', uplinkError: null, lastSeq: 10, unavailable: [] };
  assert.deepEqual(evaluateHealth(first, { ...first, uplinkState: 'online' }), { healthy: true, why: 'uplink connected' });
  assert.deepEqual(evaluateHealth(first, { ...first, lastSeq: 12 }), { healthy: true, why: 'log grew from seq 10 to 12' });
  assert.deepEqual(evaluateHealth(first, { ...first, uplinkState: 'offline', uplinkError: 'connect ECONNREFUSED' }), {
    healthy: false,
    why: 'uplink offline (connect ECONNREFUSED) and the log did not grow (seq 10)',
  });
  assert.deepEqual(evaluateHealth(first, { ...first, started: false }), { healthy: false, why: 'the gateway did not finish starting (config, drivers)' });
});

/**
 * The trial's health deadline: the launcher's clock runs from the spawn, and a loaded box can
 * spend most of 20 s loading the daemon's modules. The verdict comes when the uplink connects;
 * the deadline only bounds a release that never gets there.
 */
const TRIAL_DEADLINE_MS = 90_000;

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
      `  healthDeadlineMs: ${TRIAL_DEADLINE_MS}`,
    ].join('\n'),
  );
  // Two slots that both run this checkout's daemon; slot b is on trial.
  const slots = join(work, 'slots');
  const release = join(work, 'release');
  mkdirSync(release);
  // The run's bundle of the daemon (testkit/src/entry.ts), else the sources through tsx (by its
  // resolved path: the launcher starts slots from their own folder).
  const bundled = nodeEntry(MAIN);
  const entry = bundled.length === 1 ? bundled : ['--import', TSX, MAIN];
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
    healthDeadlineMs: TRIAL_DEADLINE_MS,
    maxCrashes: 3,
    daemonArgs: ['--config', config, '--log-level', 'warn'],
    log: () => {},
    env: { ...process.env, NOTIFY_SOCKET: '/run/fake-notify', KEDGE_SYSTEMD_NOTIFY: fakeNotify },
  });
  t.after(async () => {
    l.stop();
    await l.done;
  });
  const s = await waitFor(() => { const x = readState(slots); return x && !x.pending ? x : null; }, { timeoutMs: TRIAL_DEADLINE_MS + 30_000, what: 'the trial to finish' });
  assert.deepEqual({ current: s.current, last: s.history.at(-1)?.event }, { current: 'b', last: 'good' });
  // systemd-notify runs as a child per message: READY=1 and the first ping may land in either order.
  const ready = new RegExp(`--pid=${process.pid} READY=1`);
  await waitFor(() => { const x = readFileSync(notified, 'utf8'); return x.includes('WATCHDOG=1') && ready.test(x); }, { what: 'READY=1 and a watchdog ping', timeoutMs: 10_000 });
});

// ---------------------------------------------------------------------------------------
// Stopping the daemon: a SIGTERM always ends it (gateway/src/main.ts), even during start-up
// and even when a broker never acknowledges what the clients wait for on their way out.

/** Far above any stop on a loaded machine; a daemon that ignores SIGTERM fails here instead of hanging the run. */
const EXIT_BOUND_MS = 60_000;
/** The daemon's own stop grace (KEDGE_SHUTDOWN_GRACE_MS; default 10 s) where the test waits it out: a stop that cannot finish. */
const GRACE_MS = 2000;
/**
 * The grace where the stop must finish by itself: far above a stop on a loaded box (one that
 * is still loading its modules when the signal comes), below EXIT_BOUND_MS, so only a stop
 * that hangs reaches it.
 */
const FINISHING_GRACE_MS = 30_000;

const KEY = 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=';

function daemonConfig(work: string, brokerPort: number): string {
  const config = join(work, 'kedge.yaml');
  writeFileSync(
    config,
    [
      'gateway: { id: kem-stop-01, region: kuzbass, municipality: kemerovo }',
      `dataDir: ${join(work, 'data')}`,
      `uplink: { url: "mqtt://127.0.0.1:${brokerPort}", reconnectMinMs: 200, reconnectMaxMs: 1000 }`,
      // The web UI makes start-up longer (fastify is loaded on demand): a wider window for the signal.
      'web: { enabled: true, host: 127.0.0.1, port: 0 }',
      `commands: { trustedKeys: [{ id: center, publicKey: "${KEY}" }] }`,
      `ota: { trustedKeys: [{ id: test, publicKey: "${KEY}" }] }`,
    ].join('\n'),
  );
  return config;
}

async function startDaemon(t: test.TestContext, config: string, readyLine: RegExp, graceMs: number): Promise<ManagedProcess> {
  const daemon = await startProcess(process.execPath, [...nodeEntry(MAIN), '--config', config, '--log-level', 'info'], {
    name: 'gateway daemon',
    env: { ...process.env, KEDGE_SHUTDOWN_GRACE_MS: String(graceMs) },
    readyLine,
    timeoutMs: 60_000,
  });
  // Bounded whatever happens: proc.ts stop() escalates to SIGKILL.
  t.after(() => daemon.stop());
  return daemon;
}

async function exitWithin(daemon: ManagedProcess): Promise<ProcessExit> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the daemon did not exit within ${EXIT_BOUND_MS} ms of SIGTERM:\n${daemon.output().slice(-4000)}`)), EXIT_BOUND_MS);
  });
  try {
    return await Promise.race([daemon.exited, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** A broker that completes the MQTT handshake (CONNACK) and then never answers anything: no SUBACK, no PUBACK. */
async function muteBroker(t: test.TestContext): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    sock.once('data', () => sock.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
    sock.on('close', () => sockets.delete(sock));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

test('SIGTERM during start-up, with the broker unreachable, ends the daemon through its own stop (not the default action)', async (t) => {
  const work = tempDir(t);
  const refused = await freePort(); // nothing listens there
  // The first line main.ts logs, once its stop handlers are installed and before anything starts.
  const daemon = await startDaemon(t, daemonConfig(work, refused), /"msg":"starting"/, FINISHING_GRACE_MS);
  daemon.kill('SIGTERM');
  const exit = await exitWithin(daemon);
  assert.deepEqual(exit, { code: 0, signal: null }, daemon.output().slice(-4000));
  assert.match(daemon.output(), /"msg":"stopping"/);
  if (!/"msg":"start-up complete"/.test(daemon.output())) t.diagnostic('the signal arrived before start-up completed, as intended');
});

test('SIGTERM with the clients connected to a broker that never acknowledges: the daemon exits non-zero at its stop grace instead of hanging', async (t) => {
  const work = tempDir(t);
  const port = await muteBroker(t);
  const daemon = await startDaemon(t, daemonConfig(work, port), /"msg":"uplink connected"/, GRACE_MS);
  daemon.kill('SIGTERM');
  const exit = await exitWithin(daemon);
  assert.deepEqual(exit, { code: 1, signal: null }, daemon.output().slice(-4000));
  assert.match(daemon.output(), new RegExp(`stop did not finish within ${GRACE_MS} ms: exiting anyway`));
});
