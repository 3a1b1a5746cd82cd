/**
 * @module learn/eviction/learned-policy
 * `LearnedPolicy` (id `learned`): a sampled-candidate eviction policy whose victim choice is
 * learned online from the request stream, framed as a contextual bandit with delayed reward.
 *
 * - **State / context**: for each of `k` resident candidates sampled uniformly at random (LRB's
 *   candidate sampling, Song et al. NSDI'20; Redis-style sampling), its online features
 *   ({@link extractFeatures}: idle time, 4 recent gaps, decayed counts, access count, size,
 *   lifetime, all relative to the time scale T = capacity) plus the popularity predictor's logit.
 * - **Action**: which candidate to evict.
 * - **Reward** (delayed, observed without looking ahead: the ghost list remembers evicted keys
 *   for a window W, so a victim's return is seen): for the tabular agent, 1 when a candidate is
 *   not requested again within B, 0 when it is; for the network agent, log1p(min(d, W) / T) for a
 *   return d requests later, the soft, log-scaled form of Bélády's "evict the farthest next use".
 * - **Tabular agent** (the default, `agentKind: 'table'`, ./victim-table.ts): the value of a key
 *   is the logit of P(not requested within B = `tableHorizonT`·T) for its cell of (idle time,
 *   access count, last gap), counted online from every sampled candidate of every main-cache
 *   eviction (full information: each candidate's return within B is observed, chosen or not).
 *   Four more views of a key (its mean gap, its last gap minus its idle time, its lifetime and
 *   its second-last gap) are counted the same way in tables of their own, and once the table
 *   has `victimViewsMinLabels` labels the value adds their logits (`victimViews`;
 *   docs/learning.md, "Three views of a key" and "Two more views").
 *   Boosted trees over the candidates' whole feature vectors, fitted to the same labels and
 *   refitted as they arrive, add their logit too once fitted (`victimBoost`, ./boosted-trees.ts;
 *   docs/learning.md, "Boosted trees beside the tables").
 *   The victim is the candidate of highest value, the least recently used within a cell. It
 *   replaced the network agent below as the default (docs/learning.md, "The tabular agent").
 * - **Network agent** (`agentKind: 'network'`): Q(c) = E[reward | features] is fitted by
 *   regression (fitted-Q for one step) on logged decisions: each eviction logs the victim and a
 *   random non-chosen candidate; because the trace keeps flowing, the reward of *not* chosen
 *   candidates is observed as well (full-information feedback), so the data are not biased
 *   towards the agent's own choices. The policy evicts argmax Q among the candidates.
 * - **Popularity predictor**: P(key requested again within H = `horizonT`·T), a logistic network
 *   trained on random resident keys sampled at random requests, labelled when they are requested
 *   again (1) or when H has passed without a request (0) — labels known at training time only.
 *   It decides admission out of probation until the admission table below has enough labels
 *   (or always, with `admissionAgent: 'predictor'`); its P(reuse) is shown in every explanation
 *   of the tabular agent, and its logit is an input of the network agent.
 * - **Training schedule**: the networks retrain synchronously in tfjs (minibatch Adam,
 *   {@link MlpTrainer}) at request counts fixed in advance: first once enough labels exist, then
 *   every max(`retrainMinRequests`, `retrainFraction`·t) requests, on bounded ring buffers of the
 *   most recent labelled samples. Weights are copied into plain JS for scoring. The tabular
 *   agent learns with every label; each retrain's model carries a snapshot of its values.
 * - **Honest online protocol**: at request t only requests ≤ t are used, `nextAccessVtime` is never
 *   read, and nothing depends on wall-clock time: replaying a prefix gives the same decisions.
 * - **Fallback**: before the first retrain the victim is the least recently used of the sampled
 *   candidates (sampled LRU), with reason `FALLBACK`.
 * - **Regret guard** (LeCaR / CACHEUS-style experts, full information): at every eviction the
 *   model and sampled LRU each propose a victim from the same sample; a proposal whose key is
 *   requested again within `guardWindowT`·T is charged to its proposer (a real ghost hit if it
 *   was executed, a counterfactual one if not). Charges decay (half-life `guardHalfLifeT`·T);
 *   while LRU's charges are below `guardRatio` × the model's, LRU's proposal is evicted
 *   (reason `HEURISTIC`). This is what keeps the policy near LRU where the model is wrong
 *   (orm-busy); it costs a few points where the model is right (see docs/learning-eviction.md).
 *
 * - **Probationary FIFO and learned admission** (S3-FIFO's structure, Yang et al., SOSP'23): new
 *   keys enter a FIFO of `probationFraction` of the capacity; the agent above chooses victims
 *   only in the main part. A key leaving the FIFO is promoted to main if it was hit there or by
 *   the learned admission decision; else it goes to the ghost list. A miss on a key last
 *   requested at most `ghostAdmitT`·T ago enters main directly. `probationFraction: 0` turns all
 *   this off.
 * - **Admission table** (the default, `admissionAgent: 'table'`): the same bandit as the
 *   tabular agent, one decision earlier. Every key leaving probation — hit there or not, with
 *   `admitHitsByTable` — is logged in its cell of (idle time, access count, last gap) and
 *   labelled by whether it is requested again within A = `admissionHorizonT`·T, observed whether
 *   it was promoted or not (full information). It is promoted when its cell's P(back within A)
 *   is at least the measured share of the main cache's own victims back within A (a decayed
 *   rate, one cell of the same learner): promoting a key costs one main-cache eviction, so it
 *   pays when the key is likelier back than what it displaces (TinyLFU's admission test,
 *   Einziger et al., ToS'17, against the average victim instead of the next one). Until the
 *   table decides, a hit key is promoted (S3-FIFO) and the predictor judges the others.
 * - **Structure duel** (./structure-duel.ts, miniature simulation after Waldspurger et al., ATC'17):
 *   two shadow caches replay the requests, one with the probationary structure and an LRU main
 *   part, one plain LRU. While LRU's shadow has more recent hits than the other's (credited with
 *   the real cache's measured lead over it), every key enters main (no probation): this keeps the
 *   policy within half a point of LRU on the traces where the probation loses (docs/learning.md).
 *   The victims of such an LRU spell are the sampled LRU's (reason `HEURISTIC`) until the tabular
 *   agent has `duelVictimMinLabels` labels, then the agent's, under the regret guard, as outside
 *   the spells (`duelLearnedVictims`). `duelRate: 0` turns the duel off.
 *
 * Drawn on: LRB (Song et al., NSDI'20: sampling, relaxed-Bélády labels from a sliding memory
 * window), LeCaR / CACHEUS (Vietri et al., HotStorage'18; Rodriguez et al., FAST'21: regret from a
 * ghost list of recent victims), GL-Cache (Yang et al., FAST'23) and HALP (Song et al., NSDI'23:
 * learned scores over heuristic-shaped candidates). No code was copied.
 */

import type { EvictionDecision } from '../../decisions.js';
import type { CacheRequest, EvictionPolicy, PolicyOptions } from '../../policy/eviction-policy.js';
import type { Tf } from '../tf.js';

