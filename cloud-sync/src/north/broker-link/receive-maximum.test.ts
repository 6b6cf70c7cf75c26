import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startMosquitto } from '@kedge/testkit/mosquitto.ts';
import { brokerReceiveMaximum, DEFAULT_RECEIVE_MAXIMUM, limitOutstandingPublishes } from './receive-maximum.ts';

test("a burst of QoS 1 publishes waits for the broker's Receive Maximum, in call order, QoS 0 in its place, every callback once", async (t) => {
  const broker = await startMosquitto({ extraConf: 'max_inflight_messages 2' });
  t.after(() => broker.stop());
  const client = mqtt.connect(broker.url, { protocolVersion: 5, clientId: `gate-${process.pid}` });
  t.after(() => client.endAsync());
  const gate = limitOutstandingPublishes(client, () => brokerReceiveMaximum(client));
  await new Promise((resolve) => client.once('connect', resolve));
  assert.equal(brokerReceiveMaximum(client), 2);

  const awaiting = new Set<number>();
  let max = 0;
  const wire: string[] = [];
  client.on('packetsend', (p) => {
    if (p.cmd !== 'publish') return;
    wire.push(String(p.payload));
    if (p.qos === 1) awaiting.add(p.messageId!);
    max = Math.max(max, awaiting.size);
  });
  client.on('packetreceive', (p) => {
    if (p.cmd === 'puback') awaiting.delete(p.messageId!);
  });
  const calls = ['a', 'b', 'c', 'zero', 'd', 'e'];
  const done: string[] = [];
  await new Promise<void>((resolve, reject) => {
    for (const m of calls) {
      client.publish('gate/t', m, { qos: m === 'zero' ? 0 : 1 }, (err) => {
        if (err) return reject(err);
        done.push(m);
        if (done.length === calls.length) resolve();
      });
    }
    // Two went to the wire, the rest wait (the QoS 0 one behind the QoS 1 ones before it).
    assert.equal(gate.outstanding(), 2);
    assert.equal(gate.held(), 4);
  });
  assert.equal(max, 2, 'never more than the Receive Maximum awaiting PUBACK');
  assert.deepEqual(wire, calls, 'on the wire in call order');
  assert.deepEqual([...done].sort(), [...calls].sort(), 'every callback, once');
  assert.equal(gate.outstanding(), 0);
});

test('MQTT 3.1.1 has no Receive Maximum; an MQTT 5 CONNACK without one means 65,535', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const v4 = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  t.after(() => v4.endAsync());
  assert.equal(brokerReceiveMaximum(v4), null);
  const v5 = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  t.after(() => v5.endAsync());
  // mosquitto announces its max_inflight_messages (default 20); a broker that names none allows 65,535.
  assert.equal(brokerReceiveMaximum(v5), v5.serverProperties?.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM);
  assert.equal(brokerReceiveMaximum(v5), 20);
});
