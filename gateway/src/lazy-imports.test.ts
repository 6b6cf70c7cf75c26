/**
 * Importing a module loads what its callers use at once, nothing it only needs on first use: the
 * web server and the config no device or uplink form (built by z.toJSONSchema when the form API
 * asks), the web server and the OTA agent and its test kit no mqtt.js (until they connect),
 * the embedded broker no aedes (until one starts). Most test files import these and never use
 * those, each in a process of its own. One child process imports them one after another under a
 * preload that records every module as it is resolved (drivers/fixtures/loaded-modules), and
 * then uses each of them once: the control that the recording sees what a first use loads.
 * The daemon's side (what a running box loads): lazy-imports.daemon.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import test from 'node:test';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = fileURLToPath(new URL('./', import.meta.url));
const CLOUD = fileURLToPath(new URL('../../cloud-sync/src/', import.meta.url));
const RECORD = fileURLToPath(new URL('./drivers/fixtures/loaded-modules/record.mjs', import.meta.url));
const url = (file: string) => pathToFileURL(file).href;

/** The steps of the child, in order: what it imports (or does), and what that must not load. */
const STEPS = [
  { step: 'import broker/embedded.ts', module: join(CLOUD, 'broker/embedded.ts'), mustNotLoad: ['aedes'] },
  { step: 'import ota/testing.ts (and the agent)', module: join(SRC, 'ota/testing.ts'), mustNotLoad: ['mqtt'] },
  { step: 'import config/load.ts', module: join(SRC, 'config/load.ts'), mustNotLoad: ['forms'] },
  { step: 'import web/server.ts', module: join(SRC, 'web/server.ts'), mustNotLoad: ['mqtt', 'forms'] },
] as const;

const FORM_MODULES = [
  ...['modbus-tcp', 'modbus-rtu', 'opcua'].map((d) => join(SRC, 'drivers', d, 'form.ts')),
  ...['mqtt', 'http', 'sparkplug'].map((s) => join(CLOUD, 'north', s, 'form.ts')),
];

/**
 * The child: per step, the modules it resolved during that step, in a file (its stdout has node:test's
 * report: the OTA test kit imports node:test).
 */
const CHILD = `
import { readFileSync, writeFileSync } from 'node:fs';
const record = process.env.KEDGE_LOADED_MODULES_FILE + '.esm';
let seen = 0;
const steps = {};
const note = (step) => {
  const lines = readFileSync(record, 'utf8').split('\\n').filter(Boolean);
  steps[step] = lines.slice(seen);
  seen = lines.length;
};
for (const [step, module] of ${JSON.stringify(STEPS.map((s) => [s.step, url(s.module)]))}) {
  await import(module);
  note(step);
}
// First uses: a broker started, the forms asked for, an OTA agent started (its broker refuses).
const { startEmbeddedBroker } = await import(${JSON.stringify(url(join(CLOUD, 'broker/embedded.ts')))});
await (await startEmbeddedBroker({ port: 0 })).close();
note('start an embedded broker');
const { DRIVERS } = await import(${JSON.stringify(url(join(SRC, 'drivers/registry.ts')))});
const { SINKS } = await import(${JSON.stringify(url(join(CLOUD, 'north/registry.ts')))});
for (const d of [...DRIVERS, ...SINKS]) await d.form?.();
note('ask every driver and sink for its form');
const { OtaAgent } = await import(${JSON.stringify(url(join(SRC, 'ota/agent.ts')))});
const quiet = { info() {}, warn() {} };
const agent = new OtaAgent({ identity: { prefix: 'kedge/v1', region: 'r', municipality: 'm', gateway: 'g' }, slotsDir: '/nonexistent', incomingDir: '/nonexistent', trustedKeys: [], onInstalled() {}, logger: quiet, mqtt: { url: 'mqtt://127.0.0.1:1', clientId: 'lazy-probe' } });
agent.start();
await agent.stop();
note('start and stop an OTA agent');
writeFileSync(process.env.KEDGE_LOADED_MODULES_FILE + '.steps', JSON.stringify(steps));
`;

const packageOf = (file: string) => /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)[/\\]/.exec(file)?.[1];

function whatLoaded(urls: string[]): Set<string> {
  const files = urls.filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u));
  const out = new Set(files.map(packageOf).filter((p): p is string => p !== undefined));
  if (files.some((f) => FORM_MODULES.includes(f))) out.add('forms');
  return out;
}

/** The child imports and uses four modules once: seconds idle, far more on a loaded 2-core box. */
const CHILD_TIMEOUT_MS = 120_000;

test('importing the web server, the config, the OTA agent and the embedded broker loads no form, no mqtt.js and no aedes; their first use does', async (t) => {
  const record = join(tempDir(t, 'kedge-lazy-imports-'), 'loaded.json');
  // This test's own loader (npm test's, or tsx by hand), then the recording.
  const loader = process.execArgv.flatMap((a, i, all) => (all[i - 1] === '--import' ? ['--import', a] : []));
  await promisify(execFile)(process.execPath, [...loader, '--import', RECORD, '--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    env: { ...process.env, KEDGE_LOADED_MODULES_FILE: record },
    // Run by hand a hang must end too, and take the child with it.
    timeout: CHILD_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  const steps = JSON.parse(readFileSync(`${record}.steps`, 'utf8')) as Record<string, string[]>;
  for (const s of STEPS) {
    const loaded = whatLoaded(steps[s.step]!);
    assert.deepEqual(s.mustNotLoad.filter((p) => loaded.has(p)), [], `${s.step} loaded what only a first use needs`);
  }
  // The controls: each first use loads what the imports did not, and only that (a form built
  // by a promise an import left running would be resolved while the broker starts).
  const first = (step: string) => [...whatLoaded(steps[step]!)].filter((p) => ['aedes', 'forms', 'mqtt'].includes(p));
  assert.deepEqual(first('start an embedded broker'), ['aedes']);
  assert.deepEqual(first('ask every driver and sink for its form'), ['forms']);
  assert.deepEqual(first('start and stop an OTA agent'), ['mqtt']);
  assert.ok(readFileSync(`${record}.esm`, 'utf8').includes(url(join(SRC, 'web/server.ts'))), 'the recording did not see the web server');
});
