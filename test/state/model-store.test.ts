import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import {
  AGENT_FEATURE_NAMES,
  newKeyStats,
  recordAccess,
} from '../../src/learn/eviction/features.js';
import {
  BOOST_FEATURE_NAMES,
  BOOST_FEATURES,
  fitBoostedTrees,
} from '../../src/learn/eviction/boosted-trees.js';
import { makeMlpWeights, ScoreScratch, scoreKey } from '../../src/learn/eviction/scorer.js';
import { encodeModelFiles, type TrainedEvictionModel } from '../../src/learn/model-files.js';
import { FsModelStore } from '../../src/state/model-store.js';
import { modelFavouring, tableModel } from '../helpers/eviction-model.js';

function trained(model = modelFavouring(0, 3)): TrainedEvictionModel {
  return {
    node: 'n1',
    version: 'n1@3',
    model,
    timeScaleMs: 1500,
    missingGapT: 16,
    metadata: {
      node: 'n1',
      version: 'n1@3',
      retrains: 3,
      trainingWindow: { firstRequestMs: 1, lastRequestMs: 2 },
      features: [...AGENT_FEATURE_NAMES],
      metrics: {
        requests: 10,
        shadowHitRatio: 0.5,
        lruHitRatio: 0.4,
        capacity: 60,
        sampleRate: 1,
        droppedEvents: 0,
      },
      savedAtMs: 3,
    },
  };
}

/** Rows of tree inputs whose label is 1 (not back) when the idle feature exceeds 1. */
function boostRows(n: number) {
  const X = new Float32Array(n * BOOST_FEATURES);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < BOOST_FEATURES; f++) X[i * BOOST_FEATURES + f] = ((i * (f + 3)) % 97) / 24;
    y[i] = X[i * BOOST_FEATURES]! > 1 ? 1 : 0;
  }
  return { X, y };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

