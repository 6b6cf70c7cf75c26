// Preloaded into a daemon by mem-watch.ts --breakdown (`node --expose-gc --import mem-breakdown.mjs ...`):
// on SIGUSR2 it prints one line `MEM-BREAKDOWN {json}` saying where the process's memory is:
// process.memoryUsage() before and after a full GC, V8's heap spaces and code statistics, the
// kernel's /proc/self/smaps_rollup (anonymous vs file-backed), the mapped regions grouped by
// what backs them (node itself, native addons, malloc heap and anonymous maps), and which
// modules were loaded (CommonJS from require.cache, ESM chunks through a resolve hook): what a
// 1-device box pays for code it never runs. Changes nothing else the daemon does.
import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import v8 from 'node:v8';

// The ESM record needs a hooks thread (its own isolate, ~10 MB of RSS): only on request
// (KEDGE_MEM_BREAKDOWN_ESM=1), for the module list, not for the memory figures.
const esm = new Set();
if (process.env.KEDGE_MEM_BREAKDOWN_ESM === '1') {
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => esm.add(url));
  port1.unref();
  register('./mem-breakdown-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
}

const require = createRequire(import.meta.url);
const MB = 2 ** 20;
const mb = (n) => Math.round((n / MB) * 10) / 10;

function smapsRollup() {
  const out = {};
  for (const m of readFileSync('/proc/self/smaps_rollup', 'utf8').matchAll(/^(\w+):\s+(\d+) kB/gm)) out[m[1]] = mb(Number(m[2]) * 1024);
  return out;
}

/** RSS per backing: the node binary, each shared library / addon, [heap], anonymous maps. */
function regions() {
  const by = new Map();
  let name = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1] || '[anon]';
      name = path.startsWith('/') ? path.split('/').slice(-1)[0] : path;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) by.set(name, (by.get(name) ?? 0) + Number(rss[1]) * 1024);
  }
  return Object.fromEntries([...by].filter(([, v]) => v >= 256 * 1024).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, mb(v)]));
}

function pkgOf(path) {
  const i = path.lastIndexOf('node_modules/');
  if (i < 0) return path.includes('/dist/') || path.includes('/before/') ? 'kedge-dist' : 'other';
  const rest = path.slice(i + 'node_modules/'.length).split('/');
  return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
}

process.on('SIGUSR2', () => {
  const before = process.memoryUsage();
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
  const after = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: mb(s.space_size), used: mb(s.space_used_size) }]));
  const code = v8.getHeapCodeStatistics();
  const cjs = Object.keys(require.cache);
  const packages = {};
  for (const p of cjs) packages[pkgOf(p)] = (packages[pkgOf(p)] ?? 0) + 1;
  const chunks = [...esm].filter((u) => u.startsWith('file:')).map((u) => u.split('/').slice(-1)[0]);
  const m = (u) => Object.fromEntries(Object.entries(u).map(([k, v]) => [k, mb(v)]));
  process.stderr.write(
    `MEM-BREAKDOWN ${JSON.stringify({
      before: m(before),
      afterGc: m(after),
      spaces,
      code: { code: mb(code.code_and_metadata_size), bytecode: mb(code.bytecode_and_metadata_size), externalScriptSource: mb(code.external_script_source_size) },
      smapsRollup: smapsRollup(),
      regions: regions(),
      modules: { cjs: cjs.length, esmFiles: chunks.length, packages, chunks },
    })}\n`,
  );
});
