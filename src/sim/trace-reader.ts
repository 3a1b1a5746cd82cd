/**
 * @module sim/trace-reader
 * Streaming reader for cache request traces, the input of every simulator and bench command.
 *
 * Three formats, each plain or gzip-compressed (gzip is recognised by its magic bytes `1f 8b`):
 *
 * - `csv`: a header line, then one request a line. The header names the columns, in any order:
 *   `key` alone (unit-size objects) or `timestamp,key,size`. `size` is in bytes (a non-negative
 *   integer); `timestamp` is any finite number, kept exactly as the trace gives it — its unit is
 *   whatever the trace uses (seconds in cloudphysics-io). Other named columns are ignored.
 * - `oracle`: libCacheSim's `oracleGeneral` binary, little-endian 24-byte records
 *   `{u32 timestamp; u64 id; u32 size; i64 next_access_vtime}`. The key is the exact decimal
 *   string of the u64 id (ids above 2^53 go through BigInt, so nothing is rounded).
 * - `text`: one key a line, no header, unit sizes.
 *
 * `auto` (the default) decides from the (decompressed) head of the file: an extension `.bin` or
 * `.oracleGeneral` (before any `.gz`) or a NUL byte in the head means `oracle`; a first line that
 * is a header naming `key` (e.g. `key` or `timestamp,key,size`) means `csv`; anything else `text`.
 *
 * Requests come in chunks of at most {@link DEFAULT_MAX_CHUNK_REQUESTS}, read with
 * `fs.createReadStream` (+ `zlib.createGunzip`) and split by hand, so memory stays bounded by one
 * chunk however long the trace. Each key is decoded into its own string (not a slice of the
 * chunk's text), so a simulator that keeps keys does not keep whole chunks alive. CRLF line ends
 * and a missing final newline are accepted.
 *
 * Malformed input throws {@link TraceFormatError} (`PRESCIENT_E_TRACE_FORMAT`) whose details name
 * the `file` and the 1-based `line` (csv, text; the csv header is line 1) or the byte `offset` in
 * the decompressed stream (oracle). An empty file is zero requests, not an error.
 */

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

import { TraceFormatError } from '../errors.js';

/** A trace format; `auto` detects it from the file (see the module header). */
export type TraceFormat = 'auto' | 'csv' | 'oracle' | 'text';

/** A detected (concrete) trace format. */
export type ConcreteTraceFormat = Exclude<TraceFormat, 'auto'>;

/** One request of a trace. */
export interface TraceRequest {
  /** Object key; for `oracle` the decimal string of the u64 id. */
  readonly key: string;
  /** Object size in bytes; 1 when the trace has no sizes (unit-size objects). */
  readonly sizeBytes: number;
  /** Timestamp as given by the trace, in the trace's own unit; absent when the trace has none. */
  readonly timestamp?: number;
  /**
   * `oracle` only: libCacheSim's `next_access_vtime`, the virtual time of the next request for
   * the same key, or −1 when there is none (libCacheSim writes −1 or INT64_MAX; both become −1).
   * Virtual time is 1-based: for the request at 0-based position `i` in the trace, the next one
   * for its key is at position `nextAccessVtime - 1` (checked on cloudphysics-io).
   * This is knowledge of the future: only the offline optimum (Bélády) may read it; any online
   * policy that looks at it is cheating.
   */
  readonly nextAccessVtime?: number;
}

/** Options of {@link readTrace} and {@link traceInfo}. */
export interface ReadTraceOptions {
  /** Format to read; default `auto`. */
  readonly format?: TraceFormat;
  /** Most requests per yielded chunk; default {@link DEFAULT_MAX_CHUNK_REQUESTS}. */
  readonly maxChunkRequests?: number;
  /** Size of each read (and gunzip output) buffer in bytes; default 1 MiB. Tests shrink it. */
  readonly readBufferBytes?: number;
}

/** What {@link traceInfo} finds out about a trace without reading it all. */
export interface TraceInfo {
  readonly format: ConcreteTraceFormat;
  /** Whether the file is gzip-compressed. */
  readonly gzip: boolean;
  /** Whether requests carry real sizes (`sizeBytes` is 1 for every request when false). */
  readonly sized: boolean;
  /** Whether requests carry a `timestamp`. */
  readonly hasTimestamps: boolean;
}

