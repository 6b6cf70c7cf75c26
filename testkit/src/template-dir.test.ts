/**
 * Templates are published once and never changed: racing processes agree on one or each use
 * their own, none ever sees a template removed under it, and a template that is unusable,
 * expiring or not ours is never used.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from './proc.ts';
import { tsEntry } from './entry.ts';
import { tempDir } from './temp-dirs.ts';
import { copyTemplate, SCRATCH_MAX_AGE_MS, templateDir, templateLink, templateName } from './template-dir.ts';

const RACER = join(import.meta.dirname, 'template-dir-racer.ts');
const RACERS = 4;
/** A racer's whole run on a loaded 2-core box (generous). */
const RACER_TIMEOUT_MS = 60_000;
const racerFiles = Array.from({ length: 40 }, (_, i) => `f${i}.txt`);

/** A private temp dir for the test (TMPDIR for this process's templates and for racers). */
function privateTmp(t: test.TestContext): string {
  // Removed after the test's other clean-ups (racers it still runs write there).
  const dir = realpathSync(tempDir(t, 'kedge-template-test-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  t.after(() => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  });
  return dir;
}

let seq = 0;
const uniqueName = (what: string) => `test-${what}-${process.pid}-${seq++}`;

async function race(tmp: string, name: string): Promise<string[]> {
  const racers = await Promise.all(
    Array.from({ length: RACERS }, (_, i) => startProcess(process.execPath, [...tsEntry(RACER), name], { name: `racer ${i}`, env: { ...process.env, TMPDIR: tmp, KEDGE_RACERS: String(RACERS) } })),
  );
  const templates: string[] = [];
  for (const r of racers) {
    const exit = await r.exitedWithin(RACER_TIMEOUT_MS, 'getting and copying the template');
    assert.deepEqual(exit, { code: 0, signal: null }, r.output());
    assert.match(r.output(), /COPIES OK/, r.output());
    templates.push(/TEMPLATE (\S+)/.exec(r.output())![1]!);
  }
  return templates;
}

function assertPublished(tmp: string, name: string, templates: string[]): void {
  for (const t of new Set(templates)) for (const f of racerFiles) assert.ok(existsSync(join(t, f)), `${t} still holds ${f}: a template is never removed`);
  assert.ok(templates.includes(readlinkSync(templateLink(name))), 'the link names a template some racer used');
  assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('-new-') || n.includes('.link-')), [], 'no scratch or half-made link is left');
}

test('processes racing from an empty cache each get a whole template and copy it whole', async (t) => {
  const tmp = privateTmp(t);
  const name = uniqueName('race-empty');
  assertPublished(tmp, name, await race(tmp, name));
});

test('processes racing to replace an unusable leftover never remove a template another is copying', async (t) => {
  const tmp = privateTmp(t);
  const name = uniqueName('race-leftover');
  const link = templateLink(name);
  const leftover = `${link}.gen-old`;
  mkdirSync(leftover, { mode: 0o700 });
  writeFileSync(join(leftover, 'f0.txt'), 'half a template'); // f1..f39 missing: unusable
  symlinkSync(leftover, link);
  const templates = await race(tmp, name);
  assert.ok(!templates.includes(leftover), 'the unusable leftover is not used');
  assert.ok(existsSync(join(leftover, 'f0.txt')), 'nor moved or removed (someone may hold it)');
  assertPublished(tmp, name, templates);
});

/** A key and a self-signed certificate valid for `days` (EC: cheap), in `dir`. */
function certificate(dir: string, days: number, prefix: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=kedge-test', '-days', String(days), '-keyout', join(dir, `${prefix}key.pem`), '-out', join(dir, `${prefix}cert.pem`)], { stdio: 'pipe' });
}

const certificates = [{ cert: 'cert.pem', key: 'key.pem' }];

/** A published generation of `name` holding `files` from `from`, as an earlier run would leave it. */
function publish(name: string, from: string): string {
  const link = templateLink(name);
  const gen = `${link}.gen-earlier`;
  cpSync(from, gen, { recursive: true });
  chmodSync(gen, 0o700);
  symlinkSync(gen, link);
  return gen;
}

