/**
 * The API behind the field engineer's UI (issue 18), against a real gateway polling the
 * in-process simulator: a new device never replaces an existing one, YAML problems come with
 * line numbers, responses are compressed and static files revalidated, the live stream
 * carries the small diffs the pages need, and the engineer's tools (driver forms, register
 * read, traffic, box panel, config check, own password, log out everywhere) do what they say.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import test from 'node:test';
import { gunzipSync } from 'node:zlib';
import { waitFor } from '@kedge/testkit/wait.ts';
import { webFixture, type Client, type Fixture } from './test-fixture.ts';
import { SECRET_MARKER } from '../config/secret-fields.ts';

let f: Fixture;
let owner: Client;
let port: number;

test.before(async () => {
  f = await webFixture();
  owner = await f.setup();
  await f.web.app.listen({ host: '127.0.0.1', port: 0 });
  port = (f.web.app.server.address() as { port: number }).port;
  await waitFor(() => f.gateway.status().live['water-meter/flow']?.quality === 'good', { what: 'the first poll' });
});
let restartedSim: { close(): Promise<void> } | null = null;
test.after(async () => {
  await f.close();
  // The fixture closes the simulator it started; the one started again here is ours.
  await restartedSim?.close();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const device = (id: string) => ({ id, driver: 'modbus-tcp', host: '127.0.0.1', port: f.sim.port, unitId: 1, intervalMs: 100, points: [{ id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB' }] });

test('adding a device with an existing id is refused with 409 and changes nothing; PUT cannot rename onto another device', async () => {
  const before = readFileSync(f.configPath, 'utf8');
  const taken = await owner.request('POST', '/api/devices', { ...device('water-meter'), name: 'impostor' });
  assert.equal(taken.statusCode, 409, taken.body);
  assert.equal(taken.json().error, 'conflict');
  assert.match(taken.json().message, /"water-meter" exists already/);
  assert.equal(readFileSync(f.configPath, 'utf8'), before);
  assert.equal(f.gateway.currentConfig().devices.find((d) => d.id === 'water-meter')?.points.length, f.sim.meters[0]!.points.length);

  const added = await owner.request('POST', '/api/devices', device('second'));
  assert.equal(added.statusCode, 201, added.body);
  const rename = await owner.request('PUT', '/api/devices/second', device('water-meter'));
  assert.equal(rename.statusCode, 409);
  assert.ok(f.gateway.currentConfig().devices.some((d) => d.id === 'second'));
  const del = await owner.request('DELETE', '/api/devices/second');
  assert.equal(del.statusCode, 200);
  assert.equal(readFileSync(f.configPath, 'utf8'), before);
});

test('a YAML mistake is answered with its line and column and a path that names real keys', async () => {
  const text = readFileSync(f.configPath, 'utf8');
  // host: indented under driver: the classic hand-edit mistake of the review.
  const broken = text.replace(/(driver: modbus-tcp\n)(\s+)host:/, '$1$2  host:');
  assert.notEqual(broken, text);
  for (const route of ['/api/config/check', '/api/config']) {
    const res = await owner.request(route === '/api/config' ? 'PUT' : 'POST', route, { text: broken });
    assert.equal(res.statusCode, 400, res.body);
    const issue = res.json().issues[0];
    const line = broken.split('\n').findIndex((l) => /^\s+driver: modbus-tcp/.test(l)) + 1;
    assert.equal(issue.line, line, JSON.stringify(issue));
    assert.equal(typeof issue.column, 'number');
    assert.equal(issue.path, 'devices[0].driver');
  }
  assert.equal(readFileSync(f.configPath, 'utf8'), text);
  const ok = await owner.request('POST', '/api/config/check', { text });
  assert.deepEqual(ok.json(), { ok: true, devices: 1 });
});

test('the import check refuses what the apply refuses, not only what the schema refuses', async () => {
  const text = readFileSync(f.configPath, 'utf8');
  // Schema-valid, but PUT /api/config refuses it: dataDir is changed on the box only.
  const moved = `${text.replace(/^dataDir: .*\n/m, '')}dataDir: /\n`;
  assert.notEqual(moved, text);
  const applied = await owner.request('PUT', '/api/config', { text: moved });
  assert.equal(applied.statusCode, 400, applied.body);
  const checked = await owner.request('POST', '/api/config/check', { text: moved });
  assert.equal(checked.statusCode, 400, checked.body);
  assert.deepEqual(checked.json().issues.map((i: { path: string }) => i.path), applied.json().issues.map((i: { path: string }) => i.path));
  assert.equal(readFileSync(f.configPath, 'utf8'), text);
});

test('responses are compressed; UI files and the view library are revalidated with ETags, not refetched', async () => {
  const api = await get('/api/devices', { cookie: owner.cookie, 'accept-encoding': 'gzip' });
  assert.equal(api.status, 200);
  assert.equal(api.headers['content-encoding'], 'gzip');
  assert.equal(JSON.parse(gunzipSync(api.body).toString('utf8'))[0].id, 'water-meter');
  for (const path of ['/main.js', '/pages/device-form.js', '/i18n/ru.json', '/vendor/preact.mjs']) {
    const first = await get(path, { 'accept-encoding': 'gzip' });
    assert.equal(first.status, 200, path);
    assert.equal(first.headers['cache-control'], 'no-cache', path);
    assert.equal(first.headers['content-encoding'], 'gzip', path);
    const etag = first.headers['etag'] as string;
    assert.ok(etag, `${path} has an ETag`);
    const again = await get(path, { 'if-none-match': etag });
    assert.equal(again.status, 304, path);
    assert.equal(again.body.length, 0);
  }
  // The catalog served is the merged one (routes/i18n.ts), not the base file: a driver's and a sink's texts are in it.
  const served = JSON.parse((await get('/i18n/ru.json')).body.toString('utf8')) as Record<string, string>;
  assert.match(served['warn.points_overlap'] ?? '', /перекрывается/, "Modbus's warning text (drivers/modbus/messages.ts)");
  assert.equal(served['logmsg.rebirth requested by the host'], 'Центр запросил повторное описание устройств', "Sparkplug's log line (north/sparkplug/messages.ts)");
  assert.ok(!('warn.points_overlap' in (JSON.parse(readFileSync(new URL('./ui/i18n/ru.json', import.meta.url), 'utf8')) as object)), 'the base file does not hold it');
});

test('the live stream with status=true carries each poll\'s device state and ticks, never the config', async () => {
  const res = await new Promise<{ text: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/api/live?status=true&snapshot=false', headers: { cookie: owner.cookie } }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => {
        text += c;
        if (/event: tick/.test(text) && /event: device/.test(text) && /event: reading/.test(text)) {
          req.destroy();
          resolve({ text });
        }
      });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    req.end();
  });
  const events = [...res.text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({ event: m[1]!, data: JSON.parse(m[2]!) }));
  const tick = events.find((e) => e.event === 'tick')!.data;
  assert.equal(typeof tick.now, 'number');
  assert.equal(tick.devices.total, 1);
  assert.equal(typeof tick.log.rows, 'number');
  const state = events.find((e) => e.event === 'device')!.data;
  assert.equal(state.deviceId, 'water-meter');
  assert.ok(state.polls >= 1);
  assert.doesNotMatch(res.text, /"points":\[|"host"/, 'no config in the stream');
});

test('device history keeps failed polls as gaps (null), so a chart never draws across an outage', async () => {
  await f.sim.close();
  try {
    await waitFor(() => f.gateway.status().live['water-meter/flow']?.quality !== 'good', { what: 'the meter to go dark' });
    await waitFor(async () => {
      const h = (await owner.request('GET', '/api/devices/water-meter/history')).json<Record<string, Array<[number, number | null]>>>();
      return h['flow']!.some(([, v]) => v === null) && h['flow']!.some(([, v]) => typeof v === 'number');
    }, { what: 'a gap in the history' });
  } finally {
    // The sim is needed by the later tests: a fresh one on the same port.
    const { startModbusSim } = await import('@kedge/testkit/sim/modbus-tcp-sim.ts');
    f.sim = await startModbusSim({ port: f.sim.port, meters: f.sim.meters });
    restartedSim = f.sim;
  }
  await waitFor(() => f.gateway.status().live['water-meter/flow']?.quality === 'good', { what: 'the meter back' });
});

test('the driver forms carry fields, labels in both languages and limits from the config schema', async () => {
  const forms = (await owner.request('GET', '/api/drivers/forms')).json<Array<{ driver: string; fields: Array<{ key: string; max?: number; options?: unknown[] }> }>>();
  assert.deepEqual(forms.map((x) => x.driver), ['modbus-tcp', 'modbus-rtu', 'opcua']);
  // Built from drivers/registry.ts: what each driver offers besides its fields.
  const offers = forms as unknown as Array<{ driver: string; testRead: boolean; profiles: boolean; keys: Record<string, string> }>;
  assert.deepEqual(offers.map((x) => [x.driver, x.testRead, x.profiles]), [['modbus-tcp', true, true], ['modbus-rtu', true, true], ['opcua', true, false]]);
  // Switching TCP -> RTU keeps the unit id (same shape) but not the TCP port (a number there, a path here).
  assert.equal(offers[0]!.keys['unitId'], offers[1]!.keys['unitId']);
  assert.notEqual(offers[0]!.keys['port'], offers[1]!.keys['port']);
  const rtu = forms[1]!;
  assert.deepEqual(rtu.fields.filter((x) => ['port', 'baudRate', 'parity', 'dataBits', 'stopBits'].includes(x.key)).map((x) => x.key), ['port', 'baudRate', 'parity', 'dataBits', 'stopBits']);
  assert.equal(forms[0]!.fields.find((x) => x.key === 'port')!.max, 65535);
  // The OPC UA password field knows the marker GET /api/devices shows instead of a stored password.
  const password = forms[2]!.fields.find((x) => x.key === 'auth.password') as { widget?: string; secretMarker?: string } | undefined;
  assert.equal(password?.widget, 'password');
  assert.equal(password?.secretMarker, SECRET_MARKER);
  // An RS-485 profile becomes a serial device with its line settings.
  const magflux = (await owner.request('GET', '/api/profiles/magflux-water-meter/device?lang=ru')).json<Record<string, unknown>>();
  assert.equal(magflux['driver'], 'modbus-rtu');
  assert.equal(magflux['parity'], 'even');
  // Named for what it is, in the UI's language, not with the vendor's English model text.
  assert.equal(magflux['name'], 'Электромагнитный расходомер воды');
  const en = (await owner.request('GET', '/api/profiles/sdm630/device?lang=en')).json<Record<string, unknown>>();
  assert.equal(en['name'], 'Three-phase energy meter');
  const viaTcp = (await owner.request('GET', '/api/profiles/magflux-water-meter/device?lang=ru&driver=modbus-tcp')).json<Record<string, unknown>>();
  assert.equal(viaTcp['driver'], 'modbus-tcp');
  assert.equal(viaTcp['parity'], undefined);
});

test('the register tool reads any range raw; a refused range comes back as the device\'s exception; traffic shows both', async () => {
  const ok = await owner.request('POST', '/api/devices/water-meter/registers/read', { table: 'holding', address: 0, count: 4 });
  assert.equal(ok.statusCode, 200, ok.body);
  const body = ok.json<{ words: number[]; error: string | null }>();
  assert.equal(body.words.length, 4);
  assert.equal(body.error, null);
  const refused = await owner.request('POST', '/api/devices/water-meter/registers/read', { table: 'holding', address: 900, count: 2 });
  assert.equal(refused.json().exception, 2);
  const tooMany = await owner.request('POST', '/api/devices/water-meter/registers/read', { table: 'holding', address: 0, count: 126 });
  assert.equal(tooMany.statusCode, 400);
  const traffic = (await owner.request('GET', '/api/devices/water-meter/traffic')).json<{ counters: Record<string, number>; entries: Array<{ at: number; fn: number; address: number; count: number; outcome: string; exception?: number }> }>();
  assert.ok(traffic.entries.some((e) => e.fn === 3 && e.address === 900 && e.outcome === 'exception' && e.exception === 2));
  assert.ok(traffic.entries.some((e) => e.fn === 3 && e.address === 0 && e.count === 4 && e.outcome === 'ok'));
  assert.ok(traffic.counters['ok']! > 0 && traffic.counters['exception']! >= 1);
  // Newest first.
  assert.ok(traffic.entries[0]!.at >= traffic.entries[traffic.entries.length - 1]!.at);
});

test('the logs route hands out only records after `since`; a `since` beyond the newest (a restarted daemon) reads from the start', async () => {
  type Line = { seq: number; msg: string; level: string; context: Record<string, unknown> };
  const get = async (q: string) => {
    const res = await owner.request('GET', `/api/logs?level=debug${q}`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Line[]>();
  };
  const first = await get('&limit=2000');
  assert.ok(first.length > 0);
  const seqs = first.map((l) => l.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'oldest first, numbered in order');
  // What the page already has comes back as nothing: no 300 records every 3 s.
  const last = seqs[seqs.length - 1]!;
  const none = await get(`&since=${last}`);
  assert.ok(none.every((l) => l.seq > last), 'only records written since (the gateway keeps polling)');
  const before = f.logRing.seq;
  // Two new records, one of them below the level asked for: only the other comes.
  f.logRing.write(`${JSON.stringify({ level: 20, time: Date.now(), msg: 'debug line for since', event: 'x' })}\n`);
  f.logRing.write(`${JSON.stringify({ level: 40, time: Date.now(), msg: 'warn line for since', device: 'd1' })}\n`);
  const fresh = (await owner.request('GET', `/api/logs?level=warn&since=${before}`)).json<Line[]>();
  assert.deepEqual(fresh.map((l) => [l.seq, l.msg, l.context['device']]), [[before + 2, 'warn line for since', 'd1']]);
  // The page's seq from before a restart is beyond this ring: it gets the tail, and the first seq (≤ its own) tells it so.
  const restarted = await get(`&since=${f.logRing.seq + 1000}&limit=5`);
  assert.equal(restarted.length, 5);
  assert.ok(restarted[0]!.seq <= f.logRing.seq);
  assert.equal((await owner.request('GET', '/api/logs?since=-1')).statusCode, 400);
  assert.equal((await owner.request('GET', '/api/logs?since=abc')).statusCode, 400);
});

test('the box panel reports clock, disk, backlog, addresses, version and OTA', async () => {
  const b = (await owner.request('GET', '/api/box')).json<Record<string, any>>();
  assert.equal(b['clock'].state, 'ok');
  assert.equal(typeof b['ntpSynchronized'], 'boolean');
  assert.ok(b['disk'].freeBytes > 0 && b['disk'].totalBytes >= b['disk'].freeBytes);
  assert.equal(typeof b['backlog'].unsent, 'number');
  // The net rate's parts (routes/box-drain.ts has the arithmetic): null until a second look.
  for (const k of ['ackedPerSecond', 'arrivingPerSecond', 'netPerSecond', 'drainMs', 'keepingUp']) assert.ok(k in b['backlog'], k);
  assert.ok(Array.isArray(b['addresses']));
  assert.equal(b['ota'].state, 'not_configured');
});

test('own password: the current one is required; the change ends the other sessions; log out everywhere ends all', async () => {
  const other = await f.login('admin', 'correct horse battery');
  const wrong = await owner.request('POST', '/api/auth/password', { current: 'not it at all', password: 'a new long password' });
  assert.equal(wrong.statusCode, 403);
  assert.equal(wrong.json().error, 'wrong_password');
  const weak = await owner.request('POST', '/api/auth/password', { current: 'correct horse battery', password: 'short' });
  assert.equal(weak.json().error, 'weak_password');
  const changed = await owner.request('POST', '/api/auth/password', { current: 'correct horse battery', password: 'a new long password' });
  assert.equal(changed.statusCode, 204, changed.body);
  assert.equal((await other.request('GET', '/api/status')).statusCode, 401, 'the other session ended');
  assert.equal((await owner.request('GET', '/api/status')).statusCode, 200, 'this one goes on');
  await assert.rejects(f.login('admin', 'correct horse battery'));
  const again = await f.login('admin', 'a new long password');
  const all = await again.request('POST', '/api/auth/logout-all');
  assert.equal(all.statusCode, 204);
  assert.equal((await again.request('GET', '/api/status')).statusCode, 401);
  assert.equal((await owner.request('GET', '/api/status')).statusCode, 401);
  owner = await f.login('admin', 'a new long password');
});

test("the devices list names where each device is, in its driver's words: an RTU device by its serial port", async () => {
  const rtu = { id: 'bus-meter', driver: 'modbus-rtu', port: '/dev/kedge-no-such-tty', unitId: 4, points: [{ id: 'energy', table: 'holding', address: 0 }] };
  assert.equal((await owner.request('POST', '/api/devices', rtu)).statusCode, 201);
  try {
    const list = (await owner.request('GET', '/api/devices')).json<Array<{ id: string; address: string }>>();
    assert.equal(list.find((d) => d.id === 'bus-meter')?.address, '/dev/kedge-no-such-tty unit 4');
    assert.match(list.find((d) => d.id === 'water-meter')?.address ?? '', /^127\.0\.0\.1:\d+ unit 1$/);
  } finally {
    assert.equal((await owner.request('DELETE', '/api/devices/bus-meter')).statusCode, 200);
  }
});
