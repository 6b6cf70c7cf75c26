import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { parseDocument } from 'yaml';
import { waitFor } from '@kedge/testkit/wait.ts';
import { commandConfigFile } from '../commands/index.ts';
import { rawPublicKey } from '../ota/verify.ts';
import { Scheduler } from '../scheduler/scheduler.ts';
import { ConfigStore } from './config-store.ts';
import { webFixture } from '../web/test-fixture.ts';
import { CONFIG_HISTORY_FILE, ConfigApplyError, ConfigService } from './config-service.ts';

const publicKey = () => rawPublicKey(generateKeyPairSync('ed25519').publicKey).toString('base64');
const addedDevice = (port: number) => ({
  id: 'added',
  name: 'Добавленный',
  driver: 'modbus-tcp',
  host: '127.0.0.1',
  port,
  unitId: 1,
  intervalMs: 100,
  points: [{ id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB', unit: 'm3/h' }],
});

/** Schedulers started and not stopped since install(): a reload that orphans one leaves two. */
function countRunningSchedulers(): { running: Set<Scheduler>; restore(): void } {
  const running = new Set<Scheduler>();
  const { start, stop } = Scheduler.prototype;
  Scheduler.prototype.start = function (this: Scheduler) {
    running.add(this);
    return start.call(this);
  };
  Scheduler.prototype.stop = function (this: Scheduler) {
    running.delete(this);
    return stop.call(this);
  };
  return {
    running,
    restore: () => Object.assign(Scheduler.prototype, { start, stop }),
  };
}

test('SIGHUP, a UI edit and a command at once: each applies on top of the one before, one scheduler runs, the last file is in force', async () => {
  const schedulers = countRunningSchedulers();
  const f = await webFixture();
  try {
    const service = f.web.ctx.configService;
    // What main.ts does: the commands' store is built on the same service as the UI's.
    const command = commandConfigFile(new ConfigStore(service), () => f.gateway.currentConfig());
    // The command keys are set on the box (the web API cannot change them): the file, then SIGHUP.
    const initial = parseDocument(readFileSync(f.configPath, 'utf8'));
    initial.set('commands', initial.createNode({ trustedKeys: [{ id: 'center-1', publicKey: publicKey() }] }));
    writeFileSync(f.configPath, initial.toString());
    await service.reloadFile();
    const owner = await f.setup();
    // A hand edit on the box, announced by SIGHUP (main.ts calls reloadFile).
    const doc = parseDocument(readFileSync(f.configPath, 'utf8'));
    doc.setIn(['gateway', 'name'], 'Насосная 3 (правка на месте)');
    writeFileSync(f.configPath, doc.toString());

    const [sighup, ui] = await Promise.all([
      service.reloadFile({ source: 'sighup', what: 'SIGHUP' }),
      owner.request('PUT', '/api/devices/added', addedDevice(f.sim.port)),
      command.setTrustedKeys('commands', [{ id: 'center-2', publicKey: publicKey() }]),
    ]);
    assert.equal(sighup.config.gateway.name, 'Насосная 3 (правка на месте)');
    assert.equal(ui.statusCode, 200, ui.body);

    // No change lost: the file holds all three, and the running config is that file.
    const onDisk = service.validate(service.read());
    assert.equal(onDisk.gateway.name, 'Насосная 3 (правка на месте)');
    assert.deepEqual(onDisk.devices.map((d) => d.id), ['water-meter', 'added']);
    assert.deepEqual(onDisk.commands?.trustedKeys.map((k) => k.id), ['center-2']);
    assert.deepEqual(f.gateway.currentConfig(), onDisk);
    assert.equal(schedulers.running.size, 1, 'exactly one scheduler is running after the overlapping reloads');
    await waitFor(() => f.gateway.status().live['added/flow']?.quality === 'good', { what: 'the device added by the UI polled' });

    // The history: who did what, in the order applied, each change starting from the file the previous one left.
    const changes = service.history().slice(-3);
    assert.deepEqual(changes.map((c) => c.outcome), ['applied', 'applied', 'applied']);
    assert.deepEqual(new Set(changes.map((c) => c.source)), new Set(['sighup', 'web', 'command']));
    const web = changes.find((c) => c.source === 'web')!;
    assert.equal(web.actor, 'admin');
    assert.equal(web.what, 'PUT /api/devices/added');
    assert.match(changes.find((c) => c.source === 'command')!.what, /trust commands \(center-2\)/);
    for (let i = 1; i < changes.length; i++) assert.equal(changes[i]!.before, changes[i - 1]!.after, `change ${i} applied on top of change ${i - 1}`);

    // Shown to a logged-in user; a machine token (even with read scope) does not see who did what.
    const shown = await owner.request('GET', '/api/config/history');
    assert.equal(shown.statusCode, 200, shown.body);
    assert.deepEqual(shown.json<{ changes: unknown[] }>().changes, service.history());
    const created = await owner.request('POST', '/api/tokens', { name: 'node-red', scopes: ['read'] });
    const token = created.json<{ token: string }>().token;
    const byToken = await f.web.app.inject({ method: 'GET', url: '/api/config/history', headers: { authorization: `Bearer ${token}` } });
    assert.ok(byToken.statusCode === 401 || byToken.statusCode === 403, `token answered ${byToken.statusCode}`);

    // Kept in the data folder across restarts.
    const again = new ConfigService({ path: f.configPath, apply: async () => undefined, dataDir: join(f.dir, 'data') });
    assert.deepEqual(again.history(), service.history());
  } finally {
    schedulers.restore();
    await f.close();
  }
});

test('Gateway.reload called three times without waiting: one scheduler running afterwards, the last config in force', async () => {
  const schedulers = countRunningSchedulers();
  const f = await webFixture();
  try {
    const base = f.gateway.currentConfig();
    const named = (name: string) => ({ ...base, gateway: { ...base.gateway, name } });
    await Promise.all([f.gateway.reload(named('first')), f.gateway.reload(named('second')), f.gateway.reload(named('third'))]);
    assert.equal(f.gateway.currentConfig().gateway.name, 'third');
    assert.equal(schedulers.running.size, 1);
  } finally {
    schedulers.restore();
    await f.close();
  }
});

test('a refused change is recorded and changes nothing; the history keeps only the newest entries', async () => {
  const f = await webFixture();
  try {
    const before = readFileSync(f.configPath, 'utf8');
    const service = new ConfigService({ path: f.configPath, apply: (c) => f.gateway.reload(c), dataDir: join(f.dir, 'data'), historyMax: 2 });
    const store = new ConfigStore(service);
    await assert.rejects(store.replace('gateway: {}\n', { source: 'command', what: 'command config' }), { name: 'ConfigError' });
    assert.equal(readFileSync(f.configPath, 'utf8'), before);
    assert.deepEqual(service.history().map((c) => [c.source, c.outcome]), [['command', 'refused']]);
    assert.match(service.history()[0]!.error!, /gateway/);
    for (const name of ['a', 'b']) await store.edit((doc) => doc.setIn(['gateway', 'name'], name), { source: 'web', actor: 'admin', what: `name ${name}` });
    assert.deepEqual(service.history().map((c) => c.what), ['name a', 'name b']);
    assert.equal(JSON.parse(readFileSync(join(f.dir, 'data', CONFIG_HISTORY_FILE), 'utf8')).length, 2);
  } finally {
    await f.close();
  }
});

test('a config file that is a symbolic link stays one: the file it names gets the change', async () => {
  const f = await webFixture();
  try {
    // /etc/kedge/kedge.yaml -> /srv/kedge/config/kedge.yaml, as some boxes are set up.
    const realDir = join(f.dir, 'real');
    mkdirSync(realDir);
    const target = join(realDir, 'kedge.yaml');
    renameSync(f.configPath, target);
    symlinkSync(target, f.configPath);
    const service = new ConfigService({ path: f.configPath, apply: (c) => f.gateway.reload(c), dataDir: join(f.dir, 'data') });
    await new ConfigStore(service).edit((doc) => doc.setIn(['gateway', 'name'], 'через ссылку'));
    assert.ok(lstatSync(f.configPath).isSymbolicLink(), 'the link was replaced by a file');
    assert.match(readFileSync(target, 'utf8'), /name: через ссылку/);
    assert.equal(f.gateway.currentConfig().gateway.name, 'через ссылку');
  } finally {
    await f.close();
  }
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const renamed = (text: string, name: string) => {
  const doc = parseDocument(text);
  doc.setIn(['gateway', 'name'], name);
  return doc.toString();
};

test('hand edits announced by SIGHUP: the history chains from the text last applied to the edited one, across UI changes', async () => {
  const f = await webFixture();
  try {
    const loaded = readFileSync(f.configPath, 'utf8');
    const service = new ConfigService({ path: f.configPath, apply: (c) => f.gateway.reload(c), dataDir: join(f.dir, 'data') });
    const firstEdit = renamed(loaded, 'правка 1');
    writeFileSync(f.configPath, firstEdit);
    await service.reloadFile();
    await new ConfigStore(service).edit((doc) => doc.setIn(['gateway', 'name'], 'из интерфейса'), { source: 'web', actor: 'admin', what: 'name' });
    const afterUi = readFileSync(f.configPath, 'utf8');
    const secondEdit = renamed(afterUi, 'правка 2');
    writeFileSync(f.configPath, secondEdit);
    await service.reloadFile();

    const h = service.history();
    assert.deepEqual(h.map((c) => [c.source, c.outcome]), [['sighup', 'applied'], ['web', 'applied'], ['sighup', 'applied']]);
    assert.deepEqual(
      h.map((c) => [c.before, c.after]),
      [
        [sha256(loaded), sha256(firstEdit)],
        [sha256(firstEdit), sha256(afterUi)],
        [sha256(afterUi), sha256(secondEdit)],
      ],
      'each SIGHUP entry goes from the text in force to the edited file (not before == after)',
    );
    assert.equal(f.gateway.currentConfig().gateway.name, 'правка 2');
  } finally {
    await f.close();
  }
});

test('a SIGHUP whose valid edit cannot be applied: the previous config is applied again and back in the file, the edit kept beside it', async () => {
  const f = await webFixture();
  try {
    const loaded = readFileSync(f.configPath, 'utf8');
    const applied: string[] = [];
    const service = new ConfigService({
      path: f.configPath,
      // The fault at the seam: Gateway.reload throws on this config (as on an unreadable TLS file) after it began.
      apply: async (c) => {
        applied.push(c.gateway.name ?? '');
        await f.gateway.reload(c);
        if (c.gateway.name === 'не применяется') throw new Error('uplink: tls.ca unreadable');
      },
      dataDir: join(f.dir, 'data'),
    });
    const inForce = f.gateway.currentConfig();
    const before = inForce.gateway.name ?? '';
    const edit = renamed(loaded, 'не применяется');
    writeFileSync(f.configPath, edit);
    await assert.rejects(service.reloadFile(), (err: Error) => {
      assert.ok(err instanceof ConfigApplyError, err.message);
      assert.match(err.message, /tls\.ca unreadable/);
      assert.match(err.message, /\.rejected/);
      return true;
    });
    assert.deepEqual(applied, ['не применяется', before], 'the edit was tried, then the previous config applied again');
    assert.deepEqual(f.gateway.currentConfig(), inForce, 'the previous config is in force');
    assert.equal(readFileSync(f.configPath, 'utf8'), loaded, 'the file holds the config in force again');
    assert.equal(readFileSync(`${f.configPath}.rejected`, 'utf8'), edit, 'the hand edit is not lost');
    const last = service.history().at(-1)!;
    assert.deepEqual([last.source, last.outcome, last.before, last.after], ['sighup', 'failed', sha256(loaded), sha256(loaded)]);
    assert.match(last.error!, /tls\.ca unreadable/);

    // The next UI change starts from what runs, and chains on from it.
    await new ConfigStore(service).edit((doc) => doc.setIn(['gateway', 'name'], 'после отказа'), { source: 'web', actor: 'admin', what: 'name' });
    assert.equal(service.history().at(-1)!.before, sha256(loaded));
    assert.equal(f.gateway.currentConfig().gateway.name, 'после отказа');
  } finally {
    await f.close();
  }
});
