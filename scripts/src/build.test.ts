/**
 * The production build is what a box runs: bundle it, then run the bundled daemon (plain node,
 * no tsx) against the Modbus simulator with an unreachable broker.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { DIST_ENTRY, TSX_ENTRY, releaseEntry } from '@kedge/gateway/ota/entry.ts';
import { BASE_EXTERNAL, buildDist, ENTRIES, externals, registeredExternals, ROOT, type BuildResult } from './build.ts';
import { DRIVERS, type DriverDefinition } from '@kedge/gateway/drivers/registry.ts';
import { fakeMeter } from '@kedge/gateway/drivers/fixtures/fake-meter/index.ts';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { buildBundle } from './ota/build.ts';
import { LAZY_REQUIRES } from './build/lazy-requires.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const run = promisify(execFile);

// Inside the repository so that the externals (better-sqlite3, node-opcua) resolve from
// node_modules exactly as they do for dist/; node_modules/.cache is ignored by git.
const CACHE = join(ROOT, 'node_modules', '.cache');
mkdirSync(CACHE, { recursive: true });
const OUT = mkdtempSync(join(CACHE, 'kedge-build-test-'));
let built: BuildResult;

test.before(async () => {
  built = await buildDist({ outDir: OUT });
});
test.after(() => rmSync(OUT, { recursive: true, force: true }));

test('the build writes one ESM bundle per command and copies the runtime files the code opens', () => {
  for (const name of Object.keys(ENTRIES)) assert.ok(built.outputs[`${name}.mjs`] !== undefined, `dist/${name}.mjs missing`);
  assert.deepEqual(built.assets, [
    'cloud-sync/src/codec/sparkplug_b.proto',
    'device-profiles/profiles',
    'gateway/package.json',
    'gateway/src/web/ui',
  ]);
  assert.equal(readFileSync(join(OUT, 'assets/gateway/src/web/ui/i18n/ru.json'), 'utf8'), readFileSync(join(ROOT, 'gateway/src/web/ui/i18n/ru.json'), 'utf8'));
  // node-opcua stays external and is reached only through the OPC UA driver's dynamic import.
  const js = Object.keys(built.outputs).filter((f) => f.endsWith('.mjs'));
  const code = new Map(js.map((f) => [f, readFileSync(join(OUT, f), 'utf8')]));
  const opcuaChunk = js.find((f) => /^opcua-device-[\w-]+\.mjs$/.test(f));
  assert.ok(opcuaChunk, `no lazy OPC UA chunk among ${js.join(', ')}`);
  assert.deepEqual(js.filter((f) => /\bfrom\s*["']node-opcua[\w-]*["']/.test(code.get(f)!)), [opcuaChunk]);
  assert.deepEqual(js.filter((f) => code.get(f)!.includes(`import("./${opcuaChunk}")`)).length, 1);
  assert.ok(!js.some((f) => code.get(f)!.includes(`from"./${opcuaChunk}"`) || code.get(f)!.includes(`from "./${opcuaChunk}"`)), 'the OPC UA chunk is imported statically');
});

test("what stays external besides the gateway's own comes from the driver and sink definitions, so a new driver's native library needs no build change", async () => {
  // The registered drivers bring theirs: Modbus TCP and RTU both need serialport (once), OPC UA node-opcua.
  const registered = await registeredExternals();
  assert.deepEqual(registered, externals(DRIVERS, SINKS));
  assert.deepEqual(registered, [...BASE_EXTERNAL, 'serialport', '@serialport/*', 'node-opcua', 'node-opcua-*']);
  assert.deepEqual(
    DRIVERS.filter((d) => (d as DriverDefinition).externals?.includes('serialport')).map((d) => d.kind),
    ['modbus-tcp', 'modbus-rtu'],
  );
  // A fourth driver and a fourth sink with native libraries: their definitions alone add them.
  const withFixtures = externals([...DRIVERS, fakeMeter], [...SINKS, { ...tapeSink, externals: ['tape-native', 'serialport'] }]);
  assert.deepEqual(withFixtures, [...registered, 'mbus-native', 'tape-native']);
  assert.deepEqual(externals([], []), [...BASE_EXTERNAL]);
  // build.ts names no driver's library itself (comments aside): the hand list does not come back.
  const source = readFileSync(join(ROOT, 'scripts/src/build.ts'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const driverPackages = DRIVERS.flatMap((d) => (d as DriverDefinition).externals ?? []);
  assert.deepEqual(driverPackages.filter((p) => source.includes(`'${p}'`)), []);
  // In the bundle they stay imports of node_modules: modbus-serial (bundled) requires serialport.
  const js = Object.keys(built.outputs).filter((f) => f.endsWith('.mjs'));
  assert.ok(js.some((f) => /\(\s*"serialport"\s*\)|from\s*"serialport"/.test(readFileSync(join(OUT, f), 'utf8'))), 'serialport is not loaded from node_modules');
  assert.ok(!js.some((f) => readFileSync(join(OUT, f), 'utf8').includes('SerialPortStream')), 'serialport was bundled');
});

test('the bundled daemon checks a config and reports the version of gateway/package.json', async () => {
  const version = (JSON.parse(readFileSync(join(ROOT, 'gateway/package.json'), 'utf8')) as { version: string }).version;
  const check = await run(process.execPath, [join(OUT, 'gateway.mjs'), '--config', 'config/kedge.example.yaml', '--check'], { cwd: ROOT });
  assert.equal(check.stdout, 'config/kedge.example.yaml: OK (4 devices)\n');
  assert.equal((await run(process.execPath, [join(OUT, 'gateway.mjs'), '--version'])).stdout.trim(), version);
});

test('the bundled daemon polls the simulator into its log and serves the web UI while the broker is unreachable', async (t) => {
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const dir = tempDir(t, 'kedge-build-run-', CACHE);
  const webPort = await freePort();
  const deadBroker = await freePort();
  const config = simGatewayConfig({
    gatewayId: 'gw-dist',
    simPort: sim.port,
    brokerUrl: `mqtt://127.0.0.1:${deadBroker}`,
    dataDir: dir,
    web: { enabled: true, host: '127.0.0.1', port: webPort },
  });
  const configPath = join(dir, 'kedge.json');
  writeFileSync(configPath, JSON.stringify(config));
  const gw = await startProcess(process.execPath, [join(OUT, 'gateway.mjs'), '--config', configPath], {
    name: 'bundled gateway',
    cwd: dir,
    readyLine: /web UI: http:\/\/127\.0\.0\.1:\d+/,
    timeoutMs: 30_000,
  });
  t.after(() => gw.stop());

  const expected = (config.devices as Array<{ id: string; points: Array<{ id: string }> }>).flatMap((d) => d.points.map((p) => `${d.id}/${p.id}`)).sort();
  const db = new Database(join(dir, 'log.db'), { readonly: true, fileMustExist: true });
  t.after(() => db.close());
  const logged = () => db.prepare('SELECT DISTINCT p.key FROM readings r JOIN points p ON p.id = r.point ORDER BY p.key').pluck().all() as string[];
  await waitFor(() => logged().length === expected.length, { timeoutMs: 20_000, what: `readings of all ${expected.length} points in the log` });
  assert.deepEqual(logged(), expected);

  const health = await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${webPort}/healthz`);
    return res.status === 200 ? ((await res.json()) as { status: string; checks: Record<string, { ok: boolean }> }) : null;
  }, { timeoutMs: 15_000, what: '/healthz 200' });
  assert.equal(health.status, 'ok');
  assert.deepEqual(Object.fromEntries(Object.entries(health.checks).map(([k, v]) => [k, v.ok])), Object.fromEntries(Object.keys(health.checks).map((k) => [k, true])));

  const index = await fetch(`http://127.0.0.1:${webPort}/`);
  assert.equal(index.status, 200);
  assert.equal(await index.text(), readFileSync(join(ROOT, 'gateway/src/web/ui/index.html'), 'utf8'));
  // The catalog the UI loads: the base file from dist/assets with the drivers' own texts merged in.
  const catalog = (await (await fetch(`http://127.0.0.1:${webPort}/i18n/ru.json`)).json()) as Record<string, string>;
  assert.equal(catalog['nav.devices'], JSON.parse(readFileSync(join(ROOT, 'gateway/src/web/ui/i18n/ru.json'), 'utf8'))['nav.devices']);
  assert.equal(catalog['warn.points_overlap'], DRIVERS.find((d) => d.kind === 'modbus-tcp')!.messages!.ru['warn.points_overlap']);
  const docs = await fetch(`http://127.0.0.1:${webPort}/api/docs/json`);
  assert.equal(docs.status, 200);
  assert.ok('/healthz' in ((await docs.json()) as { paths: Record<string, unknown> }).paths);
  assert.doesNotMatch(gw.output(), /"level":[56]\d/, 'no error or fatal log record');
});

test('in the build every bundled file LAZY_REQUIRES names requires its stand-in, not the module it defers', () => {
  // The metafile dist/ leaves beside the chunks: every import edge esbuild resolved.
  const meta = JSON.parse(readFileSync(join(OUT, 'meta.json'), 'utf8')) as { inputs: Record<string, { imports: Array<{ path: string; kind: string; original?: string }> }> };
  const STAND_IN = 'kedge-lazy-require:';
  const standIns = Object.keys(meta.inputs).filter((k) => k.startsWith(STAND_IN));
  LAZY_REQUIRES.forEach((lazy, i) => {
    assert.ok(standIns.some((k) => k.startsWith(`${STAND_IN}${i}:`)), `no stand-in for ${lazy.specifier} in the build (lazyRequires() not among the plugins?)`);
    const importers = Object.keys(meta.inputs).filter((k) => !k.startsWith(STAND_IN) && lazy.importers.test(k));
    assert.ok(importers.length > 0, `none of ${lazy.importers} is bundled`);
    // Each importer's require of the specifier is the stand-in, which alone requires the real
    // module. (modbus-serial also requires serialport inside its connect functions: on use already.)
    for (const importer of importers) {
      const edges = meta.inputs[importer]!.imports.filter((imp) => imp.original === lazy.specifier);
      assert.deepEqual([...new Set(edges.map((e) => e.path))], [`${STAND_IN}${i}:${importer}`], `${importer} requires ${lazy.specifier}`);
      const real = meta.inputs[`${STAND_IN}${i}:${importer}`]!.imports.filter((imp) => imp.path !== '<runtime>');
      assert.equal(real.length, 1, `the stand-in for ${importer} requires ${real.map((r) => r.path).join(', ')}`);
    }
  });
});

/** GET over HTTPS that accepts the daemon's self-signed certificate; also returns the certificate served. */
function httpsGetSelfSigned(url: string): Promise<{ status: number; body: string; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { rejectUnauthorized: false }, (res) => {
      const cert = new X509Certificate((res.socket as TLSSocket).getPeerCertificate().raw);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

test('the bundled daemon serves its web UI over HTTPS with a self-signed certificate it generates, and a Modbus TCP box never maps the serial port addon', async (t) => {
  const sim = await startModbusSim();
  t.after(() => sim.close());
  const dir = tempDir(t, 'kedge-build-https-', CACHE);
  const webPort = await freePort();
  const config = simGatewayConfig({
    gatewayId: 'gw-dist-https',
    simPort: sim.port,
    brokerUrl: `mqtt://127.0.0.1:${await freePort()}`,
    dataDir: dir,
    // https: true on loopback is what a box off loopback gets by default (web/start-web.ts).
    web: { enabled: true, host: '127.0.0.1', port: webPort, https: true },
  });
  const configPath = join(dir, 'kedge.json');
  writeFileSync(configPath, JSON.stringify(config));
  const gw = await startProcess(process.execPath, [join(OUT, 'gateway.mjs'), '--config', configPath], {
    name: 'bundled gateway (https)',
    cwd: dir,
    // Either way the start of the UI ends: its URL, or the error it failed with.
    readyLine: /web UI certificate SHA-256 fingerprint: [0-9A-F:]+|web UI not started/,
    timeoutMs: 30_000,
  });
  t.after(() => gw.stop());
  assert.doesNotMatch(gw.output(), /web UI not started/, `the web UI did not start:\n${gw.output()}`);
  assert.match(gw.output(), new RegExp(`web UI: https://127\\.0\\.0\\.1:${webPort}/`));

  const health = await httpsGetSelfSigned(`https://127.0.0.1:${webPort}/healthz`);
  assert.equal(health.status, 200, health.body);
  const index = await httpsGetSelfSigned(`https://127.0.0.1:${webPort}/`);
  assert.equal(index.status, 200);
  assert.equal(index.body, readFileSync(join(ROOT, 'gateway/src/web/ui/index.html'), 'utf8'));
  // The certificate served is the one generated into the data directory, and the one announced.
  const generated = new X509Certificate(readFileSync(join(dir, 'web/tls/cert.pem'), 'utf8'));
  assert.equal(index.cert.fingerprint256, generated.fingerprint256);
  assert.match(gw.output(), new RegExp(`fingerprint: ${generated.fingerprint256}`));

  // modbus-serial has connected (a reading is in the log); its serial ports' stand-ins kept
  // serialport, and with it the native addon, unloaded (scripts/src/build/lazy-requires.ts).
  const db = new Database(join(dir, 'log.db'), { readonly: true, fileMustExist: true });
  t.after(() => db.close());
  await waitFor(() => (db.prepare('SELECT count(*) FROM readings').pluck().get() as number) > 0, { timeoutMs: 20_000, what: 'a reading in the log' });
  if (process.platform === 'linux') {
    const mapped = readFileSync(`/proc/${gw.pid}/maps`, 'utf8').split('\n').filter((l) => l.endsWith('.node')).map((l) => l.slice(l.indexOf('/')));
    assert.ok(mapped.some((f) => f.includes('better-sqlite3')), `the maps list native addons (better-sqlite3 among them): ${mapped.join(', ')}`);
    assert.deepEqual([...new Set(mapped.filter((f) => /serialport/.test(f)))], []);
  }
  assert.doesNotMatch(gw.output(), /"level":[56]\d/, 'no error or fatal log record');
});

test('an OTA bundle built beside dist/ ships the bundle and the package.json files, runs dist, and rebuilds without dev dependencies', async (t) => {
  const root = tempDir(t, 'kedge-build-ota-', CACHE);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'kedge', version: '0.3.0', workspaces: ['gateway', 'cloud-sync'] }));
  writeFileSync(join(root, 'package-lock.json'), '{}');
  for (const w of ['gateway', 'cloud-sync']) {
    mkdirSync(join(root, w, 'src'), { recursive: true });
    writeFileSync(join(root, w, 'package.json'), '{}');
    writeFileSync(join(root, w, 'src', 'main.ts'), '');
  }
  assert.deepEqual(releaseEntry(root), TSX_ENTRY);
  mkdirSync(join(root, 'dist', 'assets'), { recursive: true });
  writeFileSync(join(root, 'dist', 'gateway.mjs'), '');
  writeFileSync(join(root, 'dist', 'assets', 'x.json'), '{}');
  assert.deepEqual(releaseEntry(root), DIST_ENTRY);
  const { privateKey } = generateKeyPairSync('ed25519');
  const manifest = await buildBundle({
    root,
    out: join(root, 'out.tar.gz'),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    version: '0.3.0',
    minPreviousVersion: '0.0.0',
    nodeModules: false,
  });
  assert.deepEqual(manifest.entry, DIST_ENTRY);
  assert.deepEqual(manifest.files.map((f) => f.path).sort(), ['cloud-sync/package.json', 'dist/assets/x.json', 'dist/gateway.mjs', 'gateway/package.json', 'package-lock.json', 'package.json']);
  assert.deepEqual(manifest.rebuild?.command, ['npm', 'ci', '--no-audit', '--no-fund', '--omit=dev']);
});
