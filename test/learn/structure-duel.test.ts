import { describe, expect, it } from 'vitest';

import { LearnedPolicy } from '../../src/learn/eviction/learned-policy.js';
import {
  MiniCache,
  StructureDuel,
  type DuelStructure,
} from '../../src/learn/eviction/structure-duel.js';
import { loadTf } from '../../src/learn/tf.js';
import { LruPolicy } from '../../src/policy/lru.js';
import { fnv1a32 } from '../../src/random.js';

import { FAST_SETTINGS } from './eviction-helpers.js';

const LRU: DuelStructure = { probationFraction: 0, promoteHits: 1, ghostAdmitT: 0 };
const PROBATION: DuelStructure = { probationFraction: 0.1, promoteHits: 1, ghostAdmitT: 4 };

/**
 * Every key is requested exactly twice, `lag` first-requests apart: about 1.5 × lag distinct
 * keys lie between the two requests. With a cache of 100 and lag 30, LRU hits every second
 * request; a 10-slot probationary FIFO has pushed the key out long before.
 */
function pairsTrace(n: number, lag = 30): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    out.push(`p${i}`);
    if (i >= lag) out.push(`p${i - lag}`);
  }
  return out;
}

/** 60 hot keys in a loop, each followed by a key never seen again: LRU of 100 hits nothing. */
function scanLoopTrace(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) out.push(`hot${i % 60}`, `once${i}`);
  return out;
}

function lruHits(trace: readonly string[], capacity: number): boolean[] {
  const lru = new LruPolicy({ capacity, unit: 'objects' });
  return trace.map((key, vtime) => lru.access({ key, sizeBytes: 1, vtime }));
}

describe('structure duel: shadow caches', () => {
  it('a shadow without probation is exact LRU, in objects and in bytes', () => {
    let s = 12345;
    const rand = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 4294967296;
    };
    const keys = Array.from({ length: 5000 }, () => `k${Math.floor(Math.pow(rand(), 2) * 300)}`);
    const mini = new MiniCache(40, LRU, 40);
    expect(keys.map((k) => mini.access(k, 1))).toEqual(lruHits(keys, 40));

    const size = (k: string): number => 1 + (fnv1a32(k) % 9);
    const bytesMini = new MiniCache(200, LRU, 40);
    const bytesLru = new LruPolicy({ capacity: 200, unit: 'bytes' });
    const got = keys.map((k) => bytesMini.access(k, size(k)));
    const want = keys.map((key, vtime) => bytesLru.access({ key, sizeBytes: size(key), vtime }));
    expect(got).toEqual(want);
  });

  it('golden: probationary FIFO, promotion on a hit, recent victims straight to main', () => {
    // Capacity 4, probation 1 slot, T = 4 requests, recent = last request ≤ 2 T = 8 ago.
    const mini = new MiniCache(4, { probationFraction: 0.25, promoteHits: 1, ghostAdmitT: 2 }, 4);
    const trace = 'a b c d a e b c a f e b g c'.split(' ');
    // 1-4: a b c d fill probation. 5: a hit there. 6: e evicts: a (hit) → main, b → victim.
    // 7: b came back 5 ago → main, c evicted from probation. 8: c → main, d evicted. 9: a hit.
    // 10: f → probation, e evicted. 11: e → main, f evicted. 12: b hit (main). 13: g → probation,
    // main is full and probation empty, so LRU's c goes. 14: c → main, g evicted.
    const hits = trace.map((k) => (mini.access(k, 1) ? 1 : 0));
    expect(hits).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0]);
    // LRU on the same trace hits only the two a's.
    expect(lruHits(trace, 4).map((h) => (h ? 1 : 0))).toEqual([
      0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0,
    ]);
  });

  const duel = (rate = 1): StructureDuel =>
    new StructureDuel(
      { capacity: 100, bytes: false, rate, halfLifeT: 16, z: 0, probation: PROBATION },
      100,
    );

  it('LRU takes over where keys come back after the FIFO but within the cache', () => {
    const d = duel();
    const trace = pairsTrace(20_000);
    const lru = lruHits(trace, 100);
    trace.forEach((k) => d.observe(k, 1, false));
    expect(d.lruLeads).toBe(true);
    expect(lru.filter(Boolean).length / trace.length).toBeGreaterThan(0.45);
  });

  it('the probationary structure keeps the lead where one-shot keys flush LRU', () => {
    const d = duel();
    scanLoopTrace(20_000).forEach((k) => d.observe(k, 1, false));
    expect(d.lruLeads).toBe(false);
    expect(d.switches).toBe(0);
  });

  it("credits the real cache's lead over its own structure's shadow (the boost)", () => {
    // First a stretch where the probationary structure leads and the real cache hits every
    // request (about twice its structure's shadow: the boost, measured only while the
    // probationary structure is in use), then pairs interleaved with 20 hot keys: LRU's shadow
    // hits about 75 %, the probationary shadow 50 % (the hot keys). 1.5 < 2, so the real cache
    // keeps its structure; a real cache no better than its shadow hands over to LRU.
    const d = duel();
    const plain = duel();
    for (const k of scanLoopTrace(5_000)) {
      d.observe(k, 1, true);
      plain.observe(k, 1, false);
    }
    expect(d.boost).toBeGreaterThan(1.8);
    expect(d.lruLeads || plain.lruLeads).toBe(false);
    for (const k of pairsTrace(10_000).flatMap((key, i) => [key, `hot${i % 20}`])) {
      d.observe(k, 1, true);
      plain.observe(k, 1, false);
    }
    expect(d.lruLeads).toBe(false);
    expect(plain.lruLeads).toBe(true);
  });

  it('samples keys by hash at the rate, the same keys every time', () => {
    const sampled = Array.from({ length: 10_000 }, (_, i) => fnv1a32(`key:${i}`) / 2 ** 32 < 0.25);
    const share = sampled.filter(Boolean).length / sampled.length;
    expect(share).toBeGreaterThan(0.23);
    expect(share).toBeLessThan(0.27);
    const d = duel(0.25);
    pairsTrace(40_000).forEach((k) => d.observe(k, 1, false));
    expect(d.lruLeads).toBe(true);
    expect(d.keysHeld()).toBeLessThan(2 * (25 + 100));
  });
});

