// One Server-Sent Events stream (/api/live?status=true) feeds every live page: readings,
// each poll's device state, and a tick every TICK_MS with the overview figures. Nothing is
// fetched on a timer. No event for STALE_AFTER_TICKS ticks (a cut cable keeps the socket
// open but silent), or a broken stream, marks the view stale at once.
import { useEffect, useState } from './view.js';

export const TICK_MS = 2000;
export const STALE_AFTER_TICKS = 2;
/** How much of each point's history the charts keep in memory. */
const SERIES_MS = 3_600_000;

const store = {
  source: null,
  values: new Map(),
  devices: new Map(),
  series: new Map(),
  tick: null,
  skew: 0,
  lastEventAt: 0,
  connected: false,
  stale: true,
  /**
   * Just opened, nothing heard yet (a slow 4G link takes a moment): not yet "no connection".
   * Ends with the first event, a broken stream, or the same silence that marks a live view stale.
   * True before startLive too: the first render after a login comes before the effect that opens
   * the stream, and must not flash "no connection".
   */
  connecting: true,
  startedAt: 0,
  version: 0,
  listeners: new Set(),
  watchdog: null,
  now: () => performance.now(),
};

let scheduled = false;
/** Listeners hear at most once per 100 ms: a burst of readings is one re-render. */
function changed() {
  store.version++;
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => {
    scheduled = false;
    for (const fn of store.listeners) fn(store.version);
  }, 100);
}

function setStale(stale) {
  if (store.stale === stale) return;
  store.stale = stale;
  if (typeof document !== 'undefined') document.documentElement.dataset.stale = String(stale);
  changed();
}

function setConnecting(connecting) {
  if (store.connecting === connecting) return;
  store.connecting = connecting;
  changed();
}

function heard() {
  store.lastEventAt = store.now();
  setConnecting(false);
  setStale(false);
}

function appendSeries(point, ts, value) {
  const list = store.series.get(point);
  if (!list) return;
  if (list.length && list[list.length - 1][0] >= ts) return;
  list.push([ts, typeof value === 'boolean' ? Number(value) : typeof value === 'number' ? value : null]);
  const from = ts - SERIES_MS;
  while (list.length && list[0][0] < from) list.shift();
}

/**
 * Opens the stream. The seams are for the unit test (ui-lib.test.ts): a fake EventSource and a
 * clock that mock timers drive; the browser uses the real ones (performance.now: immune to the
 * laptop's clock being set).
 */
export function startLive({ EventSourceImpl = globalThis.EventSource, now = () => performance.now() } = {}) {
  if (store.source) return;
  store.now = now;
  store.startedAt = now();
  setConnecting(true);
  const source = new EventSourceImpl('/api/live?status=true');
  store.source = source;
  source.addEventListener('open', () => {
    store.connected = true;
  });
  source.addEventListener('error', () => {
    // The browser reconnects by itself (retry: 2000); until then the view is not live.
    store.connected = false;
    setConnecting(false);
    setStale(true);
  });
  source.addEventListener('hello', heard);
  source.addEventListener('reading', (e) => {
    const r = JSON.parse(e.data);
    store.values.set(r.point, r);
    appendSeries(r.point, r.ts, r.value);
    heard();
    changed();
  });
  source.addEventListener('device', (e) => {
    const d = JSON.parse(e.data);
    store.devices.set(d.deviceId, d);
    heard();
    changed();
  });
  source.addEventListener('tick', (e) => {
    store.tick = JSON.parse(e.data);
    store.skew = store.tick.now - Date.now();
    heard();
    changed();
  });
  store.watchdog = setInterval(() => {
    if (store.connecting && store.now() - store.startedAt > STALE_AFTER_TICKS * TICK_MS) setConnecting(false);
    if (!store.stale && store.now() - store.lastEventAt > STALE_AFTER_TICKS * TICK_MS) setStale(true);
  }, TICK_MS / 4);
}

export function stopLive() {
  store.source?.close();
  store.source = null;
  clearInterval(store.watchdog);
  store.values.clear();
  store.devices.clear();
  store.series.clear();
  store.tick = null;
  // The next startLive (after the next login) begins as "connecting" again.
  setConnecting(true);
  setStale(true);
}

export const liveValue = (point) => store.values.get(point);
export const liveDevice = (id) => store.devices.get(id);
export const liveTick = () => store.tick;
export const isStale = () => store.stale;
export const isConnecting = () => store.connecting;
/** What the pages show as "no connection": stale, but not while the stream is still opening. */
export const showStale = () => store.stale && !store.connecting;

/** Seeds a point's chart from the log once; later points come from the stream. */
export function seedSeries(point, points) {
  const live = store.series.get(point) ?? [];
  const first = live.length ? live[0][0] : Infinity;
  const merged = [...points.filter((p) => p[0] < first), ...live];
  // A value the stream brought before the log answered (a slow point's only reading so far).
  const current = store.values.get(point);
  if (current && (!merged.length || merged[merged.length - 1][0] < current.ts)) {
    merged.push([current.ts, typeof current.value === 'boolean' ? Number(current.value) : typeof current.value === 'number' ? current.value : null]);
  }
  store.series.set(point, merged);
}
export const series = (point) => store.series.get(point);
export const hasSeries = (point) => store.series.has(point);

/** Re-renders the calling component on every live change. */
export function useLive() {
  const [, setVersion] = useState(store.version);
  useEffect(() => {
    store.listeners.add(setVersion);
    return () => store.listeners.delete(setVersion);
  }, []);
  return store;
}

/** The box's wall clock as of now (ages are measured against it, not the laptop's clock). */
export const serverNow = () => Date.now() + (store.tick ? store.skew : 0);
