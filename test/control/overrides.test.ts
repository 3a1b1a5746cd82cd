import { describe, expect, it } from 'vitest';
import {
  makeOverride,
  OverrideBook,
  overrideEviction,
  overrideWeights,
  validateOverride,
  type Override,
  type OverrideRequest,
} from '../../src/control/overrides.js';
import type { EvictionDecision, WeightDecision } from '../../src/decisions.js';

const LIMITS = { maxTtlSec: 3600 };
let seq = 0;
function ov(
  req: Partial<OverrideRequest> & Pick<OverrideRequest, 'action'>,
  nowMs = 1000,
): Override {
  const full = { reason: 'test', ttlSec: 60, ...req };
  validateOverride(full, LIMITS);
  return makeOverride(full, {
    id: `ovr_${String(seq++).padStart(16, '0')}`,
    actor: 'alice',
    nowMs,
  });
}

const victim = (key: string, score: number, reason: EvictionDecision['reason'] = 'MODEL') =>
  ({
    key,
    score,
    reason,
    text: `model ${key}`,
    attributions: { x: score },
    inputs: {},
  }) as EvictionDecision;
const share = (backend: string, weight: number): WeightDecision => ({
  backend,
  weight,
  reason: 'MODEL',
  text: `model ${backend}`,
  attributions: {},
  inputs: {},
});

describe('validateOverride', () => {
  const ok: OverrideRequest[] = [
    { action: 'pin', node: 'n1', key: 'user:1', reason: 'vip', ttlSec: 60 },
    { action: 'pin', node: 'n1', prefix: 'user:', reason: 'vip', ttlSec: 60 },
    { action: 'evict-first', node: 'n1', key: 'k', reason: 'stale', ttlSec: 1 },
    { action: 'set-weight', pool: 'api', backend: 'b1', weight: 0.5, reason: 'r', ttlSec: 60 },
    { action: 'scale-weight', pool: 'api', backend: 'b1', factor: 2, reason: 'r', ttlSec: 60 },
    { action: 'drain', pool: 'api.v2', backend: 'b1', reason: 'r', ttlSec: 3600 },
    { action: 'freeze', node: 'n1', reason: 'r', ttlSec: 60 },
    { action: 'freeze', pool: 'api', reason: 'r', ttlSec: 60 },
    { action: 'enforce', pool: 'api', percent: 0, reason: 'r', ttlSec: 60 },
  ];
  it.each(ok.map((r) => [r.action, r]))('accepts %s', (_a, r) => {
    expect(() => validateOverride(r, LIMITS)).not.toThrow();
  });

  const bad: [string, Partial<OverrideRequest>, string][] = [
    ['pin without key or prefix', { action: 'pin', node: 'n1' }, 'key|prefix'],
    [
      'pin with both key and prefix',
      { action: 'pin', node: 'n1', key: 'a', prefix: 'a' },
      'key|prefix',
    ],
    ['pin without node', { action: 'pin', key: 'a' }, 'node'],
    ['drain with a weight', { action: 'drain', pool: 'p', backend: 'b', weight: 0.2 }, 'weight'],
    [
      'set-weight above 1',
      { action: 'set-weight', pool: 'p', backend: 'b', weight: 1.5 },
      'weight',
    ],
    [
      'scale-weight below 0',
      { action: 'scale-weight', pool: 'p', backend: 'b', factor: -1 },
      'factor',
    ],
    ['enforce over 100', { action: 'enforce', node: 'n', percent: 101 }, 'percent'],
    ['freeze node and pool', { action: 'freeze', node: 'n', pool: 'p' }, 'node|pool'],
    ['bad node name', { action: 'freeze', node: 'a b' }, 'node'],
    ['bad pool name', { action: 'freeze', pool: 'a..b' }, 'pool'],
    ['empty reason', { action: 'freeze', node: 'n', reason: '  ' }, 'reason'],
    ['ttl over the maximum', { action: 'freeze', node: 'n', ttlSec: 3601 }, 'ttlSec'],
    ['ttl of 0', { action: 'freeze', node: 'n', ttlSec: 0 }, 'ttlSec'],
  ];
  it.each(bad)('rejects %s, naming the field', (_name, req, field) => {
    const full = { reason: 'r', ttlSec: 60, ...req } as OverrideRequest;
    expect(() => validateOverride(full, LIMITS)).toThrow(
      expect.objectContaining({ code: 'PRESCIENT_E_OVERRIDE_INVALID', details: { field } }),
    );
  });
});

describe('OverrideBook', () => {
  it('stops applying an override at its expiry and reports it once', () => {
    const book = new OverrideBook();
    const o = ov({ action: 'freeze', node: 'n1', ttlSec: 10 }, 0);
    book.add(o);
    expect(book.active(9_999, 'eviction', 'n1')).toEqual([o]);
    expect(book.active(10_000, 'eviction', 'n1')).toEqual([]);
    expect(book.takeExpired(10_000)).toEqual([o]);
    expect(book.takeExpired(10_000)).toEqual([]);
  });

  it('reports the targets whose overrides changed on reload', () => {
    const book = new OverrideBook();
    const a = ov({ action: 'freeze', node: 'n1' });
    const b = ov({ action: 'drain', pool: 'api', backend: 'b1' });
    expect(book.replace([a, b])).toEqual(new Set(['eviction.n1', 'weights.api']));
    expect(book.replace([a, b])).toEqual(new Set());
    expect(book.replace([a])).toEqual(new Set(['weights.api']));
  });
});

