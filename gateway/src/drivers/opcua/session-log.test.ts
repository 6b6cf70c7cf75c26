/**
 * An OPC UA device logs its own session going and coming back (one line each, with the OPC UA
 * reason); its definition says so (`logsOwnSession`), and the gateway's device health log then
 * stays quiet for it instead of adding a line of its own for the same outage.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { freePort } from '@kedge/testkit/ports.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { afterEverything, removeDir } from '@kedge/testkit/temp-dirs.ts';
import { parseConfig } from '../../config/load.ts';
import { Gateway } from '../../gateway.ts';
import { opcua } from './index.ts';
import { opcuaDataDir } from './test-support.ts';

/** node-opcua's load and first connect attempts on a loaded 2-core machine. */
const FAILED_POLLS_BUDGET_MS = 60_000;

test('a device whose OPC UA server is down is logged once, by its driver: the health log does not repeat it', async (t) => {
  assert.equal(opcua.logsOwnSession, true);
  const dataDir = await opcuaDataDir('kedge-opcua-session-log-');
  // After the stops registered below: the gateway writes its log and PKI there until its stop.
  afterEverything(t, () => removeDir(dataDir));
  const lines: Array<{ event?: string; device?: string; driver?: string; layer?: string; msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  const nobody = await freePort();
  const config = parseConfig(
    JSON.stringify({
      gateway: { id: 'gw-session-log', region: 'kuzbass', municipality: 'kemerovo' },
      dataDir,
      uplinks: [{ name: 'uplink', kind: 'mqtt', url: `mqtt://127.0.0.1:${await freePort()}` }],
      web: { enabled: false },
      devices: [
        {
          id: 'river',
          driver: 'opcua',
          endpointUrl: `opc.tcp://127.0.0.1:${nobody}`,
          timeoutMs: 500,
          intervalMs: 100,
          backoff: { minMs: 100, maxMs: 200 },
          points: [{ id: 'level', nodeId: 'ns=1;s=Level', mode: 'poll' }],
        },
      ],
    }),
    'kedge.yaml',
    dataDir,
  );
  const gateway = new Gateway(config, logger);
  let failedPolls = 0;
  gateway.onPoll((deviceId, result) => {
    if (deviceId === 'river' && result.failed) failedPolls++;
  });
  await gateway.start();
  t.after(() => gateway.stop());
  // Several failed polls: each one would have been a health-log event without the flag.
  await waitFor(() => failedPolls >= 3 && lines.some((l) => l.event === 'device_failed'), { timeoutMs: FAILED_POLLS_BUDGET_MS, what: 'failed polls of the device and its outage line' });
  const failed = lines.filter((l) => l.event === 'device_failed' && (l.device === 'river' || l.msg.includes('"river"')));
  assert.equal(failed.length, 1, JSON.stringify(failed));
  assert.equal(failed[0]!.driver, 'opcua', 'the line is the driver\'s own');
  assert.match(failed[0]!.msg, /^device "river" /);
  assert.deepEqual(lines.filter((l) => l.layer === 'south' && l.msg.includes('"river"')), [], 'the health log added a line for the same outage');
});
