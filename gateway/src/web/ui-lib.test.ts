/**
 * The browser app's plain modules (ui/lib/), run in node: number formatting, display units,
 * plurals with the real message files, chart gaps, the import diff, error summaries, and the
 * register tool's decodings checked against the gateway's own decoder.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import fc from 'fast-check';
import { decodeAllOrders } from '../drivers/modbus/decode.ts';
import type { ModbusPointRef } from '../drivers/modbus/types.ts';
import type { PollResult } from '../drivers/driver.ts';
import { DeviceHealthLog } from '../scheduler/health-log.ts';
import type { DeviceState } from '../scheduler/scheduler.ts';
import { configWarnings } from '../config/warnings.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { DrainMeter } from './routes/box-drain.ts';
import { UI_DIR } from './server.ts';
import { uiCatalog } from './i18n.ts';

interface I18n {
  setMessages(lang: string, messages: Record<string, string>): void;
  plural(key: string, n: number, vars?: Record<string, unknown>): string;
}
const i18n = (await import(join(UI_DIR, 'lib', 'i18n.js'))) as I18n;
const { fmtNumber, fmtDuration } = (await import(join(UI_DIR, 'lib', 'format.js'))) as { fmtNumber(v: unknown): string; fmtDuration(ms: number): string };
const { displayUnit, UNITS } = (await import(join(UI_DIR, 'lib', 'units.js'))) as { displayUnit(code: string): string; UNITS: Record<string, [string, string]> };
const { segments } = (await import(join(UI_DIR, 'lib', 'chart.js'))) as { segments(points: Array<[number, number | null]>, maxStepMs: number): Array<Array<[number, number]>> };
interface DiffLine {
  op: string;
  line: string;
  a?: number;
  b?: number;
}
const { diffLines: diffOrNull, hunks, MAX_EDITS } = (await import(join(UI_DIR, 'lib', 'diff.js'))) as {
  diffLines(a: string, b: string, maxEdits?: number): DiffLine[] | null;
  MAX_EDITS: number;
  hunks(d: Array<{ op: string; line: string }>, context?: number): Array<{ op: string; line: string }>;
};
const { pair, quad, single } = (await import(join(UI_DIR, 'lib', 'decode.js'))) as {
  single(w: number): { hex: string; uint16: number; int16: number; bin: string };
  pair(words: number[]): Record<string, { uint32: number; int32: number; float32: number }>;
  quad(words: number[]): Record<string, { uint64: string; int64: string; float64: number }>;
};
const { classify, exceptionText } = (await import(join(UI_DIR, 'lib', 'device-errors.js'))) as {
  classify(text: string): { key: string; code?: string } | null;
  exceptionText(code: number | string): string;
};
const { drainText } = (await import(join(UI_DIR, 'lib', 'drain-text.js'))) as { drainText(backlog: Record<string, unknown>): string };
const { logSummary, warningText } = (await import(join(UI_DIR, 'lib', 'log-text.js'))) as {
  logSummary(line: { msg: string; context?: Record<string, unknown> }): string | null;
  warningText(w: { code?: string; params?: Record<string, unknown>; message: string }): string | null;
};
const liveModule = (await import(join(UI_DIR, 'lib', 'live.js'))) as {
  TICK_MS: number;
  STALE_AFTER_TICKS: number;
  startLive(o: { EventSourceImpl: unknown; now: () => number }): void;
  stopLive(): void;
  isStale(): boolean;
  isConnecting(): boolean;
  showStale(): boolean;
};
// What the browser loads: the base files with every registered driver's texts (routes/i18n.ts).
const messages = (lang: 'ru' | 'en') => uiCatalog(lang);

test('numbers: tiny values are not "0" or "-0", huge ones not 37 digits, integers exact', () => {
  i18n.setMessages('ru', messages('ru'));
  assert.equal(fmtNumber(1.234e-7), '1,234·10⁻⁷');
  assert.equal(fmtNumber(-1e-7), '-1·10⁻⁷');
  assert.equal(fmtNumber(3.0000000000000002e36), '3·10³⁶');
  assert.equal(fmtNumber(0), '0');
  assert.equal(fmtNumber(-0), '0');
  assert.equal(fmtNumber(66.48), '66,48');
  assert.equal(fmtNumber(1871), '1\u00a0871');
  assert.equal(fmtNumber(123456789012345), '123\u00a0456\u00a0789\u00a0012\u00a0345');
  assert.equal(fmtNumber(null), '—');
  // Never the raw 17 digits of a float.
  fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => fmtNumber(v).replace(/\D/g, '').length <= 20));
});

test('display units come from one table: UCUM codes read as a Russian engineer writes them', () => {
  i18n.setMessages('ru', messages('ru'));
  const ru: Record<string, string> = { Cel: '°C', 'kW.h': 'кВт·ч', 'kV.A.h{reactive}': 'квар·ч', 'kV.A{reactive}': 'квар', 'V.A{reactive}': 'вар', 'm3/h': 'м³/ч', '[NTU]': 'НЕФ', Gcal: 'Гкал', 'L/s': 'л/с', kPa: 'кПа' };
  for (const [code, text] of Object.entries(ru)) assert.equal(displayUnit(code), text, code);
  // A code outside the table still reads better than UCUM.
  assert.equal(displayUnit('mol/m3'), 'mol/m³');
  i18n.setMessages('en', messages('en'));
  assert.equal(displayUnit('kW.h'), 'kWh');
  assert.equal(displayUnit('[NTU]'), 'NTU');
  assert.equal(displayUnit('Cel'), '°C');
  // Every entry has both languages.
  for (const [code, [r, e]] of Object.entries(UNITS)) assert.ok(code === '1' || (r && e), code);
});

test('plurals follow Intl.PluralRules with the real message files', () => {
  i18n.setMessages('ru', messages('ru'));
  assert.equal(i18n.plural('overview.readings', 1), '1 показание');
  assert.equal(i18n.plural('overview.readings', 3), '3 показания');
  assert.equal(i18n.plural('overview.readings', 11), '11 показаний');
  assert.equal(i18n.plural('overview.readings', 21), '21 показание');
  assert.equal(i18n.plural('overview.readings', 1871), '1\u00a0871 показание');
  assert.equal(i18n.plural('devices.errors', 0, { polls: i18n.plural('devices.polls', 1) }), '0 ошибок на 1 опрос');
  i18n.setMessages('en', messages('en'));
  assert.equal(i18n.plural('overview.readings', 1), '1 reading');
  assert.equal(i18n.plural('overview.readings', 2), '2 readings');
});

test('a chart breaks its line at failed polls and at silences longer than the expected step', () => {
  const pts: Array<[number, number | null]> = [[0, 1], [1000, 2], [2000, null], [3000, 4], [4000, 5], [60_000, 6]];
  assert.deepEqual(segments(pts, 1500), [[[0, 1], [1000, 2]], [[3000, 4], [4000, 5]], [[60_000, 6]]]);
  assert.deepEqual(segments([], 1000), []);
});

const diffLines = (a: string, b: string): DiffLine[] => {
  const d = diffOrNull(a, b);
  assert.ok(d, 'diff gave up');
  return d;
};

/** The length of the longest common subsequence of lines, the plain quadratic way (small inputs only). */
function lcsLength(x: string[], y: string[]): number {
  let row = new Array<number>(y.length + 1).fill(0);
  for (let i = x.length - 1; i >= 0; i--) {
    const next = new Array<number>(y.length + 1).fill(0);
    for (let j = y.length - 1; j >= 0; j--) next[j] = x[i] === y[j] ? row[j + 1]! + 1 : Math.max(row[j]!, next[j + 1]!);
    row = next;
  }
  return row[0]!;
}

