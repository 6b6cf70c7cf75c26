import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { QUALITIES } from '@kedge/cloud-sync/model.ts';
import { WALL_OFFSET_FILE_ENV } from '@kedge/cloud-sync/clock.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { startModbusSim, defaultMeters } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import net from 'node:net';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const YEAR = 365 * 86_400_000;
const UNCERTAIN_CLOCK = QUALITIES.indexOf('uncertain_clock');
/** A daemon start with tsx on a loaded 2-core machine. */
const START_LIMIT_MS = 60_000;

test('the real daemon with its wall clock set back a year keeps polling, says so on /healthz and /metrics, and marks the readings', async (t) => {
  const dir = tempDir(t, 'kedge-clock-daemon-');
  const sim = await startModbusSim({ meters: defaultMeters().slice(0, 1) });
  t.after(() => sim.close());
  const webPort = await freePort();
  const offsetFile = join(dir, 'wall-offset');
  writeFileSync(offsetFile, '0\n');
  const configPath = join(dir, 'kedge.yaml');
  const config = simGatewayConfig({
    gatewayId: 'gw-clock',
    simPort: sim.port,
    brokerUrl: `mqtt://127.0.0.1:${await freePort()}`,
    dataDir: join(dir, 'data'),
    intervalMs: 100,
    meters: sim.meters,
    web: { enabled: true, host: '127.0.0.1', port: webPort },
  });
  // A device that accepts the connection and never answers: its request timeouts must keep firing.
  const silent = net.createServer((socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => silent.close());
  (config['devices'] as unknown[]).push({
    id: 'silent',
    driver: 'modbus-tcp',
    host: '127.0.0.1',
    port: (silent.address() as net.AddressInfo).port,
    intervalMs: 100,
    timeoutMs: 100,
    backoff: { minMs: 100, maxMs: 200 },
    points: [{ id: 'p', table: 'holding', address: 0, type: 'uint16' }],
  });
  writeFileSync(configPath, JSON.stringify(config));
  const daemon = await startProcess(process.execPath, [...nodeEntry(MAIN), '--config', configPath], {
    cwd: ROOT,
    name: 'gateway',
    env: { ...process.env, [WALL_OFFSET_FILE_ENV]: offsetFile },
    readyLine: /gateway started/,
    timeoutMs: START_LIMIT_MS,
  });
  t.after(() => daemon.stop());

  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${webPort}${path}`);
    return { status: res.status, text: await res.text() };
  };
  const healthz = async () => JSON.parse((await get('/healthz')).text);
  const counter = async (name: string, device: string) =>
    Number(new RegExp(`^${name}\\{device="${device}"\\} (\\d+)`, 'm').exec((await get('/metrics')).text)?.[1] ?? 0);
  const meter = (config['devices'] as { id: string }[])[0]!.id;
  const polls = () => counter('kedge_poll_duration_seconds_count', meter);
  const timeouts = () => counter('kedge_poll_errors_total', 'silent');
  await waitFor(async () => (await polls()) >= 3 && (await timeouts()) >= 1, { what: 'first polls and timeouts', timeoutMs: START_LIMIT_MS });
  assert.equal((await healthz()).status, 'ok');

  const db = new Database(join(dir, 'data', 'log.db'), { readonly: true });
  t.after(() => db.close());
  const lastSeq = () => (db.prepare('SELECT max(seq) FROM readings').pluck().get() as number | null) ?? 0;
  await waitFor(() => lastSeq() > 0, { what: 'first readings committed' });

  writeFileSync(offsetFile, `${-YEAR}\n`);
  await waitFor(async () => (await healthz()).clock.state === 'wrong', { what: '/healthz to report the wrong clock' });
  const seqAtJump = lastSeq();
  const pollsAtJump = await polls();
  const timeoutsAtJump = await timeouts();
  // The field failure: polling stopped for as long as the clock stayed back.
  await waitFor(async () => (await polls()) >= pollsAtJump + 10, { what: 'polling to go on after the jump' });
  await waitFor(async () => (await timeouts()) >= timeoutsAtJump + 3, { what: 'request timeouts of the silent device to keep firing' });

  const res = await get('/healthz');
  assert.equal(res.status, 200);
  const h = JSON.parse(res.text);
  assert.equal(h.status, 'degraded');
  assert.equal(h.checks.scheduler.ok, true);
  assert.equal(h.clock.lastJump.direction, 'back');
  const metrics = (await get('/metrics')).text;
  assert.match(metrics, /^kedge_clock_wrong 1$/m);
  assert.match(metrics, /^kedge_clock_jumps_total\{direction="back"\} 1$/m);

  await waitFor(() => lastSeq() > seqAtJump + 5, { what: 'readings committed after the jump' });
  const after = db.prepare('SELECT ts, flags, value FROM readings WHERE seq > ?').all(seqAtJump) as { ts: number; flags: number; value: unknown }[];
  const stampedBack = after.filter((r) => r.ts < Date.now() - YEAR / 2);
  assert.ok(stampedBack.length > 0, 'readings stamped a year back (Date.now() of the daemon moved)');
  const withValue = stampedBack.filter((r) => r.value !== null);
  assert.ok(withValue.length > 0);
  assert.ok(
    withValue.every((r) => (r.flags & 0x0f) === UNCERTAIN_CLOCK),
    `every reading with a value stamped by the wrong clock is uncertain_clock; qualities seen: ${[...new Set(withValue.map((r) => QUALITIES[r.flags & 0x0f]))].join(', ')}`,
  );
  const jumpLines = daemon.output().split('\n').filter((l) => l.includes('wall clock jumped back'));
  assert.equal(jumpLines.length, 1, `one line per jump:\n${jumpLines.join('\n')}`);

  // Set right again: trusted, no more marks, and polling never stopped.
  writeFileSync(offsetFile, '0\n');
  await waitFor(async () => (await healthz()).status === 'ok', { what: '/healthz ok after the clock is set right' });
  // A poll that started while the clock was wrong is still marked (conservative): let it pass
  // and its readings be committed (log.flushMs is 50 ms, a poll 100 ms).
  const pollsRight = await polls();
  await waitFor(async () => (await polls()) >= pollsRight + 3, { what: 'polls after the correction' });
  const seqRight = lastSeq();
  await waitFor(() => lastSeq() > seqRight + 5, { what: 'readings after the correction' });
  const right = db.prepare('SELECT ts, flags FROM readings WHERE seq > ? AND value IS NOT NULL').all(seqRight) as { ts: number; flags: number }[];
  assert.ok(right.length > 0);
  assert.ok(right.every((r) => QUALITIES[r.flags & 0x0f] === 'good' && r.ts > Date.now() - YEAR / 2));
  // The correction was a jump forward by a year: counted too, and polling and timeouts went on through it.
  const end = (await get('/metrics')).text;
  assert.match(end, /^kedge_clock_jumps_total\{direction="forward"\} 1$/m);
  assert.match(end, /^kedge_clock_wrong 0$/m);
  const timeoutsRight = await timeouts();
  await waitFor(async () => (await timeouts()) >= timeoutsRight + 3, { what: 'request timeouts after the correction' });
  assert.doesNotThrow(() => process.kill(daemon.pid, 0), 'the daemon is still running');
});
