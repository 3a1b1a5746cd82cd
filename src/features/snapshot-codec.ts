/**
 * @module features/snapshot-codec
 * The binary container of feature-store snapshots, and the little-endian writer and reader the
 * parts of the store serialise themselves with.
 *
 * Layout (all little-endian):
 * ```
 * 0   4  magic "PRFS"
 * 4   2  version (u16, currently 1)
 * 6   2  reserved (0)
 * 8   4  body length in bytes (u32)
 * 12  4  checksum of the body (FNV-1a over 32-bit little-endian words, zero-padded)
 * 16  …  body: options echo, store clock, key table, backends, series (see feature-store.ts)
 * ```
 * Columns of numbers are copied as raw typed-array bytes (one `set` per column, not a loop per
 * value), strings are UTF-8 with a u32 length prefix. Binary rather than JSON because a million
 * keys must encode in well under a second into tens of MB. The checksum catches a torn or
 * corrupted write before any of it is trusted (word-wise FNV-1a rather than CRC-32: four times
 * faster in JS, and it still detects every single-word change); every read is bounds-checked, so truncated or foreign input
 * fails with {@link SnapshotFormatError} and never with a RangeError or a huge allocation.
 */
import { SnapshotFormatError } from '../errors.js';

export const SNAPSHOT_MAGIC = 0x53465250; // "PRFS" read as a little-endian u32
export const SNAPSHOT_VERSION = 1;
const HEADER_BYTES = 16;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type NumberColumn = Float64Array | Float32Array | Uint32Array | Int32Array | Uint8Array;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Appends little-endian values to a growing buffer. */
export class SnapshotWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = HEADER_BYTES;

  constructor(initialBytes = 1 << 16) {
    this.buf = new Uint8Array(Math.max(initialBytes, HEADER_BYTES));
    this.view = new DataView(this.buf.buffer);
  }

  /** Bytes written so far, header included. */
  get length(): number {
    return this.pos;
  }

  /** Makes room for `n` more bytes at once (avoids repeated doubling copies for big sections). */
  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    // Double while small; past 16 MiB grow by at most 16 MiB of slack, since callers reserve
    // whole sections up front and a final doubling of 100 MB would only be copied and dropped.
    const size = Math.max(need + (1 << 20), Math.min(this.buf.length * 2, need + (16 << 20)));
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }

  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** UTF-8 bytes with a u32 byte-length prefix. */
  string(s: string): void {
    this.reserve(4 + s.length * 3);
    const { written } = utf8Encoder.encodeInto(s, this.buf.subarray(this.pos + 4));
    this.view.setUint32(this.pos, written, true);
    this.pos += 4 + written;
  }

  /**
   * Many strings at once: a u32 count, a u32 byte length per string, then all UTF-8 bytes and a
   * u8 "all ASCII" flag so the reader can decode the blob in one call. ASCII strings are copied
   * by a plain loop: one `encodeInto` call per key costs more than the copy itself.
   */
  strings(list: readonly string[], count: number): void {
    this.u32(count);
    let chars = 0;
    for (let i = 0; i < count; i++) chars += list[i]?.length ?? 0;
    this.reserve(count * 4 + chars + 1);
    const lengthsAt = this.pos;
    this.pos += count * 4;
    let ascii = 1;
    for (let i = 0; i < count; i++) {
      const s = list[i] ?? '';
      const n = s.length;
      // The up-front reservation assumed 1 byte per char; a non-ASCII key may have used more.
      if (this.pos + n > this.buf.length) this.reserve(n);
      let buf = this.buf;
      const start = this.pos;
      let p = start;
      let j = 0;
      for (; j < n; j++) {
        const c = s.charCodeAt(j);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (j < n) {
        ascii = 0;
        this.reserve(n * 3);
        buf = this.buf;
        p = start + utf8Encoder.encodeInto(s, buf.subarray(start)).written;
      }
      this.view.setUint32(lengthsAt + i * 4, p - start, true);
      this.pos = p;
    }
    this.u8(ascii);
  }

  /** The raw little-endian bytes of a column's first `count` values (no length prefix). */
  column(col: NumberColumn, count: number): void {
    const bytes = count * col.BYTES_PER_ELEMENT;
    this.reserve(bytes);
    if (LITTLE_ENDIAN_HOST || col.BYTES_PER_ELEMENT === 1) {
      this.buf.set(new Uint8Array(col.buffer, col.byteOffset, bytes), this.pos);
      this.pos += bytes;
      return;
    }
    for (let i = 0; i < count; i++)
      writeElement(this.view, this.pos + i * col.BYTES_PER_ELEMENT, col, i);
    this.pos += bytes;
  }

  /** Fills in the header and returns the snapshot (the writer must not be used afterwards). */
  finish(): Uint8Array {
    const view = this.view;
    view.setUint32(0, SNAPSHOT_MAGIC, true);
    view.setUint16(4, SNAPSHOT_VERSION, true);
    view.setUint16(6, 0, true);
    view.setUint32(8, this.pos - HEADER_BYTES, true);
    view.setUint32(12, checksum(this.buf.subarray(HEADER_BYTES, this.pos)), true);
    // Hand out the buffer itself unless most of it is slack from the last doubling.
    return this.pos * 4 >= this.buf.length * 3
      ? this.buf.subarray(0, this.pos)
      : this.buf.slice(0, this.pos);
  }
}

