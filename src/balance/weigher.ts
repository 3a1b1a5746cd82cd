/**
 * @module balance/weigher
 * The contract of weighers: from a pool's backend features, each backend's share of traffic.
 * One file per algorithm, a registry, and one shared contract test
 * (`test/balance/weigher.contract.test.ts`): shares are finite, in [0, 1], sum to 1 when any
 * backend is eligible, and every share carries an explanation.
 */
import type { WeightDecision } from '../decisions.js';
import type { BackendFeatures } from '../features/types.js';
import { Registry } from '../registry.js';

export interface Weigher {
  readonly id: string;
  readonly model: { readonly id: string; readonly version: string };
  /** One decision per backend, in the order given. */
  weigh(backends: readonly BackendFeatures[]): WeightDecision[];
}

export const weighers = new Registry<Weigher>('weigher');
