/**
 * The commands the READMEs print, as a new user copies them, run from a fresh copy of the
 * repository (only what git tracks or would track: see testing/fresh-copy.ts), so a command
 * relying on an ignored or local file fails here. Every command line of the sh blocks of
 * README.md and the Modbus README must have a way it is run below (a new one fails the
 * test until it gets one): quick ones (--check, --help, npm scripts) run to their end;
 * long-running ones (`npm start`, the pieces by hand) start, reach their ready line, prove
 * they do their job (the ingest stores readings the daemon polled from the simulator through
 * the broker; the profile simulators answer a Modbus read and an OPC UA browse) and are
 * stopped by pid. The `$ ...` transcripts of plain blocks run against the files they
 * describe and must print what they show. The center's SQL example runs against a real
 * center database.
 *
 * Substituted, and only these: the fixed ports of the printed commands (1883, 5020, 5021,
 * 4840, and the same ports in the copy's config/kedge.example.yaml) by free ones, the
 * placeholder hosts `broker` and `host` by 127.0.0.1, the daemon's web port by
 * KEDGE_WEB_PORT=0 (a free one), and `--tcp <port>` of the profile simulator by `--opcua
 * <port>` for the OPC UA variant its comment names; and `--import tsx` by the test loader, or
 * for the daemon and the ingest by their test bundle, where a test's title says so (see
 * viaLoader, viaBundle). Every entry file a printed line starts runs
 * through tsx as printed at least once: its first quick line, else its `--help` (browse.ts:
 * its printed run); `npm start` and the npm scripts go through tsx too.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import ModbusSerial from 'modbus-serial';
import { IngestStore } from '@kedge/cloud-sync/ingest/store.ts';
import { QUALITIES } from '@kedge/cloud-sync/model.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { freshCopy, type FreshCopy } from '@kedge/testkit/fresh-copy.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { afterEverything } from '@kedge/testkit/temp-dirs.ts';
import { startProcess, type ManagedProcess } from '@kedge/testkit/proc.ts';
import { waitFor } from '@kedge/testkit/wait.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
/** A cold tsx start of the daemon on a loaded 2-core box takes seconds; far more means a hang. */
const COMMAND_TIMEOUT_MS = 120_000;
/** `npm start` brings up five processes and reports every 5 s: generous for a loaded box. */
const DEMO_TIMEOUT_MS = 180_000;

const READMES = ['README.md', 'gateway/src/drivers/modbus/README.md', 'gateway/src/drivers/opcua/README.md'];
/** The READMEs whose every command runs here (the OPC UA README's browse needs a real server's address and password). */
const RUN_READMES = ['README.md', 'gateway/src/drivers/modbus/README.md'];

/**
 * A local config in an ignored folder (test-artifacts/, scratch space of the tests) while the
 * copy is made: the copy must not have it, and a command naming it must fail there.
 */
// Pid-suffixed: two runs of this file at once do not remove each other's.
const IGNORED_CONFIG = `test-artifacts/readme-commands-${process.pid}/kedge.yaml`;
const copy = (() => {
  const scratch = dirname(join(ROOT, IGNORED_CONFIG));
  mkdirSync(scratch, { recursive: true });
  writeFileSync(join(ROOT, IGNORED_CONFIG), 'gateway: {}\n');
  try {
    // Still there as the copy is made: its absence from the copy is then git's doing.
    assert.ok(existsSync(join(ROOT, IGNORED_CONFIG)), `${IGNORED_CONFIG} is in the tree while the copy is made`);
    return freshCopy(ROOT);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
})();
test.after(() => copy.remove());

/**
 * `node --import tsx <file>.ts ...` with the test loader of the copy (scripts/src/ts-loader.mjs)
 * in tsx's place: for the long-running pieces, the transcripts and the quick lines after an
 * entry's first. tsx is only how they load TypeScript, and every entry file is also started
 * through tsx as printed (TSX_QUICK, HELP_ENTRIES, browse.ts); the loader costs about half the
 * CPU of a start through tsx in a new folder. Titles say which way a line runs.
 */
function viaLoader(argv: string[], dir = copy.dir): string[] {
  if (argv[0] !== '--import' || argv[1] !== 'tsx') return argv;
  return ['--import', pathToFileURL(join(dir, 'scripts/src/ts-loader.mjs')).href, ...argv.slice(2)];
}
/**
 * viaLoader, but the daemon and the ingest start from the test bundle of their entry when the
 * run built one (testkit/src/entry.ts: the production build of the same sources, ~0.6 s of CPU
 * less per start than the loader in a new folder, whose compile cache is keyed by path). Their
 * whole import graph still loads from the copy's sources through tsx in `npm start`, and
 * every entry through tsx as printed (TSX_QUICK, HELP_ENTRIES).
 */
function viaBundle(argv: string[], dir = copy.dir): string[] {
  if (argv[0] === '--import' && argv[1] === 'tsx' && argv[2]) {
    const start = nodeEntry(argv[2]);
    if (start.length === 1) return [...start, ...argv.slice(3)];
  }
  return viaLoader(argv, dir);
}

/** A command to its end, with its status and output whatever the status (execFile rejects on a non-zero one). */
function runToEnd(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      resolve({ status: err ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
    });
  });
}
/** The entry file of a `node --import tsx <file>.ts` line. */
const entryOf = (line: string): string | undefined => /^node --import tsx (\S+\.ts)\b/.exec(line)?.[1];

