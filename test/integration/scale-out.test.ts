/**
 * Scale-out: two replicas (`prescient serve` child processes, PRESCIENT_PARTITIONS=4) split the
 * partitions; replica A is killed with SIGKILL while access telemetry for eight cache nodes and
 * latency telemetry for a pool are streaming. B takes A's partitions when their leases expire,
 * restores their checkpoints and replays the stream from them: publication of every node and of
 * the pool's weights continues from B, and every published event is counted exactly once in B's
 * features. Run twice:
 *
 * - stream feeds, on the shared NATS: every replica reads the whole stream;
 * - partition feeds (PRESCIENT_PARTITION_SUBJECTS=1), on a nats-server the test starts with the
 *   mappings `prescient cluster nats-mappings` prints: each partition is read through its own
 *   consumer, so no replica receives another's telemetry (nothing skipped), and the subjects the
 *   server stored are each node's partition as the engine computes it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import {
  bearer,
  isolatedSettings,
  latencyEvents,
  NATS_URL,
  REDIS_URL,
  waitFor,
} from '../helpers/engine.js';
import { names } from '../../src/config/settings.js';
import { partitionOf } from '../../src/cluster/partitions.js';
import { natsMappingsConfig } from '../../src/cluster/nats-mappings.js';
import type { Settings } from '../../src/config/settings.js';
import { cleanup, natsConnection, redisConnection } from './servers.js';
import {
  EngineProcess,
  publishSustained,
  sleep,
  startNatsServer,
  stopAll,
} from './fault-servers.js';

const PARTITIONS = 4;
const base = {
  redisUrl: REDIS_URL,
  logLevel: 'warn',
  victimRanker: 'lru',
  retrainCronEviction: 'off',
  retrainCronForecast: 'off',
  partitions: PARTITIONS,
  leaseTtlMs: 1_500,
  snapshotIntervalMs: 1_000,
  consumerAckWaitSec: 30,
  publishIntervalMs: 500,
} as const;

/** Eight nodes: two in each partition (n0..n7 hash to 3,0,1,2,3,0,1,2 of 4). */
const NODES = Array.from({ length: 8 }, (_, i) => `n${i}`);
const MESSAGES = 120;
const PER_MESSAGE = 100;
const KEYS = 40;

interface ClusterStats {
  cluster: {
    held: number[];
    leader: boolean;
    live: string[];
    rebalances: number;
    feeds: 'stream' | 'partition';
    skippedMessages: number;
    misroutedMessages: number;
  } | null;
  telemetry: { accepted: Record<string, number> };
}
const stats = (e: EngineProcess) => e.get<ClusterStats>('/v1/stats', bearer('viewer'));
/** A key's access count on the replica (undefined: not tracked there, 404). */
const accesses = (e: EngineProcess, node: string, key: string) =>
  e
    .get<{ features: { accesses: number } | null }>(
      `/v1/nodes/${node}/keys/${key}/explain`,
      bearer('viewer'),
    )
    .then((r) => r.features?.accesses)
    .catch(() => undefined);

const connections: NatsConnection[] = [];
const deployments: Settings[] = [];
afterAll(async () => {
  await stopAll();
  for (const c of connections) await c.close();
  for (const s of deployments) await cleanup(s).catch(() => undefined);
});

