import { describe, expect, it } from 'vitest';

import { LearnedPolicy } from '../../src/learn/eviction/learned-policy.js';
import { loadTf } from '../../src/learn/tf.js';

import { FAST_SETTINGS, syntheticTrace } from './eviction-helpers.js';

describe('learned eviction tensor hygiene', () => {
  it('does not grow tf.memory().numTensors across retrains, and frees everything on dispose', async () => {
    const { tf } = await loadTf();
    const before = tf.memory().numTensors;
    const p = new LearnedPolicy({ capacity: 60, unit: 'objects', tf, settings: FAST_SETTINGS });
    const trace = syntheticTrace(20_000);
    const counts: number[] = [];
    let seen = 0;
    trace.forEach((r) => {
      p.access(r);
      if (p.retrains !== seen) {
        seen = p.retrains;
        counts.push(tf.memory().numTensors);
      }
    });
    expect(counts.length).toBeGreaterThanOrEqual(5);
    // After the first retrain (which creates Adam's slots) the count is flat.
    expect(new Set(counts.slice(1)).size).toBe(1);
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
