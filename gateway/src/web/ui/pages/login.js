import { html, useState } from '../lib/view.js';
import { t } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { ErrorBox, Field } from '../lib/components.js';

export function Login({ onDone }) {
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const f = e.currentTarget.elements;
    try {
      onDone(await api('POST', '/api/auth/login', { user: f.user.value, password: f.password.value }));
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card login">
    <h1>${t('login.title')}</h1>
    <form onSubmit=${submit}>
      <${Field} label=${t('login.user')} id="login-user"><input id="login-user" name="user" autocomplete="username" required value="admin" /><//>
      <${Field} label=${t('login.password')} id="login-password"><input id="login-password" name="password" type="password" autocomplete="current-password" required /><//>
      <button type="submit" id="login-submit">${t('login.submit')}</button>
    </form>
    <${ErrorBox} error=${error} />
  </section>`;
}

export function Setup({ minLength, onDone }) {
  const [error, setError] = useState(null);
  const [mismatch, setMismatch] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const f = e.currentTarget.elements;
    setMismatch(f.password.value !== f.repeat.value);
    if (f.password.value !== f.repeat.value) return;
    try {
      onDone(await api('POST', '/api/auth/setup', { token: f.token.value.trim(), user: f.user.value, password: f.password.value }));
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card login">
    <h1>${t('setup.title')}</h1>
    <p class="muted">${t('setup.hint')}</p>
    <form onSubmit=${submit}>
      <${Field} label=${t('setup.token')} id="setup-token"><input id="setup-token" name="token" required autocomplete="off" /><//>
      <${Field} label=${t('login.user')} id="setup-user"><input id="setup-user" name="user" required value="admin" autocomplete="username" /><//>
      <${Field} label=${t('setup.password', { n: minLength })} id="setup-password"><input id="setup-password" name="password" type="password" required minlength=${minLength} autocomplete="new-password" /><//>
      <${Field} label=${t('setup.repeat')} id="setup-repeat"><input id="setup-repeat" name="repeat" type="password" required autocomplete="new-password" /><//>
      <button type="submit" id="setup-submit">${t('setup.submit')}</button>
    </form>
    ${mismatch && html`<div class="message error" role="alert">${t('setup.mismatch')}</div>`}
    <${ErrorBox} error=${error} />
  </section>`;
}
