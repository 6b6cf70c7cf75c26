/**
 * Where ts-hooks.mjs keeps a compiled `.ts` file: one file per path and content (and compiler
 * version and options), and how it compiles one. Shared with ts-loader.mjs, which reads the
 * source maps back from those files.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Elsewhere only for the test of a cache that cannot be written (test-loading.test.ts). */
export const CACHE_DIR = process.env.KEDGE_TS_CACHE_DIR || join(ROOT, 'node_modules/.cache/kedge/ts');
export const TSCONFIG = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'));

/** esbuild's transform options but `sourcefile`. */
export const TRANSFORM_OPTIONS = {
  loader: 'ts',
  format: 'esm',
  target: 'node20',
  // Stack traces name the .ts line: ts-loader.mjs maps them through this.
  sourcemap: 'inline',
  sourcesContent: false,
  tsconfigRaw: { compilerOptions: TSCONFIG.compilerOptions },
};

/** How esbuild's inline map starts, at the end of a compiled file. */
export const INLINE_MAP = '//# sourceMappingURL=data:application/json;base64,';

/** In the cache key: a change of the compiler or of its options compiles every file again. */
let version;

/** The compiled file of `source` read from `path`. */
export function compiledPath(path, source) {
  version ??= JSON.parse(readFileSync(join(ROOT, 'node_modules/esbuild/package.json'), 'utf8')).version + JSON.stringify(TSCONFIG.compilerOptions);
  const key = createHash('sha256').update(version).update('\0').update(path).update('\0').update(source).digest('hex');
  return join(CACHE_DIR, `${key}.mjs`);
}
