// Version, OTA, restart, and the config file: edit, check, apply; export and import with a
// diff preview that is validated before anything is applied.
import { html, useEffect, useState } from '../lib/view.js';
import { t, plural, lang } from '../lib/i18n.js';
import { api } from '../lib/api.js';
import { Badge, Card, ErrorBox, OkBox } from '../lib/components.js';
import { fmtBytes, fmtDuration, fmtTime } from '../lib/format.js';
import { diffLines, hunks, MAX_EDITS } from '../lib/diff.js';

/** Changes shown, newest first (the service keeps more). */
const HISTORY_SHOWN = 50;
const OUTCOME_KIND = { applied: 'ok', refused: 'warn', failed: 'bad' };

/**
 * Who changed the config, how and when (config/config-service.ts). The service keeps only
 * hashes of the file before and after (the text may hold secrets), so there is no diff per
 * change: the short hash shows which changes follow one another.
 */
function History({ changes }) {
  const shown = changes.slice(-HISTORY_SHOWN).reverse();
  return html`<section class="card" id="config-history" aria-label=${t('system.history')}>
    <h2>${t('system.history')}</h2>
    ${shown.length === 0
      ? html`<p class="muted">${t('system.historyEmpty')}</p>`
      : html`<div class="scroll-x stack-narrow"><table id="history-table">
          <thead><tr><th>${t('system.historyWhen')}</th><th>${t('system.historyWho')}</th><th>${t('system.historyWhat')}</th><th>${t('system.historyOutcome')}</th></tr></thead>
          <tbody>${shown.map((c) => html`<tr data-outcome=${c.outcome}>
            <td class="num" data-label=${t('system.historyWhen')}>${fmtTime(Date.parse(c.at))}</td>
            <td data-label=${t('system.historyWho')}>${c.actor ?? t('system.historyNobody')} <span class="muted">${t(`system.historySource.${c.source}`)}</span></td>
            <td data-label=${t('system.historyWhat')}><span class="mono">${c.what}</span>${c.error && html`<div class="small muted mono answer-text" lang="en">${c.error}</div>`}</td>
            <td data-label=${t('system.historyOutcome')}><${Badge} kind=${OUTCOME_KIND[c.outcome]}>${t(`system.historyOutcome.${c.outcome}`)}<//> <span class="muted mono" title=${t('system.historyHash')}>${c.before.slice(0, 7)}→${c.after.slice(0, 7)}</span></td>
          </tr>`)}</tbody>
        </table></div>`}
  </section>`;
}

function Diff({ before, after }) {
  const d = diffLines(before, after);
  // Past MAX_EDITS changed lines a diff says nothing a person can check: the whole new file instead.
  if (d === null) {
    return html`<div id="import-diff">
      <p class="message" id="diff-too-different">${t('system.tooDifferent', { max: MAX_EDITS.toLocaleString(lang()) })}</p>
      <pre class="diff" aria-label=${t('system.newFile')}>${after}</pre>
    </div>`;
  }
  const shown = hunks(d);
  const added = d.filter((x) => x.op === '+').length;
  const removed = d.filter((x) => x.op === '-').length;
  return html`<div id="import-diff">
    <p>${t('system.diffSummary', { added: plural('system.lines', added), removed: plural('system.lines', removed) })}</p>
    <pre class="diff" aria-label=${t('system.diff')}>${shown.map((x) => html`<div class=${x.op === '+' ? 'add' : x.op === '-' ? 'del' : ''}>${x.op} ${x.line}</div>`)}</pre>
  </div>`;
}

