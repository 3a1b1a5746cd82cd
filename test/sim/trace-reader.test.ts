import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ERROR_CODES, TraceFormatError } from '../../src/errors.js';
import type { ReadTraceOptions, TraceRequest } from '../../src/sim/trace-reader.js';
import { readTrace, traceInfo } from '../../src/sim/trace-reader.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prescient-trace-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fixture(name: string, content: string | Buffer, gzip = false): Promise<string> {
  const path = join(dir, name);
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  await writeFile(path, gzip ? gzipSync(bytes) : bytes);
  return path;
}

async function readAll(path: string, opts: ReadTraceOptions = {}): Promise<TraceRequest[]> {
  const out: TraceRequest[] = [];
  for await (const chunk of readTrace(path, opts)) {
    expect(chunk.length).toBeGreaterThan(0);
    out.push(...chunk);
  }
  return out;
}

async function readError(path: string, opts: ReadTraceOptions = {}): Promise<TraceFormatError> {
  try {
    await readAll(path, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(TraceFormatError);
    return err as TraceFormatError;
  }
  throw new Error(`reading ${path} should have failed`);
}

interface OracleRecord {
  readonly timestamp: number;
  readonly id: bigint;
  readonly size: number;
  readonly next: bigint;
}

function oracleBytes(records: readonly OracleRecord[]): Buffer {
  const buf = Buffer.alloc(records.length * 24);
  records.forEach((r, i) => {
    buf.writeUInt32LE(r.timestamp, i * 24);
    buf.writeBigUInt64LE(r.id, i * 24 + 4);
    buf.writeUInt32LE(r.size, i * 24 + 12);
    buf.writeBigInt64LE(r.next, i * 24 + 16);
  });
  return buf;
}

const keys = (requests: readonly TraceRequest[]): string[] => requests.map((r) => r.key);

describe('readTrace: csv', () => {
  it('reads a key CSV, plain and gzipped, as unit-size requests', async () => {
    const text = 'key\na\nb\na\n-268435455\n';
    for (const path of [
      await fixture('keys.csv', text),
      await fixture('keys.csv.gz', text, true),
    ]) {
      expect(await traceInfo(path)).toEqual({
        format: 'csv',
        gzip: path.endsWith('.gz'),
        sized: false,
        hasTimestamps: false,
      });
      expect(await readAll(path)).toEqual([
        { key: 'a', sizeBytes: 1 },
        { key: 'b', sizeBytes: 1 },
        { key: 'a', sizeBytes: 1 },
        { key: '-268435455', sizeBytes: 1 },
      ]);
    }
  });

  it('reads timestamp,key,size and matches columns by name in any order', async () => {
    const ordered = await fixture('sized.csv', 'timestamp,key,size\n10,x,512\n11.5,y,0\n');
    const shuffled = await fixture('shuffled.csv', 'Size, KEY ,timestamp\n512,x,10\n0,y,11.5\n');
    const expected = [
      { key: 'x', sizeBytes: 512, timestamp: 10 },
      { key: 'y', sizeBytes: 0, timestamp: 11.5 },
    ];
    expect(await readAll(ordered)).toEqual(expected);
    expect(await readAll(shuffled)).toEqual(expected);
    expect(await traceInfo(shuffled)).toMatchObject({
      format: 'csv',
      sized: true,
      hasTimestamps: true,
    });
    // size without timestamp
    expect(await readAll(await fixture('key-size.csv', 'key,size\nk,7\n'))).toEqual([
      { key: 'k', sizeBytes: 7 },
    ]);
  });

  it('accepts CRLF line ends and a missing final newline', async () => {
    const crlf = await fixture('crlf.csv', 'timestamp,key,size\r\n1,a,10\r\n2,b,20');
    expect(await readAll(crlf)).toEqual([
      { key: 'a', sizeBytes: 10, timestamp: 1 },
      { key: 'b', sizeBytes: 20, timestamp: 2 },
    ]);
    const noNewline = await fixture('tail.csv.gz', 'key\r\nfirst\r\nlast', true);
    expect(keys(await readAll(noNewline))).toEqual(['first', 'last']);
  });

  it('splits lines correctly across tiny read buffers, including multi-byte UTF-8 keys', async () => {
    const lines = Array.from({ length: 500 }, (_, i) => `ключ-${i}-é`);
    const path = await fixture('utf8.csv', `key\r\n${lines.join('\r\n')}`);
    const requests = await readAll(path, { readBufferBytes: 7, maxChunkRequests: 64 });
    expect(keys(requests)).toEqual(lines);
  });

  it('yields chunks of at most maxChunkRequests', async () => {
    const path = await fixture(
      'chunks.csv',
      `key\n${Array.from({ length: 10 }, (_, i) => i).join('\n')}\n`,
    );
    const sizes: number[] = [];
    for await (const chunk of readTrace(path, { maxChunkRequests: 4 })) sizes.push(chunk.length);
    expect(sizes).toEqual([4, 4, 2]);
  });

  it('names the line of a malformed row', async () => {
    const cases: Array<[string, number]> = [
      ['timestamp,key,size\n1,a,10\n2,b,-3\n', 3], // negative size
      ['timestamp,key,size\n1,a,10\n2,b,1.5\n', 3], // fractional size
      ['timestamp,key,size\n1,a,10\n2,b,\n', 3], // empty size
      ['timestamp,key,size\n1,a,10\n1,b,10\n3,c\n', 4], // wrong column count
      ['timestamp,key,size\n1,,10\n', 2], // empty key
      ['timestamp,key,size\nsoon,a,10\n', 2], // timestamp not a number
      ['key\na\nb,c\n', 3], // comma in a key-only CSV
      ['key\na\n\nb\n', 3], // blank line = empty key
    ];
    for (const [content, line] of cases) {
      const err = await readError(await fixture('bad.csv', content));
      expect(err.code).toBe(ERROR_CODES.TRACE_FORMAT);
      expect(err.details).toEqual({ line, file: 'bad.csv' });
    }
  });

  it('reports a damaged gzip stream as a trace format error', async () => {
    const whole = gzipSync(Buffer.from(`key\n${'abc\n'.repeat(10_000)}`));
    const path = await fixture('cut.csv.gz', whole.subarray(0, whole.length - 100));
    const err = await readError(path);
    expect(err.code).toBe(ERROR_CODES.TRACE_FORMAT);
    expect(err.details).toMatchObject({ file: 'cut.csv.gz' });
  });

  it('treats an empty file as zero requests', async () => {
    for (const name of ['empty.csv', 'empty.txt', 'empty.bin']) {
      const path = await fixture(name, '');
      expect(await readAll(path)).toEqual([]);
    }
    expect(await readAll(await fixture('empty.csv.gz', '', true))).toEqual([]);
    expect(await readAll(await fixture('header-only.csv', 'key\n'))).toEqual([]);
  });
});

describe('readTrace: text', () => {
  it('reads one key per line without a header, gzipped or not', async () => {
    const text = 'alpha\r\nbeta\ngamma';
    for (const path of [
      await fixture('keys.txt', text),
      await fixture('keys.txt.gz', text, true),
    ]) {
      expect(await traceInfo(path)).toMatchObject({
        format: 'text',
        sized: false,
        hasTimestamps: false,
      });
      expect(await readAll(path)).toEqual([
        { key: 'alpha', sizeBytes: 1 },
        { key: 'beta', sizeBytes: 1 },
        { key: 'gamma', sizeBytes: 1 },
      ]);
    }
  });

  it('is detected when the first line is not a header, and keeps commas in keys', async () => {
    const path = await fixture('commas.trace', 'a,b\nkey,7\n');
    expect(await traceInfo(path)).toMatchObject({ format: 'text' });
    expect(keys(await readAll(path))).toEqual(['a,b', 'key,7']);
  });

  it('names the line of an empty key', async () => {
    const err = await readError(await fixture('blank.txt', 'a\nb\n\nc\n'));
    expect(err.code).toBe(ERROR_CODES.TRACE_FORMAT);
    expect(err.details).toEqual({ line: 3, file: 'blank.txt' });
  });
});

describe('readTrace: oracleGeneral', () => {
  const records: OracleRecord[] = [
    { timestamp: 100, id: 42n, size: 512, next: 3n },
    { timestamp: 101, id: 2n ** 60n + 7n, size: 4096, next: -1n },
    { timestamp: 102, id: 2n ** 64n - 1n, size: 0, next: 2n ** 63n - 1n },
    { timestamp: 103, id: 42n, size: 512, next: -1n },
  ];
  const expected = [
    { key: '42', sizeBytes: 512, timestamp: 100, nextAccessVtime: 3 },
    { key: '1152921504606846983', sizeBytes: 4096, timestamp: 101, nextAccessVtime: -1 },
    { key: '18446744073709551615', sizeBytes: 0, timestamp: 102, nextAccessVtime: -1 },
    { key: '42', sizeBytes: 512, timestamp: 103, nextAccessVtime: -1 },
  ];

  it('decodes records, with exact keys for ids above 2^53', async () => {
    const path = await fixture('tiny.oracleGeneral', oracleBytes(records));
    expect(await traceInfo(path)).toEqual({
      format: 'oracle',
      gzip: false,
      sized: true,
      hasTimestamps: true,
    });
    expect(await readAll(path)).toEqual(expected);
    expect(expected[1]?.key).toBe((2n ** 60n + 7n).toString());
  });

  it('reads gzipped records split across tiny buffers, found by content or extension', async () => {
    const gz = await fixture('tiny.bin.gz', oracleBytes(records), true);
    expect(await traceInfo(gz)).toMatchObject({ format: 'oracle', gzip: true });
    expect(await readAll(gz, { readBufferBytes: 5 })).toEqual(expected);
    // No telling extension: the NUL bytes of the binary give it away.
    const bare = await fixture('tiny.trace', oracleBytes(records));
    expect(await traceInfo(bare)).toMatchObject({ format: 'oracle' });
    expect(await readAll(bare, { readBufferBytes: 13 })).toEqual(expected);
  });

  it('names the byte offset of a truncated record', async () => {
    const path = await fixture('cut.bin', oracleBytes(records).subarray(0, 24 * 3 + 10));
    const err = await readError(path);
    expect(err.code).toBe(ERROR_CODES.TRACE_FORMAT);
    expect(err.details).toEqual({ offset: 72, file: 'cut.bin' });
  });
});

describe('readTrace: explicit format', () => {
  it('overrides detection', async () => {
    // Looks like a key CSV, read as text: the header is just a key.
    const path = await fixture('header-as-key.csv', 'key\na\n');
    expect(keys(await readAll(path, { format: 'text' }))).toEqual(['key', 'a']);
    expect(await traceInfo(path, { format: 'text' })).toMatchObject({ format: 'text' });
    // Oracle bytes with a misleading extension.
    const bin = await fixture(
      'records.csv',
      oracleBytes([{ timestamp: 1, id: 9n, size: 2, next: -1n }]),
    );
    expect(await readAll(bin, { format: 'oracle' })).toEqual([
      { key: '9', sizeBytes: 2, timestamp: 1, nextAccessVtime: -1 },
    ]);
  });

  it('rejects csv without a header naming key, at line 1', async () => {
    const path = await fixture('no-header.txt', 'a\nb\n');
    for (const run of [
      () => readAll(path, { format: 'csv' }),
      () => traceInfo(path, { format: 'csv' }),
    ]) {
      await expect(run()).rejects.toMatchObject({
        code: ERROR_CODES.TRACE_FORMAT,
        details: { line: 1, file: 'no-header.txt' },
      });
    }
  });
});
