/**
 * `npm test`: typechecks, then runs every `*.test.ts` of the workspaces with node's test
 * runner, and ends with the one line CI reads: `N passed, N failed`.
 * Arguments narrow the run to files whose path contains one of them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKSPACES = ['testkit', 'gateway', 'cloud-sync', 'device-profiles', 'firmware-ts', 'scripts', 'node-red-contrib-kedge'];

function findTests(dir: string): string[] {
  let out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(findTests(path));
    else if (e.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const filters = process.argv.slice(2);
const files = WORKSPACES.flatMap((w) => findTests(join(ROOT, w)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

let passed = 0;
let failed = 0;

if (filters.length === 0) {
  process.stdout.write('typecheck: tsc --noEmit\n');
  const code = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json'), '--noEmit']);
  if (code === 0) passed++;
  else failed++;
  process.stdout.write(`typecheck: ${code === 0 ? 'ok' : 'FAILED'}\n`);
}

if (files.length === 0) {
  process.stdout.write(`no test files match ${filters.join(' ')}\n`);
  failed++;
} else {
  process.stdout.write(`running ${files.length} test files:\n${files.map((f) => `  ${relative(ROOT, f)}`).join('\n')}\n`);
  const tapDir = mkdtempSync(join(tmpdir(), 'kedge-tap-'));
  const tapFile = join(tapDir, 'report.tap');
  await run(process.execPath, [
    '--import',
    'tsx',
    '--test',
    // The suites wait on servers more than on the CPU; 3 files at a time keeps 2 cores busy.
    '--test-concurrency=3',
    // Per file (each runs in its own process). The chaos files start the daemon up to 20
    // times: about 40 s on an idle 2-core box, several times that on a loaded one. A hung
    // file still fails, after 10 minutes.
    '--test-timeout=600000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ]);
  const tap = readFileSync(tapFile, 'utf8');
  rmSync(tapDir, { recursive: true, force: true });
  // The run's own summary is the last unindented `# pass N` line.
  const count = (name: string) => Number([...tap.matchAll(new RegExp(`^# ${name} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
  const p = count('pass');
  const f = count('fail') + count('cancelled');
  if (p + f === 0) failed++; // the runner died before reporting: that is a failure, not a pass
  passed += p;
  failed += f;
}

process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
