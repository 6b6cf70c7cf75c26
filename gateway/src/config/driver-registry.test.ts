/**
 * A southbound driver is one folder plus one line in registry.ts. Proven two ways: a fourth
 * driver from a fixture folder (fixtures/fake-meter), handed to the same builders the registry
 * feeds, is validated, described, listed, offered a form and has its own texts in the UI's
 * catalog with nothing else changed (its native library: scripts/src/build.test.ts); and the
 * import graph keeps config/ and drivers/ apart (no driver file imports config/schema.ts, config
 * reaches drivers only through the registry, no cycle through the config schema).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import Fastify from 'fastify';
import { pino } from 'pino';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import { devicesSchemaFor } from './schema.ts';
import { driverForms } from '../web/routes/driver-forms.ts';
import { i18nRoutes } from '../web/routes/i18n.ts';
import { uiCatalogs } from '../web/i18n.ts';
import { fakeMeter } from '../drivers/fixtures/fake-meter/index.ts';
import { createDriver, DEVICE_DRIVERS, DRIVERS, type DriverDefinition } from '../drivers/registry.ts';
import { driverContext } from '../driver-context.ts';

const SRC = fileURLToPath(new URL('../', import.meta.url));
const WITH_FAKE = [...DRIVERS, fakeMeter] as const;

const meter = (extra: Record<string, unknown> = {}) => ({ id: 'heat-1', driver: 'fake-meter', line: 'mbus0', primaryAddress: 7, points: [{ id: 'energy', record: 0, unit: 'kWh' }], ...extra });

test('a fourth driver handed to the registry builders is validated with its defaults, its own checks and its paths', () => {
  const devices = devicesSchemaFor(WITH_FAKE);
  const ok = devices.parse([meter(), { id: 'pump', driver: 'modbus-tcp', host: '10.0.0.5', points: [{ id: 'flow', table: 'holding', address: 0 }] }]);
  assert.deepEqual(ok[0], {
    id: 'heat-1',
    driver: 'fake-meter',
    enabled: true,
    line: 'mbus0',
    primaryAddress: 7,
    intervalMs: 60_000,
    timeoutMs: 2000,
    backoff: { minMs: 1000, maxMs: 60_000 },
    points: [{ id: 'energy', record: 0, scale: 1, offset: 0, unit: 'kW.h', deadband: 0, heartbeatMs: 3_600_000, writable: false }],
  });
  assert.equal(ok[1]!.driver, 'modbus-tcp');

  const bad = devices.safeParse([meter({ line: '' }), meter({ id: 'x', driver: 'fake-metre' })]);
  assert.ok(!bad.success);
  assert.deepEqual(
    bad.error.issues.map((i) => [i.path.join('.'), i.message]),
    [
      ['0.line', 'must name the meter line, e.g. mbus0'],
      ['1.driver', 'driver must be one of: modbus-tcp, modbus-rtu, opcua, fake-meter (got "fake-metre")'],
    ],
  );
  // The driver's own check across its devices (checkDevices), run once every device is valid.
  const taken = devices.safeParse([meter(), meter({ id: 'heat-2' }), meter({ id: 'heat-3', primaryAddress: 8 })]);
  assert.ok(!taken.success);
  assert.deepEqual(taken.error.issues.map((i) => [i.path.join('.'), i.message]), [['1.primaryAddress', 'primary address 7 on mbus0 is taken by devices[0]']]);
  // Without the registry line the same device is refused as an unknown driver.
  const without = devicesSchemaFor(DRIVERS).safeParse([meter()]);
  assert.ok(!without.success);
  assert.equal(without.error.issues[0]!.message, `driver must be one of: ${DEVICE_DRIVERS.join(', ')} (got "fake-meter")`);
});

test('the fourth driver is described, created, listed in the UI driver list and offered its form', async () => {
  const device = fakeMeter.schema.parse(meter());
  assert.equal(fakeMeter.describe(device), 'mbus0 address 7');
  const driver = await fakeMeter.create(device, driverContext({ dataDir: '/nonexistent' }));
  assert.deepEqual((await driver.poll(['energy'])).samples.map((s) => [s.point, s.value, s.quality]), [['energy', 1, 'good']]);
  const forms = await driverForms(WITH_FAKE);
  assert.deepEqual(forms.map((f) => f.driver), ['modbus-tcp', 'modbus-rtu', 'opcua', 'fake-meter']);
  const form = forms.at(-1)!;
  assert.deepEqual(form.label, { ru: 'Счётчик M-Bus (проба)', en: 'M-Bus meter (fixture)' });
  assert.deepEqual(form.fields.find((f) => f.key === 'primaryAddress'), { key: 'primaryAddress', group: 'connection', label: { ru: 'Первичный адрес', en: 'Primary address' }, widget: 'number', required: true, min: 1, max: 250 });
  assert.equal(form.testRead, false, 'no test read declared: the form says so instead of offering the button');
  assert.equal(form.profiles, false);
});

test("the fourth driver's warning and log line texts come with its definition: merged into the catalog the browser loads, shown by the UI's own code", async (t) => {
  const ui = join(SRC, 'web', 'ui', 'lib');
  const i18n = (await import(join(ui, 'i18n.js'))) as { setMessages(lang: string, m: Record<string, string>): void };
  const { logSummary, warningText } = (await import(join(ui, 'log-text.js'))) as {
    logSummary(line: { msg: string; context?: Record<string, unknown> }): string | null;
    warningText(w: { code?: string; params?: Record<string, unknown>; message: string }): string | null;
  };
  // Its warning, from its own hook, and its log line, from its implementation.
  const [warning] = fakeMeter.warnings!(fakeMeter.schema.parse(meter({ intervalMs: 5000 })), undefined);
  assert.equal(warning?.code, 'meter_battery_poll');
  assert.deepEqual(fakeMeter.warnings!(fakeMeter.schema.parse(meter()), undefined), [], 'its default interval is fine');
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ base: null, timestamp: false }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  await fakeMeter.create(fakeMeter.schema.parse(meter()), driverContext({ dataDir: '/nonexistent' }, logger));
  const { msg, level: _level, ...context } = records.find((r) => r['event'] === 'meter_line_opened')!;

  // Without the registry line the UI has no text for either: the line stays English.
  const app = Fastify();
  t.after(() => app.close());
  await app.register(async (scope) => i18nRoutes(scope, { drivers: WITH_FAKE }), { prefix: '/with' });
  await app.register(async (scope) => i18nRoutes(scope, { drivers: DRIVERS }), { prefix: '/without' });
  const served = async (path: string) => (await app.inject({ url: path })).json<Record<string, string>>();
  const without = await served('/without/i18n/ru.json');
  assert.ok(!('warn.meter_battery_poll' in without) && !('logevent.meter_line_opened' in without));
  i18n.setMessages('ru', without);
  assert.equal(warningText(warning!), null);
  assert.equal(logSummary({ msg: String(msg), context }), null);

  // With it, the served catalog carries the texts of its messages.ts, in both languages.
  const ru = await served('/with/i18n/ru.json');
  const en = await served('/with/i18n/en.json');
  assert.deepEqual(ru, uiCatalogs(WITH_FAKE).ru);
  assert.equal(ru['warn.meter_battery_poll'], fakeMeter.messages!.ru['warn.meter_battery_poll']);
  assert.equal(en['logevent.meter_line_opened'], fakeMeter.messages!.en['logevent.meter_line_opened']);
  assert.ok('warn.points_overlap' in ru, "the registered drivers' texts are there too");
  i18n.setMessages('ru', ru);
  assert.match(warningText(warning!)!, /^интервал опроса 5 с слишком мал для счётчика с батарейным питанием/);
  assert.equal(logSummary({ msg: String(msg), context }), 'Линия M-Bus mbus0 открыта, счётчик «heat-1», первичный адрес 7');
  i18n.setMessages('en', en);
  assert.equal(logSummary({ msg: String(msg), context }), 'M-Bus line mbus0 opened for meter "heat-1", primary address 7');
  // Served like the UI files: revalidated, 304 when unchanged.
  const first = await app.inject({ url: '/with/i18n/ru.json' });
  assert.equal(first.headers['cache-control'], 'no-cache');
  assert.equal((await app.inject({ url: '/with/i18n/ru.json', headers: { 'if-none-match': String(first.headers['etag']) } })).statusCode, 304);
  assert.notEqual(first.headers['etag'], (await app.inject({ url: '/without/i18n/ru.json' })).headers['etag']);
});

test('every registered driver describes where its devices are, RTU devices by their serial port', async () => {
  const describe = (d: Record<string, unknown>) => {
    const def = DRIVERS.find((x) => x.kind === d['driver']) as DriverDefinition;
    return def.describe(def.schema.parse(d));
  };
  const points = [{ id: 'flow', table: 'holding', address: 0 }];
  assert.equal(describe({ id: 'a', driver: 'modbus-tcp', host: '10.0.0.5', unitId: 3, points }), '10.0.0.5:502 unit 3');
  assert.equal(describe({ id: 'b', driver: 'modbus-rtu', port: '/dev/ttyUSB1', unitId: 7, points }), '/dev/ttyUSB1 unit 7');
  assert.equal(describe({ id: 'c', driver: 'opcua', endpointUrl: 'opc.tcp://10.0.0.9:4840', points: [{ id: 'level', nodeId: 'ns=2;s=Level' }] }), 'opc.tcp://10.0.0.9:4840');
  // In the UI's language, from the driver's own text (describeText + messages), the page knowing no driver's format.
  const { ru, en } = uiCatalogs(DRIVERS);
  const text = (lang: Record<string, string>, d: Record<string, unknown>) => {
    const def = DRIVERS.find((x) => x.kind === d['driver']) as DriverDefinition;
    const line = def.describeText?.(def.schema.parse(d));
    return line ? lang[line.key]!.replace(/\{(\w+)\}/g, (_, k: string) => String(line.params[k])) : null;
  };
  assert.equal(text(ru, { id: 'a', driver: 'modbus-tcp', host: '10.0.0.5', unitId: 3, points }), '10.0.0.5:502 · адрес Modbus 3');
  assert.equal(text(en, { id: 'b', driver: 'modbus-rtu', port: '/dev/ttyUSB1', unitId: 7, points }), '/dev/ttyUSB1 · unit 7');
  assert.equal(text(ru, { id: 'c', driver: 'opcua', endpointUrl: 'opc.tcp://10.0.0.9:4840', points: [{ id: 'level', nodeId: 'ns=2;s=Level' }] }), null, 'an endpoint URL reads the same in any language');
  const devicesPage = readFileSync(join(SRC, 'web/ui/pages/devices.js'), 'utf8');
  assert.ok(!devicesPage.includes(' unit '), "the devices page does not parse a driver's address line (it once rewrote Modbus's ' unit N')");
  await assert.rejects(createDriver({ ...fakeMeter.schema.parse(meter()) } as never, driverContext({ dataDir: '/nonexistent' })), /no driver "fake-meter" in drivers\/registry\.ts/);
});

// ---------------------------------------------------------------------------------------
// The import graph

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'ui' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, type-only and dynamic), resolved to paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => relative(SRC, resolve(dirname(file), s)));
}

const FILES = sources(SRC).map((f) => relative(SRC, f));
const GRAPH = new Map(FILES.map((f) => [f, importsOf(join(SRC, f))]));
const isTest = (f: string) => /\.test\.ts$/.test(f);
/** A file inside one driver's folder (drivers/<folder>/...), not the shared drivers/*.ts. */
const inDriverFolder = (f: string) => /^drivers\/[^/]+\//.test(f);

