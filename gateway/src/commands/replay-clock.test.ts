/**
 * The replay store against a moved clock (SECURITY.md, left open after issue 13): a box whose
 * wall clock is pushed a day ahead (spoofed NTP, an RTC-less boot) and restarted, then set
 * back, must still answer the commands captured before from the store instead of acting on
 * them again. Performed on the executor with a real commands.db across restarts of the store,
 * with injected wall and monotonic clocks. Also: a temporary log level holds for its whole
 * duration (setTimeout turns delays above 2^31-1 ms into 1 ms), on node:test mock timers.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import type { CommandAddress, CommandEnvelope } from '@kedge/cloud-sync/downlink/envelope.ts';
import { MAX_TIMER_MS } from '@kedge/cloud-sync/clock.ts';
import { rawPublicKey } from '../ota/verify.ts';
import { CommandStore, KEEP_MS } from './command-store.ts';
import { CommandExecutor, longTimeout, MAX_LOG_LEVEL_MS, type CommandTarget } from './executor.ts';

const center = generateKeyPairSync('ed25519');
const SELF: CommandAddress = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-1' };
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const DAY = 24 * 3_600_000;
const CONFIG = { trustedKeys: [{ id: 'center-1', publicKey: rawPublicKey(center.publicKey).toString('base64') }], maxAgeMs: 120_000, maxClockSkewMs: 30_000 };

/** The box: a wall clock that can be set anywhere, a monotonic one that restarts with the process. */
class Box {
  wall = T0;
  mono = 0;
  writes: unknown[] = [];
  level = 'info';
  store!: CommandStore;
  executor!: CommandExecutor;
  constructor(readonly dbPath: string) {
    this.boot();
  }
  boot(): void {
    this.mono = 1_000; // a new process: performance.now() starts near 0
    this.store = new CommandStore(this.dbPath, { now: () => this.wall, mono: () => this.mono });
    const target: CommandTarget = {
      address: SELF,
      commandsConfig: () => CONFIG,
      maintainerKeys: () => undefined,
      writePoint: async (device, point, value) => {
        this.writes.push(value);
        return { device, point, value } as never;
      },
      rebirth: () => true,
      configFile: null,
      logLevel: { get: () => this.level, set: (l) => (this.level = l) },
    };
    this.executor = new CommandExecutor(target, this.store, () => this.wall);
  }
  restart(): void {
    this.executor.stop();
    this.store.close();
    this.boot();
  }
  /** Time passes: both clocks move. */
  run(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
  send(env: CommandEnvelope, kind = 'write') {
    return this.executor.handle(kind, Buffer.from(JSON.stringify(env)));
  }
}

function box(t: test.TestContext): Box {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-replay-clock-'));
  const b = new Box(join(dir, 'commands.db'));
  t.after(() => {
    b.executor.stop();
    b.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return b;
}

const write = (ts: number, value: unknown, kind = 'write') =>
  buildCommand({ kind, target: SELF, args: kind === 'write' ? { device: 'plc', point: 'pump', value } : (value as Record<string, unknown>), keyId: 'center-1', ts, sign: (b) => sign(null, b, center.privateKey) });

test('a clock pushed a day ahead across a restart, then set back, does not let a command captured before act again', async (t) => {
  const b = box(t);
  const captured = write(b.wall, true);
  assert.equal((await b.send(captured)).ok, true);
  assert.deepEqual(b.writes, [true]);

  // Spoofed NTP: the box restarts with its clock a day and an hour ahead and runs a day like that.
  b.wall += DAY + 3_600_000;
  b.restart();
  // The center's clock is right: its commands are "stale" to this box, nothing is accepted.
  assert.equal((await b.send(write(T0 + 60_000, false))).error?.code, 'stale');
  b.run(DAY + 60_000);
  assert.equal(b.store.hasRoom(CONFIG.maxAgeMs + CONFIG.maxClockSkewMs, T0 + 60_000), true, 'a prune pass at the worst moment');
  b.restart();

  // The clock is set back: the captured command is inside its window again.
  b.wall = T0 + 60_000;
  const replayed = await b.send(captured);
  assert.equal(replayed.repeated, true, JSON.stringify(replayed));
  assert.deepEqual(b.writes, [true], 'the pump was switched once');
});

test('an id is kept for the horizon of monotonic uptime even when the wall clock and the newest signed ts both say it is old', async (t) => {
  const b = box(t);
  const captured = write(b.wall, true);
  assert.equal((await b.send(captured)).ok, true);
  // Both the box and the center jump a day ahead (one spoofed time source), and the box restarts.
  b.wall += DAY + 3_600_000;
  b.restart();
  assert.equal((await b.send(write(b.wall, 'ahead'))).ok, true, 'a command signed on the jumped clock is accepted');
  assert.notEqual(b.store.answerOf(captured.id), null, 'not forgotten: the process has not run a day');
  b.run(DAY / 2);
  assert.equal((await b.send(write(b.wall, 'later'))).ok, true);
  assert.notEqual(b.store.answerOf(captured.id), null);
  b.wall = T0 + 60_000;
  assert.equal((await b.send(captured)).repeated, true);
  assert.deepEqual(b.writes, [true, 'ahead', 'later']);
});

test('ids older than the horizon on all three clocks are forgotten, so the store stays bounded', async (t) => {
  const b = box(t);
  const old = write(b.wall, 1);
  assert.equal((await b.send(old)).ok, true);
  b.run(KEEP_MS + 60_000);
  assert.equal((await b.send(write(b.wall, 2))).ok, true);
  assert.equal(b.store.answerOf(old.id), null, 'forgotten: a day passed on the wall and monotonic clocks and since the newest ts');
  assert.equal(b.store.size, 1);
  assert.equal(b.store.highestIssuedAt, b.wall);
});

test('the newest accepted ts survives a restart of the store', async (t) => {
  const b = box(t);
  assert.equal((await b.send(write(b.wall, 1))).ok, true);
  const ts = b.wall;
  b.run(5_000);
  b.restart();
  assert.equal(b.store.highestIssuedAt, ts);
});

test('loglevel with the longest duration holds for all of it, and a duration beyond that is refused', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const b = box(t);
  const r = await b.send(write(b.wall, { level: 'debug', durationMs: MAX_LOG_LEVEL_MS }, 'loglevel'), 'loglevel');
  assert.equal(r.ok, true, JSON.stringify(r.error));
  t.mock.timers.tick(1);
  assert.equal(b.level, 'debug', 'not reverted after 1 ms');
  t.mock.timers.tick(MAX_LOG_LEVEL_MS - 2);
  assert.equal(b.level, 'debug');
  t.mock.timers.tick(1);
  assert.equal(b.level, 'info', 'reverted exactly at the end of the duration');

  const tooLong = await b.send(write(b.wall, { level: 'trace', durationMs: 2 ** 31 + 5 }, 'loglevel'), 'loglevel');
  assert.equal(tooLong.error?.code, 'bad_request');
  assert.match(tooLong.error!.message, /durationMs must be a whole number of ms in 1\.\./);
  assert.equal(b.level, 'info');
});

test('longTimeout waits delays above the 2^31-1 ms setTimeout limit in full', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let fired = 0;
  const ms = MAX_TIMER_MS * 2 + 10;
  // Each tick ends on a chunk boundary: the mock schedules a timer set inside a tick from the tick's end.
  longTimeout(ms, () => fired++);
  t.mock.timers.tick(1);
  assert.equal(fired, 0, 'a plain setTimeout would have fired after 1 ms');
  t.mock.timers.tick(MAX_TIMER_MS - 1);
  t.mock.timers.tick(MAX_TIMER_MS);
  t.mock.timers.tick(9);
  assert.equal(fired, 0, 'not before the full delay');
  t.mock.timers.tick(1);
  assert.equal(fired, 1, 'at the full delay');
  const cancelled = longTimeout(ms, () => fired++);
  t.mock.timers.tick(MAX_TIMER_MS);
  cancelled.cancel();
  t.mock.timers.tick(MAX_TIMER_MS);
  t.mock.timers.tick(10);
  assert.equal(fired, 1, 'cancelled in its second chunk');
});
