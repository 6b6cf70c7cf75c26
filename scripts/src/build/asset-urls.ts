import { readFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import type { Plugin } from 'esbuild';

/** Where the bundles find their runtime files: `<outdir>/assets/<path relative to the repo root>`. */
export const ASSETS_DIR = 'assets';

/** `new URL('./x', import.meta.url)` / `new URL('../x/', import.meta.url)` with a literal relative path. */
const ASSET_URL = /new URL\(\s*(['"])(\.{1,2}\/[^'"]*)\1\s*,\s*import\.meta\.url\s*\)/g;

/**
 * Keeps `new URL('<relative>', import.meta.url)` working after bundling. From src, such a URL
 * points beside the module; in dist every module lives in a chunk directly under the outdir,
 * so the URL is rewritten to `./assets/<the same file relative to the repo root>` and the file
 * (or folder) is recorded in `assets` to be copied there. Source files stay as they are, and a
 * new runtime file needs no build change. Any other use of `import.meta.url` in bundled kedge
 * code (a path built with dirname/join, an `argv[1] === this file` check, which would be true once
 * inlined into an entry bundle) would silently misbehave in dist, so it fails the build.
 */
export function assetUrls(root: string, assets: Set<string>): Plugin {
  const kedgeSource = (path: string) => !path.split(sep).includes('node_modules') && path.startsWith(root + sep);
  return {
    name: 'kedge-asset-urls',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!kedgeSource(args.path)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const errors: string[] = [];
        const contents = source.replace(ASSET_URL, (_match, quote: string, rel: string) => {
          const target = relative(root, resolve(dirname(args.path), rel));
          if (target.startsWith('..')) {
            errors.push(`${rel} resolves outside the repository (${target})`);
            return _match;
          }
          const posix = target.split(sep).join('/');
          assets.add(posix);
          return `new URL(${quote}./${ASSETS_DIR}/${posix}${rel.endsWith('/') ? '/' : ''}${quote}, import.meta.url)`;
        });
        for (const line of contents.split('\n')) {
          // createRequire(import.meta.url) resolves from dist/ up to the same node_modules: still right.
          const rest = line.replace(ASSET_URL, '').replace(/createRequire\(import\.meta\.url\)/g, '');
          // Also an entry-point check (argv[1] === this file): inlined into dist/gateway.mjs it would be true.
          if (rest.includes('import.meta.url') && !/^\s*(\/\/|\*)/.test(rest)) {
            errors.push(`unsupported import.meta.url use (write new URL('./file', import.meta.url)): ${line.trim()}`);
          }
        }
        if (errors.length > 0) return { errors: errors.map((text) => ({ text: `${relative(root, args.path)}: ${text}` })) };
        return { contents, loader: 'ts' };
      });
    },
  };
}
