/**
 * @module learn/eviction/ablation
 * Ceilings of the learned policy that READ THE FUTURE, for the eviction bench only: each is
 * {@link LearnedPolicy} with one of its two learned decisions replaced by the right answer (or
 * given part of it), so the bench shows how much of the LRU → Bélády gap each decision leaves on
 * the table (an ablation in the sense of Song et al.'s LRB, NSDI'20, which compares its learned
 * policy with "relaxed Bélády" the same way). Like `belady`, they are marked `usesFuture`, so
 * the simulator gives them `nextAccessVtime` and no other policy; `learned` itself never
 * defines the hooks (its leakage test proves it reads no future).
 *
 * - `learned-oracle-victim`: the main cache evicts, among the same 16 sampled candidates, the one
 *   whose next request is farthest (sampled relaxed Bélády); admission stays learned.
 * - `learned-oracle-admission`: a key leaving probation is promoted iff it is requested again
 *   within {@link ORACLE_ADMISSION_HORIZON_T}·T (whether or not it was hit in probation); victim
 *   choice stays learned.
 * - `learned-oracle-1t` and `learned-oracle-4t`: the victim choice knows which of the 16
 *   candidates are requested again within 1 T (the tabular agent's own horizon) / 4 T, and
 *   nothing more: it evicts, among those that are not, the one the agent values most (the
 *   farthest if every candidate is back within the horizon). They measure how much of the gap
 *   perfect answers to the agent's own question would close, and to a question four times as long.
 *
 * None is a deployable policy, and none is part of `--policies all`; name them to run them.
 */
import type { CacheRequest } from '../../policy/eviction-policy.js';

import { LearnedPolicy } from './learned-policy.js';

export const ORACLE_VICTIM_ID = 'learned-oracle-victim';
export const ORACLE_ADMISSION_ID = 'learned-oracle-admission';
/** Victim choice told which candidates are back within 1 T / 4 T ({@link OracleLabelAblation}). */
export const ORACLE_LABEL_IDS = { 1: 'learned-oracle-1t', 4: 'learned-oracle-4t' } as const;
/** The ablation ceilings: registered, but run only when named. */
export const ABLATION_POLICY_IDS: readonly string[] = [
  ORACLE_VICTIM_ID,
  ORACLE_ADMISSION_ID,
  ORACLE_LABEL_IDS[1],
  ORACLE_LABEL_IDS[4],
];

/**
 * Horizon of the admission ceiling, in units of T: a promoted key is one requested again within
 * it (4 T measured best of 1, 2 and 4 T on the open traces).
 */
export const ORACLE_ADMISSION_HORIZON_T = 4;

/** Shared part: remembers each key's next request position as the simulator hands it over. */
abstract class FutureReading extends LearnedPolicy {
  override readonly usesFuture: boolean = true;
  private readonly nextAt = new Map<string, number>();
  /** Position of the request being handled. */
  protected nowTick = 0;

  override access(req: CacheRequest): boolean {
    const next = req.nextAccessVtime;
    if (next === undefined) throw new Error(`${this.id} needs nextAccessVtime (usesFuture)`);
    this.nextAt.set(req.key, next < 0 ? Infinity : next);
    this.nowTick = req.vtime;
    return super.access(req);
  }

  /** Position of the key's next request (Infinity: none). */
  protected nextRequest(key: string): number {
    return this.nextAt.get(key) ?? Infinity;
  }

  /** Index of the candidate whose next request is farthest (the first of equals). */
  protected farthest(candidates: readonly { readonly key: string }[]): number {
    let best = 0;
    for (let i = 1; i < candidates.length; i++) {
      if (this.nextRequest(candidates[i]!.key) > this.nextRequest(candidates[best]!.key)) best = i;
    }
    return best;
  }
}

export class OracleVictimAblation extends FutureReading {
  override readonly id: string = ORACLE_VICTIM_ID;

  protected override victimOverride(candidates: readonly { readonly key: string }[]): number {
    return this.farthest(candidates);
  }
}

export class OracleAdmissionAblation extends FutureReading {
  override readonly id: string = ORACLE_ADMISSION_ID;

  protected override admissionOverride(key: string): boolean {
    return (
      this.nextRequest(key) - this.nowTick <= ORACLE_ADMISSION_HORIZON_T * this.timeScaleRequests
    );
  }
}

/**
 * The victim choice with perfect labels at horizon `horizonT`·T: among the candidates not
 * requested again within it, the one the agent values most; the farthest if there is none.
 */
export class OracleLabelAblation extends FutureReading {
  override readonly id: string;

  constructor(
    opts: ConstructorParameters<typeof LearnedPolicy>[0],
    private readonly horizonT: keyof typeof ORACLE_LABEL_IDS,
  ) {
    super(opts);
    this.id = ORACLE_LABEL_IDS[horizonT];
  }

  protected override victimOverride(candidates: readonly { readonly key: string }[]): number {
    const B = this.horizonT * this.timeScaleRequests;
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < candidates.length; i++) {
      if (this.nextRequest(candidates[i]!.key) - this.nowTick <= B) continue;
      const v = this.candidateValue(i);
      if (v > bestValue) {
        bestValue = v;
        best = i;
      }
    }
    return best >= 0 ? best : this.farthest(candidates);
  }
}
