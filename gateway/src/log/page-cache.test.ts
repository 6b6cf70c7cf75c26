import assert from 'node:assert/strict';
import { test } from 'node:test';
import type Database from 'better-sqlite3';
import { LOG_PAGE_CACHE_KIB } from './reading-log.ts';
import { tempLog } from './testing.ts';

// better-sqlite3's SQLite is built with SQLITE_DEFAULT_CACHE_SIZE=-16000 (16 MB per connection),
// which an append-only log fills and keeps (issue 20: the native memory that crept to 30+ MB at
// 100 devices). The bound is per connection, so it must hold on the connection the log writes
// through, also after the log reopens its file. SQLite has no memory figure better-sqlite3
// exposes; the connection's own pragma is the observable.
const cacheSize = (log: object) => (log as { db: Database.Database }).db.pragma('cache_size', { simple: true });

test("the log's connection has a bounded page cache, also after a reopen", (t) => {
  assert.ok(LOG_PAGE_CACHE_KIB >= 256 && LOG_PAGE_CACHE_KIB <= 4096, 'a cache that still holds the tail pages, far below 16 MB');
  const log = tempLog(t);
  assert.equal(cacheSize(log), -LOG_PAGE_CACHE_KIB);
  log.append([{ ts: 1, point: 'dev/a', value: 1, quality: 'good' }]);
  log.flush();
  assert.equal(log.lastSeq(), 1);
  (log as unknown as { closeQuietly(): void; openDb(): void }).closeQuietly();
  (log as unknown as { openDb(): void }).openDb();
  assert.equal(cacheSize(log), -LOG_PAGE_CACHE_KIB);
});
