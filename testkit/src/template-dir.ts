/**
 * Costly test fixtures made once per machine user and copied per test: RSA keys and
 * self-signed certificates cost a test process about as much CPU as what it then tests.
 *
 *   const name = templateName('opcua-sim-pki', ['node-opcua-server'], { fill options });
 *   const dir = await templateDir(name, ['server/own/certs/certificate.pem'], make, { certificates });
 *   copyTemplate(dir, myFreshDir);
 *
 * A template is published, never changed: `fill(scratch)` fills a private scratch folder
 * (`kedge-<name>-new-*`), which is renamed to a generation folder `<final>.gen-<pid>-<random>`;
 * the link `<final>` (`kedge-<name>-<uid>-<host>` in the temp dir) is then switched to it
 * atomically (a symlink made beside it, renamed over it). A generation is never moved or
 * deleted, so a process copying from one it resolved a moment ago is never cut short, however
 * many processes race to replace an unusable one. A template missing one of `files`, or whose
 * `certificates` expire within 30 days or do not match their keys, is made again. A link or
 * generation that is not ours (another uid, not a symlink we made, group- or world-writable:
 * a shared /tmp is not ours to trust) is never used nor replaced: this process then fills a
 * private scratch and uses it as its template. `templateName` puts the library versions and a
 * hash of what `fill` does in the name, so a change there makes a new template.
 */
import { createHash, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A certificate the template must hold (paths inside it), with the private key it goes with. */
export interface TemplateCertificate {
  cert: string;
  key: string;
}

export interface TemplateOptions {
  certificates?: readonly TemplateCertificate[];
}

/** A certificate expiring sooner than this is made again: no test should meet an expiry. */
export const CERTIFICATE_MARGIN_MS = 30 * 24 * 3600 * 1000;
/** Scratch folders (`kedge-*-new-*`) older than this are leftovers of a crashed fill. */
export const SCRATCH_MAX_AGE_MS = 3600 * 1000;

const made = new Map<string, Promise<string>>();
const uid = process.getuid?.();
const ours = (st: { uid: number }) => uid === undefined || st.uid === uid;

/** A short hash of anything JSON can say (fill options, argv, a version line). */
export function shortHash(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 10);
}

/** `version` of `pkg`'s package.json, found the way Node resolves from `from` (a folder or file URL). */
export function packageVersion(pkg: string, from: string = import.meta.url): string {
  let dir = from.startsWith('file:') ? dirname(fileURLToPath(from)) : from;
  for (;;) {
    const file = join(dir, 'node_modules', pkg, 'package.json');
    if (existsSync(file)) return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version);
    const up = dirname(dir);
    if (up === dir) throw new Error(`template: package ${pkg} not found from ${from}`);
    dir = up;
  }
}

/** `<base>-<pkg>@<version>...-<hash of fill>`: a template name that changes with what makes it. */
export function templateName(base: string, packages: readonly string[], fill: unknown, from?: string): string {
  const versions = packages.map((p) => `${p}@${packageVersion(p, from)}`);
  return [base, ...versions, shortHash(fill)].join('-').replace(/[^\w.@-]/g, '_');
}

/** Copies a template to `dest`, leaving out lock files (`*.mutex`) a library may leave in it. */
export function copyTemplate(template: string, dest: string): void {
  cpSync(template, dest, { recursive: true, filter: (src) => !src.endsWith('.mutex') });
}

