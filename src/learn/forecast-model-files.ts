/**
 * @module learn/forecast-model-files
 * A version of the `forecast` model kind on disk (models/forecast/<series>@<n>/): what the served
 * selector (`forecast/selector.ts`) chose for a series and every chosen model's fitted parameters,
 * so the same forecaster serves after a restart or on another replica without refitting.
 *
 * The fitted selector holds closures and caches, so it is not serialised whole; what can be is:
 *   - the selection (rule, models, weights, validation MAE) and a combination's interval offsets;
 *   - `naive`, `seasonal-naive`, `seasonal-naive-weekly`: their per-horizon interval offsets (the
 *     point forecast is the rule itself, the period comes from the stored season);
 *   - `holt-winters`, `holt-winters-weekly`: α, β, γ, φ, the initial level, trend and seasonal
 *     components, the interval offsets;
 *   - `learned-quantile`: the layout, every network's plain-JS weights and the band calibration.
 * model.json holds the scalars and a manifest (name, length, offset in Float64 elements) of the
 * arrays, which are in weights.bin as Float64 little-endian, in manifest order with no gaps.
 *
 * {@link decodeForecastModel} refuses, with `PRESCIENT_E_MODEL_INVALID`, a file that is not this
 * format, a weights.bin whose length is not the manifest's, any non-finite number, a parameter
 * out of its range or a shape that does not match, and a model that forecasts a non-finite value
 * on a probe series.
 */
import { ModelInvalidError } from '../errors.js';
import type { FittedForecaster, SeriesInfo } from '../forecast/forecaster.js';
import { HoltWintersFitted, type HoltWintersParams } from '../forecast/holt-winters.js';
import { withIntervals, type ErrorQuantiles } from '../forecast/intervals.js';
import { naivePoint } from '../forecast/naive.js';
import { seasonalNaivePoint } from '../forecast/seasonal-naive.js';
import { SelectedFitted, type CombineRule, type Selection } from '../forecast/selector.js';
import type { DirectLayout } from './direct-features.js';
import type { ModelFiles, StoredModelFiles } from './model-files.js';
import type { Evaluation } from './promotion.js';
import { FittedQuantileMlp, type MlpWeights } from './quantile-forecaster.js';

export const FORECAST_MODEL_FORMAT = 'prescient-forecast-model';
export const FORECAST_MODEL_FORMAT_VERSION = 1;

/** Interval offsets per horizon (see `forecast/intervals.ts`). */
interface Offsets {
  readonly lo: Float64Array;
  readonly hi: Float64Array;
}

export type MemberSpec =
  | { readonly id: 'naive' | 'seasonal-naive' | 'seasonal-naive-weekly'; readonly errors: Offsets }
  | {
      readonly id: 'holt-winters' | 'holt-winters-weekly';
      readonly params: HoltWintersParams;
      readonly level: number;
      readonly trend: number;
      readonly seasonal: Float64Array;
      readonly errors: Offsets;
    }
  | {
      readonly id: 'learned-quantile';
      readonly layout: DirectLayout;
      readonly bandScales: readonly [number, number];
      readonly networks: readonly MlpWeights[];
    };

/** Everything a version holds: enough to rebuild the fitted selector. */
export interface ForecastSpec {
  readonly h: number;
  readonly info: SeriesInfo;
  /** The model was fit on steps [0, trainEnd) of the series starting at `info.startMs`. */
  readonly trainEnd: number;
  /** Steps after `trainEnd` its shadow evaluation was measured on. */
  readonly holdoutSteps: number;
  readonly selection: Selection;
  readonly members: readonly MemberSpec[];
  /** A combination's shared interval offsets (undefined for a single model). */
  readonly combined: Offsets | undefined;
}

/** metadata.json (for people and GET /v1/models; not needed to serve). */
export interface ForecastMetadata {
  readonly series: string;
  readonly version: string;
  readonly trainingWindow: {
    readonly firstStep: number;
    readonly lastStep: number;
    readonly firstStepMs: number;
    readonly lastStepMs: number;
  };
  readonly features: readonly string[];
  readonly metrics: Record<string, number | string>;
  readonly savedAtMs: number;
  readonly evaluation?: Evaluation | null;
}

export interface ForecastModel {
  readonly series: string;
  readonly version: string;
  readonly spec: ForecastSpec;
  /** The selector rebuilt from `spec`: what is stored is what is served. */
  readonly fitted: FittedForecaster;
  readonly metadata: ForecastMetadata;
}

