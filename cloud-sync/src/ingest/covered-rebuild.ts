/**
 * The `covered` table (sequence ranges stored or reported evicted, merged; what the center
 * confirms is the end of the one starting at 1) is newer than the stored data. A store
 * upgraded from before it must build it from what it holds, or it would confirm 0 to every
 * gateway that continues its old log and report its whole history missing.
 *
 * One statement, valid in SQLite and PostgreSQL: every stored reading and evicted range is a
 * span; spans that touch or overlap (in sequence order) fall into one group; a group is one
 * covered range. Run once, when the covered table is created on a store that already has data.
 */
export function rebuildCoveredSql(t: { readings: string; evicted: string; covered: string }): string {
  return `WITH spans AS (
    SELECT gateway, epoch, seq AS first, seq AS last FROM ${t.readings}
    UNION ALL SELECT gateway, epoch, first, last FROM ${t.evicted}
  ), ordered AS (
    SELECT gateway, epoch, first, last,
      max(last) OVER (PARTITION BY gateway, epoch ORDER BY first, last ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM spans
  ), grouped AS (
    SELECT gateway, epoch, first, last,
      sum(CASE WHEN reach IS NULL OR first > reach + 1 THEN 1 ELSE 0 END) OVER (PARTITION BY gateway, epoch ORDER BY first, last ROWS UNBOUNDED PRECEDING) AS grp
    FROM ordered
  )
  INSERT INTO ${t.covered} (gateway, epoch, first, last)
  SELECT gateway, epoch, min(first), max(last) FROM grouped GROUP BY gateway, epoch, grp`;
}
