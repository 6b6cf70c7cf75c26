import assert from 'node:assert/strict';
import test from 'node:test';
import { brokerUrlAmbiguity } from './broker-url.ts';
import { parseConfig } from './load.ts';

test('a broker URL is ambiguous when the MQTT client (url.parse) would connect elsewhere than the WHATWG parser says', () => {
  for (const url of [
    'mqtt://evil.example\\@broker.example:1883',
    'mqtt://evil.example:1883\\@broker.example',
    'mqtts://u:p@evil.example\\@broker.example',
    'mqtt://broker.example%2eevil.example:1883',
  ]) {
    assert.match(brokerUrlAmbiguity(url) ?? '', /names two different brokers/, url);
  }
  for (const url of [
    'mqtt://broker.example',
    'mqtt://Broker.Example:1883',
    'mqtts://gw:secret@broker.example:8883/',
    'wss://broker.example/mqtt',
    'ws://broker.example:80/mqtt',
    'mqtt://[::1]:1883',
    'mqtt://10.0.0.5',
  ]) {
    assert.equal(brokerUrlAmbiguity(url), null, url);
  }
});

test('the config loader refuses an ambiguous uplink URL, naming the field', () => {
  const text = JSON.stringify({ gateway: { id: 'g1', region: 'r', municipality: 'm' }, uplink: { url: 'mqtt://evil.example\\@broker.example:1883' }, devices: [] });
  assert.throws(
    () => parseConfig(text, 'kedge.yaml'),
    (err: Error & { issues?: Array<{ path: string; message: string }> }) =>
      err.issues?.some((i) => i.path === 'uplink.url' && /two different brokers/.test(i.message)) === true,
  );
});