const POINT_IDS = ['naive', 'seasonal-naive', 'seasonal-naive-weekly'] as const;
const HW_IDS = ['holt-winters', 'holt-winters-weekly'] as const;
const RULES: readonly CombineRule[] = ['best', 'inverse-mae', 'median'];

/**
 * What of a fitted served forecaster can be versioned, or why it cannot (a forecaster this
 * module does not know, or a fit function that is not the selector).
 */
export function describeFitted(
  fitted: FittedForecaster,
  info: SeriesInfo,
  h: number,
  trainEnd: number,
  holdoutSteps: number,
): { ok: true; spec: ForecastSpec } | { ok: false; reason: string } {
  if (!(fitted instanceof SelectedFitted)) {
    return { ok: false, reason: 'the served forecaster is not the selector: nothing to version' };
  }
  const members: MemberSpec[] = [];
  for (const [i, id] of fitted.selection.models.entries()) {
    const m = fitted.members[i];
    if ((POINT_IDS as readonly string[]).includes(id) && m && 'errors' in m) {
      members.push({
        id: id as MemberSpec['id'] & (typeof POINT_IDS)[number],
        errors: offsets(m.errors as ErrorQuantiles),
      });
    } else if ((HW_IDS as readonly string[]).includes(id) && m instanceof HoltWintersFitted) {
      members.push({
        id: id as (typeof HW_IDS)[number],
        params: m.params,
        level: m.init.level,
        trend: m.init.trend,
        seasonal: m.init.seasonal,
        errors: offsets(m.errors),
      });
    } else if (id === 'learned-quantile' && m instanceof FittedQuantileMlp) {
      members.push({ id, layout: m.layout, bandScales: m.bandScales, networks: m.members });
    } else {
      return { ok: false, reason: `forecaster "${id}" cannot be versioned` };
    }
  }
  return {
    ok: true,
    spec: {
      h,
      info,
      trainEnd,
      holdoutSteps,
      selection: fitted.selection,
      members,
      combined: fitted.errors ? offsets(fitted.errors) : undefined,
    },
  };
}

function offsets(e: ErrorQuantiles | undefined): Offsets {
  return e ? { lo: e.lo, hi: e.hi } : { lo: new Float64Array(0), hi: new Float64Array(0) };
}

const quantiles = (o: Offsets): ErrorQuantiles => ({ lo: o.lo, hi: o.hi, origins: 0 });

/** The fitted selector a spec describes (no check: {@link decodeForecastModel} checks). */
export function buildFitted(spec: ForecastSpec): SelectedFitted {
  const m = spec.info.season;
  const members = spec.members.map((s): FittedForecaster => {
    switch (s.id) {
      case 'naive':
      case 'seasonal-naive':
      case 'seasonal-naive-weekly': {
        const point =
          s.id === 'naive'
            ? naivePoint
            : seasonalNaivePoint(s.id === 'seasonal-naive' ? [m] : [7 * m, m]);
        const q = quantiles(s.errors);
        return { forecast: (v, origin, hh) => withIntervals(point(v, origin, hh), q) };
      }
      case 'holt-winters':
      case 'holt-winters-weekly': {
        const f = new HoltWintersFitted(
          s.params,
          { level: s.level, trend: s.trend, seasonal: s.seasonal },
          spec.h,
        );
        f.errors = quantiles(s.errors);
        return f;
      }
      case 'learned-quantile':
        return new FittedQuantileMlp(
          s.layout,
          s.networks,
          {
            rows: 0,
            members: s.networks.length,
            epochs: 0,
            bestEpoch: 0,
            validationLoss: Number.NaN,
            initialValidationLoss: Number.NaN,
            fitMs: 0,
          },
          s.bandScales,
        );
    }
  });
  return new SelectedFitted(
    spec.selection,
    members,
    spec.combined ? quantiles(spec.combined) : undefined,
  );
}

