// kedge local UI: preact + htm served from the box (no CDN, no build step); one module per page.
import { html, render, useEffect, useState } from './lib/view.js';
import { LANGS, loadLang, t, lang } from './lib/i18n.js';
import { api, onUnauthorized, setCsrf } from './lib/api.js';
import { startLive, stopLive, useLive } from './lib/live.js';
import { StaleBanner } from './lib/components.js';
import { Login, Setup } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { Devices } from './pages/devices.js';
import { DeviceForm } from './pages/device-form.js';
import { Registers } from './pages/registers.js';
import { Traffic } from './pages/traffic.js';
import { Uplink } from './pages/uplink.js';
import { Logs } from './pages/logs.js';
import { System } from './pages/system.js';
import { Box } from './pages/box.js';
import { Account } from './pages/account.js';

const NAV = ['overview', 'devices', 'box', 'uplink', 'logs', 'system', 'account'];
const PAGES = { overview: Overview, devices: Devices, device: DeviceForm, registers: Registers, traffic: Traffic, uplink: Uplink, logs: Logs, system: System, box: Box, account: Account };
/** Pages that live off the stream show the stale banner. */
const LIVE_PAGES = new Set(['overview', 'devices', 'traffic', 'box']);

function parseHash() {
  const [page = 'overview', ...args] = location.hash.replace(/^#\/?/, '').split('/');
  return { page: PAGES[page] ? page : 'overview', args: args.map(decodeURIComponent) };
}

function Header({ auth, route, onLang, onLogout }) {
  const live = useLive();
  const section = route.page === 'device' || route.page === 'registers' || route.page === 'traffic' ? 'devices' : route.page;
  return html`<header id="top">
    <span class="brand">${t('app.brand')}</span>
    ${auth.user &&
    html`<nav id="nav" aria-label=${t('nav.label')}>
      ${NAV.map((p) => html`<a href=${`#/${p}`} data-page=${p} class=${section === p ? 'active' : ''} aria-current=${section === p ? 'page' : undefined}>${t(`nav.${p}`)}</a>`)}
    </nav>`}
    <span class="spacer"></span>
    ${auth.user &&
    html`<span id="live-state" class=${live.connecting ? 'badge' : live.stale ? 'badge bad' : 'badge ok'} aria-live="polite">${live.connecting ? t('live.connecting') : live.stale ? t('live.staleShort') : t('live.on')}</span>`}
    ${auth.user && html`<span id="who">${auth.user}</span>`}
    <button id="lang" type="button" class="link" onClick=${onLang}>${t('lang.switch')}</button>
    ${auth.user && html`<button id="logout" type="button" class="link" onClick=${onLogout}>${t('nav.logout')}</button>`}
  </header>`;
}

function App() {
  const [auth, setAuth] = useState(null);
  const [route, setRoute] = useState(parseHash());
  const [, setLangVersion] = useState(0);

  const refreshAuth = async () => {
    const s = await api('GET', '/api/auth/state');
    setCsrf(s.csrfToken);
    setAuth(s);
  };
  useEffect(() => {
    onUnauthorized(() => {
      stopLive();
      refreshAuth();
    });
    refreshAuth();
    const onHash = () => setRoute(parseHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (auth?.user) startLive();
    else stopLive();
  }, [auth?.user]);
  useEffect(() => {
    const section = route.page === 'device' ? 'devices' : route.page;
    document.title = `${t(`nav.${section}`) === `nav.${section}` ? t('nav.devices') : t(`nav.${section}`)} — ${t('app.title')}`;
  });

  const onLang = async () => {
    await loadLang(lang() === 'ru' ? 'en' : 'ru');
    setLangVersion((v) => v + 1);
  };
  const onLogout = async () => {
    await api('POST', '/api/auth/logout').catch(() => {});
    setCsrf(null);
    stopLive();
    await refreshAuth();
  };
  const loggedIn = (r) => {
    setCsrf(r.csrfToken);
    setAuth({ setupRequired: false, user: r.user, csrfToken: r.csrfToken });
  };

  let body;
  if (!auth) body = html`<p class="muted">${t('common.working')}</p>`;
  else if (auth.setupRequired) body = html`<${Setup} minLength=${auth.minPasswordLength} onDone=${loggedIn} />`;
  else if (!auth.user) body = html`<${Login} onDone=${loggedIn} />`;
  else {
    const Page = PAGES[route.page];
    body = html`${LIVE_PAGES.has(route.page) && html`<${StaleBanner} />`}<${Page} key=${`${route.page}/${route.args.join('/')}/${lang()}`} args=${route.args} user=${auth.user} onLoggedOut=${onLogout} />`;
  }
  return html`<${Header} auth=${auth || {}} route=${route} onLang=${onLang} onLogout=${onLogout} /><main id="main">${body}</main>`;
}

const saved = localStorage.getItem('kedge.lang');
await loadLang(LANGS.includes(saved) ? saved : 'ru');
render(html`<${App} />`, document.getElementById('app'));