/** The bodies of the fenced code blocks of `file` whose info string is `lang` ('' for plain blocks). */
function blocks(file: string, lang: string): string[] {
  const found: string[] = [];
  let open: { lang: string; lines: string[] } | null = null;
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    const fence = /^\s*```(\w*)\s*$/.exec(line);
    if (!open) {
      if (fence) open = { lang: fence[1]!, lines: [] };
    } else if (fence && fence[1] === '') {
      if (open.lang === lang) found.push(`${open.lines.join('\n')}\n`);
      open = null;
    } else {
      open.lines.push(line);
    }
  }
  return found;
}

/** Command lines of the sh blocks, without their trailing comments. */
function commands(file: string): string[] {
  return blocks(file, 'sh')
    .flatMap((b) => b.split('\n'))
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

for (const file of READMES) {
  test(`${file}: every file a command names exists`, () => {
    const lines = commands(file);
    assert.ok(lines.length > 0, `${file} has sh blocks`);
    for (const line of lines) {
      const paths = [...line.matchAll(/(?:--import tsx |--config )(\S+\.(?:ts|yaml))/g)].map((m) => m[1]!);
      for (const p of paths) assert.ok(existsSync(join(copy.dir, p)), `${file}: "${line}" names ${p}, which a fresh clone does not have`);
    }
  });

}

/** How each printed command is run here; anything else is a README command nobody runs. */
type How = 'quick' | 'piece' | 'demo' | { notRun: string };
const NOT_RUN: Record<string, string> = {
  'npm install': 'the copy links the tree\'s node_modules; an install would fetch from the registry (CI runs it on its own clone)',
  'npm test': 'this test is part of it (CI runs it)',
};
const PIECES = ['gateway/src/main.ts --config', 'cloud-sync/src/ingest/main.ts', 'cloud-sync/src/broker/main.ts', 'scripts/src/sim/modbus-tcp-sim.ts', 'scripts/src/sim/profile-sim.ts', 'gateway/src/drivers/opcua/browse.ts'];
function how(line: string): How | undefined {
  if (NOT_RUN[line]) return { notRun: NOT_RUN[line]! };
  if (line === 'npm start') return 'demo';
  if (/^node --import tsx \S+\.ts .*(--check|--help)\b/.test(line)) return 'quick';
  if (line.startsWith('node --import tsx ') && PIECES.some((p) => line.includes(p))) return 'piece';
  return undefined;
}

const printedLines = RUN_READMES.flatMap((file) => commands(file).map((line) => ({ file, line })));
/** Each entry file's first quick line: run through tsx exactly as printed. */
const TSX_QUICK = new Set(
  [...new Map(printedLines.filter(({ line }) => how(line) === 'quick' && entryOf(line)).reverse().map(({ line }) => [entryOf(line)!, line])).values()],
);
/** Run through tsx as printed by the pieces test itself (a one-shot, not a server). */
const BROWSE = 'gateway/src/drivers/opcua/browse.ts';
/** Entry files with no quick line (the servers): their `--help` runs through tsx, as a user would print it. */
const HELP_ENTRIES = [...new Set(printedLines.map(({ line }) => entryOf(line)).filter((e): e is string => e !== undefined))].filter(
  (e) => e !== BROWSE && ![...TSX_QUICK].some((l) => entryOf(l) === e),
);

test('the fresh copy has no file git ignores: a command needing a local config or data fails here', async () => {
  assert.ok(existsSync(join(copy.dir, 'config', 'kedge.example.yaml')));
  // The ignored config was in the tree while the copy was made (see IGNORED_CONFIG).
  assert.equal(existsSync(join(copy.dir, IGNORED_CONFIG)), false, 'an ignored file is not in a clone');
  const check = await runToEnd(viaBundle(['--import', 'tsx', 'gateway/src/main.ts', '--config', IGNORED_CONFIG, '--check']), copy.dir);
  assert.notEqual(check.status, 0, 'a command naming it fails in the copy');
  assert.ok((check.stdout + check.stderr).includes(IGNORED_CONFIG), `the error names ${IGNORED_CONFIG}:\n${check.stdout}${check.stderr}`);
});

test('every command of README.md and the Modbus README has a way this test runs it', () => {
  for (const file of RUN_READMES) for (const line of commands(file)) assert.ok(how(line), `${file}: nothing runs \`${line}\``);
  assert.deepEqual(commands('README.md').filter((l) => typeof how(l) === 'object'), Object.keys(NOT_RUN));
});

