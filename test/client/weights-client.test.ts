import { describe, expect, it } from 'vitest';
import { WeightsClient } from '../../src/client/weights-client.js';
import { clientHooks, policyDocument, T0 } from '../helpers/policy-documents.js';

function doc(
  version: number,
  generatedAt: number,
  weights: Record<string, number>,
  ttlMs = 30_000,
) {
  const entries = Object.entries(weights).map(([backend, weight]) => ({
    backend,
    weight,
    haproxyWeight: Math.round(256 * weight),
  }));
  return policyDocument('weights', 'web', 'inverse-latency', {
    version,
    generatedAt,
    ttlMs,
    entries,
  });
}

function client(clock: { now: number }, errors: string[] = []) {
  return new WeightsClient({ pool: 'web', clientId: 'svc-1', ...clientHooks(clock, errors) });
}

const counts = (c: WeightsClient, n: number) => {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const b = c.pick()!;
    out[b] = (out[b] ?? 0) + 1;
  }
  return out;
};

describe('WeightsClient', () => {
  it('waits for a document, then balances by its weights', () => {
    const clock = { now: T0 };
    const c = client(clock);
    expect(c.pick()).toBeUndefined();
    expect(c.status().state).toBe('waiting');
    expect(c.applyDocument(doc(1, T0, { a: 5 / 7, b: 1 / 7, c: 1 / 7 }))).toBe(true);
    expect(Array.from({ length: 7 }, () => c.pick()).join(' ')).toBe('a a b a c a a');
    expect(c.status()).toMatchObject({ state: 'live', version: 1, expiresAt: T0 + 30_000 });
  });

  it('falls back to equal weights once the document is past its TTL, and says so', () => {
    const clock = { now: T0 };
    const c = client(clock);
    c.applyDocument(doc(1, T0, { a: 0.8, b: 0.1, c: 0.1 }));
    expect(counts(c, 100)).toEqual({ a: 80, b: 10, c: 10 });
    clock.now = T0 + 30_001;
    const s = c.status();
    expect(s.state).toBe('stale');
    expect(s.detail).toMatch(/stale.*equal weights/);
    expect(s.backends.map((b) => b.weight)).toEqual([1, 1, 1]);
    expect(counts(c, 99)).toEqual({ a: 33, b: 33, c: 33 });
    // A fresh version restores the weights.
    c.applyDocument(doc(2, clock.now, { a: 0.5, b: 0.5, c: 0 }));
    expect(c.status().state).toBe('live');
    expect(counts(c, 100)).toEqual({ a: 50, b: 50 });
  });

  it('keeps the last known good on a malformed, older or stale-on-arrival document', () => {
    const clock = { now: T0 };
    const errors: string[] = [];
    const c = client(clock, errors);
    c.applyDocument(doc(3, T0, { a: 1, b: 0 }));
    expect(c.applyDocument({ kind: 'weights', version: 4 })).toBe(false);
    expect(c.applyDocument(doc(2, T0, { b: 1 }))).toBe(false);
    expect(c.applyDocument(doc(5, T0 - 60_000, { b: 1 }))).toBe(false);
    expect(c.applyDocument('not json')).toBe(false);
    expect(c.status()).toMatchObject({ state: 'live', version: 3, rejected: 4 });
    expect(counts(c, 10)).toEqual({ a: 10 });
    expect(errors).toHaveLength(4);
  });

  it('with only a stale document, balances equally over its backends', () => {
    const clock = { now: T0 };
    const c = client(clock);
    expect(c.applyDocument(doc(9, T0 - 60_000, { a: 0.9, b: 0.1 }))).toBe(false);
    expect(c.status().state).toBe('stale');
    expect(counts(c, 10)).toEqual({ a: 5, b: 5 });
    expect(c.applyDocument(doc(1, T0, { a: 0.9, b: 0.1 }))).toBe(true);
    expect(c.status()).toMatchObject({ state: 'live', version: 1 });
  });

  it('P2C counts calls in flight until released', () => {
    const clock = { now: T0 };
    const c = new WeightsClient({
      pool: 'web',
      clientId: 'x',
      picker: 'p2c',
      now: () => clock.now,
    });
    c.applyDocument(doc(1, T0, { a: 0.5, b: 0.5 }));
    const first = c.acquire()!;
    const second = c.acquire()!;
    // With one call in flight on the first, the equal-weight other backend is preferred.
    expect(second.backend).not.toBe(first.backend);
    expect(c.inflight(first.backend)).toBe(1);
    first.release();
    first.release();
    expect(c.inflight(first.backend)).toBe(0);
  });
});

describe('WeightsClient robustness', () => {
  it('rejects a null entry instead of throwing', () => {
    const errors: Error[] = [];
    const c = new WeightsClient({ pool: 'p', clientId: 'c', onError: (e) => errors.push(e) });
    const now = Date.now();
    expect(
      c.applyDocument({
        kind: 'weights',
        version: 1,
        generatedAt: now,
        ttlMs: 1000,
        entries: [null],
      }),
    ).toBe(false);
    expect(errors[0]?.message).toContain('not an object');
  });

  it('picks among a stale arrival once it is kept, even after an early pick()', () => {
    const c = new WeightsClient({ pool: 'p', clientId: 'c', onError: () => undefined });
    expect(c.pick()).toBeUndefined();
    const entries = [
      { backend: 'a', weight: 1 },
      { backend: 'b', weight: 0 },
    ];
    c.applyDocument({ kind: 'weights', version: 1, generatedAt: 0, ttlMs: 1000, entries });
    expect(['a', 'b']).toContain(c.pick());
  });
});
