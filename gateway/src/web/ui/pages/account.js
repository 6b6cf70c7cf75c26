import { html, useState } from '../lib/view.js';
import { t } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { ErrorBox, Field, OkBox } from '../lib/components.js';

export function Account({ user, onLoggedOut }) {
  const [error, setError] = useState(null);
  const [ok, setOk] = useState(null);
  const change = async (e) => {
    e.preventDefault();
    setError(null);
    setOk(null);
    const form = e.currentTarget;
    const f = form.elements;
    if (f.password.value !== f.repeat.value) return setError(Object.assign(new Error(''), { code: 'mismatch', issues: [] }));
    try {
      await api('POST', '/api/auth/password', { current: f.current.value, password: f.password.value });
      form.reset();
      setOk(t('account.changed'));
    } catch (err) {
      setError(err);
    }
  };
  const everywhere = async () => {
    if (!confirm(t('account.confirmEverywhere'))) return;
    try {
      await api('POST', '/api/auth/logout-all');
      onLoggedOut();
    } catch (err) {
      setError(err);
    }
  };
  return html`<h1>${t('account.title', { user })}</h1>
    <section class="card" aria-label=${t('account.password')}>
      <h2>${t('account.password')}</h2>
      <form id="password-form" onSubmit=${change}>
        <${Field} id="pw-current" label=${t('account.current')}><input id="pw-current" name="current" type="password" required autocomplete="current-password" /><//>
        <${Field} id="pw-new" label=${t('account.new')}><input id="pw-new" name="password" type="password" required autocomplete="new-password" /><//>
        <${Field} id="pw-repeat" label=${t('setup.repeat')}><input id="pw-repeat" name="repeat" type="password" required autocomplete="new-password" /><//>
        <button type="submit" id="pw-submit">${t('account.submit')}</button>
      </form>
      ${ok && html`<${OkBox}>${ok}<//>`}
      ${error?.code === 'mismatch' ? html`<div class="message error" role="alert">${t('setup.mismatch')}</div>` : html`<${ErrorBox} error=${error} />`}
    </section>
    <section class="card" aria-label=${t('account.everywhere')}>
      <h2>${t('account.everywhere')}</h2>
      <p class="muted">${t('account.everywhereHint')}</p>
      <button type="button" class="danger" id="logout-all" onClick=${everywhere}>${t('account.everywhereButton')}</button>
    </section>`;
}
