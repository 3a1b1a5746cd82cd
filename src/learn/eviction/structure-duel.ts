/**
 * @module learn/eviction/structure-duel
 * Which queue structure the learned policy runs: new keys through a probationary FIFO (S3-FIFO's,
 * Yang et al. SOSP'23) with the learned main cache behind it, or plain LRU. Chosen online by
 * miniature simulation (Waldspurger et al., "Cache modeling and optimization using miniature
 * simulations", USENIX ATC'17): the requests whose key hashes below a rate R are replayed, as they
 * arrive, into two shadow caches of capacity R × C — the probationary structure with an exact-LRU
 * main part, and plain LRU — and the one with more recent hits (exponentially decayed) leads.
 * The real cache's main part is learned, so it may beat its structure's shadow; that measured
 * lead (the boost) is credited to the probationary side before the comparison. While LRU leads,
 * the learned policy admits every key to main and evicts by sampled LRU.
 *
 * Why: the probationary FIFO wins on most traces but loses to LRU for stretches of some (orm-busy
 * at 1 %, oltp early on), where keys seen once come back after more than the FIFO's length but
 * within the cache's, and the first models are too weak to make up for it; docs/learning.md has
 * the measurements. Nothing after the current request is read, so the choice is as causal as the
 * rest of the policy. Pure: no I/O, no clock, no tfjs.
 */
import { SlotList, SlotTable } from '../../policy/slot-table.js';
import { fnv1a32 } from '../../random.js';

/** A queue structure the duel can pick. */
export interface DuelStructure {
  /** Share of the capacity for the probationary FIFO; 0 = every key enters main (LRU). */
  readonly probationFraction: number;
  /** A key leaving probation with at least this many hits there is promoted to main. */
  readonly promoteHits: number;
  /** A miss on a key last requested at most this many T ago enters main directly. */
  readonly ghostAdmitT: number;
}

export interface StructureDuelOptions {
  /** The real cache's capacity (objects, or bytes when `bytes`). */
  readonly capacity: number;
  readonly bytes: boolean;
  /** Share of the keys replayed into the minis (by hash), in (0, 1]. */
  readonly rate: number;
  /** Half-life of the hit counts, in units of the mini's T (its capacity in requests). */
  readonly halfLifeT: number;
  /**
   * The leader changes when the other side's decayed hits exceed its own by more than z × the
   * square root of their sum (0: whenever they do).
   */
  readonly z: number;
  /** The learned policy's probationary structure (mini 0); mini 1 is LRU. */
  readonly probation: DuelStructure;
}

const PROBATION = 1;
const MAIN = 2;
const GHOST = 3;
const LIST_MASK = 3;
const HIT_SHIFT = 2;
const MAX_HITS = 63;

/**
 * A small cache: an optional probationary FIFO + an exact-LRU main part, and a ghost list of
 * recent victims (for the "came back within `ghostAdmitT`·T" rule), in objects or bytes. Slot
 * `tag`: the list in its low 2 bits, the hits while in probation above them; `aux`: the tick of
 * the key's last request.
 */
export class MiniCache {
  private readonly t: SlotTable;
  private readonly probation: SlotList;
  private readonly main: SlotList;
  private readonly ghost: SlotList;
  private tick = 0;
  private readonly probationCap: number;
  private admitWindow: number;

  constructor(
    private readonly capacity: number,
    private readonly s: DuelStructure,
    /** The mini's T in requests. */
    timeScale: number,
  ) {
    // Slots for the residents and about as many victims to start with (the table grows; a
    // capacity in bytes says little about the count, so the start is capped).
    this.t = new SlotTable(Math.min(2 * capacity + 16, 1 << 16));
    this.probation = new SlotList(this.t);
    this.main = new SlotList(this.t);
    this.ghost = new SlotList(this.t);
    this.probationCap = s.probationFraction > 0 ? Math.max(1, capacity * s.probationFraction) : 0;
    this.admitWindow = s.ghostAdmitT * timeScale;
  }