describe('structure duel in the learned policy', () => {
  it('stays within half a point of LRU where the probation loses; its spells evict by LRU (HEURISTIC) until the table is trained, then by the agent', async () => {
    const { tf } = await loadTf();
    const trace = pairsTrace(30_000);
    const lru = lruHits(trace, 100).filter(Boolean).length;
    const run = (settings: object): { hits: number; p: LearnedPolicy } => {
      const p = new LearnedPolicy({
        capacity: 100,
        unit: 'objects',
        tf,
        settings: { ...FAST_SETTINGS, decisionLog: 200, duelVictimMinLabels: 4_096, ...settings },
      });
      const hits = trace.filter((key, vtime) => p.access({ key, sizeBytes: 1, vtime })).length;
      return { hits, p };
    };
    const on = run({});
    const lruVictims = run({ duelLearnedVictims: false });
    const off = run({ duelRate: 0 });
    expect(on.hits).toBeGreaterThan(lru - 0.005 * trace.length);
    expect(lruVictims.hits).toBeGreaterThan(lru - 0.005 * trace.length);
    expect(off.hits).toBeLessThan(lru - 0.02 * trace.length);
    for (const { p } of [on, lruVictims]) {
      const stats = p.extraStats();
      expect(stats.lruStructure).toBe(true);
      expect(stats.structureSwitches).toBeGreaterThan(0);
      // Sampled LRU picks the spells' victims until the table has its labels.
      expect(p.duelEvictions).toBeGreaterThan(0);
    }
    // With `duelLearnedVictims: false` every spell eviction is sampled LRU's, explained as such.
    expect(lruVictims.p.duelAgentEvictions).toBe(0);
    const duelDecisions = lruVictims.p.decisions.filter((d) => d.text.startsWith('structure duel'));
    expect(duelDecisions.length).toBeGreaterThan(0);
    for (const d of duelDecisions) expect(d.reason).toBe('HEURISTIC');
    // By default the agent takes the spells' victims over once trained (its gain shows on the
    // open traces, docs/learning.md: here LRU's victims are already the best there are).
    expect(on.p.duelAgentEvictions).toBeGreaterThan(on.p.duelEvictions);
    expect(on.p.decisions.some((d) => d.reason === 'MODEL')).toBe(true);
    expect(on.p.decisions.some((d) => d.text.startsWith('structure duel'))).toBe(false);
    expect(on.p.memoryReport().duelBytes).toBeGreaterThan(0);
    expect(off.p.memoryReport().duelBytes).toBe(0);
    for (const { p } of [on, lruVictims, off]) p.dispose();
  });
});
