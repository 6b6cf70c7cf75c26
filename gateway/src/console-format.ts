/**
 * The console as people read it. On a terminal each pino record becomes one line:
 * `12:04:05 WARN  device "water-1" stopped answering: no response (timeout) reading holding 101
 * (protocol 100); next try in 2.0 s`. Anywhere else (journald, a pipe) stdout keeps pino's JSON
 * lines, one record per line, for machines: `journalctl -o cat | jq` and the UI's log page.
 */
import type { DestinationStream } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[41m\x1b[37m' };
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

/** Fields every record has; the rest are context worth a glance (device, err). */
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'layer', 'event', 'v']);

function hhmmss(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** One human line for one pino JSON record; the text itself when it is not JSON. */
export function formatRecord(text: string, colour: boolean): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return text;
  }
  const level = typeof r['level'] === 'number' ? r['level'] : 30;
  const time = typeof r['time'] === 'number' ? hhmmss(r['time']) : '--:--:--';
  const name = LEVELS[level] ?? String(level);
  const msg = typeof r['msg'] === 'string' ? r['msg'] : '';
  const err = r['err'] as { message?: unknown } | undefined;
  // The human lines already name the device; only the other fields are appended.
  const extra = Object.entries(r)
    .filter(([k]) => !SKIP.has(k) && !(k === 'device' && msg.includes(`"${String(r['device'])}"`)) && k !== 'err')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const errText = err && typeof err.message === 'string' && !msg.includes(err.message) ? `: ${err.message}` : '';
  const head = colour ? `${DIM}${time}${RESET} ${COLOURS[level] ?? ''}${name}${COLOURS[level] ? RESET : ''}` : `${time} ${name}`;
  const tail = extra ? (colour ? ` ${DIM}${extra}${RESET}` : ` ${extra}`) : '';
  return `${head} ${msg}${errText}${tail}`;
}

/** A pino destination writing human lines to `out` (a terminal). */
export function prettyConsole(out: NodeJS.WritableStream & { hasColors?: () => boolean }): DestinationStream {
  const colour = typeof out.hasColors === 'function' ? out.hasColors() : false;
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) if (line.trim()) out.write(`${formatRecord(line, colour)}\n`);
    },
  };
}

/** stdout as the console destination: human lines on a terminal, JSON lines for journald and pipes. */
export function consoleDestination(stdout: NodeJS.WriteStream = process.stdout): DestinationStream {
  return stdout.isTTY ? prettyConsole(stdout) : stdout;
}
