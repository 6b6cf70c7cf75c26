import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import {
  ModbusDecodeError,
  decodeAllOrders,
  decodeBit,
  decodeRegisters,
  encodeRegisters,
  registerCount,
  setBit,
} from './decode.ts';
import { BYTE_ORDERS, MODBUS_DATA_TYPES, type ModbusPointRef, type ModbusValue } from './types.ts';

/**
 * Case files in testcases/decode/*.json, so a new device quirk is a new JSON entry.
 * JSON cannot hold bigint or NaN/±Infinity/-0, so `expected` may be {"bigint": "..."} or
 * {"float": "NaN" | "Infinity" | "-Infinity" | "-0"}. float32 cases are compared against
 * Math.fround(expected), so they may be written as the decimal a datasheet shows.
 * `roundTrip: false` marks registers that encoding cannot reproduce (padding spaces, other bits set).
 */
interface DecodeCase {
  file: string;
  name: string;
  point: ModbusPointRef;
  registers?: number[];
  bits?: Array<boolean | number>;
  offset?: number;
  expected: ModbusValue;
  roundTrip: boolean;
}

const CASE_DIR = new URL('./testcases/decode/', import.meta.url);

function parseExpected(raw: unknown, where: string): ModbusValue {
  if (typeof raw === 'number' || typeof raw === 'string' || typeof raw === 'boolean') return raw;
  if (raw !== null && typeof raw === 'object') {
    if ('bigint' in raw && typeof raw.bigint === 'string') return BigInt(raw.bigint);
    if ('float' in raw && typeof raw.float === 'string') {
      const special: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };
      const v = special[raw.float];
      if (v !== undefined) return v;
    }
  }
  throw new Error(`${where}: unsupported expected value ${JSON.stringify(raw)}`);
}

function loadCases(): DecodeCase[] {
  const cases: DecodeCase[] = [];
  for (const file of readdirSync(CASE_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const raw: unknown = JSON.parse(readFileSync(new URL(file, CASE_DIR), 'utf8'));
    assert.ok(Array.isArray(raw), `${file}: expected an array of cases`);
    for (const [i, c] of (raw as Array<Record<string, unknown>>).entries()) {
      const where = `${file}[${i}]`;
      assert.equal(typeof c.name, 'string', `${where}: name`);
      const name = c.name as string;
      assert.ok(c.point !== null && typeof c.point === 'object', `${where}: point`);
      assert.ok(Array.isArray(c.registers) !== Array.isArray(c.bits), `${where}: exactly one of registers / bits`);
      cases.push({
        file,
        name,
        // Case files may omit the id; errors would then name the case, which is what we want to see.
        point: { id: `${file}:${name}`, ...(c.point as Omit<ModbusPointRef, 'id'>) },
        ...(Array.isArray(c.registers) ? { registers: c.registers as number[] } : { bits: c.bits as Array<boolean | number> }),
        ...(c.offset === undefined ? {} : { offset: c.offset as number }),
        expected: parseExpected(c.expected, where),
        roundTrip: c.roundTrip !== false,
      });
    }
  }
  return cases;
}

const cases = loadCases();

function expectedFor(c: DecodeCase): ModbusValue {
  return c.point.type === 'float32' && typeof c.expected === 'number' ? Math.fround(c.expected) : c.expected;
}

for (const c of cases) {
  test(`decode ${c.file} › ${c.name}`, () => {
    const offset = c.offset ?? 0;
    if (c.bits !== undefined) {
      const got = decodeBit(c.point, c.bits, offset);
      assert.equal(got, c.expected);
      assert.equal(decodeBit(c.point, encodeRegisters(c.point, got)), got);
      return;
    }
    const registers = c.registers!;
    const got = decodeRegisters(c.point, registers, offset);
    // strict equal is Object.is: tells number from bigint, -0 from 0, and matches NaN.
    assert.equal(got, expectedFor(c));

    const encoded = encodeRegisters(c.point, got);
    assert.equal(encoded.length, registerCount(c.point));
    assert.equal(decodeRegisters(c.point, encoded), got, 'decode(encode(value)) should give the value back');
    if (c.roundTrip) {
      assert.deepEqual(encoded, registers.slice(offset, offset + encoded.length), 'encode should reproduce the registers');
    }
  });
}

test('decode case files cover every data type in every byte order', () => {
  const seen = new Set(cases.map((c) => `${c.point.type}/${c.point.order}`));
  const missing = MODBUS_DATA_TYPES.flatMap((t) => BYTE_ORDERS.map((o) => `${t}/${o}`)).filter((k) => !seen.has(k));
  assert.deepEqual(missing, []);
});

const pt = (over: Partial<ModbusPointRef>): ModbusPointRef => ({
  id: 'meter1.power',
  table: 'holding',
  address: 100,
  type: 'float32',
  order: 'ABCD',
  ...over,
});

function throwsNaming(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ModbusDecodeError, `expected ModbusDecodeError, got ${String(err)}`);
    for (const f of ['meter1.power', ...fragments]) assert.ok(err.message.includes(f), `"${err.message}" should mention "${f}"`);
    assert.equal(err.pointId, 'meter1.power');
    return true;
  });
}

