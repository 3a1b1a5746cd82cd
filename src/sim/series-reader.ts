/**
 * @module sim/series-reader
 * Reads a regular time series, the input of the forecasters and `prescient bench forecast`.
 *
 * Format: CSV `timestamp,value`, one point a line, an optional header line (any first line whose
 * value column is not a number, e.g. `timestamp,value`). CRLF line ends, blank lines and a missing
 * final newline are accepted. Timestamps may be
 *   - `YYYY-MM-DD HH:MM[:SS[.fff]]`, read as UTC (the shared traffic series use this);
 *   - ISO 8601 (`2024-01-01T00:00:00Z`, `…+02:00`); without a zone designator it is read as UTC;
 *   - epoch seconds (an integer or decimal number).
 * Timestamps must increase. The step is the median difference between consecutive timestamps; a
 * difference more than {@link STEP_JITTER} of the step away from it (a hole, a duplicate, a
 * change of resolution) is an error naming the line: resample or interpolate first. The daily
 * season is 86400 / step when the step divides a day, else 0.
 *
 * Malformed input throws {@link SeriesFormatError} (`PRESCIENT_E_SERIES_FORMAT`) whose details
 * name the `file` and the 1-based `line` (a header is line 1).
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';

import { SeriesFormatError } from '../errors.js';
import type { SeriesInfo } from '../forecast/forecaster.js';

/** Largest accepted deviation of one timestamp difference from the step, as a fraction of it. */
export const STEP_JITTER = 0.1;

/** A series read from a file. */
export interface Series {
  /** File name without directory and extension (`nab_nyc_taxi_30min`). */
  readonly name: string;
  readonly values: Float64Array;
  readonly info: SeriesInfo;
}

const LOCAL_STAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/;
const ISO_STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const EPOCH_SEC = /^[+-]?\d+(?:\.\d+)?$/;

/** Epoch ms of one timestamp field, or NaN when it is in none of the accepted formats. */
export function parseTimestampMs(field: string): number {
  const s = field.trim();
  if (EPOCH_SEC.test(s)) return Number(s) * 1000;
  const local = LOCAL_STAMP.exec(s);
  if (local) return Date.parse(`${local[1]}T${local[2]}Z`);
  if (ISO_STAMP.test(s)) return Date.parse(s);
  return Number.NaN;
}

function isNumber(field: string): boolean {
  const t = field.trim();
  return t !== '' && Number.isFinite(Number(t));
}

/**
 * Parses the text of a `timestamp,value` CSV (see the module header). `name` names the series
 * and, in errors, the file.
 */
export function parseSeries(text: string, name: string, file: string = name): Series {
  const fail = (line: number, what: string): never => {
    throw new SeriesFormatError(`${file} line ${line}: ${what}`, { file, line });
  };
  const stamps: number[] = [];
  const vals: number[] = [];
  const lineOf: number[] = [];
  let first = true;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const cols = raw.split(',');
    const lineNo = i + 1;
    if (cols.length < 2)
      fail(lineNo, `expected "timestamp,value", got ${JSON.stringify(raw.slice(0, 80))}`);
    const [ts, v] = cols as [string, string];
    const header = first && !isNumber(v);
    first = false;
    if (header) continue;
    const ms = parseTimestampMs(ts);
    if (!Number.isFinite(ms))
      fail(
        lineNo,
        `timestamp ${JSON.stringify(ts)} is not "YYYY-MM-DD HH:MM:SS", ISO 8601 or epoch seconds`,
      );
    if (!isNumber(v)) fail(lineNo, `value ${JSON.stringify(v)} is not a finite number`);
    const prev = stamps.at(-1);
    if (prev !== undefined && ms <= prev)
      fail(lineNo, `timestamp ${ts.trim()} does not increase (sort the file, drop duplicates)`);
    stamps.push(ms);
    vals.push(Number(v));
    lineOf.push(lineNo);
  }
  if (stamps.length < 2) fail(lines.length, 'a series needs at least two points');

  const diffs: number[] = [];
  for (let i = 1; i < stamps.length; i++) diffs.push(stamps[i]! - stamps[i - 1]!);
  const sorted = [...diffs].sort((a, b) => a - b);
  const stepMs = sorted[Math.floor((sorted.length - 1) / 2)]!;
  for (let i = 0; i < diffs.length; i++) {
    if (Math.abs(diffs[i]! - stepMs) > STEP_JITTER * stepMs) {
      const line = lineOf[i + 1]!;
      fail(
        line,
        `irregular series: ${diffs[i]! / 1000} s after the previous point, the step is ` +
          `${stepMs / 1000} s (resample or interpolate holes first)`,
      );
    }
  }
  const stepSec = Math.round(stepMs) / 1000;
  const perDay = 86400 / stepSec;
  const season = Number.isInteger(perDay) && perDay >= 2 ? perDay : 0;
  return {
    name,
    values: Float64Array.from(vals),
    info: { stepSec, startMs: stamps[0]!, season },
  };
}

/** Reads a `timestamp,value` CSV file (see the module header). */
export async function readSeries(path: string): Promise<Series> {
  const text = await readFile(path, 'utf8');
  return parseSeries(text, basename(path, extname(path)), path);
}
