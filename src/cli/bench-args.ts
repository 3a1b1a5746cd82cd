/**
 * @module cli/bench-args
 * What benchmark commands share on their command line: `[--seed S] [--json] [--help]`, and where
 * the shared data folder is.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';

export interface SeedJsonArgs {
  readonly seed: number;
  readonly json: boolean;
}

/**
 * Parses `[--seed S] [--json] [--help]` (seed default 1). Prints `help` and returns undefined for
 * --help. @throws UsageError on a seed that is not a whole number or an unknown option.
 */
export function parseSeedJsonArgs(argv: string[], help: string): SeedJsonArgs | undefined {
  const parse = () =>
    parseArgs({
      args: argv,
      options: {
        seed: { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  let values: ReturnType<typeof parse>;
  try {
    values = parse();
  } catch (err) {
    // node:util's own errors (unknown option, missing value) are usage errors.
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return undefined;
  }
  if (!/^\d+$/.test(values.seed)) throw new UsageError('--seed must be a whole number');
  return { seed: Number(values.seed), json: values.json };
}

/** The shared data folder: PRESCIENT_SHARED_DATA, else ../shared/data beside the checkout. */
export function sharedDataDir(): string {
  return process.env['PRESCIENT_SHARED_DATA'] ?? join(process.cwd(), '..', 'shared', 'data');
}
