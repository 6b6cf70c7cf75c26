// kedge local UI: hand-written ES module, no build step, no CDN (works offline on site).
// Every visible string comes from i18n/<lang>.json through t(); Russian is the default.

const LANGS = ['ru', 'en'];
const state = { lang: 'ru', messages: {}, csrf: null, user: null, timers: [], history: new Map() };

// ---------------------------------------------------------------------------------------
// i18n

async function loadLang(lang) {
  const res = await fetch(`/i18n/${lang}.json`);
  state.messages = await res.json();
  state.lang = lang;
  document.documentElement.lang = lang;
  localStorage.setItem('kedge.lang', lang);
}

function t(key, vars = {}) {
  const text = state.messages[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] === undefined ? '' : String(vars[name])));
}

function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}

// ---------------------------------------------------------------------------------------
// DOM and formatting helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const main = () => document.getElementById('main');

function fmtNumber(v, digits = 3) {
  if (typeof v !== 'number') return v === null || v === undefined ? '—' : String(v);
  if (Number.isInteger(v)) return v.toLocaleString(state.lang);
  return v.toLocaleString(state.lang, { maximumFractionDigits: digits });
}

function fmtBytes(n) {
  const units = ['unit.b', 'unit.kib', 'unit.mib', 'unit.gib'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${fmtNumber(Math.round(n * 10) / 10)} ${t(units[i])}`;
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d > 0) return t('time.dh', { d, h: hh });
  if (hh > 0) return t('time.hm', { h: hh, m: mm });
  if (mm > 0) return t('time.ms', { m: mm, s: s % 60 });
  return t('time.s', { s });
}

function fmtAgo(ts) {
  return ts ? t('time.ago', { d: fmtDuration(Date.now() - ts) }) : t('common.never');
}

function fmtTime(ts) {
  return ts ? new Date(ts).toLocaleString(state.lang) : '—';
}

function fmtValue(v) {
  if (typeof v === 'boolean') return t(v ? 'common.true' : 'common.false');
  return fmtNumber(v, 4);
}

function badge(cls, text) {
  return h('span', { class: `badge ${cls}` }, text);
}

function qualityBadge(q) {
  if (!q) return badge('', '—');
  const cls = q === 'good' ? 'good' : q === 'uncertain' ? 'uncertain' : 'bad';
  return badge(cls, t(`quality.${q}`));
}

function sparkline(points) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 160 32');
  svg.setAttribute('preserveAspectRatio', 'none');
  if (!points || points.length < 2) return svg;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = Math.min(...ys);
  const y1 = Math.max(...ys);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute(
    'points',
    points
      .map(([x, y]) => `${(((x - x0) / (x1 - x0 || 1)) * 158 + 1).toFixed(1)},${(31 - ((y - y0) / (y1 - y0 || 1)) * 30).toFixed(1)}`)
      .join(' '),
  );
  svg.append(line);
  return svg;
}

// ---------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.key = body.error || 'internal';
    this.issues = body.issues || [];
    this.retryAfterMs = body.retryAfterMs;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['x-csrf-token'] = state.csrf;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (res.status === 401 && !path.startsWith('/api/auth/')) {
    state.csrf = null;
    await showAuth();
    throw new ApiError(401, data || {});
  }
  if (!res.ok) throw new ApiError(res.status, data || {});
  return data;
}

/** The translated error with the server's field paths, for a message box. */
function errorBox(err) {
  const key = err instanceof ApiError ? `errors.${err.key}` : 'errors.internal';
  const title = t(key, { s: err.retryAfterMs ? Math.ceil(err.retryAfterMs / 1000) : '' });
  const box = h('div', { class: 'message error', role: 'alert' }, title);
  if (err instanceof ApiError && err.issues.length) {
    box.append(h('ul', {}, err.issues.map((i) => h('li', {}, h('span', { class: 'mono' }, i.path || '—'), ': ', i.message))));
  } else if (!(err instanceof ApiError) || err.key === 'internal' || err.key === 'validation' || err.key === 'config_apply_failed') {
    box.append(h('div', { class: 'mono' }, err.message));
  }
  return box;
}

function okBox(text) {
  return h('div', { class: 'message ok', role: 'status' }, text);
}

// ---------------------------------------------------------------------------------------
// Auth screens

async function showAuth() {
  stopTimers();
  const s = await api('GET', '/api/auth/state');
  state.csrf = s.csrfToken;
  state.user = s.user;
  if (s.user) return false;
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
  if (s.setupRequired) renderSetup(s.minPasswordLength);
  else renderLogin();
  return true;
}

function renderLogin() {
  const msg = h('div');
  const user = h('input', { name: 'user', autocomplete: 'username', required: true, value: 'admin' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        msg.replaceChildren();
        try {
          const r = await api('POST', '/api/auth/login', { user: user.value, password: password.value });
          state.csrf = r.csrfToken;
          state.user = r.user;
          await route();
        } catch (err) {
          msg.replaceChildren(errorBox(err));
        }
      },
    },
    h('label', {}, t('login.user')),
    user,
    h('label', {}, t('login.password')),
    password,
    h('button', { type: 'submit', id: 'login-submit' }, t('login.submit')),
  );
  main().replaceChildren(h('div', { class: 'card login' }, h('h1', {}, t('login.title')), form, msg));
}

function renderSetup(minLength) {
  const msg = h('div');
  const token = h('input', { name: 'token', required: true, autocomplete: 'off' });
  const user = h('input', { name: 'user', required: true, value: 'admin', autocomplete: 'username' });
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' });
  const repeat = h('input', { name: 'repeat', type: 'password', required: true, autocomplete: 'new-password' });
  const form = h(
    'form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        msg.replaceChildren();
        if (password.value !== repeat.value) return msg.replaceChildren(h('div', { class: 'message error' }, t('setup.mismatch')));
        try {
          const r = await api('POST', '/api/auth/setup', { token: token.value, user: user.value, password: password.value });
          state.csrf = r.csrfToken;
          state.user = r.user;
          await route();
        } catch (err) {
          msg.replaceChildren(errorBox(err));
        }
      },
    },
    h('p', { class: 'muted' }, t('setup.hint')),
    h('label', {}, t('setup.token')),
    token,
    h('label', {}, t('login.user')),
    user,
    h('label', {}, t('setup.password', { n: minLength })),
    password,
    h('label', {}, t('setup.repeat')),
    repeat,
    h('button', { type: 'submit', id: 'setup-submit' }, t('setup.submit')),
  );
  main().replaceChildren(h('div', { class: 'card login' }, h('h1', {}, t('setup.title')), form, msg));
}

// ---------------------------------------------------------------------------------------
// Router

const pages = { overview: renderOverview, devices: renderDevices, device: renderDeviceForm, uplink: renderUplink, logs: renderLogs, system: renderSystem };

function stopTimers() {
  for (const id of state.timers) clearInterval(id);
  state.timers = [];
}

function every(ms, fn) {
  state.timers.push(setInterval(fn, ms));
}

async function route() {
  stopTimers();
  if (!state.user && (await showAuth())) return;
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('who').textContent = state.user;
  const [page = 'overview', ...args] = location.hash.replace(/^#\/?/, '').split('/');
  const render = pages[page] ? page : 'overview';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === (render === 'device' ? 'devices' : render));
  document.title = `${t(`nav.${render === 'device' ? 'devices' : render}`)} — ${t('app.title')}`;
  try {
    await pages[render](...args.map(decodeURIComponent));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) main().replaceChildren(errorBox(err));
  }
}

// ---------------------------------------------------------------------------------------
// Overview

function card(label, big, sub, id) {
  return h('div', { class: 'card', id }, h('div', { class: 'label' }, label), h('div', { class: 'big' }, big), sub ? h('div', { class: 'sub' }, sub) : null);
}

async function renderOverview() {
  const draw = async () => {
    const s = await api('GET', '/api/status');
    const up = s.uplink;
    main().replaceChildren(
      h('h1', {}, t('overview.title')),
      h(
        'div',
        { class: 'cards' },
        card(t('overview.gateway'), s.gateway, [s.name, `${s.region} / ${s.municipality}`].filter(Boolean).join(' · '), 'ov-gateway'),
        card(t('overview.uptime'), fmtDuration(s.uptimeMs), t('overview.version', { v: s.version }), 'ov-uptime'),
        card(
          t('overview.uplink'),
          up ? badge(up.state, t(`uplink.state.${up.state}`)) : '—',
          up ? [up.url, up.lastError ? t('overview.lastError', { e: up.lastError }) : ''].filter(Boolean).join(' · ') : null,
          'ov-uplink',
        ),
        card(t('overview.logDepth'), t('overview.readings', { n: fmtNumber(s.log.rows) }), t('overview.bytes', { used: fmtBytes(s.log.usedBytes), file: fmtBytes(s.log.fileBytes) }), 'ov-log'),
        card(t('overview.unsent'), fmtNumber(s.log.unacked), t('overview.oldestUnsent', { d: s.oldestUnsentAgeMs === null ? '—' : fmtDuration(s.oldestUnsentAgeMs) }), 'ov-unsent'),
        card(t('overview.evicted'), fmtNumber(s.log.evictedTotal), t('overview.evictedHint'), 'ov-evicted'),
        card(t('overview.devices'), fmtNumber(s.devices.total), t('overview.failing', { n: s.devices.failing }), 'ov-devices'),
      ),
    );
  };
  await draw();
  every(2000, () => draw().catch(() => {}));
}

// ---------------------------------------------------------------------------------------
// Devices

async function loadHistory(devices) {
  const now = Date.now();
  await Promise.all(
    devices.map(async (d) => {
      const cached = state.history.get(d.id);
      if (cached && now - cached.at < 10_000) return;
      try {
        state.history.set(d.id, { at: now, data: await api('GET', `/api/devices/${encodeURIComponent(d.id)}/history`) });
      } catch {
        // A chart is a nicety; the live values matter more.
      }
    }),
  );
}

function deviceStatus(d) {
  if (!d.enabled) return badge('', t('devices.disabled'));
  if (!d.state || d.state.polls === 0) return badge('warn', t('devices.waiting'));
  return d.state.consecutiveFailures > 0 ? badge('bad', t('devices.failing')) : badge('ok', t('devices.ok'));
}

function deviceCard(d) {
  const history = state.history.get(d.id)?.data || {};
  const st = d.state;
  return h(
    'div',
    { class: 'card', 'data-device': d.id },
    h(
      'div',
      { class: 'device-head' },
      h('h2', {}, d.name || d.id),
      h('span', { class: 'mono muted' }, d.id),
      deviceStatus(d),
      h('span', { class: 'muted' }, d.address),
      h('span', { class: 'spacer' }),
      h('button', { class: 'secondary', type: 'button', onclick: () => (location.hash = `#/device/${encodeURIComponent(d.id)}`) }, t('common.edit')),
      h(
        'button',
        {
          class: 'danger',
          type: 'button',
          onclick: async () => {
            if (!confirm(t('devices.confirmDelete', { id: d.id }))) return;
            await api('DELETE', `/api/devices/${encodeURIComponent(d.id)}`);
            await route();
          },
        },
        t('common.delete'),
      ),
    ),
    h(
      'div',
      { class: 'row muted' },
      t('devices.lastPoll', { when: st ? fmtAgo(st.lastPollAt) : t('common.never') }),
      ' · ',
      t('devices.errors', { n: st ? st.failures : 0, polls: st ? st.polls : 0 }),
      st && st.lastError ? h('span', { class: 'mono' }, ` · ${st.lastError}`) : null,
    ),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', {}, t('devices.point')), h('th', {}, t('devices.value')), h('th', {}, t('devices.quality')), h('th', {}, t('devices.lastHour')))),
      h(
        'tbody',
        {},
        d.points.map((p) =>
          h(
            'tr',
            { 'data-point': p.id },
            h('td', {}, p.name || p.id, p.name ? h('div', { class: 'mono muted' }, p.id) : null),
            h('td', { class: 'num value' }, fmtValue(p.value), p.unit ? ` ${p.unit}` : ''),
            h('td', {}, qualityBadge(p.quality), p.error ? h('div', { class: 'muted mono' }, p.error) : null),
            h('td', {}, sparkline(history[p.id])),
          ),
        ),
      ),
    ),
  );
}

