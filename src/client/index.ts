/**
 * @module client
 * The SDK caches, proxies and Node services embed: the weights client and its pickers, the
 * victims client (a cache's eviction order), the HAProxy agent, the ack they publish, and
 * `LearnedCache` (an in-process cache evicting with the engine's learned model). See
 * docs/proxies.md.
 */
export { WeightsClient } from './weights-client.js';
export type {
  PickerKind,
  WeightsClientOptions,
  WeightsClientState,
  WeightsClientStatus,
} from './weights-client.js';
export { VictimsClient } from './victims-client.js';
export type {
  EvictionAck,
  VictimSource,
  VictimsClientOptions,
  VictimsClientState,
  VictimsClientStatus,
} from './victims-client.js';
export { SmoothWeightedRoundRobin, WeightedP2C, seededRandom } from './pickers.js';
export type { Picker, WeightedBackend } from './pickers.js';
export { HaproxyAgent, runtimeCommand } from './haproxy-agent.js';
export type { HaproxyAgentOptions, HaproxyAgentStatus } from './haproxy-agent.js';
export { ackSubject } from './ack.js';
export type { WeightsAck } from './ack.js';
export { watchPolicyKey } from './policy-watch.js';
export type { PolicyWatch, PolicyWatchOptions } from './policy-watch.js';
export { LearnedCache } from './learned-cache.js';
export type { LearnedCacheMode, LearnedCacheOptions, LearnedCacheStats } from './learned-cache.js';
