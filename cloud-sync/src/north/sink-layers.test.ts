/**
 * A sink is one folder that talks only to the layer below it (issue 16): a sink folder
 * (north/<sink>/, north/fixtures/<sink>/: an index.ts exporting a SinkDefinition) imports no
 * other sink folder, and what the sinks share (sink.ts, the window, broker-link/, the kits)
 * imports no sink folder, so nothing points from the shared layer up into one sink. registry.ts
 * lists the sinks; legacy-uplink.ts reads the deprecated `uplink:` section, which was only ever
 * an mqtt or a Sparkplug entry: they are the named places that compose sink folders. The codecs
 * (the layer below the north) import nothing of the north. Read from the sources, every import
 * (static, type-only, re-export, dynamic), so a new import pointing the wrong way fails here
 * with the file named.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';

const NORTH = fileURLToPath(new URL('./', import.meta.url));
const SRC = resolve(NORTH, '..');

/** The files outside the sink folders allowed to import them, and why (see the header). */
const COMPOSERS = ['north/registry.ts', 'north/legacy-uplink.ts'];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : files(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every import of a file; relative ones resolved to paths under cloud-sync/src/ (posix). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specs.map((s) => (s.startsWith('.') ? relative(SRC, resolve(dirname(file), s)).split(sep).join('/') : s));
}

const rel = (f: string) => relative(SRC, f).split(sep).join('/');

/** Sink folders: under north/, an index.ts that defines a sink. */
function sinkFolders(): string[] {
  return files(NORTH)
    .filter((f) => f.endsWith(`${sep}index.ts`) && /\bdefineSink\(/.test(readFileSync(f, 'utf8')))
    .map((f) => rel(dirname(f)));
}

type Graph = ReadonlyMap<string, readonly string[]>;

/** Imports that break the layering of `graph` (file -> its imports), as `from -> to`. */
function layerOffenders(graph: Graph, folders: readonly string[], composers: readonly string[] = COMPOSERS): string[] {
  const folderOf = (f: string) => folders.find((d) => f.startsWith(`${d}/`));
  const isTest = (f: string) => f.endsWith('.test.ts');
  return [...graph].flatMap(([from, deps]) => {
    const own = folderOf(from);
    return deps.flatMap((to) => {
      const target = to.startsWith('@kedge/cloud-sync/') ? to.slice('@kedge/cloud-sync/'.length) : to;
      const into = folderOf(target);
      // A sink folder, tests included, reaches no sibling sink folder.
      if (own !== undefined) return into !== undefined && into !== own ? [`${from} -> ${target}`] : [];
      // The codecs are below the north: nothing of it.
      if (from.startsWith('codec/') && target.startsWith('north/')) return [`${from} -> ${target}`];
      // The shared layer's product files reach no sink folder (suites run over every sink may).
      if (from.startsWith('north/') && into !== undefined && !isTest(from) && !composers.includes(from)) return [`${from} -> ${target}`];
      return [];
    });
  });
}

const GRAPH: Graph = new Map([...files(NORTH), ...files(join(SRC, 'codec'))].map((f) => [rel(f), importsOf(f)]));
const FOLDERS = sinkFolders();

test('the reader finds every sink folder and the imports the checks rely on', () => {
  assert.deepEqual([...FOLDERS].sort(), ['north/fixtures/tape', 'north/http', 'north/mqtt', 'north/sparkplug']);
  assert.ok(GRAPH.get('north/registry.ts')?.includes('north/mqtt/index.ts'), 'a relative import, resolved');
  assert.ok(GRAPH.get('north/sparkplug/create.ts')?.includes('north/sparkplug/sparkplug-uplink.ts'), 'a dynamic import is read');
  assert.ok(GRAPH.get('north/sink.ts')?.includes('north/broker-link/link.ts'), 'a type-only import is read');
  for (const c of COMPOSERS) assert.ok(existsSync(join(SRC, c)), `${c} exists`);
});

test('no sink folder imports another, the shared north imports no sink folder, the codecs import no north', () => {
  assert.deepEqual(layerOffenders(GRAPH, FOLDERS), []);
});

test('the check fails on the imports that were there before (sibling sinks, the interface into a sink)', () => {
  const before: Graph = new Map([
    ['north/sink.ts', ['north/mqtt/log-publisher.ts', 'north/window.ts']],
    ['north/mqtt/schema.ts', ['north/sparkplug/schema.ts', 'north/broker-link/shape.ts']],
    ['north/sparkplug/sparkplug-uplink.ts', ['north/mqtt/log-publisher.ts']],
    ['north/sparkplug/presence-order.test.ts', ['@kedge/cloud-sync/north/mqtt/uplink.ts']],
    ['codec/sparkplug.ts', ['north/sparkplug/payload.ts']],
    ['north/registry.ts', ['north/mqtt/index.ts']],
    ['north/transport-contract.test.ts', ['north/http/http-transport.ts']],
    ['north/mqtt/create.ts', ['north/broker-link/session-options.ts', 'north/mqtt/uplink.ts']],
  ]);
  assert.deepEqual(layerOffenders(before, ['north/mqtt', 'north/sparkplug', 'north/http']), [
    'north/sink.ts -> north/mqtt/log-publisher.ts',
    'north/mqtt/schema.ts -> north/sparkplug/schema.ts',
    'north/sparkplug/sparkplug-uplink.ts -> north/mqtt/log-publisher.ts',
    'north/sparkplug/presence-order.test.ts -> north/mqtt/uplink.ts',
    'codec/sparkplug.ts -> north/sparkplug/payload.ts',
  ]);
  // registry.ts is a composer only by name: the same import from another file is refused.
  assert.deepEqual(layerOffenders(new Map([['north/window.ts', ['north/mqtt/index.ts']]]), ['north/mqtt']), ['north/window.ts -> north/mqtt/index.ts']);
});

test('the types the gateway and the sinks share are declared once, by the north (the lower layer); no closed union of sinks is left', () => {
  const ROOT = resolve(SRC, '../..');
  const sources = [...files(SRC), ...files(join(ROOT, 'gateway/src'))].filter((f) => !f.endsWith('.test.ts'));
  const declaring = (name: string) =>
    sources.filter((f) => new RegExp(`^\\s*export\\s+(interface\\s+${name}\\b|type\\s+${name}\\s*=)`, 'm').test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f).split(sep).join('/'));
  assert.deepEqual(declaring('BrokerConnection'), ['cloud-sync/src/north/broker-link/link.ts']);
  assert.deepEqual(declaring('SinkStatusBase'), ['cloud-sync/src/north/sink.ts']);
  assert.deepEqual(declaring('BrokerSinkBase'), ['cloud-sync/src/north/broker-link/link.ts']);
  // The unions that named the sinks (a new sink had to be added to them) are gone.
  assert.deepEqual([...declaring('BrokerSinkConfig'), ...declaring('SinkStatus')], []);
  // The reader sees a declaration when there is one (and a re-export is none).
  assert.ok(declaring('GatewayConfig').includes('gateway/src/config/schema.ts'));
  assert.ok(!declaring('BrokerConnection').includes('gateway/src/mqtt-connection.ts'), 'mqtt-connection.ts re-exports the type');
});
