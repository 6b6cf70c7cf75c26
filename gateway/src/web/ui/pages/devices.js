import { html, useEffect, useState } from '../lib/view.js';
import { t, plural } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { hasSeries, liveDevice, liveValue, seedSeries, series, serverNow, useLive } from '../lib/live.js';
import { Badge, ErrorBox, QualityBadge } from '../lib/components.js';
import { Chart } from '../lib/chart.js';
import { fmtAgo, fmtValue } from '../lib/format.js';
import { ErrorText } from '../lib/device-errors.js';

function DeviceStatus({ d, state, stale }) {
  if (!d.enabled) return html`<${Badge}>${t('devices.disabled')}<//>`;
  if (stale) return html`<${Badge} kind="warn">${t('devices.unknown')}<//>`;
  if (!state || state.polls === 0) return html`<${Badge} kind="warn">${t('devices.waiting')}<//>`;
  if (state.consecutiveFailures > 0) return html`<${Badge} kind="bad">${t('devices.failing')}<//>`;
  // The device answers, but refuses some reads (a Modbus exception for one block): its other points keep polling.
  if (state.blockErrors?.length > 0) return html`<${Badge} kind="warn">${t('devices.partial')}<//>`;
  return html`<${Badge} kind="ok">${t('devices.ok')}<//>`;
}

/** Reads the device refuses and what splitting them found: what the engineer fixes in the register map. */
function MapProblems({ refused, findings }) {
  if (refused.length === 0 && findings.length === 0) return null;
  return html`<div class="map-problems" role="status">
    <strong>${t('devices.mapProblems')}</strong>
    <ul class="mono">${[...findings, ...refused.filter((r) => !findings.some((f) => f.includes(r)))].map((line) => html`<li>${line}</li>`)}</ul>
  </div>`;
}

function PointRow({ device, p, stale }) {
  const key = `${device.id}/${p.id}`;
  const live = liveValue(key);
  const value = live ? live.value : p.value;
  const quality = live ? live.quality : p.quality;
  const name = p.name || p.id;
  return html`<tr data-point=${p.id} class=${stale ? 'stale' : ''}>
    <td class="point-name">${name}${p.name && html`<div class="mono muted">${p.id}</div>`}</td>
    <td class="num value" data-label=${t('devices.value')}>${fmtValue(quality === 'good' || quality === 'uncertain' || quality === 'uncertain_clock' ? value : null, p.unit)}</td>
    <td data-label=${t('devices.quality')}><${QualityBadge} q=${quality} />${p.error && !live && html`<div class="small"><${ErrorText} text=${p.error} /></div>`}</td>
    <td class="chart-cell"><${Chart} points=${series(key) ?? []} unit=${p.unit} name=${name} now=${serverNow()} expectedStepMs=${Math.max(device.intervalMs * 3, p.heartbeatMs ?? 60_000)} /></td>
  </tr>`;
}

