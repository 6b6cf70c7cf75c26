/**
 * End to end in Debian's chromium: the real daemon (main.ts) with its web UI, the Modbus
 * simulator serving one meter of the config and one built from a device profile.
 * Screenshots of every page land in test-artifacts/ui/ at the repo root.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { stringify } from 'yaml';
import { loadProfile } from '@kedge/device-profiles/load.ts';
import type { Profile } from '@kedge/device-profiles/schema.ts';
import { startEmbeddedBroker } from '@kedge/cloud-sync/broker/embedded.ts';
import { encodeRegisters } from '../drivers/modbus/decode.ts';
import { startModbusSim } from '@kedge/scripts/sim/modbus-tcp-sim.ts';
import { defaultMeters, type SimMeter, type SimValue } from '@kedge/scripts/sim/meters.ts';
import { simGatewayConfig } from '@kedge/scripts/testing/sim-config.ts';
import { freePort } from '@kedge/scripts/testing/ports.ts';
import { startProcess } from '@kedge/scripts/testing/proc.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
const PROFILE = 'magflux-water-meter';
const PROFILE_UNIT = 7;
const PASSWORD = 'Кузбасс-2025-пароль';

/**
 * Raw register values for a profile's points that move every second within the profile's sim
 * hints. Holes between mapped registers read as 0, as on most meters (the simulator would
 * otherwise refuse the coalesced read with "illegal data address").
 */