test('no driver file imports the config schema: drivers use config/primitives.ts only', () => {
  const offenders = [...GRAPH].flatMap(([f, deps]) => (f.startsWith('drivers/') ? deps.filter((d) => d === 'config/schema.ts').map((d) => `${f} -> ${d}`) : []));
  assert.deepEqual(offenders, []);
  // Outside tests (which may load whole configs through config/load.ts), nothing but the primitives.
  const reaching = [...GRAPH].flatMap(([f, deps]) => (f.startsWith('drivers/') && !isTest(f) ? deps.filter((d) => d.startsWith('config/') && d !== 'config/primitives.ts').map((d) => `${f} -> ${d}`) : []));
  assert.deepEqual(reaching, []);
});

test('config/ reaches the drivers only through the registry', () => {
  const offenders = [...GRAPH].flatMap(([f, deps]) =>
    f.startsWith('config/') && !isTest(f) ? deps.filter((d) => d.startsWith('drivers/') && d !== 'drivers/registry.ts').map((d) => `${f} -> ${d}`) : [],
  );
  assert.deepEqual(offenders, []);
});

test('no import cycle runs through the config schema', () => {
  // Everything config/schema.ts reaches, transitively, outside tests: none of it imports the schema back.
  const seen = new Set<string>();
  const walk = (f: string) => {
    for (const d of GRAPH.get(f) ?? []) {
      if (seen.has(d) || isTest(d)) continue;
      seen.add(d);
      walk(d);
    }
  };
  walk('config/schema.ts');
  const back = [...seen].filter((f) => (GRAPH.get(f) ?? []).includes('config/schema.ts'));
  assert.deepEqual(back, []);
  assert.ok(seen.has('drivers/registry.ts') && seen.has('drivers/opcua/schema.ts'), 'the union is built from the registry');
});

