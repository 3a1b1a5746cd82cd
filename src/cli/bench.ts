/**
 * @module cli/bench
 * `prescient bench <name>`: benchmark commands. Each prints a table, or with --json one JSON
 * document, and measures side by side in one run (timings on a shared 2-core machine are noisy).
 */
import { UsageError } from '../errors.js';

const BENCHES: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  ingest: async () => (await import('../sim/bench-ingest.js')).benchIngestCommand,
  eviction: async () => (await import('../sim/bench-eviction.js')).benchEvictionCommand,
  forecast: async () => (await import('../sim/bench-forecast.js')).benchForecastCommand,
  balance: async () => (await import('../sim/bench-balance.js')).benchBalanceCommand,
  faults: async () => (await import('../sim/bench-faults.js')).benchFaultsCommand,
};

export async function bench(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name === undefined ? undefined : BENCHES[name];
  if (!load) throw new UsageError(`bench needs one of: ${Object.keys(BENCHES).join(', ')}`);
  return (await load())(rest);
}
