import net from 'node:net';

/**
 * - pass: bytes flow both ways.
 * - blackhole: every connection, open or new, is accepted and its bytes swallowed in both
 *   directions, and nothing is ever closed: the half-open link of a 4G modem that lost its
 *   carrier. Only keepalive or an acknowledgement timeout can tell.
 * - reset: open connections are reset (RST), new ones reset on accept.
 * - delay: bytes flow both ways, each chunk `delayMs` late, in order.
 */
export type ProxyMode = 'pass' | 'blackhole' | 'reset' | 'delay';

export interface TcpProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** Default: a free port. */
  port?: number;
  mode?: ProxyMode;
  delayMs?: number;
}

export interface TcpProxy {
  port: number;
  /** Mode for new bytes and new connections. */
  readonly mode: ProxyMode;
  setMode(mode: ProxyMode, delayMs?: number): void;
  /** Connections accepted since start (a reconnect shows up here). */
  readonly accepted: number;
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket | null;
  /**
   * A blackholed connection never carries bytes again, even once the proxy passes: the bytes
   * it swallowed are gone, so its streams are no longer framed (TCP would have retransmitted;
   * a reconnect is what a real client does after a dead link anyway).
   */
  dead: boolean;
  /** Per direction, when the last delayed chunk is due, so chunks never overtake each other. */
  dueUp: number;
  dueDown: number;
}

export async function startTcpProxy(o: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = o.targetHost ?? '127.0.0.1';
  let mode: ProxyMode = o.mode ?? 'pass';
  let delayMs = o.delayMs ?? 200;
  let accepted = 0;
  const links = new Set<Link>();

  const drop = (link: Link) => {
    links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  };

  const reset = (link: Link) => {
    links.delete(link);
    link.client.resetAndDestroy();
    if (link.upstream && !link.upstream.destroyed) link.upstream.resetAndDestroy();
  };

  /** Forwards a chunk from one side to the other as the current mode says. */
  const forward = (link: Link, to: net.Socket, chunk: Buffer, dir: 'dueUp' | 'dueDown') => {
    if (link.dead || mode === 'blackhole' || mode === 'reset') return;
    if (mode === 'pass' && link[dir] <= Date.now()) {
      to.write(chunk);
      return;
    }
    const due = Math.max(Date.now() + (mode === 'delay' ? delayMs : 0), link[dir]);
    link[dir] = due;
    setTimeout(() => {
      if (!link.dead && !to.destroyed) to.write(chunk);
    }, due - Date.now());
  };

  const server = net.createServer((client) => {
    accepted++;
    const link: Link = { client, upstream: null, dead: false, dueUp: 0, dueDown: 0 };
    links.add(link);
    client.on('error', () => {});
    if (mode === 'reset') {
      reset(link);
      return;
    }
    if (mode === 'blackhole') {
      // Swallow without ever opening the upstream: the far end never hears of this client.
      link.dead = true;
      client.on('data', () => {});
      client.on('close', () => links.delete(link));
      return;
    }
    const upstream = net.connect({ port: o.targetPort, host: targetHost });
    link.upstream = upstream;
    upstream.on('error', () => {});
    client.on('data', (chunk: Buffer) => forward(link, upstream, chunk, 'dueUp'));
    upstream.on('data', (chunk: Buffer) => forward(link, client, chunk, 'dueDown'));
    // A close on one side reaches the other only while the link is alive: a blackholed
    // link tells nobody anything.
    client.on('close', () => {
      if (!link.dead) drop(link);
    });
    upstream.on('close', () => {
      if (!link.dead) drop(link);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: o.port ?? 0, host: '127.0.0.1' }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    setMode(next, nextDelayMs) {
      mode = next;
      if (nextDelayMs !== undefined) delayMs = nextDelayMs;
      if (next === 'blackhole') for (const link of links) link.dead = true;
      if (next === 'reset') for (const link of [...links]) reset(link);
    },
    async close() {
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
