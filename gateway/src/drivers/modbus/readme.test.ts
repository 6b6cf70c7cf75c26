import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeRegisters, encodeRegisters } from './decode.ts';
import { BYTE_ORDERS, type ByteOrder, type ModbusPointRef } from './types.ts';

// The byte-order table of this folder's README is what field engineers configure from: it is
// checked against the decoder, so the documentation cannot drift from what kedge does.
const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
const LETTERS = 'ABCDEFGH';
const byteOf = (letter: string) => 0x11 * (LETTERS.indexOf(letter) + 1);

function rows(): Map<ByteOrder, string[]> {
  const out = new Map<ByteOrder, string[]>();
  for (const line of readme.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const order = /^`(ABCD|CDAB|BADC|DCBA)`$/.exec(cells[1] ?? '')?.[1] as ByteOrder | undefined;
    if (order && cells.length >= 6) out.set(order, cells.slice(2, 6));
  }
  return out;
}

/** "`AB CD`" -> the registers holding those bytes. */
const registers = (cell: string) => /`([A-H ]+)`/.exec(cell)![1]!.split(' ').map((w) => (byteOf(w[0]!) << 8) | byteOf(w[1]!));

test('the README documents every byte order, for 16, 32 and 64 bits and strings', () => {
  assert.deepEqual([...rows().keys()].sort(), [...BYTE_ORDERS].sort());
});

for (const [order, [w16, w32, w64, str]] of rows()) {
  test(`README row ${order}: the registers it shows are what kedge encodes and decodes`, () => {
    const point = (type: ModbusPointRef['type'], extra: Partial<ModbusPointRef> = {}): ModbusPointRef => ({ id: 'p', table: 'holding', address: 0, type, order, ...extra });
    const be = (n: number) => BigInt('0x' + [...LETTERS.slice(0, n)].map((l) => byteOf(l).toString(16)).join(''));
    assert.deepEqual(encodeRegisters(point('uint16'), Number(be(2))), registers(w16!), '16-bit');
    assert.deepEqual(encodeRegisters(point('uint32'), Number(be(4))), registers(w32!), '32-bit');
    assert.deepEqual(encodeRegisters(point('uint64'), be(8)), registers(w64!), '64-bit');
    assert.equal(decodeRegisters(point('uint64'), registers(w64!)), be(8));
    // Strings: `"text" → \`registers\``, two characters per register as the cell shows them.
    const [, text, shown] = /"([^"]+)" → `([^`]+)`/.exec(str!)!;
    const words = shown!.split(' ').map((pair) => (pair.charCodeAt(0) << 8) | pair.charCodeAt(1));
    assert.deepEqual(encodeRegisters(point('string', { length: words.length }), text!), words, 'string');
    assert.equal(decodeRegisters(point('string', { length: words.length }), words), text);
  });
}
