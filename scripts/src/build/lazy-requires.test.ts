/**
 * The build's lazy requires (lazy-requires.ts) on a bundle of mqtt and modbus-serial made with
 * the plugin, `serialport`, `ws` and `socks` left external so that the program sees in the
 * require cache when each is loaded: none at start nor on a plain TCP connect, each once its
 * feature is used (a ws:// URL, a SOCKS proxy, a serial port), and then working (the errors are
 * the real modules' own: a refused connection, a missing device).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'node:test';
import * as esbuild from 'esbuild';
import { freePort } from '@kedge/testkit/ports.ts';
import { LAZY_REQUIRES, lazyRequires } from './lazy-requires.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const PROGRAM = `
import { createRequire } from 'node:module';
import mqtt from 'mqtt';
import ModbusRTU from 'modbus-serial';
const cache = createRequire(import.meta.url).cache;
const loaded = () => Object.fromEntries(['serialport', 'ws', 'socks'].map((p) => [p, Object.keys(cache).some((f) => f.includes('/node_modules/' + p + '/'))]));
const port = Number(process.argv[2]);
const report = { start: loaded() };
async function failedConnect(url, opts = {}) {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 60_000, ...opts });
  let error = '';
  client.on('error', (err) => (error ||= err.message));
  // Not events.once: it rejects on the 'error' that comes first.
  await new Promise((resolve) => client.once('close', resolve));
  client.end(true);
  return error;
}
report.tcpError = await failedConnect('mqtt://127.0.0.1:' + port);
report.tcp = loaded();
report.wsError = await failedConnect('ws://127.0.0.1:' + port);
report.ws = loaded();
report.socksError = await failedConnect('mqtt://127.0.0.1:' + port, { socksProxy: 'socks5://127.0.0.1:' + port });
report.socks = loaded();
const serial = new ModbusRTU();
report.serialError = await serial.connectRTUBuffered('/dev/kedge-no-such-tty', { baudRate: 9600 }).then(() => '', (err) => err.message);
report.serial = loaded();
process.stdout.write(JSON.stringify(report));
`;

test('serialport, ws and socks load only when their feature is used, and then work', async (t) => {
  // Inside the repository: the bundle resolves its externals from node_modules above it.
  const cache = join(ROOT, 'node_modules/.cache/kedge');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'lazy-requires-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'program.mjs');
  const result = await esbuild.build({
    stdin: { contents: PROGRAM, resolveDir: join(ROOT, 'gateway'), sourcefile: 'program.mjs' },
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['serialport', 'ws', 'socks'],
    banner: { js: "import { createRequire as __c } from 'node:module';\nconst require = __c(import.meta.url);" },
    metafile: true,
    logLevel: 'silent',
    plugins: [lazyRequires()],
  });
  // Every stand-in was used: a library that renamed its files would otherwise go unnoticed.
  const standIns = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('kedge-lazy-require:'));
  assert.deepEqual(new Set(standIns.map((f) => Number(f.split(':')[1]))), new Set(LAZY_REQUIRES.map((_, i) => i)), standIns.join('\n'));

  const { stdout } = await promisify(execFile)(process.execPath, [out, String(await freePort())], { cwd: dir });
  const r = JSON.parse(stdout) as Record<string, Record<string, boolean> | string>;
  const none = { serialport: false, ws: false, socks: false };
  assert.deepEqual(r['start'], none, 'loaded at start');
  assert.deepEqual(r['tcp'], none, 'loaded by a plain TCP connect');
  assert.match(r['tcpError'] as string, /ECONNREFUSED/);
  assert.deepEqual(r['ws'], { ...none, ws: true }, 'a ws:// URL loads ws');
  assert.match(r['wsError'] as string, /ECONNREFUSED/, "ws's own connect error");
  assert.deepEqual(r['socks'], { ...none, ws: true, socks: true }, 'a SOCKS proxy loads socks');
  assert.match(r['socksError'] as string, /ECONNREFUSED/, "socks's own connect error");
  assert.deepEqual(r['serial'], { serialport: true, ws: true, socks: true }, 'a serial port loads serialport');
  assert.match(r['serialError'] as string, /kedge-no-such-tty|No such file|ENOENT/, "serialport's own open error");
});
