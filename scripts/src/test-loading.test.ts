/**
 * How `npm test` loads code: the test files through ts-loader.mjs (esbuild's compile, cached by
 * content), the programs they start through testkit's nodeEntry (this run's bundles, else tsx).
 * Both are shortcuts for speed; these tests hold them to never running code older than its source.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { nodeEntry, TEST_BUNDLES_ENV } from '@kedge/testkit/entry.ts';

const LOADER = fileURLToPath(new URL('./ts-loader.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

function tempDir(t: test.TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-test-loading-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const program = (answer: number) => `import { helper } from './helper.ts';
enum Unit { Litre = 1, Cubic = 1000 }
const volume: number = ${answer} * Unit.Cubic;
console.log(helper(volume));
`;

test('the test loader runs TypeScript (enums, types, .ts imports), and an edited file runs as edited, not from the cache', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'helper.ts'), 'export const helper = (n: number): string => `volume ${n}`;\n');
  const main = join(dir, 'main.ts');
  writeFileSync(main, program(2));
  assert.equal((await run(process.execPath, ['--import', LOADER, main])).stdout, 'volume 2000\n');
  writeFileSync(main, program(3));
  assert.equal((await run(process.execPath, ['--import', LOADER, main])).stdout, 'volume 3000\n');
  // Back to a version compiled before: served from the cache, still the file as it is now.
  writeFileSync(main, program(2));
  assert.equal((await run(process.execPath, ['--import', LOADER, main])).stdout, 'volume 2000\n');
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The stderr of running `main`, which must throw. */
async function failure(main: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const err = await run(process.execPath, ['--import', LOADER, main], { env }).then(
    () => assert.fail('the file did not throw'),
    (e: { stderr: string }) => e,
  );
  return err.stderr;
}

/** Throws from its line 5; compiled, the interface gone, that is line 2. */
const THROWS = ['interface Reading {', '  value: number;', '}', 'const r: Reading = { value: 1 };', 'throw new Error(`bad ${r.value}`);', ''].join('\n');

test('a stack trace under the test loader names the line of the .ts file', async (t) => {
  const dir = tempDir(t);
  const main = join(dir, 'throws.ts');
  writeFileSync(main, THROWS);
  assert.match(await failure(main), new RegExp(`at ${escape(pathToFileURL(main).href)}:5:7\n`));
});

test('a stack trace names the .ts line also when the compile cache cannot be written', async (t) => {
  const dir = tempDir(t);
  const main = join(dir, 'throws.ts');
  writeFileSync(main, THROWS);
  // A folder under a file: not creatable, even by root (whom a read-only folder does not stop).
  writeFileSync(join(dir, 'a-file'), '');
  const cache = join(dir, 'a-file', 'cache');
  assert.match(await failure(main, { ...process.env, KEDGE_TS_CACHE_DIR: cache }), new RegExp(`at ${escape(pathToFileURL(main).href)}:5:7\n`));
});

test('a stack trace names the line of the .ts text that was loaded, though the file was edited since', async (t) => {
  const dir = tempDir(t);
  const thrower = join(dir, 'thrower.ts');
  writeFileSync(thrower, ['interface Reading {', '  value: number;', '}', 'export function fail(r: Reading): never {', '  throw new Error(`bad ${r.value}`);', '}', ''].join('\n'));
  const main = join(dir, 'main.ts');
  // Edited after it was loaded, before it throws: lines added above, none of its own changed.
  writeFileSync(main, ["import { writeFileSync, readFileSync } from 'node:fs';", "import { fail } from './thrower.ts';", `const path = ${JSON.stringify(thrower)};`, "writeFileSync(path, '// edited\\n'.repeat(10) + readFileSync(path, 'utf8'));", 'fail({ value: 1 });', ''].join('\n'));
  assert.match(await failure(main), new RegExp(`at fail \\(${escape(pathToFileURL(thrower).href)}:5:9\\)`));
});

test('nodeEntry starts a bundle the run named, and the source through tsx when there is none', (t) => {
  const saved = process.env[TEST_BUNDLES_ENV];
  t.after(() => {
    if (saved === undefined) delete process.env[TEST_BUNDLES_ENV];
    else process.env[TEST_BUNDLES_ENV] = saved;
  });
  process.env[TEST_BUNDLES_ENV] = JSON.stringify({ 'gateway/src/main.ts': '/run/bundles/gateway.mjs' });
  assert.deepEqual(nodeEntry('gateway/src/main.ts'), ['/run/bundles/gateway.mjs']);
  assert.deepEqual(nodeEntry(join(ROOT, 'gateway/src/main.ts')), ['/run/bundles/gateway.mjs'], 'an absolute path names the same entry');
  assert.deepEqual(nodeEntry('cloud-sync/src/ingest/main.ts'), ['--import', 'tsx', join(ROOT, 'cloud-sync/src/ingest/main.ts')], 'not bundled: its source');
  delete process.env[TEST_BUNDLES_ENV];
  assert.deepEqual(nodeEntry('gateway/src/main.ts'), ['--import', 'tsx', join(ROOT, 'gateway/src/main.ts')]);
  process.env[TEST_BUNDLES_ENV] = '{not json';
  assert.throws(() => nodeEntry('gateway/src/main.ts'), new RegExp(TEST_BUNDLES_ENV));
});

test('under npm test the bundles children start from exist and were built for this run', { skip: !process.env[TEST_BUNDLES_ENV] && 'not started by npm test with bundles' }, async () => {
  const bundles = JSON.parse(process.env[TEST_BUNDLES_ENV]!) as Record<string, string>;
  assert.ok(bundles['gateway/src/main.ts'], 'the daemon is bundled');
  for (const [source, bundle] of Object.entries(bundles)) {
    assert.deepEqual(nodeEntry(source), [bundle]);
    // The folder carries the runner's pid: no run uses another run's (older) bundles.
    assert.match(bundle, /node_modules\/\.cache\/kedge\/test-bundles-\d+\//);
  }
  const { stdout } = await run(process.execPath, [bundles['gateway/src/main.ts']!, '--help'], { cwd: ROOT });
  assert.match(stdout, /--config/);
});