/** Default most requests per chunk yielded by {@link readTrace}. */
export const DEFAULT_MAX_CHUNK_REQUESTS = 65_536;

const DEFAULT_READ_BUFFER_BYTES = 1 << 20;
/** How much decompressed head {@link traceInfo} inspects at most. */
const HEAD_BYTES = 64 * 1024;
/** How much of the head is checked for NUL bytes (binary → oracle). */
const BINARY_SNIFF_BYTES = 4096;
const ORACLE_RECORD_BYTES = 24;
const TWO_POW_32 = 0x1_0000_0000;
/** High 32-bit word below which a u64 fits a double exactly (2^53 = 2^21 · 2^32). */
const SAFE_HIGH_WORD = 0x20_0000;
const LF = 0x0a;
const CR = 0x0d;

/** Column layout of a CSV trace, from its header. */
interface CsvLayout {
  readonly columns: number;
  readonly keyIndex: number;
  /** −1 when absent. */
  readonly sizeIndex: number;
  /** −1 when absent. */
  readonly timestampIndex: number;
}

interface Detected extends TraceInfo {
  readonly file: string;
}

/**
 * Detects the format of a trace (unless `opts.format` fixes it) and whether it has sizes and
 * timestamps. Reads only the head of the file.
 */
export async function traceInfo(path: string, opts: ReadTraceOptions = {}): Promise<TraceInfo> {
  const { format, gzip, sized, hasTimestamps } = await detect(path, opts.format ?? 'auto');
  return { format, gzip, sized, hasTimestamps };
}

/**
 * Streams the requests of a trace in chunks (arrays of at most `maxChunkRequests`, never empty).
 * Stopping early (`break`) closes the file.
 *
 * @throws {TraceFormatError} on malformed input, naming the line or byte offset.
 */
export async function* readTrace(
  path: string,
  opts: ReadTraceOptions = {},
): AsyncGenerator<TraceRequest[], void, undefined> {
  const info = await detect(path, opts.format ?? 'auto');
  const maxChunk = opts.maxChunkRequests ?? DEFAULT_MAX_CHUNK_REQUESTS;
  if (!Number.isSafeInteger(maxChunk) || maxChunk < 1) {
    throw new RangeError(`maxChunkRequests must be a positive integer, got ${maxChunk}`);
  }
  const stream = openBytes(path, info.gzip, opts.readBufferBytes ?? DEFAULT_READ_BUFFER_BYTES);
  try {
    if (info.format === 'oracle') {
      yield* parseOracle(stream, info.file, maxChunk);
    } else {
      yield* parseLines(stream, info, maxChunk);
    }
  } catch (err) {
    throw asTraceError(err, info.file);
  } finally {
    stream.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Detection

async function detect(path: string, format: TraceFormat): Promise<Detected> {
  const file = basename(path);
  const gzip = await hasGzipMagic(path);
  let chosen: ConcreteTraceFormat;
  let head: Buffer | undefined;
  if (format !== 'auto') {
    chosen = format;
  } else if (/\.(bin|oraclegeneral)$/i.test(path.replace(/\.gz$/i, ''))) {
    chosen = 'oracle';
  } else {
    head = await readHead(path, gzip, file);
    if (head.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
      chosen = 'oracle';
    } else if (head.length === 0) {
      chosen = /\.csv$/i.test(path.replace(/\.gz$/i, '')) ? 'csv' : 'text';
    } else {
      chosen = parseCsvHeader(firstLine(head)) === undefined ? 'text' : 'csv';
    }
  }
  if (chosen === 'oracle') return { file, format: chosen, gzip, sized: true, hasTimestamps: true };
  if (chosen === 'text') return { file, format: chosen, gzip, sized: false, hasTimestamps: false };
  head ??= await readHead(path, gzip, file);
  if (head.length === 0) return { file, format: chosen, gzip, sized: false, hasTimestamps: false };
  const layout = csvLayoutOrThrow(firstLine(head), file);
  return {
    file,
    format: chosen,
    gzip,
    sized: layout.sizeIndex >= 0,
    hasTimestamps: layout.timestampIndex >= 0,
  };
}

async function hasGzipMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Up to {@link HEAD_BYTES} of decompressed content, stopping early after the first newline. */
async function readHead(path: string, gzip: boolean, file: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  const stream = openBytes(path, gzip, HEAD_BYTES);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      length += chunk.length;
      if (length >= HEAD_BYTES || chunk.includes(LF)) break;
    }
  } catch (err) {
    // A damaged gzip tail still leaves a usable head; readTrace reports the damage later.
    if (length === 0) throw asTraceError(err, file);
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts, length);
}