function simMeterFromProfile(profile: Profile, unitId: number): SimMeter {
  const points: SimMeter['points'] = profile.points.map((p) => {
      const lo = p.sim?.min ?? 0;
      const hi = p.sim?.max ?? lo + 100;
      const eng = (t: number) =>
        p.sim?.kind === 'total' ? lo + ((p.sim.ratePerHour ?? 1) * (t % 86_400_000)) / 3_600_000 : lo + ((hi - lo) * (1 + Math.sin(t / 3000))) / 2;
      const value = (t: number): SimValue => {
        if (p.type === 'bool' || p.type === 'bit') return Math.floor(t / 5000) % 2 === 0;
        if (p.type === 'string') return 'SIM';
        const raw = (eng(t) - (p.offset ?? 0)) / (p.scale ?? 1);
        if (p.type.startsWith('float')) return raw;
        return p.type.endsWith('64') ? BigInt(Math.round(raw)) : Math.round(raw);
      };
      return {
        id: p.id,
        table: p.table,
        address: p.address - profile.protocol.addressBase,
        type: p.type,
        order: p.order ?? profile.protocol.order,
        ...(p.bit !== undefined ? { bit: p.bit } : {}),
        ...(p.length !== undefined ? { length: p.length } : {}),
        value,
      };
  });
  const used = new Set(points.flatMap((p) => Array.from({ length: encodeRegisters(p, p.value(Date.now())).length }, (_, i) => `${p.table}/${p.address + i}`)));
  for (const table of ['holding', 'input'] as const) {
    const addresses = [...used].filter((k) => k.startsWith(`${table}/`)).map((k) => Number(k.split('/')[1]));
    if (addresses.length === 0) continue;
    for (let a = Math.min(...addresses); a < Math.max(...addresses); a++) {
      if (!used.has(`${table}/${a}`)) points.push({ id: `pad-${table}-${a}`, table, address: a, type: 'uint16', order: 'ABCD', value: () => 0 });
    }
  }
  return { unitId, name: profile.name, points };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

test('an engineer sets up, logs in, adds a device from a profile, sees it live, switches language and gets a bad config refused', { timeout: 90_000 }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'kedge-ui-e2e-'));
  const profile = loadProfile(PROFILE);
  const sim = await startModbusSim({ meters: [defaultMeters()[0]!, simMeterFromProfile(profile, PROFILE_UNIT)] });
  const broker = await startEmbeddedBroker({ port: 0 });
  const webPort = await freePort();
  const configPath = join(dir, 'kedge.yaml');
  const config = simGatewayConfig({ gatewayId: 'kem-e2e-01', simPort: sim.port, brokerUrl: broker.url, dataDir: join(dir, 'data'), intervalMs: 500, meters: [defaultMeters()[0]!], web: { host: '127.0.0.1', port: webPort } });
  writeFileSync(configPath, stringify(config));

  const daemon = await startProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway/src/main.ts'), '--config', configPath], {
    name: 'gateway',
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    readyLine: /setup token: \S+/,
    timeoutMs: 30_000,
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-quic', '--disable-component-update', '--disable-sync'],
  });
  try {
    const token = /setup token: (\S+)/.exec(daemon.output())![1]!;
    assert.match(daemon.output(), new RegExp(`web UI: http://127\\.0\\.0\\.1:${webPort}/`));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU' });
    page.setDefaultTimeout(15_000);
    await page.goto(`http://127.0.0.1:${webPort}/`);

    // First start, in Russian: the one-time token from the console creates the owner.
    await page.getByRole('heading', { name: 'Первый запуск' }).waitFor();
    await page.fill('input[name=token]', token);
    await page.fill('input[name=password]', PASSWORD);
    await page.fill('input[name=repeat]', PASSWORD);
    await page.click('#setup-submit');
    await page.getByRole('heading', { name: 'Обзор' }).waitFor();

    // Log out and in again with the new password.
    await page.click('#logout');
    await page.getByRole('heading', { name: 'Вход' }).waitFor();
    await page.fill('input[name=password]', 'wrong password!');
    await page.click('#login-submit');
    await page.getByText('Неверное имя пользователя или пароль.').waitFor();
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-submit');
    await page.getByRole('heading', { name: 'Обзор' }).waitFor();
    await page.locator('#ov-uplink .badge.online').waitFor();
    await page.locator('#ov-gateway', { hasText: 'kem-e2e-01' }).waitFor();
    await shot(page, 'overview');

    // Add a device from the profile; test read shows every byte order.
    await page.click('a[data-page=devices]');
    await page.click('#add-device');
    await page.selectOption('#profile', PROFILE);
    await page.waitForFunction(`[...document.querySelectorAll('tr.point-row input[name=id]')].some((i) => i.value === 'total_forward')`);
    await page.fill('input[name=id]', 'magflux-1');
    await page.fill('input[name=port]', String(sim.port));
    await page.fill('input[name=unitId]', String(PROFILE_UNIT));
    await page.click('#test-read');
    const flowRow = page.locator('#test-read-result tr[data-point=flow]');
    await flowRow.waitFor();
    assert.deepEqual(await page.locator('#test-read-result thead th').allTextContents(), ['Точка', 'Регистры', 'Значение (с множителем)', 'ABCD', 'CDAB', 'BADC', 'DCBA', 'Качество']);
    await shot(page, 'device-form');
    assert.equal(await flowRow.locator('td.chosen').count(), 1);
    assert.equal(await flowRow.locator('.badge.good').count(), 1);
    await page.click('#save-device');

    // Its live value changes on the devices page.
    const value = page.locator('[data-device="magflux-1"] tr[data-point=flow] td.value');
    await value.filter({ hasText: 'm3/h' }).waitFor();
    const first = await value.textContent();
    const selector = '[data-device="magflux-1"] tr[data-point=flow] td.value';
    await page.waitForFunction(`document.querySelector('${selector}')?.textContent !== ${JSON.stringify(first)}`, undefined, { timeout: 10_000 });
    assert.match(readFileSync(configPath, 'utf8'), /id: magflux-1/);
    await page.locator('[data-device="magflux-1"] tr[data-point=flow] svg.spark polyline').waitFor({ state: 'attached', timeout: 20_000 });
    await shot(page, 'devices');

    // Uplink: test the running broker.
    await page.click('a[data-page=uplink]');
    await page.click('#uplink-test');
    await page.getByText('Соединение с брокером установлено').waitFor();
    await shot(page, 'uplink');

    await page.click('a[data-page=logs]');
    await page.getByRole('heading', { name: 'Журнал' }).waitFor();
    await page.selectOption('#log-level', 'debug');
    await page.locator('table.logs tbody tr').first().waitFor();
    await shot(page, 'logs');

    // A bad config is refused with its field path; the file stays as it was.
    await page.click('a[data-page=system]');
    const before = readFileSync(configPath, 'utf8');
    const editor = page.locator('#config-text');
    await editor.waitFor();
    await editor.fill(before.replace('unitId: 7', 'unitId: 700'));
    await page.click('#config-save');
    await page.getByText('Конфигурация отклонена, ничего не изменено:').waitFor();
    await page.locator('#config-message li', { hasText: 'devices[1].unitId' }).waitFor();
    assert.equal(readFileSync(configPath, 'utf8'), before);
    await shot(page, 'system');

    // English on request, kept across pages.
    await page.click('#lang');
    await page.getByRole('heading', { name: 'System' }).waitFor();
    await page.click('a[data-page=devices]');
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    await page.locator('[data-device="magflux-1"] .badge', { hasText: 'polling' }).waitFor();
    await shot(page, 'devices-en');
  } finally {
    await browser.close();
    await daemon.stop();
    await broker.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
