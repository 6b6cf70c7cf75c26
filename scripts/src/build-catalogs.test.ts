/**
 * The build merges the UI's catalogs the way the web server does at start: a driver's or sink's
 * text that clashes fails `buildDist` before it touches dist/, instead of stopping a box's web UI.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DRIVERS } from '@kedge/gateway/drivers/registry.ts';
import { uiCatalogs } from '@kedge/gateway/web/i18n.ts';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { tapeSink } from '@kedge/cloud-sync/north/fixtures/tape/index.ts';
import { buildDist, checkUiCatalogs, ROOT } from './build.ts';

const CACHE = join(ROOT, 'node_modules', '.cache');

test('a sink whose text clashes with the base catalog fails the build before dist/ is touched', async (t) => {
  mkdirSync(CACHE, { recursive: true });
  const out = mkdtempSync(join(CACHE, 'kedge-build-catalogs-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  writeFileSync(join(out, 'previous.mjs'), '// the last good build\n');
  const clashing = { ...tapeSink, messages: { ru: { 'logmsg.gateway started': 'лента' }, en: { 'logmsg.gateway started': 'tape' } } };
  await assert.rejects(
    buildDist({ outDir: out, checkCatalogs: () => uiCatalogs(DRIVERS, undefined, [...SINKS, clashing]) }),
    /sink tape: logmsg\.gateway started is in the base catalog/,
  );
  assert.ok(existsSync(join(out, 'previous.mjs')), 'the previous build is left as it was');
});

test("the build's own check merges the registered drivers' and sinks' texts without a clash", async () => {
  await checkUiCatalogs();
});
