// fetch with the session's CSRF token; errors carry the server's stable code (translated as
// errors.<code>) and its English detail.

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.error || (status === 0 ? 'network' : 'internal');
    this.issues = body.issues || [];
    this.retryAfterMs = body.retryAfterMs;
  }
}

const session = { csrf: null, onUnauthorized: () => {} };

export function setCsrf(token) {
  session.csrf = token;
}

export function onUnauthorized(fn) {
  session.onUnauthorized = fn;
}

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session.csrf) headers['x-csrf-token'] = session.csrf;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch (err) {
    throw new ApiError(0, { error: 'network', message: String(err && err.message ? err.message : err) });
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: 'internal', message: text.slice(0, 200) };
  }
  if (res.status === 401 && !path.startsWith('/api/auth/')) {
    session.csrf = null;
    session.onUnauthorized();
  }
  if (!res.ok) throw new ApiError(res.status, data || {});
  return data;
}
