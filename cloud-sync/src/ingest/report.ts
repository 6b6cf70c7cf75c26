import type { IngestStore } from './store.ts';

function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return String(v);
}

/** A human summary of what arrived, for the console of `npm start` and operators. */
export function formatSummary(
  store: IngestStore,
  counters: { batches: number; inserted: number; duplicates: number; rejected: number },
): string {
  const lines = [
    `ingest: ${counters.inserted} readings stored from ${counters.batches} batches, ${counters.duplicates} duplicates dropped, ${counters.rejected} rejected`,
  ];
  for (const g of store.summaries()) {
    const gaps = store.gaps(g.gateway);
    const missing = gaps.reduce((n, r) => n + r.last - r.first + 1, 0);
    lines.push(
      `  ${g.region}/${g.municipality}/${g.gateway} [${g.status ?? 'unknown'}]${g.epoch ? ` epoch=${g.epoch}${g.epochs > 1 ? ` (${g.epochs} epochs)` : ''}` : ''} seq<=${g.maxSeq} confirmed=${g.confirmed} readings=${g.readings} evicted=${g.evicted} missing=${missing}` +
        (g.notYetReceived ? ` not-yet-received=${g.notYetReceived}` : '') +
        (gaps.length ? ` gaps=${gaps.slice(0, 5).map((r) => `${r.first}-${r.last}`).join(',')}` : ''),
    );
    for (const r of store.latest(g.gateway)) {
      lines.push(`    ${r.point.padEnd(28)} ${formatValue(r.value).padStart(14)}  ${r.quality.padEnd(16)} ${new Date(r.ts).toISOString()}`);
    }
  }
  return lines.join('\n');
}
