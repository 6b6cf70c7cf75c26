import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import test from 'node:test';
import { waitFor } from '@kedge/testkit/wait.ts';
import { DEVICE, PASSWORD, USER, startKedgeGateway, type KedgeGateway } from './gateway-fixture.ts';

const require = createRequire(import.meta.url);

interface Msg {
  [key: string]: unknown;
  payload?: unknown;
  topic?: string;
}
interface RedNode {
  credentials: Record<string, string>;
  on(event: string, listener: (msg: Msg) => void): void;
  receive(msg: Msg): void;
}
interface NodeTestHelper {
  init(runtimePath: string, settings?: object): void;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  load(nodes: unknown[], flow: object[], credentials?: Record<string, Record<string, string>>): Promise<void>;
  setFlows(flow: object[], type: string, credentials?: Record<string, Record<string, string>>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): RedNode;
  _redNodes: { getFlows(): { flows: object[] } };
}

const helper = require('node-red-node-test-helper') as NodeTestHelper;
helper.init(require.resolve('node-red'));

const kedgeNodes = ['kedge-gateway', 'kedge-in', 'kedge-write', 'kedge-status'].map((n) => require(`../nodes/${n}.js`) as unknown);
const core = (path: string) => require(`@node-red/nodes/core/${path}`) as unknown;
const EXAMPLE = new URL('../examples/river-level-alarm.json', import.meta.url);

let gw: KedgeGateway;

test.before(async () => {
  gw = await startKedgeGateway();
  await helper.startServer();
});
test.after(async () => {
  await helper.stopServer();
  await gw.close();
});
test.afterEach(() => helper.unload());

const gatewayNode = (extra: object = {}) => ({ id: 'gw', type: 'kedge-gateway', url: gw.url, ...extra });
const tokenCreds = () => ({ gw: { token: gw.token } });

/** Collects what arrives at a helper node. */
function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on('input', (msg) => got.push(msg));
  return got;
}

async function livePump(): Promise<boolean> {
  const v = await waitFor(() => gw.gateway.status().live[`${DEVICE}/pump_on`], { what: 'a pump_on reading' });
  assert.equal(typeof v.value, 'boolean');
  return v.value as boolean;
}

