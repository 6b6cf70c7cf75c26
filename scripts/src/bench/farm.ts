import { fileURLToPath } from 'node:url';
import { startProcess, type ManagedProcess } from '@kedge/testkit/proc.ts';
import { tsEntry } from '@kedge/testkit/entry.ts';

export interface Farm {
  proc: ManagedProcess;
  ports: number[];
  /** Latest request counter printed by the farm, with the farm's clock (epoch ms) at that count, and the registers served so far (readings polled). */
  requests(): { total: number; at: number; registers: number };
  stop(): Promise<void>;
}

const FARM = fileURLToPath(new URL('./modbus-farm.ts', import.meta.url));

/** Starts the simulated device farm as a child process (see modbus-farm.ts). */
export async function startFarm(devices: number, registers: number): Promise<Farm> {
  const proc = await startProcess(
    process.execPath,
    // tsx under `npm run bench`; the test loader when a test starts it (less CPU beside what is measured).
    [...tsEntry(FARM), '--devices', String(devices), '--registers', String(registers)],
    { name: 'modbus-farm', readyLine: /FARM READY ports=[\d,]+\n/, timeoutMs: 60_000 },
  );
  const ports = /FARM READY ports=([\d,]+)/.exec(proc.output())![1]!.split(',').map(Number);
  return {
    proc,
    ports,
    requests() {
      const all = [...proc.output().matchAll(/requests (\d+) (\d+) (\d+)/g)];
      const last = all[all.length - 1];
      return { total: Number(last?.[1] ?? 0), at: Number(last?.[2] ?? Date.now()), registers: Number(last?.[3] ?? 0) };
    },
    stop: () => proc.stop(),
  };
}
