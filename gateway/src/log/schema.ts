/**
 * Layout of the reading log. Values have no type affinity (BLOB) so strings stay strings. Rows carry a point id rather than the point key, and one
 * `flags` byte for quality and value kind, to keep SD-card writes per reading small.
 * AUTOINCREMENT keeps sequence numbers from ever being reused after eviction or pruning.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS points (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS readings (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  point INTEGER NOT NULL,
  value BLOB,
  flags INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evictions (
  first INTEGER NOT NULL,
  last INTEGER NOT NULL,
  count INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value BLOB
);
`;
