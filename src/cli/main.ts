/**
 * @module cli/main
 * The `prescient` command: `serve` (what `npm start` runs), `replay` (a trace as access telemetry
 * over NATS) and `bench <name>` (benchmark commands that print a table, or JSON with --json).
 */
import { isPrescientError, UsageError } from '../errors.js';

const USAGE = `usage: prescient <command> [options]

commands:
  serve                                   run the engine (REST API, NATS/Redis per NATS_URL/REDIS_URL)
  replay --trace FILE --node N [options]  publish a trace as access telemetry to NATS (NATS_URL)
  bench ingest --events N [--batch B] [--json]
                                          publish N synthetic events to NATS, report events/s applied
                                          and p99 apply latency
  bench forecast --series FILE|DIR [--horizon 12] [--season auto|STEPS] [--holdout 0.2] [--json]
                                          rolling-origin backtest of every forecaster and the served one
  bench eviction --trace FILE|DIR [--sizes 0.01,0.05,0.1] [--policies all|lru,...] [--json]
                                          replay a cache trace with every eviction policy
  bench balance [--scenario NAME|all] [--seed 1] [--json]
                                          balancer simulator: every algorithm, the oracle and a lower
                                          bound on the scenario suite (p50/p99/p99.9, errors, divert)
  bench faults [--seed 1] [--json]        replay 32 labelled fault injections (Nezha) through the
                                          predictive weigher: diverted, how fast, explained why
  haproxy-agent --socket PATH --backend NAME --pool POOL [--proxy ID] [--interval MS]
                                          feed HAProxy's show stat to Prescient as latency telemetry and
                                          apply weights.<POOL> with set server ... weight N
  token new --name NAME --role ROLE       a new API token and its PRESCIENT_API_TOKENS entry (the hash)
  token hash < FILE                       SHA-256 of a token read from stdin
  cluster nats-mappings [--partitions N]  the nats-server mappings PRESCIENT_PARTITION_SUBJECTS=1 needs
  help                                    this text

run 'prescient <command> --help' for a command's options.`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serve,
  replay: async () => (await import('./replay.js')).replay,
  bench: async () => (await import('./bench.js')).bench,
  'haproxy-agent': async () => (await import('./haproxy-agent.js')).haproxyAgent,
  token: async () => (await import('./token.js')).token,
  cluster: async () => (await import('./cluster.js')).cluster,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`prescient: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await (
      await load()
    )(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`prescient ${name}: ${err.message}\n`);
      return 2;
    }
    if (isPrescientError(err)) {
      process.stderr.write(`prescient ${name}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
