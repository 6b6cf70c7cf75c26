/**
 * Several uplinks from one log, against running processes: two mosquitto brokers (the regional
 * one, a local SCADA one) and an HTTPS-less HTTP receiver on 127.0.0.1, each watched by an
 * independent subscriber. One broker is killed for a while: the others keep delivering, the log
 * keeps what the down one needs, and it catches up with nothing lost and nothing reported
 * evicted that was not. With a small log cap, what one uplink had not delivered is evicted and
 * reported to that uplink only.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { codecByName, type Batch } from '@kedge/cloud-sync/codec/index.ts';
import type { Reading, SeqRange } from '@kedge/cloud-sync/model.ts';
import { filterFor } from '@kedge/cloud-sync/topics.ts';
import { startTestServer } from '@kedge/cloud-sync/north/http/test-server.ts';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { startMosquitto, type MosquittoHandle } from '@kedge/testkit/mosquitto.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { parseConfig } from './config/load.ts';
import { Gateway } from './gateway.ts';

/** Generous for a loaded 2-core machine; every wait ends on an event long before. */
const WAIT = { timeoutMs: 120_000, intervalMs: 50 };

/** What one independent receiver saw: every sequence delivered, every evicted range reported. */
class Seen {
  readonly seqs = new Set<number>();
  readonly evicted: SeqRange[] = [];
  batches = 0;
  add(b: Batch): void {
    this.batches++;
    for (const r of b.readings) this.seqs.add(r.seq);
    this.evicted.push(...b.evicted);
  }
  evictedCount(): number {
    const s = new Set<number>();
    for (const e of this.evicted) for (let q = e.first; q <= e.last; q++) s.add(q);
    return s.size;
  }
  /** Every sequence 1..last is either delivered or reported evicted, and never both. */
  accountsFor(last: number): boolean {
    const ev = new Set<number>();
    for (const e of this.evicted) for (let q = e.first; q <= e.last; q++) ev.add(q);
    for (let q = 1; q <= last; q++) if (this.seqs.has(q) === ev.has(q)) return false;
    return true;
  }
}

/** A subscriber on the broker with a persistent session, so a broker restart loses nothing queued for it. */
async function watch(t: test.TestContext, broker: MosquittoHandle, codec: 'compact' | 'json', id: string): Promise<Seen> {
  const seen = new Seen();
  const client = mqtt.connect(broker.url, { clientId: id, clean: false, reconnectPeriod: 200 });
  t.after(() => client.end(true));
  client.on('error', () => {});
  client.on('message', (_topic, payload) => seen.add(codecByName(codec).decode(payload)));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(filterFor('kedge/v1', 'data'), { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  });
  return seen;
}

function readings(n: number, from: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ point: `pump-${(from + i) % 50}/flow`, ts: Date.now(), value: from + i, quality: 'good' as const }));
}

