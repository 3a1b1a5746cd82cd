/**
 * @module control/overrides
 * Operator overrides: what they are, how a request becomes one (validation), and how active
 * overrides change a target's decisions before it is published. Pure: the engine keeps the
 * active set ({@link OverrideBook}), the control store persists it, the publisher calls
 * {@link overrideEviction} / {@link overrideWeights}.
 *
 * Actions:
 * - `pin` (node + key or prefix): never evict; matching keys are withheld from the victims.
 * - `evict-first` (node + key or prefix): matching keys are ranked first.
 * - `set-weight` (pool + backend + weight in [0, 1]): the backend gets exactly that share; the
 *   others share the rest in their proportions.
 * - `scale-weight` (pool + backend + factor ≥ 0): the backend's share × factor, then renormalised.
 * - `drain` (pool + backend): share 0; the others share everything.
 * - `freeze` (node or pool): the heuristic policy decides (LRU order; the heuristic weigher).
 * - `enforce` (node or pool + percent 0..100): how much of the model's decision is applied; 0 is
 *   shadow mode: the heuristic is published and the model's would-be decisions ride along in the
 *   document's `shadow` field.
 * When several apply: pin beats evict-first; freeze beats enforce (newest enforce wins); weight
 * changes apply scale, then set, then drain. Entries an override changed carry reason `OVERRIDE`
 * and the override's id; a target with any active override lists them in `overrides` and has an
 * `OVERRIDE` line in `reasons`.
 */
import type { EvictionDecision, WeightDecision } from '../decisions.js';
import { PrescientError, ERROR_CODES } from '../errors.js';
import { EVENT_LIMITS, POOL_PATTERN, SOURCE_PATTERN } from '../telemetry/events.js';

export type OverrideAction =
  'pin' | 'evict-first' | 'set-weight' | 'scale-weight' | 'drain' | 'freeze' | 'enforce';

export const OVERRIDE_ACTIONS: readonly OverrideAction[] = [
  'pin',
  'evict-first',
  'set-weight',
  'scale-weight',
  'drain',
  'freeze',
  'enforce',
];

/** The body of POST /v1/overrides. */
export interface OverrideRequest {
  readonly action: OverrideAction;
  readonly node?: string;
  readonly key?: string;
  readonly prefix?: string;
  readonly pool?: string;
  readonly backend?: string;
  readonly weight?: number;
  readonly factor?: number;
  readonly percent?: number;
  readonly reason: string;
  readonly ttlSec: number;
}

