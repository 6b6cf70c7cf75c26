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
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE_DIR = join(ROOT, 'node_modules/.cache/kedge/ts');
const TSCONFIG = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'));

/** In the cache key: a change of the compiler or of its options compiles every file again. */
let version;
let esbuild;

async function compile(path, source) {
  esbuild ??= await import('esbuild');
  const { code } = await esbuild.transform(source, {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcefile: path,
    // Stack traces name the .ts line (ts-loader.mjs turns source maps on, as tsx does).
    sourcemap: 'inline',
    sourcesContent: false,
    tsconfigRaw: { compilerOptions: TSCONFIG.compilerOptions },
  });
  return code;
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:')) return nextLoad(url, context);
  const { pathname } = new URL(url);
  if (!pathname.endsWith('.ts') || pathname.endsWith('.d.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const source = readFileSync(path, 'utf8');
  version ??= JSON.parse(readFileSync(join(ROOT, 'node_modules/esbuild/package.json'), 'utf8')).version + JSON.stringify(TSCONFIG.compilerOptions);
  const key = createHash('sha256').update(version).update('\0').update(path).update('\0').update(source).digest('hex');
  const cached = join(CACHE_DIR, `${key}.mjs`);
  let code;
  try {
    code = readFileSync(cached, 'utf8');
  } catch {
    code = await compile(path, source);
    try {
      mkdirSync(CACHE_DIR, { recursive: true });
      // Written aside and renamed: a process reading the cache never sees half a file.
      const partial = `${cached}.${process.pid}.tmp`;
      writeFileSync(partial, code);
      renameSync(partial, cached);
    } catch {
      // a cache that cannot be written costs time, nothing else
    }
  }
  return { format: 'module', source: code, shortCircuit: true };
}
