/**
 * The uplink page end to end in Debian's chromium (playwright-core): the real daemon with three
 * uplinks (the center over MQTT, a SCADA host over Sparkplug, the city's HTTP receiver), each
 * shown as a card with its live state, each edited with the form its sink describes. Screenshots
 * at a laptop (1366x768) and a phone (390x844) go to test-artifacts/ui/uplinks-*.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { startTestServer, type TestHttpServer } from '@kedge/cloud-sync/north/http/test-server.ts';
import { startModbusSim, type ModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { simGatewayConfig } from '@kedge/testkit/sim/sim-config.ts';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess, type ManagedProcess } from '@kedge/testkit/proc.ts';
import { removeDir } from '@kedge/testkit/temp-dirs.ts';
import { nodeEntry } from '@kedge/testkit/entry.ts';
import { SETUP_TOKEN_FILE } from './auth/setup-token.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
const PASSWORD = 'Кузбасс-2025-пароль';
const SCADA_PASSWORD = 'scada-secret-71c2';
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
/** Generous: chromium and the daemon share 2 loaded cores with other test runs. */
const ACTION_TIMEOUT_MS = 20_000;
/** A save answers once applied: the reload first stops the edited sink, which may drain for seconds (gateway STOP_DRAIN_MS). */
const APPLY_TIMEOUT_MS = 60_000;

/** Layout and labels of what is on screen (as in ui-field.e2e.test.ts); a string, run in the page. */
const AUDIT_SCRIPT = `(() => {
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.getAttribute('name') ? '[name=' + el.getAttribute('name') + ']' : '');
  const vw = document.documentElement.clientWidth;
  const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll') return true; } return false; };
  const overflowing = [...document.querySelectorAll('body *')].filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > vw + 1 && !scrolls(el); }).slice(0, 10).map(describe);
  const unlabelled = [...document.querySelectorAll('input, select, textarea')].filter((el) => el.type !== 'hidden')
    .filter((c) => !((c.labels && [...c.labels].some((l) => l.textContent.trim())) || (c.getAttribute('aria-label') || '').trim())).map(describe);
  const unnamedButtons = [...document.querySelectorAll('button')].filter((b) => !((b.getAttribute('aria-label') || '').trim() || b.textContent.trim().length > 1)).map(describe);
  return { width: document.documentElement.scrollWidth, overflowing, unlabelled, unnamedButtons };
})()`;

let sim: ModbusSim;
let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
let city: TestHttpServer;
let daemon: ManagedProcess;
let browser: Browser;
let page: Page;
let dir: string;
let configPath: string;
let base: string;
const pageErrors: string[] = [];

