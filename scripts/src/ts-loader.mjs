/**
 * The TypeScript loader `npm test` runs the test files with (`node --import ts-loader.mjs`):
 * node's own module resolution plus esbuild's compile of `.ts` files (ts-hooks.mjs), instead of
 * tsx, whose hooks handle every module import of every file. Programs the tests start as
 * children, and everything outside the test run, still use tsx.
 *
 * As under tsx, a stack trace names the line of the .ts file, not of the compiled JavaScript;
 * but not through node's source maps (process.setSourceMapsEnabled): those read and parse the
 * .js.map of every package module loaded (node-opcua, ajv, mqtt ship hundreds), ~0.3 s of CPU
 * in a file that loads them, though no stack ever points there. Here only the frames of the
 * .ts files the hooks compiled are mapped, through the map of the text they compiled (the hooks
 * say where it is for each file they load), read when a stack first shows one of its frames.
 */
import { readFileSync } from 'node:fs';
import { register, SourceMap } from 'node:module';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { INLINE_MAP } from './ts-compile-cache.mjs';

const { port1: fromHooks, port2 } = new MessageChannel();
// Read only when a stack is: never a reason for the process to stay.
fromHooks.unref();
register('./ts-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

/** By file URL, for each file the hooks loaded: `{ file }` (its cache file) or `{ map }` (encoded), until parsed. */
const loaded = new Map();
/** By file URL: the parsed map, or null (none, or unreadable: the frame keeps the compiled position). */
const maps = new Map();

function mapOf(url) {
  let map = maps.get(url);
  if (map !== undefined) return map;
  for (let m; (m = receiveMessageOnPort(fromHooks)); ) loaded.set(m.message.url, m.message);
  const entry = loaded.get(url);
  if (!entry) return null; // not (yet) loaded by the hooks: not compiled by them
  map = null;
  try {
    let encoded = entry.map;
    if (entry.file) {
      const code = readFileSync(entry.file, 'utf8');
      const at = code.lastIndexOf(INLINE_MAP);
      if (at >= 0) encoded = code.slice(at + INLINE_MAP.length);
    }
    if (encoded) map = new SourceMap(JSON.parse(Buffer.from(encoded.trim(), 'base64').toString('utf8')));
  } catch {
    // the cache file pruned meanwhile, or damaged: compiled positions
  }
  maps.set(url, map);
  loaded.delete(url);
  return map;
}

function frameText(frame) {
  const text = String(frame);
  const url = frame.getFileName();
  const line = frame.getLineNumber();
  const column = frame.getColumnNumber();
  if (!url?.startsWith('file:') || line == null || column == null) return text;
  const entry = mapOf(url)?.findEntry(line - 1, column - 1);
  if (!entry || entry.originalLine === undefined) return text;
  const compiled = `${url}:${line}:${column}`;
  const at = text.lastIndexOf(compiled);
  if (at < 0) return text;
  return `${text.slice(0, at)}${url}:${entry.originalLine + 1}:${entry.originalColumn + 1}${text.slice(at + compiled.length)}`;
}

Error.prepareStackTrace = (error, frames) => {
  let head;
  try {
    head = Error.prototype.toString.call(error);
  } catch {
    head = '<error>';
  }
  return frames.length === 0 ? head : `${head}\n    at ${frames.map(frameText).join('\n    at ')}`;
};