import {
  BOOST_FEATURES,
  BoostLearner,
  boostBytes,
  boostFeatures,
  boostMargin,
} from './boosted-trees.js';
import { explainAdmission, explainFallback, explainKey } from './explain.js';
import {
  AGENT_FEATURES,
  BASE_FEATURES,
  extractFeatures,
  type FeatureClock,
  type KeyStats,
  recordAccess,
} from './features.js';
import { Rng } from './rng.js';
import {
  clampLogit,
  type EvictionModel,
  type MlpWeights,
  mlpBytes,
  mlpForward,
  ScoreScratch,
  scoreKey,
  sigmoid,
} from './scorer.js';
import { StructureDuel } from './structure-duel.js';
import { MlpTrainer } from './trainer.js';
import {
  backProbability,
  cellOf,
  LabelSlot,
  type PendingLabel,
  stateCoordinates,
  stateScore,
  type TableLogged,
  VICTIM_STATE_COORDINATES,
  VICTIM_TABLE_CELLS,
  VICTIM_TABLE_VIEWS,
  type VictimTable,
  victimCell,
  VictimTableLearner,
  viewBinsOf,
} from './victim-table.js';

/** Tunables of {@link LearnedPolicy}; every default is here. */
export interface LearnedPolicySettings {
  /** Candidates sampled per eviction. */
  readonly sampleSize: number;
  /**
   * Memory window W (ghost list, label censoring, the unknown-gap value), in units of T: 64 since
   * 2026-12-07 (16 before; docs/learning.md, "Longer memory, adopted").
   */
  readonly windowT: number;
  /** Popularity horizon H, in units of T. */
  readonly horizonT: number;
  /** Reward discount τ, in units of T. */
  readonly discountT: number;
  /** Probability per request of logging one random resident key for the predictor. */
  readonly predictorSampleRate: number;
  /** Labelled rows kept per network (ring buffer). */
  readonly bufferRows: number;
  /** Labelled rows needed per network before the first training. */
  readonly minRows: number;
  readonly retrainMinRequests: number;
  readonly retrainFraction: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly hidden: number;
  readonly learningRate: number;
  /**
   * Half-life (units of T) of the regret guard's decayed would-be-miss counts; 0 turns the
   * guard off (the model always decides once trained).
   */
  readonly guardHalfLifeT: number;
  /**
   * The LRU expert decides only while its decayed would-be misses are below this fraction of
   * the model's (hysteresis: the model is not overruled on noise).
   */
  readonly guardRatio: number;
  /**
   * ... and only while the difference is significant: model − LRU > `guardZ`·√(model + LRU)
   * (the charges are roughly Poisson counts).
   */
  readonly guardZ: number;
  /** A proposal is charged when its key returns within this many T (default: the window W). */
  readonly guardWindowT: number;
  /** Keep an explained {@link EvictionDecision} for each of the last N evictions (0: off). */
  readonly decisionLog: number;
  /**
   * Share of the capacity given to the probationary FIFO that new keys enter (S3-FIFO's small
   * queue); 0 turns it off (every key enters the learned main cache).
   */
  readonly probationFraction: number;
  /** A key leaving probation with at least this many hits there is promoted to main. */
  readonly promoteHits: number;
  /**
   * A miss on a remembered key whose previous request was at most this many T ago enters main
   * directly (S3-FIFO's ghost hit; its ghost holds about that many requests' worth of victims).
   */
  readonly ghostAdmitT: number;
  /**
   * Learned admission: once trained, a key leaving probation without hits is still promoted
   * when the popularity predictor gives P(reuse within H) ≥ this; > 1 turns it off.
   */
  readonly promoteProbability: number;
  /**
   * Before the first eviction, keys that find probation full enter main until main holds this
   * share of the capacity (0: never; the rest wait in probation).
   */
  readonly warmupMainFraction: number;
  /**
   * Structure duel (probationary structure vs plain LRU, by shadow caches): share of the keys
   * replayed into the two shadows, sampled by hash; 0 turns the duel off.
   */
  readonly duelRate: number;
  /** Half-life of the duel's hit counts, in units of T. */
  readonly duelHalfLifeT: number;
  /** The duel's leader changes when the other side leads by more than z × √(sum of both). */
  readonly duelZ: number;
  /**
   * During the duel's LRU spells (LRU's structure in use: every key enters main), the main
   * cache's victims are still the tabular agent's, under the regret guard, once its table has
   * counted `duelVictimMinLabels` labels; before that, or with `false`, they are the sampled
   * LRU's. The duel judges the structure (probation or not), not the victim choice.
   */
  readonly duelLearnedVictims: boolean;
  /**
   * Labels the tabular agent needs before it chooses victims during an LRU spell (8 × its first
   * model's `minTableLabels`): a spell starts where the probation loses, often early in a trace,
   * where the first tables pick worse victims than LRU.
   */
  readonly duelVictimMinLabels: number;
  /**
   * Learned admission must also beat the main cache's victims: a key leaving probation without
   * hits is promoted only when its P(reuse within H) is at least the decayed mean P(reuse) of the
   * keys the main cache has been evicting (and at least `promoteProbability`). Promoting a key
   * costs a main-cache eviction, so a key less likely back than those victims is a loss
   * (TinyLFU's admission rule, against the average victim instead of the next one).
   */
  readonly admitAboveVictims: boolean;
  /** Weight of each main-cache eviction in that decayed mean (an EWMA; 1/256: half-life ≈ 177 evictions). */
  readonly victimReuseWeight: number;
  /**
   * Which agent chooses the main cache's victims: `table`, the tabular agent
   * (./victim-table.ts: P(not requested within `tableHorizonT`·T) per cell of idle time, access
   * count and last gap, learned from every sampled candidate), or `network`, the tfjs network
   * agent fitted on the log-distance reward of logged decisions.
   */
  readonly agentKind: 'table' | 'network';
  /** The tabular agent's horizon B, in units of T. */
  readonly tableHorizonT: number;
  /**
   * The tabular agent also counts its four extra views of a key (./victim-table.ts,
   * `VICTIM_TABLE_VIEWS`: the mean gap over the key's lifetime, the last gap minus the idle
   * time, the lifetime and the second-last gap), each in a table of its own, and adds their
   * logits to the base table's.
   */
  readonly victimViews: boolean;
  /**
   * The views enter the agent's value once its table has counted this many labels: young
   * tables added are noisier than one (orm-busy 1 %, seed 5, dipped −0.77 points under LRU early
   * with the views from the first label).
   */
  readonly victimViewsMinLabels: number;
  /** The tabular agent halves all its counts every this many labels (old traffic fades). */
  readonly tableHalveEvery: number;
  /**
   * The tabular agent also fits boosted trees (./boosted-trees.ts) to its labels, from each
   * candidate's whole feature vector, and adds their logit of P(not requested within B) to the
   * tables' (docs/learning.md, "Boosted trees beside the tables").
   */
  readonly victimBoost: boolean;
  /**
   * The trees' first fit waits for this many labels; later fits follow as the labels double.
   * Fitted from 8,192 labels, the first trees took orm-busy 1 % (seed 5) 0.88 points under LRU
   * early on; from 16,384, 0.30 (docs/learning.md, "Boosted trees beside the tables").
   */
  readonly boostMinLabels: number;
  /** Fits are at most this many labels apart (the schedule doubles until then). */
  readonly boostEvery: number;
  /** The trees are fitted to the most recent this many labels (a ring of training rows). */
  readonly boostRows: number;
  /**
   * The tabular agent's first model waits until the table has counted this many labels (about 6
   * per cell; `minRows` still applies to the predictor). A table fitted on a few hundred labels
   * ranks victims worse than LRU, and with the regret guard at 0.2 that showed as a dip early in
   * oltp at 5 % (docs/learning.md, "The guard at 0.2").
   */
  readonly minTableLabels: number;
  /**
   * What admits a key leaving probation to the main cache: `table`, the admission table
   * (P(requested again within `admissionHorizonT`·T) per cell of the tabular agent's state,
   * counted from every exit it judges, promoted or not) against the measured rate at which the
   * main cache's own victims come back within that horizon; or `predictor`, the popularity
   * network against `promoteProbability` and its victims' mean (`admitAboveVictims`), for keys
   * not hit in probation (hit keys are promoted). The predictor's rule also applies while the
   * table has fewer than `admissionMinLabels` labels.
   */
  readonly admissionAgent: 'table' | 'predictor';
  /** The admission table's horizon A, in units of T. */
  readonly admissionHorizonT: number;
  /** Labels the admission table needs before it decides. */
  readonly admissionMinLabels: number;
  /**
   * The admission table halves all its counts every this many labels: sooner than the victim
   * table (`tableHalveEvery`), since most probation exits are first requests, which share a few
   * cells whose rate follows the traffic mix.
   */
  readonly admissionHalveEvery: number;
  /**
   * The admission table also judges keys hit in probation (S3-FIFO promotes them all): once it
   * decides, a hit key is promoted only if its cell's P(back within A) reaches the bar too, and
   * every probation exit, hit or not, is one of its labelled examples.
   */
  readonly admitHitsByTable: boolean;
  /** Main-cache victims labelled before their return rate is used as the admission bar. */
  readonly admissionBarMinLabels: number;
  /** The victims' return rate halves its counts every this many labels (it follows the traffic). */
  readonly admissionBarHalveEvery: number;
}