async function renderDevices() {
  const draw = async () => {
    const devices = await api('GET', '/api/devices');
    await loadHistory(devices);
    main().replaceChildren(
      h(
        'div',
        { class: 'row' },
        h('h1', {}, t('devices.title')),
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', id: 'add-device', onclick: () => (location.hash = '#/device') }, t('devices.add')),
      ),
      ...(devices.length ? devices.map(deviceCard) : [h('p', { class: 'muted' }, t('devices.none'))]),
    );
  };
  await draw();
  every(2000, () => draw().catch(() => {}));
}

// ---------------------------------------------------------------------------------------
// Device form (add / edit) with test read

const TABLES = ['holding', 'input', 'coil', 'discrete'];
const TYPES = ['uint16', 'int16', 'uint32', 'int32', 'float32', 'uint64', 'int64', 'float64', 'bit', 'bool', 'string'];
const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

function select(name, options, value) {
  return h('select', { name }, options.map((o) => h('option', { value: o, selected: o === value }, o)));
}

function pointRow(p, onRemove) {
  const row = h(
    'tr',
    { class: 'point-row' },
    h('td', {}, h('input', { name: 'id', value: p.id ?? '', class: 'short', required: true })),
    h('td', {}, h('input', { name: 'name', value: p.name ?? '' })),
    h('td', {}, select('table', TABLES, p.table ?? 'holding')),
    h('td', {}, h('input', { name: 'address', type: 'number', value: p.address ?? 0, class: 'short' })),
    h('td', {}, select('type', TYPES, p.type ?? 'uint16')),
    h('td', {}, select('order', ORDERS, p.order ?? 'ABCD')),
    h('td', {}, h('input', { name: 'bit', type: 'number', value: p.bit ?? '', class: 'short' })),
    h('td', {}, h('input', { name: 'length', type: 'number', value: p.length ?? '', class: 'short' })),
    h('td', {}, h('input', { name: 'scale', type: 'number', step: 'any', value: p.scale ?? '', class: 'short' })),
    h('td', {}, h('input', { name: 'unit', value: p.unit ?? '', class: 'short' })),
    h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: onRemove }, '×')),
  );
  row.original = p;
  return row;
}