/** A private copy of `template` in a new temp folder named `<prefix>XXXXXX`; nothing is left behind if the copy fails. */
export function copyTemplateToTemp(template: string, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    copyTemplate(template, dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

function certificatesValid(dir: string, certificates: readonly TemplateCertificate[]): boolean {
  const now = Date.now();
  try {
    return certificates.every(({ cert, key }) => {
      const x = new X509Certificate(readFileSync(join(dir, cert)));
      return Date.parse(x.validFrom) <= now && Date.parse(x.validTo) > now + CERTIFICATE_MARGIN_MS && x.checkPrivateKey(createPrivateKey(readFileSync(join(dir, key))));
    });
  } catch {
    return false;
  }
}

function usable(dir: string, files: readonly string[], o: TemplateOptions): boolean {
  return files.every((f) => existsSync(join(dir, f))) && certificatesValid(dir, o.certificates ?? []);
}

/** A folder we made: a real directory (not a symlink), ours, not writable by group or others. */
function safeDir(path: string): boolean {
  const st = lstatSync(path);
  return st.isDirectory() && ours(st) && (st.mode & 0o022) === 0;
}

type Link = { kind: 'absent' } | { kind: 'foreign'; why: string } | { kind: 'ours'; target: string | null };

/** What `final` is: nothing yet, a link of ours to a generation (or to nothing), or not ours to touch. */
function readLink(final: string): Link {
  let st;
  try {
    st = lstatSync(final);
  } catch {
    return { kind: 'absent' };
  }
  if (!st.isSymbolicLink()) return { kind: 'foreign', why: 'not a symlink' };
  if (!ours(st)) return { kind: 'foreign', why: `a symlink of uid ${st.uid}` };
  const target = readlinkSync(final);
  if (!isAbsolute(target) || dirname(target) !== dirname(final) || !basename(target).startsWith(`${basename(final)}.gen-`)) {
    return { kind: 'foreign', why: `a symlink to ${target}, not to one of our generations` };
  }
  try {
    if (!safeDir(target)) return { kind: 'foreign', why: `${target} is not a private folder of uid ${uid}` };
  } catch {
    return { kind: 'ours', target: null }; // the generation is gone (a temp cleaner): make one again
  }
  return { kind: 'ours', target };
}

/** Removes scratch folders of crashed fills: ours, named `kedge-*-new-XXXXXX`, older than SCRATCH_MAX_AGE_MS. */
function pruneScratch(root: string): void {
  const before = Date.now() - SCRATCH_MAX_AGE_MS;
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const n of names) {
    if (!/^kedge-.+-new-[\w]{6}$/.test(n) || n.includes('.gen-')) continue;
    try {
      const st = lstatSync(join(root, n));
      if (st.isDirectory() && ours(st) && st.mtimeMs < before) rmSync(join(root, n), { recursive: true, force: true });
    } catch {
      // raced with its owner or another pruner
    }
  }
}

/** The link naming the current generation of template `name`, in the temp dir. */
export function templateLink(name: string): string {
  return join(tmpdir(), `kedge-${name}-${uid ?? 'user'}-${hostname().replace(/[^\w.-]/g, '_')}`);
}

/** A scratch this process keeps as its own template (the shared one is not ours to use): removed at exit. */
function keepPrivate(scratch: string): string {
  process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
  return scratch;
}

async function make(name: string, files: readonly string[], fill: (scratch: string) => Promise<void>, o: TemplateOptions): Promise<string> {
  const root = tmpdir();
  const final = templateLink(name);
  const current = (): string | null => {
    const link = readLink(final);
    return link.kind === 'ours' && link.target && usable(link.target, files, o) ? link.target : null;
  };
  const found = current();
  if (found) return found;
  pruneScratch(root);
  const scratch = mkdtempSync(join(root, `kedge-${name}-new-`));
  try {
    await fill(scratch);
    if (!usable(scratch, files, o)) throw new Error(`template ${name}: ${scratch} lacks one of ${files.join(', ')} or holds a certificate that expires within 30 days or does not match its key, after it was made`);
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
  // Another process may have published one while we filled ours: use that (ours is unpublished).
  const meanwhile = current();
  if (meanwhile) {
    rmSync(scratch, { recursive: true, force: true });
    return meanwhile;
  }
  if (readLink(final).kind === 'foreign') return keepPrivate(scratch);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const generation = `${final}.gen-${tag}`;
  renameSync(scratch, generation);
  const tmpLink = `${final}.link-${tag}`;
  try {
    symlinkSync(generation, tmpLink);
    renameSync(tmpLink, final); // atomic: a reader sees the old generation or this one
  } catch {
    rmSync(tmpLink, { force: true }); // not published: the generation is still ours to use
  }
  return generation;
}

/**
 * The template folder `name` (a generation, never changed once returned), made by `fill` when
 * this machine user has no usable one yet.
 */
export function templateDir(name: string, files: readonly string[], fill: (scratch: string) => Promise<void>, o: TemplateOptions = {}): Promise<string> {
  let p = made.get(name);
  if (!p) {
    p = make(name, files, fill, o);
    made.set(name, p);
    p.catch(() => made.delete(name)); // a failed attempt is not remembered
  }
  return p;
}