/** The diff read back: its old side is `a`, its new side `b`, line numbers in step. */
function assertDiffOf(d: DiffLine[], a: string, b: string): void {
  assert.equal(d.filter((x) => x.op !== '+').map((x) => x.line).join('\n'), a);
  assert.equal(d.filter((x) => x.op !== '-').map((x) => x.line).join('\n'), b);
  assert.deepEqual(d.filter((x) => x.op !== '+').map((x) => x.a), a.split('\n').map((_, i) => i + 1));
  assert.deepEqual(d.filter((x) => x.op !== '-').map((x) => x.b), b.split('\n').map((_, i) => i + 1));
}

test('the import diff is a shortest one: it reads back to both files and keeps every common line it can', () => {
  const file = fc.array(fc.constantFrom('a', 'b', 'c', 'd', '  x: 1', ''), { maxLength: 30 }).map((l) => l.join('\n'));
  fc.assert(
    fc.property(file, file, (a, b) => {
      const d = diffLines(a, b);
      assertDiffOf(d, a, b);
      assert.equal(d.filter((x) => x.op === ' ').length, lcsLength(a.split('\n'), b.split('\n')));
    }),
    { numRuns: 500 },
  );
});

test('a 10,000-line config with a few edits diffs to exactly those edits; one too different gives up instead of filling memory', () => {
  const lines = Array.from({ length: 10_000 }, (_, i) => `    - { id: p${i}, table: holding, address: ${i * 2}, type: float32 }`);
  const edited = [...lines];
  edited[10] = '    - { id: p10, table: input, address: 20, type: float32 }';
  edited.splice(5000, 3);
  edited.splice(9000, 0, '    - { id: extra, table: coil, address: 1 }');
  edited.push('# imported');
  const a = lines.join('\n');
  const b = edited.join('\n');
  const d = diffLines(a, b);
  assertDiffOf(d, a, b);
  assert.deepEqual(
    d.filter((x) => x.op !== ' ').map((x) => `${x.op}${x.op === '-' ? x.a : x.b}`),
    // b's numbering: 3 lines fewer from 5001 on, so new line 9001 and the appended 9999.
    ['-11', '+11', '-5001', '-5002', '-5003', '+9001', '+9999'],
  );
  assert.deepEqual(hunks(d, 0).map((x) => x.op), ['-', '+', '-', '-', '-', '+', '+']);
  // Every line different (a file reformatted, another box's config): no quadratic table, no diff.
  const other = lines.map((l) => l.replace('holding', 'input')).join('\n');
  assert.equal(diffOrNull(a, other), null);
  // The bound is on edits: just under it still diffs, just over it does not.
  const few = lines.slice(0, 600).join('\n');
  const fewChanged = lines.slice(0, 600).map((l, i) => (i < 400 ? `${l} # x` : l)).join('\n');
  assert.ok(MAX_EDITS >= 800 && MAX_EDITS < 1200, 'the cases below are written for a bound near 1000');
  assertDiffOf(diffOrNull(few, fewChanged)!, few, fewChanged);
  assert.equal(diffOrNull(lines.slice(0, 700).join('\n'), lines.slice(0, 700).map((l) => `${l} # x`).join('\n')), null);
});

