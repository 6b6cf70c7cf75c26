import test from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres } from '@kedge/testkit/postgres.ts';
import { PgIngestStore } from './pg-store.ts';
import { IngestStore } from './store.ts';

// The center must still know what a gateway's points are (units, types) while the gateway is
// offline: the offline status (last will or clean stop) replaces the status, not the birth.
const id = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'gw-meta' };
const birth = {
  state: 'online',
  version: '0.1.0',
  points: [
    { point: 'water-1/flow', unit: 'm3/h', type: 'float32', writable: false },
    { point: 'station/level', unit: 'cm', type: 'float64', writable: false },
  ],
};
const offline = { state: 'offline', reason: 'connection lost' };

test('SQLite store: the last birth outlives the offline status; a new birth replaces it', () => {
  const store = new IngestStore(':memory:');
  try {
    assert.equal(store.lastBirth('gw-meta'), undefined);
    store.recordStatus(id, 'online', JSON.stringify(birth));
    store.recordStatus(id, 'offline', JSON.stringify(offline));
    assert.equal(store.summaries().find((g) => g.gateway === 'gw-meta')?.status, 'offline');
    assert.deepEqual(store.lastBirth('gw-meta'), birth);
    const next = { ...birth, points: [birth.points[0]] };
    store.recordStatus(id, 'online', JSON.stringify(next));
    store.recordStatus(id, 'offline', JSON.stringify(offline));
    assert.deepEqual(store.lastBirth('gw-meta'), next);
  } finally {
    store.close();
  }
});

test('PostgreSQL store: the last birth outlives the offline status; a new birth replaces it', async (t) => {
  const pg = await startPostgres();
  const store = await PgIngestStore.open(pg.url).catch(async (err: unknown) => {
    await pg.stop();
    throw err;
  });
  t.after(async () => {
    await store.close();
    await pg.stop();
  });
  assert.equal(await store.lastBirth('gw-meta'), undefined);
  // A gateway whose first message is its will (it died before the birth reached the center).
  await store.recordStatus({ ...id, gateway: 'gw-will' }, 'offline', JSON.stringify(offline));
  assert.equal(await store.lastBirth('gw-will'), undefined);
  await store.recordStatus(id, 'online', JSON.stringify(birth));
  await store.recordStatus(id, 'offline', JSON.stringify(offline));
  assert.deepEqual(await store.lastBirth('gw-meta'), birth);
});