  /** Re-scales the ghost-admission window when the caller's estimate of T changes. */
  setTimeScale(timeScale: number): void {
    this.admitWindow = this.s.ghostAdmitT * timeScale;
  }

  private get used(): number {
    return this.probation.weight + this.main.weight;
  }

  /** Keys held: resident and remembered victims. */
  get keys(): number {
    return this.t.size;
  }

  /** Bytes of its slot table ({@link SlotTable.bytes}). */
  get bytes(): number {
    return this.t.bytes;
  }

  /** Replays one request (`keyId`: the request's `CacheRequest.keyId`, if any); true on a hit. */
  access(key: string, size: number, keyId?: number): boolean {
    const now = ++this.tick;
    const t = this.t;
    let slot = t.lookup(key, keyId);
    if (slot >= 0) {
      const list = t.tag[slot]! & LIST_MASK;
      const prev = t.aux[slot]!;
      t.aux[slot] = now;
      if (list !== GHOST) {
        const grow = size - t.weight[slot]!;
        if (list === MAIN) {
          this.main.moveToFront(slot);
          this.main.weight += grow;
        } else {
          const hits = Math.min(MAX_HITS, (t.tag[slot]! >> HIT_SHIFT) + 1);
          t.tag[slot] = PROBATION | (hits << HIT_SHIFT);
          this.probation.weight += grow;
        }
        t.weight[slot] = size;
        if (grow > 0) this.evictUntilFits(0, slot);
        return true;
      }
      this.ghost.remove(slot);
      t.weight[slot] = size;
      this.insert(slot, now - prev <= this.admitWindow);
      return false;
    }
    slot = t.alloc(key, size, keyId);
    t.aux[slot] = now;
    this.insert(slot, false);
    return false;
  }

  private insert(slot: number, recentVictim: boolean): void {
    const t = this.t;
    const size = t.weight[slot]!;
    const toMain = this.probationCap === 0 || recentVictim;
    if (size > (toMain ? this.capacity : this.probationCap)) {
      t.release(slot);
      return;
    }
    this.evictUntilFits(size, -1);
    t.tag[slot] = toMain ? MAIN : PROBATION;
    (toMain ? this.main : this.probation).pushFront(slot);
    this.trimGhosts();
  }

  /** Evicts until `incoming` more fits; `keep` (a slot just hit) is never the victim. */
  private evictUntilFits(incoming: number, keep: number): void {
    const t = this.t;
    while (this.used + incoming > this.capacity && this.used > 0) {
      if (
        this.probation.length > 0 &&
        (this.main.length === 0 || this.probation.weight >= this.probationCap) &&
        this.probation.tail !== keep
      ) {
        const v = this.probation.popBack();
        if (t.tag[v]! >> HIT_SHIFT >= this.s.promoteHits) {
          t.tag[v] = MAIN;
          this.main.pushFront(v);
        } else this.toGhost(v);
      } else if (this.main.length > 0 && this.main.tail !== keep) {
        this.toGhost(this.main.popBack());
      } else break;
    }
  }

  private toGhost(slot: number): void {
    this.t.tag[slot] = GHOST;
    this.ghost.pushFront(slot);
  }

  /** Forgets victims whose last request is older than the admission window (or too many). */
  private trimGhosts(): void {
    const t = this.t;
    const limit = Math.max(16, Math.ceil(this.admitWindow));
    for (let v = this.ghost.tail; v !== -1; v = this.ghost.tail) {
      if (this.tick - t.aux[v]! <= this.admitWindow && this.ghost.length <= limit) break;
      this.ghost.remove(v);
      t.release(v);
    }
  }
}

/**
 * Requests (decayed, in units of the shadows' T) under the probationary structure before its
 * boost counts.
 */
const BOOST_MIN_T = 4;

/**
 * The duel: mini 0 runs the learned policy's probationary structure, mini 1 plain LRU (no
 * probation), each with an exact-LRU main part and capacity `rate` × C. Their hits decay with
 * half-life `halfLifeT`·T. The real cache's main part is learned, so it can beat its own
 * structure's mini: while the probationary structure is in use, the real cache's decayed hits
 * over mini 0's (on the same sampled requests) are its measured lead, the `boost`. LRU takes over
 * when its mini's hits exceed mini 0's × max(1, boost) by more than `z` × √(their sum), and
 * hands back when the reverse holds.
 */
