/**
 * Every driver of the registry is one folder that tells its own story: schema, form, definition,
 * a README with a sample config that loads, and its broken configs in testcases/config/, each
 * reported at the line and path its header names (`# expect: <line> <path>`, optionally
 * `# expect-text: <part of the message>`), as config/testcases/ is for the gateway's sections.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import { DRIVERS, type DriverDefinition } from './registry.ts';
import { fakeMeter } from './fixtures/fake-meter/index.ts';

const DRIVERS_DIR = fileURLToPath(new URL('.', import.meta.url));

for (const driver of DRIVERS) {
  const dir = join(DRIVERS_DIR, driver.kind);

  test(`${driver.kind}: its folder has the schema, the form, the definition, a README and config cases`, () => {
    for (const file of ['schema.ts', 'form.ts', 'index.ts', 'README.md']) assert.ok(existsSync(join(dir, file)), `${driver.kind}/${file}`);
    assert.ok(readdirSync(join(dir, 'testcases', 'config')).some((f) => f.endsWith('.yaml')), `${driver.kind}/testcases/config/*.yaml`);
  });

  test(`${driver.kind}: the sample config its README names loads, with a device of this driver`, async () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const samples = [...new Set([...readme.matchAll(/`([\w.-]+\.yaml)`/g)].map((m) => m[1]!))].filter((f) => existsSync(join(dir, f)));
    assert.ok(samples.length > 0, `${driver.kind}/README.md names no sample .yaml of its folder`);
    for (const sample of samples) {
      const config = await loadConfigFile(join(dir, sample));
      assert.ok(config.devices.some((d) => d.driver === driver.kind), `${sample} has no ${driver.kind} device`);
      for (const d of config.devices) assert.ok(driver.describe(d as never).length > 0, `${sample}: ${d.id} has no address line`);
    }
  });

  const casesDir = join(dir, 'testcases', 'config');
  for (const file of existsSync(casesDir) ? readdirSync(casesDir).filter((f) => f.endsWith('.yaml')).sort() : []) {
    const text = readFileSync(join(casesDir, file), 'utf8');
    const expect = /^# expect: (\d+) (\S+)/m.exec(text);
    const what = file.replace(/\.yaml$/, '').replaceAll('-', ' ');
    test(`${driver.kind}: a config with ${what} is rejected at ${expect?.[2] ?? '?'} line ${expect?.[1] ?? '?'}`, async () => {
      assert.ok(expect, `${file} has no "# expect: <line> <path>" header`);
      const [line, path] = [Number(expect[1]), expect[2]!];
      const source = join(casesDir, file);
      const err = await loadConfigFile(source).then(
        () => assert.fail(`${file} was accepted`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConfigError, String(err));
      const issue = err.issues.find((i) => i.path === path && i.line === line);
      assert.ok(issue, `no issue at ${path} line ${line}; got:\n${err.message}`);
      // The message names the file, line, column and path before the problem.
      assert.ok(err.message.split('\n').includes(`  ${source}:${line}:${issue.column} ${path}: ${issue.message}`), err.message);
      for (const m of text.matchAll(/^# expect-text: (.+)$/gm)) assert.ok(issue.message.includes(m[1]!), `"${issue.message}" lacks "${m[1]}"`);
    });
  }
}

/**
 * A driver that takes `profile:` (profileDefaults) must also say what a profile point becomes
 * (profilePoints) and how the add-device form builds a device from a profile: with the defaults
 * alone, `profile:` would give the device's settings but silently no points.
 */
function profileHookProblems(d: DriverDefinition): string[] {
  if (!d.profileDefaults) return [];
  return (['profilePoints', 'deviceFromProfile', 'profileTransport'] as const).filter((k) => d[k] === undefined).map((k) => `${d.kind}: profileDefaults without ${k}`);
}

test('a driver with profileDefaults has profilePoints, deviceFromProfile and profileTransport', () => {
  assert.deepEqual([...DRIVERS, fakeMeter].flatMap((d) => profileHookProblems(d as DriverDefinition)), []);
  assert.ok(DRIVERS.some((d) => (d as DriverDefinition).profileDefaults), 'the Modbus drivers take profiles: the check looks at something');
  // The check can fail: a definition with the defaults and no point mapping.
  const tcp = DRIVERS.find((d) => (d as DriverDefinition).profileDefaults) as DriverDefinition;
  assert.deepEqual(profileHookProblems({ ...tcp, profilePoints: undefined } as DriverDefinition), [`${tcp.kind}: profileDefaults without profilePoints`]);
});

// The folders of shared code (modbus/) document with samples too: every folder's README sample loads.
const folders = readdirSync(DRIVERS_DIR, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== 'fixtures' && existsSync(join(DRIVERS_DIR, e.name, 'README.md')));

test('every driver folder with a README, shared ones included, has its sample configs load', async () => {
  const registered = new Set<string>(DRIVERS.map((d) => d.kind));
  assert.ok(folders.some((f) => !registered.has(f.name)), 'the shared modbus/ folder is looked at');
  const loaded: string[] = [];
  for (const { name } of folders) {
    const readme = readFileSync(join(DRIVERS_DIR, name, 'README.md'), 'utf8');
    for (const sample of new Set([...readme.matchAll(/`([\w.-]+\.yaml)`/g)].map((m) => m[1]!))) {
      if (!existsSync(join(DRIVERS_DIR, name, sample))) continue;
      const config = await loadConfigFile(join(DRIVERS_DIR, name, sample));
      assert.ok(config.devices.length > 0, `${name}/${sample} has no device`);
      loaded.push(`${name}/${sample}`);
    }
  }
  // Each README names one sample of its folder at least, and every .yaml beside a README is one it names.
  assert.deepEqual(folders.filter(({ name }) => !loaded.some((l) => l.startsWith(`${name}/`))).map((f) => f.name), []);
  const beside = folders.flatMap(({ name }) => readdirSync(join(DRIVERS_DIR, name)).filter((f) => f.endsWith('.yaml')).map((f) => `${name}/${f}`));
  assert.deepEqual(beside.filter((f) => !loaded.includes(f)), [], 'a sample config no README names (and no test loads)');
});
