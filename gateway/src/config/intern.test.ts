import assert from 'node:assert/strict';
import { test } from 'node:test';
import { internStrings, INTERN_MAX_LENGTH } from './intern.ts';
import { parseConfig } from './load.ts';

// Sameness of string instances is only observable in a heap snapshot (the last test); the
// others pin what the walk must not change.
const fresh = (s: string) => s.split('').join(''); // a new string object, never the literal

test('equal short strings in nested objects and arrays end up one value, unchanged in content', () => {
  const data = {
    devices: [
      { id: fresh('dev-0'), points: [{ id: fresh('r0'), table: fresh('holding') }, { id: fresh('r1'), table: fresh('holding') }] },
      { id: fresh('dev-1'), points: [{ id: fresh('r0'), table: fresh('holding') }], tags: [fresh('a'), fresh('a')] },
    ],
  };
  const copy = structuredClone(data);
  internStrings(data);
  assert.deepEqual(data, copy, 'values unchanged');
});

test('long strings, class instances and frozen objects are left as they are', () => {
  const long = 'x'.repeat(INTERN_MAX_LENGTH + 1);
  const when = new Date(0);
  const frozen = Object.freeze({ table: fresh('holding') });
  const data = { a: long, b: fresh(long), when, frozen, n: 5, nil: null, u: undefined };
  assert.doesNotThrow(() => internStrings(data));
  assert.equal(data.a, long);
  assert.equal(data.when, when, 'a Date stays the same object');
  assert.equal(data.frozen.table, 'holding');
});

test('a cycle is walked once', () => {
  const a: Record<string, unknown> = { s: fresh('v') };
  a.self = a;
  assert.equal(internStrings(a), a);
});

test('a parsed config interns its point fields: memory of 10,000 points is not 10,000 copies of "holding"', async () => {
  // Measured, not assumed: the heap held by a parsed config with and without interning.
  const v8 = await import('node:v8');
  const text = JSON.stringify({
    gateway: { id: 'gw', region: 'r', municipality: 'm' },
    uplink: { url: 'mqtt://127.0.0.1:1883' },
    devices: Array.from({ length: 20 }, (_, d) => ({
      id: `dev-${d}`,
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: 1502,
      points: Array.from({ length: 100 }, (_, r) => ({ id: `r${r}`, table: 'holding', address: r, type: 'uint16' })),
    })),
  });
  const config = parseConfig(text);
  const snap = v8.getHeapSnapshot();
  // Count string nodes equal to "holding" in a snapshot: one per distinct instance alive.
  const chunks: Buffer[] = [];
  for await (const c of snap) chunks.push(c as Buffer);
  const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const nf = parsed.snapshot.meta.node_fields;
  const iType = nf.indexOf('type');
  const iName = nf.indexOf('name');
  const stringType = parsed.snapshot.meta.node_types[0].indexOf('string');
  let holding = 0;
  for (let i = 0; i < parsed.nodes.length; i += nf.length) {
    if (parsed.nodes[i + iType] === stringType && parsed.strings[parsed.nodes[i + iName]!] === 'holding') holding++;
  }
  assert.equal(config.devices.length, 20);
  // 2,000 points share a handful of instances (the literal in the schema, the JSON text's, the canonical one), not 2,000.
  assert.ok(holding < 20, `"holding" instances alive: ${holding}`);
});
