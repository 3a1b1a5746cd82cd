import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isPrescientError } from '../../src/errors.js';
import { parseSeries, parseTimestampMs, readSeries } from '../../src/sim/series-reader.js';

function failure(text: string): { code: string; line: unknown } {
  try {
    parseSeries(text, 's');
  } catch (err) {
    if (!isPrescientError(err)) throw err;
    return { code: err.code, line: (err.details as { line?: number }).line };
  }
  throw new Error('expected a SeriesFormatError');
}

describe('parseSeries', () => {
  it('reads "YYYY-MM-DD HH:MM:SS" as UTC with a header, and infers step and season', () => {
    const s = parseSeries(
      'timestamp,value\n2014-07-01 00:00:00,10\n2014-07-01 00:30:00,11.5\n2014-07-01 01:00:00,9\n',
      'taxi',
    );
    expect(s.name).toBe('taxi');
    expect(Array.from(s.values)).toEqual([10, 11.5, 9]);
    expect(s.info).toEqual({ stepSec: 1800, startMs: Date.UTC(2014, 6, 1), season: 48 });
  });

  it('reads ISO 8601 (with and without a zone) and epoch seconds, no header, CRLF', () => {
    const iso = parseSeries(
      '2024-01-01T00:00:00Z,1\r\n2024-01-01T01:00:00+00:00,2\r\n2024-01-01T02:00:00,3',
      'x',
    );
    expect(iso.info).toEqual({ stepSec: 3600, startMs: Date.UTC(2024, 0, 1), season: 24 });
    expect(iso.values.length).toBe(3);
    const epoch = parseSeries('1700000000,5\n1700000300,6\n\n1700000600,7\n', 'e');
    expect(epoch.info).toEqual({ stepSec: 300, startMs: 1_700_000_000_000, season: 288 });
    expect(Array.from(epoch.values)).toEqual([5, 6, 7]);
    expect(parseTimestampMs('2024-01-01T02:00:00+02:00')).toBe(Date.UTC(2024, 0, 1));
  });

  it('accepts small jitter; a step that does not divide a day has no season', () => {
    const s = parseSeries('0,1\n7,2\n14,3\n21.5,4\n28,5\n', 'j');
    expect(s.info.stepSec).toBe(7);
    expect(s.info.season).toBe(0);
  });

  it('rejects holes, bad values, bad timestamps and disorder, naming the line', () => {
    expect(failure('timestamp,value\n0,1\n60,2\n120,3\n600,4\n660,5\n')).toEqual({
      code: ERROR_CODES.SERIES_FORMAT,
      line: 5,
    });
    expect(failure('timestamp,value\n0,1\n60,abc\n')).toEqual({
      code: ERROR_CODES.SERIES_FORMAT,
      line: 3,
    });
    expect(failure('0,1\nyesterday,2\n')).toEqual({ code: ERROR_CODES.SERIES_FORMAT, line: 2 });
    expect(failure('0,1\n60,2\n60,3\n')).toEqual({ code: ERROR_CODES.SERIES_FORMAT, line: 3 });
    expect(failure('0,1\n60\n')).toEqual({ code: ERROR_CODES.SERIES_FORMAT, line: 2 });
    expect(failure('timestamp,value\n0,1\n')).toMatchObject({ code: ERROR_CODES.SERIES_FORMAT });
  });
});

describe('readSeries', () => {
  it('reads a file and names the series after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'series-'));
    const path = join(dir, 'pool_a_5min.csv');
    writeFileSync(path, 'timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,2\n');
    const s = await readSeries(path);
    expect(s.name).toBe('pool_a_5min');
    expect(s.info.season).toBe(288);
  });
});