export function System() {
  const [s, setS] = useState(null);
  const [cfg, setCfg] = useState(null);
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [ok, setOk] = useState(null);
  const [imported, setImported] = useState(null);
  const [restarting, setRestarting] = useState(false);
  const [history, setHistory] = useState(null);
  const load = async () => {
    const [sys, c, h] = await Promise.all([api('GET', '/api/system'), api('GET', '/api/config'), api('GET', '/api/config/history')]);
    setS(sys);
    setCfg(c);
    setText(c.text);
    setHistory(h.changes);
  };
  useEffect(() => {
    load().catch(setError);
  }, []);
  if (!s || !cfg) return html`<h1>${t('system.title')}</h1><${ErrorBox} error=${error} />`;
  const act = async (fn) => {
    setError(null);
    setOk(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    }
  };
  const apply = (body) =>
    act(async () => {
      await api('PUT', '/api/config', { text: body });
      setOk(t('system.configApplied'));
      setImported(null);
      await load();
    });
  const applyImported = async () => {
    setError(null);
    setOk(null);
    try {
      await api('PUT', '/api/config', { text: imported.text });
      setOk(t('system.configApplied'));
      setImported(null);
      await load();
    } catch (err) {
      // The problems are the uploaded file's (its line numbers): shown in its preview, not under the editor.
      setImported({ ...imported, checked: false, error: err });
    }
  };
  const check = () =>
    act(async () => {
      const r = await api('POST', '/api/config/check', { text });
      setOk(t('system.configValid', { devices: plural('system.devices', r.devices) }));
    });
  const exportFile = () => {
    const url = URL.createObjectURL(new Blob([cfg.text], { type: 'application/yaml' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = cfg.path.split('/').pop() || 'kedge.yaml';
    a.click();
    URL.revokeObjectURL(url);
  };
  const importFile = (e) => {
    const file = e.currentTarget.files[0];
    if (!file) return;
    setError(null);
    setOk(null);
    (async () => {
      const body = await file.text();
      setImported({ name: file.name, text: body, checked: null, error: null });
      try {
        setImported({ name: file.name, text: body, checked: await api('POST', '/api/config/check', { text: body }), error: null });
      } catch (err) {
        // The problems are the uploaded file's: shown in its preview, lines of that file.
        setImported({ name: file.name, text: body, checked: false, error: err });
      }
    })();
  };
  const restart = () =>
    act(async () => {
      if (!confirm(t('system.confirmRestart'))) return;
      await api('POST', '/api/system/restart');
      setRestarting(true);
    });
  // "line 20" in a problem selects that line in the editor (the text the problem is about).
  const showLine = (line) => {
    const el = document.getElementById('config-text');
    const lines = el.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(start, start + (lines[line - 1] ?? '').length);
    const lineHeight = el.scrollHeight / Math.max(1, lines.length);
    el.scrollTop = Math.max(0, (line - 3) * lineHeight);
  };
  const ota = s.ota || { state: 'not_configured' };
  return html`<h1>${t('system.title')}</h1>
    ${restarting && html`<${OkBox}>${t('system.restarting')}<//>`}
    <div class="cards">
      <${Card} id="sys-version" label=${t('system.version')} big=${s.version} sub=${`${t('system.node')} ${s.node} · ${s.platform}`} />
      <${Card} id="sys-uptime" label=${t('system.uptime')} big=${fmtDuration(s.uptimeMs)} sub=${t('system.rss', { m: fmtBytes(s.rssBytes) })} />
      <${Card} id="sys-ota" label=${t('system.ota')} big=${t(`ota.${ota.state}`) === `ota.${ota.state}` ? ota.state : t(`ota.${ota.state}`)} sub=${ota.version ? t('system.otaVersion', { v: ota.version }) : null} />
    </div>
    <section class="card" aria-label=${t('system.restart')}><p class="muted">${t('system.restartHint')}</p><button type="button" class="danger" id="restart" disabled=${!s.canRestart} onClick=${restart}>${t('system.restart')}</button></section>
    <section class="card" aria-label=${t('system.config')}>
      <h2>${t('system.config')}</h2>
      <p class="muted mono path">${cfg.path}</p>
      <div class="row">
        <button type="button" class="secondary" id="config-export" onClick=${exportFile}>${t('system.export')}</button>
        <label class="button secondary" for="config-import">${t('system.import')}</label>
        <input id="config-import" type="file" accept=".yaml,.yml,text/yaml" class="visually-hidden" onChange=${importFile} />
      </div>
      ${imported &&
      html`<div class="card inner" id="import-preview">
        <h2>${t('system.importTitle', { name: imported.name })}</h2>
        ${imported.checked === null && html`<p class="muted">${t('common.working')}</p>`}
        ${imported.checked && html`<${OkBox}>${t('system.configValid', { devices: plural('system.devices', imported.checked.devices) })}<//>`}
        <${ErrorBox} error=${imported.error} />
        <${Diff} before=${cfg.text} after=${imported.text} />
        <div class="row">
          <button type="button" id="import-apply" disabled=${!imported.checked} onClick=${applyImported}>${t('system.importApply')}</button>
          <button type="button" class="secondary" onClick=${() => setImported(null)}>${t('common.cancel')}</button>
        </div>
      </div>`}
      <label for="config-text">${t('system.editor')}</label>
      <textarea id="config-text" rows="22" spellcheck="false" wrap="off" value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      <div class="row">
        <button type="button" class="secondary" id="config-check" onClick=${check}>${t('system.checkConfig')}</button>
        <button type="button" id="config-save" onClick=${() => apply(text)}>${t('system.saveConfig')}</button>
      </div>
      <div id="config-message">${ok && html`<${OkBox}>${ok}<//>`}<${ErrorBox} error=${error} onLine=${showLine} /></div>
    </section>
    ${history && html`<${History} changes=${history} />`}`;
}