test('the import preview shows what an upload adds and removes, with context', () => {
  const d = diffLines('a\nb\nc\nd\ne\nf', 'a\nb\nX\nd\ne\nf\ng');
  assert.deepEqual(d.filter((x) => x.op !== ' ').map((x) => `${x.op}${x.line}`), ['-c', '+X', '+g']);
  assert.deepEqual(hunks(d, 1).map((x) => `${x.op}${x.line}`), [' b', '-c', '+X', ' d', ' f', '+g']);
});

test('the register tool decodes words exactly as the gateway does, in every order', () => {
  const ref = (type: ModbusPointRef['type']): ModbusPointRef => ({ id: 'x', table: 'holding', address: 0, type, order: 'ABCD' }) as ModbusPointRef;
  const word = fc.integer({ min: 0, max: 0xffff });
  fc.assert(
    fc.property(fc.array(word, { minLength: 4, maxLength: 4 }), (w) => {
      const p = pair(w.slice(0, 2));
      const q = quad(w);
      const f32 = decodeAllOrders(ref('float32'), w.slice(0, 2));
      const i32 = decodeAllOrders(ref('int32'), w.slice(0, 2));
      const u64 = decodeAllOrders(ref('uint64'), w);
      const f64 = decodeAllOrders(ref('float64'), w);
      for (const o of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) {
        assert.ok(Object.is(p[o]!.float32, f32[o]) || (Number.isNaN(p[o]!.float32) && Number.isNaN(f32[o] as number)), `float32 ${o}`);
        assert.equal(p[o]!.int32, i32[o]);
        assert.equal(q[o]!.uint64, String(u64[o]));
        assert.ok(Object.is(q[o]!.float64, f64[o]) || (Number.isNaN(q[o]!.float64) && Number.isNaN(f64[o] as number)), `float64 ${o}`);
      }
    }),
  );
  assert.deepEqual(single(0xb253), { ...single(0xb253), hex: '0xb253', uint16: 45651, int16: -19885, bin: '1011 0010 0101 0011' });
});