for (const [what, make, reused] of [
  ['valid for a year with its own key is used as it is', (d: string) => certificate(d, 365, ''), true],
  ['expiring in 10 days is made again', (d: string) => certificate(d, 10, ''), false],
  ['whose key is not its own is made again', (d: string) => (certificate(d, 365, ''), certificate(d, 365, 'other-'), cpSync(join(d, 'other-key.pem'), join(d, 'key.pem'))), false],
] as const) {
  test(`a template certificate ${what}`, async (t) => {
    const tmp = privateTmp(t);
    const src = mkdtempSync(join(tmp, 'src-'));
    make(src);
    const name = uniqueName('cert');
    const earlier = publish(name, src);
    let fills = 0;
    const got = await templateDir(name, ['cert.pem', 'key.pem'], async (scratch) => (fills++, certificate(scratch, 365, '')), { certificates });
    assert.equal(got === earlier, reused);
    assert.equal(fills, reused ? 0 : 1);
    if (!reused) assert.equal(readlinkSync(templateLink(name)), got, 'the new one is published');
  });
}

test('a certificate made by fill that expires within 30 days is refused with a message, not published', async (t) => {
  privateTmp(t);
  const name = uniqueName('cert-short');
  await assert.rejects(templateDir(name, ['cert.pem'], async (scratch) => certificate(scratch, 5, ''), { certificates }), /expires within 30 days/);
  assert.ok(!existsSync(templateLink(name)));
});

const valid = async (scratch: string) => {
  for (const f of racerFiles) writeFileSync(join(scratch, f), f);
};

for (const [what, plant] of [
  ['a real folder, not our symlink', (link: string) => (mkdirSync(link), racerFiles.forEach((f) => writeFileSync(join(link, f), f)))],
  ['a symlink of another uid', (link: string, gen: string) => (symlinkSync(gen, link), lchownSync(link, 65534, 65534))],
  ['our symlink to a world-writable folder', (link: string, gen: string) => (symlinkSync(gen, link), chmodSync(gen, 0o777))],
] as const) {
  test(`a template path that is ${what} is neither used nor replaced: the process uses a private scratch`, { skip: what.includes('uid') && process.getuid?.() !== 0 ? 'lchown to another uid needs root' : false }, async (t) => {
    privateTmp(t);
    const name = uniqueName('foreign');
    const link = templateLink(name);
    const gen = `${link}.gen-planted`;
    mkdirSync(gen, { mode: 0o700 });
    for (const f of racerFiles) writeFileSync(join(gen, f), f);
    plant(link, gen);
    const before = existsSync(link) ? readdirSync(link).length : 0;
    let fills = 0;
    const got = await templateDir(name, racerFiles, async (s) => (fills++, valid(s)));
    assert.equal(fills, 1);
    assert.notEqual(got, link);
    assert.notEqual(got, gen);
    assert.match(got, /kedge-test-foreign-.*-new-/, 'a private scratch');
    assert.equal(readdirSync(link).length, before, 'the planted path is left as it was');
  });
}

test('scratch folders of crashed fills older than an hour are removed, younger ones kept', async (t) => {
  const tmp = privateTmp(t);
  const old = join(tmp, 'kedge-crashed-new-abc123');
  const young = join(tmp, 'kedge-filling-new-def456');
  mkdirSync(old);
  mkdirSync(young);
  const past = (Date.now() - SCRATCH_MAX_AGE_MS - 60_000) / 1000;
  utimesSync(old, past, past);
  await templateDir(uniqueName('prune'), racerFiles, valid);
  assert.ok(!existsSync(old));
  assert.ok(existsSync(young));
});

test('copies of a template leave out lock files', (t) => {
  const tmp = privateTmp(t);
  mkdirSync(join(tmp, 'tpl', 'own'), { recursive: true });
  writeFileSync(join(tmp, 'tpl', 'own', 'cert.pem'), 'x');
  writeFileSync(join(tmp, 'tpl', 'own', 'pki.mutex'), 'lock');
  copyTemplate(join(tmp, 'tpl'), join(tmp, 'copy'));
  assert.deepEqual(readdirSync(join(tmp, 'copy', 'own')), ['cert.pem']);
});

test('template names carry the library versions and change with what fill is given', () => {
  const a = templateName('opcua-sim-pki', ['node-opcua-server', 'node-opcua-pki'], { uri: 'urn:a' });
  assert.match(a, /^opcua-sim-pki-node-opcua-server@\d+\.\d+\.\d+-node-opcua-pki@\d+\.\d+\.\d+-[0-9a-f]{10}$/);
  assert.notEqual(a, templateName('opcua-sim-pki', ['node-opcua-server', 'node-opcua-pki'], { uri: 'urn:b' }));
  assert.equal(a, templateName('opcua-sim-pki', ['node-opcua-server', 'node-opcua-pki'], { uri: 'urn:a' }));
});
