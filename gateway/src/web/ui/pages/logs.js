import { html, useEffect, useState } from '../lib/view.js';
import { t, lang } from '../lib/i18n.js';
import { logSummary } from '../lib/log-text.js';
import { api } from '../lib/api.js';
import { ErrorBox } from '../lib/components.js';
import { fmtTime } from '../lib/format.js';

const LEVELS = ['debug', 'info', 'warn', 'error'];
const LEVEL_NUM = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const REFRESH_MS = 3000;
/** Records shown, newest first; each refresh asks only for those after the newest it has. */
const SHOWN = 300;

/**
 * The record in the UI language, by its event code (parameters put in) or its fixed text; the
 * original stays visible. One the message files do not know is shown in English, marked so.
 */
function Summary({ line }) {
  const translated = logSummary(line);
  if (translated === null) return html`<span lang="en">${line.msg}</span>${lang() !== 'en' && html` <span class="muted english-only">${t('logs.englishOnly')}</span>`}`;
  return html`<span class="log-summary">${translated}</span><div class="muted mono" lang="en">${line.msg}</div>`;
}

export function Logs() {
  const [level, setLevel] = useState('info');
  const [lines, setLines] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stop = false;
    let shown = [];
    let last = 0;
    setLines(null);
    const draw = () =>
      api('GET', `/api/logs?level=${level}&limit=${SHOWN}${last > 0 ? `&since=${last}` : ''}`).then(
        (fresh) => {
          if (stop) return;
          setError(null);
          // A record at or before the newest shown: the daemon restarted, its numbering began again.
          if (fresh.length > 0 && fresh[0].seq <= last) shown = [];
          if (fresh.length > 0) last = fresh[fresh.length - 1].seq;
          else if (shown.length > 0) return;
          shown = [...fresh.reverse(), ...shown].slice(0, SHOWN);
          setLines(shown);
        },
        (e) => !stop && setError(e),
      );
    draw();
    const timer = setInterval(draw, REFRESH_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [level]);
  return html`<h1>${t('logs.title')}</h1>
    <div class="field inline">
      <label for="log-level">${t('logs.minLevel')}</label>
      <select id="log-level" value=${level} onChange=${(e) => setLevel(e.currentTarget.value)}>${LEVELS.map((l) => html`<option value=${l}>${t(`logs.level.${l}`)}</option>`)}</select>
    </div>
    <${ErrorBox} error=${error} />
    <section class="card" aria-label=${t('logs.title')}>
      ${lines === null
        ? html`<p class="muted">${t('common.working')}</p>`
        : lines.length === 0
          ? html`<p class="muted">${t('logs.empty')}</p>`
          : html`<ol class="logs">${lines.map((l, i) => html`<li key=${l.seq} data-seq=${l.seq} class=${`lvl-${LEVEL_NUM[l.level]}`}>
              <div class="log-head"><span class="num">${fmtTime(l.time)}</span> <span class="level">${t(`logs.level.${l.level}`)}</span></div>
              <div class="log-msg"><${Summary} line=${l} /></div>
              ${Object.keys(l.context).length > 0 && html`<div class="context">${JSON.stringify(l.context)}</div>`}
            </li>`)}</ol>`}
    </section>`;
}