export const DEFAULT_LEARNED_SETTINGS: LearnedPolicySettings = {
  sampleSize: 16,
  windowT: 64,
  horizonT: 2,
  discountT: 2,
  predictorSampleRate: 0.25,
  bufferRows: 4096,
  minRows: 512,
  retrainMinRequests: 20_000,
  retrainFraction: 0.1,
  epochs: 3,
  batchSize: 512,
  hidden: 8,
  learningRate: 0.01,
  guardHalfLifeT: 8,
  guardRatio: 0.2,
  guardZ: 0,
  guardWindowT: 2,
  decisionLog: 0,
  probationFraction: 0.1,
  promoteHits: 1,
  ghostAdmitT: 4,
  promoteProbability: 0.3,
  warmupMainFraction: 0.5,
  duelRate: 1,
  duelHalfLifeT: 64,
  duelZ: 0,
  duelLearnedVictims: true,
  duelVictimMinLabels: 32_768,
  admitAboveVictims: true,
  victimReuseWeight: 1 / 256,
  agentKind: 'table',
  tableHorizonT: 1,
  victimViews: true,
  victimViewsMinLabels: 65_536,
  tableHalveEvery: 262_144,
  victimBoost: true,
  boostMinLabels: 16_384,
  boostEvery: 131_072,
  boostRows: 65_536,
  minTableLabels: 4_096,
  admissionAgent: 'table',
  admissionHorizonT: 2,
  admissionMinLabels: 1_024,
  admissionHalveEvery: 16_384,
  admitHitsByTable: true,
  admissionBarMinLabels: 256,
  admissionBarHalveEvery: 2_048,
};

export interface LearnedPolicyOptions extends PolicyOptions {
  /** The loaded tfjs instance (`(await loadTf()).tf`). */
  readonly tf: Tf;
  readonly settings?: Partial<LearnedPolicySettings>;
}

/**
 * A remembered key. A class (not an object spread) so every entry has one hidden class and the
 * hot path's property reads stay monomorphic.
 */
class Entry implements KeyStats, TableLogged {
  lastTick: number;
  firstTick: number;
  accesses = 1;
  gap1 = Number.NaN;
  gap2 = Number.NaN;
  gap3 = Number.NaN;
  gap4 = Number.NaN;
  count1 = 1;
  count2 = 1;
  count3 = 1;
  sizeBytes: number;
  logGap1 = Number.NaN;
  logGap2 = Number.NaN;
  logGap3 = Number.NaN;
  logGap4 = Number.NaN;
  /** Index in the resident (main) array, or −1 when in probation or only remembered (ghost). */
  slot = -1;
  /** In the probationary FIFO. */
  probation = false;
  /** Hits while in probation. */
  probationHits = 0;
  /** Serial of its latest entry in the ghost queue (stale queue items are skipped). */
  ghostSeq = 0;
  predPending: Pending | null = null;
  agentPending: Pending | null = null;
  /** Tick at which the model / the LRU expert last proposed this key as victim (−1: not since its last access). */
  proposedByModel = -1;
  proposedByLru = -1;
  /** The tabular agent's label this key awaits as a logged candidate. */
  tablePending: PendingLabel | null = null;
  /** Its label as a probation exit (admission table) / as a main-cache victim (the bar). */
  admissionSlot: LabelSlot | null = null;
  victimSlot: LabelSlot | null = null;

  constructor(
    readonly key: string,
    tick: number,
    sizeBytes: number,
  ) {
    this.lastTick = tick;
    this.firstTick = tick;
    this.sizeBytes = sizeBytes;
  }
}

interface Pending {
  readonly entry: Entry;
  readonly tick: number;
  readonly x: Float64Array;
  done: boolean;
}