/** The three files of a version. */
export function encodeForecastModel(
  model: ForecastModel,
  evaluation: Evaluation | null,
): ModelFiles {
  const arrays: { name: string; data: Float64Array }[] = [];
  const ref = (name: string, data: Float64Array) => {
    arrays.push({ name, data });
    return name;
  };
  const refOffsets = (prefix: string, o: Offsets) => ({
    lo: ref(`${prefix}.lo`, o.lo),
    hi: ref(`${prefix}.hi`, o.hi),
  });
  const { spec } = model;
  const members = spec.members.map((s, i) => {
    const p = `m${i}`;
    switch (s.id) {
      case 'naive':
      case 'seasonal-naive':
      case 'seasonal-naive-weekly':
        return { id: s.id, errors: refOffsets(p, s.errors) };
      case 'holt-winters':
      case 'holt-winters-weekly':
        return {
          id: s.id,
          params: s.params,
          level: s.level,
          trend: s.trend,
          seasonal: ref(`${p}.seasonal`, s.seasonal),
          errors: refOffsets(p, s.errors),
        };
      case 'learned-quantile':
        return {
          id: s.id,
          layout: s.layout,
          bandScales: s.bandScales,
          networks: s.networks.map((w, j) => ({
            hidden: w.hidden,
            w1: ref(`${p}.n${j}.w1`, w.w1),
            b1: ref(`${p}.n${j}.b1`, w.b1),
            w2: ref(`${p}.n${j}.w2`, w.w2),
            ws: ref(`${p}.n${j}.ws`, w.ws),
            b2: ref(`${p}.n${j}.b2`, w.b2),
          })),
        };
    }
  });
  const combined = spec.combined ? refOffsets('combined', spec.combined) : null;
  const manifest: { name: string; length: number; offset: number }[] = [];
  let total = 0;
  for (const a of arrays) {
    manifest.push({ name: a.name, length: a.data.length, offset: total });
    total += a.data.length;
  }
  const bin = new Uint8Array(total * 8);
  const dv = new DataView(bin.buffer);
  let at = 0;
  for (const a of arrays) for (const x of a.data) dv.setFloat64(8 * at++, x, true);
  const json = {
    format: FORECAST_MODEL_FORMAT,
    formatVersion: FORECAST_MODEL_FORMAT_VERSION,
    series: model.series,
    version: model.version,
    h: spec.h,
    info: spec.info,
    trainEnd: spec.trainEnd,
    holdoutSteps: spec.holdoutSteps,
    selection: spec.selection,
    members,
    combined,
    weights: manifest,
  };
  const enc = new TextEncoder();
  return {
    'model.json': enc.encode(JSON.stringify(json)),
    'weights.bin': bin,
    'metadata.json': enc.encode(
      JSON.stringify({ ...model.metadata, version: model.version, evaluation }),
    ),
  };
}

/**
 * Reads a version back, checking it (see the module header).
 * @throws ModelInvalidError (`PRESCIENT_E_MODEL_INVALID`) for a corrupt or NaN-producing model.
 */