/** Photographs the page at both viewports; the layout is measured at the phone size. */
async function audit(name: string): Promise<void> {
  await page.setViewportSize(LAPTOP);
  await page.screenshot({ path: join(SHOTS, `${name}-1366x768.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  const a = await page.evaluate<{ width: number; overflowing: string[]; unlabelled: string[]; unnamedButtons: string[] }>(AUDIT_SCRIPT);
  await page.screenshot({ path: join(SHOTS, `${name}-390x844.png`), fullPage: true });
  await page.setViewportSize(LAPTOP);
  assert.ok(a.width >= PHONE.width - 20 && a.width <= PHONE.width, `${name}: ${a.width} px wide at ${PHONE.width} (${a.overflowing.join(', ')})`);
  assert.deepEqual(a.unlabelled, [], `${name}: controls without a label`);
  assert.deepEqual(a.unnamedButtons, [], `${name}: buttons without a name`);
}

const fileUplinks = () => (parse(readFileSync(configPath, 'utf8')) as { uplinks: Array<Record<string, unknown>> }).uplinks;
const card = (name: string) => page.locator(`.uplink-card[data-uplink="${name}"]`);
const form = () => page.getByRole('region', { name: 'Настройки канала связи' });

/** The save's outcome, whichever it is: an error fails with its text. */
async function saved(): Promise<void> {
  const outcome = page.locator('#uplink-message .message');
  await outcome.first().waitFor({ timeout: APPLY_TIMEOUT_MS });
  assert.equal((await outcome.first().textContent())?.trim(), 'Сохранено и применено.');
}

test.before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'kedge-ui-uplinks-'));
  sim = await startModbusSim({});
  broker = await startEmbeddedBroker({ port: 0 });
  city = await startTestServer();
  const webPort = await freePort();
  configPath = join(dir, 'kedge.yaml');
  const config = simGatewayConfig({ gatewayId: 'kem-e2e-02', simPort: sim.port, brokerUrl: broker.url, dataDir: join(dir, 'data'), intervalMs: 1000, web: { host: '127.0.0.1', port: webPort } });
  const legacy = config['uplink'] as Record<string, unknown>;
  delete config['uplink'];
  config['uplinks'] = [
    { name: 'center', kind: 'mqtt', ...legacy },
    { name: 'scada', kind: 'sparkplug', url: broker.url, clientId: 'kem-e2e-02-sp', username: 'edge', password: SCADA_PASSWORD },
    { name: 'city', kind: 'http', url: `${city.url}/batches` },
  ];
  writeFileSync(configPath, stringify(config));
  daemon = await startProcess(process.execPath, [...nodeEntry('gateway/src/main.ts'), '--config', configPath], {
    name: 'gateway',
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    readyLine: /setup token is in \S+/,
    timeoutMs: 30_000,
  });
  base = `http://127.0.0.1:${webPort}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-quic', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: LAPTOP, locale: 'ru-RU' });
  page = await context.newPage();
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  const token = readFileSync(join(dir, 'data', 'web', SETUP_TOKEN_FILE), 'utf8').trim();
  await page.goto(`${base}/`);
  await page.getByLabel('Код настройки').fill(token);
  await page.getByLabel(/Новый пароль/).fill(PASSWORD);
  await page.getByLabel('Повторите пароль').fill(PASSWORD);
  await page.click('#setup-submit');
  await page.getByRole('heading', { name: 'Обзор' }).waitFor();
});

test.after(async () => {
  await browser?.close();
  await daemon?.stop();
  await city?.kill();
  await broker?.close();
  await sim?.close();
  // Retries for the last writes of the daemon that just stopped.
  if (dir) await removeDir(dir);
});

test('the uplink page shows every uplink as a card with its state; the primary is edited first, its password never shown', async () => {
  await page.evaluate("location.hash = '#/uplink'");
  await page.getByRole('heading', { level: 1, name: 'Канал связи' }).waitFor();
  for (const name of ['center', 'scada', 'city']) await card(name).locator('.badge.online').waitFor();
  assert.equal(await page.locator('.uplink-card').count(), 3);
  await card('center').getByText('основной').waitFor();
  await card('city').getByText('HTTP(S) POST').waitFor();
  await form().getByRole('heading', { name: 'Настройки канала «center»' }).waitFor();
  assert.equal(await form().getByLabel('Адрес брокера').inputValue(), broker.url);
  await form().locator('#uplink-test').waitFor();
  await audit('uplinks');

  await card('scada').getByRole('button', { name: 'Настроить канал scada' }).click();
  await form().getByRole('heading', { name: 'Настройки канала «scada»' }).waitFor();
  const password = form().getByLabel('Пароль', { exact: true });
  assert.equal(await password.inputValue(), '', 'the stored password is not in the page');
  assert.ok(!(await page.content()).includes(SCADA_PASSWORD));
  assert.equal(await form().locator('#uplink-test').count(), 0, 'the broker test is the primary uplink\'s');
  await form().getByText('Основной хост (Host ID)').waitFor();
  await audit('uplinks-sparkplug');
});

test('a secondary uplink saved from its form changes only that uplink; a bad value names the field', async () => {
  const before = fileUplinks();
  await card('city').getByRole('button', { name: 'Настроить канал city' }).click();
  await form().getByRole('heading', { name: 'Настройки канала «city»' }).waitFor();
  const delay = form().getByLabel('Интервал пакета, мс');
  await delay.fill('250');
  await form().getByRole('button', { name: 'Сохранить' }).click();
  await saved();
  const after = fileUplinks();
  assert.deepEqual(after[2], { ...before[2], batchMaxDelayMs: 250 });
  assert.deepEqual([after[0], after[1]], [before[0], before[1]], 'the other uplinks are untouched');
  await audit('uplinks-http');

  const text = readFileSync(configPath, 'utf8');
  await form().getByLabel('Интервал пакета, мс').fill('999999');
  await form().getByRole('button', { name: 'Сохранить' }).click();
  const alert = form().getByRole('alert');
  await alert.waitFor();
  assert.match((await alert.textContent())!, /batchMaxDelayMs/);
  assert.equal(readFileSync(configPath, 'utf8'), text, 'nothing written');
  await audit('uplinks-error');

  // The stored Sparkplug password survives a save of its form (the marker stands for it).
  await card('scada').getByRole('button', { name: 'Настроить канал scada' }).click();
  await form().getByLabel('Идентификатор клиента').fill('kem-e2e-02-sp2');
  await form().getByRole('button', { name: 'Сохранить' }).click();
  await saved();
  const scada = fileUplinks()[1]!;
  assert.equal(scada.clientId, 'kem-e2e-02-sp2');
  assert.equal(scada.password, SCADA_PASSWORD);
  assert.deepEqual(pageErrors, []);
});
