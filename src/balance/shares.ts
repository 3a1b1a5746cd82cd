/**
 * @module balance/shares
 * Share post-processing every weigher may use: normalise raw scores to shares, keep every
 * eligible backend at or above a floor, and limit how far a share moves from the one published
 * last (`WeighContext.previous`). The limit is the Euclidean projection of the target shares
 * onto {sum = 1, lo ≤ w ≤ hi}: the smallest change that satisfies every bound, found by
 * bisection on a common offset (the bounds are boxes, so the offset is monotone).
 */

/** Bounds on shares. */
export interface ShareLimits {
  /** Smallest share of a backend (0..1); lowered to 1/n when n backends could not all get it. */
  readonly floorShare: number;
  /** Largest change of a share per decision (absolute, 0..1) when a previous share is known. */
  readonly maxStepShare: number;
}

/** No floor, no step limit: the classic weighers' published behaviour. */
export const NO_LIMITS: ShareLimits = { floorShare: 0, maxStepShare: 1 };

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Raw non-negative scores → shares summing to 1; equal shares when nothing usable is left. */
export function normalise(scores: readonly number[]): number[] {
  const clean = scores.map((s) => (Number.isFinite(s) && s > 0 ? s : 0));
  const total = sum(clean);
  if (!(total > 0) || !Number.isFinite(total)) return scores.map(() => 1 / scores.length);
  return clean.map((s) => s / total);
}

/** The floor actually applied to n backends (n × floor ≤ 1). */
export function effectiveFloor(limits: ShareLimits, n: number): number {
  return n === 0 ? 0 : Math.min(Math.max(0, limits.floorShare), 1 / n);
}

/**
 * Target shares (sum 1) → published shares. `pinned[i]` backends (ejected) get exactly the floor
 * and are exempt from the step limit (safety beats smoothness). `previous[i]` undefined means the
 * backend had no published share (a new backend starts from 0, so it enters at most one step).
 */
export function limitShares(
  target: readonly number[],
  previous: readonly (number | undefined)[] | undefined,
  limits: ShareLimits,
  pinned?: readonly boolean[],
): number[] {
  const n = target.length;
  if (n === 0) return [];
  const floor = effectiveFloor(limits, n);
  const t = normalise(target);
  const isPinned = (i: number) => pinned?.[i] === true;
  const free = t.map((_, i) => i).filter((i) => !isPinned(i));
  const out = t.map((_, i) => (isPinned(i) ? floor : 0));
  if (free.length === 0) return normalise(out);
  const mass = 1 - floor * (n - free.length);
  const step = Math.max(0, limits.maxStepShare);
  let prev: number[] | undefined;
  if (previous !== undefined && previous.some((p) => p !== undefined)) {
    const raw = previous.map((p) => (p !== undefined && Number.isFinite(p) && p > 0 ? p : 0));
    const total = sum(raw);
    prev = total > 0 ? raw.map((p) => p / total) : undefined;
  }
  const lo: number[] = [];
  const hi: number[] = [];
  const tf = normalise(free.map((i) => t[i]!)).map((x) => x * mass);
  for (const i of free) {
    const p = prev?.[i];
    const l = p === undefined ? floor : Math.max(floor, p - step);
    const h = p === undefined ? 1 : Math.min(1, p + step);
    lo.push(l);
    hi.push(Math.max(l, h));
  }
  const sumLo = sum(lo);
  const sumHi = sum(hi);
  let w: number[];
  if (tf.every((x, k) => x >= lo[k]! && x <= hi[k]!)) {
    w = tf; // Already within bounds: published as computed, bit for bit.
  } else if (sumLo >= mass) {
    // Floors (and step-down limits) alone exceed the mass: scale the lower bounds down.
    w = lo.map((l) => (l * mass) / sumLo);
  } else if (sumHi <= mass) {
    // Ejections freed more mass than the step limit lets the others absorb: spread the rest.
    const room = hi.map((h) => 1 - h);
    const totalRoom = sum(room);
    w = hi.map((h, k) => h + (totalRoom > 0 ? ((mass - sumHi) * room[k]!) / totalRoom : 0));
  } else {
    const at = (lambda: number) => tf.map((x, k) => Math.min(hi[k]!, Math.max(lo[k]!, x + lambda)));
    let a = -1;
    let b = 1;
    for (let it = 0; it < 100; it++) {
      const m = (a + b) / 2;
      if (sum(at(m)) < mass) a = m;
      else b = m;
    }
    w = at((a + b) / 2);
    // Remove the bisection residue on the backends with slack, keeping the bounds.
    const err = sum(w) - mass;
    const k = w.findIndex((x, j) => x - err >= lo[j]! && x - err <= hi[j]!);
    if (k >= 0) w[k] = w[k]! - err;
  }
  free.forEach((i, k) => (out[i] = w[k]!));
  return out;
}