/** The device as the config file will hold it; fields the form does not show are kept from the original. */
function readDeviceForm(form, rows, original) {
  const v = (name) => form.elements[name].value.trim();
  const num = (text) => (text === '' ? undefined : Number(text));
  const device = { ...original, id: v('id'), driver: original.driver || 'modbus-tcp', host: v('host'), port: num(v('port')), unitId: num(v('unitId')), addressBase: num(v('addressBase')), intervalMs: num(v('intervalMs')) };
  if (v('name')) device.name = v('name');
  else delete device.name;
  device.points = [...rows.querySelectorAll('tr.point-row')].map((row) => {
    const get = (name) => row.querySelector(`[name="${name}"]`).value.trim();
    const p = { ...row.original, id: get('id'), table: get('table'), address: num(get('address')), type: get('type') };
    const optional = { name: get('name'), order: get('order'), bit: num(get('bit')), length: num(get('length')), scale: num(get('scale')), unit: get('unit') };
    for (const [k, val] of Object.entries(optional)) {
      if (val === undefined || val === '') delete p[k];
      else p[k] = val;
    }
    // Single bits and single registers have no word order; the schema would accept it, but the file stays tidier.
    if (['bool', 'bit', 'int16', 'uint16'].includes(p.type) && p.order === 'ABCD') delete p.order;
    return p;
  });
  return device;
}