/** A FIFO of pending samples (array + head index, compacted now and then). */
class PendingQueue {
  items: Pending[] = [];
  head = 0;
  push(p: Pending): void {
    this.items.push(p);
  }
  peek(): Pending | undefined {
    return this.items[this.head];
  }
  shift(): void {
    this.head++;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  get size(): number {
    return this.items.length - this.head;
  }
}

/** A ring buffer of labelled rows. */
class RowBuffer {
  readonly x: Float64Array;
  readonly y: Float64Array;
  rows = 0;
  private next = 0;
  constructor(
    readonly capacity: number,
    readonly width: number,
  ) {
    this.x = new Float64Array(capacity * width);
    this.y = new Float64Array(capacity);
  }
  add(x: Float64Array, y: number): void {
    this.x.set(x.subarray(0, this.width), this.next * this.width);
    this.y[this.next] = y;
    this.next = (this.next + 1) % this.capacity;
    if (this.rows < this.capacity) this.rows++;
  }
  get bytes(): number {
    return 8 * (this.x.length + this.y.length);
  }
}

/** What the policy's learned state costs, in bytes (approximate for JS objects). */
export interface LearnedMemoryReport {
  /** Plain-JS weights of both networks. */
  readonly modelBytes: number;
  /** tfjs variables + Adam slots (float32). */
  readonly tfBytes: number;
  readonly bufferBytes: number;
  /**
   * The tabular agent's counts, values and pending labels, and its trees' training rows and fit
   * (0 with the network agent).
   */
  readonly tableBytes: number;
  /** Remembered keys (resident + ghost) × 520 bytes each (measured, see ENTRY_BYTES). */
  readonly keyMetadataBytes: number;
  readonly rememberedKeys: number;
  readonly pendingSamples: number;
  /**
   * The structure duel's two shadow caches: their slot tables' typed arrays, key references and
   * key index (`SlotTable.bytes`; the key strings excluded).
   */
  readonly duelBytes: number;
}

/**
 * A remembered key: its `Entry` (27 fields; a double field is a boxed number), its label slots
 * for admission and the bar, and its Map entry. Measured on Node 20 with `--expose-gc`: 200,000
 * copies of this class's shape in a Map took 404 B per key new, 517 B after five accesses with
 * both slots (the key strings excluded: the trace or the caller holds them).
 */
const ENTRY_BYTES = 520;
const DUEL_LRU_REASON =
  "structure duel: plain LRU's shadow cache is ahead of the probationary structure's, " +
  'so the least recently used of the sampled keys goes';

export class LearnedPolicy implements EvictionPolicy {
  readonly id: string = 'learned';
  readonly usesFuture: boolean = false;
  evictions = 0;
  used = 0;
  /** Retrains done so far. */
  retrains = 0;
  /** Evictions decided by the model / by the fallback rule. */
  modelEvictions = 0;
  fallbackEvictions = 0;
  /** Evictions where the regret guard preferred the LRU expert (reason `HEURISTIC`). */
  guardEvictions = 0;
  /** Evictions by sampled LRU while the structure duel had LRU's structure in use (`HEURISTIC`). */
  duelEvictions = 0;
  /** Evictions in those LRU spells chosen by the tabular agent or its guard (`duelLearnedVictims`). */
  duelAgentEvictions = 0;
  /** The last explained decisions (when `settings.decisionLog` > 0), oldest first. */
  readonly decisions: EvictionDecision[] = [];

  private readonly s: LearnedPolicySettings;
  private readonly capacity: number;
  private readonly bytes: boolean;
  private readonly rng: Rng;
  private readonly entries = new Map<string, Entry>();
  /** The learned main cache (candidates are sampled from it). */
  private readonly resident: Entry[] = [];
  /** The probationary FIFO: new keys, oldest at `probationHead`. */
  private probationQueue: Entry[] = [];
  private probationHead = 0;
  private probationUsed = 0;
  private probationCap: number;
  private readonly fullProbationCap: number;
  private readonly duel: StructureDuel | null;
  /** The duel's leader is plain LRU: no probation, sampled-LRU victims. */
  private lruMode = false;
  /** Keys moved from probation to main / of which on the predictor's word (learned admission). */
  promotions = 0;
  learnedPromotions = 0;
  /** Probation exits the predictor judged (promoted or evicted). */
  admissionDecisions = 0;
  /**
   * Decayed mean of the predictor's P(reuse within H) over the main cache's victims since the
   * first model (NaN before): the admission bar with `admitAboveVictims`.
   */
  private victimReuse = Number.NaN;
  /** Evictions out of probation (included in `evictions`). */
  probationEvictions = 0;
  /**
   * Evicted keys still remembered (the ghost list), in eviction order: a queue of (entry, serial)
   * where items whose key came back or was evicted again are stale and skipped.
   */
  private ghostQueue: Entry[] = [];
  private ghostSeqs: number[] = [];
  private ghostHead = 0;
  private ghostCount = 0;
  private ghostSerial = 0;
  private readonly predQueue = new PendingQueue();
  private readonly agentQueue = new PendingQueue();
  private readonly predBuffer: RowBuffer;
  /** The network agent's training rows and trainer (agent kind `network` only). */
  private readonly agentBuffer: RowBuffer | null;
  private readonly predictor: MlpTrainer;
  private readonly agent: MlpTrainer | null;
  /** The tabular agent (agent kind `table` only). */
  private readonly table: VictimTableLearner | null;
  /**
   * Admission by table (`admissionAgent: 'table'`): P(back within A) per cell of keys leaving
   * probation (hit there too, with `admitHitsByTable`), and the share of main-cache victims back
   * within A (one cell).
   */
  private readonly admissionTable: VictimTableLearner | null;
  private readonly victimReturns: VictimTableLearner | null;
  /**
   * The live logits of the tabular agent's extra views (`victimViews`, counted by `table`), as a
   * model's `victimTable.views` holds them (undefined: no views).
   */
  private readonly liveViews: VictimTable['views'];
  private model: EvictionModel | null = null;
  private readonly scratch = new ScoreScratch();
  private readonly candidates: Entry[] = [];
  private nextRetrain: number;
  /** Regret guard: decayed counts of would-be misses caused by each expert's proposals. */
  private regretModel = 0;
  private regretLru = 0;
  private regretTick = 0;
  private timeScale: number;
  private sizeSum = 0;
  private sizeCount = 0;
  private clock: { nowTick: number; timeScale: number; missingGapT: number };

  constructor(opts: LearnedPolicyOptions) {
    this.s = { ...DEFAULT_LEARNED_SETTINGS, ...opts.settings };
    this.capacity = opts.capacity;
    this.bytes = opts.unit === 'bytes';
    this.probationCap =
      this.s.probationFraction > 0 && opts.capacity > 1
        ? Math.max(1, Math.floor(opts.capacity * this.s.probationFraction))
        : 0;
    this.fullProbationCap = this.probationCap;
    this.duel =
      this.s.duelRate > 0 && this.probationCap > 0
        ? new StructureDuel(
            {
              capacity: opts.capacity,
              bytes: this.bytes,
              rate: this.s.duelRate,
              halfLifeT: this.s.duelHalfLifeT,
              z: this.s.duelZ,
              probation: {
                probationFraction: this.s.probationFraction,
                promoteHits: this.s.promoteHits,
                ghostAdmitT: this.s.ghostAdmitT,
              },
            },
            this.bytes ? 1 : opts.capacity,
          )
        : null;
    const seed = opts.seed ?? 1;
    this.rng = new Rng(seed);
    this.timeScale = Math.max(1, this.bytes ? 1 : opts.capacity);
    this.clock = { nowTick: 0, timeScale: this.timeScale, missingGapT: this.s.windowT };
    this.predBuffer = new RowBuffer(this.s.bufferRows, BASE_FEATURES);
    const network = this.s.agentKind === 'network';
    this.agentBuffer = network ? new RowBuffer(this.s.bufferRows, BASE_FEATURES) : null;
    this.table = network
      ? null
      : new VictimTableLearner(
          this.s.tableHorizonT,
          this.s.tableHalveEvery,
          VICTIM_TABLE_CELLS,
          this.s.victimViews ? VICTIM_TABLE_VIEWS.length : 0,
          this.s.victimBoost
            ? new BoostLearner(this.s.boostRows, this.s.boostMinLabels, this.s.boostEvery)
            : null,
        );
    this.liveViews =
      this.table === null || this.table.views === 0
        ? undefined
        : this.table.viewLogits.map((logits) => ({ logits, baselineCell: 0 }));
    const byTable = this.s.admissionAgent === 'table' && this.probationCap > 0;
    this.admissionTable = byTable
      ? new VictimTableLearner(this.s.admissionHorizonT, this.s.admissionHalveEvery)
      : null;
    this.victimReturns = byTable
      ? new VictimTableLearner(this.s.admissionHorizonT, this.s.admissionBarHalveEvery, 1)
      : null;
    const common = { hidden: this.s.hidden, learningRate: this.s.learningRate };
    this.predictor = new MlpTrainer(opts.tf, {
      ...common,
      inputs: BASE_FEATURES,
      loss: 'logistic',
      seed: seed * 2 + 1,
    });
    this.agent = network
      ? new MlpTrainer(opts.tf, {
          ...common,
          inputs: AGENT_FEATURES,
          loss: 'squared',
          seed: seed * 2 + 2,
        })
      : null;
    this.nextRetrain = this.s.retrainMinRequests / 4;
  }