function DeviceCard({ d, stale, onDelete, tools }) {
  const state = liveDevice(d.id) ?? d.state;
  const go = (page) => () => (location.hash = `#/${page}/${encodeURIComponent(d.id)}`);
  // The register tool and traffic view exist for the drivers whose definition lists them.
  const has = (tool) => tools.includes(tool);
  const pollsDone = state ? state.polls : 0;
  return html`<section class="card device" data-device=${d.id} aria-label=${d.name || d.id}>
    <div class="device-head">
      <h2>${d.name || d.id}</h2>
      <span class="mono muted">${d.id}</span>
      <${DeviceStatus} d=${d} state=${state} stale=${stale} />
      <span class="muted address">${d.addressText ? t(d.addressText.key, d.addressText.params) : d.address}</span>
    </div>
    <div class="actions">
      <button class="secondary" type="button" data-action="edit" onClick=${go('device')}>${t('common.edit')}</button>
      <button class="secondary" type="button" data-action="copy" onClick=${() => (location.hash = `#/device/new/${encodeURIComponent(d.id)}`)}>${t('devices.copy')}</button>
      ${has('registers') && html`<button class="secondary" type="button" data-action="registers" onClick=${go('registers')}>${t('devices.registers')}</button>`}
      ${has('traffic') && html`<button class="secondary" type="button" data-action="traffic" onClick=${go('traffic')}>${t('devices.traffic')}</button>`}
      <button class="danger" type="button" data-action="delete" onClick=${() => onDelete(d)}>${t('common.delete')}</button>
    </div>
    <p class="muted poll-line">
      ${stale ? t('devices.lastPollStale', { when: state ? fmtAgo(state.lastPollAt, serverNow()) : t('common.never') }) : t('devices.lastPoll', { when: state ? fmtAgo(state.lastPollAt, serverNow()) : t('common.never') })}
      ${' · '}${plural('devices.errors', state ? state.failures : 0, { polls: plural('devices.polls', pollsDone) })}
      ${state?.lastError && html`<span> · <${ErrorText} text=${state.lastError} /></span>`}
    </p>
    <${MapProblems} refused=${state?.blockErrors ?? d.state?.blockErrors ?? []} findings=${state?.findings ?? d.state?.findings ?? []} />
    <table class="points">
      <thead><tr><th>${t('devices.point')}</th><th>${t('devices.value')}</th><th>${t('devices.quality')}</th><th>${t('devices.chart')}</th></tr></thead>
      <tbody>${d.points.map((p) => html`<${PointRow} key=${p.id} device=${d} p=${p} stale=${stale} />`)}</tbody>
    </table>
  </section>`;
}

export function Devices() {
  const live = useLive();
  const [devices, setDevices] = useState(null);
  const [error, setError] = useState(null);
  const [filter, setFilter] = useState('');
  const [, setClock] = useState(0);
  // Device pages by driver, from the driver definitions (GET /api/drivers/forms, `tools`).
  const [tools, setTools] = useState({});
  const filterId = 'devices-filter';

  const load = async () => {
    const [list, forms] = await Promise.all([api('GET', '/api/devices'), api('GET', '/api/drivers/forms')]);
    setTools(Object.fromEntries(forms.map((f) => [f.driver, f.tools ?? []])));
    setDevices(list);
    // Charts: the log's last hour once per device, then the stream appends.
    await Promise.all(
      list.map(async (d) => {
        if (d.points.every((p) => hasSeries(`${d.id}/${p.id}`))) return;
        const h = await api('GET', `/api/devices/${encodeURIComponent(d.id)}/history`).catch(() => ({}));
        for (const p of d.points) seedSeries(`${d.id}/${p.id}`, h[p.id] ?? []);
      }),
    );
    setClock((c) => c + 1);
  };
  useEffect(() => {
    load().catch(setError);
    // "3 s ago" keeps counting while nothing arrives.
    const timer = setInterval(() => setClock((c) => c + 1), 1000);
    return () => clearInterval(timer);
  }, []);

  const onDelete = async (d) => {
    if (!confirm(t('devices.confirmDelete', { id: d.id }))) return;
    try {
      await api('DELETE', `/api/devices/${encodeURIComponent(d.id)}`);
      await load();
    } catch (err) {
      setError(err);
    }
  };

  const f = filter.trim().toLowerCase();
  const shown = (devices ?? []).filter((d) => !f || [d.id, d.name ?? '', ...d.points.map((p) => `${p.id} ${p.name ?? ''}`)].join(' ').toLowerCase().includes(f));
  return html`<div class="page-head">
      <h1>${t('devices.title')}</h1>
      <span class="spacer"></span>
      <button type="button" id="add-device" onClick=${() => (location.hash = '#/device/new')}>${t('devices.add')}</button>
    </div>
    <div class="field inline">
      <label for=${filterId}>${t('devices.filter')}</label>
      <input id=${filterId} name="filter" type="search" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)} />
    </div>
    <${ErrorBox} error=${error} />
    ${devices === null && !error && html`<p class="muted">${t('common.working')}</p>`}
    ${devices !== null && devices.length === 0 && html`<p class="muted">${t('devices.none')}</p>`}
    ${shown.map((d) => html`<${DeviceCard} key=${d.id} d=${d} stale=${live.stale && !live.connecting} onDelete=${onDelete} tools=${tools[d.driver] ?? []} />`)}`;
}
