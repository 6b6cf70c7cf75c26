/**
 * Start, reload and stop overlap in a running box (SIGTERM during start-up, a SIGHUP or a UI
 * reload while systemd stops the service). Drivers and sinks load their implementation when
 * built, so each of these awaits: whatever is built after stop() began must be stopped, not
 * started on a closing log. And one sink that fails to start or stop costs that sink only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import pino from 'pino';
import { z } from 'zod';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { defineSink, type NorthSink } from '@kedge/cloud-sync/north/sink.ts';
import { sinkNameSchema, strict } from '@kedge/cloud-sync/north/schema-kit.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from './config/load.ts';
import { devicesSchemaFor, uplinksSchemaFor, type GatewayConfig } from './config/schema.ts';
import { DRIVERS } from './drivers/registry.ts';
import type { DriverDefinition } from './drivers/definition.ts';
import { fakeMeter } from './drivers/fixtures/fake-meter/index.ts';
import { Gateway } from './gateway.ts';

/** Generous: the loaded 2-core CI machine; each step here takes milliseconds. */
const WAIT = { timeoutMs: 60_000 };

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** A sink kind whose every step is recorded, whose build can be held, and whose start or stop can fail. */
function probeSinks(events: string[], o: { build?: Promise<void>; failStart?: string; failStop?: string } = {}) {
  const probe = defineSink({
    kind: 'probe',
    schema: strict({ kind: z.literal('probe'), name: sinkNameSchema, tag: z.string().default('') }),
    create: async (c) => {
      events.push(`create ${c.name}`);
      await o.build;
      const sink: NorthSink = {
        start: () => {
          if (o.failStart === c.name) throw new Error(`${c.name} refuses to start`);
          events.push(`start ${c.name}`);
        },
        stop: async () => {
          events.push(`stop ${c.name}`);
          if (o.failStop === c.name) throw new Error(`${c.name} refuses to stop`);
        },
        status: () => ({ state: 'online' }) as never,
      };
      return sink;
    },
  });
  return [...SINKS, probe] as const;
}

/** The fixture meter, its creation held by `build`, each driver's polls and close recorded. */
function probeDrivers(events: string[], build?: Promise<void>): readonly DriverDefinition[] {
  const meter: DriverDefinition = {
    ...(fakeMeter as unknown as DriverDefinition),
    create: async (device, ctx) => {
      events.push(`create driver ${device.id}`);
      await build;
      const driver = await (fakeMeter as unknown as DriverDefinition).create(device, ctx);
      const poll = driver.poll.bind(driver);
      const close = driver.close.bind(driver);
      driver.poll = (ids) => {
        events.push(`poll ${device.id}`);
        return poll(ids);
      };
      driver.close = () => {
        events.push(`close driver ${device.id}`);
        return close();
      };
      return driver;
    },
  };
  return [...DRIVERS, meter];
}

// The center's link (at least one broker sink is required): towards a port nobody listens on.
const regional = { name: 'regional', kind: 'mqtt', url: 'mqtt://127.0.0.1:1', reconnectMinMs: 1000, reconnectMaxMs: 8000 };
const meterDevice = { id: 'heat-1', driver: 'fake-meter', line: 'mbus0', primaryAddress: 7, points: [{ id: 'energy', record: 0 }] };

function setup(t: test.TestContext, sinks: ReturnType<typeof probeSinks>, drivers: readonly DriverDefinition[], withDevice = true) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-lifecycle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = parseConfig(JSON.stringify({ gateway: { id: 'gw-life', region: 'kuzbass', municipality: 'kemerovo' }, dataDir: join(dir, 'data'), uplinks: [regional] }));
  const config = (uplinks: object[]): GatewayConfig => ({
    ...base,
    uplinks: uplinksSchemaFor(sinks).parse(uplinks),
    devices: withDevice ? (devicesSchemaFor(drivers as never).parse([meterDevice]) as GatewayConfig['devices']) : [],
  });
  const lines: { level: number; msg: string }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
        done();
      },
    }),
  );
  return { config, lines, logger };
}

const errors = (lines: { level: number; msg: string }[]) => lines.filter((l) => l.level >= 50).map((l) => l.msg);

test('a reload asked while stop() runs starts nothing: it is a no-op said in the log, and no sink outlives the stop', async (t) => {
  const events: string[] = [];
  const sinks = probeSinks(events);
  const { config, lines, logger } = setup(t, sinks, DRIVERS, false);
  const gw = new Gateway(config([regional]), logger, { sinks });
  await gw.start();
  const stopped = gw.stop().then(() => events.push('gateway stopped'));
  await gw.reload(config([regional, { name: 'late', kind: 'probe' }]));
  await stopped;
  assert.ok(!events.includes('create late') && !events.includes('start late'), `nothing built for the reload: ${events.join(', ')}`);
  assert.ok(lines.some((l) => l.msg === 'config reload ignored: the gateway is stopping'));
  assert.deepEqual(gw.uplinkStatuses(), []);
  assert.deepEqual(errors(lines), []);
});

