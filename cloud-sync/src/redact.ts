/** A broker URL fit for logs and status pages: credentials in it are replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = u.username ? 'redacted' : '';
    u.password = u.password ? 'redacted' : '';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}
