/**
 * @module learn/model-files
 * The on-disk / object-store form of a learned eviction model, three files per version
 * (`eviction/<node>@<retrains>/`):
 * - `model.json`: format tag, feature names, each network's normalisation (mean, std) and weights
 *   as JSON arrays, and `weights`: the order of the tensors in `weights.bin`; with the tabular
 *   agent (format version 2), `victimTable`: its horizon, state, bins, baseline cell and one
 *   logit per cell, and no `agent` network; with the agent's extra views, `victimTable.views`
 *   too: per view its coordinate, baseline cell and logits (format version 3: the views
 *   `meanGap` and `due`; version 4: also `lifetime` and `gap2`); with the agent's boosted trees,
 *   `victimTable.boost` (format version 5): their inputs' names, depth, initial margin, and per
 *   node the feature split on, the threshold and the expected value, and per leaf the output;
 * - `weights.bin`: every weight as Float32 little-endian, in that order (for loaders that want
 *   raw buffers; it must agree bit for bit with the JSON arrays);
 * - `metadata.json`: node, training window (first / last request time), metrics, retrains, and
 *   the registry's shadow evaluation.
 * Pure (no I/O, no tfjs): the engine, the model store, the object-store writer and the cache-side
 * adapter share it. Decoding refuses a corrupt or NaN-producing model with
 * `PRESCIENT_E_MODEL_INVALID`.
 */
import { ModelInvalidError } from '../errors.js';
import type { Evaluation } from './promotion.js';
import {
  AGENT_FEATURE_NAMES,
  BASE_FEATURE_NAMES,
  newKeyStats,
  recordAccess,
} from './eviction/features.js';
import {
  makeMlpWeights,
  type EvictionModel,
  type MlpWeights,
  ScoreScratch,
  scoreKey,
} from './eviction/scorer.js';
import {
  BOOST_FEATURE_NAMES,
  BOOST_FEATURES,
  type BoostedTrees,
} from './eviction/boosted-trees.js';
import {
  ACCESS_BINS,
  GAP_BINS,
  IDLE_BINS,
  VICTIM_TABLE_CELLS,
  VICTIM_TABLE_STATE,
  VICTIM_TABLE_VIEWS,
  type VictimTable,
} from './eviction/victim-table.js';

export const MODEL_FORMAT = 'prescient-eviction-model';
/**
 * Written for a model whose tabular agent carries boosted trees (`victimTable.boost`);
 * the oldest version that holds a model is written, so older builds read what they can score:
 * version 2 without views (a table alone, or the network agent), version 3 with the first two
 * views (`meanGap`, `due`), version 4 with all four. Versions 1 (always a network agent) to 5
 * are read; a file's views must be the first of `VICTIM_TABLE_VIEWS`, in order (the value adds
 * them, so a prefix scores as it did when written).
 */
export const MODEL_FORMAT_VERSION = 5;
const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2, 3, 4, 5];

/**
 * The format version a table with `views` views, and with boosted trees or not, is written as
 * (see MODEL_FORMAT_VERSION): 5 with trees.
 */
function formatVersionFor(views: number | undefined, boost: boolean): number {
  if (boost) return MODEL_FORMAT_VERSION;
  return views === undefined ? 2 : views <= 2 ? 3 : 4;
}

export const MODEL_FILE_NAMES = ['model.json', 'weights.bin', 'metadata.json'] as const;
export type ModelFileName = (typeof MODEL_FILE_NAMES)[number];
export type ModelFiles = Readonly<Record<ModelFileName, Uint8Array>>;
/** A version's files as read back: metadata.json may be missing. */
export interface StoredModelFiles {
  readonly 'model.json': Uint8Array;
  readonly 'weights.bin': Uint8Array;
  readonly 'metadata.json'?: Uint8Array;
}

/** What a node's shadow trainer knows about one trained model. */
export interface TrainedEvictionModel {
  readonly node: string;
  /** `<node>@<retrains>`. */
  readonly version: string;
  readonly model: EvictionModel;
  /** Time scale T in event-time ms. */
  readonly timeScaleMs: number;
  /** Unknown gaps count as this many T. */
  readonly missingGapT: number;
  readonly metadata: ModelMetadata;
}