function testReadTable(result) {
  return h(
    'table',
    { id: 'test-read-result' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, t('devices.point')), h('th', {}, t('testRead.raw')), h('th', {}, t('testRead.value')), result.orders.map((o) => h('th', {}, o)), h('th', {}, t('devices.quality'))),
    ),
    h(
      'tbody',
      {},
      result.points.map((p) =>
        h(
          'tr',
          { 'data-point': p.point },
          h('td', {}, p.name || p.point, h('div', { class: 'mono muted' }, `${p.type}${p.orders ? ` · ${p.order}` : ''}`)),
          h('td', { class: 'mono' }, p.raw ? p.raw.map((w) => (typeof w === 'number' ? `0x${w.toString(16).padStart(4, '0')}` : String(w))).join(' ') : '—'),
          h('td', { class: 'num' }, fmtValue(p.scaled), p.unit ? ` ${p.unit}` : ''),
          result.orders.map((o) => h('td', { class: `num${p.orders && o === p.order ? ' chosen' : ''}` }, p.orders ? fmtValue(p.orders[o]) : '—')),
          h('td', {}, qualityBadge(p.quality), p.error ? h('div', { class: 'muted mono' }, p.error) : null),
        ),
      ),
    ),
  );
}

async function renderDeviceForm(id) {
  const devices = await api('GET', '/api/devices');
  const existing = id ? devices.find((d) => d.id === id) : null;
  let original = existing?.config ?? { driver: 'modbus-tcp', host: '127.0.0.1', port: 502, unitId: 1, points: [{ id: 'value', table: 'holding', address: 0, type: 'uint16' }] };
  const msg = h('div', { id: 'form-message' });
  const results = h('div');
  const tbody = h('tbody');
  const form = h('form', { id: 'device-form', onsubmit: (e) => e.preventDefault() });

  const fill = (dev) => {
    original = dev;
    form.replaceChildren(
      h(
        'div',
        { class: 'grid-fields' },
        h(
          'div',
          { class: 'grid' },
          h('label', {}, t('device.id')),
          h('input', { name: 'id', value: dev.id ?? '', required: true }),
          h('label', {}, t('device.name')),
          h('input', { name: 'name', value: dev.name ?? '' }),
          h('label', {}, t('device.host')),
          h('input', { name: 'host', value: dev.host ?? '' }),
          h('label', {}, t('device.port')),
          h('input', { name: 'port', type: 'number', value: dev.port ?? 502 }),
          h('label', {}, t('device.unitId')),
          h('input', { name: 'unitId', type: 'number', value: dev.unitId ?? 1 }),
          h('label', {}, t('device.addressBase')),
          h('select', { name: 'addressBase' }, [0, 1].map((b) => h('option', { value: b, selected: (dev.addressBase ?? 0) === b }, t(`device.addressBase${b}`)))),
          h('label', {}, t('device.intervalMs')),
          h('input', { name: 'intervalMs', type: 'number', value: dev.intervalMs ?? 1000 }),
        ),
      ),
    );
    tbody.replaceChildren(...(dev.points ?? []).map(addRow));
  };
  const addRow = (p) => {
    const row = pointRow(p, () => row.remove());
    return row;
  };

  const profileBox = h('div', { class: 'row' });
  if (!existing) {
    const profiles = await api('GET', '/api/profiles');
    const pick = h('select', { id: 'profile' }, h('option', { value: '' }, t('device.noProfile')), profiles.filter((p) => !p.error).map((p) => h('option', { value: p.name }, `${p.vendor} ${p.model} (${p.name})`)));
    pick.addEventListener('change', async () => {
      if (!pick.value) return;
      const dev = await api('GET', `/api/profiles/${pick.value}/device?lang=${state.lang}`);
      // The connection the engineer already typed stays; the profile brings the register map.
      const typed = readDeviceForm(form, tbody, original);
      fill({ ...dev, host: typed.host || dev.host, port: typed.port ?? dev.port });
    });
    profileBox.append(h('label', {}, t('device.profile')), pick);
  }

  const run = async (button, fn) => {
    button.disabled = true;
    msg.replaceChildren();
    try {
      await fn();
    } catch (err) {
      msg.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  const testButton = h('button', { type: 'button', class: 'secondary', id: 'test-read' }, t('device.testRead'));
  testButton.addEventListener('click', () =>
    run(testButton, async () => {
      results.replaceChildren(h('p', { class: 'muted' }, t('common.working')));
      try {
        const r = await api('POST', '/api/devices/test-read', readDeviceForm(form, tbody, original));
        results.replaceChildren(h('h2', {}, t('testRead.title')), h('p', { class: 'muted' }, t('testRead.hint')), testReadTable(r));
      } catch (err) {
        results.replaceChildren();
        throw err;
      }
    }),
  );
  const saveButton = h('button', { type: 'button', id: 'save-device' }, t('common.save'));
  saveButton.addEventListener('click', () =>
    run(saveButton, async () => {
      const dev = readDeviceForm(form, tbody, original);
      await api('PUT', `/api/devices/${encodeURIComponent(existing ? existing.id : dev.id || '-')}`, dev);
      state.history.delete(dev.id);
      location.hash = '#/devices';
    }),
  );

  fill(original);
  main().replaceChildren(
    h('h1', {}, existing ? t('device.editTitle', { id: existing.id }) : t('device.addTitle')),
    h('div', { class: 'card' }, profileBox, form),
    h(
      'div',
      { class: 'card' },
      h('h2', {}, t('device.points')),
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h('tr', {}, ['id', 'name', 'table', 'address', 'type', 'order', 'bit', 'length', 'scale', 'unit'].map((k) => h('th', {}, t(`point.${k}`))), h('th')),
        ),
        tbody,
      ),
      h('button', { type: 'button', class: 'secondary', onclick: () => tbody.append(addRow({ id: '', table: 'holding', address: 0, type: 'uint16' })) }, t('device.addPoint')),
    ),
    h('div', { class: 'row' }, testButton, saveButton, h('button', { type: 'button', class: 'secondary', onclick: () => (location.hash = '#/devices') }, t('common.cancel'))),
    msg,
    results,
  );
}

