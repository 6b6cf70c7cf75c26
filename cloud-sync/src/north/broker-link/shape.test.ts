/**
 * Every broker-linked sink of the registry (SinkDefinition.brokerLink) is built on the shared
 * broker fields (./shape.ts): its entries carry them with the same defaults and checks, so the
 * gateway reads any of them as a BrokerSinkBase (./link.ts), with no list of kinds anywhere.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { SINKS } from '../registry.ts';
import type { BrokerSinkBase } from './link.ts';
import { brokerShape } from './shape.ts';

const BROKER_SINKS = SINKS.filter((d) => d.brokerLink);
const base = { name: 'center', url: 'mqtt://127.0.0.1:1883' };

test('the registry has broker-linked sinks, and one that is not (the checks below see both)', () => {
  assert.ok(BROKER_SINKS.length >= 2, `broker sinks: ${BROKER_SINKS.map((d) => d.kind).join(', ')}`);
  assert.ok(SINKS.some((d) => !d.brokerLink), 'a sink without a broker link');
});

for (const def of BROKER_SINKS) {
  test(`${def.kind}: an entry has every broker field with the shared defaults (a BrokerSinkBase)`, () => {
    const entry = def.schema.parse({ kind: def.kind, ...base }) as BrokerSinkBase;
    const defaults = Object.entries(brokerShape).filter(([, s]) => s.safeParse(undefined).success && s.safeParse(undefined).data !== undefined);
    assert.ok(defaults.length >= 5, 'the shape has defaults to compare');
    for (const [key, schema] of defaults) assert.deepEqual((entry as Record<string, unknown>)[key], schema.parse(undefined), `${def.kind}.${key}`);
    assert.equal(entry.kind, def.kind);
    assert.equal(entry.name, 'center');
    assert.equal(entry.protocolVersion, 4);
  });

  test(`${def.kind}: protocolVersion takes 5, and the broker checks name what is wrong`, () => {
    assert.equal((def.schema.parse({ kind: def.kind, ...base, protocolVersion: 5 }) as BrokerSinkBase).protocolVersion, 5);
    const bad = def.schema.safeParse({ kind: def.kind, ...base, protocolVersion: 3, password: 'a', passwordFile: 'secrets/p' });
    assert.ok(!bad.success);
    const issues = bad.error.issues.map((i) => [i.path.join('.'), i.message]);
    assert.deepEqual(issues.find(([p]) => p === 'protocolVersion'), ['protocolVersion', 'must be 4 (MQTT 3.1.1, the default) or 5 (MQTT 5)']);
    const url = def.schema.safeParse({ kind: def.kind, ...base, url: 'http://broker.example.ru' });
    assert.ok(!url.success);
    assert.match(url.error.issues[0]!.message, /protocol must be one of mqtt:, mqtts:, ws:, wss:/);
  });
}