/** Every cycle of `graph` found by depth-first search, each once, as "a -> b -> a". */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const found = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'open') found.add([...stack.slice(stack.indexOf(d)), d].join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return [...found];
}

test('no import cycle anywhere in gateway/src (type-only and dynamic imports included)', () => {
  // The last one: secrets.ts -> drivers/registry.ts -> driver-context.ts -> secrets.ts (which
  // config fields name secret files is config/secret-files.ts's now, not the file reader's).
  assert.deepEqual(cyclesOf(GRAPH), []);
  // The search finds one when there is one.
  assert.deepEqual(cyclesOf(new Map([['secrets.ts', ['drivers/registry.ts']], ['drivers/registry.ts', ['driver-context.ts']], ['driver-context.ts', ['secrets.ts']]])), ['secrets.ts -> drivers/registry.ts -> driver-context.ts -> secrets.ts']);
});

test("a fourth driver's credentials stay with its endpoint under a center's config command, through its definition alone", async () => {
  const { parseConfig } = await import('./load.ts');
  const { protectedChanges } = await import('../commands/protected-sections.ts');
  const base = parseConfig('gateway: { id: gw-1, region: kuzbass, municipality: kemerovo }\nuplink: { url: "mqtts://ingest.example.ru:8883" }\ndevices: [{ id: pump, driver: modbus-tcp, host: 10.0.0.5, points: [{ id: flow, table: holding, address: 0 }] }]\n', 'kedge.yaml', '/tmp');
  const withMeters = (...devices: Array<Record<string, unknown>>) => ({ ...base, devices: devices.map((d) => fakeMeter.schema.parse(d)) }) as unknown as typeof base;
  const file = '/etc/kedge/heat.password';
  const current = withMeters(meter({ passwordFile: file }));
  const refused = (next: typeof base, drivers: readonly DriverDefinition[] = WITH_FAKE) => protectedChanges(current, next, drivers).map((c) => c.path);
  // Moved to another meter line with its password file: refused at the field its binding names.
  assert.deepEqual(refused(withMeters(meter({ passwordFile: file, line: 'mbus9' }))), ['devices[0].line']);
  // Its password file handed to a second meter: refused.
  assert.deepEqual(refused(withMeters(meter({ passwordFile: file }), meter({ id: 'heat-2', primaryAddress: 8, passwordFile: file }))), ['devices[1].passwordFile']);
  // Other changes stay free.
  assert.deepEqual(refused(withMeters(meter({ passwordFile: file, name: 'Heat' }))), []);
  // The refusal comes from the definition's hook: without the registry line nothing guards the move.
  assert.deepEqual(refused(withMeters(meter({ passwordFile: file, line: 'mbus9' })), DRIVERS), []);
});