async function startGateway(t: test.TestContext, uplinks: object[], log: object = {}, extra: object = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-sinks-e2e-'));
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const config = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-sinks', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir: join(dir, 'data'),
      log: { flushMs: 10, synchronous: 'normal', ...log },
      uplinks,
      ...extra,
    }),
  );
  const gateway = new Gateway(config, pino({ level: 'info' }, sink));
  t.after(async () => {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // Resolves once every uplink was built (each loads its implementation) and started.
  await gateway.start();
  return { gateway, lines };
}

const mqttSink = (name: string, broker: MosquittoHandle, codec: 'compact' | 'json') => ({
  name,
  kind: 'mqtt',
  url: broker.url,
  codec,
  // Independent subscribers count delivery here; the center's confirmation is another test's subject.
  ackMode: 'broker',
  batchMaxReadings: 2000,
  batchMaxDelayMs: 20,
  maxReadingsPerSec: 0,
  reconnectMinMs: 100,
  reconnectMaxMs: 500,
  liveFirst: false,
});

test('one broker down: the other uplinks keep delivering, the log keeps its rows, and it catches up with nothing lost', async (t) => {
  const regional = await startMosquitto();
  t.after(() => regional.stop());
  const scada = await startMosquitto({ persistence: true });
  t.after(() => scada.stop());
  const http = await startTestServer();
  t.after(() => http.kill());
  const httpSeen = new Seen();
  http.handle((req, res) => {
    httpSeen.add(codecByName('json').decode(req.body));
    res.writeHead(200).end();
  });
  const regionalSeen = await watch(t, regional, 'compact', 'watch-regional');
  const scadaSeen = await watch(t, scada, 'json', 'watch-scada');
  const { gateway } = await startGateway(t, [
    mqttSink('regional', regional, 'compact'),
    mqttSink('scada', scada, 'json'),
    { name: 'city', kind: 'http', url: http.url, codec: 'json', batchMaxReadings: 500, batchMaxDelayMs: 20, maxReadingsPerSec: 0, reconnectMinMs: 100, reconnectMaxMs: 500, liveFirst: false },
  ]);
  const log = gateway.log;

  gateway.log.append(readings(300, 0));
  await waitFor(() => log.cursor('regional') === 300 && log.cursor('scada') === 300 && log.cursor('city') === 300, { ...WAIT, what: 'all three to deliver the first 300' });

  // The SCADA broker dies (SIGTERM: it saves the watcher's session and queue on the way out).
  process.kill(scada.pid, 'SIGTERM');
  await waitFor(() => gateway.uplinkStatuses().find((u) => u.name === 'scada')?.status.state !== 'online', { ...WAIT, what: 'the scada uplink to see its broker gone' });
  for (let i = 0; i < 5; i++) gateway.log.append(readings(1000, 300 + i * 1000));
  const total = 5300;
  await waitFor(() => log.cursor('regional') === total && log.cursor('city') === total, { ...WAIT, what: 'the other two to deliver everything while scada is down' });
  assert.equal(log.cursor('scada'), 300, 'scada delivered nothing while its broker was down');
  const stats = log.stats();
  assert.ok(stats.firstSeq <= 301, `the log still holds what scada needs (first held ${stats.firstSeq})`);
  assert.equal(stats.sinks.find((s) => s.name === 'scada')?.unacked, total - 300);
  assert.equal(stats.ackedSeq, 300, 'the log holds back for the lowest cursor');
  const states = Object.fromEntries(gateway.uplinkStatuses().map((u) => [u.name, u.status.state]));
  assert.equal(states.regional, 'online');
  assert.equal(states.city, 'online');
  assert.notEqual(states.scada, 'online');

  await scada.restart();
  await waitFor(() => log.cursor('scada') === total, { ...WAIT, what: 'scada to catch up after its broker is back' });
  await waitFor(() => scadaSeen.seqs.size === total, { ...WAIT, what: "scada's watcher to have every reading" });
  for (const [name, seen] of [
    ['regional', regionalSeen],
    ['scada', scadaSeen],
    ['city', httpSeen],
  ] as const) {
    assert.equal(seen.seqs.size, total, `${name} got every reading`);
    assert.ok(seen.accountsFor(total), `${name}: every sequence accounted for`);
    assert.deepEqual(seen.evicted, [], `${name}: nothing reported evicted`);
    assert.equal(log.sinkEvicted(name), 0);
  }
});

test('with a small log cap, eviction of readings one uplink had not delivered is reported to that uplink only', async (t) => {
  const regional = await startMosquitto();
  t.after(() => regional.stop());
  const scada = await startMosquitto({ persistence: true });
  t.after(() => scada.stop());
  const regionalSeen = await watch(t, regional, 'compact', 'watch-regional-cap');
  const scadaSeen = await watch(t, scada, 'json', 'watch-scada-cap');
  const { gateway, lines } = await startGateway(t, [mqttSink('regional', regional, 'compact'), mqttSink('scada', scada, 'json')], { maxBytes: '1MiB', flushRows: 5000 });
  const log = gateway.log;
  process.kill(scada.pid, 'SIGTERM');
  await waitFor(() => gateway.uplinkStatuses().find((u) => u.name === 'scada')?.status.state !== 'online', { ...WAIT, what: 'scada to be down' });

  // In steps the regional uplink keeps up with, until the cap has evicted a good part.
  let total = 0;
  while (log.evictedTotal() < 20_000) {
    log.append(readings(5000, total));
    total += 5000;
    log.flush();
    await waitFor(() => log.cursor('regional') === total, { ...WAIT, what: `regional to deliver ${total}` });
  }
  const evicted = log.evictedTotal();
  assert.equal(log.sinkEvicted('regional'), 0, 'regional had delivered everything the cap evicted');
  assert.equal(log.sinkEvicted('scada'), evicted, 'scada lost exactly what was evicted');
  assert.ok(lines.some((l) => l.msg === 'log size cap reached: oldest unsent readings evicted' && ((l.sinksEvicted as Record<string, number> | undefined)?.scada ?? 0) > 0));

  await scada.restart();
  await waitFor(() => log.cursor('scada') === total, { ...WAIT, what: 'scada to catch up' });
  await waitFor(() => scadaSeen.accountsFor(total), { ...WAIT, what: "scada's watcher to account for every sequence" });
  assert.equal(scadaSeen.evictedCount(), evicted, 'scada was told of exactly the evicted readings');
  assert.equal(scadaSeen.seqs.size, total - evicted);
  assert.equal(regionalSeen.seqs.size, total, 'regional got everything');
  assert.deepEqual(regionalSeen.evicted, [], 'and was told of no eviction');
});

test('the gateway builds every registered kind; a reload rebuilds only the uplinks whose settings changed and drops removed ones', async (t) => {
  const regional = await startMosquitto();
  t.after(() => regional.stop());
  const http = await startTestServer();
  t.after(() => http.kill());
  const cityEntry = { name: 'city', kind: 'http', url: http.url, batchMaxDelayMs: 0, liveFirst: false, reconnectMinMs: 100, reconnectMaxMs: 500 };
  // Sparkplug towards a port nobody listens on: built and trying, never delivering.
  const scadaEntry = { name: 'scada', kind: 'sparkplug', url: 'mqtt://127.0.0.1:1', reconnectMinMs: 100, reconnectMaxMs: 500 };
  const entries = [mqttSink('regional', regional, 'compact'), scadaEntry, cityEntry];
  const { gateway, lines } = await startGateway(t, entries);
  assert.deepEqual(
    gateway.uplinkStatuses().map((u) => u.kind),
    SINKS.map((s) => s.kind),
    'one sink of every registered kind was built',
  );
  await waitFor(() => gateway.uplinkStatuses().find((u) => u.name === 'regional')?.status.state === 'online', { ...WAIT, what: 'regional online' });
  const regionalSince = gateway.uplinkStatuses().find((u) => u.name === 'regional')!.status.connectedSince;
  gateway.log.append(readings(10, 0));
  await waitFor(() => gateway.log.cursor('city') === 10 && gateway.log.cursor('regional') === 10, { ...WAIT, what: 'first delivery' });

  // Only the HTTP uplink's settings change: the regional session stays up.
  const reload = (uplinks: object[]) =>
    gateway.reload(
      parseConfig(JSON.stringify({ ...JSON.parse(JSON.stringify(gateway.currentConfig())), uplinks, uplink: undefined, legacyUplinkKey: undefined })),
    );
  await reload([mqttSink('regional', regional, 'compact'), scadaEntry, { ...cityEntry, codec: 'compact' }]);
  const after = gateway.uplinkStatuses();
  assert.equal(after.find((u) => u.name === 'regional')!.status.connectedSince, regionalSince, 'the regional uplink was not restarted');
  assert.ok(lines.some((l) => l.msg === 'uplinks restarted with new settings (or removed)' && JSON.stringify(l.uplinks) === '["city"]'));
  gateway.log.append(readings(5, 10));
  await waitFor(() => gateway.log.cursor('city') === 15, { ...WAIT, what: 'the rebuilt HTTP uplink to go on from its cursor' });
  assert.equal(http.seen.at(-1)!.headers['content-type'], codecByName('compact').contentType);

  // scada removed: its cursor (0: it never delivered) no longer holds the log back.
  assert.equal(gateway.log.stats().ackedSeq, 0);
  await reload([mqttSink('regional', regional, 'compact'), cityEntry]);
  assert.deepEqual(gateway.uplinkStatuses().map((u) => u.name), ['regional', 'city']);
  assert.ok(lines.some((l) => String(l.msg).includes('uplink "scada" is no longer configured')));
  await waitFor(() => gateway.log.cursor('city') === 15, { ...WAIT, what: 'city still delivered' });
  assert.equal(gateway.log.stats().ackedSeq, 15, 'the log now holds back only for the remaining uplinks');
});

test('the HTTP uplink sends the token of its tokenFile, read from the secrets folder, and says when others can read that file', async (t) => {
  const regional = await startMosquitto();
  t.after(() => regional.stop());
  const http = await startTestServer();
  t.after(() => http.kill());
  http.handle((req, res) => res.writeHead(req.headers.authorization === 'Bearer city-s3cret' ? 200 : 401).end());
  const secrets = mkdtempSync(join(tmpdir(), 'kedge-sinks-secrets-'));
  t.after(() => rmSync(secrets, { recursive: true, force: true }));
  const tokenFile = join(secrets, 'city-token');
  writeFileSync(tokenFile, 'city-s3cret\n', { mode: 0o644 });
  const { gateway, lines } = await startGateway(
    t,
    [mqttSink('regional', regional, 'compact'), { name: 'city', kind: 'http', url: http.url, tokenFile, batchMaxDelayMs: 0, liveFirst: false }],
    {},
    { secretsDir: secrets },
  );
  gateway.log.append(readings(3, 0));
  await waitFor(() => gateway.log.cursor('city') === 3, { ...WAIT, what: 'delivery with the token' });
  assert.ok(lines.some((l) => l.level === 40 && String(l.msg).includes('chmod 600') && l.uplink === 'city'), 'the readable token file is reported');
});
