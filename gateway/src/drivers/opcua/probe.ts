import net from 'node:net';

/** OPC UA's registered port, when an endpoint URL names none. */
const OPCUA_DEFAULT_PORT = 4840;

/** Host and port of an opc.tcp:// endpoint URL. */
export function endpointAddress(endpointUrl: string): { host: string; port: number } {
  const url = new URL(endpointUrl.replace(/^opc\.tcp:/i, 'http:'));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port === '' ? OPCUA_DEFAULT_PORT : Number(url.port) };
}

/**
 * Whether something accepts TCP connections at host:port: a cheap probe (one SYN, closed at
 * once) that tells a server back from a restart long before a doubled backoff would.
 */
export function tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