test('the live view is stale within 2 ticks of silence, at once on a broken stream, and live again on the next event', (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 0 });
  const live = liveModule;
  class FakeSource {
    static last: FakeSource;
    listeners = new Map<string, (e: { data: string }) => void>();
    constructor(readonly url: string) {
      FakeSource.last = this;
    }
    addEventListener(type: string, fn: (e: { data: string }) => void) {
      this.listeners.set(type, fn);
    }
    emit(type: string, data: unknown = {}) {
      this.listeners.get(type)?.({ data: JSON.stringify(data) });
    }
    close() {}
  }
  live.startLive({ EventSourceImpl: FakeSource, now: () => Date.now() });
  try {
    const src = FakeSource.last;
    assert.equal(src.url, '/api/live?status=true');
    assert.equal(live.isStale(), true, 'stale until the box is heard');
    src.emit('tick', { now: 0 });
    assert.equal(live.isStale(), false);
    // Ticks keep it live however long it runs.
    for (let i = 0; i < 10; i++) {
      t.mock.timers.tick(live.TICK_MS);
      src.emit('tick', { now: Date.now() });
      assert.equal(live.isStale(), false, `tick ${i}`);
    }
    // Silence: still live at exactly 2 ticks, stale within the next watchdog round.
    t.mock.timers.tick(live.STALE_AFTER_TICKS * live.TICK_MS);
    assert.equal(live.isStale(), false);
    t.mock.timers.tick(live.TICK_MS / 4);
    assert.equal(live.isStale(), true, 'stale within 2 ticks (+ one watchdog round) of the last event');
    src.emit('reading', { point: 'd/p', ts: Date.now(), value: 1, quality: 'good', unit: null });
    assert.equal(live.isStale(), false, 'live again on the next event');
    // A broken stream: stale at once, before any timer.
    src.emit('error');
    assert.equal(live.isStale(), true);
  } finally {
    live.stopLive();
  }
});

