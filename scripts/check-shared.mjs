#!/usr/bin/env node
/**
 * @module scripts/check-shared
 * Checks that read the shared data beside the checkout (`../shared/data`, as in CI): verifies
 * the folder, lists what it holds, then runs the vitest project `shared` (test/shared/), which
 * checks the trace readers and an end-to-end replay against the published reference figures.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.resolve(root, '..', 'shared', 'data');

/** Every file under `dir`, depth first, as paths relative to `base`. */
function listFiles(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  });
}

try {
  if (!statSync(dataDir).isDirectory()) throw new Error('not a directory');
} catch (error) {
  console.error(
    `shared data not found at ${dataDir} (${error.message}): clone with ../shared beside it`,
  );
  process.exit(1);
}

const files = listFiles(dataDir).filter((file) => !file.endsWith('README.md'));
console.log(`shared data: ${dataDir}, ${files.length} files`);
for (const file of files) {
  const sizeKiB = (statSync(path.join(dataDir, file)).size / 1024).toFixed(1);
  console.log(`  ${file} (${sizeKiB} KiB)`);
}

const vitest = spawnSync(
  path.join(root, 'node_modules', '.bin', 'vitest'),
  ['run', '--project', 'shared'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(vitest.status ?? 1);