export interface Override extends Omit<OverrideRequest, 'ttlSec'> {
  readonly id: string;
  /** Token name of the operator who created it. */
  readonly actor: string;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** How an override appears in a published document. */
export interface OverrideRef {
  readonly id: string;
  readonly action: OverrideAction;
  readonly actor: string;
  readonly reason: string;
  readonly expiresAt: number;
  /** Entries it changed, added or withheld in this document. */
  readonly affected: number;
}

export class OverrideInvalidError extends PrescientError {
  constructor(message: string, details?: unknown) {
    super(ERROR_CODES.OVERRIDE_INVALID, message, { statusCode: 400, details });
  }
}

export interface OverrideLimits {
  readonly maxTtlSec: number;
  readonly maxReasonChars?: number;
}

const NODE_RE = new RegExp(SOURCE_PATTERN);
const POOL_RE = new RegExp(POOL_PATTERN);

/** Which fields each action takes (besides action, reason, ttlSec); exactly these. */
const SHAPES: Record<
  OverrideAction,
  { required: string[]; oneOf?: string[]; optional?: string[] }
> = {
  pin: { required: ['node'], oneOf: ['key', 'prefix'] },
  'evict-first': { required: ['node'], oneOf: ['key', 'prefix'] },
  'set-weight': { required: ['pool', 'backend', 'weight'] },
  'scale-weight': { required: ['pool', 'backend', 'factor'] },
  drain: { required: ['pool', 'backend'] },
  freeze: { required: [], oneOf: ['node', 'pool'] },
  enforce: { required: ['percent'], oneOf: ['node', 'pool'] },
};
const SELECTOR_FIELDS = ['node', 'key', 'prefix', 'pool', 'backend', 'weight', 'factor', 'percent'];

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Checks a request completely before anything is written; throws {@link OverrideInvalidError}
 * (400, `PRESCIENT_E_OVERRIDE_INVALID`) naming the field. The schema at the edge checks types.
 */
export function validateOverride(req: OverrideRequest, limits: OverrideLimits): void {
  const fail = (field: string, message: string): never => {
    throw new OverrideInvalidError(`${field}: ${message}`, { field });
  };
  const shape = SHAPES[req.action];
  if (shape === undefined) fail('action', `must be one of ${OVERRIDE_ACTIONS.join(', ')}`);
  const given = SELECTOR_FIELDS.filter(
    (f) => (req as unknown as Record<string, unknown>)[f] !== undefined,
  );
  for (const f of shape.required) {
    if (!given.includes(f)) fail(f, `required for action ${req.action}`);
  }
  if (shape.oneOf) {
    const present = shape.oneOf.filter((f) => given.includes(f));
    if (present.length !== 1) {
      fail(
        shape.oneOf.join('|'),
        `action ${req.action} takes exactly one of ${shape.oneOf.join(', ')}`,
      );
    }
  }
  const allowed = new Set([...shape.required, ...(shape.oneOf ?? []), ...(shape.optional ?? [])]);
  for (const f of given) {
    if (!allowed.has(f)) fail(f, `not used by action ${req.action}`);
  }
  if (
    req.node !== undefined &&
    (!NODE_RE.test(req.node) || bytes(req.node) > EVENT_LIMITS.maxNameBytes)
  ) {
    fail('node', `must match ${SOURCE_PATTERN}, at most ${EVENT_LIMITS.maxNameBytes} bytes`);
  }
  if (
    req.pool !== undefined &&
    (!POOL_RE.test(req.pool) || bytes(req.pool) > EVENT_LIMITS.maxNameBytes)
  ) {
    fail('pool', `must match ${POOL_PATTERN}, at most ${EVENT_LIMITS.maxNameBytes} bytes`);
  }
  if (
    req.backend !== undefined &&
    (req.backend.length === 0 || bytes(req.backend) > EVENT_LIMITS.maxNameBytes)
  ) {
    fail('backend', `must be 1..${EVENT_LIMITS.maxNameBytes} bytes`);
  }
  for (const f of ['key', 'prefix'] as const) {
    const v = req[f];
    if (v !== undefined && (v.length === 0 || bytes(v) > EVENT_LIMITS.maxKeyBytes)) {
      fail(f, `must be 1..${EVENT_LIMITS.maxKeyBytes} bytes`);
    }
  }
  if (req.weight !== undefined && !(req.weight >= 0 && req.weight <= 1)) {
    fail('weight', 'a share of the pool in [0, 1]');
  }
  if (req.factor !== undefined && !(req.factor >= 0 && req.factor <= 1000)) {
    fail('factor', 'in [0, 1000]');
  }
  if (req.percent !== undefined && !(req.percent >= 0 && req.percent <= 100)) {
    fail('percent', 'in [0, 100]');
  }
  const reason = req.reason.trim();
  if (reason.length === 0) fail('reason', 'required: say why, for the audit log and on-call');
  if (reason.length > (limits.maxReasonChars ?? 500)) {
    fail('reason', `at most ${limits.maxReasonChars ?? 500} characters`);
  }
  if (!(Number.isInteger(req.ttlSec) && req.ttlSec >= 1 && req.ttlSec <= limits.maxTtlSec)) {
    fail('ttlSec', `whole seconds in [1, ${limits.maxTtlSec}] (PRESCIENT_OVERRIDE_MAX_TTL_SEC)`);
  }
}

/** The policy document an override acts on: `eviction.<node>` or `weights.<pool>`. */
export function overrideTarget(o: Pick<Override, 'node' | 'pool'>): {
  kind: 'eviction' | 'weights';
  target: string;
} {
  return o.node !== undefined
    ? { kind: 'eviction', target: o.node }
    : { kind: 'weights', target: o.pool! };
}

/** Builds the stored override from a valid request. */
export function makeOverride(
  req: OverrideRequest,
  ctx: { id: string; actor: string; nowMs: number },
): Override {
  const { ttlSec, ...rest } = req;
  return {
    ...rest,
    reason: req.reason.trim(),
    id: ctx.id,
    actor: ctx.actor,
    createdAt: ctx.nowMs,
    expiresAt: ctx.nowMs + ttlSec * 1000,
  };
}

/**
 * The active overrides, indexed by target. Expiry is by time alone: an override past its
 * `expiresAt` stops applying at the next publication, whoever is around.
 */
export class OverrideBook {
  private readonly byId = new Map<string, Override>();

