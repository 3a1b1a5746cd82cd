/**
 * @module policy/fifo
 * First in, first out: evict the object admitted longest ago; hits change nothing. The simplest
 * queue (Belady, "A study of replacement algorithms for a virtual-storage computer", IBM Systems
 * Journal 1966, studies it as the baseline FIFO). Same structure as {@link LruPolicy}, minus the
 * move on hit.
 */
import { evictionPolicies, type PolicyOptions } from './eviction-policy.js';
import { LruPolicy } from './lru.js';

export class FifoPolicy extends LruPolicy {
  override readonly id = 'fifo';

  constructor(o: PolicyOptions) {
    super(o);
  }

  protected override onHit(): void {
    // FIFO order ignores hits.
  }
}

evictionPolicies.register('fifo', (o) => new FifoPolicy(o));