  /** The current model (null before the first retrain). */
  get currentModel(): EvictionModel | null {
    return this.model;
  }

  /**
   * Labelled rows held for the predictor and the network agent (the training data of the next
   * retrain); for the tabular agent, the labels it has counted. A model is trained once both
   * reach their minimum: `min` (`minRows`) for the predictor, `agentMin` for the agent (`minRows`
   * for the network, at least `minTableLabels` for the table).
   */
  get labelledRows(): {
    readonly predictor: number;
    readonly agent: number;
    readonly min: number;
    readonly agentMin: number;
  } {
    const agent = this.table?.labels ?? this.agentBuffer?.rows ?? 0;
    const min = this.s.minRows;
    const agentMin = this.table === null ? min : Math.max(min, this.s.minTableLabels);
    return { predictor: this.predBuffer.rows, agent, min, agentMin };
  }

  /** Enough labelled data for a model ({@link labelledRows}). */
  private get trainable(): boolean {
    const rows = this.labelledRows;
    return rows.predictor >= rows.min && rows.agent >= rows.agentMin;
  }

  /**
   * Retrains both networks now, outside the fixed schedule (the engine's scheduled and on-demand
   * retraining); the next scheduled retrain is counted from here. False, and nothing changes,
   * while the predictor or the agent has too few labels ({@link labelledRows}). Replaying a
   * prefix then no longer gives the same decisions as without the extra retrain, so the simulator
   * never calls it.
   */
  retrainNow(): boolean {
    if (!this.trainable) return false;
    this.maybeRetrain(this.clock.nowTick);
    return true;
  }

  has(key: string): boolean {
    const e = this.entries.get(key);
    return e !== undefined && (e.slot >= 0 || e.probation);
  }

  /** Keys in the probationary FIFO / in the learned main cache, promotions, the duel's state. */
  extraStats(): {
    probation: number;
    main: number;
    promotions: number;
    learnedPromotions: number;
    /** The structure duel has plain LRU in use now / how often the structure changed. */
    lruStructure: boolean;
    structureSwitches: number;
  } {
    return {
      probation: this.probationQueue.length - this.probationHead,
      main: this.resident.length,
      promotions: this.promotions,
      learnedPromotions: this.learnedPromotions,
      lruStructure: this.lruMode,
      structureSwitches: this.duel?.switches ?? 0,
    };
  }

  /**
   * Ablation hooks, defined only by the future-reading ceilings of ./ablation.ts (never by
   * `learned` itself, whose leakage test proves it reads no future): the index of the victim
   * among the sampled main-cache candidates, and whether a key leaving probation is promoted.
   * Absent, or `undefined`, the policy decides as usual; the networks keep training either way.
   */
  protected victimOverride?(candidates: readonly { readonly key: string }[]): number | undefined;
  protected admissionOverride?(key: string): boolean | undefined;

  /**
   * For the ablation hooks: the agent's score of candidate `i` of the eviction being decided
   * (higher = evict first): the tabular agent's live value with its recency tie-break, else the
   * model's score, else (no model yet) the idle time, as sampled LRU ranks.
   */
  protected candidateValue(i: number): number {
    const c = this.candidates[i]!;
    if (this.table !== null) return this.candidateScores[i]!;
    const model = this.model;
    if (model !== null) return scoreKey(model, c, this.clock, this.scratch);
    return this.clock.nowTick - c.lastTick;
  }

  /** The time scale T in requests (capacity in objects; capacity / mean size when sized). */
  protected get timeScaleRequests(): number {
    return this.timeScale;
  }

  access(req: CacheRequest): boolean {
    const now = req.vtime;
    this.clock.nowTick = now;
    if (this.bytes && this.sizeCount < 10_000) {
      // T in objects ≈ capacity / mean object size, estimated from the first requests.
      this.sizeSum += req.sizeBytes;
      this.sizeCount++;
      this.timeScale = Math.max(1, this.capacity / (this.sizeSum / this.sizeCount));
      this.clock.timeScale = this.timeScale;
      this.duel?.setTimeScale(this.timeScale);
    }
    if (now >= this.nextRetrain) this.maybeRetrain(now);
    this.expire(now);

    let e = this.entries.get(req.key);
    let hit = false;
    if (e !== undefined) {
      this.label(e, now);
      this.table?.returned(e, now, this.timeScale);
      if (e.admissionSlot !== null)
        this.admissionTable?.returned(e.admissionSlot, now, this.timeScale);
      if (e.victimSlot !== null) this.victimReturns?.returned(e.victimSlot, now, this.timeScale);
      if (e.proposedByModel >= 0 || e.proposedByLru >= 0) this.chargeRegret(e, now);
      recordAccess(e, now, req.sizeBytes, this.timeScale);
      if (e.slot >= 0 || e.probation) {
        hit = true;
        if (e.probation) e.probationHits++;
        if (this.bytes && e.sizeBytes !== req.sizeBytes) this.used += req.sizeBytes - e.sizeBytes;
      } else {
        this.ghostCount--;
      }
    } else {
      e = new Entry(req.key, now, req.sizeBytes);
      this.entries.set(req.key, e);
    }
    if (this.residentCount() > 0 && this.rng.next() < this.s.predictorSampleRate) {
      this.logPredictorSample(now);
    }
    if (!hit) this.admit(e);
    else if (this.bytes) this.evictUntilFits(0);
    if (this.duel !== null) {
      this.lruMode = this.duel.observe(req.key, req.sizeBytes, hit, req.keyId);
      this.probationCap = this.lruMode ? 0 : this.fullProbationCap;
    }
    return hit;
  }

  /** The explained eviction score of a resident (or remembered) key now; undefined if unknown. */
  explain(key: string): EvictionDecision | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (this.model === null) {
      return explainFallback(key, this.clock.nowTick - e.lastTick, 'FALLBACK', 'no model yet');
    }
    return explainKey(this.model, key, e, this.clock);
  }

