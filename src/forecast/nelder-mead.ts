/**
 * @module forecast/nelder-mead
 * Derivative-free minimisation in a box, for fitting forecaster parameters to a multi-step error
 * (which has no useful gradient). The Nelder–Mead simplex method (Nelder & Mead 1965, "A simplex
 * method for function minimization", Computer Journal 7(4)) with the standard coefficients
 * (reflection 1, expansion 2, contraction ½, shrink ½); points are clamped into the box, the
 * simplest of the bound-handling schemes (Luersen & Le Riche 2004 discuss others).
 */

export interface NelderMeadOptions {
  /** Lower and upper bounds per coordinate (default 0 and 1). */
  readonly lower?: readonly number[];
  readonly upper?: readonly number[];
  /** Initial simplex edge per coordinate (default 0.1 of the box width). */
  readonly step?: readonly number[];
  /** Most objective evaluations (default 200). */
  readonly maxEvals?: number;
  /** Stop when the best and worst vertex differ by less than this (default 1e-7 relative). */
  readonly tolerance?: number;
}

export interface Minimum {
  readonly x: number[];
  readonly value: number;
  readonly evals: number;
}

export function nelderMead(
  f: (x: readonly number[]) => number,
  start: readonly number[],
  options: NelderMeadOptions = {},
): Minimum {
  const d = start.length;
  const lower = options.lower ?? start.map(() => 0);
  const upper = options.upper ?? start.map(() => 1);
  const clamp = (x: number[]) => x.map((v, i) => Math.min(upper[i]!, Math.max(lower[i]!, v)));
  const maxEvals = options.maxEvals ?? 200;
  const tol = options.tolerance ?? 1e-7;
  let evals = 0;
  const evalAt = (x: number[]): { x: number[]; v: number } => {
    evals++;
    const v = f(x);
    return { x, v: Number.isFinite(v) ? v : Number.POSITIVE_INFINITY };
  };
  const simplex = [evalAt(clamp([...start]))];
  for (let i = 0; i < d; i++) {
    const x = [...start];
    const s = options.step?.[i] ?? 0.1 * (upper[i]! - lower[i]!);
    // Step inwards when the start sits on the upper bound.
    x[i] = x[i]! + s > upper[i]! ? x[i]! - s : x[i]! + s;
    simplex.push(evalAt(clamp(x)));
  }
  while (evals < maxEvals) {
    simplex.sort((a, b) => a.v - b.v);
    const best = simplex[0]!;
    const worst = simplex[d]!;
    if (Math.abs(worst.v - best.v) <= tol * (Math.abs(best.v) + 1e-12)) break;
    const centroid = new Array<number>(d).fill(0);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) centroid[j]! += simplex[i]!.x[j]! / d;
    const along = (t: number) => clamp(centroid.map((c, j) => c + t * (c - worst.x[j]!)));
    const r = evalAt(along(1));
    if (r.v < best.v) {
      const e = evalAt(along(2));
      simplex[d] = e.v < r.v ? e : r;
    } else if (r.v < simplex[d - 1]!.v) {
      simplex[d] = r;
    } else {
      const c = r.v < worst.v ? evalAt(along(0.5)) : evalAt(along(-0.5));
      if (c.v < Math.min(r.v, worst.v)) {
        simplex[d] = c;
      } else {
        for (let i = 1; i <= d; i++) {
          const x = simplex[i]!.x.map((v, j) => best.x[j]! + 0.5 * (v - best.x[j]!));
          simplex[i] = evalAt(clamp(x));
        }
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  return { x: simplex[0]!.x, value: simplex[0]!.v, evals };
}
