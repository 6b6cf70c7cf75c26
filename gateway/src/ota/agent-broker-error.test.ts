/**
 * A broker connection mqtt.js refuses to make (here TLS material that is not PEM: the config
 * loader reads those files but does not parse them) leaves the box running without OTA over
 * MQTT; that must be said, in the log under its own message and in the status the web UI shows,
 * not pass as one more link error.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { newKey, seededSlots, tempDir, testAgent } from './testing.ts';

const KEY = newKey();

test('a broker connection that cannot be made is logged as such and shown as the OTA error; stop() still ends the agent', async (t) => {
  const work = tempDir(t);
  const slots = seededSlots(work);
  const warned: Array<{ o: object; m: string | undefined }> = [];
  let onWarn: () => void = () => {};
  const logged = new Promise<void>((resolve) => (onWarn = resolve));
  const agent = testAgent(t, work, slots, KEY, {
    // Port 1: were the client made after all, it would fail to connect, never reach a broker.
    mqtt: { url: 'mqtts://127.0.0.1:1', clientId: 'kem-01-ota', tls: { ca: undefined, key: Buffer.from('not a PEM key'), cert: Buffer.from('not a PEM certificate'), rejectUnauthorized: undefined } },
    logger: {
      info() {},
      warn(o, m) {
        warned.push({ o, m });
        onWarn();
      },
    },
  });
  assert.doesNotThrow(() => agent.start());
  await logged;
  assert.match(warned[0]!.m ?? '', /^ota: cannot connect to the broker; offers over MQTT are off/);
  assert.match(agent.webStatus().error ?? '', /^cannot connect to the broker: /);
  await agent.stop();
});