  memoryReport(): LearnedMemoryReport {
    const m = this.model;
    const modelBytes =
      m === null
        ? 0
        : mlpBytes(m.predictor) +
          (m.agent === undefined ? 0 : mlpBytes(m.agent)) +
          (m.victimTable === undefined
            ? 0
            : 8 * m.victimTable.logits.length * (1 + (m.victimTable.views?.length ?? 0)) +
              (m.victimTable.boost === undefined ? 0 : boostBytes(m.victimTable.boost)));
    const params = (f: number) => f * this.s.hidden + 2 * this.s.hidden + 1;
    return {
      modelBytes,
      tfBytes: 4 * 3 * (params(BASE_FEATURES) + (this.agent === null ? 0 : params(AGENT_FEATURES))),
      bufferBytes: this.predBuffer.bytes + (this.agentBuffer?.bytes ?? 0),
      tableBytes:
        (this.table?.bytes ?? 0) +
        (this.admissionTable?.bytes ?? 0) +
        (this.victimReturns?.bytes ?? 0),
      keyMetadataBytes: this.entries.size * ENTRY_BYTES,
      rememberedKeys: this.entries.size,
      pendingSamples: this.predQueue.size + this.agentQueue.size,
      duelBytes: this.duel?.bytes ?? 0,
    };
  }

  /** Frees the tfjs variables; the policy keeps scoring with its last copied weights. */
  dispose(): void {
    this.predictor.dispose();
    this.agent?.dispose();
  }

  private residentCount(): number {
    return this.resident.length + this.probationQueue.length - this.probationHead;
  }

  private admit(e: Entry): void {
    const w = this.bytes ? e.sizeBytes : 1;
    // A key that returns soon after it was last requested (a recent victim) skips probation.
    // While the cache is still filling, keys that find probation full go to main (libCacheSim's
    // later S3-FIFO warm-up rule): otherwise the first capacity's worth of keys all pass through
    // the FIFO and the cold start falls well below LRU.
    const toMain =
      this.probationCap === 0 ||
      (e.accesses > 1 && e.gap1 <= this.s.ghostAdmitT * this.timeScale) ||
      (this.evictions === 0 &&
        this.probationUsed + w > this.probationCap &&
        this.used - this.probationUsed + w <= this.s.warmupMainFraction * this.capacity);
    if (w > (toMain ? this.capacity : this.probationCap)) {
      this.toGhost(e); // bypass: it never fits, but is remembered like a victim
      return;
    }
    this.evictUntilFits(w);
    if (toMain) this.addMain(e);
    else {
      e.probation = true;
      e.probationHits = 0;
      this.probationQueue.push(e);
      this.probationUsed += w;
    }
    this.used += w;
  }

  private addMain(e: Entry): void {
    e.slot = this.resident.length;
    this.resident.push(e);
  }

  private evictUntilFits(incoming: number): void {
    while (this.used + incoming > this.capacity && this.residentCount() > 0) {
      const probationLen = this.probationQueue.length - this.probationHead;
      if (
        probationLen > 0 &&
        (this.resident.length === 0 || this.probationUsed >= this.probationCap)
      ) {
        this.evictProbation();
      } else if (this.resident.length > 0) {
        this.evict(this.chooseVictim());
      } else break;
    }
  }

  /**
   * Takes the oldest key out of probation: promoted to main when it was hit there (S3-FIFO) or,
   * once a model exists, when the popularity predictor expects it back within H (learned
   * admission); otherwise evicted to the ghost list.
   */
  private evictProbation(): void {
    const e = this.probationQueue[this.probationHead]!;
    this.probationQueue[this.probationHead] = undefined as unknown as Entry;
    this.probationHead++;
    if (this.probationHead > 4096 && this.probationHead * 2 > this.probationQueue.length) {
      this.probationQueue = this.probationQueue.slice(this.probationHead);
      this.probationHead = 0;
    }
    const w = this.bytes ? e.sizeBytes : 1;
    this.probationUsed -= w;
    e.probation = false;
    const hit = e.probationHits >= this.s.promoteHits;
    let promote = hit;
    let pReuse = Number.NaN;
    const byTable = this.admissionTableReady();
    const x = this.scratch.agentInput;
    let cell = -1;
    if ((!hit || this.s.admitHitsByTable) && this.admissionTable !== null) {
      // Every exit it judges is a labelled example of the admission table, whatever is decided.
      extractFeatures(e, this.clock, x, 0);
      cell = victimCell(x, 0, this.clock.missingGapT);
      this.admissionTable.log((e.admissionSlot ??= new LabelSlot()), cell, this.clock.nowTick);
    }
    // Who decides: nobody for a hit key (S3-FIFO promotes it) unless the table judges hit keys
    // and is ready; else the table once ready, the predictor before.
    const judged = !hit || (byTable && this.s.admitHitsByTable);
    const forced = this.admissionOverride?.(e.key);
    if (forced !== undefined) {
      promote = forced;
    } else if (judged && this.model !== null && this.s.promoteProbability <= 1) {
      promote = false;
      this.admissionDecisions++;
      if (byTable) {
        pReuse = backProbability(this.admissionTable!.logits, cell);
      } else {
        if (cell < 0) extractFeatures(e, this.clock, x, 0);
        pReuse = sigmoid(clampLogit(mlpForward(this.model.predictor, x, 0)));
      }
      if (pReuse >= this.admissionBar(byTable)) {
        promote = true;
        this.learnedPromotions++;
      }
    }
    if (promote) {
      this.promotions++;
      this.addMain(e);
      return;
    }
    this.used -= w;
    this.evictions++;
    this.probationEvictions++;
    if (this.s.decisionLog > 0) {
      this.recordProbationEviction(e, pReuse, byTable && !Number.isNaN(pReuse) ? cell : -1);
    }
    this.toGhost(e);
  }

  /** The admission table decides: it and the victims' return rate have enough labels. */
  private admissionTableReady(): boolean {
    return (
      this.admissionTable !== null &&
      this.admissionTable.labels >= this.s.admissionMinLabels &&
      this.victimReturns!.labels >= this.s.admissionBarMinLabels
    );
  }

  /**
   * The explained eviction of a key leaving probation (refused): `pReuse` from the admission
   * table (its `cell`) or, with `cell` −1, from the popularity predictor; NaN before a model.
   */
  private recordProbationEviction(e: Entry, pReuse: number, cell: number): void {
    const idle = this.clock.nowTick - e.lastTick;
    if (Number.isNaN(pReuse)) {
      this.record(
        explainFallback(e.key, idle, 'FALLBACK', 'probation FIFO, not hit there, no model yet'),
      );
      return;
    }
    if (cell >= 0) {
      this.record(
        explainAdmission(
          e.key,
          this.admissionTable!.snapshot(),
          this.scratch.agentInput,
          this.clock,
          this.admissionBar(true),
          e.probationHits,
        ),
      );
      return;
    }
    const bar = this.admissionBar(false);
    this.record({
      key: e.key,
      score: 1 - pReuse,
      reason: 'MODEL',
      text:
        `probation FIFO exit, not hit there: predicted P(reuse within ${this.s.horizonT} T) ` +
        `${pReuse.toFixed(3)} < ${bar.toFixed(3)}` +
        (bar > this.s.promoteProbability ? " (the main cache's victims' mean)" : '') +
        ' → not admitted to the main cache',
      attributions: { popularity: 1 - pReuse },
      inputs: { idle, pReuse, admissionBar: bar },
    });
  }

