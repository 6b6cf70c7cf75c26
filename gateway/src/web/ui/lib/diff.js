// Line diff for the config import preview: Myers' O(ND) algorithm on the lines between the
// common head and tail, so memory and time grow with the number of changed lines, not with
// old × new lines (a 10,000-line file with a few edits is cheap). Past MAX_EDITS changed lines
// the preview gives up (null): the caller shows the whole new file instead.

/** Lines added plus removed beyond which there is no diff: the trace kept is about MAX_EDITS² numbers (4 MB). */
export const MAX_EDITS = 1000;

/** [{op: ' ' | '-' | '+', line, a?, b?}] turning `a` into `b` (line numbers from 1), or null when too different. */
export function diffLines(a, b, maxEdits = MAX_EDITS) {
  const x = a.split('\n');
  const y = b.split('\n');
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const mid = myers(x.slice(head, x.length - tail), y.slice(head, y.length - tail), maxEdits);
  if (mid === null) return null;
  const out = [];
  for (let i = 0; i < head; i++) out.push({ op: ' ', line: x[i], a: i + 1, b: i + 1 });
  for (const e of mid) {
    if (e.op === ' ') out.push({ op: ' ', line: x[head + e.i], a: head + e.i + 1, b: head + e.j + 1 });
    else if (e.op === '-') out.push({ op: '-', line: x[head + e.i], a: head + e.i + 1 });
    else out.push({ op: '+', line: y[head + e.j], b: head + e.j + 1 });
  }
  for (let k = 0; k < tail; k++) out.push({ op: ' ', line: x[x.length - tail + k], a: x.length - tail + k + 1, b: y.length - tail + k + 1 });
  return out;
}

/** The shortest edit script from x to y as [{op, i, j}] (indexes into x and y), or null past maxD edits. */
function myers(x, y, maxD) {
  const n = x.length;
  const m = y.length;
  // Lines as small integers: one string comparison per distinct line, not per step.
  const ids = new Map();
  const id = (s) => {
    let v = ids.get(s);
    if (v === undefined) ids.set(s, (v = ids.size));
    return v;
  };
  const X = Int32Array.from(x, id);
  const Y = Int32Array.from(y, id);
  const max = Math.min(n + m, maxD);
  const off = max + 1;
  // v[off + k]: the furthest index into x reached on diagonal k (k = i - j).
  const v = new Int32Array(2 * max + 3);
  const trace = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice(off - d, off + d + 1));
    for (let k = -d; k <= d; k += 2) {
      let i = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let j = i - k;
      while (i < n && j < m && X[i] === Y[j]) {
        i++;
        j++;
      }
      v[off + k] = i;
      if (i >= n && j >= m) return backtrack(trace, d, n, m);
    }
  }
  return null;
}

function backtrack(trace, D, n, m) {
  const ops = [];
  let i = n;
  let j = m;
  for (let d = D; d > 0; d--) {
    const prev = trace[d]; // the furthest reach after d - 1 edits, index k + d
    const k = i - j;
    const at = (kk) => prev[kk + d];
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const pk = down ? k + 1 : k - 1;
    const pi = at(pk);
    const pj = pi - pk;
    const si = down ? pi : pi + 1;
    while (i > si) {
      i--;
      j--;
      ops.push({ op: ' ', i, j });
    }
    ops.push(down ? { op: '+', j: pj } : { op: '-', i: pi });
    i = pi;
    j = pj;
  }
  while (i > 0) {
    i--;
    j--;
    ops.push({ op: ' ', i, j });
  }
  return ops.reverse();
}

/** Only the changed lines with `context` unchanged lines around each change. */
export function hunks(diff, context = 2) {
  const keep = diff.map(() => false);
  diff.forEach((d, i) => {
    if (d.op === ' ') return;
    for (let k = Math.max(0, i - context); k <= Math.min(diff.length - 1, i + context); k++) keep[k] = true;
  });
  return diff.filter((_, i) => keep[i]);
}
