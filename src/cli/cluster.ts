/**
 * @module cli/cluster
 * `prescient cluster nats-mappings [--partitions N] [--prefix P]`: the nats-server `mappings`
 * block that PRESCIENT_PARTITION_SUBJECTS=1 needs (docs/scaling.md). The defaults are read from
 * PRESCIENT_PARTITIONS and PRESCIENT_SUBJECT_PREFIX, so the block matches the engine's settings.
 */
import { parseArgs } from 'node:util';
import { loadSettings } from '../config/settings.js';
import { UsageError } from '../errors.js';
import { natsMappingsConfig } from '../cluster/nats-mappings.js';

const USAGE = 'usage: prescient cluster nats-mappings [--partitions N] [--prefix PREFIX]';

export function cluster(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'nats-mappings') throw new UsageError(USAGE);
  const { values } = parseArgs({
    args: rest,
    options: { partitions: { type: 'string' }, prefix: { type: 'string' } },
  });
  const s = loadSettings(process.env, {
    ...(values.partitions === undefined ? {} : { partitions: values.partitions }),
    ...(values.prefix === undefined ? {} : { subjectPrefix: values.prefix }),
    // Only the partition count and prefix matter here, not the connection checks.
    natsUrl: 'nats://127.0.0.1:4222',
    redisUrl: 'redis://127.0.0.1:6379',
  });
  if (s.partitions < 1)
    throw new UsageError(`--partitions (or PRESCIENT_PARTITIONS) must be ≥ 1\n${USAGE}`);
  process.stdout.write(
    `# nats-server configuration (the account that carries Prescient's telemetry):\n` +
      natsMappingsConfig(s.subjectPrefix, s.partitions),
  );
  return Promise.resolve(0);
}
