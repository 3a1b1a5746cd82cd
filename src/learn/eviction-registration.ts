/**
 * @module learn/eviction-registration
 * Registers the learned eviction policy ({@link LearnedPolicy}, id `learned`) in
 * `evictionPolicies`. Policies are created synchronously but tfjs loads asynchronously, so this
 * module awaits `loadTf()` at its top level: `import './learn/eviction-registration.js'` (as
 * `prescient bench eviction` does) finishes only once `learned` is registered. Code that cannot
 * rely on module evaluation order can `await registerLearnedEviction()` instead (idempotent).
 */

import { evictionPolicies } from '../policy/eviction-policy.js';

import { LearnedPolicy } from './eviction/learned-policy.js';
import { loadTf } from './tf.js';

export const LEARNED_POLICY_ID = 'learned';

let registering: Promise<void> | undefined;

/** Loads tfjs (once per process) and registers `learned`; safe to call many times. */
export function registerLearnedEviction(): Promise<void> {
  registering ??= loadTf().then(({ tf }) => {
    if (evictionPolicies.ids().includes(LEARNED_POLICY_ID)) return;
    evictionPolicies.register(LEARNED_POLICY_ID, (opts) => new LearnedPolicy({ ...opts, tf }));
  });
  return registering;
}

await registerLearnedEviction();
