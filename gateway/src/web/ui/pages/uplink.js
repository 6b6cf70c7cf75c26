// Every uplink of the box as a card with its state; the chosen one is edited with the form its
// sink describes (cloud-sync/src/north/<sink>/form.ts via /api/uplinks/forms): labels in both
// languages, limits and choices from the sink's config schema. The page knows no sink kind:
// what it offers beyond the fields (the broker test, PEM uploads) the form says.
import { html, useEffect, useState } from '../lib/view.js';
import { t, plural, pick } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { Badge, ErrorBox, Field, OkBox, useAction } from '../lib/components.js';
import { ErrorText } from '../lib/device-errors.js';
import { Control, getPath, setPath } from './device-form.js';

const GROUPS = ['identity', 'connection', 'security', 'delivery', 'timing'];

function StateBadge({ status }) {
  return status ? html`<${Badge} kind=${status.state}>${t(`uplink.state.${status.state}`)}<//>` : html`<${Badge}>—<//>`;
}

function UplinkCard({ u, form, chosen, onChoose }) {
  const st = u.status;
  return html`<article class=${`card uplink-card${chosen ? ' chosen' : ''}`} data-uplink=${u.name} aria-current=${chosen ? 'true' : undefined}>
    <div class="row">
      <strong>${u.name}</strong>
      ${u.primary && html`<${Badge} kind="primary">${t('uplink.primary')}<//>`}
      <span class="spacer"></span>
      <${StateBadge} status=${st} />
    </div>
    <div class="sub">${form ? pick(form.label) : u.kind}</div>
    <div class="sub mono">${u.url}</div>
    <div class="sub">${plural('uplink.unsent', u.unsent)}${st?.readingsAcked !== undefined ? html` · ${plural('uplink.ackedBy', st.readingsAcked)}` : ''}${st?.reconnects !== undefined ? html` · ${plural('uplink.reconnects', st.reconnects)}` : ''}</div>
    ${st?.lastError && html`<div class="sub"><${ErrorText} text=${st.lastError} /></div>`}
    <button type="button" class="secondary" aria-pressed=${chosen ? 'true' : 'false'} aria-label=${t('uplink.edit', { name: u.name })} onClick=${onChoose}>${t('common.edit')}</button>
  </article>`;
}

function UplinkForm({ u, form, notice, onSaved }) {
  const [entry, setEntry] = useState(u.settings ?? { name: u.name, kind: u.kind });
  // A save reloads the list and starts the form again from what was saved: the notice survives that.
  const [message, setMessage] = useState(notice);
  const { busy, error, run } = useAction();
  const act = (fn) => {
    setMessage(null);
    return run(fn);
  };
  const upload = (field) => async (e) => {
    const file = e.currentTarget.files[0];
    if (!file) return;
    await act(async () => {
      const r = await api('POST', `/api/uplink/tls/${field.upload}`, { pem: await file.text() });
      setEntry((x) => setPath(x, field.key, r.path, field));
      setMessage({ ok: true, text: t('uplink.uploaded', { kind: t(`uplink.${field.upload}`) }) });
    });
  };
  // The broker test takes the connection fields of the form (the primary uplink's stored password stands for an untyped one).
  const test = () =>
    act(async () => {
      const b = { url: entry.url ?? '', clientId: entry.clientId ?? '', username: entry.username ?? '' };
      if (entry.password && entry.password !== form.fields.find((f) => f.key === 'password')?.secretMarker) b.password = entry.password;
      b.tls = entry.tls ?? null;
      const r = await api('POST', '/api/uplink/test', b);
      setMessage(r.ok ? { ok: true, text: t('uplink.testOk', { ms: r.ms }) } : { ok: false, text: t('uplink.testFailed', { e: '' }).trim(), error: r.error });
    });
  const save = () =>
    act(async () => {
      await api('PUT', `/api/uplinks/${encodeURIComponent(u.name)}`, entry);
      onSaved(entry.name, { ok: true, text: t('common.saved') });
    });
  const id = (f) => `uplink-${f.key.replace(/\./g, '-')}`;
  const visible = form.fields.filter((f) => !f.showIf || f.showIf.values.includes(getPath(entry, f.showIf.key) ?? form.fields.find((x) => x.key === f.showIf.key)?.default));
  return html`<section class="card" aria-label=${t('uplink.settings')}>
    <h2>${t('uplink.editing', { name: u.name })}</h2>
    <form onSubmit=${(e) => e.preventDefault()}>
      ${GROUPS.map((g) => {
        const fields = visible.filter((f) => f.group === g);
        return fields.length > 0 && html`<fieldset class="form-group" key=${g} data-group=${g}>
          <legend>${t(`uplink.group.${g}`)}</legend>
          <div class="form-grid">
            ${fields.map((f) => html`<${Field} key=${f.key} id=${id(f)} label=${pick(f.label)} hint=${f.hint && html`<span id=${`${id(f)}-hint`}>${pick(f.hint)}</span>`}>
              <${Control} field=${f} id=${id(f)} value=${getPath(entry, f.key)} onChange=${(v) => setEntry((x) => setPath(x, f.key, v, f))} />
              ${f.upload && u.primary && html`<label class="button secondary" for=${`${id(f)}-file`}>${t('uplink.upload')}</label>
                <input id=${`${id(f)}-file`} type="file" accept=".pem,.crt,.key,.cer" class="visually-hidden" aria-label=${t('uplink.uploadFile', { kind: t(`uplink.${f.upload}`) })} onChange=${upload(f)} />`}
            <//>`)}
          </div>
        </fieldset>`;
      })}
    </form>
    <div class="row">
      ${form.brokerTest && u.primary && html`<button type="button" class="secondary" id="uplink-test" disabled=${busy} onClick=${test}>${t('uplink.test')}</button>`}
      <button type="button" id="uplink-save" disabled=${busy} onClick=${save}>${t('common.save')}</button>
    </div>
    <div id="uplink-message">
      ${busy && html`<p class="muted">${t('common.working')}</p>`}
      ${message && (message.ok ? html`<${OkBox}>${message.text}<//>` : html`<div class="message error" role="alert">${message.text} <${ErrorText} text=${message.error} /></div>`)}
      <${ErrorBox} error=${error} />
    </div>
  </section>`;
}

export function Uplink() {
  const [uplinks, setUplinks] = useState(null);
  const [forms, setForms] = useState(null);
  const [chosen, setChosen] = useState(null);
  // Bumped on every load: the form starts again from the settings as saved.
  const [loaded, setLoaded] = useState(0);
  const [notice, setNotice] = useState(null);
  const { error, setError } = useAction();
  const load = (pick) =>
    Promise.all([api('GET', '/api/uplinks'), forms ? Promise.resolve(forms) : api('GET', '/api/uplinks/forms')]).then(([list, f]) => {
      setUplinks(list);
      setForms(f);
      setChosen((c) => pick ?? (list.some((u) => u.name === c) ? c : (list.find((u) => u.primary) ?? list[0])?.name ?? null));
      setLoaded((n) => n + 1);
    }, setError);
  useEffect(() => {
    load();
  }, []);
  if (!uplinks || !forms) return html`<h1>${t('uplink.title')}</h1><${ErrorBox} error=${error} />`;
  const formOf = (u) => forms.find((f) => f.kind === u.kind);
  const current = uplinks.find((u) => u.name === chosen);
  const form = current && formOf(current);
  return html`<h1>${t('uplink.title')}</h1>
    <section aria-label=${t('uplink.list')} class="uplink-list">
      ${uplinks.map((u) => html`<${UplinkCard} key=${u.name} u=${u} form=${formOf(u)} chosen=${u.name === chosen} onChoose=${() => {
        setNotice(null);
        setChosen(u.name);
      }} />`)}
    </section>
    <${ErrorBox} error=${error} />
    ${current && (form ? html`<${UplinkForm} key=${`${current.name}-${loaded}`} u=${current} form=${form} notice=${notice} onSaved=${(name, n) => {
      setNotice(n);
      load(name);
    }} />` : html`<p class="message">${t('uplink.noForm', { kind: current.kind })}</p>`)}`;
}
