import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { OffsetClock } from '@kedge/cloud-sync/clock.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { webFixture } from '../web/test-fixture.ts';

const YEAR = 365 * 86_400_000;

test('the retained status tells the center when the box judges its clock wrong, and when it trusts it again', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.after(() => broker.close());
  const clock = new OffsetClock();
  const f = await webFixture({ clock, uplinkUrl: broker.url });
  t.after(() => f.close());

  const center = mqtt.connect(broker.url, { clientId: 'center-test', reconnectPeriod: 0 });
  t.after(() => center.end(true));
  const statuses: { state?: string; clock?: { state: string; reason: string | null; jumps: { forward: number; back: number } } }[] = [];
  center.on('message', (_topic, payload) => statuses.push(JSON.parse(payload.toString('utf8'))));
  await new Promise<void>((resolve, reject) => center.once('connect', () => resolve()).once('error', reject));
  await center.subscribeAsync('kedge/v1/+/+/web-test/status', { qos: 1 });

  const lastClock = () => statuses.filter((s) => s.state === 'online').at(-1)?.clock;
  await waitFor(() => lastClock()?.state === 'ok', { what: 'a birth with the clock trusted' });

  clock.jump(-YEAR);
  await waitFor(() => lastClock()?.state === 'wrong', { what: 'a new birth saying the clock is wrong' });
  assert.match(lastClock()!.reason!, /stepped back by 365d/);
  assert.deepEqual(lastClock()!.jumps, { forward: 0, back: 1 });

  clock.jump(YEAR);
  await waitFor(() => lastClock()?.state === 'ok', { what: 'a new birth saying the clock is trusted again' });
  assert.deepEqual(lastClock()!.jumps, { forward: 1, back: 1 });
});
