// Traffic view: the last requests to a Modbus device over its link, as a bus monitor shows them.
import { html, useEffect, useState } from '../lib/view.js';
import { t } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { useLive } from '../lib/live.js';
import { Badge, ErrorBox } from '../lib/components.js';
import { fmtClock } from '../lib/format.js';
import { exceptionText } from '../lib/device-errors.js';

const REFRESH_MS = 1500;
/** Rows shown: a minute of a device polled twice a second. */
const SHOWN = 120;
const OUTCOME_KIND = { ok: 'ok', exception: 'warn', timeout: 'bad', frame: 'bad', link: 'bad' };

export function Traffic({ args }) {
  const [id] = args;
  const live = useLive();
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [paused, setPaused] = useState(false);
  const load = () => api('GET', `/api/devices/${encodeURIComponent(id)}/traffic?limit=${SHOWN}`).then((d) => { setData(d); setError(null); }, setError);
  useEffect(() => {
    load();
  }, []);
  // Refreshed after each poll of this device the stream reports (a small answer, not a timer).
  const polls = live.devices.get(id)?.polls;
  const [loadedAt, setLoadedAt] = useState(0);
  useEffect(() => {
    // At most one refresh per REFRESH_MS however fast the device is polled.
    if (paused || polls === undefined || performance.now() - loadedAt < REFRESH_MS) return;
    setLoadedAt(performance.now());
    load();
  }, [polls, paused]);
  return html`<h1>${t('traffic.title', { id })}</h1>
    <p class="muted">${t('traffic.hint')}</p>
    <${ErrorBox} error=${error} />
    ${data &&
    html`<section class="card" aria-label=${t('traffic.counters')}>
      <h2>${t('traffic.counters')}</h2>
      <div class="row" id="traffic-counters">
        ${Object.entries(data.counters).map(([k, n]) => html`<span data-outcome=${k}><${Badge} kind=${OUTCOME_KIND[k]}>${t(`traffic.outcome.${k}`)}<//> ${n.toLocaleString()}</span>`)}
      </div>
      <p class="muted mono">${t('traffic.link', { link: data.link, unit: data.unitId })}</p>
      <button type="button" class="secondary" id="traffic-pause" onClick=${() => setPaused(!paused)}>${paused ? t('traffic.resume') : t('traffic.pause')}</button>
    </section>
    <section class="card" aria-label=${t('traffic.requests')}>
      <div class="scroll-x stack-narrow"><table id="traffic-table">
        <thead><tr><th>${t('traffic.time')}</th><th>${t('traffic.fn')}</th><th>${t('traffic.address')}</th><th>${t('traffic.count')}</th><th>${t('traffic.ms')}</th><th>${t('traffic.answer')}</th></tr></thead>
        <tbody>${data.entries.length === 0
          ? html`<tr><td colspan="6" class="muted">${t('traffic.empty')}</td></tr>`
          : data.entries.map((e) => html`<tr data-outcome=${e.outcome}>
            <td class="num key" data-label=${t('traffic.time')}>${fmtClock(e.at)}</td>
            <td class="key" data-label=${t('traffic.fn')}>${String(e.fn).padStart(2, '0')} <span class="muted">${t(`traffic.fnName.${e.fn}`)}</span></td>
            <td class="num" data-label=${t('traffic.address')}>${e.address}</td><td class="num" data-label=${t('traffic.count')}>${e.count}</td><td class="num" data-label=${t('traffic.ms')}>${e.durationMs}</td>
            <td class="answer" data-label=${t('traffic.answer')}>${e.outcome === 'ok'
              ? html`<span class="mono">${(e.answer ?? []).map((w) => (typeof w === 'boolean' ? (w ? '1' : '0') : w)).join(' ')}${e.count > (e.answer ?? []).length ? ' …' : ''}</span>`
              : html`<div class="answer-text"><${Badge} kind=${OUTCOME_KIND[e.outcome]}>${e.outcome === 'exception' ? t('traffic.exceptionN', { code: e.exception }) : t(`traffic.outcome.${e.outcome}`)}<//>${e.outcome === 'exception' && html` <span class="exception-text">${exceptionText(e.exception)}</span>`} <span class="muted mono" lang="en">${e.error}</span></div>`}</td>
          </tr>`)}</tbody>
      </table></div>
    </section>`}`;
}
