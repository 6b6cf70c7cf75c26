/**
 * The node's settings file: sampling period, calibration overrides and the boot counter.
 *
 * Written atomically (temp file, fsync, rename, fsync of the folder) because a river station
 * loses power whenever its battery runs flat: a half-written file must never be what the
 * next boot reads. A file that is corrupt or invalid is not fatal: the node runs on defaults
 * and says so through the `settings_defaulted` status bit.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { calibrationProblem, type Calibration } from './calibration.ts';
import { ANALOG_CHANNELS, REGISTER_MAP, type AnalogChannelId } from './register-map.ts';

export interface Settings {
  samplingPeriodMs: number;
  /** Calibrations written over Modbus; channels not listed use their factory calibration. */
  calibration: Partial<Record<AnalogChannelId, Calibration>>;
  /** Boots so far, this one included. */
  bootCount: number;
}

export const SAMPLING_PERIOD_RANGE = (() => {
  const def = REGISTER_MAP.find((d) => d.source.kind === 'sampling_period');
  if (!def?.range) throw new Error('register map has no sampling_period range');
  return def.range;
})();

export const DEFAULT_SETTINGS: Settings = { samplingPeriodMs: 1000, calibration: {}, bootCount: 0 };

const calibrationSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('two-point'), raw: z.tuple([z.number(), z.number()]), value: z.tuple([z.number(), z.number()]) }),
    z.strictObject({ kind: z.literal('polynomial'), coefficients: z.array(z.number()) }),
  ])
  .superRefine((cal, ctx) => {
    const problem = calibrationProblem(cal);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const settingsSchema = z.strictObject({
  samplingPeriodMs: z.number().int().min(SAMPLING_PERIOD_RANGE.min).max(SAMPLING_PERIOD_RANGE.max),
  calibration: z.partialRecord(z.enum(ANALOG_CHANNELS), calibrationSchema),
  bootCount: z.number().int().min(0),
});

export interface LoadedSettings {
  settings: Settings;
  /** True when the file existed but could not be used, so defaults are in effect. */
  defaulted: boolean;
  /** What was wrong with the file, for the log. */
  problem?: string;
}

export function loadSettings(file: string): LoadedSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { settings: structuredClone(DEFAULT_SETTINGS), defaulted: false };
    return { settings: structuredClone(DEFAULT_SETTINGS), defaulted: true, problem: `cannot read ${file}: ${(err as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { settings: structuredClone(DEFAULT_SETTINGS), defaulted: true, problem: `${file} is not JSON: ${(err as Error).message}` };
  }
  const parsed = settingsSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    // The boot counter survives a bad file when it is readable, so resets keep counting.
    const boots = (json as { bootCount?: unknown } | null)?.bootCount;
    const bootCount = Number.isInteger(boots) && (boots as number) >= 0 ? (boots as number) : 0;
    return { settings: { ...structuredClone(DEFAULT_SETTINGS), bootCount }, defaulted: true, problem: `${file} is invalid: ${issues}` };
  }
  return { settings: parsed.data as Settings, defaulted: false };
}

export function saveSettings(file: string, settings: Settings): void {
  const checked = settingsSchema.parse(settings);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, JSON.stringify(checked, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename itself lives in the directory; without this a power cut can undo it.
  const dirFd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
