/**
 * Dockerfile.arm64 cannot be built on this machine (no arm64 emulation), so this keeps it
 * honest: base image, user, volume, healthcheck and entrypoint checked against the
 * package.json files and the files they name. The systemd unit gets the same treatment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import assert from 'node:assert/strict';
import { ENTRIES } from '../build.ts';
import { DAEMON_ENV, DAEMON_NODE_FLAGS, DIST_ENTRY } from '@kedge/gateway/ota/entry.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const pkg = (p: string) => JSON.parse(read(p)) as { engines?: { node?: string }; scripts?: Record<string, string>; devDependencies?: Record<string, string>; dependencies?: Record<string, string>; bin?: Record<string, string> };

interface Instruction {
  cmd: string;
  args: string;
}

/** Instructions of a Dockerfile with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[][] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const stages: Instruction[][] = [];
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const ins = { cmd: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim() };
    if (ins.cmd === 'FROM') stages.push([]);
    stages.at(-1)?.push(ins);
  }
  return stages;
}

const DOCKERFILE = parseDockerfile(read('Dockerfile.arm64'));
const FINAL = DOCKERFILE.at(-1)!;
const one = (stage: Instruction[], cmd: string) => {
  const found = stage.filter((i) => i.cmd === cmd);
  assert.equal(found.length, 1, `expected exactly one ${cmd} in the final stage`);
  return found[0]!.args;
};
const execForm = (args: string) => JSON.parse(args) as string[];
const BOOT_BIN = pkg('gateway/package.json').bin?.['kedge-boot'];

test('every stage builds FROM node:20-bookworm-slim for linux/arm64, a Node major the root package.json allows', () => {
  assert.equal(DOCKERFILE.length, 2);
  for (const stage of DOCKERFILE) assert.match(stage[0]!.args, /^--platform=linux\/arm64 node:20-bookworm-slim( AS \w+)?$/);
  const engines = pkg('package.json').engines?.node ?? '';
  assert.match(engines, /(^|\s)>=20\.\d+ <21\b/, `engines.node "${engines}" must admit Node 20`);
});

test('the final image runs as a non-root user that it creates', () => {
  const user = one(FINAL, 'USER');
  assert.notEqual(user, 'root');
  assert.notEqual(user, '0');
  assert.ok(FINAL.some((i) => i.cmd === 'RUN' && i.args.includes(`useradd`) && i.args.includes(` ${user}`)), `no useradd for ${user}`);
  const userIdx = FINAL.findIndex((i) => i.cmd === 'USER');
  assert.ok(FINAL.findIndex((i) => i.cmd === 'ENTRYPOINT') > userIdx, 'USER must come before ENTRYPOINT');
});

test('the data volume holds the OTA slots, and the user owns it', () => {
  const [volume] = execForm(one(FINAL, 'VOLUME'));
  const entry = execForm(one(FINAL, 'ENTRYPOINT'));
  const slots = entry[entry.indexOf('--slots') + 1]!;
  assert.ok(slots.startsWith(`${volume}/`), `--slots ${slots} must be inside the volume ${volume}`);
  assert.ok(FINAL.some((i) => i.cmd === 'RUN' && i.args.includes(`chown ${one(FINAL, 'USER')}:`) && i.args.includes(volume!)));
});

test('ENTRYPOINT runs the bundled kedge-boot that the build stage compiles, and the bin runs the same bundle', () => {
  assert.equal(BOOT_BIN, './bin/kedge-boot.mjs');
  assert.match(read(join('gateway', BOOT_BIN!)), /new URL\('\.\.\/\.\.\/dist\/kedge-boot\.mjs', import\.meta\.url\)/);
  assert.equal(ENTRIES['kedge-boot'], 'gateway/src/ota/boot.ts');
  const entry = execForm(one(FINAL, 'ENTRYPOINT'));
  assert.deepEqual(entry.slice(0, 2), ['node', 'dist/kedge-boot.mjs']);
  assert.equal(entry[entry.indexOf('--seed') + 1], one(FINAL, 'WORKDIR'));
  assert.ok(pkg('package.json').devDependencies?.esbuild, 'esbuild must be in the root devDependencies');
  assert.equal(pkg('package.json').scripts?.build, 'node --import tsx scripts/src/build.ts');
  const runs = DOCKERFILE[0]!.filter((i) => i.cmd === 'RUN').map((i) => i.args);
  const npmCi = runs.findIndex((r) => r.startsWith('npm ci'));
  const build = runs.findIndex((r) => r.startsWith('npm run build'));
  assert.ok(npmCi >= 0 && !runs[npmCi]!.includes('--omit=dev'), 'npm ci must keep dev dependencies (esbuild) for the build');
  assert.ok(build > npmCi && runs[build]!.includes('npm prune --omit=dev'), 'the build stage builds dist/, then drops dev dependencies');
  const copied = FINAL.filter((i) => i.cmd === 'COPY').map((i) => i.args);
  assert.ok(copied.includes('--from=build /app/dist dist') && copied.includes('--from=build /app/node_modules node_modules'));
  assert.deepEqual(execForm(one(FINAL, 'CMD')), ['--', '--config', '/etc/kedge/kedge.yaml']);
});

test('HEALTHCHECK probes the launcher heartbeat with the same entry point', () => {
  const hc = one(FINAL, 'HEALTHCHECK');
  const cmd = /CMD (\[.*\])$/.exec(hc)?.[1];
  assert.ok(cmd, hc);
  assert.deepEqual(execForm(cmd), ['node', 'dist/kedge-boot.mjs', '--probe']);
  assert.match(one(FINAL, 'ENV'), /KEDGE_HEARTBEAT_FILE=\/tmp\/kedge-heartbeat/);
});

test('every COPY source of the build stage exists, and the workspaces it installs match package.json', () => {
  for (const i of DOCKERFILE[0]!.filter((x) => x.cmd === 'COPY')) {
    const parts = i.args.split(' ');
    for (const src of parts.slice(0, -1)) assert.ok(existsSync(join(ROOT, src)), `COPY ${src}: missing`);
  }
  const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
  for (const w of workspaces) assert.ok(DOCKERFILE[0]!.some((i) => i.cmd === 'COPY' && i.args === `${w}/package.json ${w}/`), `workspace ${w} not copied`);
});

test('the systemd unit runs the same launcher with a watchdog and a restart policy', () => {
  const unit = read('deploy/kedge-gateway.service');
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(unit)?.[1];
  assert.equal(get('Type'), 'notify');
  assert.equal(get('NotifyAccess'), 'all');
  assert.equal(get('WatchdogSec'), '60');
  assert.equal(get('Restart'), 'always');
  assert.ok(get('User') && get('User') !== 'root');
  assert.match(get('ExecStart') ?? '', /^\/usr\/bin\/node \/opt\/kedge\/app\/dist\/kedge-boot\.mjs --slots \/var\/lib\/kedge\/slots --seed \/opt\/kedge\/app -- --config /);
});

test("the image and the unit give the daemon the environment the bench measured (DAEMON_ENV), and the release entry its V8 flags", () => {
  const unit = read('deploy/kedge-gateway.service');
  const env = one(FINAL, 'ENV');
  assert.ok(Object.keys(DAEMON_ENV).length > 0);
  for (const [k, v] of Object.entries(DAEMON_ENV)) {
    assert.match(unit, new RegExp(`^Environment=${k}=${v}$`, 'm'), `unit: Environment=${k}=${v}`);
    assert.match(env, new RegExp(`(^| )${k}=${v}( |$)`), `Dockerfile ENV ${k}=${v}`);
  }
  assert.deepEqual(DIST_ENTRY.slice(0, DAEMON_NODE_FLAGS.length), [...DAEMON_NODE_FLAGS]);
  assert.ok(DAEMON_NODE_FLAGS.includes('--heap-growing-percent=25'));
});