// ---------------------------------------------------------------------------------------
// Uplink

async function renderUplink() {
  const u = await api('GET', '/api/uplink');
  const msg = h('div', { id: 'uplink-message' });
  const field = (name, value, attrs = {}) => h('input', { name, value: value ?? '', ...attrs });
  const url = field('url', u.url, { size: 50 });
  const clientId = field('clientId', u.clientId);
  const username = field('username', u.username, { autocomplete: 'off' });
  const password = field('password', '', { type: 'password', autocomplete: 'new-password', placeholder: u.hasPassword ? t('uplink.passwordKept') : '' });
  const tls = u.tls || {};
  const paths = { ca: field('ca', tls.ca, { size: 50 }), cert: field('cert', tls.cert, { size: 50 }), key: field('key', tls.key, { size: 50 }) };
  const reject = h('input', { type: 'checkbox', name: 'rejectUnauthorized', checked: tls.rejectUnauthorized !== false });

  const upload = (kind) =>
    h('input', {
      type: 'file',
      accept: '.pem,.crt,.key,.cer',
      onchange: async (e) => {
        const file = e.target.files[0];
        if (!file) return;
        try {
          const r = await api('POST', `/api/uplink/tls/${kind}`, { pem: await file.text() });
          paths[kind].value = r.path;
          msg.replaceChildren(okBox(t('uplink.uploaded', { kind: t(`uplink.${kind}`) })));
        } catch (err) {
          msg.replaceChildren(errorBox(err));
        }
      },
    });

  const body = () => {
    const b = { url: url.value.trim(), clientId: clientId.value.trim(), username: username.value.trim() };
    if (password.value) b.password = password.value;
    const anyTls = Object.values(paths).some((p) => p.value.trim()) || !reject.checked;
    b.tls = anyTls ? { ca: paths.ca.value.trim(), cert: paths.cert.value.trim(), key: paths.key.value.trim(), rejectUnauthorized: reject.checked } : null;
    return b;
  };
  const testButton = h('button', { type: 'button', class: 'secondary', id: 'uplink-test' }, t('uplink.test'));
  testButton.addEventListener('click', async () => {
    testButton.disabled = true;
    msg.replaceChildren(h('p', { class: 'muted' }, t('common.working')));
    try {
      const r = await api('POST', '/api/uplink/test', body());
      msg.replaceChildren(r.ok ? okBox(t('uplink.testOk', { ms: r.ms })) : h('div', { class: 'message error' }, t('uplink.testFailed', { e: r.error })));
    } catch (err) {
      msg.replaceChildren(errorBox(err));
    } finally {
      testButton.disabled = false;
    }
  });
  const saveButton = h('button', { type: 'button', id: 'uplink-save' }, t('common.save'));
  saveButton.addEventListener('click', async () => {
    msg.replaceChildren();
    try {
      await api('PUT', '/api/uplink', body());
      msg.replaceChildren(okBox(t('common.saved')));
    } catch (err) {
      msg.replaceChildren(errorBox(err));
    }
  });

  const st = u.status;
  main().replaceChildren(
    h('h1', {}, t('uplink.title')),
    h(
      'div',
      { class: 'card' },
      h('div', { class: 'row' }, t('uplink.current'), st ? badge(st.state, t(`uplink.state.${st.state}`)) : '—', st && st.lastError ? h('span', { class: 'mono muted' }, st.lastError) : null),
      st ? h('div', { class: 'muted' }, t('uplink.acked', { n: fmtNumber(st.readingsAcked), r: fmtNumber(st.reconnects) })) : null,
    ),
    h(
      'div',
      { class: 'card' },
      h(
        'form',
        { class: 'grid', onsubmit: (e) => e.preventDefault() },
        h('label', {}, t('uplink.url')),
        url,
        h('label', {}, t('uplink.clientId')),
        clientId,
        h('label', {}, t('uplink.username')),
        username,
        h('label', {}, t('uplink.password')),
        password,
        h('label', {}, t('uplink.ca')),
        h('div', { class: 'row' }, paths.ca, upload('ca')),
        h('label', {}, t('uplink.cert')),
        h('div', { class: 'row' }, paths.cert, upload('cert')),
        h('label', {}, t('uplink.key')),
        h('div', { class: 'row' }, paths.key, upload('key')),
        h('label', {}, t('uplink.rejectUnauthorized')),
        reject,
      ),
      h('div', { class: 'row' }, testButton, saveButton),
      msg,
    ),
  );
}

