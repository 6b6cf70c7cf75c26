import test from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from './logger.ts';
import { consoleDestination, formatRecord } from './console-format.ts';

test('on a terminal a record is one human line: time, level, message, the context the message lacks', () => {
  const time = new Date(2026, 0, 5, 12, 4, 5).getTime();
  const line = formatRecord(
    JSON.stringify({ level: 40, time, pid: 1, hostname: 'box', name: 'kedge-gateway', layer: 'south', device: 'water-1', event: 'device_failed', msg: 'device "water-1" stopped answering: no response (timeout)' }),
    false,
  );
  assert.equal(line, '12:04:05 WARN  device "water-1" stopped answering: no response (timeout)');
  assert.equal(formatRecord(JSON.stringify({ level: 50, time, msg: 'web UI not started', err: { message: 'EADDRINUSE' }, port: 8080 }), false), '12:04:05 ERROR web UI not started: EADDRINUSE port=8080');
  assert.equal(formatRecord('not json', false), 'not json');
});

test('off a terminal (journald, pipes) the console keeps JSON lines, one record each', () => {
  const pipe = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
  assert.equal(consoleDestination(pipe), pipe);
  const tty = Object.assign(new PassThrough(), { isTTY: true, hasColors: () => false }) as unknown as NodeJS.WriteStream & PassThrough;
  let out = '';
  (tty as unknown as PassThrough).on('data', (b: Buffer) => (out += b.toString()));
  const logger = createLogger({ name: 'kedge-gateway', level: 'info', destination: consoleDestination(tty) });
  logger.warn({ device: 'water-1' }, 'device "water-1" answers again after 12 s (5 failed polls)');
  assert.match(out, /^\d\d:\d\d:\d\d WARN  device "water-1" answers again after 12 s \(5 failed polls\)\n$/);
});