function firstLine(head: Buffer): string {
  const end = head.indexOf(LF);
  return head.toString('utf8', 0, end === -1 ? head.length : end);
}

/** The CSV layout if `line` is a header naming a `key` column, else undefined. */
function parseCsvHeader(line: string): CsvLayout | undefined {
  const names = stripLineEnd(line.replace(/^\uFEFF/, ''))
    .split(',')
    .map((name) => name.trim().toLowerCase());
  const keyIndex = names.indexOf('key');
  if (keyIndex === -1) return undefined;
  // A text trace could start with a key such as `key,7`; a real header has only column names.
  if (names.some((name) => !/^[a-z_][a-z0-9_]*$/.test(name))) return undefined;
  for (const known of ['key', 'size', 'timestamp']) {
    if (names.indexOf(known) !== names.lastIndexOf(known)) return undefined;
  }
  return {
    columns: names.length,
    keyIndex,
    sizeIndex: names.indexOf('size'),
    timestampIndex: names.indexOf('timestamp'),
  };
}

function csvLayoutOrThrow(line: string, file: string): CsvLayout {
  const layout = parseCsvHeader(line);
  if (layout === undefined) {
    throw new TraceFormatError(
      `${file}: line 1 is not a CSV header; expected column names including "key" ` +
        `(e.g. "key" or "timestamp,key,size"), each named once — or read it with format "text"`,
      { line: 1, file },
    );
  }
  return layout;
}

// ---------------------------------------------------------------------------------------------
// Streams

function openBytes(path: string, gzip: boolean, bufferBytes: number): Readable {
  const source = createReadStream(path, { highWaterMark: bufferBytes });
  if (!gzip) return source;
  // pipeline forwards errors from either stage and destroys both when one ends early.
  return pipeline(source, createGunzip({ chunkSize: Math.max(bufferBytes, 64) }), () => {});
}

function asTraceError(err: unknown, file: string): unknown {
  if (err instanceof TraceFormatError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    const reason = err instanceof Error ? err.message : String(err);
    const error = new TraceFormatError(
      `${file}: the gzip stream is damaged (${reason}); re-create or re-download the file`,
      { file },
    );
    error.cause = err;
    return error;
  }
  return err;
}

// ---------------------------------------------------------------------------------------------
// Line formats (csv, text)

function stripLineEnd(line: string): string {
  return line.charCodeAt(line.length - 1) === CR ? line.slice(0, -1) : line;
}

async function* parseLines(
  stream: Readable,
  info: Detected,
  maxChunk: number,
): AsyncGenerator<TraceRequest[], void, undefined> {
  const { file } = info;
  let layout: CsvLayout | undefined;
  let expectHeader = info.format === 'csv';
  let lineNo = 0;
  let batch: TraceRequest[] = [];

  const fail = (what: string): never => {
    throw new TraceFormatError(`${file}: line ${lineNo}: ${what}`, { line: lineNo, file });
  };

  // Returns a request, or undefined for the header line.
  const parse = (buf: Buffer, start: number, end: number): TraceRequest | undefined => {
    lineNo++;
    if (end > start && buf[end - 1] === CR) end--;
    // Decoding each line on its own gives a flat string that does not pin the chunk (see header).
    const line = buf.toString('utf8', start, end);
    if (expectHeader) {
      expectHeader = false;
      layout = csvLayoutOrThrow(line, file);
      return undefined;
    }
    if (layout === undefined || layout.columns === 1) {
      if (line.length === 0) return fail('empty key; remove blank lines');
      if (layout !== undefined && line.includes(',')) {
        return fail('expected 1 column (key), found a comma; keys in a "key" CSV have no commas');
      }
      return { key: line, sizeBytes: 1 };
    }
    return parseCsvRow(line, layout, fail);
  };

  let carry: Buffer | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
    let start = 0;
    let newline: number;
    while ((newline = buf.indexOf(LF, start)) !== -1) {
      const request = parse(buf, start, newline);
      start = newline + 1;
      if (request === undefined) continue;
      batch.push(request);
      if (batch.length >= maxChunk) {
        yield batch;
        batch = [];
      }
    }
    // Copy: the carried bytes are few and the chunk need not stay alive for them.
    carry = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
  }
  if (carry !== undefined) {
    const request = parse(carry, 0, carry.length);
    if (request !== undefined) batch.push(request);
  }
  if (batch.length > 0) yield batch;
}