export function decodeForecastModel(files: StoredModelFiles): ForecastModel {
  const invalid = (why: string): never => {
    throw new ModelInvalidError(`forecast model is invalid: ${why}`);
  };
  let j: Record<string, unknown>;
  try {
    j = obj(JSON.parse(new TextDecoder().decode(files['model.json'])), 'model.json');
  } catch (err) {
    if (err instanceof ModelInvalidError) throw err;
    return invalid(`model.json is not JSON (${(err as Error).message})`);
  }
  if (j['format'] !== FORECAST_MODEL_FORMAT || j['formatVersion'] !== FORECAST_MODEL_FORMAT_VERSION)
    invalid(`model.json is not ${FORECAST_MODEL_FORMAT} version ${FORECAST_MODEL_FORMAT_VERSION}`);
  const series = str(j['series'], 'series');
  const version = str(j['version'], 'version');
  const h = int(j['h'], 'h', 1, 1000);
  const info0 = obj(j['info'], 'info');
  const info: SeriesInfo = {
    stepSec: num(info0['stepSec'], 'info.stepSec', 1e-9),
    startMs: num(info0['startMs'], 'info.startMs'),
    season: int(info0['season'], 'info.season', 0),
  };
  const trainEnd = int(j['trainEnd'], 'trainEnd', 1);
  const holdoutSteps = int(j['holdoutSteps'], 'holdoutSteps', 0);

  // weights.bin: exactly the manifest, every value finite.
  const bin = files['weights.bin'];
  const manifest = arr(j['weights'], 'weights').map((e, i) => {
    const o = obj(e, `weights[${i}]`);
    return {
      name: str(o['name'], `weights[${i}].name`),
      length: int(o['length'], `weights[${i}].length`, 0),
      offset: int(o['offset'], `weights[${i}].offset`, 0),
    };
  });
  const byName = new Map<string, Float64Array>();
  let total = 0;
  for (const m of manifest) {
    if (m.offset !== total) invalid(`weights "${m.name}" is not where the manifest says`);
    total += m.length;
  }
  if (bin.byteLength !== total * 8)
    invalid(`weights.bin holds ${bin.byteLength} bytes, the manifest ${total * 8}`);
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  for (const m of manifest) {
    const a = new Float64Array(m.length);
    for (let i = 0; i < m.length; i++) {
      const x = dv.getFloat64(8 * (m.offset + i), true);
      if (!Number.isFinite(x)) invalid(`weights "${m.name}"[${i}] is ${x}`);
      a[i] = x;
    }
    byName.set(m.name, a);
  }
  const take = (ref: unknown, what: string, length?: number): Float64Array => {
    const a = byName.get(str(ref, what));
    if (a === undefined) return invalid(`${what} names no array of weights.bin`);
    if (length !== undefined && a.length !== length)
      invalid(`${what} has ${a.length} values, ${length} expected`);
    return a;
  };
  const takeOffsets = (v: unknown, what: string): Offsets => {
    const o = obj(v, what);
    const lo = take(o['lo'], `${what}.lo`);
    const hi = take(o['hi'], `${what}.hi`, lo.length);
    if (lo.some((x) => x > 0) || hi.some((x) => x < 0))
      invalid(`${what}: interval offsets must be lo ≤ 0 ≤ hi`);
    return { lo, hi };
  };

  const sel = obj(j['selection'], 'selection');
  const rule = str(sel['rule'], 'selection.rule') as CombineRule;
  if (!RULES.includes(rule)) invalid(`selection.rule "${rule}" is unknown`);
  const models = arr(sel['models'], 'selection.models').map((m, i) =>
    str(m, `selection.models[${i}]`),
  );
  const weights = arr(sel['weights'], 'selection.weights').map((w, i) =>
    num(w, `selection.weights[${i}]`, 0),
  );
  if (models.length === 0 || weights.length !== models.length)
    invalid('selection: models and weights must be non-empty and as many');
  const selection: Selection = {
    rule,
    models,
    weights,
    validationMae: numbers(sel['validationMae']),
    ruleMae: numbers(sel['ruleMae']),
    failed: Object.fromEntries(
      Object.entries(
        typeof sel['failed'] === 'object' && sel['failed'] !== null ? sel['failed'] : {},
      ).map(([k, v]) => [k, String(v)]),
    ),
  };

  const rawMembers = arr(j['members'], 'members');
  if (rawMembers.length !== models.length) invalid('members and selection.models differ in number');
  const members = rawMembers.map((raw, i): MemberSpec => {
    const o = obj(raw, `members[${i}]`);
    const id = str(o['id'], `members[${i}].id`);
    if (id !== models[i]) invalid(`members[${i}] is "${id}", selection.models says "${models[i]}"`);
    const w = `members[${i}]`;
    if ((POINT_IDS as readonly string[]).includes(id)) {
      return {
        id: id as (typeof POINT_IDS)[number],
        errors: takeOffsets(o['errors'], `${w}.errors`),
      };
    }
    if ((HW_IDS as readonly string[]).includes(id)) {
      const p = obj(o['params'], `${w}.params`);
      const alpha = num(p['alpha'], `${w}.params.alpha`, 0, 1);
      const params: HoltWintersParams = {
        alpha,
        beta: num(p['beta'], `${w}.params.beta`, 0, 1),
        gamma: num(p['gamma'], `${w}.params.gamma`, 0, 1),
        phi: num(p['phi'], `${w}.params.phi`, 0, 1),
      };
      return {
        id: id as (typeof HW_IDS)[number],
        params,
        level: num(o['level'], `${w}.level`),
        trend: num(o['trend'], `${w}.trend`),
        seasonal: take(o['seasonal'], `${w}.seasonal`),
        errors: takeOffsets(o['errors'], `${w}.errors`),
      };
    }
    if (id === 'learned-quantile') {
      const l = obj(o['layout'], `${w}.layout`);
      const li = (k: string, min = 0) => int(l[k], `${w}.layout.${k}`, min);
      const layout: DirectLayout = {
        h: li('h', 1),
        season: li('season'),
        recent: li('recent', 1),
        weekly: l['weekly'] === true,
        levelSpan: li('levelSpan', 1),
        levelFloor: num(l['levelFloor'], `${w}.layout.levelFloor`, 0),
        minOrigin: li('minOrigin'),
        width: li('width', 1),
        stepSec: num(l['stepSec'], `${w}.layout.stepSec`, 1e-9),
        startMs: num(l['startMs'], `${w}.layout.startMs`),
        dailyCol: int(l['dailyCol'], `${w}.layout.dailyCol`, -1),
      };
      const bs = arr(o['bandScales'], `${w}.bandScales`);
      const bandScales: [number, number] = [
        num(bs[0], `${w}.bandScales[0]`, 0),
        num(bs[1], `${w}.bandScales[1]`, 0),
      ];
      const { width: d } = layout;
      const out = 3 * layout.h;
      const networks = arr(o['networks'], `${w}.networks`).map((n, k): MlpWeights => {
        const nw = obj(n, `${w}.networks[${k}]`);
        const hidden = int(nw['hidden'], `${w}.networks[${k}].hidden`, 0, 4096);
        const hid = Math.max(1, hidden);
        const at = `${w}.networks[${k}]`;
        return {
          hidden,
          w1: take(nw['w1'], `${at}.w1`, d * hid),
          b1: take(nw['b1'], `${at}.b1`, hid),
          w2: take(nw['w2'], `${at}.w2`, hid * out),
          ws: take(nw['ws'], `${at}.ws`, d * out),
          b2: take(nw['b2'], `${at}.b2`, out),
        };
      });
      if (networks.length === 0) invalid(`${w}.networks is empty`);
      return { id, layout, bandScales, networks };
    }
    return invalid(`members[${i}]: forecaster "${id}" is unknown to this build`);
  });
  const combined =
    j['combined'] === null || j['combined'] === undefined
      ? undefined
      : takeOffsets(j['combined'], 'combined');
  const spec: ForecastSpec = { h, info, trainEnd, holdoutSteps, selection, members, combined };
  const fitted = buildFitted(spec);
  probe(fitted, spec);

  let metadata: ForecastMetadata = {
    series,
    version,
    trainingWindow: {
      firstStep: 0,
      lastStep: trainEnd - 1,
      firstStepMs: info.startMs,
      lastStepMs: info.startMs + (trainEnd - 1) * info.stepSec * 1000,
    },
    features: models,
    metrics: {},
    savedAtMs: 0,
  };
  const metaBytes = files['metadata.json'];
  if (metaBytes !== undefined) {
    try {
      const m = JSON.parse(new TextDecoder().decode(metaBytes)) as unknown;
      if (typeof m === 'object' && m !== null) metadata = { ...metadata, ...m };
    } catch {
      // metadata.json is informative; serving never reads it.
    }
  }
  return { series, version, spec, fitted, metadata };
}

