/**
 * A test file that ends without stopping what it started (proc.test.ts runs it): a child
 * writing into a folder, and a launcher leading its own process group with a grandchild.
 * Argument 1: the file to write their pids to; argument 2: 'end' (the file's tests end and the
 * process exits by itself) or 'hang' (something keeps it running until the runner's SIGTERM).
 */
import test from 'node:test';
import { writeFileSync } from 'node:fs';
import { startProcess } from './proc.ts';
import { fileTempDir } from './temp-dirs.ts';

const [report, mode] = process.argv.slice(2) as [string, 'end' | 'hang'];
const WRITER = `
const { writeFileSync } = require('node:fs');
const dir = process.argv[1];
let i = 0;
const write = () => writeFileSync(dir + '/f' + (i++ % 50), 'x');
write();
console.log('writing');
setInterval(write, 5);
`;

test('starts children and never stops them', async () => {
  const dir = fileTempDir('kedge-orphan-fixture-');
  const writer = await startProcess(process.execPath, ['-e', WRITER, dir], { name: 'writer', readyLine: /writing/ });
  const launcher = await startProcess('/bin/sh', ['-c', 'sleep 600 & echo "grandchild $!"; wait'], { name: 'launcher', group: true, readyLine: /grandchild \d+/ });
  const grandchild = Number(/grandchild (\d+)/.exec(launcher.output())![1]);
  writeFileSync(report, JSON.stringify({ writer: writer.pid, launcher: launcher.pid, grandchild, dir }));
  if (mode === 'hang') setInterval(() => {}, 60_000);
});