  private chooseVictim(): Entry {
    const n = this.resident.length;
    const k = Math.min(this.s.sampleSize, n);
    const cands = this.candidates;
    cands.length = 0;
    for (let i = 0; i < k; i++) cands.push(this.resident[k === n ? i : this.rng.int(n)]!);
    let best = cands[0]!;
    const model = this.model;
    // The tabular agent learns from every sampled candidate, whoever decides this eviction.
    const table = this.table;
    if (table !== null) this.logCandidates(table, cands);
    const forced = this.victimOverride?.(cands);
    if (forced !== undefined) {
      best = cands[forced]!;
    } else if (model === null || (this.lruMode && !this.learnedVictimsInSpell())) {
      for (const c of cands) if (c.lastTick < best.lastTick) best = c;
      if (model === null) this.fallbackEvictions++;
      else this.duelEvictions++;
      if (this.s.decisionLog > 0) {
        const idle = this.clock.nowTick - best.lastTick;
        this.record(
          model === null
            ? explainFallback(best.key, idle, 'FALLBACK', 'no model trained yet')
            : explainFallback(best.key, idle, 'HEURISTIC', DUEL_LRU_REASON),
        );
      }
    } else {
      let bestQ = -Infinity;
      let oldest = best;
      for (let i = 0; i < cands.length; i++) {
        const c = cands[i]!;
        // The tabular agent scores with its live values (the model holds a snapshot of them),
        // plus the recency tie-break within a cell, as scoreKey does.
        const q =
          table !== null ? this.candidateScores[i]! : scoreKey(model, c, this.clock, this.scratch);
        if (q > bestQ) {
          bestQ = q;
          best = c;
        }
        if (c.lastTick < oldest.lastTick) oldest = c;
      }
      const now = this.clock.nowTick;
      if (this.lruMode) this.duelAgentEvictions++;
      if (best.proposedByModel < 0) best.proposedByModel = now;
      if (oldest.proposedByLru < 0) oldest.proposedByLru = now;
      if (this.s.guardHalfLifeT > 0 && best !== oldest && this.lruLeads(now)) {
        best = oldest;
        this.guardEvictions++;
        if (this.s.decisionLog > 0) {
          const why =
            `regret guard: recent would-be misses model ${this.regretModel.toFixed(1)} > ` +
            `LRU ${this.regretLru.toFixed(1)}`;
          this.record(explainFallback(best.key, now - best.lastTick, 'HEURISTIC', why));
        }
      } else {
        this.modelEvictions++;
        if (this.s.decisionLog > 0) {
          this.record(explainKey(this.liveModel(model), best.key, best, this.clock));
        }
      }
    }
    if (this.agentBuffer !== null) {
      // The network agent: log the action taken and one alternative; both rewards are observed.
      this.logAgentSample(best);
      const other = cands[this.rng.int(cands.length)]!;
      if (other !== best) this.logAgentSample(other);
    }
    return best;
  }

  /** During an LRU spell of the structure duel, whether the tabular agent still picks victims. */
  private learnedVictimsInSpell(): boolean {
    return (
      this.s.duelLearnedVictims &&
      this.table !== null &&
      this.table.labels >= this.s.duelVictimMinLabels
    );
  }

  /**
   * The sampled candidates' cells, idle features and live scores (same order), for the tabular
   * agent: the base table's logit plus its views' (./victim-table.ts, `stateScore`).
   */
  private readonly candidateCells: number[] = [];
  private readonly candidateIdle: number[] = [];
  private readonly candidateScores: number[] = [];
  private readonly stateCoords = new Int32Array(VICTIM_STATE_COORDINATES.length);
  private readonly boostInputs = new Float64Array(BOOST_FEATURES);

  /** The views' live logits once they count (`victimViewsMinLabels`), else undefined. */
  private viewsInUse(table: VictimTableLearner): VictimTable['views'] {
    return table.labels >= this.s.victimViewsMinLabels ? this.liveViews : undefined;
  }

  private logCandidates(table: VictimTableLearner, cands: readonly Entry[]): void {
    const x = this.scratch.agentInput;
    const now = this.clock.nowTick;
    const coords = this.stateCoords;
    const live = { logits: table.logits, views: this.viewsInUse(table) };
    for (let i = 0; i < cands.length; i++) {
      const c = cands[i]!;
      extractFeatures(c, this.clock, x, 0);
      stateCoordinates(x, 0, this.clock.missingGapT, coords);
      const cell = cellOf(coords);
      this.candidateCells[i] = cell;
      this.candidateIdle[i] = x[0]!;
      const score = stateScore(live, coords, x[0]!);
      const trees = table.boost?.trees;
      if (table.boost !== null) boostFeatures(x, 0, this.clock.missingGapT, this.boostInputs);
      table.log(c, cell, now, viewBinsOf(coords, table.views), this.boostInputs);
      // The same sum as tableValue's (scoreKey), with the live tables and trees.
      this.candidateScores[i] =
        trees === null || trees === undefined
          ? score
          : score + boostMargin(trees, this.boostInputs);
    }
    this.candidateCells.length = cands.length;
    this.candidateIdle.length = cands.length;
    this.candidateScores.length = cands.length;
  }

  /** `model` with the tabular agent's live values: what the last decision was scored with. */
  private liveModel(model: EvictionModel): EvictionModel {
    const t = model.victimTable;
    if (this.table === null || t === undefined) return model;
    const views = this.viewsInUse(this.table)?.map((v, k) => ({
      ...v,
      baselineCell: t.views?.[k]?.baselineCell ?? 0,
    }));
    const trees = this.table.boost?.trees ?? null;
    const live: VictimTable = {
      ...t,
      logits: this.table.logits,
      ...(views === undefined ? {} : { views }),
      ...(trees === null ? {} : { boost: trees }),
    };
    return { ...model, victimTable: live };
  }

  /**
   * Regret guard (full-information Hedge over two experts, after LeCaR/CACHEUS's ghost regret):
   * every eviction the model and the LRU rule each propose a victim from the same sample; when a
   * proposed key is requested again within W, the proposer is charged one would-be miss — real if
   * its proposal was executed (a ghost hit), counterfactual if not. Charges decay with half-life
   * `guardHalfLifeT`·T; the expert with fewer recent charges decides.
   */
  private chargeRegret(e: Entry, now: number): void {
    const W = this.s.guardWindowT * this.timeScale;
    this.decayRegret(now);
    if (e.proposedByModel >= 0 && now - e.proposedByModel <= W) this.regretModel += 1;
    if (e.proposedByLru >= 0 && now - e.proposedByLru <= W) this.regretLru += 1;
    e.proposedByModel = -1;
    e.proposedByLru = -1;
  }

  private decayRegret(now: number): void {
    if (now === this.regretTick) return;
    const f = Math.exp(
      (-Math.LN2 * (now - this.regretTick)) / (this.s.guardHalfLifeT * this.timeScale),
    );
    this.regretModel *= f;
    this.regretLru *= f;
    this.regretTick = now;
  }

  private lruLeads(now: number): boolean {
    this.decayRegret(now);
    const m = this.regretModel;
    const l = this.regretLru;
    return l < this.s.guardRatio * m && m - l > this.s.guardZ * Math.sqrt(m + l);
  }

