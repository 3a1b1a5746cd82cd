/**
 * PRESCIENT_PARTITION_SUBJECTS: the nats-server mappings, undoing them for the ingestor, and the
 * partition table reading one feed per partition (each message moves only its own partition).
 * test/integration/scale-out.test.ts runs the mappings on a real nats-server.
 */
import { describe, expect, it } from 'vitest';
import {
  natsMappingsConfig,
  natsPartitionMappings,
  unmapSubject,
} from '../../src/cluster/nats-mappings.js';
import { PartitionTable } from '../../src/cluster/partition-table.js';
import { partitionOf } from '../../src/cluster/partitions.js';
import type { SnapshotStore } from '../../src/state/snapshot-store.js';
import { BASE_OPTIONS } from '../features/helpers.js';

describe('nats mappings', () => {
  it('maps access by node partition and latency to partition 0', () => {
    expect(natsPartitionMappings('prescient', 16)).toEqual({
      'prescient.telemetry.access.*':
        'prescient.telemetry.p.{{partition(16,1)}}.access.{{wildcard(1)}}',
      'prescient.telemetry.latency.*': 'prescient.telemetry.p.0.latency.{{wildcard(1)}}',
    });
    expect(natsMappingsConfig('x', 4)).toBe(
      'mappings = {\n' +
        '  "x.telemetry.access.*": "x.telemetry.p.{{partition(4,1)}}.access.{{wildcard(1)}}"\n' +
        '  "x.telemetry.latency.*": "x.telemetry.p.0.latency.{{wildcard(1)}}"\n' +
        '}\n',
    );
  });

  it('undoes a mapped subject and leaves others alone', () => {
    expect(unmapSubject('prescient.telemetry.p.3.access.n0', 'prescient')).toEqual({
      partition: 3,
      subject: 'prescient.telemetry.access.n0',
    });
    expect(unmapSubject('prescient.telemetry.p.0.latency.proxy-1', 'prescient')).toEqual({
      partition: 0,
      subject: 'prescient.telemetry.latency.proxy-1',
    });
    expect(unmapSubject('prescient.telemetry.access.n0', 'prescient')).toBeUndefined();
    expect(unmapSubject('prescient.telemetry.p.x.access.n0', 'prescient')).toBeUndefined();
    expect(unmapSubject('other.telemetry.p.1.access.n0', 'prescient')).toBeUndefined();
  });
});

describe('partition table with partition feeds', () => {
  const store = (): SnapshotStore => ({
    kind: 'memory',
    load: () => Promise.resolve(undefined),
    save: () => Promise.resolve(),
  });
  const table = () =>
    new PartitionTable({
      partitions: 4,
      features: BASE_OPTIONS,
      subjectPrefix: 'prescient',
      feeds: 'partition',
      snapshots: store,
      streamCreated: () => 's',
    });
  const mapped = (node: string) => `prescient.telemetry.p.${partitionOf(node, 4)}.access.${node}`;
  // n0..n3 hash to partitions 3, 0, 1, 2 of 4.

  it('moves only the message partition and resumes each feed after its own', async () => {
    const t = table();
    await t.adopt(0);
    await t.adopt(3);
    expect(t.admit(10, mapped('n0'))).toBe('apply'); // partition 3
    expect(t.admit(5, mapped('n1'))).toBe('apply'); // partition 0, an older sequence: other feed
    expect(t.admit(5, mapped('n1'))).toBe('duplicate');
    expect(t.appliedThrough(3)).toBe(10);
    expect(t.appliedThrough(0)).toBe(5);
    expect(t.admit(7, 'prescient.telemetry.p.0.latency.proxy-1')).toBe('apply');
    expect(t.appliedThrough(0)).toBe(7);
    expect(t.admit(8, mapped('n2'))).toBe('skip'); // partition 1, not held
    expect(t.documentedSubject(mapped('n0'))).toBe('prescient.telemetry.access.n0');
  });

  it('refuses a node the server put on another partition (mapping with another count)', async () => {
    const t = table();
    await t.adopt(1);
    expect(t.admit(1, 'prescient.telemetry.p.1.access.n0')).toBe('misrouted');
    expect(t.misrouted).toBe(1);
    expect(t.appliedThrough(1)).toBe(0);
  });
});
