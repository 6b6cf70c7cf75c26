// The box panel: what an engineer checks before leaving the site.
import { html, useEffect, useState } from '../lib/view.js';
import { t, plural } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { Badge, Card, ErrorBox } from '../lib/components.js';
import { fmtBytes, fmtDuration, fmtTime } from '../lib/format.js';
import { ErrorText } from '../lib/device-errors.js';
import { drainText } from '../lib/drain-text.js';

const REFRESH_MS = 5000;

export function Box() {
  const [b, setB] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const load = () => api('GET', '/api/box').then((x) => (setB(x), setError(null)), setError);
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  if (!b) return html`<h1>${t('box.title')}</h1><${ErrorBox} error=${error} />`;
  const skewMs = b.now - Date.now();
  const clockOk = b.clock.state === 'ok';
  return html`<h1>${t('box.title')}</h1>
    <${ErrorBox} error=${error} />
    <div class="cards">
      <${Card} id="box-clock" label=${t('box.clock')} big=${fmtTime(b.now)} sub=${html`<${Badge} kind=${clockOk ? 'ok' : 'bad'}>${clockOk ? t('box.clockOk') : t('box.clockWrong')}<//> ${b.ntpSynchronized ? t('box.ntpSynced') : t('box.ntpNot')}${Math.abs(skewMs) > 5000 ? ` · ${t('box.skew', { d: fmtDuration(Math.abs(skewMs)) })}` : ''}`} />
      <${Card} id="box-uptime" label=${t('box.uptime')} big=${fmtDuration(b.uptimeMs)} sub=${t('box.osUptime', { d: fmtDuration(b.osUptimeMs) })} />
      <${Card} id="box-disk" label=${t('box.disk')} big=${b.disk ? fmtBytes(b.disk.freeBytes) : '—'} sub=${b.disk ? t('box.diskOf', { total: fmtBytes(b.disk.totalBytes), log: fmtBytes(b.backlog.fileBytes) }) : null} />
      <${Card} id="box-backlog" label=${t('box.backlog')} big=${plural('overview.readings', b.backlog.unsent)} sub=${[
        t('overview.oldestUnsent', { d: b.backlog.oldestUnsentAgeMs === null ? '—' : fmtDuration(b.backlog.oldestUnsentAgeMs) }),
        drainText(b.backlog),
      ].join(' · ')} />
      <${Card} id="box-uplink" label=${t('overview.uplink')} big=${b.uplink ? html`<${Badge} kind=${b.uplink.state}>${t(`uplink.state.${b.uplink.state}`)}<//>` : '—'} sub=${b.uplink ? html`${b.uplink.url}${b.uplink.lastError && html` · <${ErrorText} text=${b.uplink.lastError} />`}` : null} />
      <${Card} id="box-version" label=${t('system.version')} big=${b.version} sub=${`${t('system.ota')}: ${t(`ota.${b.ota.state}`) === `ota.${b.ota.state}` ? b.ota.state : t(`ota.${b.ota.state}`)}`} />
    </div>
    <section class="card" id="box-addresses" aria-label=${t('box.addresses')}>
      <h2>${t('box.addresses')}</h2>
      ${b.addresses.length === 0 ? html`<p class="muted">${t('box.noAddresses')}</p>` : html`<ul class="plain">${b.addresses.map((a) => html`<li><span class="mono">${a.address}</span> <span class="muted">${a.iface} · ${a.family}</span></li>`)}</ul>`}
    </section>`;
}
