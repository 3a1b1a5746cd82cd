/**
 * @module policy/builtin
 * Registers the built-in eviction policies in `evictionPolicies` (each file registers itself on
 * import). The learned policy registers from src/learn/eviction-registration.ts, imported by the
 * composition root (the bench command).
 */
import './lru.js';
import './fifo.js';
import './lfu.js';
import './arc.js';
import './sieve.js';
import './s3fifo.js';
import './wtinylfu.js';
import './redis-lru.js';
import './belady.js';