test('a stream still opening reads "connecting", not "no connection", but only for the stale window', (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 0 });
  const live = liveModule;
  class SilentSource {
    static last: SilentSource;
    listeners = new Map<string, (e: { data: string }) => void>();
    constructor() {
      SilentSource.last = this;
    }
    addEventListener(type: string, fn: (e: { data: string }) => void) {
      this.listeners.set(type, fn);
    }
    close() {}
  }
  // Heard at once: connecting ends with the first event.
  live.startLive({ EventSourceImpl: SilentSource, now: () => Date.now() });
  try {
    assert.equal(live.isConnecting(), true);
    assert.equal(live.showStale(), false, 'no "no connection" banner in the first moment');
    SilentSource.last.listeners.get('hello')?.({ data: '{}' });
    assert.equal(live.isConnecting(), false);
    assert.equal(live.showStale(), false);
  } finally {
    live.stopLive();
  }
  // Never heard: after the same window that marks a live view stale, it says so.
  live.startLive({ EventSourceImpl: SilentSource, now: () => Date.now() });
  try {
    t.mock.timers.tick(live.STALE_AFTER_TICKS * live.TICK_MS);
    assert.equal(live.showStale(), false);
    t.mock.timers.tick(live.TICK_MS / 4);
    assert.equal(live.isConnecting(), false);
    assert.equal(live.showStale(), true, 'a box never heard from is reported, not "connecting" forever');
  } finally {
    live.stopLive();
  }
  // A broken stream while opening: at once.
  live.startLive({ EventSourceImpl: SilentSource, now: () => Date.now() });
  try {
    SilentSource.last.listeners.get('error')?.({ data: '' });
    assert.equal(live.showStale(), true);
  } finally {
    live.stopLive();
  }
});

test('the loader\'s common validation messages read in Russian', async () => {
  const { translateIssue } = (await import(join(UI_DIR, 'lib', 'issue-text.js'))) as { translateIssue(m: string): string | null };
  i18n.setMessages('ru', messages('ru'));
  assert.equal(translateIssue('Too small: expected number to be >=50'), 'должно быть не меньше 50');
  assert.equal(translateIssue('Too big: expected number to be <=255'), 'должно быть не больше 255');
  assert.equal(translateIssue('required field is missing'), 'обязательное поле не заполнено');
  assert.equal(translateIssue('unknown key "dataDri" (did you mean "dataDir"?)'), 'неизвестный ключ «dataDri» (возможно, имелось в виду «dataDir»)');
  assert.equal(translateIssue('something only the schema says'), null);
});

test('log lines with variable text are translated by their event code, parameters put in; unknown ones stay English', () => {
  i18n.setMessages('ru', messages('ru'));
  // What the scheduler really writes (its fields and message), as the logs route hands it on.
  const written: Array<{ msg: string; context: Record<string, unknown> }> = [];
  let now = 1_000_000;
  const health = new DeviceHealthLog({ warn: (o, msg) => written.push({ msg, context: o }), info: (o, msg) => written.push({ msg, context: o }) }, 60_000, () => now);
  const state = { deviceId: 'pump-3', polls: 1, failures: 0, consecutiveFailures: 0, requests: 1, lastPollAt: null, lastOkAt: null, lastDurationMs: 10, lastError: null, backoffUntil: null, lastPollMono: 0, blockErrors: [], findings: [] } as unknown as DeviceState;
  const dead: PollResult = { samples: [], requests: 1, failed: true, error: 'Modbus exception 2 (illegal data address) reading holding 0..17' };
  health.observe('pump-3', dead, state);
  now += 95_000;
  health.observe('pump-3', { samples: [], requests: 1, failed: false }, state);
  assert.deepEqual(written.map((w) => w.context['event']), ['device_failed', 'device_recovered']);
  assert.equal(logSummary(written[0]!), 'Устройство «pump-3» перестало отвечать: недопустимый адрес данных: такого регистра у устройства нет (исключение 2)');
  // downMs as a duration ("1 мин 35 с" or however time.ms reads), not 95000.
  assert.match(fmtDuration(95_000), /1\D+35/);
  assert.equal(logSummary(written[1]!), `Устройство «pump-3» снова отвечает, перерыв ${fmtDuration(95_000)}`);
  // A fixed text still matches whole; one the files do not know gives null (shown in English, marked).
  assert.equal(logSummary({ msg: 'config reloaded', context: {} }), 'Конфигурация применена');
  assert.equal(logSummary({ msg: 'something new happened', context: { event: 'never_heard_of' } }), null);
  // A known event from a writer that leaves out a parameter the text names: English, not a summary with a hole.
  assert.equal(logSummary({ msg: 'device "opc" still not answering: …', context: { event: 'device_still_failing', device: 'opc', error: 'x' } }), null);
  assert.match(logSummary({ msg: 'device "opc" stopped answering: …', context: { event: 'device_failed', device: 'opc', error: 'connect ECONNREFUSED 127.0.0.1:4840' } })!, /«opc» перестало отвечать: соединение отклонено/);
  // Config warnings by code, as config/warnings.ts writes them.
  const [overlap] = configWarnings({
    devices: [{ id: 'm', driver: 'modbus-tcp', addressBase: 0, points: [{ id: 'a', table: 'holding', address: 100, type: 'float32' }, { id: 'b', table: 'holding', address: 101, type: 'uint16' }] }],
  } as unknown as GatewayConfig);
  assert.equal(overlap!.code, 'points_overlap');
  assert.equal(warningText(overlap!), 'точка «b» (uint16, holding 101) перекрывается с точкой «a» (float32, holding 100..101) в holding 101: два значения не могут занимать одни и те же регистры, вероятно, ошибка в адресе или типе');
  assert.match(logSummary({ msg: 'config warning …', context: { event: 'config_warning', device: 'm', path: 'points[1].address', ...overlap } })!, /^Предупреждение конфигурации, устройство «m», points\[1\]\.address: точка «b»/);
  assert.equal(warningText({ message: 'no code' }), null);
});

