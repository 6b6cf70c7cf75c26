import { InvalidArgumentError, type Command } from 'commander';

/**
 * Argument parsers and conventions shared by the scripts' CLIs (commander, like the daemon's
 * and the center's): values are checked where they are parsed, so a typo is a usage error
 * naming the option, not a NaN deep inside.
 */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`a whole number ${min}..${max}`);
    return n;
  };
}

/** A TCP port; `min` 0 lets 0 mean "a free one". */
export const portArg = (min: 0 | 1 = 1) => intArg(min, 65535);

/** Usage errors exit 2 (as before the move to commander); --help and --version exit 0. */
export function usageExit(program: Command): Command {
  return program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
}
