import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * Which `Host` a request to this box may carry. Two holes depend on it:
 *  - DNS rebinding: a page of evil.example whose name is re-pointed at 127.0.0.1 is, to the
 *    browser, still evil.example, so it may read the answers of the box's plain-HTTP loopback
 *    listener (the live values, anything Node-RED's token-free loopback access allows). Its
 *    requests carry `Host: evil.example`; the box answers only requests naming itself.
 *  - The HTTP -> HTTPS redirect must not send the browser to whatever host the request named.
 */

/** The host of a Host header (lowercase, no port, no IPv6 brackets, no trailing dot); null when malformed. */
export function hostOf(header: string | undefined): string | null {
  if (!header || !/^[A-Za-z0-9._\-:[\]]+$/.test(header)) return null;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(header);
  if (!m) return null;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? m[1].toLowerCase() : null;
  const host = m[2]!.toLowerCase().replace(/\.$/, '');
  return host === '' ? null : host;
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: names that can only mean this box. */
export function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const bare = (address: string) => address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '').replace(/%.*$/, '');

/** This box's own IP addresses, read at each call (DHCP may change them while the daemon runs). */
export function ownAddresses(): Set<string> {
  return new Set(
    Object.values(networkInterfaces())
      .flat()
      .flatMap((a) => (a ? [bare(a.address)] : [])),
  );
}

export interface HostRules {
  /** The configured names of the box (web.hostnames: DNS or mDNS names the engineer uses). */
  names: readonly string[];
}

/**
 * Whether a plain-HTTP request may be answered. On a loopback connection only loopback names
 * (127.0.0.1, localhost, [::1], any port): the rebinding page's own name is refused, and
 * nothing on the box needs another name there. On a LAN connection (web.https: false) the
 * box's own addresses and its configured names.
 */
export function hostAllowed(header: string | undefined, localAddress: string | undefined, rules: HostRules): boolean {
  const host = hostOf(header);
  if (host === null) return false;
  if (isLoopbackName(host)) return true;
  if (localAddress === undefined || isLoopbackName(bare(localAddress))) return false;
  return isNamed(host, localAddress, rules);
}

function isNamed(host: string, localAddress: string, rules: HostRules): boolean {
  if (rules.names.some((n) => n.toLowerCase().replace(/\.$/, '') === host)) return true;
  const ip = bare(host);
  return isIP(ip) !== 0 && (ip === bare(localAddress) || ownAddresses().has(ip));
}

/**
 * Where the HTTP -> HTTPS redirect sends the browser: the host it asked for when that is this
 * box (one of its addresses or configured names, so https://pump3.local stays pump3.local),
 * otherwise the address it actually connected to. Never a host taken blindly from the request.
 */
export function redirectLocation(req: IncomingMessage, rules: HostRules): string {
  const socket = req.socket;
  const path = req.url?.startsWith('/') ? req.url : '/';
  const host = hostOf(req.headers.host);
  if (host !== null && socket.localAddress !== undefined && (isLoopbackName(host) || isNamed(host, socket.localAddress, rules))) {
    return `https://${req.headers.host!.toLowerCase()}${path}`;
  }
  const local = bare(socket.localAddress ?? '127.0.0.1');
  return `https://${isIP(local) === 6 ? `[${local}]` : local}:${socket.localPort}${path}`;
}