test('the box panel says "не успевает" when readings arrive as fast as they are sent, a time only at a positive net rate', () => {
  i18n.setMessages('ru', messages('ru'));
  const say = (meter: DrainMeter, at: number, acked: number, appended: number, unsent: number) => drainText({ unsent, ...meter.sample(at, acked, appended, unsent) });
  const slow = new DrainMeter(60_000);
  assert.equal(say(slow, 0, 0, 0, 500), 'скорость отправки ещё измеряется');
  // 100/s sent, 120/s polled: the old estimate (500 / 100 per s) would have said "5 s".
  assert.match(say(slow, 10_000, 1_000, 1_200, 700), /^не успевает/);
  const dead = new DrainMeter(60_000);
  say(dead, 0, 0, 0, 500);
  assert.equal(say(dead, 10_000, 0, 200, 700), 'сейчас не отправляется');
  const fast = new DrainMeter(60_000);
  say(fast, 0, 0, 0, 6_000);
  assert.equal(say(fast, 10_000, 1_000, 400, 5_400), `отправится примерно за ${fmtDuration(90_000)}`);
  assert.equal(say(fast, 20_000, 2_000, 800, 0), 'всё отправлено');
});

test('driver and connection errors get a translated summary', () => {
  // By exception code: the engineer reads what 2 means, not the raw English.
  assert.deepEqual(classify('Modbus exception 2 (illegal data address) reading holding 0..17'), { key: 'deverr.exception.2', code: '2' });
  i18n.setMessages('ru', messages('ru'));
  assert.match(exceptionText(2), /^недопустимый адрес данных/);
  assert.match(exceptionText('6'), /занято/);
  // A code the files do not name still says its number.
  assert.deepEqual(classify('Modbus exception 7 reading holding 0..1'), { key: 'deverr.exception', code: '7' });
  assert.equal(exceptionText(7), 'устройство ответило исключением 7');
  assert.equal(classify('-111: connect ECONNREFUSED 127.0.0.1:502 reading holding 0..4')?.key, 'deverr.refused');
  assert.equal(classify('no response (timeout)')?.key, 'deverr.timeout');
  assert.equal(classify('bad frame: CRC error')?.key, 'deverr.frame');
  assert.equal(classify('something new'), null);
});