/**
 * What a new driver touches outside its folder: the registry line. Files outside drivers/ that
 * import a driver folder directly are tools for that protocol only (they name the drivers they
 * serve and refuse the others), listed here with why; a new entry here is a new place a
 * driver's story leaks out of its folder.
 */
const PROTOCOL_TOOLS: Record<string, string> = {
  'web/routes/registers.ts': "the Modbus register tool: the protocol's tables and error classes (the link comes from DriverDefinition.modbusLink)",
  'web/routes/traffic.ts': "the Modbus traffic view: the protocol's traffic rings (the link key comes from DriverDefinition.modbusLink)",
  'web/routes/json.ts': "Modbus values' JSON form (64-bit integers as strings)",
  // config/config-store.ts and commands/protected-sections.ts ask the registry where a device's
  // credentials go (DriverDefinition.credentialBinding), not a driver folder.
};

test('outside drivers/, only the registry and named protocol tools import a driver folder', () => {
  const direct = [...GRAPH].flatMap(([f, deps]) =>
    !f.startsWith('drivers/') && !isTest(f) && !f.includes('fixture') && deps.some(inDriverFolder) ? [f] : [],
  );
  assert.deepEqual(direct.sort(), Object.keys(PROTOCOL_TOOLS).sort());
});

test('the UI device form names no driver: its driver list, fields, test read and profiles come from /api/drivers/forms', () => {
  const js = readFileSync(join(SRC, 'web/ui/pages/device-form.js'), 'utf8');
  for (const kind of DEVICE_DRIVERS) assert.doesNotMatch(js, new RegExp(`['"\`]${kind}['"\`]`), `device-form.js names ${kind}`);
});

