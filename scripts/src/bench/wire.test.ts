import test from 'node:test';
import assert from 'node:assert/strict';
import { benchWireSizes } from './wire.ts';

/**
 * The sizes are deterministic (simulated meters and seeded random registers, no clock), so
 * the limits of issue 19 are checked here as well as printed by `npm run bench`.
 */
test('compact version 3 is smaller than version 2 and than Node-RED bare arrays at 22, 2,000 and 10,000 points per poll', () => {
  const rows = benchWireSizes();
  assert.deepEqual(
    rows.map((r) => [r.pointsPerPoll, r.batchReadings]),
    [
      [22, 2000],
      [22, 10_000],
      [2000, 2000],
      [10_000, 10_000],
      [10_000, 2000],
      [10_000, 10_000],
    ],
  );
  for (const r of rows) {
    const at = `${r.scenario}: v3 ${r.compact.toFixed(2)}, v2 ${r.compactV2.toFixed(2)}, Node-RED ${r.noderedArrays.toFixed(2)} B/reading`;
    assert.ok(r.compact < r.compactV2 * 0.7, at);
    assert.ok(r.compact < r.noderedArrays * 0.7, at);
    assert.ok(r.json > r.compact, at);
  }
  const meters22 = rows.filter((r) => r.pointsPerPoll === 22);
  assert.ok(meters22.every((r) => r.compact <= 3), `22 meter points: ${meters22.map((r) => r.compact.toFixed(2))} B/reading (limit 3)`);
  const random = rows.find((r) => r.scenario.includes('random'))!;
  assert.ok(random.compact <= 5, `random 16-bit registers: ${random.compact.toFixed(2)} B/reading (limit 5)`);
});
