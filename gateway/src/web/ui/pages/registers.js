// Register tool (ModScan on the box): read any range of a table, see raw words and every
// decoding; write one register or coil of a point configured writable, after confirmation.
import { html, useEffect, useState } from '../lib/view.js';
import { t } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { ErrorBox, Field, OkBox, useAction } from '../lib/components.js';
import { ORDERS, pair, quad, single } from '../lib/decode.js';
import { fmtNumber } from '../lib/format.js';
import { exceptionText } from '../lib/device-errors.js';

const TABLES = ['holding', 'input', 'coil', 'discrete'];

function Decodings({ words, at, base }) {
  const rest = words.slice(at);
  const s = single(rest[0]);
  const p32 = rest.length >= 2 ? pair(rest.slice(0, 2)) : null;
  const p64 = rest.length >= 4 ? quad(rest.slice(0, 4)) : null;
  return html`<section class="card" id="decodings" aria-label=${t('registers.decodingsAt', { address: base + at })}>
    <h2>${t('registers.decodingsAt', { address: base + at })}</h2>
    <dl class="pairs">
      <dt>hex</dt><dd class="mono">${s.hex}</dd>
      <dt>${t('registers.binary')}</dt><dd class="mono">${s.bin}</dd>
      <dt>uint16</dt><dd>${s.uint16}</dd>
      <dt>int16</dt><dd>${s.int16}</dd>
      <dt>ASCII</dt><dd class="mono">${s.ascii}</dd>
    </dl>
    ${p32 &&
    html`<div class="scroll-x"><table class="decode">
      <thead><tr><th>${t('registers.order')}</th><th>float32</th><th>int32</th><th>uint32</th>${p64 && html`<th>float64</th><th>int64</th><th>uint64</th>`}</tr></thead>
      <tbody>${ORDERS.map((o) => html`<tr data-order=${o}>
        <td>${o}</td><td class="num">${fmtNumber(p32[o].float32)}</td><td class="num">${p32[o].int32}</td><td class="num">${p32[o].uint32}</td>
        ${p64 && html`<td class="num">${fmtNumber(p64[o].float64)}</td><td class="num mono">${p64[o].int64}</td><td class="num mono">${p64[o].uint64}</td>`}
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

function WriteForm({ device }) {
  const writable = (device.config?.points ?? []).filter((p) => p.writable && (p.table === 'holding' || p.table === 'coil'));
  const [point, setPoint] = useState(writable[0]?.id ?? '');
  const [value, setValue] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [done, setDone] = useState(null);
  const [error, setError] = useState(null);
  if (writable.length === 0) return html`<p class="muted" id="no-writable">${t('registers.noWritable')}</p>`;
  const p = writable.find((x) => x.id === point) ?? writable[0];
  const bit = p.table === 'coil' || p.type === 'bool' || p.type === 'bit';
  const parsed = bit ? value === 'true' : Number(value);
  const write = async () => {
    setError(null);
    setDone(null);
    try {
      await api('POST', `/api/points/${encodeURIComponent(device.id)}/${encodeURIComponent(p.id)}/write`, { value: parsed });
      setDone(t('registers.written', { value: String(parsed), point: p.name || p.id }));
    } catch (err) {
      setError(err);
    } finally {
      setConfirming(false);
    }
  };
  return html`<section class="card" aria-label=${t('registers.write')}>
    <h2>${t('registers.write')}</h2>
    <p class="muted">${t('registers.writeHint')}</p>
    <div class="form-grid">
      <${Field} id="write-point" label=${t('registers.point')}>
        <select id="write-point" value=${p.id} onChange=${(e) => { setPoint(e.currentTarget.value); setConfirming(false); }}>
          ${writable.map((x) => html`<option value=${x.id}>${x.name || x.id} (${t(`table.${x.table}`)} ${x.address})</option>`)}
        </select>
      <//>
      <${Field} id="write-value" label=${t('registers.value')}>
        ${bit
          ? html`<select id="write-value" value=${value} onChange=${(e) => setValue(e.currentTarget.value)}><option value="">—</option><option value="true">${t('common.true')} (1)</option><option value="false">${t('common.false')} (0)</option></select>`
          : html`<input id="write-value" type="number" step="any" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />`}
      <//>
    </div>
    ${!confirming && html`<button type="button" id="write-start" disabled=${value === '' || (!bit && !Number.isFinite(parsed))} onClick=${() => setConfirming(true)}>${t('registers.writeButton')}</button>`}
    ${confirming &&
    html`<div class="message warn" role="alertdialog" aria-label=${t('registers.confirmTitle')} id="write-confirm">
      <p>${t('registers.confirm', { value: String(parsed), point: p.name || p.id, where: `${t(`table.${p.table}`)} ${p.address}`, device: device.name || device.id })}</p>
      <button type="button" class="danger" id="write-confirm-yes" onClick=${write}>${t('registers.confirmYes')}</button>
      <button type="button" class="secondary" onClick=${() => setConfirming(false)}>${t('common.cancel')}</button>
    </div>`}
    ${done && html`<${OkBox}>${done}<//>`}
    <${ErrorBox} error=${error} />
  </section>`;
}

export function Registers({ args }) {
  const [id] = args;
  const [device, setDevice] = useState(null);
  const [q, setQ] = useState({ table: 'holding', address: '', count: '10', unitId: '' });
  const [result, setResult] = useState(null);
  const [at, setAt] = useState(0);
  const { busy, error, setError, run } = useAction();
  useEffect(() => {
    api('GET', '/api/devices').then((list) => {
      const d = list.find((x) => x.id === id);
      if (!d) throw Object.assign(new Error(id), { code: 'not_found' });
      setDevice(d);
      setQ((v) => ({ ...v, address: String(d.config?.addressBase ?? 0) }));
    }).catch(setError);
  }, []);
  if (!device) return html`<h1>${t('registers.title', { id })}</h1><${ErrorBox} error=${error} />`;
  const base = device.config?.addressBase ?? 0;
  const read = (e) => {
    e.preventDefault();
    return run(async () => {
      const body = { table: q.table, address: Number(q.address) - base, count: Number(q.count), ...(q.unitId !== '' ? { unitId: Number(q.unitId) } : {}) };
      setResult(await api('POST', `/api/devices/${encodeURIComponent(id)}/registers/read`, body));
      setAt(0);
    });
  };
  const set = (k) => (e) => setQ({ ...q, [k]: e.currentTarget.value });
  const bits = result && (result.table === 'coil' || result.table === 'discrete');
  return html`<h1>${t('registers.title', { id: device.name || id })}</h1>
    <p class="muted">${t('registers.hint', { base })}</p>
    <form class="card" id="register-form" onSubmit=${read} aria-label=${t('registers.read')}>
      <div class="form-grid">
        <${Field} id="reg-table" label=${t('point.table')}><select id="reg-table" value=${q.table} onChange=${set('table')}>${TABLES.map((x) => html`<option value=${x}>${t(`table.${x}`)}</option>`)}</select><//>
        <${Field} id="reg-address" label=${t('registers.start', { base })}><input id="reg-address" type="number" min=${base} max=${65535 + base} required value=${q.address} onInput=${set('address')} /><//>
        <${Field} id="reg-count" label=${t('registers.count')}><input id="reg-count" type="number" min="1" max="125" required value=${q.count} onInput=${set('count')} /><//>
        <${Field} id="reg-unit" label=${t('registers.unitId')} hint=${t('registers.unitIdHint', { unit: device.config?.unitId ?? 1 })}><input id="reg-unit" type="number" min="0" max="255" placeholder=${String(device.config?.unitId ?? 1)} value=${q.unitId} onInput=${set('unitId')} /><//>
      </div>
      <button type="submit" id="reg-read" disabled=${busy}>${t('registers.read')}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${result?.error && html`<div class="message error" role="alert" id="reg-error">${result.exception !== null ? html`${t('registers.exception', { code: result.exception })} <span class="exception-text">${exceptionText(result.exception)}</span>` : t('registers.failed')}<div class="mono" lang="en">${result.error}</div></div>`}
    ${result && !result.error &&
    html`<section class="card" aria-label=${t('registers.result')}>
      <h2>${t('registers.result')}</h2>
      <p class="muted">${t('registers.took', { ms: result.ms, unit: result.unitId })}</p>
      <div class="scroll-x"><table id="reg-result">
        <thead><tr><th>${t('registers.address')}</th><th>${t('registers.protocol')}</th>${bits ? html`<th>${t('registers.bit')}</th>` : html`<th>hex</th><th>uint16</th><th>int16</th><th>${t('registers.decode')}</th>`}</tr></thead>
        <tbody>${result.words.map((w, i) => {
          const s = bits ? null : single(w);
          return html`<tr data-address=${result.address + i + base} class=${i === at && !bits ? 'selected' : ''}>
            <td class="num">${result.address + i + base}</td><td class="num muted">${result.address + i}</td>
            ${bits ? html`<td>${w ? '1' : '0'}</td>` : html`<td class="mono">${s.hex}</td><td class="num">${s.uint16}</td><td class="num">${s.int16}</td>
              <td><button type="button" class="link-button" aria-label=${t('registers.decodeAt', { address: result.address + i + base })} onClick=${() => setAt(i)}>${t('registers.decode')}</button></td>`}
          </tr>`;
        })}</tbody>
      </table></div>
    </section>
    ${!bits && result.words.length > 0 && html`<${Decodings} words=${result.words} at=${at} base=${result.address + base} />`}`}
    <${WriteForm} device=${device} />`;
}
