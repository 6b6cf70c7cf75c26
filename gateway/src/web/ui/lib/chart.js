// A point's recent history as a small SVG chart: y axis with min and max, time axis with the
// real span ("за 3 мин", not "last hour" over 3 minutes), gaps where polls failed or
// nothing was logged, the unit, and an accessible name that says all of it.
import { html } from './view.js';
import { t } from './i18n.js';
import { fmtClock, fmtDuration, fmtNumber } from './format.js';
import { displayUnit } from './units.js';

const W = 320;
const H = 110;
const PAD = { right: 6, top: 8, bottom: 20 };
/** Width of one axis digit at the 9 px axis font, in viewBox units. */
const CHAR_W = 5.6;

/** Splits [[ts, v|null]] into runs without gaps: a null, or a silence much longer than the usual step. */
export function segments(points, maxStepMs) {
  const out = [];
  let run = [];
  let prevTs = null;
  for (const [ts, v] of points) {
    const silent = prevTs !== null && ts - prevTs > maxStepMs;
    if (v === null || silent) {
      if (run.length) out.push(run);
      run = [];
    }
    if (v !== null) run.push([ts, v]);
    prevTs = ts;
  }
  if (run.length) out.push(run);
  return out;
}

/**
 * `expectedStepMs`: the heartbeat after which a logged point surely has a new reading (a
 * longer silence is a gap). `now`: the right edge, so a point that stopped answering does not
 * keep drawing its last value up to the present.
 */
export function Chart({ points = [], unit, name, now = Date.now(), expectedStepMs = 60_000, id }) {
  const values = points.filter((p) => p[1] !== null);
  const u = displayUnit(unit);
  if (values.length === 0) {
    return html`<svg class="chart" role="img" id=${id} viewBox=${`0 0 ${W} ${H}`} aria-label=${t('chart.empty', { name })}>
      <text x=${W / 2} y=${H / 2} text-anchor="middle" class="axis">${t('chart.noData')}</text>
    </svg>`;
  }
  const x0 = points[0][0];
  const x1 = Math.max(now, points[points.length - 1][0]);
  let y0 = Math.min(...values.map((p) => p[1]));
  let y1 = Math.max(...values.map((p) => p[1]));
  const min = y0;
  const max = y1;
  if (y0 === y1) {
    y0 -= 1;
    y1 += 1;
  }
  const yLabels = [fmtNumber(max), fmtNumber(min), u];
  // The y axis is as wide as its longest label: 319 297 195 is not cut to ".9 297 195".
  const left = Math.min(W / 2, 8 + CHAR_W * Math.max(...yLabels.map((l) => (l ? l.length : 0))));
  const P = { ...PAD, left };
  const sx = (x) => P.left + ((x - x0) / (x1 - x0 || 1)) * (W - P.left - P.right);
  const sy = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const runs = segments(points, expectedStepMs * 1.5);
  const lastGood = values[values.length - 1];
  const failedNow = points[points.length - 1][1] === null;
  const span = fmtDuration(x1 - x0);
  const label = t('chart.label', { name, min: fmtNumber(min), max: fmtNumber(max), unit: u, span, from: fmtClock(x0), to: fmtClock(x1) });
  return html`<svg class="chart" role="img" id=${id} viewBox=${`0 0 ${W} ${H}`} aria-label=${label} data-runs=${runs.length} data-failed=${String(failedNow)}>
    <line class="axis-line" x1=${P.left} y1=${PAD.top} x2=${P.left} y2=${H - PAD.bottom} />
    <line class="axis-line" x1=${P.left} y1=${H - PAD.bottom} x2=${W - PAD.right} y2=${H - PAD.bottom} />
    <text class="axis" x=${P.left - 4} y=${sy(max) + 4} text-anchor="end">${fmtNumber(max)}</text>
    ${min !== max && html`<text class="axis" x=${P.left - 4} y=${sy(min) + 4} text-anchor="end">${fmtNumber(min)}</text>`}
    ${u && html`<text class="axis unit" x=${P.left - 4} y=${min === max ? PAD.top + 4 : (H - PAD.bottom + PAD.top) / 2 + 4} text-anchor="end">${u}</text>`}
    <text class="axis" x=${P.left} y=${H - 5} text-anchor="start">${fmtClock(x0)}</text>
    <text class="axis" x=${W - PAD.right} y=${H - 5} text-anchor="end">${fmtClock(x1)}</text>
    <text class="axis span" x=${(P.left + W) / 2} y=${H - 5} text-anchor="middle">${t('chart.span', { span })}</text>
    ${runs.map((run) =>
      run.length === 1
        ? html`<circle class="dot" cx=${sx(run[0][0])} cy=${sy(run[0][1])} r="1.8" />`
        : html`<polyline points=${run.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')} />`,
    )}
    ${failedNow && html`<rect class="failed" x=${sx(lastGood[0])} y=${PAD.top} width=${Math.max(1, sx(x1) - sx(lastGood[0]))} height=${H - PAD.top - PAD.bottom} />`}
  </svg>`;
}
