/**
 * The partition table of one replica: which partition a subject belongs to, the apply / skip /
 * duplicate verdicts and watermarks, checkpoints and acks, and exactly-once application across a
 * hand-over (two tables sharing in-memory checkpoint stores, a replayed stream).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PartitionTable, POOL_PARTITION } from '../../src/cluster/partition-table.js';
import { partitionOf } from '../../src/cluster/partitions.js';
import type { FeatureStoreOptions } from '../../src/features/types.js';
import type { Checkpoint, SnapshotStore } from '../../src/state/snapshot-store.js';
import type { AccessEvent, LatencyEvent } from '../../src/telemetry/events.js';
import { BASE_OPTIONS, seeded } from '../features/helpers.js';

const PARTITIONS = 4;
const ACCESS = 'prescient.telemetry.access.';
const LATENCY = 'prescient.telemetry.latency.';
const STREAM = '2024-01-01T00:00:00Z';
const OPTIONS: FeatureStoreOptions = { ...BASE_OPTIONS, maxTrackedKeys: 10_000 };
/** Two nodes in each of the 4 partitions (pinned below); partition 0 also holds the pools. */
const NODES = [
  'cache-0',
  'cache-1',
  'cache-2',
  'cache-3',
  'cache-4',
  'cache-5',
  'cache-6',
  'cache-7',
];
const KEYS = 12;

/** A checkpoint store in memory; `failing` makes saves throw, `saves` counts the successful. */
class MemorySnapshots implements SnapshotStore {
  readonly kind = 'memory' as const;
  checkpoint: Checkpoint | undefined;
  saves = 0;
  failing = false;

  load(): Promise<Checkpoint | undefined> {
    return Promise.resolve(this.checkpoint);
  }

  save(checkpoint: Checkpoint): Promise<void> {
    if (this.failing) return Promise.reject(new Error('fenced out'));
    // A copy, as Redis would keep: later writes to the live store must not leak into it.
    this.checkpoint = { snapshot: checkpoint.snapshot.slice(), meta: { ...checkpoint.meta } };
    this.saves++;
    return Promise.resolve();
  }
}

/** The checkpoint stores of every partition, shared by all the replicas (Redis). */
function sharedStores(): MemorySnapshots[] {
  return Array.from({ length: PARTITIONS }, () => new MemorySnapshots());
}

function newTable(stores: readonly MemorySnapshots[], streamCreated = STREAM): PartitionTable {
  return new PartitionTable({
    partitions: PARTITIONS,
    features: OPTIONS,
    subjectPrefix: 'prescient',
    snapshots: (p) => stores[p]!,
    streamCreated: () => streamCreated,
    now: () => 1_000,
  });
}

type Message =
  | { seq: number; subject: string; node: string; access: AccessEvent[] }
  | { seq: number; subject: string; proxy: string; latency: LatencyEvent[] };

interface Published {
  readonly messages: Message[];
  /** Accesses published per `<node>/<key>`. */
  readonly accesses: Map<string, number>;
  /** Requests published per `<pool>/<backend>`. */
  readonly requests: Map<string, number>;
}

/** Messages 1..count over every node (1-3 accesses each) and some latency batches; seeded. */
function stream(seed: number, count: number): Published {
  const random = seeded(seed);
  const messages: Message[] = [];
  const accesses = new Map<string, number>();
  const requests = new Map<string, number>();
  for (let seq = 1; seq <= count; seq++) {
    const ts = 1_700_000_000_000 + seq * 100;
    if (random() < 0.15) {
      const latency: LatencyEvent[] = [];
      for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
        const backend = `b${Math.floor(random() * 3)}`;
        latency.push({ ts: ts + i, pool: 'web', backend, latencyMs: 5 + i, status: 200 });
        const id = `web/${backend}`;
        requests.set(id, (requests.get(id) ?? 0) + 1);
      }
      messages.push({ seq, subject: `${LATENCY}proxy-1`, proxy: 'proxy-1', latency });
      continue;
    }
    const node = NODES[Math.floor(random() * NODES.length)]!;
    const access: AccessEvent[] = [];
    for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
      const key = `k${Math.floor(random() * KEYS)}`;
      access.push({ ts: ts + i, key, hit: random() < 0.5 });
      const id = `${node}/${key}`;
      accesses.set(id, (accesses.get(id) ?? 0) + 1);
    }
    messages.push({ seq, subject: `${ACCESS}${node}`, node, access });
  }
  return { messages, accesses, requests };
}

