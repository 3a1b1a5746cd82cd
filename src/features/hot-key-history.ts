/**
 * @module features/hot-key-history
 * Which keys were hot at each time of day, per cache node, so a cache can be pre-warmed before a
 * forecast peak with the keys that were hot the last time that time of day came around. The day
 * is cut into slots (24 by default, UTC); when the store clock leaves a slot, the node's hottest
 * keys at that moment are recorded for it, replacing the previous day's. Kept in memory only: a
 * restarted engine has hints again after one day of telemetry.
 */

const DAY_MS = 86_400_000;

export interface HotKeysRecord {
  /** Epoch ms the keys were recorded (the end of the slot they describe). */
  readonly recordedAtMs: number;
  /** Hottest first, with the decayed count that ranked them. */
  readonly keys: readonly { readonly key: string; readonly count: number }[];
}

export class HotKeyHistory {
  private readonly slotMs: number;
  private readonly byNode = new Map<string, (HotKeysRecord | undefined)[]>();
  private readonly lastSlot = new Map<string, number>();

  constructor(
    private readonly slotsPerDay = 24,
    readonly keysPerSlot = 20,
  ) {
    this.slotMs = DAY_MS / slotsPerDay;
  }

  /** The slot index (0..slotsPerDay-1) of the time of day of `tsMs`. */
  slotOf(tsMs: number): number {
    return Math.floor((((tsMs % DAY_MS) + DAY_MS) % DAY_MS) / this.slotMs);
  }

  /**
   * Tells the history the node's clock is at `clockMs`. When that is a new slot, records the
   * keys `hottest()` returns for the slot just left and returns true.
   */
  observe(
    node: string,
    clockMs: number,
    hottest: () => readonly { key: string; count: number }[],
  ): boolean {
    const absolute = Math.floor(clockMs / this.slotMs);
    const previous = this.lastSlot.get(node);
    this.lastSlot.set(node, absolute);
    if (previous === undefined || absolute === previous) return false;
    let slots = this.byNode.get(node);
    if (!slots)
      this.byNode.set(
        node,
        (slots = new Array<HotKeysRecord | undefined>(this.slotsPerDay).fill(undefined)),
      );
    slots[this.slotOf(previous * this.slotMs)] = {
      recordedAtMs: clockMs,
      keys: hottest().slice(0, this.keysPerSlot),
    };
    return true;
  }

  /** The keys recorded for the time-of-day slot of `tsMs` (from an earlier day), if any. */
  lookup(node: string, tsMs: number): HotKeysRecord | undefined {
    return this.byNode.get(node)?.[this.slotOf(tsMs)];
  }
}