describe.each([
  ['stream feeds', 0],
  ['partition feeds', 1],
] as const)('two replicas, one killed (%s)', (mode, partitionSubjects) => {
  it('splits the partitions, fails over, keeps publishing and loses nothing', async () => {
    expect(new Set(NODES.map((n) => partitionOf(n, PARTITIONS))).size).toBe(PARTITIONS);
    // Partition feeds: a nats-server of this test's with the engine's mappings.
    const probe = isolatedSettings({ ...base, natsUrl: NATS_URL });
    const server =
      partitionSubjects === 1
        ? await startNatsServer(natsMappingsConfig(probe.subjectPrefix, PARTITIONS))
        : undefined;
    const settingsA = {
      ...probe,
      natsUrl: server?.url ?? NATS_URL,
      partitionSubjects,
      replicaId: 'replica-a',
    };
    // Same names (stream, buckets, Redis prefix) as A: one deployment, two replicas.
    const settingsB = { ...settingsA, replicaId: 'replica-b' };
    if (!server) deployments.push(settingsA);
    else deployments.push({ ...settingsA, natsUrl: NATS_URL }); // Redis keys; its NATS goes
    const n = names(settingsA);
    const nc = server ? await server.connect() : await natsConnection();
    connections.push(nc);
    const js = nc.jetstream();

    const a = await EngineProcess.start(settingsA, 'replica A');
    const b = await EngineProcess.start(settingsB, 'replica B');
    // Both live: the four partitions split two and two (bounded-load rendezvous), none held twice.
    const [heldA, heldB] = await waitFor(
      async () => {
        const [sa, sb] = await Promise.all([stats(a), stats(b)]);
        const ha = sa.cluster!.held;
        const hb = sb.cluster!.held;
        return ha.length === 2 && hb.length === 2 ? [ha, hb] : undefined;
      },
      20_000,
      'A and B to hold two partitions each',
    );
    expect([...heldA, ...heldB].sort()).toEqual([0, 1, 2, 3]);
    const nodesOfA = NODES.filter((node) => heldA.includes(partitionOf(node, PARTITIONS)));

    let markKilled: () => void = () => undefined;
    const killed = new Promise<void>((resolve) => (markKilled = resolve));
    const publishers = NODES.map((node) =>
      publishSustained({
        js,
        subject: n.accessSubject(node),
        messages: MESSAGES,
        eventsPerMessage: PER_MESSAGE,
        keys: KEYS,
        paceMs: 10,
        idPrefix: `${node}-`,
        // The last third of every node's stream is published after the kill.
        before: (m) => (m === (MESSAGES * 2) / 3 ? killed : undefined),
      }),
    );
    const latency = async (tag: string) => {
      const events = latencyEvents('pool-1', ['b1', 'b2'], 20, tag === 'after' ? 30 : 10);
      await js.publish(n.latencySubject('proxy-1'), JSON.stringify({ events }), {
        msgID: `latency-${tag}`,
      });
    };
    await latency('before');

    // Kill A once every node's stream reached the hold point and A applied some of it.
    await waitFor(
      () => publishers.every((p) => p.acked() >= (MESSAGES * 2) / 3),
      60_000,
      'the first two thirds published',
    );
    await sleep(1_200); // A applies, checkpoints some; the rest it applied is lost with it
    const kv = await js.views.kv(settingsA.kvBucket);
    const revisionAtKill = new Map<string, number>();
    for (const node of NODES)
      revisionAtKill.set(node, (await kv.get(`eviction.${node}`))?.revision ?? 0);
    const weightsAtKill = (await kv.get('weights.pool-1'))?.revision ?? 0;
    // A checkpointed its partitions (B must restore them, not re-read the stream from 1).
    const redis = redisConnection();
    for (const p of heldA) {
      const saved = Number(await redis.hget(`${n.redisSnapshotKey}:p${p}`, 'appliedSeq'));
      expect(saved, `partition ${p} checkpointed by A`).toBeGreaterThan(0);
    }
    redis.disconnect();
    await a.proc.stop('SIGKILL');
    expect(a.proc.child.signalCode).toBe('SIGKILL');
    const killedAt = Date.now();
    markKilled();
    await latency('after');
    await Promise.all(publishers.map((p) => p.done));

    // B takes every partition once A's leases expire, and leads (partition 0 holds the pools).
    await waitFor(
      async () => (await stats(b)).cluster!.held.length === PARTITIONS,
      20_000,
      'B to hold every partition',
    );
    const takeoverMs = Date.now() - killedAt;
    const sb = await stats(b);
    expect(sb.cluster!.leader).toBe(true);
    expect(sb.cluster!.live).toEqual(['replica-b']);

    // Every key of every node: checkpoint of its partition plus the replay = what was published.
    await waitFor(
      async () => {
        for (const node of NODES) {
          if ((await accesses(b, node, 'k0')) !== (MESSAGES * PER_MESSAGE) / KEYS) return false;
        }
        return true;
      },
      30_000,
      'B applied every node',
    );
    let total = 0;
    for (const node of NODES) {
      for (let k = 0; k < KEYS; k++) {
        const count = await accesses(b, node, `k${k}`);
        expect(count, `${node}/k${k}`).toBe((MESSAGES * PER_MESSAGE) / KEYS);
        total += count ?? 0;
      }
    }
    expect(total).toBe(NODES.length * MESSAGES * PER_MESSAGE);
    const pool = await b.get<{ features: { count?: number } | null }>(
      '/v1/pools/pool-1/backends/b1/explain',
      bearer('viewer'),
    );
    expect(pool.features).not.toBeNull();

    // Publication continued: A's nodes and the pool's weights got new versions from B.
    await waitFor(
      async () => {
        for (const node of nodesOfA) {
          const e = await kv.get(`eviction.${node}`);
          if ((e?.revision ?? 0) <= revisionAtKill.get(node)!) return false;
        }
        return ((await kv.get('weights.pool-1'))?.revision ?? 0) > weightsAtKill;
      },
      20_000,
      "new documents for A's nodes and the pool",
    );
    console.log(
      `scale-out (${mode}): A held ${JSON.stringify(heldA)} (${nodesOfA.join(',')}); B held every partition ${takeoverMs} ms after the kill (lease TTL ${base.leaseTtlMs} ms)`,
    );
    const c = (await stats(b)).cluster!;
    expect(c.feeds).toBe(mode === 'stream feeds' ? 'stream' : 'partition');
    expect(c.misroutedMessages).toBe(0);
    if (partitionSubjects === 1) {
      // No replica received another's telemetry, and the server put each node where the engine
      // looks for it.
      expect(c.skippedMessages).toBe(0);
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(settingsA.streamName, { subjects_filter: '>' });
      const subjects = Object.keys(info.state.subjects ?? {});
      for (const node of NODES) {
        expect(subjects).toContain(
          `${settingsA.subjectPrefix}.telemetry.p.${partitionOf(node, PARTITIONS)}.access.${node}`,
        );
      }
      expect(subjects).toContain(`${settingsA.subjectPrefix}.telemetry.p.0.latency.proxy-1`);
      // One consumer per partition, of B's lease terms (A's were deleted when B took over).
      const consumers: string[] = [];
      for await (const ci of jsm.consumers.list(settingsA.streamName)) consumers.push(ci.name);
      expect(consumers.map((name) => name.replace(/-f\d+$/, '')).sort()).toEqual(
        [0, 1, 2, 3].map((p) => `${settingsA.consumerName}-p${p}`),
      );
    } else {
      expect(c.skippedMessages).toBeGreaterThan(0);
    }
    await b.proc.stop('SIGTERM');
    expect(b.proc.child.exitCode).toBe(0);
  }, 180_000);
});
