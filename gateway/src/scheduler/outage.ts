import type { Quality } from '@kedge/cloud-sync/model.ts';
import type { PollResult, Sample } from '../drivers/driver.ts';

/**
 * A failed poll covers only the groups that were due; the device's other points (slower
 * groups) would wait out the backoff without a word, and the center would see a flat line.
 * This adds one bad sample, with the poll's own failure, for every point of the device the
 * poll did not report, so every affected point shows the outage within one interval plus
 * the timeout. The pipeline logs a quality change once, so repeating it each failed poll
 * costs nothing at the center.
 */
export function withOutageSamples(result: PollResult, allPointIds: readonly string[]): PollResult {
  if (!result.failed) return result;
  const reported = new Set(result.samples.map((s) => s.point));
  const missing = allPointIds.filter((id) => !reported.has(id));
  if (missing.length === 0) return result;
  const like = result.samples.find((s) => s.quality !== 'good' && s.quality !== 'uncertain');
  const quality: Quality = like?.quality ?? 'bad_comm';
  // Readings carry wall time, like the driver's own samples (the scheduler's clock may be monotonic).
  const ts = like?.ts ?? Date.now();
  const error = result.error ?? like?.error ?? 'device failed';
  const added: Sample[] = [...new Set(missing)].map((point) => ({ point, ts, value: null, quality, error }));
  return { ...result, samples: [...result.samples, ...added] };
}
