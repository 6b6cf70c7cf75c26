/**
 * Varint/zigzag byte writer and bounds-checked reader for the binary codecs. The reader throws
 * one error type (set by the caller) for every malformed input, so a codec's decode never
 * leaks a RangeError from a Buffer read.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  /** `capacity`: the expected size, so a large body is not grown (allocated and copied) by doubling from 1 KiB. */
  constructor(capacity = 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(16, capacity));
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned varint (LEB128) of a non-negative safe integer. */
  uvarint(n: number): void {
    this.room(8);
    // Division instead of shifts: values reach 2^53, beyond 32-bit bitwise operators.
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  /** Zigzag varint of any safe integer. */
  svarint(n: number): void {
    if (n >= -0x40000000 && n < 0x40000000) this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
    else this.bigSvarint(BigInt(n));
  }

  /** Zigzag varint of a bigint of any size (uint64 and int64 both fit). */
  bigSvarint(v: bigint): void {
    let z = v >= 0n ? v << 1n : (-v << 1n) - 1n;
    this.room(12);
    while (z >= 0x80n) {
      this.byte(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
    }
    this.byte(Number(z));
  }

  float32(v: number): void {
    this.room(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  float64(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  bytes(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** Length-prefixed UTF-8. */
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.uvarint(b.length);
    this.bytes(b);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class ByteReader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly fail: (message: string) => Error,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw this.fail(`truncated: ${what} needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`);
  }

  byte(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  uvarint(what: string): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const b = this.byte(what);
      result += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 0x80;
      if (i >= 7) throw this.fail(`${what}: varint longer than 8 bytes at offset ${this.pos}`);
    }
    if (!Number.isSafeInteger(result)) throw this.fail(`${what}: ${result} is beyond 2^53`);
    return result;
  }

  /** A count of items that each take at least `minBytes`, checked against what is left. */
  count(what: string, minBytes: number, max = Infinity): number {
    const n = this.uvarint(what);
    if (n > max || n * minBytes > this.remaining) throw this.fail(`${what}: ${n} items cannot fit in the ${this.remaining} bytes left`);
    return n;
  }

  svarint(what: string): number {
    const z = this.uvarint(what);
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  bigSvarint(what: string): bigint {
    let z = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      const b = this.byte(what);
      z |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
      if (i >= 10) throw this.fail(`${what}: varint longer than 11 bytes at offset ${this.pos}`);
    }
    return z & 1n ? -((z + 1n) >> 1n) : z >> 1n;
  }

  float32(what: string): number {
    this.need(4, what);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  float64(what: string): number {
    this.need(8, what);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  string(what: string): string {
    const n = this.uvarint(what);
    const b = this.bytes(n, what);
    try {
      return utf8.decode(b);
    } catch {
      // A lossy decode would silently change a point key: refuse it instead.
      throw this.fail(`${what}: not valid UTF-8`);
    }
  }
}