test('stop() while a reload builds a sink: the sink built meanwhile is not started on the closing log, and the stop waits for it', async (t) => {
  const events: string[] = [];
  const build = gate();
  const sinks = probeSinks(events, { build: build.wait });
  const { config, lines, logger } = setup(t, sinks, DRIVERS, false);
  const gw = new Gateway(config([regional]), logger, { sinks });
  await gw.start();
  const reloaded = gw.reload(config([regional, { name: 'late', kind: 'probe' }]));
  await waitFor(() => events.includes('create late'), { what: 'the reload building its sink', ...WAIT });
  const stopped = gw.stop().then(() => events.push('gateway stopped'));
  build.open();
  await Promise.all([reloaded, stopped]);
  assert.ok(!events.includes('start late'), `the sink built during the stop was started: ${events.join(', ')}`);
  assert.deepEqual(gw.uplinkStatuses(), []);
  assert.deepEqual(errors(lines), [], 'no error (such as "database connection is not open")');
});

test('stop() during the first start: the drivers and sinks still being built are closed, never started; "gateway started" is not said', async (t) => {
  const events: string[] = [];
  const build = gate();
  const sinks = probeSinks(events, { build: build.wait });
  const drivers = probeDrivers(events, build.wait);
  const { config, lines, logger } = setup(t, sinks, drivers);
  const gw = new Gateway(config([regional, { name: 'archive', kind: 'probe' }]), logger, { sinks, drivers });
  const started = gw.start();
  await waitFor(() => events.includes('create archive') && events.includes('create driver heat-1'), { what: 'the start building', ...WAIT });
  const stopped = gw.stop();
  build.open();
  await Promise.all([started, stopped]);
  assert.ok(!events.includes('start archive'), `a sink was started by a stopped gateway: ${events.join(', ')}`);
  assert.ok(!events.includes('poll heat-1'), `a device was polled by a stopped gateway: ${events.join(', ')}`);
  assert.ok(events.includes('close driver heat-1'), 'the driver built meanwhile is closed');
  assert.ok(!lines.some((l) => l.msg === 'gateway started'));
  assert.deepEqual(gw.uplinkStatuses(), []);
  assert.deepEqual(errors(lines), []);
});

test('"gateway started" is said once the devices poll and the sinks run, not before', async (t) => {
  const events: string[] = [];
  const build = gate();
  const sinks = probeSinks(events, { build: build.wait });
  const drivers = probeDrivers(events);
  const { config, lines, logger } = setup(t, sinks, drivers);
  const gw = new Gateway(config([regional, { name: 'archive', kind: 'probe' }]), logger, { sinks, drivers });
  t.after(() => gw.stop());
  const started = gw.start();
  await waitFor(() => events.includes('create archive'), { what: 'the sink being built', ...WAIT });
  assert.ok(!lines.some((l) => l.msg === 'gateway started'), 'said while a sink was still being built');
  build.open();
  await started;
  const at = lines.findIndex((l) => l.msg === 'gateway started');
  assert.ok(at >= 0);
  assert.ok(events.includes('start archive'), 'the sink runs when the line is said');
});

test('a sink whose start() throws is logged and left out; the other sinks and the devices go on (start and reload)', async (t) => {
  const events: string[] = [];
  const sinks = probeSinks(events, { failStart: 'broken' });
  const drivers = probeDrivers(events);
  const { config, lines, logger } = setup(t, sinks, drivers);
  const gw = new Gateway(config([regional, { name: 'broken', kind: 'probe' }, { name: 'archive', kind: 'probe' }]), logger, { sinks, drivers });
  t.after(() => gw.stop());
  await gw.start();
  assert.ok(events.includes('start archive'));
  assert.deepEqual(gw.uplinkStatuses().map((u) => u.name), ['regional', 'archive']);
  assert.ok(lines.some((l) => l.level >= 50 && l.msg === 'uplink "broken" cannot start; the log keeps its readings'));
  await waitFor(() => events.includes('poll heat-1'), { what: 'the device polled', ...WAIT });
  // A reload that adds another failing sink: the devices rebuilt by it are started all the same.
  events.length = 0;
  await gw.reload(config([regional, { name: 'broken', kind: 'probe', tag: 'v2' }, { name: 'archive', kind: 'probe' }]));
  await waitFor(() => events.includes('poll heat-1'), { what: 'the device polled after the reload', ...WAIT });
  assert.deepEqual(gw.uplinkStatuses().map((u) => u.name), ['regional', 'archive']);
});

test('a stale sink whose stop() throws on reload is replaced all the same; the devices are started', async (t) => {
  const events: string[] = [];
  const sinks = probeSinks(events, { failStop: 'archive' });
  const drivers = probeDrivers(events);
  const { config, lines, logger } = setup(t, sinks, drivers);
  const gw = new Gateway(config([regional, { name: 'archive', kind: 'probe' }]), logger, { sinks, drivers });
  t.after(() => gw.stop());
  await gw.start();
  events.length = 0;
  await gw.reload(config([regional, { name: 'archive', kind: 'probe', tag: 'v2' }]));
  assert.deepEqual(events.filter((e) => e.endsWith('archive')), ['stop archive', 'create archive', 'start archive']);
  assert.ok(lines.some((l) => l.msg === 'uplink "archive" failed to stop; replaced all the same'));
  await waitFor(() => events.includes('poll heat-1'), { what: 'the device polled after the reload', ...WAIT });
  assert.deepEqual(gw.uplinkStatuses().map((u) => u.name), ['regional', 'archive']);
});
