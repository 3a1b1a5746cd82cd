import { describe, expect, it } from 'vitest';
import { ControlPlane, MAX_CLIENT_ACKS } from '../../src/control/control-plane.js';
import { MemoryControlStore } from '../../src/state/control-store.js';

describe('ControlPlane client acks', () => {
  it('remembers at most MAX_CLIENT_ACKS, forgetting the least recently acked', async () => {
    const store = new MemoryControlStore();
    const control = new ControlPlane({ configuredTokens: [], maxOverrideTtlSec: 60 });
    await control.attach(store);
    for (let i = 0; i <= MAX_CLIENT_ACKS; i++) {
      await control.recordAck({
        client: `c${i}`,
        kind: 'weights',
        target: 'api',
        version: 1,
        appliedAt: i,
        receivedAt: i,
      });
    }
    const clients = control.clients(() => undefined, 1e12);
    expect(clients).toHaveLength(MAX_CLIENT_ACKS);
    expect(clients.some((c) => c.client === 'c0')).toBe(false);
    expect(await store.loadAcks()).toHaveLength(MAX_CLIENT_ACKS);
  });
});