// npm scripts the README names inline; bench, fuzz, build and start run for minutes or forever.
const SLOW_SCRIPTS = new Set(['bench', 'fuzz', 'build', 'start']);
const inlineNpm = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/`(npm run ([\w-]+)(?: -- --help)?)`/g)]
  .filter((m) => !SLOW_SCRIPTS.has(m[2]!))
  .map((m) => m[1]!);

/**
 * The commands run side by side, in the order below: the three long ones (`npm start`, the
 * pieces' chain, the profile simulators) mostly wait, on the ingest's report every 5 s and on
 * servers starting, while the quick ones, mostly CPU, go two at a time beside them (more would
 * only share the two cores of the target box). Each writes in a folder of its own (the pieces'
 * chain substitutes ports in its own copy's example config, which `npm start` reads in this
 * one) and listens on free ports of its own.
 */
const SIDE_BY_SIDE = 5;
describe('the printed commands, run side by side', { concurrency: SIDE_BY_SIDE }, () => {
  /** The printed line with its fixed ports and placeholder hosts replaced, split into argv. */
  function substituted(line: string, ports: Record<string, number>): string[] {
    let l = line.replace('mqtt://broker:', 'mqtt://127.0.0.1:').replace('opc.tcp://host:', 'opc.tcp://127.0.0.1:');
    for (const [printed, actual] of Object.entries(ports)) l = l.replace(new RegExp(`\\b${printed}\\b`), String(actual));
    return l.split(/\s+/).slice(1);
  }

  /** The printed command of `script` in "Running the pieces by hand" (not its --check). */
  const piece = (script: string) => {
    const found = commands('README.md').find((l) => how(l) === 'piece' && l.includes(script) && !l.includes('--check'));
    assert.ok(found, `README.md prints a command for ${script}`);
    return found;
  };
  /** Starts a printed piece in `dir`, stopped (last started first) after the test. */
  const starter = (t: test.TestContext, dir: string, ports: Record<string, number>, startArgv: (argv: string[], dir: string) => string[]) => {
    const started: ManagedProcess[] = [];
    t.after(async () => {
      for (const p of started.reverse()) await p.stop();
    });
    return async (printed: string, readyLine?: RegExp, argv = substituted(printed, ports)) => {
      const p = await startProcess(process.execPath, startArgv(argv, dir), {
        cwd: dir,
        name: printed,
        env: { ...process.env, KEDGE_WEB_PORT: '0' },
        ...(readyLine ? { readyLine } : {}),
        timeoutMs: COMMAND_TIMEOUT_MS,
      });
      started.push(p);
      return p;
    };
  };

  test('README.md: "Running the pieces by hand" runs in a fresh copy of its own, the broker and simulator with the test loader in place of tsx, the ingest and daemon from their test bundles (else the loader): they move readings to the center', async (t) => {
    // Its own: the port substitution below must not change the example `npm start` reads beside it.
    const own: FreshCopy = freshCopy(ROOT);
    // After the stops below, whenever registered: the daemon writes into it until it stops.
    afterEverything(t, () => own.remove());
    const ports = { 1883: await freePort(), 5020: await freePort() };
    // The example config names the simulator's and the broker's ports: the same substitution.
    const example = join(own.dir, 'config/kedge.example.yaml');
    writeFileSync(example, readFileSync(example, 'utf8').replaceAll('127.0.0.1:1883', `127.0.0.1:${ports[1883]}`).replaceAll('port: 5020', `port: ${ports[5020]}`));
    const start = starter(t, own.dir, ports, viaBundle);
    await start(piece('cloud-sync/src/broker/main.ts'), /broker listening on mqtt:\/\/127\.0\.0\.1:/);
    await start(piece('scripts/src/sim/modbus-tcp-sim.ts'), /modbus sim listening on/);
    const ingest = await start(piece('cloud-sync/src/ingest/main.ts'));
    const daemon = await start(piece('gateway/src/main.ts'));
    // The ingest's own report: readings of the example's gateway arrived and were stored.
    await waitFor(() => /ingest: [1-9]\d* readings stored/.test(ingest.output()) && /kuzbass\/kemerovo\/kem-demo-01/.test(ingest.output()), {
      timeoutMs: COMMAND_TIMEOUT_MS,
      what: "the ingest to store the daemon's readings",
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ingest ---\n${ingest.output().slice(-4000)}\n--- daemon ---\n${daemon.output().slice(-4000)}`);
    });
    assert.match(ingest.output(), /^\s+water-meter-1\/flow\s+\S+\s+good\b/m, 'a good reading of the first simulated meter');
  });

  test('README.md: "Running the pieces by hand": the profile simulator (with the test loader in place of tsx) answers Modbus and OPC UA, found by browse.ts through tsx as printed', async (t) => {
    const ports = { 5021: await freePort(), 4840: await freePort() };
    const start = starter(t, copy.dir, ports, viaLoader);
    const profile = piece('scripts/src/sim/profile-sim.ts');
    await start(profile, /profile sim serving tcp on/);
    const client = new ModbusSerial.default();
    // destroy, not close: close never calls back once the simulator has gone first.
    t.after(() => new Promise<void>((resolve) => client.destroy(() => resolve())));
    await client.connectTCP('127.0.0.1', { port: ports[5021] });
    client.setID(Number(/--unit (\d+)/.exec(profile)![1]));
    client.setTimeout(COMMAND_TIMEOUT_MS);
    const answer = await client.readInputRegisters(0, 2);
    assert.equal(answer.data.length, 2, 'the profile simulator answers a Modbus read of its unit');

    const opcuaArgv = substituted(profile.replace(/--tcp 5021/, '--opcua 4840'), ports);
    await start(profile, /profile sim serving opcua on/, opcuaArgv);
    const { stdout } = await run(process.execPath, substituted(piece(BROWSE), ports), { cwd: copy.dir, timeout: COMMAND_TIMEOUT_MS });
    assert.match(stdout, /^Object\s+\S+\s+\d*:?Profiles/m, stdout);
  });

  test('README.md: `npm start` runs as printed in a fresh copy: the ingest reports good readings; Ctrl-C stops every process', async (t) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    // Its own process group, as a terminal gives it: Ctrl-C is SIGINT to the whole group.
    const demo = await startProcess(npm, ['start'], { cwd: copy.dir, name: 'npm start', group: true });
    // stop() waits for the group to end (what is left of it is SIGKILLed within the grace after
    // npm exits; zombies do not count): gone before the copy is removed (test.after, later).
    t.after(() => demo.stop());
    await waitFor(() => /ingest: [1-9]\d* readings stored/.test(demo.output()) && /\bgood\b/.test(demo.output()), {
      timeoutMs: DEMO_TIMEOUT_MS,
      what: `the demo's ingest report\n${demo.output()}`,
    });
    const out = () => demo.output();
    assert.match(out(), /web UI\s+http:\/\/127\.0\.0\.1:\d+\//);
    process.kill(-demo.pid, 'SIGINT');
    const exit = await demo.exited;
    // npm re-raises the SIGINT its script ended on (a shell then shows ^C, no error).
    assert.match(String(exit.code ?? exit.signal), /^(0|SIGINT)$/, out().slice(-4000));
    // start.ts says "<name> exited (...)" for a child that died and "<name> output:" for one that stopped on an error.
    assert.doesNotMatch(out(), /exited \(|^\w+ output:$/m, 'every demo process stopped cleanly');
    // npm waits for its script, which waits for what it started: when npm exits nothing of the
    // demo runs but tsx's esbuild service, which quits once its parent's pipe closes (zombies,
    // waiting for init, do not count). The members are named at npm's exit, not at the grace's
    // end: a start.ts that exited before its children, which end on the same SIGINT, shows here.
    const lingering = (await demo.membersAtLeaderExit()).filter((m) => m.comm !== 'esbuild');
    assert.deepEqual(lingering, [], `only esbuild was still running when npm exited\n${out().slice(-4000)}`);
    assert.equal(await demo.leftGroupRunning(), false, `every process of the demo had ended within the grace after npm exited\n${out().slice(-4000)}`);
  });

  for (const file of RUN_READMES) {
    for (const line of commands(file).filter((l) => how(l) === 'quick')) {
      const asPrinted = TSX_QUICK.has(line);
      const way = asPrinted ? 'runs as printed (through tsx)' : "runs from its test bundle (else with the test loader) in tsx's place (the entry's tsx start: its first quick line)";
      test(`${file}: \`${line}\` ${way} in a fresh copy`, async () => {
        const [, ...args] = line.split(/\s+/);
        const { stdout } = await run(process.execPath, asPrinted ? args : viaBundle(args), { cwd: copy.dir, timeout: COMMAND_TIMEOUT_MS });
        if (line.includes('--check')) assert.match(stdout, /: OK \(\d+ devices/);
      });
    }
  }

  for (const entry of HELP_ENTRIES) {
    const options = [...new Set(printedLines.filter(({ line }) => entryOf(line) === entry).flatMap(({ line }) => line.match(/--[a-z][\w-]*/g) ?? []))].filter((o) => o !== '--import');
    test(`README.md: \`node --import tsx ${entry} --help\` starts through tsx in a fresh copy and lists the options its printed lines use (${options.join(' ')})`, async () => {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', entry, '--help'], { cwd: copy.dir, timeout: COMMAND_TIMEOUT_MS });
      for (const o of options) assert.ok((stdout + stderr).includes(o), `${entry} --help lists ${o}:\n${stdout}${stderr}`);
    });
  }

  for (const line of [...new Set(inlineNpm)]) {
    test(`README.md: \`${line}\` runs as printed in a fresh copy`, async () => {
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      await run(npm, line.split(' ').slice(1), { cwd: copy.dir, timeout: COMMAND_TIMEOUT_MS });
    });
  }

  /**
   * The files behind the README's `$ ... --check` transcripts: a user's own configs, written
   * into the copy so the transcript's command runs as printed. Their line numbers are the
   * transcript's.
   */
  const TRANSCRIPT_FILES: Record<string, string> = {
    'bad.yaml': [
      'gateway: { id: kem-demo-01, region: kuzbass, municipality: kemerovo }',
      'uplinks:',
      '  - { name: uplink, kind: mqtt, url: mqtt://127.0.0.1:1883 }',
      'devices:',
      '  - id: water-meter-1',
      '    driver: modbus-tcp',
      '    host: 127.0.0.1',
      '    port: 5020',
      '    unitId: 1',
      '    intervalMs: 1000',
      '    points:',
      '      - id: flow',
      '        table: holding',
      '        address: 0',
      '        type: float23',
      '      - id: volume',
      '        table: holding',
      '        adress: 2',
      '        type: uint32',
    ].join('\n'),
    'meter.yaml': [
      'gateway: { id: kem-demo-01, region: kuzbass, municipality: kemerovo }',
      'uplinks:',
      '  - { name: uplink, kind: mqtt, url: mqtt://127.0.0.1:1883 }',
      'devices:',
      '  - id: heat-meter',
      '    driver: modbus-tcp',
      '    host: 10.20.0.15',
      '    unitId: 1',
      '    addressBase: 1',
      '    intervalMs: 5000',
      '    timeoutMs: 1000',
      '    # the vendor manual lists it as 40001',
      '    points:',
      '      - id: energy',
      '        table: holding',
      '        type: uint16',
      '        address: 40001',
    ].join('\n'),
  };

  /** The `$ command` transcripts of plain code blocks: the command and the lines it prints. */
  function transcripts(file: string): Array<{ command: string; output: string[] }> {
    return blocks(file, '')
      .filter((b) => b.startsWith('$ '))
      .map((b) => {
        const [first, ...rest] = b.trimEnd().split('\n');
        return { command: first!.slice(2), output: rest };
      });
  }

  test('README.md: the `$ ... --check` transcripts are what the command prints for such a file (run from the test bundle, else with the test loader, in place of tsx)', async () => {
    const shown = transcripts('README.md');
    assert.equal(shown.length, 2, 'the invalid-config and the warning transcripts');
    for (const { command, output } of shown) {
      const file = /--config (\S+)/.exec(command)![1]!;
      assert.ok(TRANSCRIPT_FILES[file], `a file behind the transcript of \`${command}\``);
      writeFileSync(join(copy.dir, file), TRANSCRIPT_FILES[file]!);
      const [, ...args] = command.split(/\s+/);
      // stdout and stderr into one file, interleaved as on the terminal the transcript shows.
      const outFile = join(copy.dir, `${file}.out`);
      const fd = openSync(outFile, 'w');
      let status: number | null;
      try {
        status = await new Promise<number | null>((resolve, reject) => {
          const child = spawn(process.execPath, viaBundle(args), { cwd: copy.dir, stdio: ['ignore', fd, fd], timeout: COMMAND_TIMEOUT_MS });
          child.once('error', reject);
          child.once('exit', (code) => resolve(code));
        });
      } finally {
        closeSync(fd);
      }
      const printed = readFileSync(outFile, 'utf8').trimEnd().split('\n');
      assert.equal(status === 0, /: OK \(/.test(output.at(-1)!), `exit status ${status}:\n${printed.join('\n')}`);
      // The README shortens long messages with "...": any text there.
      const patterns = output.map((l) => new RegExp(`^${l.split('...').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
      assert.equal(printed.length, patterns.length, printed.join('\n'));
      printed.forEach((line, i) => assert.match(line, patterns[i]!));
    }
  });
});

test('README.md: the quick commands include the --check of the example config', () => {
  assert.ok(inlineNpm.includes('npm run validate-profiles') && inlineNpm.includes('npm run kedge-ota -- --help'));
  assert.ok(commands('README.md').some((l) => l.includes('--config config/kedge.example.yaml --check')));
  assert.ok(commands('gateway/src/drivers/modbus/README.md').some((l) => l.includes('sample.yaml --check')));
  assert.ok(TSX_QUICK.has('node --import tsx gateway/src/main.ts --config config/kedge.example.yaml --check'), 'the example --check runs through tsx as printed');
});

test('README.md: every entry file a printed line starts runs through tsx at least once: its first quick line, its --help, or (browse.ts) its printed run', () => {
  const entries = new Set(printedLines.map(({ line }) => entryOf(line)).filter((e) => e !== undefined));
  const throughTsx = new Set([...[...TSX_QUICK].map((l) => entryOf(l)!), ...HELP_ENTRIES, BROWSE]);
  assert.deepEqual([...entries].sort(), [...throughTsx].sort());
  assert.ok(printedLines.some(({ line }) => entryOf(line) === BROWSE && how(line) === 'piece'), 'browse.ts is run by the pieces test');
  assert.ok(HELP_ENTRIES.length >= 4, `the servers each get a tsx --help run: ${HELP_ENTRIES.join(', ')}`);
});

test("README.md: the documented quality numbers of `flags` are the store's", () => {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  const list = /`flags & 15` is the quality \(([^)]*)\)/.exec(text)?.[1];
  assert.ok(list, 'the README documents the quality numbers');
  const documented = [...list.matchAll(/(\d+) `(\w+)`/g)].map((m) => [Number(m[1]), m[2]]);
  assert.deepEqual(documented, QUALITIES.map((q, i) => [i, q]));
});

test("README.md: the center's SQL example runs against a center database and decodes flags as documented", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-readme-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'center.db');
  const store = new IngestStore(path);
  const id = { prefix: 'kedge/v1', region: 'kuzbass', municipality: 'kemerovo', gateway: 'kem-demo-01' };
  store.storeBatch(id, {
    gateway: 'kem-demo-01',
    first: 1,
    last: 3,
    evicted: [],
    readings: [
      { seq: 1, point: 'water/flow', ts: 1_764_064_800_000, value: 12.5, quality: 'good' },
      { seq: 2, point: 'water/door', ts: 1_764_064_801_000, value: true, quality: 'good' },
      { seq: 3, point: 'water/energy', ts: 1_764_064_802_000, value: null, quality: 'bad_no_response' },
    ],
  });
  store.close();
  const [sql] = blocks('README.md', 'sql');
  assert.ok(sql, 'README.md has the SQL example');
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const rows = db.prepare(sql!).all() as Array<{ point: string; quality: number; kind: number; value: unknown }>;
  assert.deepEqual(
    rows.map((r) => [r.point, r.value, r.quality, r.kind]),
    [
      ['water/energy', null, 2, 0], // bad_no_response, no value
      ['water/door', 1, 0, 1], // a boolean
      ['water/flow', 12.5, 0, 0], // a number
    ],
  );
});