/**
 * Forecasts a smooth seasonal probe series at a few origins; a NaN or ±∞ anywhere refuses the
 * model (finite parameters can still overflow).
 */
function probe(fitted: FittedForecaster, spec: ForecastSpec): void {
  const m = Math.max(1, spec.info.season);
  let minOrigin = 0;
  for (const s of spec.members)
    if (s.id === 'learned-quantile') minOrigin = Math.max(minOrigin, s.layout.minOrigin);
  const n = Math.max(minOrigin + 2, spec.trainEnd, 14 * m + 2, 3 * spec.h) + spec.h;
  const values = Float64Array.from(
    { length: n },
    (_, i) => 10 + 5 * Math.sin((2 * Math.PI * i) / m) + (i % 3),
  );
  for (const origin of [Math.floor(n / 2), n - 1]) {
    const q = fitted.forecast(values, origin, spec.h);
    for (const a of [q.p10, q.p50, q.p90])
      for (const x of a)
        if (!Number.isFinite(x))
          throw new ModelInvalidError(
            `forecast model is invalid: it forecasts ${x} on the probe series`,
          );
  }
}

function fail(what: string, why: string): never {
  throw new ModelInvalidError(`forecast model is invalid: ${what} ${why}`);
}
function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(what, 'is not an object');
  return v as Record<string, unknown>;
}
function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(what, 'is not an array');
  return v as unknown[];
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(what, 'is not a string');
  return v;
}
function num(v: unknown, what: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail(what, `is ${String(v)}, not a finite number`);
  const x = v;
  if (x < min || x > max) fail(what, `is ${x}, outside [${min}, ${max}]`);
  return x;
}
function int(v: unknown, what: string, min = -Infinity, max = Infinity): number {
  const x = num(v, what, min, max);
  if (!Number.isInteger(x)) fail(what, `is ${x}, not an integer`);
  return x;
}
function numbers(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'number') out[k] = x;
  return out;
}