export interface ModelMetadata {
  readonly node: string;
  readonly version: string;
  readonly retrains: number;
  /** Event time (epoch ms) of the first and last request the shadow cache replayed. */
  readonly trainingWindow: { readonly firstRequestMs: number; readonly lastRequestMs: number };
  readonly features: readonly string[];
  readonly metrics: {
    /** Requests replayed into the shadow cache. */
    readonly requests: number;
    readonly shadowHitRatio: number;
    /** Hit ratio of a plain LRU of the same capacity on the same requests. */
    readonly lruHitRatio: number;
    readonly capacity: number;
    /** Share of the node's keys the shadow cache replayed (spatial sampling; 1 = all). */
    readonly sampleRate: number;
    /** Access events dropped because the replay buffer was full. */
    readonly droppedEvents: number;
  };
  readonly savedAtMs: number;
  /**
   * The shadow evaluation that decided whether this version was promoted (model registry);
   * absent in files written before the registry.
   */
  readonly evaluation?: Evaluation | null;
}

/** A model read back from its files. */
export interface LoadedEvictionModel {
  readonly version: string;
  readonly node: string;
  readonly model: EvictionModel;
  readonly timeScaleMs: number;
  readonly missingGapT: number;
  readonly metadata: ModelMetadata | undefined;
}

interface NetworkJson {
  inputs: number;
  hidden: number;
  mean: number[];
  std: number[];
  w1: number[];
  b1: number[];
  w2: number[];
  b2: number;
}

interface ModelJson {
  format: string;
  formatVersion: number;
  id: 'learned';
  version: string;
  node: string;
  retrains: number;
  timeScaleMs: number;
  missingGapT: number;
  /** `agent`: the network agent's inputs; absent with the tabular agent. */
  features: { predictor: string[]; agent?: string[] };
  networks: { predictor: NetworkJson; agent?: NetworkJson };
  victimTable?: VictimTableJson;
  /** Tensors of weights.bin in order: name, shape, offset (in floats). */
  weights: { name: string; shape: number[]; offset: number }[];
}

/** The tabular agent in model.json. */
interface VictimTableJson {
  horizonT: number;
  /** Coordinates of the state, and bins per coordinate (the cell is row-major over them). */
  state: string[];
  bins: number[];
  baselineCell: number;
  /** logit P(not requested within horizonT·T), one per cell. */
  logits: number[];
  /**
   * The extra views (format versions 3 and 4), the first of `VICTIM_TABLE_VIEWS` in order:
   * each view's coordinate (its cells are over idle, accesses and it, with the same bins), most
   * populated cell and logits; the agent's value adds theirs to the base table's.
   */
  views?: { coordinate: string; baselineCell: number; logits: number[] }[];
  /** The boosted trees (format version 5), their margin added to the tables' logits. */
  boost?: BoostJson;
}

/** Boosted trees in model.json: complete trees of `depth`, nodes in level order, tree by tree. */
interface BoostJson {
  /** The trees' inputs, in order (`BOOST_FEATURE_NAMES`). */
  inputs: string[];
  depth: number;
  trees: number;
  base: number;
  /** Per internal node: the input split on (−1: none), threshold, expected value. */
  features: number[];
  thresholds: number[];
  nodeValues: number[];
  /** Per leaf: its output. */
  leaves: number[];
}

const TENSORS = ['w1', 'b1', 'w2', 'b2'] as const;
const TABLE_BINS = [IDLE_BINS, ACCESS_BINS, GAP_BINS];

function networkJson(w: MlpWeights): NetworkJson {
  const f = (a: Float64Array) => Array.from(a, (v) => Math.fround(v));
  return {
    inputs: w.inputs,
    hidden: w.hidden,
    mean: f(w.mean),
    std: f(w.std),
    w1: f(w.w1),
    b1: f(w.b1),
    w2: f(w.w2),
    b2: Math.fround(w.b2),
  };
}

function tensor(n: NetworkJson, t: (typeof TENSORS)[number]): number[] {
  return t === 'b2' ? [n.b2] : n[t];
}

function shape(n: NetworkJson, t: (typeof TENSORS)[number]): number[] {
  return t === 'w1' ? [n.inputs, n.hidden] : t === 'b2' ? [1] : [n.hidden];
}

const utf8 = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 1));

