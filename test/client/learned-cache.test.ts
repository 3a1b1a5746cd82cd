import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LearnedCache } from '../../src/client/learned-cache.js';
import { ERROR_CODES } from '../../src/errors.js';
import { encodeModelFiles } from '../../src/learn/model-files.js';
import { FsModelStore } from '../../src/state/model-store.js';
import { loadedModel, tableModel } from '../helpers/eviction-model.js';

function clock() {
  let t = 1_000_000;
  return { now: () => (t += 10) };
}

describe('LearnedCache', () => {
  it('never exceeds its byte budget, whatever the sequence of set / get / delete', () => {
    for (const model of [undefined, loadedModel(0), loadedModel(9)]) {
      const cache = new LearnedCache<string>({
        maxBytes: 1000,
        ...clock(),
        ...(model ? { model } : {}),
      });
      let s = 42;
      const rand = (n: number) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n;
      for (let i = 0; i < 5000; i++) {
        const key = `k${rand(200)}`;
        const op = rand(10);
        if (op < 5) cache.set(key, 'x'.repeat(1 + rand(300)));
        else if (op < 9) cache.get(key);
        else cache.delete(key);
        const st = cache.stats();
        expect(st.usedBytes).toBeLessThanOrEqual(1000);
        expect(st.usedBytes).toBeGreaterThanOrEqual(0);
      }
      expect(cache.stats().evictions).toBeGreaterThan(0);
    }
  });

  it('refuses a value larger than the whole budget', () => {
    const cache = new LearnedCache<string>({ maxBytes: 10 });
    expect(cache.set('big', 'x'.repeat(11))).toBe(false);
    expect(cache.stats()).toMatchObject({ entries: 0, usedBytes: 0, rejected: 1 });
  });

  it('evicts its least recently used key without a model, and says so', () => {
    const cache = new LearnedCache<string>({ maxBytes: 30, ...clock() });
    cache.set('a', 'x'.repeat(10));
    cache.set('b', 'x'.repeat(10));
    cache.set('c', 'x'.repeat(10));
    expect(cache.get('a')).toBeDefined();
    cache.set('d', 'x'.repeat(10));
    expect(cache.has('b')).toBe(false);
    expect(['a', 'c', 'd'].every((k) => cache.has(k))).toBe(true);
    expect(cache.stats()).toMatchObject({ mode: 'lru', modelVersion: null, lruEvictions: 1 });
  });

  it('evicts with the model when given one (here Q grows with size: the big value goes)', () => {
    const cache = new LearnedCache<string>({ maxBytes: 100, model: loadedModel(9), ...clock() });
    cache.set('small-old', 'x'.repeat(10));
    cache.set('big', 'x'.repeat(60));
    cache.set('small', 'x'.repeat(10));
    expect(cache.get('big')).toBeDefined(); // most recently used: LRU would keep it
    cache.set('new', 'x'.repeat(30));
    expect(cache.has('big')).toBe(false);
    expect(cache.has('small-old')).toBe(true);
    expect(cache.stats()).toMatchObject({
      mode: 'model',
      modelVersion: 'test@1',
      modelEvictions: 1,
    });
  });

  it('evicts with a tabular-agent model: a key seen once goes before an older, often requested one', () => {
    const model = { ...loadedModel(0, 10), model: tableModel() };
    const cache = new LearnedCache<string>({ maxBytes: 30, model, ...clock() });
    cache.set('hot', 'x'.repeat(10));
    for (let i = 0; i < 16; i++) expect(cache.get('hot')).toBeDefined();
    cache.set('once-a', 'x'.repeat(10));
    cache.set('once-b', 'x'.repeat(10));
    cache.set('new', 'x'.repeat(10)); // LRU would evict 'hot'
    expect(cache.has('hot')).toBe(true);
    expect(cache.has('once-a')).toBe(false);
    expect(cache.stats()).toMatchObject({ mode: 'model', modelEvictions: 1 });
  });

  it('loads a model directory the engine saved, and refuses a corrupt one', async () => {
    const root = await mkdtemp(join(tmpdir(), 'prescient-cache-'));
    try {
      const m = loadedModel(9);
      const store = new FsModelStore(root);
      const files = encodeModelFiles({
        node: 'n',
        version: 'n@1',
        model: m.model,
        timeScaleMs: m.timeScaleMs,
        missingGapT: m.missingGapT,
        metadata: {
          node: 'n',
          version: 'n@1',
          retrains: 1,
          trainingWindow: { firstRequestMs: 0, lastRequestMs: 1 },
          features: [],
          metrics: {
            requests: 1,
            shadowHitRatio: 0,
            lruHitRatio: 0,
            capacity: 16,
            sampleRate: 1,
            droppedEvents: 0,
          },
          savedAtMs: 0,
        },
      });
      const dir = await store.save('n@1', files);
      const cache = await LearnedCache.fromModelDir<string>(dir, { maxBytes: 100 });
      expect(cache.stats()).toMatchObject({ mode: 'model', modelVersion: 'n@1' });
      const broken = await store.save('n@2', {
        ...files,
        'weights.bin': files['weights.bin'].subarray(4),
      });
      const plain = new LearnedCache<string>({ maxBytes: 100 });
      await expect(plain.loadModelDir(broken)).rejects.toMatchObject({
        code: ERROR_CODES.MODEL_INVALID,
      });
      expect(plain.stats().mode).toBe('lru');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