  /** Replaces the whole set (loaded from the store); returns the targets whose set changed. */
  replace(all: readonly Override[]): Set<string> {
    const before = new Map(this.byId);
    this.byId.clear();
    for (const o of all) this.byId.set(o.id, o);
    const changed = new Set<string>();
    for (const [id, o] of before) if (!this.byId.has(id)) changed.add(targetKeyOf(o));
    for (const [id, o] of this.byId) if (!before.has(id)) changed.add(targetKeyOf(o));
    return changed;
  }

  add(o: Override): void {
    this.byId.set(o.id, o);
  }

  remove(id: string): Override | undefined {
    const o = this.byId.get(id);
    this.byId.delete(id);
    return o;
  }

  get(id: string): Override | undefined {
    return this.byId.get(id);
  }

  /** Active (unexpired) overrides, oldest first, optionally of one target. */
  active(nowMs: number, kind?: 'eviction' | 'weights', target?: string): Override[] {
    const out: Override[] = [];
    for (const o of this.byId.values()) {
      if (o.expiresAt <= nowMs) continue;
      if (kind !== undefined) {
        const t = overrideTarget(o);
        if (t.kind !== kind || t.target !== target) continue;
      }
      out.push(o);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** Removes and returns overrides past their expiry. */
  takeExpired(nowMs: number): Override[] {
    const out: Override[] = [];
    for (const o of this.byId.values()) if (o.expiresAt <= nowMs) out.push(o);
    for (const o of out) this.byId.delete(o.id);
    return out;
  }
}

/** `eviction.<node>` / `weights.<pool>`: the publisher's dirty-set key of an override's target. */
export function targetKeyOf(o: Pick<Override, 'node' | 'pool'>): string {
  const t = overrideTarget(o);
  return `${t.kind}.${t.target}`;
}

function matchesKey(o: Override, key: string): boolean {
  return o.key !== undefined ? o.key === key : key.startsWith(o.prefix!);
}

function describe(o: Override): string {
  return `override ${o.id} (${o.action}) by ${o.actor}: ${o.reason}`;
}

function refs(overrides: readonly Override[], affected: Map<string, number>): OverrideRef[] {
  return overrides.map((o) => ({
    id: o.id,
    action: o.action,
    actor: o.actor,
    reason: o.reason,
    expiresAt: o.expiresAt,
    affected: affected.get(o.id) ?? 0,
  }));
}

export type Overridden<D> = D & { readonly override?: string };

export interface OverrideResult<D> {
  readonly entries: Overridden<D>[];
  readonly overrides: OverrideRef[];
  /** Share (0..100) of the model's decision applied. */
  readonly enforcement: number;
  /** The model's decisions, when an override changed what was published (else null). */
  readonly shadow: readonly D[] | null;
}

/** The enforcement an `enforce`/`freeze` set implies: freeze → 0, else the newest enforce, else 100. */
function enforcement(overrides: readonly Override[]): {
  percent: number;
  by: Override | undefined;
} {
  const freeze = overrides.find((o) => o.action === 'freeze');
  if (freeze) return { percent: 0, by: freeze };
  const enforce = overrides.filter((o) => o.action === 'enforce').at(-1);
  return enforce ? { percent: enforce.percent!, by: enforce } : { percent: 100, by: undefined };
}

/**
 * A node's victims under its active overrides.
 * @param model the ranker's decisions (more than `limit` when keys may be withheld)
 * @param heuristic the LRU order, computed only when asked for (freeze / enforce < 100)
 * @param evictFirst the node's keys an `evict-first` override selects (prefixes resolved by the
 *   caller against the node's keys), in override order
 */
export function overrideEviction(p: {
  readonly model: readonly EvictionDecision[];
  readonly heuristic: () => readonly EvictionDecision[];
  readonly limit: number;
  readonly overrides: readonly Override[];
  readonly evictFirst: readonly { readonly key: string; readonly override: Override }[];
}): OverrideResult<EvictionDecision> {
  const affected = new Map<string, number>();
  const bump = (o: Override, n = 1) => affected.set(o.id, (affected.get(o.id) ?? 0) + n);
  const { percent, by } = enforcement(p.overrides);
  let base: Overridden<EvictionDecision>[] = [...p.model];
  let shadow: readonly EvictionDecision[] | null = null;
  if (percent < 100 && by) {
    shadow = p.model.slice(0, p.limit);
    const h = p.heuristic();
    base = interleave(p.model, h, percent / 100, (d) => d.key).map((x) => {
      if (x.fromModel) return x.d;
      bump(by);
      return {
        ...x.d,
        reason: 'OVERRIDE' as const,
        text: `${x.d.text}; heuristic under ${describe(by)}`,
        override: by.id,
      };
    });
  }
  const pins = p.overrides.filter((o) => o.action === 'pin');
  const pinnedBy = (key: string) => pins.find((o) => matchesKey(o, key));
  const out: Overridden<EvictionDecision>[] = [];
  const seen = new Set<string>();
  const top = base.reduce((m, d) => Math.max(m, Number.isFinite(d.score) ? d.score : m), 0);
  for (const { key, override } of p.evictFirst) {
    if (seen.has(key) || out.length >= p.limit) continue;
    const pin = pinnedBy(key);
    if (pin) {
      bump(pin);
      continue;
    }
    seen.add(key);
    bump(override);
    out.push({
      key,
      score: top + 1,
      reason: 'OVERRIDE',
      text: `evict first: ${describe(override)}`,
      attributions: {},
      inputs: {},
      override: override.id,
    });
  }
  for (const d of base) {
    if (out.length >= p.limit) break;
    if (seen.has(d.key)) continue;
    const pin = pinnedBy(d.key);
    if (pin) {
      bump(pin);
      continue;
    }
    seen.add(d.key);
    out.push(d);
  }
  if (shadow === null && affected.size > 0) shadow = p.model.slice(0, p.limit);
  return { entries: out, overrides: refs(p.overrides, affected), enforcement: percent, shadow };
}

/**
 * Merges two rankings: position i takes the next unused entry of `model` when the running share
 * of model positions is below `share`, else of `other` (then the other list when one runs out).
 */
function interleave<D>(
  model: readonly D[],
  other: readonly D[],
  share: number,
  id: (d: D) => string,
): { d: D; fromModel: boolean }[] {
  const out: { d: D; fromModel: boolean }[] = [];
  const used = new Set<string>();
  let i = 0;
  let j = 0;
  let fromModel = 0;
  const next = (list: readonly D[], at: number): number => {
    while (at < list.length && used.has(id(list[at]!))) at++;
    return at;
  };
  for (;;) {
    i = next(model, i);
    j = next(other, j);
    if (i >= model.length && j >= other.length) break;
    const wantModel = fromModel < share * (out.length + 1) - 1e-9;
    const takeModel = j >= other.length || (wantModel && i < model.length);
    const d = takeModel ? model[i++]! : other[j++]!;
    used.add(id(d));
    if (takeModel) fromModel++;
    out.push({ d, fromModel: takeModel });
  }
  return out;
}

/**
 * A pool's shares under its active overrides.
 * @param heuristic the heuristic weigher's decisions, computed only when asked for
 */
export function overrideWeights(p: {
  readonly model: readonly WeightDecision[];
  readonly heuristic: () => readonly WeightDecision[];
  readonly overrides: readonly Override[];
}): OverrideResult<WeightDecision> {
  const affected = new Map<string, number>();
  const { percent, by } = enforcement(p.overrides);
  let entries: Overridden<WeightDecision>[] = [...p.model];
  let shadow: readonly WeightDecision[] | null = null;
  if (percent < 100 && by) {
    shadow = p.model;
    const h = new Map(p.heuristic().map((d) => [d.backend, d]));
    const a = percent / 100;
    entries = p.model.map((d) => {
      const hd = h.get(d.backend);
      const hw = hd?.weight ?? d.weight;
      const weight = a * d.weight + (1 - a) * hw;
      return {
        ...(hd ?? d),
        backend: d.backend,
        weight,
        reason: 'OVERRIDE' as const,
        text:
          percent === 0
            ? `heuristic (${hd?.text ?? d.text}) under ${describe(by)}`
            : `${percent} % model (${d.weight.toFixed(3)}) + ${100 - percent} % heuristic (${hw.toFixed(3)}) under ${describe(by)}`,
        override: by.id,
      };
    });
    affected.set(by.id, entries.length);
  }
  const order: OverrideAction[] = ['scale-weight', 'set-weight', 'drain'];
  for (const action of order) {
    for (const o of p.overrides.filter((x) => x.action === action)) {
      const i = entries.findIndex((d) => d.backend === o.backend);
      if (i < 0) continue;
      const old = entries[i]!.weight;
      const wanted = action === 'drain' ? 0 : action === 'set-weight' ? o.weight! : old * o.factor!;
      entries = setShare(entries, i, wanted, action === 'scale-weight');
      entries[i] = {
        ...entries[i]!,
        reason: 'OVERRIDE',
        text: `${action} ${old.toFixed(3)} → ${entries[i]!.weight.toFixed(3)}: ${describe(o)}`,
        override: o.id,
      };
      affected.set(o.id, (affected.get(o.id) ?? 0) + 1);
    }
  }
  if (shadow === null && affected.size > 0) shadow = p.model;
  return { entries, overrides: refs(p.overrides, affected), enforcement: percent, shadow };
}

/**
 * Sets entry i's share to `wanted` and scales the others to fill the rest (1 − wanted) in their
 * proportions. With `scaled`, the backend keeps `wanted` relative
 * to the others instead: every share is renormalised after the change.
 */
function setShare<D extends WeightDecision>(
  entries: D[],
  i: number,
  wanted: number,
  scaled: boolean,
): D[] {
  const othersSum = entries.reduce((s, d, j) => (j === i ? s : s + d.weight), 0);
  if (scaled) {
    const total = othersSum + wanted;
    return entries.map((d, j) => ({
      ...d,
      weight: total > 0 ? (j === i ? wanted : d.weight) / total : 0,
    }));
  }
  // No other backend takes traffic (alone in the pool, or the rest drained): it is all or nothing.
  if (othersSum <= 0)
    return entries.map((d, j) => ({ ...d, weight: j === i && wanted > 0 ? 1 : 0 }));
  const rest = 1 - wanted;
  return entries.map((d, j) => ({
    ...d,
    weight: j === i ? wanted : (d.weight / othersSum) * rest,
  }));
}
