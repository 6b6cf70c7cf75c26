/**
 * A port for a test server that goes away and comes back on the same address. A port from
 * freePort() is one of the kernel's ephemeral ports: while the server is down, any process's
 * bind(0) (another test file's server) or any connect() (the driver's own probe, a TCP
 * self-connect) may be given it, and the driver then talks to a stranger, or the server cannot
 * come back (EADDRINUSE). The kernel never hands out a port outside the ephemeral range on its own.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** The kernel's ephemeral range ("low high"): the ports it hands out for bind(0) and connect(). */
export const PORT_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';
/** Below this, ports are often taken by services (and 1024 needs root). */
const LOWEST = 10_000;
const HIGHEST = 65_535;
/** Where there is no PORT_RANGE_FILE (not Linux): IANA's dynamic range, which BSDs, macOS and Windows use. */
const IANA_DYNAMIC = '49152 65535';
/** Fewer ports than this outside the ephemeral range: random picks would mostly hit taken ones. */
const MIN_FREE_PORTS = 1000;
const TRIES = 50;

/** Inclusive stretches of ports. */
export type PortStretches = ReadonlyArray<readonly [number, number]>;

/**
 * The ports from LOWEST up that are outside the ephemeral range `rangeText` (the text of
 * PORT_RANGE_FILE): [LOWEST, low) and (high, HIGHEST], the stretches that are not nearly empty.
 * Throws, naming the file, when nothing usable is left: a silent fallback to a port inside the
 * range would bring back the stranger on the port.
 */
export function portsOutsideEphemeral(rangeText: string): PortStretches {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(rangeText);
  const [low, high] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!m || low > high || high > HIGHEST) throw new Error(`${PORT_RANGE_FILE}: cannot read an ephemeral port range from ${JSON.stringify(rangeText)}`);
  const stretches = (
    [
      [LOWEST, low - 1],
      [Math.max(LOWEST, high + 1), HIGHEST],
    ] as const
  ).filter(([from, to]) => to - from + 1 >= MIN_FREE_PORTS);
  if (stretches.length === 0) {
    throw new Error(
      `${PORT_RANGE_FILE} is "${low} ${high}": fewer than ${MIN_FREE_PORTS} ports in ${LOWEST}..${HIGHEST} are outside the ` +
        'ephemeral range, so a test server that restarts may find its port taken; narrow the range (e.g. 32768 60999)',
    );
  }
  return stretches;
}

/** The port at `random()` (in [0, 1)) of the way through `stretches`, as if they were one. */
export function pickPort(stretches: PortStretches, random: () => number = Math.random): number {
  const total = stretches.reduce((n, [from, to]) => n + to - from + 1, 0);
  let i = Math.floor(random() * total);
  for (const [from, to] of stretches) {
    if (i <= to - from) return from + i;
    i -= to - from + 1;
  }
  throw new Error(`pickPort: random() returned ${random()} (not in [0, 1))`);
}

function readRangeText(): string {
  try {
    return readFileSync(PORT_RANGE_FILE, 'utf8');
  } catch {
    return IANA_DYNAMIC;
  }
}

const listens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });

const kernelPort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });

/**
 * A free port on 127.0.0.1 that the kernel gives to nobody else while it is released (where
 * the ephemeral range leaves room for one; otherwise one the kernel chose, with a warning).
 */
export async function restartablePort(rangeText: string = readRangeText()): Promise<number> {
  let stretches: PortStretches;
  try {
    stretches = portsOutsideEphemeral(rangeText);
  } catch (err) {
    // A machine tuned to hand out (nearly) every port: the tests still run, as they did before
    // this helper, on a port the kernel chose, and say why a restart may meet a stranger.
    process.stderr.write(`restartablePort: ${(err as Error).message}; using a port the kernel chooses\n`);
    return kernelPort();
  }
  for (let tries = 0; tries < TRIES; tries++) {
    const port = pickPort(stretches);
    if (await listens(port)) return port;
  }
  throw new Error(`no free port in ${stretches.map(([a, b]) => `${a}..${b}`).join(', ')} after ${TRIES} tries`);
}

/**
 * Starts a server again on `port` (from restartablePort()). When the port has been taken while
 * the server was down the error names the port and where it came from, since that is a fault of
 * the port choice (or of another process on the machine), not of the code under test.
 */
export async function restartOn<T>(port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code !== 'EADDRINUSE' && !/EADDRINUSE/.test(String((err as Error | null)?.message ?? err))) throw err;
    throw new Error(
      `port ${port} (from restartablePort(), outside the ephemeral range in ${PORT_RANGE_FILE}) was taken by another process while the server was down: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
