/**
 * Archive entries a repacked bundle may carry, written byte by byte (tar's own writer would not
 * make most of them): hard links, devices, FIFOs, `..` and absolute names, PAX and GNU long
 * names that climb out, an unlisted symlink with a file through it, an entry of unknown type.
 * Each is refused by the real extraction, and nothing lands outside the staging folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'node:test';
import assert from 'node:assert/strict';
import { extractPayload, readBundleManifest } from './bundle.ts';
import type { Manifest } from './manifest.ts';
import { tempDir } from './testing.ts';

function header(name: string, type: string, size: number, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  const sum = h.reduce((a, b) => a + b, 0);
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}
const padded = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
const entry = (name: string, type: string, body = Buffer.alloc(0), linkname = '') => Buffer.concat([header(name, type, body.length, linkname), padded(body)]);
function pax(path: string): Buffer {
  const rec = ` path=${path}\n`;
  let len = rec.length + 1;
  while (`${len}${rec}`.length !== len) len++;
  return entry('PaxHeader', 'x', Buffer.from(`${len}${rec}`));
}

const CONTENT = Buffer.from('console.log("release")\n');
const MANIFEST = {
  format: 'kedge-ota/1',
  version: '1.1.0',
  minPreviousVersion: '0.0.0',
  createdAt: '2026-01-01T00:00:00.000Z',
  entry: ['a.js'],
  files: [
    { path: 'a.js', sha256: createHash('sha256').update(CONTENT).digest('hex'), size: CONTENT.length, mode: 0o644 },
    { path: 'evil/x.js', sha256: createHash('sha256').update(CONTENT).digest('hex'), size: CONTENT.length, mode: 0o644 },
  ],
  links: [],
  keyId: 'k',
  signature: 's',
} satisfies Manifest;
const GOOD = [entry('payload/a.js', '0', CONTENT), entry('payload/evil/x.js', '0', CONTENT)];

function bundle(work: string, name: string, entries: Buffer[]): string {
  const path = join(work, `${name}.tar.gz`);
  writeFileSync(path, gzipSync(Buffer.concat([entry('manifest.json', '0', Buffer.from(JSON.stringify(MANIFEST))), ...entries, Buffer.alloc(1024)])));
  return path;
}

const filesUnder = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : []);

test('the honest layout of these hand-written archives extracts (so every refusal below is the entry\'s own)', async () => {
  const work = tempDir(null);
  const staging = join(work, 'slots', '.staging');
  await extractPayload(bundle(work, 'good', GOOD), staging, await readBundleManifest(bundle(work, 'good', GOOD)));
  assert.deepEqual(filesUnder(staging), ['a.js', 'evil', 'evil/x.js']);
});

const attacks: Array<[string, Buffer[], RegExp]> = [
  ['a hard link under a listed name', [entry('payload/a.js', '1', Buffer.alloc(0), '/etc/passwd'), GOOD[1]!], /entry a\.js is a Link, only files and listed links are taken/],
  ['a character device under a listed name', [entry('payload/a.js', '3'), GOOD[1]!], /entry a\.js is a CharacterDevice/],
  ['a FIFO under a listed name', [entry('payload/a.js', '6'), GOOD[1]!], /entry a\.js is a FIFO/],
  ['a name with ..', [entry('payload/../../a.js', '0', CONTENT), ...GOOD], /file \.\.\/\.\.\/a\.js \(\d+ bytes\) is not listed/],
  ['an absolute name', [entry('/payload/a.js', '0', CONTENT), ...GOOD], /entry \/payload\/a\.js is outside payload\//],
  ['a PAX long name that climbs out', [pax(`payload/../../${'d/'.repeat(60)}x.js`), entry('payload/a.js', '0', CONTENT), GOOD[1]!], /file \.\.\/\.\.\/d\/d\/.* is not listed/],
  ['a GNU long name that climbs out', [entry('././@LongLink', 'L', Buffer.from('payload/../../x.js\0')), entry('payload/a.js', '0', CONTENT), GOOD[1]!], /file \.\.\/\.\.\/x\.js \(\d+ bytes\) is not listed/],
  ['an unlisted symlink with a listed file through it', [GOOD[0]!, entry('payload/evil', '2', Buffer.alloc(0), '../../outside'), GOOD[1]!], /link evil is not listed in the manifest/],
  ['an entry of unknown type (skipped by the parser, yet decompressed in full)', [entry('payload/zz', 'Z', Buffer.alloc(4 * 1024 * 1024)), ...GOOD], /entry payload\/zz \(type Unsupported\) is neither a file, a link nor a directory/],
];

for (const [what, entries, expect] of attacks) {
  test(`${what} is refused, and nothing is written outside the staging folder`, async () => {
    const work = tempDir(null);
    mkdirSync(join(work, 'slots'));
    const staging = join(work, 'slots', '.staging');
    const path = bundle(work, 'attack', entries);
    await assert.rejects(extractPayload(path, staging, await readBundleManifest(path)), expect);
    assert.deepEqual(readdirSync(work).sort(), ['attack.tar.gz', 'slots'], 'nothing beside the bundle and the slots');
    assert.deepEqual(readdirSync(join(work, 'slots')), ['.staging']);
    for (const f of filesUnder(staging)) assert.ok(['a.js', 'evil', 'evil/x.js'].includes(f), `only listed paths in staging, found ${f}`);
  });
}