/** Delivers one message as the engine does: admit, then apply if admitted. */
function deliver(table: PartitionTable, m: Message): void {
  if (table.admit(m.seq, m.subject) !== 'apply') return;
  if ('node' in m) table.features.applyAccess(m.node, m.access);
  else table.features.applyLatency(m.proxy, m.latency);
}

/** Delivers messages after..through (sequences), as a consumer started at `after` + 1 would. */
function deliverRange(table: PartitionTable, s: Published, after: number, through: number): void {
  for (const m of s.messages) if (m.seq > after && m.seq <= through) deliver(table, m);
}

/** Every published access and request is counted exactly once by the held partitions. */
function expectExact(table: PartitionTable, s: Published, partitions: readonly number[]): void {
  for (const [id, count] of s.accesses) {
    const [node, key] = id.split('/') as [string, string];
    if (!partitions.includes(partitionOf(node, PARTITIONS))) continue;
    expect(table.features.keyFeatures(node, key)?.accesses, id).toBe(count);
  }
  if (partitions.includes(POOL_PARTITION)) {
    for (const [id, count] of s.requests) {
      const [pool, backend] = id.split('/') as [string, string];
      expect(table.features.backendFeatures(pool, backend)?.requests, id).toBe(count);
    }
  }
}

const ALL = [0, 1, 2, 3];

async function adoptAll(table: PartitionTable, partitions: readonly number[]): Promise<void> {
  for (const p of partitions) await table.adopt(p);
}

describe('partitionOfSubject', () => {
  const table = newTable(sharedStores());

  it('sends access subjects to their node’s partition', () => {
    // Pinned: two nodes per partition, so the stream below exercises every partition.
    expect(NODES.map((n) => partitionOf(n, PARTITIONS))).toEqual([0, 3, 2, 1, 0, 3, 2, 1]);
    for (const node of NODES) {
      expect(table.partitionOfSubject(`${ACCESS}${node}`)).toBe(partitionOf(node, PARTITIONS));
    }
  });

  it('sends latency and any other subject to the pool partition', () => {
    expect(table.partitionOfSubject(`${LATENCY}proxy-1`)).toBe(POOL_PARTITION);
    expect(table.partitionOfSubject(`${LATENCY}cache-1`)).toBe(POOL_PARTITION);
    expect(table.partitionOfSubject('prescient.telemetry.other')).toBe(POOL_PARTITION);
    // Not the access prefix (no trailing dot): not a node's subject.
    expect(table.partitionOfSubject('prescient.telemetry.access')).toBe(POOL_PARTITION);
  });
});

