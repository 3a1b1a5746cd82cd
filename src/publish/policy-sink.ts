/**
 * @module publish/policy-sink
 * Where documents go. The NATS KV sink is what caches and proxies watch; the memory sink serves
 * embedded mode and tests. Later writers (Redis sorted sets, HAProxy, Envoy EDS) are more sinks.
 */
import type { PolicyDocument } from './document.js';

export interface PolicySink {
  readonly kind: string;
  put(key: string, doc: PolicyDocument): Promise<void>;
  get(key: string): Promise<PolicyDocument | undefined>;
}

export class MemoryPolicySink implements PolicySink {
  readonly kind = 'memory';
  readonly docs = new Map<string, PolicyDocument>();

  put(key: string, doc: PolicyDocument): Promise<void> {
    this.docs.set(key, doc);
    return Promise.resolve();
  }

  get(key: string): Promise<PolicyDocument | undefined> {
    return Promise.resolve(this.docs.get(key));
  }
}
