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

/** What a weigher may know besides the backends' features. Every field is optional. */
export interface WeighContext {
  readonly pool?: string;
  /** Event time (epoch ms) of the decision: the feature store clock. */
  readonly nowMs?: number;
  /** The pool's forecast request rate (requests/s) for the coming steps, when one exists. */
  readonly forecast?: {
    readonly p50: readonly number[];
    readonly p90: readonly number[];
    /** The last complete step left its interval (see forecast/service.ts). */
    readonly spike: boolean;
  };
  /** The shares published last for this pool (backend → weight), to limit how fast they move. */
  readonly previous?: ReadonlyMap<string, number>;
  /** Backend → fraction (0..1) of the pool's hot keys its cache already holds. */
  readonly affinity?: ReadonlyMap<string, number>;
}

export interface Weigher {
  readonly id: string;
  readonly model: { readonly id: string; readonly version: string };
  /** One decision per backend, in the order given. */
  weigh(backends: readonly BackendFeatures[], context?: WeighContext): WeightDecision[];
}

export const weighers = new Registry<Weigher>('weigher');