test('registerCount per type', () => {
  const expected: Record<string, number> = {
    bit: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4,
  };
  for (const [type, n] of Object.entries(expected)) {
    assert.equal(registerCount({ table: 'input', type: type as ModbusPointRef['type'] }), n, type);
  }
  assert.equal(registerCount({ table: 'coil', type: 'bool' }), 1);
  assert.equal(registerCount({ table: 'discrete', type: 'bool' }), 1);
  assert.equal(registerCount({ table: 'holding', type: 'string', length: 10 }), 10);
});

test('registerCount rejects a type in the wrong table and a string without length', () => {
  throwsNaming(() => registerCount(pt({ table: 'holding', type: 'bool' })), 'coil');
  throwsNaming(() => registerCount(pt({ table: 'coil', type: 'int16' })), 'bool');
  throwsNaming(() => registerCount(pt({ type: 'string' })), 'length');
  throwsNaming(() => registerCount(pt({ type: 'string', length: 0 })), 'length');
  throwsNaming(() => registerCount(pt({ type: 'int24' as ModbusPointRef['type'] })), 'int24');
});

test('missing registers name the point and the offsets needed', () => {
  throwsNaming(() => decodeRegisters(pt({}), [0x42f6]), '0..1', 'only 1');
  throwsNaming(() => decodeRegisters(pt({ type: 'uint64' }), [0, 0, 0, 0, 0], 2), '2..5');
  throwsNaming(() => decodeRegisters(pt({ type: 'int16' }), []), 'only 0');
});

test('registers outside 0..65535 or not integers are rejected', () => {
  throwsNaming(() => decodeRegisters(pt({}), [0x42f6, 70000]), '70000', '0..65535');
  throwsNaming(() => decodeRegisters(pt({ type: 'int16' }), [-1]), '-1');
  throwsNaming(() => decodeRegisters(pt({ type: 'int16' }), [1.5]), '1.5');
});

test('bit index and byte order are required', () => {
  throwsNaming(() => decodeRegisters(pt({ type: 'bit' }), [1]), 'bit index');
  throwsNaming(() => decodeRegisters(pt({ type: 'bit', bit: 16 }), [1]), '16');
  throwsNaming(() => decodeRegisters(pt({ order: 'ABDC' as ModbusPointRef['order'] }), [0, 0]), 'ABDC');
  throwsNaming(() => decodeRegisters(pt({ type: 'string' }), [0x4142]), 'length');
});

test('bool goes through decodeBit, not decodeRegisters', () => {
  throwsNaming(() => decodeRegisters(pt({ table: 'coil', type: 'bool' }), [1]), 'decodeBit');
  throwsNaming(() => decodeBit(pt({ type: 'int16' }), [true]), 'decodeRegisters');
  throwsNaming(() => decodeBit(pt({ table: 'coil', type: 'bool' }), [true], 1), 'offset 1');
  throwsNaming(() => decodeBit(pt({ table: 'coil', type: 'bool' }), [2]), '0/1');
});

