import { html, useEffect, useState } from '../lib/view.js';
import { t, plural } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { useLive } from '../lib/live.js';
import { Badge, Card, ErrorBox } from '../lib/components.js';
import { fmtBytes, fmtDuration } from '../lib/format.js';
import { ErrorText } from '../lib/device-errors.js';

/** Identity once; the figures from the live stream's ticks. */
export function Overview() {
  const live = useLive();
  const [s, setS] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('GET', '/api/status').then(setS, setError);
  }, []);
  if (error) return html`<h1>${t('overview.title')}</h1><${ErrorBox} error=${error} />`;
  if (!s) return html`<h1>${t('overview.title')}</h1><p class="muted">${t('common.working')}</p>`;
  const tick = live.tick ?? { uptimeMs: s.uptimeMs, uplink: s.uplink, log: s.log, oldestUnsentAgeMs: s.oldestUnsentAgeMs, devices: s.devices };
  const up = tick.uplink;
  return html`<h1>${t('overview.title')}</h1>
    <div class="cards">
      <${Card} id="ov-gateway" label=${t('overview.gateway')} big=${s.gateway} sub=${[s.name, `${s.region} / ${s.municipality}`].filter(Boolean).join(' · ')} />
      <${Card} id="ov-uptime" label=${t('overview.uptime')} big=${fmtDuration(tick.uptimeMs)} sub=${t('overview.version', { v: s.version })} />
      <${Card} id="ov-uplink" label=${t('overview.uplink')} big=${up ? html`<${Badge} kind=${up.state}>${t(`uplink.state.${up.state}`)}<//>` : '—'} sub=${up?.lastError ? html`${t('overview.lastErrorLabel')} <${ErrorText} text=${up.lastError} />` : s.uplink?.url} />
      <${Card} id="ov-log" label=${t('overview.logDepth')} big=${plural('overview.readings', tick.log.rows)} sub=${t('overview.bytes', { used: fmtBytes(tick.log.usedBytes), file: fmtBytes(tick.log.fileBytes) })} />
      <${Card} id="ov-unsent" label=${t('overview.unsent')} big=${plural('overview.readings', tick.log.unacked)} sub=${t('overview.oldestUnsent', { d: tick.oldestUnsentAgeMs === null ? '—' : fmtDuration(tick.oldestUnsentAgeMs) })} />
      <${Card} id="ov-evicted" label=${t('overview.evicted')} big=${plural('overview.readings', tick.log.evictedTotal)} sub=${t('overview.evictedHint')} />
      <${Card} id="ov-devices" label=${t('overview.devices')} big=${tick.devices.total.toLocaleString()} sub=${plural('overview.failing', tick.devices.failing)} />
    </div>`;
}
