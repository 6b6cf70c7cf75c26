/**
 * A transport ended while its connection still waits for the CONNACK leaves nothing behind that
 * keeps the process alive: mqtt.js's connect timer ran on for connectTimeout once the transport
 * had taken every listener off the client, mqtt.js's own 'close' listener (which clears that
 * timer) included, and a daemon or test file whose broker was unreachable took 15 s to exit.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { tsEntry } from '@kedge/testkit/entry.ts';
import { startProcess } from '@kedge/testkit/proc.ts';

const FIXTURE = fileURLToPath(new URL('./mqtt-transport-end.fixture.ts', import.meta.url));
/** Start and end on a loaded 2-core box, generous; the fixture's connect timeout is 10 minutes. */
const EXIT_WITHIN_MS = 60_000;

for (const how of ['close', 'disconnect'] as const) {
  test(`a transport ended by ${how}() while waiting for the CONNACK lets its process exit`, async () => {
    const p = await startProcess(process.execPath, [...tsEntry(FIXTURE), how], { name: `transport ended by ${how}()` });
    const exit = await p.exitedWithin(EXIT_WITHIN_MS, 'exiting once the transport ended');
    assert.deepEqual(exit, { code: 0, signal: null }, p.output());
    assert.match(p.output(), /ENDED/);
    assert.doesNotMatch(p.output(), /UNEXPECTED/);
  });
}
