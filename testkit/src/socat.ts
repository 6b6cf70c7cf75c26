import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startProcess, type ManagedProcess } from './proc.ts';
import { waitFor } from './wait.ts';

export interface SocatPair {
  /** The two ends of one virtual serial line: bytes written to one are read from the other. */
  a: string;
  b: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A virtual null-modem cable: two ptys joined by Debian's socat, linked under a temp folder.
 * raw,echo=0 so the line discipline neither echoes nor rewrites the binary Modbus frames.
 */
export async function startSocatPair(): Promise<SocatPair> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kedge-socat-'));
  const a = path.join(dir, 'ttyV0');
  const b = path.join(dir, 'ttyV1');
  let proc: ManagedProcess;
  try {
    proc = await startProcess('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
      name: 'socat',
      readyLine: /starting data transfer loop/,
      timeoutMs: 10_000,
    });
    await waitFor(() => existsSync(a) && existsSync(b), { timeoutMs: 5000, what: `socat links ${a} and ${b}` });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    a,
    b,
    pid: proc.pid,
    stop: async () => {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