// ---------------------------------------------------------------------------------------
// Logs

async function renderLogs() {
  const level = h('select', { id: 'log-level' }, ['debug', 'info', 'warn', 'error'].map((l) => h('option', { value: l, selected: l === 'info' }, t(`logs.level.${l}`))));
  const table = h('table', { class: 'logs' });
  const draw = async () => {
    const lines = await api('GET', `/api/logs?level=${level.value}&limit=300`);
    table.replaceChildren(
      h('thead', {}, h('tr', {}, h('th', {}, t('logs.time')), h('th', {}, t('logs.levelColumn')), h('th', {}, t('logs.message')), h('th', {}, t('logs.context')))),
      h(
        'tbody',
        {},
        lines.length === 0
          ? h('tr', {}, h('td', { colspan: 4, class: 'muted' }, t('logs.empty')))
          : lines.reverse().map((l) =>
              h(
                'tr',
                {},
                h('td', { class: 'num' }, fmtTime(l.time)),
                h('td', { class: `lvl-${{ trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }[l.level]}` }, t(`logs.level.${l.level}`)),
                h('td', {}, l.msg),
                h('td', { class: 'context' }, Object.keys(l.context).length ? JSON.stringify(l.context) : ''),
              ),
            ),
      ),
    );
  };
  level.addEventListener('change', () => draw().catch(() => {}));
  main().replaceChildren(h('h1', {}, t('logs.title')), h('div', { class: 'row' }, h('label', {}, t('logs.minLevel')), level), h('div', { class: 'card' }, table));
  await draw();
  every(3000, () => draw().catch(() => {}));
}