describe('admit', () => {
  it('skips messages of partitions not held and counts them', async () => {
    const table = newTable(sharedStores());
    await table.adopt(3);
    expect(table.admit(1, `${ACCESS}cache-0`)).toBe('skip');
    expect(table.admit(2, `${LATENCY}proxy-1`)).toBe('skip');
    expect(table.admit(3, `${ACCESS}cache-1`)).toBe('apply');
    expect(table.skipped).toBe(2);
    expect(table.lastSeenSeq).toBe(3);
  });

  it('applies a message once, then calls it a duplicate at the same or a lower sequence', async () => {
    const table = newTable(sharedStores());
    await table.adopt(3);
    expect(table.admit(5, `${ACCESS}cache-1`)).toBe('apply');
    expect(table.admit(5, `${ACCESS}cache-1`)).toBe('duplicate');
    expect(table.admit(4, `${ACCESS}cache-5`)).toBe('duplicate');
    expect(table.admit(6, `${ACCESS}cache-5`)).toBe('apply');
    expect(table.skipped).toBe(0);
  });

  it('moves every held partition’s watermark with every delivered message', async () => {
    const table = newTable(sharedStores());
    await adoptAll(table, [1, 2]);
    expect(table.resumeAfter()).toBe(0);
    // Only partition 2 (cache-2) and partitions not held (cache-1: 3) get messages.
    expect(table.admit(1, `${ACCESS}cache-2`)).toBe('apply');
    expect(table.admit(2, `${ACCESS}cache-1`)).toBe('skip');
    expect(table.admit(3, `${LATENCY}proxy-1`)).toBe('skip');
    expect(table.positions()).toEqual([
      { partition: 1, appliedSeq: 3, checkpointedSeq: 0 },
      { partition: 2, appliedSeq: 3, checkpointedSeq: 0 },
    ]);
    // Quiet partition 1 has seen everything through 3: delivery resumes after it.
    expect(table.resumeAfter()).toBe(3);
    // So its first message after that is applied, and earlier ones are duplicates.
    expect(table.admit(3, `${ACCESS}cache-3`)).toBe('duplicate');
    expect(table.admit(4, `${ACCESS}cache-3`)).toBe('apply');
  });

  it('resumes after the last message seen when holding nothing', () => {
    const table = newTable(sharedStores());
    expect(table.admit(7, `${ACCESS}cache-0`)).toBe('skip');
    expect(table.resumeAfter()).toBe(7);
    expect(table.held()).toEqual([]);
  });

  it('leads only while it holds the pool partition', async () => {
    const table = newTable(sharedStores());
    await table.adopt(1);
    expect(table.isLeader()).toBe(false);
    await table.adopt(POOL_PARTITION);
    expect(table.isLeader()).toBe(true);
    table.drop(POOL_PARTITION);
    expect(table.isLeader()).toBe(false);
  });
});

