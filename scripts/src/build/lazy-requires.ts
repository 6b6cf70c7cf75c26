/**
 * An esbuild plugin: three `require()`s inside bundled CommonJS libraries that load code a box
 * seldom runs, at module start-up or on the first connect, are replaced by stand-ins that load
 * the real module on first use. A bundled CommonJS module runs only when something requires it
 * (esbuild's `__commonJS` wrapper), so the stand-in's `require` defers all of its execution;
 * the source text stays in the chunk.
 *
 * - modbus-serial's index requires its serial ports (`rtubufferedport`, `serverserial`), which
 *   require `serialport` (external: a native addon, ~1 MB of heap and its mapped .node) at load.
 *   A Modbus TCP-only box never opens a serial port. The stand-in's `SerialPort` constructs the
 *   real class (`new` returns the real instance) and its `list()` the real list.
 * - mqtt's `connect()` requires its WebSocket stream builder (the `ws` package) on the first
 *   connect whatever the URL's protocol; the stand-in's builders call the real ones.
 * - mqtt's TCP and TLS stream builders require its SOCKS proxy client (`socks`, `ip-address`,
 *   `smart-buffer`) at load; kedge never sets a proxy, the stand-in opens one when mqtt does.
 *
 * What each stand-in exports is what its importer uses (read in the library's source; checked
 * by lazy-requires.test.ts, which also proves each real module still loads on use).
 */
import { dirname, join, relative } from 'node:path';
import type { Plugin } from 'esbuild';

const NAMESPACE = 'kedge-lazy-require';

interface LazyRequire {
  /** The specifier as the library writes it. */
  specifier: string;
  /** The importing files, relative to node_modules (posix separators). */
  importers: RegExp;
  /** The stand-in's CommonJS source; `load()` requires the real module. */
  standIn: string;
}

export const LAZY_REQUIRES: readonly LazyRequire[] = [
  {
    specifier: 'serialport',
    importers: /node_modules\/modbus-serial\/(ports\/rtubufferedport|ports\/asciiport|servers\/serverserial)\.js$/,
    standIn: `
class SerialPort {
  constructor(...args) { return new (load().SerialPort)(...args); }
  static list() { return load().SerialPort.list(); }
}
module.exports = { SerialPort };`,
  },
  {
    specifier: './ws',
    importers: /node_modules\/mqtt\/build\/lib\/connect\/index\.js$/,
    standIn: `
module.exports = {
  streamBuilder: (...args) => load().streamBuilder(...args),
  browserStreamBuilder: (...args) => load().browserStreamBuilder(...args),
};`,
  },
  {
    specifier: './socks',
    importers: /node_modules\/mqtt\/build\/lib\/connect\/(tcp|tls)\.js$/,
    standIn: `
Object.defineProperty(exports, '__esModule', { value: true });
exports.default = (...args) => load().default(...args);`,
  },
];

const posix = (p: string) => p.split('\\').join('/');

export function lazyRequires(): Plugin {
  return {
    name: 'kedge-lazy-requires',
    setup(build) {
      // Keys of the stand-ins relative to the build's folder: no machine's path in dist/'s maps.
      const importerOf = new Map<string, string>();
      const root = build.initialOptions.absWorkingDir ?? process.cwd();
      const specifiers = new Set(LAZY_REQUIRES.map((l) => l.specifier));
      const filter = new RegExp(`^(${[...specifiers].map((s) => s.replace(/[./]/g, '\\$&')).join('|')})$`);
      build.onResolve({ filter }, (args) => {
        // The stand-in's own require of the real module resolves as usual.
        if (args.namespace === NAMESPACE || args.kind !== 'require-call') return undefined;
        const i = LAZY_REQUIRES.findIndex((l) => l.specifier === args.path && l.importers.test(posix(args.importer)));
        if (i < 0) return undefined;
        const key = `${i}:${posix(relative(root, args.importer))}`;
        importerOf.set(key, args.importer);
        return { path: key, namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => {
        const colon = args.path.indexOf(':');
        const lazy = LAZY_REQUIRES[Number(args.path.slice(0, colon))]!;
        const importer = importerOf.get(args.path)!;
        // A relative specifier names a file beside its importer: required by absolute path.
        const real = lazy.specifier.startsWith('.') ? join(dirname(importer), lazy.specifier) : lazy.specifier;
        const contents = `let real;\nconst load = () => (real ??= require(${JSON.stringify(posix(real))}));\n${lazy.standIn}\n`;
        return { contents, loader: 'js', resolveDir: dirname(importer) };
      });
    },
  };
}