export class StructureDuel {
  private readonly mini: readonly [MiniCache, MiniCache];
  /** Decayed hits of mini 0 (probationary structure) and mini 1 (LRU). */
  private probationHits = 0;
  private lruHits = 0;
  /**
   * Decayed hits of the real cache and of mini 0, and requests, counted only while the
   * probationary structure is in use (the boost's evidence).
   */
  private realHits = 0;
  private shadowPeriodHits = 0;
  private periodRequests = 0;
  /** LRU's structure is in use. */
  lruLeads = false;
  /** Times the leader changed. */
  switches = 0;
  private readonly threshold: number;
  private decay = 1;
  private minBoostRequests = 0;

  constructor(
    private readonly o: StructureDuelOptions,
    /** The real cache's T in requests (capacity in objects, or capacity / mean size). */
    timeScale: number,
  ) {
    const capacity = Math.max(1, Math.round(o.capacity * o.rate));
    const lru: DuelStructure = { probationFraction: 0, promoteHits: 1, ghostAdmitT: 0 };
    this.mini = [new MiniCache(capacity, o.probation, 1), new MiniCache(capacity, lru, 1)];
    // Keys whose hash is below the threshold are replayed (all of them at rate 1).
    this.threshold = Math.min(1, o.rate) * 0x1_0000_0000;
    this.setTimeScale(timeScale);
  }

  /** Re-scales the time constants when the caller's estimate of T (in requests) changes. */
  setTimeScale(timeScale: number): void {
    const t = Math.max(1, timeScale * Math.min(1, this.o.rate));
    this.mini[0].setTimeScale(t);
    this.decay = Math.pow(0.5, 1 / (this.o.halfLifeT * t));
    this.minBoostRequests = BOOST_MIN_T * t;
  }

  /** Keys the two minis hold (resident and remembered victims). */
  keysHeld(): number {
    return this.mini[0].keys + this.mini[1].keys;
  }

  /** Bytes the two minis hold ({@link SlotTable.bytes}). */
  get bytes(): number {
    return this.mini[0].bytes + this.mini[1].bytes;
  }

  /** The real cache's recent hits over mini 0's while the probationary structure was in use. */
  get boost(): number {
    return this.periodRequests >= this.minBoostRequests
      ? (this.realHits + 1) / (this.shadowPeriodHits + 1)
      : 1;
  }

  /**
   * Replays a request the real cache has just served (`realHit`) into the minis when its key is
   * sampled; returns whether LRU's structure is to be used from the next request on. `keyId` is
   * the request's `CacheRequest.keyId`, if any.
   */
  observe(key: string, size: number, realHit: boolean, keyId?: number): boolean {
    if (this.o.rate < 1 && fnv1a32(key) >= this.threshold) return this.lruLeads;
    const w = this.o.bytes ? size : 1;
    const d = this.decay;
    const probationHit = this.mini[0].access(key, w, keyId);
    this.probationHits = this.probationHits * d + (probationHit ? 1 : 0);
    this.lruHits = this.lruHits * d + (this.mini[1].access(key, w, keyId) ? 1 : 0);
    if (!this.lruLeads) {
      this.realHits = this.realHits * d + (realHit ? 1 : 0);
      this.shadowPeriodHits = this.shadowPeriodHits * d + (probationHit ? 1 : 0);
      this.periodRequests = this.periodRequests * d + 1;
    }
    // The difference must exceed z standard deviations of a Poisson count of the two together
    // (hysteresis: the leader does not change on noise).
    const probation = this.probationHits * Math.max(1, this.boost);
    const diff = this.lruHits - probation;
    const band = this.o.z * Math.sqrt(this.lruHits + probation);
    if (this.lruLeads ? diff < -band : diff > band) {
      this.lruLeads = !this.lruLeads;
      this.switches++;
    }
    return this.lruLeads;
  }
}
