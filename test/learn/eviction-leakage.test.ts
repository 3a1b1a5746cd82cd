import { describe, expect, it } from 'vitest';

import { LearnedPolicy } from '../../src/learn/eviction/learned-policy.js';
import { loadTf } from '../../src/learn/tf.js';

import { FAST_SETTINGS, guarded, syntheticTrace } from './eviction-helpers.js';

describe('LearnedPolicy honest online protocol', () => {
  // Default (probationary FIFO in front of the main cache, tabular agent), without probation, and
  // with the network agent.
  it.each([
    ['with probation', {}],
    ['without probation', { probationFraction: 0 }],
    ['network agent', { agentKind: 'network' as const }],
  ])(
    'gives identical decisions and hits on a prefix replayed alone and within the full trace (%s)',
    async (_name, extra) => {
      const { tf } = await loadTf();
      const trace = syntheticTrace(16_000);
      const n = 9_000;
      const run = (requests: number) => {
        const p = new LearnedPolicy({
          capacity: 80,
          unit: 'objects',
          seed: 3,
          tf,
          settings: { ...FAST_SETTINGS, ...extra },
        });
        const hits: boolean[] = [];
        const evictions: number[] = [];
        let atN: { resident: string[]; retrains: number; model: number } | undefined;
        for (let i = 0; i < requests; i++) {
          // A policy that reads the future throws here.
          hits.push(p.access(guarded(trace[i]!)));
          evictions.push(p.evictions);
          if (i === n - 1) {
            const keys = new Set(trace.slice(0, n).map((r) => r.key));
            atN = {
              resident: [...keys].filter((k) => p.has(k)).sort(),
              retrains: p.retrains,
              // Learned decisions: victims chosen by the agent + probation exits judged by the predictor.
              model: p.modelEvictions + p.admissionDecisions,
            };
          }
        }
        p.dispose();
        return { hits: hits.slice(0, n), evictions: evictions.slice(0, n), atN };
      };
      const prefix = run(n);
      const full = run(trace.length);
      // The learned model did decide within the prefix (otherwise the test proves little).
      expect(prefix.atN?.retrains).toBeGreaterThanOrEqual(2);
      expect(prefix.atN?.model).toBeGreaterThan(1000);
      expect(full.hits).toEqual(prefix.hits);
      expect(full.evictions).toEqual(prefix.evictions);
      expect(full.atN).toEqual(prefix.atN);
    },
  );
});