// ---------------------------------------------------------------------------------------
// Driver kinds as string literals: knowledge no import test sees

/**
 * Product files outside drivers/ that still write a driver kind as a string literal, each with
 * why. Comments are not looked at (a literal is quoted); tests, fixtures and the config cases
 * (YAML) are not product code. A new entry here is a new place a driver's story leaks out.
 */
const KIND_LITERALS: Record<string, string> = {
  'config/schema.ts': "per-driver config types (Extract<DeviceConfig, { driver: 'opcua' }>) for callers that hold one driver's device",
  // The register tool and the traffic view reach a device's link through its definition
  // (DriverDefinition.modbusLink), so they name no driver.
};

/** Product sources under src/, the browser UI's .js included, tests and fixtures not. */
function productFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' ? [] : productFiles(p);
    return /\.(ts|js)$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [relative(SRC, p)] : [];
  });
}

const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

test('outside drivers/, no product file names a driver kind in a string, but the listed exceptions', () => {
  const kinds = DEVICE_DRIVERS.join('|');
  const literal = new RegExp(`['"\`](${kinds})['"\`]`);
  const naming = productFiles(SRC).filter((f) => !f.startsWith('drivers/') && literal.test(withoutComments(readFileSync(join(SRC, f), 'utf8'))));
  assert.deepEqual(naming.sort(), Object.keys(KIND_LITERALS).sort());
  // The check can fail: the devices page before its buttons came from the driver definitions.
  assert.match("const modbus = d.driver === 'modbus-tcp' || d.driver === 'modbus-rtu';", literal);
});

/** The keys of a zod object schema (refinements and pipes looked through). */
function shapeKeys(schema: unknown): string[] {
  let s = schema as { shape?: Record<string, unknown>; _zod?: { def?: { shape?: Record<string, unknown>; in?: unknown; innerType?: unknown; element?: unknown; options?: unknown[] } } } | undefined;
  for (let i = 0; i < 5 && s && !s.shape && !s._zod?.def?.shape; i++) s = (s._zod?.def?.in ?? s._zod?.def?.innerType) as typeof s;
  return Object.keys(s?.shape ?? s?._zod?.def?.shape ?? {});
}
function pointKeys(schema: unknown): string[] {
  const shape = (schema as { shape?: Record<string, unknown> }).shape ?? {};
  let points = shape['points'] as { _zod?: { def?: { element?: unknown; innerType?: unknown; in?: unknown } } } | undefined;
  for (let i = 0; i < 5 && points && !points._zod?.def?.element; i++) points = (points._zod?.def?.innerType ?? points._zod?.def?.in) as typeof points;
  const element = points?._zod?.def?.element as { _zod?: { def?: { options?: unknown[] } } } | undefined;
  return [...shapeKeys(element), ...(element?._zod?.def?.options ?? []).flatMap(shapeKeys)];
}

/**
 * Files outside drivers/ that name a field only some drivers' devices have, each with why: the
 * Modbus tools (their pages and routes, PROTOCOL_TOOLS) speak of the unit and numbering of the
 * link they were opened on. A new entry is a driver field handled outside its folder.
 */
const DRIVER_FIELDS: Record<string, string> = {
  'web/routes/registers.ts': 'the Modbus register tool: another unit on the same link',
  'web/routes/traffic.ts': "the Modbus traffic view: the device's unit on its link",
  'web/ui/pages/registers.js': "the register tool's page: the unit and the device's address numbering",
  'web/ui/pages/traffic.js': "the traffic view's page: the device's unit",
};
/** Field names any code uses for other things (a URL's host and port, a file's mode, an array's length): not searched for. */
const COMMON_WORDS = new Set(['host', 'port', 'table', 'address', 'type', 'order', 'bit', 'length', 'auth', 'mode']);

/**
 * Whether `text` names one of `fields` as a device's or point's field. A compound name
 * (`unitId`, `primaryAddress`) is looked for anywhere: as a string, a property or a key. A
 * plain word (`line`, `record`, `parity`) means other things in any code (a log line, a
 * stored record), so only its access on a device or point counts (`device.line`,
 * `p['record']`): a new driver's common words need no entry here.
 */