describe('overrideEviction', () => {
  const model = [
    victim('a', 5),
    victim('user:1', 4),
    victim('b', 3),
    victim('user:2', 2),
    victim('c', 1),
  ];
  const lru = [
    victim('c', 9, 'HEURISTIC'),
    victim('b', 8, 'HEURISTIC'),
    victim('a', 7, 'HEURISTIC'),
  ];
  const run = (
    overrides: Override[],
    evictFirst: { key: string; override: Override }[] = [],
    limit = 3,
  ) => overrideEviction({ model, heuristic: () => lru, limit, overrides, evictFirst });

  it('withholds pinned keys (by prefix) and fills the places from further down', () => {
    const pin = ov({ action: 'pin', node: 'n', prefix: 'user:' });
    const r = run([pin]);
    expect(r.entries.map((e) => e.key)).toEqual(['a', 'b', 'c']);
    expect(r.overrides).toEqual([
      expect.objectContaining({ id: pin.id, action: 'pin', affected: 2 }),
    ]);
    expect(r.shadow?.map((e) => e.key)).toEqual(['a', 'user:1', 'b']);
  });

  it('ranks evict-first keys first with reason OVERRIDE, pins winning over them', () => {
    const first = ov({ action: 'evict-first', node: 'n', prefix: 'z' });
    const pin = ov({ action: 'pin', node: 'n', key: 'z2' });
    const r = run(
      [first, pin],
      [
        { key: 'z1', override: first },
        { key: 'z2', override: first },
      ],
    );
    expect(r.entries.map((e) => [e.key, e.reason])).toEqual([
      ['z1', 'OVERRIDE'],
      ['a', 'MODEL'],
      ['user:1', 'MODEL'],
    ]);
    expect(r.entries[0]!.score).toBeGreaterThan(5);
    expect(r.entries[0]!.override).toBe(first.id);
  });

  it('freeze publishes the LRU order with reason OVERRIDE and keeps the model in shadow', () => {
    const freeze = ov({ action: 'freeze', node: 'n' });
    const r = run([freeze]);
    expect(r.enforcement).toBe(0);
    expect(r.entries.map((e) => [e.key, e.reason])).toEqual([
      ['c', 'OVERRIDE'],
      ['b', 'OVERRIDE'],
      ['a', 'OVERRIDE'],
    ]);
    expect(r.shadow?.map((e) => e.key)).toEqual(['a', 'user:1', 'b']);
  });

  it('enforce 50 alternates model and heuristic places', () => {
    const half = ov({ action: 'enforce', node: 'n', percent: 50 });
    const r = run([half], [], 4);
    expect(r.entries.map((e) => [e.key, e.reason])).toEqual([
      ['a', 'MODEL'],
      ['c', 'OVERRIDE'],
      ['user:1', 'MODEL'],
      ['b', 'OVERRIDE'],
    ]);
  });

  it('leaves the decisions alone without overrides', () => {
    const r = run([]);
    expect(r.entries.map((e) => e.key)).toEqual(['a', 'user:1', 'b']);
    expect(r.shadow).toBeNull();
    expect(r.enforcement).toBe(100);
  });
});

describe('overrideWeights', () => {
  const model = [share('b0', 0.5), share('b1', 0.3), share('b2', 0.2)];
  const heuristic = [share('b0', 0.2), share('b1', 0.4), share('b2', 0.4)];
  const run = (overrides: Override[]) =>
    overrideWeights({ model, heuristic: () => heuristic, overrides });
  const weights = (r: ReturnType<typeof run>) => r.entries.map((e) => Number(e.weight.toFixed(6)));

  it('drain gives the backend 0 and the others the rest in proportion', () => {
    const r = run([ov({ action: 'drain', pool: 'p', backend: 'b0' })]);
    expect(weights(r)).toEqual([0, 0.6, 0.4]);
    expect(r.entries[0]!.reason).toBe('OVERRIDE');
    expect(r.entries[1]!.reason).toBe('MODEL');
    expect(r.shadow).toEqual(model);
  });

  it('set-weight fixes the share exactly', () => {
    expect(
      weights(run([ov({ action: 'set-weight', pool: 'p', backend: 'b2', weight: 0.6 })])),
    ).toEqual([0.25, 0.15, 0.6]);
  });

  it('scale-weight multiplies the share and renormalises', () => {
    // b1: 0.3 × 2 = 0.6; total 1.3.
    expect(
      weights(run([ov({ action: 'scale-weight', pool: 'p', backend: 'b1', factor: 2 })])),
    ).toEqual([0.5 / 1.3, 0.6 / 1.3, 0.2 / 1.3].map((w) => Number(w.toFixed(6))));
  });

  it('draining every backend leaves every share at 0', () => {
    const r = run([
      ov({ action: 'drain', pool: 'p', backend: 'b0' }),
      ov({ action: 'drain', pool: 'p', backend: 'b1' }),
      ov({ action: 'drain', pool: 'p', backend: 'b2' }),
    ]);
    expect(weights(r)).toEqual([0, 0, 0]);
  });

  it('enforce 0 (shadow) publishes the heuristic shares and keeps the model in shadow', () => {
    const r = run([ov({ action: 'enforce', pool: 'p', percent: 0 })]);
    expect(weights(r)).toEqual([0.2, 0.4, 0.4]);
    expect(r.entries.every((e) => e.reason === 'OVERRIDE')).toBe(true);
    expect(r.shadow).toEqual(model);
  });

  it('enforce 25 blends a quarter of the model with the heuristic', () => {
    const r = run([ov({ action: 'enforce', pool: 'p', percent: 25 })]);
    expect(weights(r)).toEqual([0.275, 0.375, 0.35]);
  });

  it('a drain on top of a freeze drains the heuristic shares', () => {
    const r = run([
      ov({ action: 'freeze', pool: 'p' }),
      ov({ action: 'drain', pool: 'p', backend: 'b1' }),
    ]);
    expect(weights(r)).toEqual([1 / 3, 0, 2 / 3].map((w) => Number(w.toFixed(6))));
  });
});
