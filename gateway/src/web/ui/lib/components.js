import { html, useState } from './view.js';
import { t } from './i18n.js';
import { ApiError } from './api.js';
import { useLive } from './live.js';
import { translateIssue } from './issue-text.js';

let nextId = 0;
/** A unique id for a label's `for`: every input has a label linked to it. */
export const uid = (prefix) => `${prefix}-${++nextId}`;

/**
 * A page's action state: `run(fn)` marks the page busy (its buttons disable), clears the last
 * error, runs fn and keeps what it threw for the page's ErrorBox.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

export function Badge({ kind = '', children }) {
  return html`<span class=${`badge ${kind}`}>${children}</span>`;
}

export function QualityBadge({ q }) {
  if (!q) return html`<${Badge}>—<//>`;
  const kind = q === 'good' ? 'good' : q === 'uncertain' || q === 'uncertain_clock' ? 'uncertain' : 'bad';
  return html`<${Badge} kind=${kind}>${t(`quality.${q}`)}<//>`;
}

/** A translated error: the stable code's text, the field problems, and the server's English detail on request. */
export function ErrorBox({ error, onLine }) {
  if (!error) return null;
  const api = error instanceof ApiError;
  const code = api ? error.code : 'internal';
  const title = t(`errors.${code}`, { s: error.retryAfterMs ? Math.ceil(error.retryAfterMs / 1000) : '' });
  return html`<div class="message error" role="alert" data-code=${code}>
    <div>${title}</div>
    ${api && error.issues.length > 0 &&
    html`<ul class="issues">
      ${error.issues.map(
        (i) => html`<li>
          ${i.line !== undefined &&
          (onLine
            ? html`<button type="button" class="link-button where" onClick=${() => onLine(i.line, i.column ?? 1)}>${t('config.line', { line: i.line, column: i.column ?? 1 })}</button> `
            : html`<span class="where">${t('config.line', { line: i.line, column: i.column ?? 1 })}</span> `)}
          ${i.path && html`<span class="mono">${i.path}</span>: `}${translateIssue(i.message) ?? html`<span lang="en">${i.message}</span>`}
          ${translateIssue(i.message) && html` <span class="muted" lang="en">(${i.message})</span>`}
        </li>`,
      )}
    </ul>`}
    ${error.message && !(api && error.issues.length > 0) &&
    html`<details class="detail"><summary>${t('errors.detail')}</summary><span class="mono" lang="en">${error.message}</span></details>`}
  </div>`;
}

export function OkBox({ children }) {
  return html`<div class="message ok" role="status">${children}</div>`;
}

export function Card({ id, label, big, sub, children }) {
  return html`<section class="card" id=${id} aria-label=${label}>
    ${label && html`<div class="label">${label}</div>`}
    ${big !== undefined && html`<div class="big">${big}</div>`}
    ${sub && html`<div class="sub">${sub}</div>`}
    ${children}
  </section>`;
}

/** A labelled form control; `input` gets the id the label points at. */
export function Field({ label, hint, id, children }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children}
    ${hint && html`<div class="hint">${hint}</div>`}
  </div>`;
}

/** Shown on every live page while the box is not heard from. */
export function StaleBanner() {
  const live = useLive();
  if (!live.stale || live.connecting) return null;
  return html`<div class="message stale" role="alert" id="stale">${t('live.stale')}</div>`;
}
