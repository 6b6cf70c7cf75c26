import { html, useEffect, useState } from '../lib/view.js';
import { t, plural } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { Badge, ErrorBox, Field, OkBox, useAction } from '../lib/components.js';
import { ErrorText } from '../lib/device-errors.js';

const KINDS = ['ca', 'cert', 'key'];

export function Uplink() {
  const [u, setU] = useState(null);
  const [form, setForm] = useState(null);
  const [message, setMessage] = useState(null);
  const { busy, error, setError, run } = useAction();
  useEffect(() => {
    api('GET', '/api/uplink').then((x) => {
      setU(x);
      const tls = x.tls || {};
      setForm({ url: x.url ?? '', clientId: x.clientId ?? '', username: x.username ?? '', password: '', ca: tls.ca ?? '', cert: tls.cert ?? '', key: tls.key ?? '', rejectUnauthorized: tls.rejectUnauthorized !== false });
    }, setError);
  }, []);
  if (!form) return html`<h1>${t('uplink.title')}</h1><${ErrorBox} error=${error} />`;
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value });
  const body = () => {
    const b = { url: form.url.trim(), clientId: form.clientId.trim(), username: form.username.trim() };
    if (form.password) b.password = form.password;
    const anyTls = KINDS.some((k) => form[k].trim()) || !form.rejectUnauthorized;
    b.tls = anyTls ? { ca: form.ca.trim(), cert: form.cert.trim(), key: form.key.trim(), rejectUnauthorized: form.rejectUnauthorized } : null;
    return b;
  };
  const act = (fn) => {
    setMessage(null);
    return run(fn);
  };
  const upload = (kind) => async (e) => {
    const file = e.currentTarget.files[0];
    if (!file) return;
    await act(async () => {
      const r = await api('POST', `/api/uplink/tls/${kind}`, { pem: await file.text() });
      setForm((f) => ({ ...f, [kind]: r.path }));
      setMessage({ ok: true, text: t('uplink.uploaded', { kind: t(`uplink.${kind}`) }) });
    });
  };
  const test = () =>
    act(async () => {
      const r = await api('POST', '/api/uplink/test', body());
      setMessage(r.ok ? { ok: true, text: t('uplink.testOk', { ms: r.ms }) } : { ok: false, text: t('uplink.testFailed', { e: '' }).trim(), error: r.error });
    });
  const save = () =>
    act(async () => {
      await api('PUT', '/api/uplink', body());
      setMessage({ ok: true, text: t('common.saved') });
    });
  const st = u.status;
  const text = (k, attrs = {}) => html`<${Field} id=${`uplink-${k}`} label=${t(`uplink.${k}`)}><input id=${`uplink-${k}`} name=${k} value=${form[k]} onInput=${set(k)} ...${attrs} /><//>`;
  return html`<h1>${t('uplink.title')}</h1>
    <section class="card" aria-label=${t('uplink.current')}>
      <div class="row">${t('uplink.current')} ${st ? html`<${Badge} kind=${st.state}>${t(`uplink.state.${st.state}`)}<//>` : '—'} ${st?.lastError && html`<span class="muted"><${ErrorText} text=${st.lastError} /></span>`}</div>
      ${st && html`<div class="muted">${plural('uplink.acked', st.readingsAcked)} · ${plural('uplink.reconnects', st.reconnects)}</div>`}
    </section>
    <section class="card" aria-label=${t('uplink.settings')}>
      <form class="form-grid" onSubmit=${(e) => e.preventDefault()}>
        ${text('url', { type: 'url', spellcheck: 'false' })}
        ${text('clientId')}
        ${text('username', { autocomplete: 'off' })}
        ${text('password', { type: 'password', autocomplete: 'new-password', placeholder: u.hasPassword ? t('uplink.passwordKept') : '' })}
        ${KINDS.map((k) => html`<div class="field file-field" key=${k}>
          <label for=${`uplink-${k}`}>${t(`uplink.${k}`)}</label>
          <input id=${`uplink-${k}`} name=${k} value=${form[k]} onInput=${set(k)} />
          <label class="button secondary" for=${`uplink-${k}-file`}>${t('uplink.uploadFile', { kind: t(`uplink.${k}`) })}</label>
          <input id=${`uplink-${k}-file`} type="file" accept=".pem,.crt,.key,.cer" class="visually-hidden" onChange=${upload(k)} />
        </div>`)}
        <div class="field checkbox">
          <input id="uplink-reject" type="checkbox" name="rejectUnauthorized" checked=${form.rejectUnauthorized} onChange=${set('rejectUnauthorized')} />
          <label for="uplink-reject">${t('uplink.rejectUnauthorized')}</label>
        </div>
      </form>
      <div class="row">
        <button type="button" class="secondary" id="uplink-test" disabled=${busy} onClick=${test}>${t('uplink.test')}</button>
        <button type="button" id="uplink-save" disabled=${busy} onClick=${save}>${t('common.save')}</button>
      </div>
      <div id="uplink-message">
        ${busy && html`<p class="muted">${t('common.working')}</p>`}
        ${message && (message.ok ? html`<${OkBox}>${message.text}<//>` : html`<div class="message error" role="alert">${message.text} <${ErrorText} text=${message.error} /></div>`)}
        <${ErrorBox} error=${error} />
      </div>
    </section>`;
}
