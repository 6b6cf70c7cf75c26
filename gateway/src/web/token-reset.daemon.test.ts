/**
 * Finding 4 of issue 13, on the real daemon: after the console reset (SIGUSR2) and a new setup,
 * old sessions died but old API tokens still worked. Also checks the setup token's honesty
 * (issue 13, "also to settle"): with stdout going to a pipe (journald), the token is only in
 * its 0600 file, never in the output.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { defaultMeters } from '@kedge/testkit/sim/meters.ts';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess } from '@kedge/testkit/proc.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { tempDir } from '@kedge/testkit/temp-dirs.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PASSWORD = 'correct horse battery';
/** Generous for a daemon start through tsx on a loaded 2-core machine (usually a few seconds). */
const DAEMON_START_BUDGET_MS = 60_000;
const TEST_BUDGET_MS = 2 * DAEMON_START_BUDGET_MS;

test('the console reset (SIGUSR2 + new setup) revokes every API token and ends every session', { timeout: TEST_BUDGET_MS }, async (t) => {
  const dir = tempDir(t, 'kedge-reset-');
  const sim = await startModbusSim({ meters: defaultMeters().slice(0, 1) });
  t.after(() => sim.close());
  const webPort = await freePort();
  const configPath = join(dir, 'kedge.yaml');
  const config = simGatewayConfig({
    gatewayId: 'reset-test',
    simPort: sim.port,
    brokerUrl: 'mqtt://127.0.0.1:1',
    dataDir: join(dir, 'data'),
    intervalMs: 500,
    meters: sim.meters,
    web: { host: '127.0.0.1', port: webPort },
  });
  writeFileSync(configPath, stringify(config));
  const daemon = await startProcess(process.execPath, [...nodeEntry('gateway/src/main.ts'), '--config', configPath], {
    name: 'gateway',
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    readyLine: /setup token is in \S+/,
    timeoutMs: DAEMON_START_BUDGET_MS,
  });
  t.after(() => daemon.stop());
  const base = `http://127.0.0.1:${webPort}`;
  const tokenFile = join(dir, 'data', 'web', 'setup-token');
  assert.match(daemon.output(), new RegExp(`setup token is in ${tokenFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 0600`));
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);

  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, cookie: res.headers.get('set-cookie')?.split(';')[0] ?? '' };
  };
  const setup = async () => {
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.ok(!daemon.output().includes(token), 'the setup token is not in the daemon output (journald)');
    const res = await request('POST', '/api/auth/setup', { token, user: 'admin', password: PASSWORD });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(existsSync(tokenFile), false, 'the spent token file is gone');
    return { cookie: res.cookie, csrf: res.body.csrfToken as string };
  };

  const first = await setup();
  const minted = await request('POST', '/api/tokens', { name: 'node-red', scopes: ['live', 'read', 'write-points'] }, { cookie: first.cookie, 'x-csrf-token': first.csrf });
  assert.equal(minted.status, 201);
  const bearer = { authorization: `Bearer ${minted.body.token}` };
  assert.equal((await request('GET', '/api/status', undefined, bearer)).status, 200);

  // The owner (or whoever holds the password and minted that token) is reset from the console.
  daemon.kill('SIGUSR2');
  await waitFor(() => /password reset requested on the console/.test(daemon.output()) && existsSync(tokenFile), { what: 'the reset announced' });
  const second = await setup();

  const old = await request('GET', '/api/status', undefined, bearer);
  assert.equal(old.status, 401);
  assert.equal(old.body.message, 'unknown or revoked API token (Authorization: Bearer)');
  assert.equal((await request('GET', '/api/status', undefined, { cookie: first.cookie })).status, 401);
  assert.equal((await request('GET', '/api/tokens', undefined, { cookie: second.cookie })).body.length, 0);
  assert.equal((await request('GET', '/api/status', undefined, { cookie: second.cookie })).status, 200);
});
