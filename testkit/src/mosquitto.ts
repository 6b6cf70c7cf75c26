import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import { startProcess, type ManagedProcess } from './proc.ts';
import { sleep } from './wait.ts';

/** Debian's package installs the daemon in /usr/sbin, outside a normal user's PATH. */
export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Default: a free port. */
  port?: number;
  /** Where to keep mosquitto.conf; default a temp dir that exists only while the broker starts. */
  dir?: string;
  /** Appended verbatim to the generated config. */
  extraConf?: string;
  /**
   * Keep sessions and queued messages on disk across restart(), as a center broker must.
   * Run as root, mosquitto drops to its own user and could not write a root-owned temp dir,
   * so the config keeps it as the invoking user.
   */
  persistence?: boolean;
}

export interface MosquittoHandle {
  port: number;
  url: string;
  /** Pid of the current broker process; changes after restart(). */
  readonly pid: number;
  /** Broker log of the current process. */
  output(): string;
  stop(): Promise<void>;
  /** Stops the broker and starts a new one on the same port (simulates a broker outage). */
  restart(): Promise<void>;
}

export function mosquittoConf(port: number, extraConf = '', persistenceDir?: string): string {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    ...(persistenceDir
      ? [
          'persistence true',
          `persistence_location ${persistenceDir}/`,
          'autosave_interval 1',
        ]
      : ['persistence false']),
    // Run as root, mosquitto drops to its own user, which cannot read or write the test's
    // root-owned temp dirs (persistence store, TLS keys); keep it as the invoking user.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    // stderr, not stdout: mosquitto's stdout is block-buffered on a pipe, so its log would
    // only show up after it exits, too late to explain a failing test.
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'log_timestamp true',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    extraConf,
    '',
  ].join('\n');
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const port = opts.port ?? (await freePort());
  // The store outlives restarts (that is its point) and goes with stop().
  const dataDir = opts.persistence ? await mkdtemp(path.join(tmpdir(), 'kedge-mosquitto-data-')) : undefined;
  const conf = mosquittoConf(port, opts.extraConf, dataDir);

  // mosquitto reads its config only at startup, so an own temp dir is removed as soon as the
  // broker is up (and rewritten on restart): a killed test run leaves nothing in /tmp.
  const launch = async (): Promise<ManagedProcess> => {
    const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'kedge-mosquitto-')));
    await mkdir(dir, { recursive: true });
    const confPath = path.join(dir, `mosquitto-${port}.conf`);
    await writeFile(confPath, conf);
    try {
      return await startProcess(MOSQUITTO_BIN, ['-c', confPath], { name: `mosquitto:${port}`, readyPort: port, timeoutMs: 10_000 });
    } finally {
      if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
    }
  };

  let proc = await launch();

  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get pid() {
      return proc.pid;
    },
    output: () => proc.output(),
    async stop() {
      await proc.stop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await proc.stop();
      // The old listener or a client's TIME_WAIT can briefly block the bind; retry a few times.
      let lastErr: unknown;
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          proc = await launch();
          return;
        } catch (err) {
          lastErr = err;
          await sleep(250);
        }
      }
      throw lastErr;
    },
  };
}