function writeElement(view: DataView, at: number, col: NumberColumn, i: number): void {
  const v = col[i] ?? 0;
  if (col instanceof Float64Array) view.setFloat64(at, v, true);
  else if (col instanceof Float32Array) view.setFloat32(at, v, true);
  else if (col instanceof Int32Array) view.setInt32(at, v, true);
  else view.setUint32(at, v, true);
}

function readElement(view: DataView, at: number, col: NumberColumn, i: number): void {
  if (col instanceof Float64Array) col[i] = view.getFloat64(at, true);
  else if (col instanceof Float32Array) col[i] = view.getFloat32(at, true);
  else if (col instanceof Int32Array) col[i] = view.getInt32(at, true);
  else col[i] = view.getUint32(at, true);
}

/** Reads what {@link SnapshotWriter} wrote; every read past the end throws SnapshotFormatError. */
export class SnapshotReader {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private pos: number;
  private readonly end: number;

  /** Checks magic, version, length and CRC, then positions at the start of the body. */
  constructor(bytes: Uint8Array) {
    if (bytes.length < HEADER_BYTES) {
      throw new SnapshotFormatError(
        `Snapshot is ${bytes.length} bytes, shorter than its ${HEADER_BYTES}-byte header; it is truncated or not a snapshot.`,
      );
    }
    this.buf = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.view.getUint32(0, true) !== SNAPSHOT_MAGIC) {
      throw new SnapshotFormatError(
        'Not a feature-store snapshot (wrong magic); pass the bytes FeatureStore.snapshot() produced.',
      );
    }
    const version = this.view.getUint16(4, true);
    if (version !== SNAPSHOT_VERSION) {
      throw new SnapshotFormatError(
        `Snapshot format version ${version} is not supported (this build reads version ${SNAPSHOT_VERSION}); rebuild the snapshot.`,
      );
    }
    const bodyLength = this.view.getUint32(8, true);
    if (HEADER_BYTES + bodyLength !== bytes.length) {
      throw new SnapshotFormatError(
        `Snapshot body should be ${bodyLength} bytes but ${bytes.length - HEADER_BYTES} are present; it is truncated or padded.`,
      );
    }
    const body = bytes.subarray(HEADER_BYTES);
    if (checksum(body) !== this.view.getUint32(12, true)) {
      throw new SnapshotFormatError(
        'Snapshot checksum mismatch; the bytes were corrupted after they were written.',
      );
    }
    this.pos = HEADER_BYTES;
    this.end = bytes.length;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new SnapshotFormatError(
        `Snapshot ends early: ${n} more bytes needed at offset ${this.pos}.`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] ?? 0;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A count that is then multiplied by `bytesEach` bytes still to read: refuses absurd counts. */
  count(bytesEach: number, max = Number.MAX_SAFE_INTEGER): number {
    const n = this.u32();
    if (n > max || n * bytesEach > this.remaining) {
      throw new SnapshotFormatError(
        `Snapshot holds an impossible count ${n} at offset ${this.pos - 4}.`,
      );
    }
    return n;
  }

