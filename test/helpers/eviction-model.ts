/** Hand-made learned eviction models for tests: Q(evict) driven by one chosen feature. */
import { AGENT_FEATURES, BASE_FEATURES } from '../../src/learn/eviction/features.js';
import {
  makeMlpWeights,
  type EvictionModel,
  type MlpWeights,
} from '../../src/learn/eviction/scorer.js';
import {
  ACCESS_BINS,
  cellOf,
  GAP_BINS,
  IDLE_BINS,
  VICTIM_TABLE_CELLS,
} from '../../src/learn/eviction/victim-table.js';
import type { LoadedEvictionModel } from '../../src/learn/model-files.js';

const H = 4;

function net(inputs: number, feature: number, gain: number): MlpWeights {
  const w1 = new Float64Array(inputs * H);
  // Hidden unit 0 reads `feature`; the others a little of everything (non-zero attributions).
  w1[feature * H] = gain;
  for (let f = 0; f < inputs; f++) w1[f * H + 1] = 0.01 * (f + 1);
  return makeMlpWeights({
    inputs,
    hidden: H,
    mean: new Float64Array(inputs),
    std: new Float64Array(inputs).fill(1),
    w1,
    b1: new Float64Array(H),
    w2: Float64Array.from([1, 0.1, 0, 0]),
    b2: 0,
  });
}

/** Q(evict) increases with base feature `feature` (0 = idle time, 9 = log size). */
export function modelFavouring(feature: number, version = 1): EvictionModel {
  return {
    predictor: net(BASE_FEATURES, feature, 0.5),
    agent: net(AGENT_FEATURES, feature, 0.5),
    version,
  };
}

export function loadedModel(feature: number, timeScaleMs = 1000): LoadedEvictionModel {
  return {
    version: `test@1`,
    node: 'test',
    model: modelFavouring(feature),
    timeScaleMs,
    missingGapT: 16,
    metadata: undefined,
  };
}

/**
 * A tabular-agent model whose value grows with the idle bin and falls with the access-count bin
 * (gap1 plays no part): a long-idle key seen once is evicted first.
 */
export function tableModel(version = 1): EvictionModel {
  const logits = new Float64Array(VICTIM_TABLE_CELLS);
  for (let i = 0; i < IDLE_BINS; i++) {
    for (let a = 0; a < ACCESS_BINS; a++) {
      for (let g = 0; g < GAP_BINS; g++) logits[cellOf([i, a, g])] = 0.5 * i - 0.3 * a;
    }
  }
  return {
    predictor: net(BASE_FEATURES, 0, 0.5),
    victimTable: { horizonT: 1, logits, baselineCell: cellOf([2, 1, 0]) },
    version,
  };
}
