import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Field names that may carry secrets anywhere in a log object. Logs leave the box (support
 * requests, the UI's log page), so secrets are censored before they are written.
 */
export const SECRET_FIELDS = ['password', 'passwordFile', 'key', 'privateKey', 'token', 'setupToken', 'secret', 'authorization', 'cookie'];

export function createLogger(opts: { name: string; level: string; destination?: DestinationStream }): Logger {
  const paths = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
  return pino({ name: opts.name, level: opts.level, redact: { paths, censor: '[redacted]' } }, opts.destination);
}