describe('exactly once across a hand-over', () => {
  const N = 400;

  it('replays from the dead replica’s checkpoint and counts every access once', async () => {
    const stores = sharedStores();
    const s = stream(1, N);
    const a = newTable(stores);
    await adoptAll(a, ALL);
    deliverRange(a, s, 0, 120);
    expect((await a.checkpoint()).ackThrough).toBe(120);
    deliverRange(a, s, 120, 250);
    expect((await a.checkpoint()).ackThrough).toBe(250);
    // Applied through 330, then killed: 251..330 are in no checkpoint.
    deliverRange(a, s, 250, 330);
    // Same seed: the first 330 messages of the stream.
    expectExact(a, stream(1, 330), ALL);

    const b = newTable(stores);
    await adoptAll(b, ALL);
    expect(b.positions().map((p) => p.appliedSeq)).toEqual([250, 250, 250, 250]);
    expect(b.resumeAfter()).toBe(250);
    deliverRange(b, s, b.resumeAfter(), N);
    expectExact(b, s, ALL);
    expect(b.skipped).toBe(0);
  });

  it('keeps an already held partition exact while another is replayed from an older checkpoint', async () => {
    const stores = sharedStores();
    const s = stream(2, N);
    // A holds 0 and 1, B holds 2 and 3; both read the whole stream.
    const a = newTable(stores);
    const b = newTable(stores);
    await adoptAll(a, [0, 1]);
    await adoptAll(b, [2, 3]);
    deliverRange(a, s, 0, 100);
    await a.checkpoint();
    deliverRange(a, s, 100, 200); // lost with A
    deliverRange(b, s, 0, 300); // B is ahead: partitions 2 and 3 at 300, unsaved
    expect(b.skipped).toBeGreaterThan(0);

    // A dies; B takes 1 from its checkpoint at 100 and rewinds delivery to it.
    const r = await b.adopt(1);
    expect(r.restoredSeq).toBe(100);
    expect(b.resumeAfter()).toBe(100);
    const skippedBefore = b.skipped;
    const replayed = s.messages.filter((m) => m.seq > 100 && m.seq <= 300);
    const verdicts = replayed.map((m) => {
      const v = b.admit(m.seq, m.subject);
      if (v === 'apply' && 'node' in m) b.features.applyAccess(m.node, m.access);
      return { p: b.partitionOfSubject(m.subject), v };
    });
    for (const { p, v } of verdicts) {
      if (p === 2 || p === 3) expect(v).toBe('duplicate');
      else if (p === 1) expect(v).toBe('apply');
      else expect(v).toBe('skip');
    }
    expect(b.skipped - skippedBefore).toBe(verdicts.filter((x) => x.p === 0).length);
    deliverRange(b, s, 300, N);
    expectExact(b, s, [1, 2, 3]);

    // Then B takes 0 (the pools) as well, also from A's checkpoint at 100.
    await b.adopt(0);
    expect(b.resumeAfter()).toBe(100);
    deliverRange(b, s, b.resumeAfter(), N);
    expectExact(b, s, ALL);
  });

  it('stays exact for any kill point, checkpoint points and split (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 4 }),
        fc.subarray(ALL, { minLength: 1 }),
        async (seed, killA, reachedB, checkpointsA, heldByA) => {
          const stores = sharedStores();
          const s = stream(seed, 60);
          const a = newTable(stores);
          const b = newTable(stores);
          const heldByB = ALL.filter((p) => !heldByA.includes(p));
          await adoptAll(a, heldByA);
          await adoptAll(b, heldByB);
          let at = 0;
          for (const c of checkpointsA.filter((c) => c <= killA).sort((x, y) => x - y)) {
            deliverRange(a, s, at, c);
            at = c;
            await a.checkpoint();
          }
          deliverRange(a, s, at, killA); // applied after the last checkpoint: lost with A
          deliverRange(b, s, 0, reachedB);
          // A dies: B adopts A's partitions and restarts delivery where they all need it.
          await adoptAll(b, heldByA);
          deliverRange(b, s, b.resumeAfter(), 60);
          expectExact(b, s, ALL);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('hands partitions back and forth without losing or doubling anything', async () => {
    const stores = sharedStores();
    const s = stream(3, N);
    let owner = newTable(stores);
    await adoptAll(owner, ALL);
    let at = 0;
    for (const [through, killAt] of [
      [80, 95],
      [170, 230],
      [240, 240],
      [300, 390],
    ] as const) {
      deliverRange(owner, s, at, through);
      await owner.checkpoint();
      deliverRange(owner, s, through, killAt); // applied, never checkpointed: lost
      owner = newTable(stores);
      await adoptAll(owner, ALL);
      expect(owner.resumeAfter()).toBe(through);
      at = through;
    }
    deliverRange(owner, s, at, N);
    expectExact(owner, s, ALL);
  });
});

describe('checkpoint', () => {
  it('saves only the partitions whose watermark moved since their last checkpoint', async () => {
    const stores = sharedStores();
    const table = newTable(stores);
    await adoptAll(table, [1, 2]);
    // Nothing delivered yet: nothing to save.
    expect(await table.checkpoint()).toEqual({ ackThrough: 0, failures: [] });
    expect(stores.map((s) => s.saves)).toEqual([0, 0, 0, 0]);

    // One message for partition 2 moves partition 1's watermark too: both are saved.
    table.admit(1, `${ACCESS}cache-2`);
    table.features.applyAccess('cache-2', [{ ts: 1, key: 'k', hit: true }]);
    expect(await table.checkpoint()).toEqual({ ackThrough: 1, failures: [] });
    expect(stores.map((s) => s.saves)).toEqual([0, 1, 1, 0]);
    expect(stores[1]!.checkpoint!.meta).toMatchObject({ appliedSeq: 1, streamCreated: STREAM });
    expect(stores[1]!.checkpoint!.meta.savedAtMs).toBe(1_000);
    expect(stores[2]!.checkpoint!.meta.bytes).toBe(stores[2]!.checkpoint!.snapshot.byteLength);

    // Nothing new: nothing saved again.
    expect(await table.checkpoint()).toEqual({ ackThrough: 1, failures: [] });
    expect(stores.map((s) => s.saves)).toEqual([0, 1, 1, 0]);

    // Partition 3 comes from a replica that checkpointed it further (at 30): 2..20 do not move
    // it (duplicates), so only 1 and 2 are saved, and acks go as far as all three hold (20).
    const other = newTable(stores);
    await other.adopt(3);
    for (let seq = 2; seq <= 30; seq++) other.admit(seq, `${ACCESS}cache-1`);
    await other.checkpoint();
    expect(stores[3]!.saves).toBe(1);
    expect((await table.adopt(3)).restoredSeq).toBe(30);
    for (let seq = 2; seq <= 20; seq++) {
      expect(table.admit(seq, `${ACCESS}cache-1`)).toBe('duplicate');
    }
    expect(await table.checkpoint()).toEqual({ ackThrough: 20, failures: [] });
    expect(stores.map((s) => s.saves)).toEqual([0, 2, 2, 1]);
    expect(table.positions()).toEqual([
      { partition: 1, appliedSeq: 20, checkpointedSeq: 20 },
      { partition: 2, appliedSeq: 20, checkpointedSeq: 20 },
      { partition: 3, appliedSeq: 30, checkpointedSeq: 30 },
    ]);
  });

  it('acks through the lowest checkpointed sequence of the partitions held', async () => {
    const stores = sharedStores();
    const other = newTable(stores);
    await other.adopt(2);
    for (let seq = 1; seq <= 50; seq++) other.admit(seq, `${ACCESS}cache-2`);
    await other.checkpoint();

    const table = newTable(stores);
    await table.adopt(1);
    for (let seq = 1; seq <= 10; seq++) table.admit(seq, `${ACCESS}cache-3`);
    await table.adopt(2); // at 50
    // Partition 1 checkpointed through 10, partition 2 through 50.
    expect((await table.checkpoint()).ackThrough).toBe(10);
    // A newly adopted partition without checkpoint holds nothing yet: acks stop at 0.
    await table.adopt(3);
    expect((await table.checkpoint()).ackThrough).toBe(0);
    expect(table.resumeAfter()).toBe(0);
  });

  it('acks everything seen when holding nothing', async () => {
    const table = newTable(sharedStores());
    for (let seq = 1; seq <= 9; seq++) expect(table.admit(seq, `${ACCESS}cache-0`)).toBe('skip');
    expect(await table.checkpoint()).toEqual({ ackThrough: 9, failures: [] });
    // Also after dropping the last partition held.
    await table.adopt(0);
    table.admit(10, `${ACCESS}cache-0`);
    expect(table.drop(0)).toEqual([]);
    expect(await table.checkpoint()).toEqual({ ackThrough: 10, failures: [] });
  });

  it('reports a failed save, saves the others, and acks only what every partition holds', async () => {
    const stores = sharedStores();
    const table = newTable(stores);
    await adoptAll(table, ALL);
    for (let seq = 1; seq <= 5; seq++) table.admit(seq, `${ACCESS}cache-${seq % 8}`);
    expect((await table.checkpoint()).ackThrough).toBe(5);

    for (let seq = 6; seq <= 12; seq++) table.admit(seq, `${ACCESS}cache-${seq % 8}`);
    stores[2]!.failing = true;
    const { ackThrough, failures } = await table.checkpoint();
    expect(failures).toHaveLength(1);
    expect(failures[0]!.partition).toBe(2);
    expect((failures[0]!.err as Error).message).toBe('fenced out');
    expect(stores.map((s) => s.saves)).toEqual([2, 2, 1, 2]);
    expect(stores[2]!.checkpoint!.meta.appliedSeq).toBe(5);
    expect(ackThrough).toBe(5);
    expect(table.positions().find((p) => p.partition === 2)).toEqual({
      partition: 2,
      appliedSeq: 12,
      checkpointedSeq: 5,
    });

    // The store recovers: the next checkpoint saves partition 2 (the others have nothing new).
    stores[2]!.failing = false;
    expect(await table.checkpoint()).toEqual({ ackThrough: 12, failures: [] });
    expect(stores.map((s) => s.saves)).toEqual([2, 2, 2, 2]);
  });
});

describe('adopt and drop', () => {
  it('restores a partition’s features and position from its checkpoint', async () => {
    const stores = sharedStores();
    const a = newTable(stores);
    await a.adopt(3);
    a.admit(1, `${ACCESS}cache-1`);
    a.features.applyAccess('cache-1', [
      { ts: 1, key: 'x', hit: true },
      { ts: 2, key: 'y', hit: false },
      { ts: 3, key: 'x', hit: true },
    ]);
    await a.checkpoint();

    const b = newTable(stores);
    expect(await b.adopt(3)).toEqual({ partition: 3, restoredSeq: 1, keys: 2 });
    expect(b.features.keyFeatures('cache-1', 'x')).toMatchObject({ accesses: 2, hits: 2 });
    expect(b.features.nodes()).toEqual(['cache-1']);
    expect(b.positions()).toEqual([{ partition: 3, appliedSeq: 1, checkpointedSeq: 1 }]);
  });

  it('starts empty from 0 on a checkpoint of another stream', async () => {
    const stores = sharedStores();
    const a = newTable(stores, 'stream-1');
    await a.adopt(3);
    for (let seq = 1; seq <= 40; seq++) a.admit(seq, `${ACCESS}cache-1`);
    a.features.applyAccess('cache-1', [{ ts: 1, key: 'x', hit: true }]);
    await a.checkpoint();
    expect(stores[3]!.checkpoint!.meta.appliedSeq).toBe(40);

    // The stream was re-created: its sequences start again at 1.
    const b = newTable(stores, 'stream-2');
    expect(await b.adopt(3)).toEqual({ partition: 3, restoredSeq: 0, keys: 0 });
    expect(b.features.keyFeatures('cache-1', 'x')).toBeUndefined();
    expect(b.resumeAfter()).toBe(0);
    expect(b.admit(1, `${ACCESS}cache-1`)).toBe('apply');
    // Its first checkpoint replaces the old stream's.
    await b.checkpoint();
    expect(stores[3]!.checkpoint!.meta).toMatchObject({ appliedSeq: 1, streamCreated: 'stream-2' });
  });

  it('starts empty from 0 without a checkpoint', async () => {
    const table = newTable(sharedStores());
    expect(await table.adopt(2)).toEqual({ partition: 2, restoredSeq: 0, keys: 0 });
  });

  it('refuses a partition already held, keeping its position', async () => {
    const table = newTable(sharedStores());
    await table.adopt(2);
    table.admit(4, `${ACCESS}cache-2`);
    await expect(table.adopt(2)).rejects.toThrow(/already held/);
    expect(table.positions()).toEqual([{ partition: 2, appliedSeq: 4, checkpointedSeq: 0 }]);
  });

  it('drops a partition: returns its nodes, then skips its messages', async () => {
    const table = newTable(sharedStores());
    await adoptAll(table, [2, 3]);
    table.admit(1, `${ACCESS}cache-2`);
    table.features.applyAccess('cache-2', [{ ts: 1, key: 'k', hit: true }]);
    table.admit(2, `${ACCESS}cache-6`);
    table.features.applyAccess('cache-6', [{ ts: 2, key: 'k', hit: true }]);
    expect(table.drop(2)).toEqual(['cache-2', 'cache-6']);
    expect(table.drop(2)).toEqual([]);
    expect(table.held()).toEqual([3]);
    expect(table.admit(3, `${ACCESS}cache-2`)).toBe('skip');
    expect(table.features.keyFeatures('cache-2', 'k')).toBeUndefined();
    expect(table.positions()).toEqual([{ partition: 3, appliedSeq: 3, checkpointedSeq: 0 }]);
  });
});
