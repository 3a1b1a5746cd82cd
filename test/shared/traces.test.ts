/**
 * Checks on the shared public data beside the checkout (../shared/data, as in CI). Run by
 * `npm run check:shared`, not by `npm test`, which stays self-contained.
 */
import { describe, expect, it } from 'vitest';
import type { ReadTraceOptions, TraceRequest } from '../../src/sim/trace-reader.js';
import { readTrace, traceInfo } from '../../src/sim/trace-reader.js';
import { sharedTrace } from './helpers.js';

async function readAll(path: string, opts?: ReadTraceOptions): Promise<TraceRequest[]> {
  const out: TraceRequest[] = [];
  for await (const chunk of readTrace(path, opts)) out.push(...chunk);
  return out;
}

const keys = (rs: readonly TraceRequest[]) => rs.map((r) => r.key);

describe('readTrace: shared public traces', () => {
  it('web07.csv.gz has 76,118 requests over 20,484 keys', async () => {
    const path = sharedTrace('web07.csv.gz');
    expect(await traceInfo(path)).toEqual({
      format: 'csv',
      gzip: true,
      sized: false,
      hasTimestamps: false,
    });
    let requests = 0;
    const unique = new Set<string>();
    for await (const chunk of readTrace(path)) {
      requests += chunk.length;
      for (const r of chunk) unique.add(r.key);
    }
    expect(requests).toBe(76_118);
    expect(unique.size).toBe(20_484);
  });

  it('cloudphysics-io: the CSV and oracleGeneral copies agree request by request', async () => {
    const csv = await readAll(sharedTrace('cloudphysics-io.csv.gz'));
    const oracle = await readAll(sharedTrace('cloudphysics-io.oracleGeneral.bin'));
    expect(csv).toHaveLength(113_872);
    expect(oracle).toHaveLength(113_872);
    let mismatches = 0;
    csv.forEach((r, i) => {
      const o = oracle[i];
      if (o?.key !== r.key || o.sizeBytes !== r.sizeBytes || o.timestamp !== r.timestamp)
        mismatches++;
    });
    expect(mismatches).toBe(0);
    expect(new Set(keys(oracle)).size).toBe(48_974);
    // next_access_vtime is 1-based: it points at 0-based position nextAccessVtime - 1.
    const nextSeen = new Map<string, number>();
    let wrong = 0;
    for (let i = oracle.length - 1; i >= 0; i--) {
      const r = oracle[i] as TraceRequest;
      const next = nextSeen.get(r.key);
      if (r.nextAccessVtime !== (next === undefined ? -1 : next + 1)) wrong++;
      nextSeen.set(r.key, i);
    }
    expect(wrong).toBe(0);
  });
});