function parseCsvRow(line: string, layout: CsvLayout, fail: (what: string) => never): TraceRequest {
  const fields = line.split(',');
  if (fields.length !== layout.columns) {
    return fail(`expected ${layout.columns} columns as in the header, found ${fields.length}`);
  }
  const key = fields[layout.keyIndex] ?? '';
  if (key.length === 0) return fail('empty key');
  const sizeBytes = layout.sizeIndex < 0 ? 1 : parseSize(fields[layout.sizeIndex] ?? '', fail);
  if (layout.timestampIndex < 0) return { key, sizeBytes };
  const text = fields[layout.timestampIndex] ?? '';
  const timestamp = Number(text);
  if (text.trim().length === 0 || !Number.isFinite(timestamp)) {
    return fail(`timestamp ${JSON.stringify(text)} is not a finite number`);
  }
  return { key, sizeBytes, timestamp };
}

function parseSize(text: string, fail: (what: string) => never): number {
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
    if (i === text.length - 1 && Number.isSafeInteger(value)) return value;
  }
  return fail(`size ${JSON.stringify(text)} is not a non-negative integer number of bytes`);
}

// ---------------------------------------------------------------------------------------------
// oracleGeneral binary

async function* parseOracle(
  stream: Readable,
  file: string,
  maxChunk: number,
): AsyncGenerator<TraceRequest[], void, undefined> {
  let batch: TraceRequest[] = [];
  /** Decompressed byte offset of `buf[0]`. */
  let offset = 0;
  let carry: Buffer | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
    const whole = buf.length - (buf.length % ORACLE_RECORD_BYTES);
    for (let at = 0; at < whole; at += ORACLE_RECORD_BYTES) {
      const idLow = buf.readUInt32LE(at + 4);
      const idHigh = buf.readUInt32LE(at + 8);
      const key =
        idHigh < SAFE_HIGH_WORD
          ? String(idHigh * TWO_POW_32 + idLow)
          : ((BigInt(idHigh) << 32n) | BigInt(idLow)).toString();
      const nextLow = buf.readUInt32LE(at + 16);
      const nextHigh = buf.readInt32LE(at + 20);
      // Negative (−1) or beyond 2^53 (INT64_MAX): never requested again.
      const nextAccessVtime =
        nextHigh < 0 || nextHigh >= SAFE_HIGH_WORD ? -1 : nextHigh * TWO_POW_32 + nextLow;
      batch.push({
        key,
        sizeBytes: buf.readUInt32LE(at + 12),
        timestamp: buf.readUInt32LE(at),
        nextAccessVtime,
      });
      if (batch.length >= maxChunk) {
        yield batch;
        batch = [];
      }
    }
    offset += whole;
    carry = whole < buf.length ? Buffer.from(buf.subarray(whole)) : undefined;
  }
  if (carry !== undefined) {
    throw new TraceFormatError(
      `${file}: truncated oracleGeneral record at byte offset ${offset}: ${carry.length} of ` +
        `${ORACLE_RECORD_BYTES} bytes; the file is cut short or not in oracleGeneral layout`,
      { offset, file },
    );
  }
  if (batch.length > 0) yield batch;
}
