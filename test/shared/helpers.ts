/** Paths into ../shared/data for the shared-data checks. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const traces = fileURLToPath(new URL('../../../shared/data/traces/', import.meta.url));

/** A shared trace's path; a missing folder is a broken checkout (CI always has it), not a skip. */
export function sharedTrace(name: string): string {
  const path = join(traces, name);
  if (!existsSync(path)) {
    throw new Error(
      `shared trace ${path} is missing: the shared/ data folder must sit beside the repo`,
    );
  }
  return path;
}
