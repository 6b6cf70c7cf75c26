/**
 * Where an unsigned offer may make the box connect (SECURITY.md): its `manifestUrl` and `url`
 * are anyone's choice who can publish on the offer topic, so the box must not become their
 * proxy into itself (the web UI, a Modbus gateway's HTTP page on 127.0.0.1) or into a cloud
 * metadata service (169.254.169.254). Loopback, link-local and unspecified addresses are
 * refused unless `ota.allowLocalOfferUrls` is set, and the check runs on the addresses the
 * connection really uses (a lookup hook), so a DNS name that answers differently the second
 * time gains nothing. Signed offers are the maintainer's choice and are not restricted.
 */
import dns from 'node:dns';
import net from 'node:net';
import { VerifyError } from './verify.ts';

/** True for 127/8, 0/8, 169.254/16, ::1, ::, fe80::/10 and their IPv4-mapped IPv6 forms. */
export function isLocalAddress(ip: string): boolean {
  const a = ip.toLowerCase().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(?:0:)?(.+)$/.exec(a)?.[1];
  if (mapped !== undefined) {
    if (net.isIPv4(mapped)) return isLocalAddress(mapped);
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(mapped);
    if (hex) {
      const hi = parseInt(hex[1]!, 16);
      const lo = parseInt(hex[2]!, 16);
      return isLocalAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
  }
  if (net.isIPv4(a)) {
    const [x, y] = a.split('.').map(Number) as [number, number];
    return x === 127 || x === 0 || (x === 169 && y === 254);
  }
  if (net.isIPv6(a)) return a === '::1' || a === '::' || /^fe[89ab][0-9a-f]?:/.test(a);
  return false;
}

export class OfferUrlError extends VerifyError {
  override name = 'OfferUrlError';
}

const refusal = (what: string, url: string, address: string) =>
  new OfferUrlError(`${what} ${url} points at ${address}, a loopback or link-local address: refused for an unsigned offer (set ota.allowLocalOfferUrls to allow it)`);

/**
 * A `lookup` for http(s).get that fails the connection when the name resolves to a local
 * address. IP literals never reach a lookup: checkOfferUrl() covers those.
 */
export function guardedLookup(what: string, url: string): net.LookupFunction {
  const lookup = (hostname: string, options: dns.LookupOptions, callback: (...a: unknown[]) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const bad = addresses.find((x) => isLocalAddress(x.address));
      if (bad) return callback(refusal(what, url, bad.address));
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  };
  return lookup as unknown as net.LookupFunction;
}

/**
 * Refuses, with a message naming the URL and the address, an http(s) URL whose host is (or
 * resolves to) a local address. `lookupAll` is dns.promises.lookup in production.
 */
export async function checkOfferUrl(what: string, raw: string, lookupAll: (host: string) => Promise<Array<{ address: string }>> = (h) => dns.promises.lookup(h, { all: true })): Promise<void> {
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OfferUrlError(`${what} ${raw}: only http: and https: URLs are fetched`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) {
    if (isLocalAddress(host)) throw refusal(what, raw, host);
    return;
  }
  let addresses: Array<{ address: string }>;
  try {
    addresses = await lookupAll(host);
  } catch (err) {
    throw new OfferUrlError(`${what} ${raw}: host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const bad = addresses.find((x) => isLocalAddress(x.address));
  if (bad) throw refusal(what, raw, bad.address);
}
