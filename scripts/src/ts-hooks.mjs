/**
 * Module hooks of the test files' TypeScript loader (registered by ts-loader.mjs): the one thing
 * kedge's sources need that node 20 lacks is turning a `.ts` file into JavaScript. They import
 * with the `.ts` extension and through package exports (tsconfig: NodeNext,
 * allowImportingTsExtensions), which node's own resolver already follows, so there is no
 * resolve hook: every import of a package, of node's builtins and of the hundreds of files of
 * node-opcua goes straight to node. tsx resolves every one of them itself (tsconfig paths,
 * extension guessing, CommonJS interop), which costs every test file ~0.5 s of CPU.
 *
 * A `.ts` file is compiled by esbuild (the bundler of the production build) and kept under
 * node_modules/.cache/kedge/ts, keyed by path and content: a process loads esbuild only for a
 * file that changed since any process last compiled it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { CACHE_DIR, INLINE_MAP, TRANSFORM_OPTIONS, compiledPath } from './ts-compile-cache.mjs';

let esbuild;
/** To ts-loader.mjs on the main thread: where the source map of each loaded file is (loadedMap). */
let port;

export function initialize(data) {
  port = data?.port;
}

async function compile(path, source) {
  esbuild ??= await import('esbuild');
  const { code } = await esbuild.transform(source, { ...TRANSFORM_OPTIONS, sourcefile: path });
  return code;
}

/**
 * The compiled form of `path` (whose text is `source`) and the cache file holding it (null when
 * the cache could not be written), from the cache or compiled into it now.
 */
async function compiledEntry(path, source) {
  const cached = compiledPath(path, source);
  try {
    return { code: readFileSync(cached, 'utf8'), file: cached };
  } catch {
    const code = await compile(path, source);
    // Written aside and renamed: a process reading the cache never sees half a file. The name
    // is this process's and thread's, and random: worker threads and runs beside this one
    // compile the same file at the same time.
    const partial = `${cached}.${process.pid}.${threadId}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      mkdirSync(CACHE_DIR, { recursive: true });
      writeFileSync(partial, code);
      renameSync(partial, cached);
      return { code, file: cached };
    } catch {
      // a cache that cannot be written costs time, nothing else
      try {
        rmSync(partial, { force: true });
      } catch {
        // no folder to write it in
      }
      return { code, file: null };
    }
  }
}

/**
 * The compiled form of `path` (whose text is `source`), from the cache or compiled into it now.
 * Also run by `npm test` before any file starts (warmCompileCache): files edited since the last
 * run are compiled once there, not by every test process that imports them, each loading esbuild.
 */
export async function compiled(path, source) {
  return (await compiledEntry(path, source)).code;
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:')) return nextLoad(url, context);
  const { pathname } = new URL(url);
  if (!pathname.endsWith('.ts') || pathname.endsWith('.d.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const { code, file } = await compiledEntry(path, readFileSync(path, 'utf8'));
  // Posted before the module runs, so before any of its frames can be in a stack: the map of the
  // text loaded now, not of the file as it may be by then. Only the cache file's name, as a rule;
  // the map itself (still encoded) when there is no cache file to read it back from.
  if (file) port?.postMessage({ url, file });
  else {
    const at = code.lastIndexOf(INLINE_MAP);
    port?.postMessage({ url, map: at < 0 ? null : code.slice(at + INLINE_MAP.length) });
  }
  return { format: 'module', source: code, shortCircuit: true };
}