function fieldNamer(fields: readonly string[]): (text: string) => string[] {
  const access = (k: string) => `\\b(?:device|dev|d|point|pt|p)(?:\\??\\.${k}\\b|\\[['"\`]${k}['"\`]\\])`;
  const anywhere = (k: string) => `['"\`]${k}['"\`]|\\.${k}\\b|\\b${k}\\??:`;
  const patterns = fields.map((k) => [k, new RegExp(/^[a-z]+$/.test(k) ? access(k) : anywhere(k))] as const);
  return (text) => patterns.filter(([, re]) => re.test(text)).map(([k]) => k);
}

test("outside drivers/, no product file names a driver's own config field, but the Modbus tools", () => {
  // What every device has (BaseDevice in drivers/definition.ts, and `profile:`): not a driver's own.
  const base = new Set(['id', 'driver', 'name', 'enabled', 'intervalMs', 'timeoutMs', 'backoff', 'points', 'profile', 'unit', 'scale', 'offset', 'deadband', 'heartbeatMs', 'writable']);
  // Fields other schemas have too (an uplink's passwordFile, tls): naming them says nothing of a driver.
  const sinkFields = new Set(SINKS.flatMap((s) => shapeKeys(s.schema)));
  // The registry and a fourth driver from its folder (the fake meter: line, primaryAddress,
  // record): the check must hold for a driver added with one line, with no edit here.
  const fields = [...new Set(WITH_FAKE.flatMap((d) => [...shapeKeys(d.schema), ...pointKeys(d.schema)]))].filter((k) => !base.has(k) && !COMMON_WORDS.has(k) && !sinkFields.has(k));
  // The schemas are read: Modbus's unit and numbering, RTU's line settings, OPC UA's endpoint and node ids, the fake meter's.
  for (const k of ['unitId', 'addressBase', 'baudRate', 'endpointUrl', 'securityMode', 'nodeId', 'line', 'primaryAddress', 'record']) assert.ok(fields.includes(k), `${k} not found in the driver schemas: got ${fields.join(', ')}`);
  const named = fieldNamer(fields);
  const naming = productFiles(SRC).filter((f) => !f.startsWith('drivers/') && named(withoutComments(readFileSync(join(SRC, f), 'utf8'))).length > 0);
  assert.deepEqual(naming.sort(), Object.keys(DRIVER_FIELDS).sort());
  // The check can fail: config/profiles.ts before a profile point became the driver's (profilePoints).
  assert.deepEqual(named("const addressBase = typeof device['addressBase'] === 'number' ? device['addressBase'] : 0;"), ['addressBase']);
  // A plain word counts as a device's field, not as a log line's or a stored record's.
  assert.deepEqual(named("const bus = device.line ?? d['record'];"), ['line', 'record']);
  assert.deepEqual(named("logger.info({ line: err.line, record: row.record }, 'line read');"), []);
});

test('a profile becomes a device through its driver: the driver of its first transport, or the one asked for', async () => {
  const { deviceFromProfile } = await import('../web/routes/profiles.ts');
  const { loadProfile } = await import('@kedge/device-profiles/load.ts');
  const magflux = loadProfile('magflux-water-meter');
  const rtu = DRIVERS.find((d) => (d as DriverDefinition).profileTransport === magflux.protocol.transports[0])!;
  const made = deviceFromProfile(magflux, 'en');
  assert.equal(made['driver'], rtu.kind);
  // The device the driver's own hook builds, plus the name and id the route gives it.
  assert.deepEqual({ ...made, id: undefined, name: undefined }, { id: undefined, name: undefined, ...(rtu as DriverDefinition).deviceFromProfile!(magflux, 'en') });
  // What it builds is a valid device of that driver once the link is filled in.
  const schema = devicesSchemaFor(DRIVERS);
  assert.ok(schema.safeParse([{ ...made, id: 'magflux' }]).success);
  assert.throws(() => deviceFromProfile(magflux, 'en', 'opcua'), /no driver builds a device from profile "magflux-water-meter" \(opcua\)/);
});

test('the devices page offers each driver its own tools, as its definition lists them', async () => {
  const forms = await driverForms(WITH_FAKE);
  assert.deepEqual(
    forms.map((f) => [f.driver, f.tools]),
    WITH_FAKE.map((d) => [d.kind, (d as DriverDefinition).tools ?? []]),
  );
  assert.deepEqual(forms.find((f) => f.driver === 'fake-meter')?.tools, []);
  const js = readFileSync(join(SRC, 'web/ui/pages/devices.js'), 'utf8');
  for (const kind of DEVICE_DRIVERS) assert.doesNotMatch(js, new RegExp(`['"\`]${kind}['"\`]`), `devices.js names ${kind}`);
});