let root: string;
let store: FsModelStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'prescient-models-'));
  store = new FsModelStore(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FsModelStore', () => {
  it('round-trips a model: same scores, weights.bin in model.json order, metadata kept', async () => {
    const t = trained();
    const dir = await store.save(t.version, encodeModelFiles(t));
    expect(dir).toBe(join(root, 'n1@3'));
    expect(await store.list()).toEqual(['n1@3']);
    const back = await store.load('n1@3');
    expect(back).toMatchObject({ version: 'n1@3', node: 'n1', timeScaleMs: 1500, missingGapT: 16 });
    expect(back.metadata?.metrics.shadowHitRatio).toBe(0.5);
    const s = newKeyStats(0, 100);
    const clock = { nowTick: 9000, timeScale: 1500, missingGapT: 16 };
    const scratch = new ScoreScratch();
    expect(scoreKey(back.model, s, clock, scratch)).toBeCloseTo(
      scoreKey(t.model, s, clock, scratch),
      5,
    );
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
      weights: { name: string; offset: number }[];
      networks: { predictor: { w1: number[] } };
    };
    expect(json.weights.map((w) => w.name)).toEqual([
      'predictor.w1',
      'predictor.b1',
      'predictor.w2',
      'predictor.b2',
      'agent.w1',
      'agent.b1',
      'agent.w2',
      'agent.b2',
    ]);
    const bin = await readFile(join(dir, 'weights.bin'));
    expect(bin.readFloatLE(0)).toBe(json.networks.predictor.w1[0]);
  });

  it('round-trips a tabular-agent model: its table in model.json, only the predictor in weights.bin', async () => {
    const t = trained(tableModel(3));
    const dir = await store.save(t.version, encodeModelFiles(t));
    const back = await store.load('n1@3');
    expect(back.model.agent).toBeUndefined();
    expect(back.model.victimTable?.logits).toEqual(t.model.victimTable?.logits);
    const clock = { nowTick: 90_000, timeScale: 1500, missingGapT: 16 };
    const scratch = new ScoreScratch();
    for (const idleTicks of [0, 800, 9000, 60_000]) {
      const s = newKeyStats(0, 1);
      recordAccess(s, 90_000 - idleTicks, 1, 1500);
      const q = scoreKey(back.model, s, clock, scratch);
      expect(q).toBe(scoreKey(t.model, s, clock, scratch));
    }
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(json['formatVersion']).toBe(2);
    expect((json['networks'] as Record<string, unknown>)['agent']).toBeUndefined();
    expect((json['weights'] as { name: string }[]).map((w) => w.name)).toEqual([
      'predictor.w1',
      'predictor.b1',
      'predictor.w2',
      'predictor.b2',
    ]);
    expect(json['victimTable']).toMatchObject({
      horizonT: 1,
      state: ['idle', 'accesses', 'gap1'],
      bins: [12, 6, 9],
    });
  });

  it("round-trips the tabular agent's views (format version 4; 3 with the first two), and refuses views out of order or newer than the file's format version", async () => {
    const base = tableModel(3);
    const view = (k: number) => ({
      logits: base.victimTable!.logits.map((v, c) => v + 0.1 * k * (c % 9)),
      baselineCell: 7 + k,
    });
    const clock = { nowTick: 90_000, timeScale: 1500, missingGapT: 16 };
    const scratch = new ScoreScratch();
    const cases = [
      { views: 2, formatVersion: 3, coordinates: ['meanGap', 'due'] },
      { views: 4, formatVersion: 4, coordinates: ['meanGap', 'due', 'lifetime', 'gap2'] },
    ];
    for (const c of cases) {
      const views = Array.from({ length: c.views }, (_, k) => view(k + 1));
      const t = trained({ ...base, victimTable: { ...base.victimTable!, views } });
      const dir = await store.save(t.version, encodeModelFiles(t));
      const back = await store.load('n1@3');
      expect(back.model.victimTable?.views?.map((v) => v.baselineCell)).toEqual(
        views.map((v) => v.baselineCell),
      );
      for (const gaps of [[0], [80_000, 88_000], [60_000, 70_000, 89_000]]) {
        const s = newKeyStats(0, 1);
        for (const tick of gaps) recordAccess(s, tick, 1, 1500);
        const q = scoreKey(back.model, s, clock, scratch);
        expect(q).toBe(scoreKey(t.model, s, clock, scratch));
        // The views count: without them the same key scores differently.
        if (gaps.length > 1) expect(q).not.toBe(scoreKey(base, s, clock, scratch));
      }
      const j = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
        formatVersion: number;
        victimTable: { views: { coordinate: string }[] };
      };
      expect(j.formatVersion).toBe(c.formatVersion);
      expect(j.victimTable.views.map((v) => v.coordinate)).toEqual(c.coordinates);
      // A file claiming an older format version than its views need is refused.
      await writeFile(
        join(dir, 'model.json'),
        JSON.stringify({ ...j, formatVersion: c.formatVersion - 1 }),
      );
      expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
      j.victimTable.views.reverse();
      await writeFile(join(dir, 'model.json'), JSON.stringify(j));
      expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
      // Views that skip the first (lifetime alone), or none listed, are refused too.
      j.victimTable.views = j.victimTable.views.filter((v) => v.coordinate === 'lifetime');
      await writeFile(join(dir, 'model.json'), JSON.stringify(j));
      expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
    }
  });

  it("round-trips the tabular agent's boosted trees (format version 5) and refuses trees that do not fit their depth or sit in an older format version", async () => {
    const base = tableModel(3);
    const { X, y } = boostRows(2_000);
    const boost = fitBoostedTrees(X, y, 2_000);
    const t = trained({ ...base, victimTable: { ...base.victimTable!, boost } });
    const dir = await store.save(t.version, encodeModelFiles(t));
    const back = await store.load('n1@3');
    expect(back.model.victimTable?.boost?.leaves).toEqual(boost.leaves);
    const clock = { nowTick: 90_000, timeScale: 1500, missingGapT: 16 };
    const scratch = new ScoreScratch();
    let differ = 0;
    for (const gaps of [[0], [80_000, 88_000], [60_000, 70_000, 89_000], [89_900]]) {
      const s = newKeyStats(0, 1);
      for (const tick of gaps) recordAccess(s, tick, 1, 1500);
      const q = scoreKey(back.model, s, clock, scratch);
      expect(q).toBe(scoreKey(t.model, s, clock, scratch));
      if (q !== scoreKey(base, s, clock, scratch)) differ++;
    }
    // The trees count: keys score differently with them.
    expect(differ).toBeGreaterThan(0);
    const j = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
      formatVersion: number;
      victimTable: { boost: { inputs: string[]; leaves: number[]; features: number[] } };
    };
    expect(j.formatVersion).toBe(5);
    expect(j.victimTable.boost.inputs).toEqual([...BOOST_FEATURE_NAMES]);
    const edits: ((b: { leaves: number[]; features: number[]; inputs: string[] }) => void)[] = [
      (b) => b.leaves.pop(),
      (b) => (b.features[0] = BOOST_FEATURE_NAMES.length),
      (b) => (b.inputs = b.inputs.slice(1)),
    ];
    for (const edit of edits) {
      const copy = structuredClone(j);
      edit(copy.victimTable.boost);
      await writeFile(join(dir, 'model.json'), JSON.stringify(copy));
      expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
    }
    // Trees in a file that claims an older format version (which has no trees) are refused.
    for (const formatVersion of [2, 3, 4]) {
      await writeFile(join(dir, 'model.json'), JSON.stringify({ ...j, formatVersion }));
      expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
    }
    await writeFile(join(dir, 'model.json'), JSON.stringify(j));
    expect((await store.load('n1@3')).model.victimTable?.boost).toBeDefined();
  });

  it('refuses a victim table that is short, holds a non-number, or sits beside an agent network', async () => {
    const edits: ((j: Record<string, unknown>, net: unknown) => void)[] = [
      (j) => ((j['victimTable'] as { logits: unknown[] }).logits.length = 10),
      (j) => ((j['victimTable'] as { logits: unknown[] }).logits[4] = null),
      (j) => ((j['victimTable'] as { baselineCell: number }).baselineCell = 648),
      (j) => ((j['victimTable'] as { bins: number[] }).bins = [12, 6, 8]),
      (j, net) => ((j['networks'] as Record<string, unknown>)['agent'] = net),
      (j) => delete j['victimTable'],
    ];
    const network = JSON.parse(
      new TextDecoder().decode(encodeModelFiles(trained())['model.json']),
    ) as {
      networks: { agent: unknown };
    };
    for (const edit of edits) {
      const t = trained(tableModel(3));
      const dir = await store.save(t.version, encodeModelFiles(t));
      const j = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      edit(j, network.networks.agent);
      await writeFile(join(dir, 'model.json'), JSON.stringify(j));
      expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
    }
  });

  it('still reads a format version 1 file (network agent)', async () => {
    const t = trained();
    const dir = await store.save(t.version, encodeModelFiles(t));
    const j = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    j['formatVersion'] = 1;
    await writeFile(join(dir, 'model.json'), JSON.stringify(j));
    const back = await store.load('n1@3');
    expect(back.model.agent?.hidden).toBe(t.model.agent!.hidden);
    j['formatVersion'] = 6;
    await writeFile(join(dir, 'model.json'), JSON.stringify(j));
    expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
  });

  it('refuses a corrupt weights.bin', async () => {
    const t = trained();
    const dir = await store.save(t.version, encodeModelFiles(t));
    const bin = await readFile(join(dir, 'weights.bin'));
    bin[5] = bin[5]! ^ 0xff;
    await writeFile(join(dir, 'weights.bin'), bin);
    expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
    await writeFile(join(dir, 'weights.bin'), bin.subarray(0, 12));
    expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
  });

  it('refuses a truncated or non-JSON model.json', async () => {
    const t = trained();
    const dir = await store.save(t.version, encodeModelFiles(t));
    const json = await readFile(join(dir, 'model.json'), 'utf8');
    await writeFile(join(dir, 'model.json'), json.slice(0, json.length / 2));
    expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
  });

  it('refuses a model whose weights went NaN', async () => {
    const good = modelFavouring(0);
    const w2 = Float64Array.from(good.agent!.w2);
    w2[0] = Number.NaN;
    const { fw1: _f, fb1: _b, ...agent } = good.agent!;
    const t = trained({ ...good, agent: makeMlpWeights({ ...agent, w2 }) });
    await store.save(t.version, encodeModelFiles(t));
    expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
  });

  it('refuses a model that scores NaN although every weight is finite', async () => {
    const good = modelFavouring(0);
    const { fw1: _f, fb1: _b, ...agent } = good.agent!;
    // A zero deviation makes standardisation divide by zero.
    const std = Float64Array.from(agent.std);
    std[0] = 0;
    const t = trained({ ...good, agent: makeMlpWeights({ ...agent, std }) });
    await store.save(t.version, encodeModelFiles(t));
    expect(await code(store.load('n1@3'))).toBe(ERROR_CODES.MODEL_INVALID);
  });

  it('refuses unsafe version names and reports missing versions', async () => {
    expect(await code(store.load('../etc'))).toBe(ERROR_CODES.MODEL_INVALID);
    expect(await code(store.load('nope@1'))).toBe(ERROR_CODES.NOT_FOUND);
  });
});