  private record(d: EvictionDecision): void {
    this.decisions.push(d);
    if (this.decisions.length > this.s.decisionLog) this.decisions.shift();
  }

  /**
   * The P(reuse within H) a key leaving probation without hits needs to be promoted:
   * `promoteProbability`, raised to the main cache's victims' decayed mean P(reuse) with
   * `admitAboveVictims`; when the admission table decides (`byTable`), the measured share of the
   * main cache's victims back within A instead.
   */
  private admissionBar(byTable: boolean): number {
    if (byTable) return backProbability(this.victimReturns!.logits, 0);
    const victims = this.s.admitAboveVictims ? this.victimReuse : Number.NaN;
    return Number.isNaN(victims)
      ? this.s.promoteProbability
      : Math.max(this.s.promoteProbability, victims);
  }

  private evict(v: Entry): void {
    // The predictor's bar; once the admission table decides (for good: its labels only grow),
    // nothing reads it, and the predictor is not run for it.
    if (this.s.admitAboveVictims && this.model !== null && !this.admissionTableReady()) {
      extractFeatures(v, this.clock, this.scratch.agentInput, 0);
      const p = sigmoid(clampLogit(mlpForward(this.model.predictor, this.scratch.agentInput, 0)));
      this.victimReuse = Number.isNaN(this.victimReuse)
        ? p
        : this.victimReuse + this.s.victimReuseWeight * (p - this.victimReuse);
    }
    const last = this.resident.pop()!;
    if (last !== v) {
      this.resident[v.slot] = last;
      last.slot = v.slot;
    }
    v.slot = -1;
    this.victimReturns?.log((v.victimSlot ??= new LabelSlot()), 0, this.clock.nowTick);
    this.used -= this.bytes ? v.sizeBytes : 1;
    this.evictions++;
    this.toGhost(v);
  }

  private toGhost(e: Entry): void {
    e.ghostSeq = ++this.ghostSerial;
    this.ghostQueue.push(e);
    this.ghostSeqs.push(e.ghostSeq);
    this.ghostCount++;
  }

  private logPredictorSample(now: number): void {
    const r = this.rng.int(this.residentCount());
    const m = this.resident.length;
    const e = r < m ? this.resident[r]! : this.probationQueue[this.probationHead + r - m]!;
    if (e.predPending !== null) return;
    const x = new Float64Array(BASE_FEATURES);
    extractFeatures(e, this.clock, x);
    const p: Pending = { entry: e, tick: now, x, done: false };
    e.predPending = p;
    this.predQueue.push(p);
  }

  private logAgentSample(e: Entry): void {
    if (e.agentPending !== null) return;
    const x = new Float64Array(BASE_FEATURES);
    extractFeatures(e, this.clock, x);
    const p: Pending = { entry: e, tick: this.clock.nowTick, x, done: false };
    e.agentPending = p;
    this.agentQueue.push(p);
  }

  /** Labels the pending samples of `e`, requested again at `now`. */
  private label(e: Entry, now: number): void {
    const T = this.timeScale;
    const p = e.predPending;
    if (p !== null) {
      p.done = true;
      e.predPending = null;
      this.predBuffer.add(p.x, now - p.tick <= this.s.horizonT * T ? 1 : 0);
    }
    const a = e.agentPending;
    if (a !== null) {
      a.done = true;
      e.agentPending = null;
      this.agentBuffer!.add(a.x, this.reward(now - a.tick));
    }
  }

  private reward(distance: number): number {
    const W = this.s.windowT * this.timeScale;
    return Math.log1p(Math.min(distance, W) / this.timeScale);
  }

  /** Censors samples whose horizon has passed and forgets ghosts older than the window. */
  private expire(now: number): void {
    const T = this.timeScale;
    const H = this.s.horizonT * T;
    const W = this.s.windowT * T;
    for (let p = this.predQueue.peek(); p !== undefined && now - p.tick > H;) {
      if (!p.done) {
        p.entry.predPending = null;
        this.predBuffer.add(p.x, 0);
      }
      this.predQueue.shift();
      p = this.predQueue.peek();
    }
    for (let p = this.agentQueue.peek(); p !== undefined && now - p.tick > W;) {
      if (!p.done) {
        p.entry.agentPending = null;
        this.agentBuffer!.add(p.x, this.reward(W));
      }
      this.agentQueue.shift();
      p = this.agentQueue.peek();
    }
    this.table?.expire(now, T);
    this.admissionTable?.expire(now, T);
    this.victimReturns?.expire(now, T);
    const maxGhost = Math.max(1024, Math.ceil(W));
    while (this.ghostHead < this.ghostQueue.length) {
      const g = this.ghostQueue[this.ghostHead]!;
      const live = g.slot < 0 && !g.probation && g.ghostSeq === this.ghostSeqs[this.ghostHead];
      if (live && now - g.lastTick <= W && this.ghostCount <= maxGhost) break;
      if (live) {
        // Forgotten; its pending samples are censored above as usual.
        this.entries.delete(g.key);
        this.ghostCount--;
      }
      this.ghostHead++;
    }
    if (this.ghostHead > 65_536 && this.ghostHead * 2 > this.ghostQueue.length) {
      this.ghostQueue = this.ghostQueue.slice(this.ghostHead);
      this.ghostSeqs = this.ghostSeqs.slice(this.ghostHead);
      this.ghostHead = 0;
    }
  }

  private maybeRetrain(now: number): void {
    if (!this.trainable) {
      this.nextRetrain = now + 1024;
      return;
    }
    const s = this.s;
    const predictor = this.predictor.train(
      { x: this.predBuffer.x, y: this.predBuffer.y, rows: this.predBuffer.rows },
      s.epochs,
      Math.min(s.batchSize, this.predBuffer.rows),
    );
    this.retrains++;
    this.nextRetrain = now + Math.max(s.retrainMinRequests, Math.floor(s.retrainFraction * now));
    if (this.table !== null) {
      const victimTable = this.table.snapshot(this.viewsInUse(this.table) !== undefined);
      this.model = { predictor, victimTable, version: this.retrains };
    } else {
      this.model = { predictor, agent: this.trainAgent(predictor), version: this.retrains };
    }
  }

  /** Fits the network agent on its logged decisions (agent kind `network`). */
  private trainAgent(predictor: MlpWeights): MlpWeights {
    const s = this.s;
    const buffer = this.agentBuffer!;
    // The agent's popularity input is recomputed with the fresh predictor (stored rows keep only
    // base features), so it always sees the predictor it will be used with.
    const rows = buffer.rows;
    const x = new Float64Array(rows * AGENT_FEATURES);
    for (let r = 0; r < rows; r++) {
      const base = buffer.x.subarray(r * BASE_FEATURES, (r + 1) * BASE_FEATURES);
      x.set(base, r * AGENT_FEATURES);
      x[r * AGENT_FEATURES + BASE_FEATURES] = clampLogit(mlpForward(predictor, base));
    }
    return this.agent!.train({ x, y: buffer.y, rows }, s.epochs, Math.min(s.batchSize, rows));
  }
}

/** Convenience for the clock type used by {@link LearnedPolicy.explain}. */
export type { FeatureClock };
