/**
 * @module learn/eviction-registration
 * Registers the learned eviction policy ({@link LearnedPolicy}, id `learned`) in
 * `evictionPolicies`, with its future-reading ablation ceilings (`learned-oracle-victim`,
 * `learned-oracle-admission`, `learned-oracle-1t`, `learned-oracle-4t`: eviction/ablation.ts),
 * which the bench runs only when named. Policies are created synchronously but tfjs loads
 * asynchronously, so this module awaits `loadTf()` at its top level:
 * `import './learn/eviction-registration.js'` (as `prescient bench eviction` does) finishes only
 * once `learned` is registered. Code that cannot rely on module evaluation order can
 * `await registerLearnedEviction()` instead (idempotent).
 */

import { evictionPolicies } from '../policy/eviction-policy.js';

import {
  ORACLE_ADMISSION_ID,
  ORACLE_LABEL_IDS,
  ORACLE_VICTIM_ID,
  OracleAdmissionAblation,
  OracleLabelAblation,
  OracleVictimAblation,
} from './eviction/ablation.js';
import { LearnedPolicy } from './eviction/learned-policy.js';
import { loadTf } from './tf.js';

export const LEARNED_POLICY_ID = 'learned';

let registering: Promise<void> | undefined;

/** Loads tfjs (once per process) and registers `learned`; safe to call many times. */
export function registerLearnedEviction(): Promise<void> {
  registering ??= loadTf().then(({ tf }) => {
    if (evictionPolicies.ids().includes(LEARNED_POLICY_ID)) return;
    evictionPolicies.register(LEARNED_POLICY_ID, (opts) => new LearnedPolicy({ ...opts, tf }));
    // Ceilings that read the future (bench only, run when named): see eviction/ablation.ts.
    evictionPolicies.register(ORACLE_VICTIM_ID, (o) => new OracleVictimAblation({ ...o, tf }));
    evictionPolicies.register(
      ORACLE_ADMISSION_ID,
      (o) => new OracleAdmissionAblation({ ...o, tf }),
    );
    for (const h of [1, 4] as const) {
      evictionPolicies.register(
        ORACLE_LABEL_IDS[h],
        (o) => new OracleLabelAblation({ ...o, tf }, h),
      );
    }
  });
  return registering;
}

await registerLearnedEviction();
