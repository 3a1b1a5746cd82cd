/**
 * The learned policy's ablation ceilings (src/learn/eviction/ablation.ts): each replaces one
 * learned decision by the right answer, read from the future; `learned` itself is untouched.
 */
import { describe, expect, it } from 'vitest';
import {
  ORACLE_ADMISSION_HORIZON_T,
  OracleAdmissionAblation,
  OracleLabelAblation,
  OracleVictimAblation,
} from '../../src/learn/eviction/ablation.js';
import { loadTf } from '../../src/learn/tf.js';
import { loadTrace, simulateLoaded } from '../../src/sim/cache-sim.js';
import { LearnedPolicy } from '../../src/learn/eviction/learned-policy.js';
import { FAST_SETTINGS, syntheticTrace } from './eviction-helpers.js';

const { tf } = await loadTf({ log: () => {} });

class VictimProbe extends OracleVictimAblation {
  pick(keys: string[]): number | undefined {
    return this.victimOverride(keys.map((key) => ({ key })));
  }
}

/** Scores candidate i with `values[i]` instead of the agent's value. */
class LabelProbe extends OracleLabelAblation {
  values: number[] = [];
  protected override candidateValue(i: number): number {
    return this.values[i]!;
  }
  pick(keys: string[], values: number[]): number | undefined {
    this.values = values;
    return this.victimOverride(keys.map((key) => ({ key })));
  }
}

class AdmissionProbe extends OracleAdmissionAblation {
  admits(key: string): boolean | undefined {
    return this.admissionOverride(key);
  }
}

describe('learned ablation ceilings', () => {
  it('oracle victim: the candidate whose next request is farthest (never requested = farthest)', () => {
    const p = new VictimProbe({ tf, capacity: 10, unit: 'objects' });
    p.access({ key: 'a', sizeBytes: 1, vtime: 0, nextAccessVtime: 40 });
    p.access({ key: 'b', sizeBytes: 1, vtime: 1, nextAccessVtime: 90 });
    p.access({ key: 'c', sizeBytes: 1, vtime: 2, nextAccessVtime: -1 });
    expect(p.pick(['a', 'b'])).toBe(1);
    expect(p.pick(['a', 'c', 'b'])).toBe(1);
    p.dispose();
  });

  it('oracle labels: the most valued candidate not back within the horizon, else the farthest', () => {
    // Unit size: T = capacity = 100 requests; at vtime 3, 1 T reaches vtime 103, 4 T vtime 403.
    const at = (h: 1 | 4) => {
      const p = new LabelProbe({ tf, capacity: 100, unit: 'objects' }, h);
      p.access({ key: 'soon', sizeBytes: 1, vtime: 0, nextAccessVtime: 50 });
      p.access({ key: 'mid', sizeBytes: 1, vtime: 1, nextAccessVtime: 300 });
      p.access({ key: 'late', sizeBytes: 1, vtime: 2, nextAccessVtime: 900 });
      p.access({ key: 'never', sizeBytes: 1, vtime: 3, nextAccessVtime: -1 });
      return p;
    };
    const one = at(1);
    expect(one.id).toBe('learned-oracle-1t');
    // 'soon' is back within 1 T: never chosen, however valued; among the rest the value decides.
    expect(one.pick(['soon', 'mid', 'late'], [9, 5, 1])).toBe(1);
    expect(one.pick(['soon', 'mid', 'late'], [9, 1, 5])).toBe(2);
    expect(one.pick(['soon', 'soon'], [1, 2])).toBe(0); // all back: the farthest (the first)
    const four = at(4);
    expect(four.id).toBe('learned-oracle-4t');
    expect(four.pick(['soon', 'mid', 'late', 'never'], [9, 8, 1, 2])).toBe(3);
    expect(four.pick(['soon', 'mid'], [1, 2])).toBe(1); // both back within 4 T: the farthest
    one.dispose();
    four.dispose();
  });

  it(`oracle admission: promoted iff requested again within ${ORACLE_ADMISSION_HORIZON_T} T`, () => {
    // Unit size: T = capacity = 100 requests, so the horizon is 400 requests from now (vtime 2).
    const p = new AdmissionProbe({ tf, capacity: 100, unit: 'objects' });
    p.access({ key: 'soon', sizeBytes: 1, vtime: 0, nextAccessVtime: 402 });
    p.access({ key: 'late', sizeBytes: 1, vtime: 1, nextAccessVtime: 403 });
    p.access({ key: 'never', sizeBytes: 1, vtime: 2, nextAccessVtime: -1 });
    expect([p.admits('soon'), p.admits('late'), p.admits('never')]).toEqual([true, false, false]);
    p.dispose();
  });

  it('read the future, refuse a request without it, and beat the learned policy they ablate', async () => {
    const trace = syntheticTrace(20_000, 3);
    const loaded = await loadTrace([trace]);
    const opts = { tf, capacity: 120, unit: 'objects' as const, settings: FAST_SETTINGS };
    const learned = new LearnedPolicy(opts);
    const victim = new OracleVictimAblation(opts);
    const admission = new OracleAdmissionAblation(opts);
    const labels = new OracleLabelAblation(opts, 1);
    const all = [learned, victim, admission, labels];
    expect(all.map((p) => p.usesFuture)).toEqual([false, true, true, true]);
    // Refused before any state changes, so `victim` replays from scratch below.
    expect(() => victim.access({ key: 'x', sizeBytes: 1, vtime: 0 })).toThrow(/nextAccessVtime/);
    const h = all.map((p) => simulateLoaded(loaded, p).hitRatio);
    expect(h[1]).toBeGreaterThan(h[0]!);
    expect(h[2]).toBeGreaterThan(h[0]!);
    expect(h[3]).toBeGreaterThan(h[0]!);
    for (const p of all) p.dispose();
  });
});
