/**
 * The web layer reads the daemon through narrow queries (context.ts: StatusQuery,
 * RecentReadingsQuery, HealthQuery), never through the reading log itself.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { waitFor } from '@kedge/testkit/wait.ts';
import type { WebDeps } from './context.ts';
import { checkHealth } from './health.ts';
import { webFixture } from './test-fixture.ts';

// Compile-time part (npx tsc): handing the web layer the log again fails the typecheck here.
// @ts-expect-error the web layer gets no ReadingLog
export type NoLogInWebDeps = WebDeps['gateway']['log'];

test('health reads the log state through the query: a log that cannot be written fails /healthz with the reason', async () => {
  const f = await webFixture();
  try {
    await waitFor(() => f.gateway.status().devices.every((d) => d.lastPollMono !== null), { what: 'the first poll' });
    assert.equal(checkHealth(f.gateway).checks['log']?.ok, true);
    const readOnly = {
      status: () => f.gateway.status(),
      currentConfig: () => f.gateway.currentConfig(),
      logHealth: () => {
        throw new Error(`EROFS: read-only file system, access '${f.dir}/data/log.db'`);
      },
    };
    const health = checkHealth(readOnly);
    assert.equal(health.status, 'fail');
    assert.deepEqual(health.checks['log'], { ok: false, detail: `EROFS: read-only file system, access '${f.dir}/data/log.db'` });
    assert.equal(health.checks['scheduler']?.ok, true, 'the other checks still run');
  } finally {
    await f.close();
  }
});

test('the device chart reads one point\'s recent readings through the query', async () => {
  const f = await webFixture();
  try {
    const owner = await f.setup();
    const device = f.gateway.currentConfig().devices[0]!;
    const point = device.points[0]!;
    await waitFor(() => f.gateway.recentReadings(`${device.id}/${point.id}`, 0).length > 0, { what: 'a reading logged' });
    const asked: string[] = [];
    const query = f.gateway.recentReadings.bind(f.gateway);
    f.gateway.recentReadings = (key, since) => {
      asked.push(key);
      return query(key, since);
    };
    const res = await owner.request('GET', `/api/devices/${device.id}/history`);
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(asked.includes(`${device.id}/${point.id}`), `asked for ${asked.join(', ')}`);
    assert.ok((res.json<Record<string, unknown[]>>()[point.id] ?? []).length > 0);
  } finally {
    await f.close();
  }
});
