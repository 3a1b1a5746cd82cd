/**
 * @module learn/eviction-registration
 * Registers learned eviction policies in `evictionPolicies` (none yet: the learned policy lands
 * with its own change).
 */
export {};