test('encode rejects out-of-range integers with the allowed range', () => {
  throwsNaming(() => encodeRegisters(pt({ type: 'int16' }), 40000), '40000', '-32768..32767');
  throwsNaming(() => encodeRegisters(pt({ type: 'int16' }), -32769), '-32768..32767');
  throwsNaming(() => encodeRegisters(pt({ type: 'uint16' }), 65536), '0..65535');
  throwsNaming(() => encodeRegisters(pt({ type: 'uint32' }), -1), '0..4294967295');
  throwsNaming(() => encodeRegisters(pt({ type: 'int32' }), 2 ** 31), '-2147483648..2147483647');
  throwsNaming(() => encodeRegisters(pt({ type: 'uint64' }), -1n), '0..18446744073709551615');
  throwsNaming(() => encodeRegisters(pt({ type: 'uint64' }), 2n ** 64n), '0..18446744073709551615');
  throwsNaming(() => encodeRegisters(pt({ type: 'int64' }), 2n ** 63n), '-9223372036854775808..9223372036854775807');
});

test('encode rejects non-finite, fractional and wrongly typed values', () => {
  throwsNaming(() => encodeRegisters(pt({ type: 'int16' }), NaN), 'NaN', '-32768..32767');
  throwsNaming(() => encodeRegisters(pt({ type: 'uint32' }), Infinity), 'Infinity', '0..4294967295');
  throwsNaming(() => encodeRegisters(pt({ type: 'int64' }), -Infinity), '-Infinity');
  throwsNaming(() => encodeRegisters(pt({ type: 'int16' }), 1.5), '1.5');
  throwsNaming(() => encodeRegisters(pt({ type: 'int16' }), '12'), 'number');
  throwsNaming(() => encodeRegisters(pt({ type: 'int32' }), 12n), 'number');
  throwsNaming(() => encodeRegisters(pt({ type: 'float32' }), true), 'number');
  throwsNaming(() => encodeRegisters(pt({ type: 'float32' }), 1e39), 'out of range');
  throwsNaming(() => encodeRegisters(pt({ type: 'bit', bit: 3 }), 1), 'boolean');
  throwsNaming(() => encodeRegisters(pt({ type: 'string', length: 2 }), 42), 'string');
});

test('encode rejects a string longer than its registers, counting UTF-8 bytes', () => {
  throwsNaming(() => encodeRegisters(pt({ type: 'string', length: 2 }), 'ABCDE'), '5 bytes', '4 bytes');
  // Four Cyrillic letters are 8 bytes, too many for 3 registers.
  throwsNaming(() => encodeRegisters(pt({ type: 'string', length: 3 }), 'Кузб'), '8 bytes');
  assert.deepEqual(encodeRegisters(pt({ type: 'string', length: 2 }), 'ABCD'), [0x4142, 0x4344]);
});

test('encode accepts 64-bit values as number or bigint and floats that need rounding', () => {
  assert.deepEqual(encodeRegisters(pt({ type: 'int64' }), -2), encodeRegisters(pt({ type: 'int64' }), -2n));
  assert.deepEqual(encodeRegisters(pt({ type: 'uint64', order: 'DCBA' }), 2 ** 60), encodeRegisters(pt({ type: 'uint64', order: 'DCBA' }), 2n ** 60n));
  assert.deepEqual(encodeRegisters(pt({ type: 'float32' }), 123.456), [0x42f6, 0xe979]);
  assert.deepEqual(encodeRegisters(pt({ type: 'float32' }), -Infinity), [0xff80, 0]);
});

test('bit encode sets only that bit; setBit is the read-modify-write step', () => {
  assert.deepEqual(encodeRegisters(pt({ type: 'bit', bit: 15 }), true), [0x8000]);
  assert.deepEqual(encodeRegisters(pt({ type: 'bit', bit: 0 }), true), [1]);
  assert.deepEqual(encodeRegisters(pt({ type: 'bit', bit: 4 }), false), [0]);
  assert.deepEqual(encodeRegisters(pt({ table: 'coil', type: 'bool' }), true), [1]);
  assert.equal(setBit(0x00f0, 0, true), 0x00f1);
  assert.equal(setBit(0x00f0, 4, false), 0x00e0);
  assert.equal(setBit(0xffff, 15, false), 0x7fff);
  assert.equal(setBit(0x7fff, 15, true), 0xffff);
  assert.equal(setBit(0x0001, 0, true), 0x0001);
  assert.throws(() => setBit(0x10000, 0, true), RangeError);
  assert.throws(() => setBit(0, 16, true), RangeError);
});