test('kedge in delivers live readings of the chosen point with unit, quality and timestamp', async () => {
  await helper.load(
    kedgeNodes,
    [
      gatewayNode(),
      { id: 'in', type: 'kedge in', gateway: 'gw', points: `${DEVICE}/level`, snapshot: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ],
    tokenCreds(),
  );
  const got = collect('out');
  await waitFor(() => got.length >= 3, { what: '3 live readings' });
  for (const msg of got.slice(0, 3)) {
    assert.equal(msg.topic, `${DEVICE}/level`);
    assert.equal(msg['device'], DEVICE);
    assert.equal(msg['point'], 'level');
    assert.equal(msg['unit'], 'cm');
    assert.equal(msg['quality'], 'good');
    assert.equal(typeof msg.payload, 'number');
    assert.ok(Number.isInteger(msg.payload));
    assert.equal(typeof msg['ts'], 'number');
    assert.equal(msg['snapshot'], undefined);
  }
});

test('kedge write round trip: the gateway confirms, the coil changes and comes back in the live readings', async () => {
  await helper.load(
    kedgeNodes,
    [
      gatewayNode(),
      { id: 'write', type: 'kedge write', gateway: 'gw', device: DEVICE, point: 'pump_on', wires: [['ok'], ['refused']] },
      { id: 'ok', type: 'helper' },
      { id: 'refused', type: 'helper' },
      { id: 'in', type: 'kedge in', gateway: 'gw', points: `${DEVICE}/pump_on`, snapshot: false, wires: [['live']] },
      { id: 'live', type: 'helper' },
    ],
    tokenCreds(),
  );
  const ok = collect('ok');
  const refused = collect('refused');
  const live = collect('live');
  const target = !(await livePump());
  helper.getNode('write').receive({ payload: target });
  await waitFor(() => ok.length + refused.length > 0, { what: 'the write answer' });
  assert.deepEqual(refused, []);
  const answer = ok[0]!.payload as { device: string; point: string; value: unknown; ts: number };
  assert.deepEqual({ ...answer, ts: typeof answer.ts }, { device: DEVICE, point: 'pump_on', value: target, ts: 'number' });
  // The next poll reads the coil back from the simulated station (left alone it follows the river level, which moves far too slowly to flip it meanwhile).
  const after = await waitFor(() => live.find((m) => m.payload === target), { what: `pump_on = ${target} in the live readings` });
  assert.equal(after.topic, `${DEVICE}/pump_on`);
  assert.equal(after['quality'], 'good');
  assert.ok((after['ts'] as number) >= answer.ts - 1000);
  assert.equal(gw.gateway.status().live[`${DEVICE}/pump_on`]!.value, target);
});

test('kedge write to a read-only point is refused with the gateway reason on output 2 and as a node error', async () => {
  await helper.load(
    kedgeNodes,
    [
      gatewayNode(),
      { id: 'write', type: 'kedge write', gateway: 'gw', wires: [['ok'], ['refused']] },
      { id: 'ok', type: 'helper' },
      { id: 'refused', type: 'helper' },
    ],
    tokenCreds(),
  );
  const ok = collect('ok');
  const refused = collect('refused');
  const errors: unknown[] = [];
  helper.getNode('write').on('call:error', (call) => errors.push((call as unknown as { args: unknown[] }).args[0]));
  helper.getNode('write').receive({ topic: `${DEVICE}/level`, payload: 300 });
  await waitFor(() => refused.length === 1, { what: 'the refusal' });
  assert.deepEqual(refused[0]!['error'], {
    code: 'not_writable',
    status: 403,
    message: `point ${DEVICE}/level is not writable: the config must mark it "writable: true" before it can be written`,
  });
  await waitFor(() => errors.length === 1, { what: 'the node error' });
  assert.match(String(errors[0]), /is not writable/);

  helper.getNode('write').receive({ device: DEVICE, point: 'no_such_point', payload: 1 });
  await waitFor(() => refused.length === 2, { what: 'the second refusal' });
  assert.deepEqual(refused[1]!['error'], { code: 'not_found', status: 404, message: `device "${DEVICE}" has no point "no_such_point"` });

  helper.getNode('write').receive({ topic: `${DEVICE}/pump_on`, payload: { on: true } });
  await waitFor(() => refused.length === 3, { what: 'the third refusal' });
  assert.deepEqual(refused[2]!['error'], { code: 'invalid_value', status: 0, message: 'kedge write: msg.payload must be a number, boolean or string, got object' });
  assert.deepEqual(ok, []);
});

test('kedge write without credentials is refused as unauthorized; with user and password it logs in (session + CSRF)', async () => {
  await helper.load(
    kedgeNodes,
    [
      gatewayNode(),
      { id: 'anon-gw', type: 'kedge-gateway', url: gw.url },
      { id: 'anon', type: 'kedge write', gateway: 'anon-gw', device: DEVICE, point: 'pump_on', wires: [['ok'], ['refused']] },
      { id: 'user', type: 'kedge write', gateway: 'gw', device: DEVICE, point: 'pump_on', wires: [['ok'], ['refused']] },
      { id: 'ok', type: 'helper' },
      { id: 'refused', type: 'helper' },
    ],
    { gw: { user: USER, password: PASSWORD } },
  );
  const ok = collect('ok');
  const refused = collect('refused');
  helper.getNode('anon').receive({ payload: true });
  await waitFor(() => refused.length === 1, { what: 'the refusal' });
  assert.deepEqual(refused[0]!['error'], { code: 'unauthorized', status: 401, message: 'log in first (no valid session)' });

  const target = !(await livePump());
  helper.getNode('user').receive({ payload: target });
  await waitFor(() => ok.length === 1, { what: 'the write with user and password' });
  assert.equal((ok[0]!.payload as { value: unknown }).value, target);
  assert.equal(refused.length, 1);
});

test('kedge status reports uplink state, log depth and oldest unsent age', async () => {
  await helper.load(
    kedgeNodes,
    [gatewayNode(), { id: 'status', type: 'kedge status', gateway: 'gw', interval: 0, wires: [['out']] }, { id: 'out', type: 'helper' }],
    tokenCreds(),
  );
  const got = collect('out');
  await waitFor(() => gw.gateway.status().log.unacked > 0, { what: 'unsent readings' });
  helper.getNode('status').receive({ topic: 'check' });
  await waitFor(() => got.length === 1, { what: 'the status message' });
  const p = got[0]!.payload as Record<string, unknown>;
  assert.equal(got[0]!.topic, 'check');
  assert.equal(p['gateway'], 'nr-test');
  // The uplink points at a closed port: never online, so everything polled is still unsent.
  assert.equal(p['connected'], false);
  assert.ok(['connecting', 'offline'].includes(p['uplink'] as string), `uplink ${String(p['uplink'])}`);
  assert.ok(Number.isInteger(p['logDepth']) && (p['logDepth'] as number) > 0);
  assert.equal(p['logDepth'], p['logRows']);
  assert.ok(typeof p['oldestUnsentAgeMs'] === 'number' && p['oldestUnsentAgeMs'] >= 0);
  assert.equal(p['evictedTotal'], 0);
  assert.deepEqual(p['devices'], { total: 1, failing: 0 });
});

test('credentials stay out of the flow JSON: a deploy with inline credentials keeps them only in the credential store', async () => {
  await helper.load(kedgeNodes, [gatewayNode()], tokenCreds());
  // What the editor sends on deploy: credentials inline on the config node.
  const deployed = [
    { ...gatewayNode(), credentials: { token: gw.token, user: USER, password: PASSWORD } },
    { id: 'status', type: 'kedge status', gateway: 'gw', interval: 0, wires: [['out']] },
    { id: 'out', type: 'helper' },
  ];
  await helper.setFlows(deployed, 'full');
  const exported = JSON.stringify(helper._redNodes.getFlows().flows);
  assert.ok(exported.includes(gw.url));
  for (const secret of [gw.token, PASSWORD]) assert.ok(!exported.includes(secret), 'a secret is in the flow JSON');
  assert.ok(!exported.includes('credentials'));
  assert.deepEqual(helper.getNode('gw').credentials, { token: gw.token, user: USER, password: PASSWORD });
  // And the deployed nodes work with them.
  const got = collect('out');
  helper.getNode('status').receive({});
  await waitFor(() => got.length === 1, { what: 'a status with the deployed credentials' });
  assert.equal((got[0]!.payload as { gateway: string }).gateway, 'nr-test');
});

test('the example river level flow imports without credentials and raises the alarm when the level crosses the threshold', async () => {
  const example = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Array<Record<string, unknown>>;
  assert.ok(!JSON.stringify(example).includes('credentials'));
  const level = await waitFor(() => gw.gateway.status().live[`${DEVICE}/level`], { what: 'a level reading' });
  // Point the example at the test gateway with a threshold just below the current level, and
  // watch the alarm text where the debug node would show it.
  const flow = example.map((n) => {
    if (n['type'] === 'kedge-gateway') return { ...n, url: gw.url };
    if (n['id'] === 'kedge-river-threshold') {
      const high = (level.value as number) - 20;
      return { ...n, rules: [{ t: 'gt', v: String(high), vt: 'num' }, { t: 'lt', v: String(high - 10), vt: 'num' }] };
    }
    if (n['id'] === 'kedge-river-alarm-text') return { ...n, wires: [['kedge-river-alarm-out', 'alarm']] };
    if (n['id'] === 'kedge-river-level') return { ...n, wires: [['kedge-river-good-only', 'raw']] };
    return n;
  });
  await helper.load(
    [...kedgeNodes, core('function/10-switch.js'), core('function/15-change.js'), core('function/rbe.js'), core('common/21-debug.js')],
    [...flow, { id: 'alarm', type: 'helper', z: 'kedge-river-tab' }, { id: 'raw', type: 'helper', z: 'kedge-river-tab' }],
  );
  const alarms = collect('alarm');
  const raw = collect('raw');
  await waitFor(() => alarms.length === 1, { what: 'the alarm' });
  assert.match(String(alarms[0]!.payload), new RegExp(`^ALARM: river level \\d+ cm is above 250 cm \\(${DEVICE}/level\\)$`));
  assert.equal(alarms[0]!['state'], 'high');
  // Only on a change of state: further high readings raise no new alarm.
  const seen = raw.length;
  await waitFor(() => raw.length >= seen + 5, { what: 'more level readings' });
  assert.equal(alarms.length, 1);
});