// ---------------------------------------------------------------------------------------
// System

async function renderSystem() {
  const [s, cfg] = await Promise.all([api('GET', '/api/system'), api('GET', '/api/config')]);
  const msg = h('div', { id: 'config-message' });
  const editor = h('textarea', { id: 'config-text', rows: 22, spellcheck: 'false' });
  editor.value = cfg.text;
  const save = h('button', { type: 'button', id: 'config-save' }, t('system.saveConfig'));
  save.addEventListener('click', async () => {
    msg.replaceChildren();
    try {
      await api('PUT', '/api/config', { text: editor.value });
      msg.replaceChildren(okBox(t('system.configApplied')));
    } catch (err) {
      msg.replaceChildren(errorBox(err));
    }
  });
  const restart = h('button', { type: 'button', class: 'danger', id: 'restart', disabled: !s.canRestart }, t('system.restart'));
  restart.addEventListener('click', async () => {
    if (!confirm(t('system.confirmRestart'))) return;
    await api('POST', '/api/system/restart');
    main().replaceChildren(okBox(t('system.restarting')));
  });
  const ota = s.ota || { state: 'not_configured' };
  main().replaceChildren(
    h('h1', {}, t('system.title')),
    h(
      'div',
      { class: 'cards' },
      card(t('system.version'), s.version, `${t('system.node')} ${s.node} · ${s.platform}`, 'sys-version'),
      card(t('system.uptime'), fmtDuration(s.uptimeMs), t('system.rss', { m: fmtBytes(s.rssBytes) }), 'sys-uptime'),
      card(t('system.ota'), t(`ota.${ota.state}`) === `ota.${ota.state}` ? ota.state : t(`ota.${ota.state}`), ota.version ? t('system.otaVersion', { v: ota.version }) : null, 'sys-ota'),
    ),
    h('div', { class: 'card' }, h('p', { class: 'muted' }, t('system.restartHint')), restart),
    h('div', { class: 'card' }, h('h2', {}, t('system.config')), h('p', { class: 'muted mono' }, cfg.path), editor, h('div', { class: 'row' }, save), msg),
  );
}

// ---------------------------------------------------------------------------------------
// Start

async function start() {
  const saved = localStorage.getItem('kedge.lang');
  await loadLang(LANGS.includes(saved) ? saved : 'ru');
  applyI18n();
  document.getElementById('lang').addEventListener('click', async () => {
    await loadLang(state.lang === 'ru' ? 'en' : 'ru');
    applyI18n();
    if (state.user) await route();
    else await showAuth();
  });
  document.getElementById('logout').addEventListener('click', async () => {
    await api('POST', '/api/auth/logout').catch(() => {});
    state.user = null;
    state.csrf = null;
    await showAuth();
  });
  window.addEventListener('hashchange', () => route());
  await route();
}

start();
