export type Verdict = 'pass' | 'FAIL' | 'info';

export interface Row {
  metric: string;
  measured: string;
  limit: string;
  baseline: string;
  verdict: Verdict;
}

export const fmt = {
  int: (n: number) => Math.round(n).toLocaleString('en-US'),
  dec: (n: number, digits = 1) => n.toFixed(digits),
};

export function verdict(ok: boolean): Verdict {
  return ok ? 'pass' : 'FAIL';
}

/** One plain-text table: metric | measured | limit/target | raw baseline | verdict. */
export function formatTable(rows: Row[]): string {
  const head: Row = { metric: 'metric', measured: 'measured', limit: 'limit/target', baseline: 'raw baseline', verdict: 'info' };
  const cols = ['metric', 'measured', 'limit', 'baseline', 'verdict'] as const;
  const cell = (r: Row, c: (typeof cols)[number]) => (r === head && c === 'verdict' ? 'verdict' : r[c]);
  const width = cols.map((c) => Math.max(...[head, ...rows].map((r) => cell(r, c).length)));
  const line = (r: Row) => cols.map((c, i) => cell(r, c).padEnd(width[i]!)).join(' | ');
  return [line(head), width.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
