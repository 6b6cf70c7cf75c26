import net from 'node:net';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Used in the timeout message so a failing test says what it was waiting for. */
  what?: string;
}

/**
 * Polls `fn` until it returns a truthy value and returns that value.
 * Errors thrown by `fn` count as "not yet" (a server that is still starting typically throws),
 * but the last one is attached to the timeout error so the real cause is not lost.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const what = opts.what ?? 'condition';
  // Monotonic: a test that moves the wall clock must not stretch or cut its own waits.
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) {
      const suffix = lastError === undefined ? '' : `: last error: ${describe(lastError)}`;
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${suffix}`, { cause: lastError });
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - performance.now())));
  }
}

/** Resolves once a TCP connect to host:port succeeds. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  await waitFor(() => canConnect(port, host), { timeoutMs, what: `${host}:${port} to accept connections` });
}

/** One connection attempt; resolves false instead of throwing so pollers stay simple. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