/** The three files of a trained model. */
export function encodeModelFiles(t: TrainedEvictionModel): ModelFiles {
  const { agent, victimTable } = t.model;
  const networks: ModelJson['networks'] = { predictor: networkJson(t.model.predictor) };
  if (agent !== undefined) networks.agent = networkJson(agent);
  const weights: ModelJson['weights'] = [];
  const values: number[] = [];
  for (const net of networkNames(networks)) {
    for (const name of TENSORS) {
      weights.push({
        name: `${net}.${name}`,
        shape: shape(networks[net]!, name),
        offset: values.length,
      });
      values.push(...tensor(networks[net]!, name));
    }
  }
  const json: ModelJson = {
    format: MODEL_FORMAT,
    formatVersion: formatVersionFor(victimTable?.views?.length, victimTable?.boost !== undefined),
    id: 'learned',
    version: t.version,
    node: t.node,
    retrains: t.model.version,
    timeScaleMs: t.timeScaleMs,
    missingGapT: t.missingGapT,
    features: {
      predictor: [...BASE_FEATURE_NAMES],
      ...(agent === undefined ? {} : { agent: [...AGENT_FEATURE_NAMES] }),
    },
    networks,
    ...(victimTable === undefined ? {} : { victimTable: victimTableJson(victimTable) }),
    weights,
  };
  const bin = new Uint8Array(values.length * 4);
  const view = new DataView(bin.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { 'model.json': utf8(json), 'weights.bin': bin, 'metadata.json': utf8(t.metadata) };
}

/** The networks a model.json holds, in weights.bin order. */
function networkNames(n: ModelJson['networks']): ('predictor' | 'agent')[] {
  return n.agent === undefined ? ['predictor'] : ['predictor', 'agent'];
}

function victimTableJson(t: VictimTable): VictimTableJson {
  return {
    horizonT: t.horizonT,
    state: [...VICTIM_TABLE_STATE],
    bins: [...TABLE_BINS],
    baselineCell: t.baselineCell,
    logits: Array.from(t.logits),
    ...(t.views === undefined
      ? {}
      : {
          views: t.views.map((v, k) => ({
            coordinate: VICTIM_TABLE_VIEWS[k]!,
            baselineCell: v.baselineCell,
            logits: Array.from(v.logits),
          })),
        }),
    ...(t.boost === undefined ? {} : { boost: boostJson(t.boost) }),
  };
}

function boostJson(b: BoostedTrees): BoostJson {
  return {
    inputs: [...BOOST_FEATURE_NAMES],
    depth: b.depth,
    trees: b.trees,
    base: b.base,
    features: Array.from(b.features),
    thresholds: Array.from(b.thresholds),
    nodeValues: Array.from(b.nodeValues),
    leaves: Array.from(b.leaves),
  };
}

function checkBoost(version: string, j: unknown): BoostedTrees {
  const b = j as Partial<BoostJson> | null;
  const where = 'victimTable.boost';
  if (typeof b !== 'object' || b === null) invalid(version, `${where} is not an object`);
  if (!sameItems(b.inputs, BOOST_FEATURE_NAMES)) {
    invalid(version, `${where}.inputs differ from this build of Prescient`);
  }
  const int = (v: unknown, lo: number, hi: number): v is number =>
    typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  const { depth, trees } = b;
  if (!int(depth, 1, 12) || !int(trees, 1, 10_000)) {
    invalid(version, `${where} needs a depth of 1 to 12 and 1 to 10,000 trees`);
  }
  if (typeof b.base !== 'number' || !Number.isFinite(b.base)) {
    invalid(version, `${where}.base must be a finite number`);
  }
  const internal = trees * ((1 << depth) - 1);
  const numbers = (name: 'thresholds' | 'nodeValues' | 'leaves', n: number) => {
    const a = b[name];
    if (!Array.isArray(a) || a.length !== n) invalid(version, `${where}.${name} needs ${n} values`);
    if (!a.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      invalid(version, `${where}.${name} holds a non-finite value`);
    }
    return Float64Array.from(a);
  };
  const features = b.features;
  if (
    !Array.isArray(features) ||
    features.length !== internal ||
    !features.every((f) => int(f, -1, BOOST_FEATURES - 1))
  ) {
    invalid(version, `${where}.features needs ${internal} input indices (−1 for no split)`);
  }
  return {
    depth,
    trees,
    base: b.base,
    features: Int32Array.from(features),
    thresholds: numbers('thresholds', internal),
    nodeValues: numbers('nodeValues', internal),
    leaves: numbers('leaves', trees * (1 << depth)),
  };
}

/** `a` is an array holding exactly `b`'s items, in order (names, bins as this build has them). */
function sameItems(a: unknown, b: readonly (string | number)[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
}

function checkVictimTable(version: string, formatVersion: number, j: unknown): VictimTable {
  const t = j as Partial<VictimTableJson> | null;
  if (typeof t !== 'object' || t === null) invalid(version, 'victimTable is not an object');
  if (!sameItems(t.state, VICTIM_TABLE_STATE) || !sameItems(t.bins, TABLE_BINS)) {
    invalid(version, "victimTable's state or bins differ from this build of Prescient");
  }
  if (typeof t.horizonT !== 'number' || !(t.horizonT > 0) || !Number.isFinite(t.horizonT)) {
    invalid(version, 'victimTable.horizonT must be a positive number');
  }
  const cells = (where: string, j: { baselineCell?: unknown; logits?: unknown }) => {
    const b = j.baselineCell;
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b >= VICTIM_TABLE_CELLS) {
      invalid(version, `${where}.baselineCell must be a cell index below ${VICTIM_TABLE_CELLS}`);
    }
    const logits = j.logits;
    if (!Array.isArray(logits) || logits.length !== VICTIM_TABLE_CELLS) {
      invalid(version, `${where}.logits needs ${VICTIM_TABLE_CELLS} values`);
    }
    if (!logits.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      invalid(version, `${where}.logits holds a non-finite value`);
    }
    return { baselineCell: b, logits: Float64Array.from(logits) };
  };
  // A file holds nothing newer than its format version says (a writer never does that): an
  // older build reading it would score without what it cannot read.
  const needs = formatVersionFor(
    Array.isArray(t.views) ? t.views.length : undefined,
    t.boost !== undefined,
  );
  if (needs > formatVersion) {
    invalid(
      version,
      `its victimTable's ${t.boost !== undefined ? 'boosted trees need' : 'views need'} format version ${needs}, not ${formatVersion}`,
    );
  }
  const base = cells('victimTable', t);
  const boost = t.boost === undefined ? {} : { boost: checkBoost(version, t.boost) };
  if (t.views === undefined) return { horizonT: t.horizonT, ...base, ...boost };
  if (
    !Array.isArray(t.views) ||
    t.views.length === 0 ||
    !sameItems(
      t.views.map((v: unknown) => (v as { coordinate?: unknown } | null)?.coordinate),
      VICTIM_TABLE_VIEWS.slice(0, t.views.length),
    )
  ) {
    invalid(
      version,
      `victimTable.views must be the first views of ${VICTIM_TABLE_VIEWS.join(', ')}, in order`,
    );
  }
  const views = t.views.map((v, k) => cells(`victimTable.views[${k}]`, v));
  return { horizonT: t.horizonT, ...base, views, ...boost };
}

function invalid(version: string, why: string): never {
  throw new ModelInvalidError(
    `eviction model ${version} is invalid: ${why}; delete it or save a new version`,
    { version },
  );
}

function checkNetwork(version: string, name: string, n: unknown, inputs: number): MlpWeights {
  const net = n as Partial<NetworkJson> | null;
  if (typeof net !== 'object' || net === null) invalid(version, `network ${name} missing`);
  const H = net.hidden;
  if (net.inputs !== inputs) invalid(version, `${name} must take ${inputs} inputs`);
  if (typeof H !== 'number' || !Number.isInteger(H) || H < 1 || H > 4096) {
    invalid(version, `${name}.hidden must be a positive integer`);
  }
  const arr = (key: keyof NetworkJson, len: number): Float64Array => {
    const a = net[key];
    if (!Array.isArray(a) || a.length !== len)
      invalid(version, `${name}.${key} needs ${len} values`);
    if (!a.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      invalid(version, `${name}.${key} holds a non-finite value`);
    }
    return Float64Array.from(a);
  };
  const std = arr('std', inputs);
  if (std.some((v) => !(v > 0))) invalid(version, `${name}.std must be positive`);
  if (typeof net.b2 !== 'number' || !Number.isFinite(net.b2)) {
    invalid(version, `${name}.b2 is not finite`);
  }
  return makeMlpWeights({
    inputs,
    hidden: H,
    mean: arr('mean', inputs),
    std,
    w1: arr('w1', inputs * H),
    b1: arr('b1', H),
    w2: arr('w2', H),
    b2: net.b2,
  });
}

/**
 * Reads a model back from its files, checking everything a corrupt or tampered copy could break.
 * @throws ModelInvalidError (`PRESCIENT_E_MODEL_INVALID`) when the JSON is malformed, shapes or
 *   feature names disagree, a weight is not finite, weights.bin differs from model.json, or the
 *   model scores NaN / ±∞ on probe keys.
 */
export function decodeModelFiles(files: StoredModelFiles): LoadedEvictionModel {
  let json: Partial<ModelJson>;
  try {
    json = JSON.parse(new TextDecoder().decode(files['model.json'])) as Partial<ModelJson>;
  } catch (err) {
    return invalid('?', `model.json is not JSON (${(err as Error).message})`);
  }
  const version = typeof json.version === 'string' ? json.version : '?';
  if (
    json.format !== MODEL_FORMAT ||
    !READABLE_FORMAT_VERSIONS.includes(json.formatVersion as number)
  ) {
    invalid(
      version,
      `not a ${MODEL_FORMAT} file of version ${READABLE_FORMAT_VERSIONS.join(' or ')}`,
    );
  }
  // Exactly one agent: the network (its inputs named) or the table.
  const hasTable = json.victimTable !== undefined;
  if (hasTable === (json.networks?.agent !== undefined)) {
    invalid(version, 'it must hold exactly one agent: networks.agent or victimTable');
  }
  if (
    !sameItems(json.features?.predictor, BASE_FEATURE_NAMES) ||
    (!hasTable && !sameItems(json.features?.agent, AGENT_FEATURE_NAMES))
  ) {
    invalid(version, 'its feature names differ from this build of Prescient');
  }
  const predictor = checkNetwork(
    version,
    'predictor',
    json.networks?.predictor,
    BASE_FEATURE_NAMES.length,
  );
  const agent = hasTable
    ? undefined
    : checkNetwork(version, 'agent', json.networks?.agent, AGENT_FEATURE_NAMES.length);
  const victimTable = hasTable
    ? checkVictimTable(version, json.formatVersion as number, json.victimTable)
    : undefined;
  const timeScaleMs = json.timeScaleMs;
  const missingGapT = json.missingGapT;
  if (typeof timeScaleMs !== 'number' || !(timeScaleMs > 0) || !Number.isFinite(timeScaleMs)) {
    invalid(version, 'timeScaleMs must be a positive number');
  }
  if (typeof missingGapT !== 'number' || !(missingGapT > 0) || !Number.isFinite(missingGapT)) {
    invalid(version, 'missingGapT must be a positive number');
  }
  // weights.bin must hold exactly the JSON weights, as float32, in the listed order.
  const bin = files['weights.bin'];
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  let expected = 0;
  for (const net of networkNames(json.networks!)) {
    const n = json.networks![net]!;
    for (const name of TENSORS) {
      const entry = json.weights?.find((w) => w.name === `${net}.${name}`);
      const values = tensor(n, name);
      if (entry === undefined || entry.offset !== expected) {
        invalid(version, `weights list lacks ${net}.${name} at offset ${expected}`);
      }
      if ((expected + values.length) * 4 > bin.byteLength) invalid(version, 'weights.bin is short');
      values.forEach((v, i) => {
        const stored = view.getFloat32((expected + i) * 4, true);
        if (stored !== Math.fround(v)) {
          invalid(version, `weights.bin differs from model.json at ${net}.${name}[${i}]`);
        }
      });
      expected += values.length;
    }
  }
  if (expected * 4 !== bin.byteLength) invalid(version, 'weights.bin has trailing bytes');
  const model: EvictionModel = {
    predictor,
    agent,
    victimTable,
    version: typeof json.retrains === 'number' ? json.retrains : 0,
  };
  probe(version, model, timeScaleMs, missingGapT);
  let metadata: ModelMetadata | undefined;
  if (files['metadata.json'] !== undefined) {
    try {
      metadata = JSON.parse(new TextDecoder().decode(files['metadata.json'])) as ModelMetadata;
    } catch {
      invalid(version, 'metadata.json is not JSON');
    }
  }
  return {
    version,
    node: typeof json.node === 'string' ? json.node : '',
    model,
    timeScaleMs,
    missingGapT,
    metadata,
  };
}

/** Scores a spread of synthetic keys; a model producing NaN or ±∞ on any of them is refused. */
function probe(version: string, model: EvictionModel, T: number, missingGapT: number): void {
  const scratch = new ScoreScratch();
  const clock = { nowTick: 1000 * T, timeScale: T, missingGapT };
  for (const idleT of [0, 0.5, 4, 64, 900]) {
    for (const accesses of [1, 3, 50]) {
      const s = newKeyStats(0, 1 + accesses * 100);
      for (let i = 1; i < accesses; i++)
        recordAccess(s, (i * (1000 - idleT) * T) / accesses, s.sizeBytes, T);
      s.lastTick = (1000 - idleT) * T;
      const q = scoreKey(model, s, clock, scratch);
      if (!Number.isFinite(q))
        invalid(version, `it scores ${q} (idle ${idleT} T, ${accesses} accesses)`);
    }
  }
}