  string(): string {
    const n = this.count(1);
    const s = this.decode(this.pos, n);
    this.pos += n;
    return s;
  }

  private decode(at: number, n: number): string {
    try {
      return utf8Decoder.decode(this.buf.subarray(at, at + n));
    } catch (cause) {
      throw new SnapshotFormatError(
        `Snapshot holds invalid UTF-8 at offset ${at}: ${String(cause)}.`,
      );
    }
  }

  /** The strings {@link SnapshotWriter.strings} wrote. */
  strings(): string[] {
    const count = this.count(4);
    const lengths = new Uint32Array(count);
    this.column(lengths, count);
    let total = 0;
    for (let i = 0; i < count; i++) total += lengths[i] ?? 0;
    this.need(total + 1);
    const blobAt = this.pos;
    const ascii = this.buf[blobAt + total] === 1;
    const out = new Array<string>(count);
    if (ascii) {
      // One decode for all strings, then slices: byte offsets equal UTF-16 offsets in ASCII.
      const all = this.decode(blobAt, total);
      let p = 0;
      for (let i = 0; i < count; i++) {
        const n = lengths[i] ?? 0;
        out[i] = all.substring(p, p + n);
        p += n;
      }
    } else {
      let p = blobAt;
      for (let i = 0; i < count; i++) {
        const n = lengths[i] ?? 0;
        out[i] = this.decode(p, n);
        p += n;
      }
    }
    this.pos = blobAt + total + 1;
    return out;
  }

  /** Fills the first `count` values of `col` from raw little-endian bytes. */
  column(col: NumberColumn, count: number): void {
    const bytes = count * col.BYTES_PER_ELEMENT;
    this.need(bytes);
    if (LITTLE_ENDIAN_HOST || col.BYTES_PER_ELEMENT === 1) {
      // Copy through a byte view: the source offset need not be aligned for the element type.
      new Uint8Array(col.buffer, col.byteOffset, bytes).set(
        this.buf.subarray(this.pos, this.pos + bytes),
      );
    } else {
      for (let i = 0; i < count; i++)
        readElement(this.view, this.pos + i * col.BYTES_PER_ELEMENT, col, i);
    }
    this.pos += bytes;
  }

  /** Throws unless every byte was consumed (trailing garbage means a different writer). */
  done(): void {
    if (this.pos !== this.end) {
      throw new SnapshotFormatError(
        `Snapshot has ${this.end - this.pos} unexpected trailing bytes.`,
      );
    }
  }

  /** A structural check that failed while decoding. */
  fail(message: string): never {
    throw new SnapshotFormatError(`Snapshot is inconsistent: ${message}.`);
  }
}

/**
 * FNV-1a over 32-bit little-endian words (the tail zero-padded), seeded with the length: one
 * multiply per 4 bytes. Each step is a bijection of the running hash for a given word, so any
 * change confined to one word always changes the result.
 */
export function checksum(data: Uint8Array): number {
  const n = data.length;
  const words = n >>> 2;
  let w32: Uint32Array;
  if (LITTLE_ENDIAN_HOST && data.byteOffset % 4 === 0) {
    w32 = new Uint32Array(data.buffer, data.byteOffset, words);
  } else {
    // Unaligned (e.g. a Buffer from a pool) or big-endian: one aligned copy, then the same loop.
    const copy = new Uint8Array(words * 4);
    copy.set(data.subarray(0, words * 4));
    w32 = new Uint32Array(copy.buffer);
    if (!LITTLE_ENDIAN_HOST) {
      const v = new DataView(copy.buffer);
      for (let i = 0; i < words; i++) w32[i] = v.getUint32(i * 4, true);
    }
  }
  let h = (0x811c9dc5 ^ n) | 0;
  for (let i = 0; i < words; i++) h = Math.imul(h ^ w32[i]!, 0x01000193);
  let tail = 0;
  for (let i = words * 4, shift = 0; i < n; i++, shift += 8) tail |= data[i]! << shift;
  h = Math.imul(h ^ tail, 0x01000193);
  return h >>> 0;
}
