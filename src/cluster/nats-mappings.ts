/**
 * @module cluster/nats-mappings
 * PRESCIENT_PARTITION_SUBJECTS (docs/scaling.md): the nats-server subject mappings that put each
 * partition's telemetry on its own subjects, so that each partition can be read through its own
 * durable consumer, shared by the replicas, instead of every replica reading the whole stream.
 *
 *   <prefix>.telemetry.access.<node>    → <prefix>.telemetry.p.<partition(node)>.access.<node>
 *   <prefix>.telemetry.latency.<proxy>  → <prefix>.telemetry.p.0.latency.<proxy>
 *
 * Caches and proxies keep publishing to the documented subjects; the server rewrites them before
 * the stream stores them. nats-server's `{{partition(N,1)}}` (2.8 and later; 2.9.10 here) hashes
 * the node token to the same partition as {@link partitionOf} (FNV-1a, 32 bits, mod N), so a
 * node's telemetry lands on the partition whose lease holds its state; the engine checks every
 * message it applies, and test/integration/scale-out.test.ts checks a real server.
 * Latency goes to partition 0, which holds the pools. Pure: no I/O.
 */

/** The `mappings` block entries: subject pattern → destination. */
export function natsPartitionMappings(prefix: string, partitions: number): Record<string, string> {
  return {
    [`${prefix}.telemetry.access.*`]: `${prefix}.telemetry.p.{{partition(${partitions},1)}}.access.{{wildcard(1)}}`,
    [`${prefix}.telemetry.latency.*`]: `${prefix}.telemetry.p.0.latency.{{wildcard(1)}}`,
  };
}

/** The mappings as nats-server configuration text (the account-level `mappings` block). */
export function natsMappingsConfig(prefix: string, partitions: number): string {
  const lines = Object.entries(natsPartitionMappings(prefix, partitions)).map(
    ([from, to]) => `  "${from}": "${to}"`,
  );
  return `mappings = {\n${lines.join('\n')}\n}\n`;
}

/**
 * A mapped telemetry subject's partition and its documented form (what the ingestor parses):
 * `<prefix>.telemetry.p.3.access.n0` → { partition: 3, subject: `<prefix>.telemetry.access.n0` };
 * undefined for a subject that is not mapped.
 */
export function unmapSubject(
  subject: string,
  prefix: string,
): { partition: number; subject: string } | undefined {
  const head = `${prefix}.telemetry.p.`;
  if (!subject.startsWith(head)) return undefined;
  const dot = subject.indexOf('.', head.length);
  if (dot < 0) return undefined;
  const token = subject.slice(head.length, dot);
  if (!/^\d+$/.test(token)) return undefined;
  return { partition: Number(token), subject: `${prefix}.telemetry.${subject.slice(dot + 1)}` };
}
