// Add / edit / copy a device. The fields come from each driver's own form description
// (gateway/src/drivers/<driver>/form.ts via /api/drivers/forms): labels in both languages,
// limits and choices from the config schema. The server validates the save the same way.
import { html, useEffect, useState } from '../lib/view.js';
import { t, pick, lang } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { ErrorBox, Field, QualityBadge, useAction } from '../lib/components.js';
import { fmtNumber, fmtValue } from '../lib/format.js';
import { displayUnit } from '../lib/units.js';
import { ErrorText } from '../lib/device-errors.js';
import { warningText } from '../lib/log-text.js';

const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

/** The value typed into a control, as the config file holds it (undefined: leave the key out). */
function parseInput(field, el) {
  if (field.widget === 'checkbox') return el.checked;
  const raw = el.value.trim();
  if (raw === '') return undefined;
  if (field.widget === 'number') return Number(raw);
  if (field.options && field.options.every((o) => typeof o === 'number')) return Number(raw);
  return raw;
}

function setKey(obj, key, value, field) {
  const next = { ...obj };
  if (value === undefined || (field.widget === 'checkbox' && value === field.default && !(key in obj))) delete next[key];
  else next[key] = value;
  return next;
}

/** A choice as people say it ("чёт", "хранения (4x)"); the config value where the message files have none. */
function optionText(field, value) {
  const key = `option.${field.key}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

/** A dotted key's value (`auth.username`); a non-object on the way (auth: anonymous) reads as unset. */
export function getPath(obj, key) {
  return key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}

/** setKey for a dotted key; an object left empty is dropped (auth: {} is anonymous, the default). */
export function setPath(obj, key, value, field) {
  const dot = key.indexOf('.');
  if (dot < 0) return setKey(obj, key, value, field);
  const head = key.slice(0, dot);
  const inner = setPath(obj[head] && typeof obj[head] === 'object' ? obj[head] : {}, key.slice(dot + 1), value, field);
  const next = { ...obj };
  if (Object.keys(inner).length === 0) delete next[head];
  else next[head] = inner;
  return next;
}

export function Control({ field, value, id, onChange, label }) {
  const common = { id, name: field.key, 'aria-describedby': field.hint ? `${id}-hint` : undefined, 'aria-label': label };
  // A stored secret comes as the marker, never as itself: the box shows "unchanged" and sends
  // the marker back (the server keeps the stored value) unless a new one is typed.
  const [kept] = useState(field.secretMarker !== undefined && value === field.secretMarker);
  // Text is kept as typed ("1." on the way to "1.5"); the device gets the parsed value.
  const [text, setText] = useState(value === undefined || value === null || kept ? '' : String(value));
  const change = (e) => {
    const v = parseInput(field, e.currentTarget);
    onChange(v === undefined && kept ? field.secretMarker : v);
  };
  if (field.widget === 'checkbox') return html`<input type="checkbox" ...${common} checked=${Boolean(value ?? field.default ?? false)} onChange=${change} />`;
  if (field.widget === 'select') {
    return html`<select ...${common} value=${String(value ?? field.default ?? '')} onChange=${change}>
      ${!field.required && field.default === undefined && html`<option value="">—</option>`}
      ${field.options.map((o) => html`<option value=${String(o)}>${optionText(field, o)}</option>`)}
    </select>`;
  }
  return html`<input
    ...${common}
    type=${field.widget === 'number' ? 'number' : field.widget === 'password' ? 'password' : 'text'}
    step=${field.widget === 'number' ? 'any' : undefined}
    min=${field.min}
    max=${field.max}
    pattern=${field.pattern}
    required=${field.required}
    placeholder=${kept ? t('device.secretUnchanged') : field.default !== undefined && typeof field.default !== 'object' ? String(field.default) : undefined}
    autocomplete=${field.widget === 'password' ? 'new-password' : undefined}
    value=${text}
    onInput=${(e) => {
      setText(e.currentTarget.value);
      change(e);
    }}
  />`;
}

function DeviceFields({ form, device, onChange }) {
  const visible = form.fields.filter((f) => !f.showIf || f.showIf.values.includes(device[f.showIf.key] ?? form.fields.find((x) => x.key === f.showIf.key)?.default));
  return html`<div class="form-grid">
    ${visible.map((f) => {
      const id = `dev-${f.key.replace(/\./g, '-')}`;
      return html`<${Field} key=${f.key} id=${id} label=${pick(f.label)} hint=${f.hint && html`<span id=${`${id}-hint`}>${pick(f.hint)}</span>`}>
        <${Control} field=${f} id=${id} value=${getPath(device, f.key)} onChange=${(v) => onChange(setPath(device, f.key, v, f))} />
      <//>`;
    })}
  </div>`;
}

function PointEditor({ form, point, index, onChange, onRemove }) {
  const title = point.id || t('device.pointN', { n: index + 1 });
  return html`<fieldset class="point-row" data-index=${index}>
    <legend>${title}</legend>
    <div class="point-grid">
      ${form.pointFields.map((f) => {
        const id = `pt-${index}-${f.key}`;
        return html`<div class="field small" key=${f.key} data-key=${f.key}>
          <label for=${id}>${pick(f.label)}</label>
          <${Control} field=${f} id=${id} value=${point[f.key]} onChange=${(v) => onChange(setKey(point, f.key, v, f))} />
          ${f.key === 'unit' && point.unit && html`<span class="hint">${displayUnit(point.unit)}</span>`}
        </div>`;
      })}
    </div>
    <button type="button" class="secondary remove" aria-label=${t('device.removePoint', { id: title })} title=${t('device.removePoint', { id: title })} onClick=${onRemove}>×</button>
  </fieldset>`;
}

/** A config warning translated by its code, the server's English beside it; unknown codes in English, marked so. */
function WarningText({ w }) {
  const text = warningText(w);
  if (text === null) return html`<span lang="en">${w.message}</span>${lang() !== 'en' && html` <span class="muted english-only">${t('logs.englishOnly')}</span>`}`;
  return html`<span class="warning-text">${text}</span><div class="muted mono small" lang="en">${w.message}</div>`;
}

/** Engineering value from an unscaled one, as the pipeline computes it. */
const scaled = (v, p) => {
  // 64-bit integers come as decimal strings: scaled too (a double keeps the 6 digits shown), else
  // the order columns of a scaled uint64 counter show raw 19-digit numbers beside the scaled value.
  const n = typeof v === 'string' && /^-?\d+$/.test(v) && ((p.scale ?? 1) !== 1 || (p.offset ?? 0) !== 0) ? Number(v) : v;
  return typeof n === 'number' ? n * (p.scale ?? 1) + (p.offset ?? 0) : n;
};

function TestReadTable({ result, device, onUseOrder }) {
  const byId = new Map((device.points ?? []).map((p) => [p.id, p]));
  // OPC UA has no registers: no raw column where no point has raw data.
  const hasRaw = result.orders.length > 0 || result.points.some((r) => r.raw);
  return html`<div class="scroll-x stack-narrow"><table id="test-read-result">
    <thead><tr>
      <th>${t('devices.point')}</th><th>${t('testRead.address')}</th>${hasRaw && html`<th>${t('testRead.raw')}</th>`}<th>${t('testRead.value')}</th>
      ${result.orders.map((o) => html`<th>${o}</th>`)}
      <th>${t('devices.quality')}</th>
    </tr></thead>
    <tbody>${result.points.map((r) => {
      const p = byId.get(r.point) ?? {};
      return html`<tr data-point=${r.point}>
        <td class="key" data-label=${t('devices.point')}>${r.name || r.point}<div class="mono muted">${r.type ?? ''}${r.orders ? ` · ${r.order}` : ''}</div></td>
        <td class=${r.table ?? p.table ? 'num' : 'mono'} data-label=${t('testRead.address')} title=${r.where ?? ''}>${r.table ?? p.table ? `${t(`table.${r.table ?? p.table}`)} ${r.address ?? p.address}` : r.where || '—'}</td>
        ${hasRaw && html`<td class="mono" data-label=${t('testRead.raw')}>${r.raw ? r.raw.map((w) => (typeof w === 'number' ? `0x${w.toString(16).padStart(4, '0')}` : String(w))).join(' ') : '—'}</td>`}
        <td class="num key" data-label=${t('testRead.value')}>${fmtValue(r.scaled, r.unit)}</td>
        ${result.orders.map((o) => {
          const chosen = r.orders && o === r.order;
          return html`<td class=${`num${chosen ? ' chosen' : ''}`} data-order=${o} data-label=${o}>
            ${r.orders ? fmtNumber(scaled(r.orders[o], p)) : '—'}
            ${r.orders && !chosen && html` <button type="button" class="link-button use-order" aria-label=${t('testRead.useOrderFor', { order: o, point: r.name || r.point })} onClick=${() => onUseOrder(r.point, o)}>${t('testRead.useOrder')}</button>`}
          </td>`;
        })}
        <td class="key" data-label=${t('devices.quality')}><${QualityBadge} q=${r.quality} />${r.error && html`<div class="small"><${ErrorText} text=${r.error} /></div>`}</td>
      </tr>`;
    })}</tbody>
  </table></div>`;
}

export function DeviceForm({ args }) {
  const [mode, sourceId] = args[0] === 'new' || args.length === 0 ? ['new', args[1]] : ['edit', args[0]];
  const [forms, setForms] = useState(null);
  const [profiles, setProfiles] = useState([]);
  const [device, setDevice] = useState(null);
  const { busy, error, setError, run } = useAction();
  const [result, setResult] = useState(null);
  const [savedWarnings, setSavedWarnings] = useState(null);
  const [profile, setProfile] = useState('');
  const [rev, setRev] = useState(0);
  // A profile brings its own link (RS-485: modbus-rtu) unless the engineer chose the protocol.
  const [driverChosen, setDriverChosen] = useState(mode === 'edit' || Boolean(sourceId));
  const replaceDevice = (d) => {
    setDevice(d);
    setRev((r) => r + 1);
  };

  useEffect(() => {
    (async () => {
      const [f, devices] = await Promise.all([api('GET', '/api/drivers/forms'), api('GET', '/api/devices')]);
      setForms(f);
      if (mode === 'edit') {
        const existing = devices.find((d) => d.id === sourceId);
        if (!existing) throw Object.assign(new Error(sourceId), { code: 'not_found' });
        setDevice(existing.config);
      } else if (sourceId) {
        const source = devices.find((d) => d.id === sourceId);
        const copy = structuredClone(source?.config ?? f[0].template);
        copy.id = `${sourceId}-2`;
        if (copy.name) copy.name = t('device.copyName', { name: copy.name });
        setDevice(copy);
      } else {
        setDevice({ id: '', ...f[0].template });
      }
      if (mode === 'new') setProfiles((await api('GET', '/api/profiles')).filter((p) => !p.error));
    })().catch(setError);
  }, []);

  if (!forms || !device) return html`<h1>${t(mode === 'edit' ? 'device.editTitle' : 'device.addTitle', { id: sourceId })}</h1><${ErrorBox} error=${error} />`;
  const form = forms.find((f) => f.driver === device.driver) ?? forms[0];

  const switchDriver = (driver) => {
    const next = forms.find((f) => f.driver === driver);
    // What both drivers' schemas have with the same shape goes across (identity, timing; between
    // Modbus TCP and RTU also the unit, numbering, block limits and points); the link fields and
    // anything the new driver's schema would refuse (a TCP port on a serial line) are the new driver's.
    const keep = Object.fromEntries(Object.entries(device).filter(([k]) => k !== 'driver' && next.keys[k] !== undefined && next.keys[k] === form.keys[k]));
    replaceDevice({ ...next.template, ...keep, driver });
    setResult(null);
  };
  const pickProfile = async (name) => {
    setProfile(name);
    if (!name) return;
    try {
      // A driver that takes register maps keeps the engineer's choice; otherwise the profile's link decides.
      const driver = driverChosen && form.profiles ? device.driver : undefined;
      const fromProfile = await api('GET', `/api/profiles/${encodeURIComponent(name)}/device?lang=${lang()}${driver ? `&driver=${driver}` : ''}`);
      // The connection already typed stays; the profile brings the register map and line settings.
      const keeps = forms.find((f) => f.driver === fromProfile.driver)?.profileKeeps ?? [];
      const typed = device.driver === fromProfile.driver ? Object.fromEntries(keeps.filter((k) => device[k] !== undefined && device[k] !== '').map((k) => [k, device[k]])) : {};
      replaceDevice({ ...fromProfile, ...typed, id: device.id || fromProfile.id });
    } catch (err) {
      setError(err);
    }
  };
  const testRead = () =>
    run(async () => {
      setResult(null);
      setResult(await api('POST', '/api/devices/test-read', device));
    });
  const save = () =>
    run(async () => {
      const res = mode === 'edit' ? await api('PUT', `/api/devices/${encodeURIComponent(sourceId)}`, device) : await api('POST', '/api/devices', device);
      // Saved and polling; what looks wrong stays on screen until the engineer moves on.
      if (res?.warnings?.length > 0) setSavedWarnings(res.warnings);
      else location.hash = '#/devices';
    });
  const setPoint = (i, p) => setDevice({ ...device, points: device.points.map((x, j) => (j === i ? p : x)) });
  const useOrder = (pointId, order) => setDevice({ ...device, points: device.points.map((p) => (p.id === pointId ? { ...p, order } : p)) });
  const newPoint = form.template.points[0];

  return html`<h1>${mode === 'edit' ? t('device.editTitle', { id: sourceId }) : sourceId ? t('device.copyTitle', { id: sourceId }) : t('device.addTitle')}</h1>
    <form id="device-form" onSubmit=${(e) => e.preventDefault()} novalidate>
      <section class="card" aria-label=${t('device.connection')}>
        <div class="form-grid">
          ${mode === 'new' &&
          html`<${Field} id="profile" label=${t('device.profile')}>
            <select id="profile" value=${profile} onChange=${(e) => pickProfile(e.currentTarget.value)}>
              <option value="">${t('device.noProfile')}</option>
              ${profiles.map((p) => html`<option value=${p.name}>${p.vendor} ${p.model} (${p.name})</option>`)}
            </select>
          <//>`}
          <${Field} id="driver" label=${t('device.driver')}>
            <select id="driver" name="driver" value=${device.driver} onChange=${(e) => {
              setDriverChosen(true);
              switchDriver(e.currentTarget.value);
            }}>
              ${forms.map((f) => html`<option value=${f.driver}>${pick(f.label)}</option>`)}
            </select>
          <//>
        </div>
        <${DeviceFields} key=${`fields-${rev}`} form=${form} device=${device} onChange=${(d) => setDevice(d)} />
      </section>
      <section class="card" aria-label=${t('device.points')}>
        <h2>${t('device.points')}</h2>
        ${(device.points ?? []).map((p, i) => html`<${PointEditor} key=${`${rev}-${i}-${device.points.length}`} form=${form} point=${p} index=${i} onChange=${(np) => setPoint(i, np)} onRemove=${() => replaceDevice({ ...device, points: device.points.filter((_, j) => j !== i) })} />`)}
        <button type="button" class="secondary" id="add-point" onClick=${() => setDevice({ ...device, points: [...(device.points ?? []), { ...newPoint, id: '' }] })}>${t('device.addPoint')}</button>
      </section>
      <div class="row">
        ${form.testRead && html`<button type="button" class="secondary" id="test-read" disabled=${busy} onClick=${testRead}>${t('device.testRead')}</button>`}
        <button type="button" id="save-device" disabled=${busy} onClick=${save}>${t('common.save')}</button>
        <button type="button" class="secondary" onClick=${() => (location.hash = '#/devices')}>${t('common.cancel')}</button>
      </div>
    </form>
    ${!form.testRead && html`<p class="muted" id="test-read-none">${t('device.testReadNone', { driver: pick(form.label) })}</p>`}
    <div id="form-message"><${ErrorBox} error=${error} /></div>
    ${savedWarnings && html`<section class="card" id="saved-warnings" role="status"><h2>${t('device.savedWithWarnings')}</h2>
      <ul>${savedWarnings.map((w) => html`<li><span class="mono">${w.path}</span> <${WarningText} w=${w} /></li>`)}</ul>
      <button type="button" onClick=${() => (location.hash = '#/devices')}>${t('device.toDevices')}</button></section>`}
    ${busy && html`<p class="muted">${t('common.working')}</p>`}
    ${result && html`<section class="card"><h2>${t('testRead.title')}</h2>
      ${result.warnings?.length > 0 && html`<div id="config-warnings" role="status"><h3>${t('testRead.warnings')}</h3><ul>${result.warnings.map((w) => html`<li><span class="mono">${w.path}</span> <${WarningText} w=${w} /></li>`)}</ul></div>`}
      <p class="muted">${t(result.orders.length > 0 ? 'testRead.hint' : 'testRead.hintValues')}</p><${TestReadTable} result=${result} device=${device} onUseOrder=${useOrder} /></section>`}`;
}