test('decodeAllOrders shows the same registers under every order', () => {
  const words = [0xffff, 0x42f6, 0xe979];
  const all = decodeAllOrders(pt({ order: 'CDAB' }), words, 1);
  assert.deepEqual(Object.keys(all), [...BYTE_ORDERS]);
  assert.equal(all.ABCD, Math.fround(123.456));
  for (const order of BYTE_ORDERS) assert.equal(all[order], decodeRegisters(pt({ order }), words, 1));
  assert.equal(decodeAllOrders(pt({ type: 'int16' }), [0x0100]).BADC, 1);
  throwsNaming(() => decodeAllOrders(pt({}), [1]), 'only 1');
});

/** Deterministic xorshift32, so a failure here is reproducible without a property-testing library. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

test('random registers decode and re-encode to the same registers (all numeric types and orders)', () => {
  const next = rng(0x6b656467);
  for (const type of ['int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64'] as const) {
    for (const order of BYTE_ORDERS) {
      const point = pt({ type, order });
      const n = registerCount(point);
      for (let i = 0; i < 300; i++) {
        const words = Array.from({ length: n }, () => next() & 0xffff);
        const value = decodeRegisters(point, words);
        // NaN payloads collapse to the canonical NaN when written back; that is fine for a meter value.
        if (typeof value === 'number' && Number.isNaN(value)) continue;
        assert.deepEqual(encodeRegisters(point, value), words, `${type}/${order} ${words.join(',')}`);
      }
    }
  }
});

/** The byte orders spelt out on a Buffer, independent of the decoder's word arithmetic. */
function referenceDecode(type: 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32', order: (typeof BYTE_ORDERS)[number], words: number[]): number {
  const raw = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => raw.writeUInt16BE(w, i * 2));
  const [a, b, c, d] = [raw[0]!, raw[1]!, raw[2] ?? 0, raw[3] ?? 0];
  // Where the value's big-endian bytes A B C D sit in the registers (types.ts ByteOrder).
  const be =
    words.length === 1
      ? Buffer.from(order === 'BADC' || order === 'DCBA' ? [b, a] : [a, b])
      : Buffer.from({ ABCD: [a, b, c, d], CDAB: [c, d, a, b], BADC: [b, a, d, c], DCBA: [d, c, b, a] }[order]);
  return { int16: () => be.readInt16BE(0), uint16: () => be.readUInt16BE(0), int32: () => be.readInt32BE(0), uint32: () => be.readUInt32BE(0), float32: () => be.readFloatBE(0) }[type]();
}

test('1- and 2-register numbers decode as their bytes say, in every order and at any offset', () => {
  const next = rng(0x31323334);
  for (const type of ['int16', 'uint16', 'int32', 'uint32', 'float32'] as const) {
    for (const order of BYTE_ORDERS) {
      const point = pt({ type, order });
      const n = registerCount(point);
      for (let i = 0; i < 500; i++) {
        const words = Array.from({ length: n + 2 }, () => next() & 0xffff);
        // Edges too: all bits set, sign bits, zero.
        if (i < 4) words.fill([0xffff, 0x8000, 0, 0x7fff][i]!);
        const offset = i % 3;
        const own = words.slice(offset, offset + n);
        const want = referenceDecode(type, order, own);
        const got = decodeRegisters(point, words, offset);
        if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `${type}/${order} ${own.join(',')}`);
        else assert.equal(got, want, `${type}/${order} ${own.join(',')}`);
      }
    }
  }
});

test('random strings survive encode then decode in every order', () => {
  const next = rng(42);
  const alphabet = 'ABCxyz0129 -_.Кузбасс';
  for (const order of BYTE_ORDERS) {
    for (let i = 0; i < 200; i++) {
      const chars = Array.from({ length: next() % 8 }, () => alphabet[next() % alphabet.length]).join('');
      const value = chars.replace(/ +$/, '');
      const point = pt({ type: 'string', order, length: 8 });
      assert.equal(decodeRegisters(point, encodeRegisters(point, value)), value);
    }
  }
});
