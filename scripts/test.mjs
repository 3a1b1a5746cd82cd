#!/usr/bin/env node
/**
 * @module scripts/test
 * What `npm test` runs: servers, format, lint, types, import cycles, then every vitest project.
 * The `shared` project (checks on ../shared/data) is not part of it: `npm run check:shared`.
 * Stops at the first failing step with that step's exit code. Extra arguments go to vitest:
 * `npm test -- test/features` runs only those tests (after the same checks).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureServices } from './services.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPORT = path.join(root, 'test-output', 'vitest.json');
rmSync(REPORT, { force: true });
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

/** Runs a local binary with inherited stdio; resolves to its exit code. */
function run(name, args) {
  const result = spawnSync(bin(name), args, { cwd: root, stdio: 'inherit' });
  if (result.error) {
    console.error(`${name}: ${result.error.message} (run \`npm ci\` first)`);
    return 127;
  }
  return result.status ?? 1;
}

const steps = [
  [
    'services (NATS with JetStream, Redis)',
    () =>
      ensureServices().then(
        () => 0,
        () => 1,
      ),
  ],
  ['prettier --check .', () => run('prettier', ['--check', '.'])],
  ['eslint . --max-warnings 0', () => run('eslint', ['.', '--max-warnings', '0'])],
  ['tsc -p tsconfig.json --noEmit', () => run('tsc', ['-p', 'tsconfig.json', '--noEmit'])],
  [
    'madge --circular src',
    () => run('madge', ['--circular', '--extensions', 'ts', '--ts-config', 'tsconfig.json', 'src']),
  ],
  [
    `vitest run --project unit --project integration ${process.argv.slice(2).join(' ')}`.trim(),
    () =>
      run('vitest', [
        'run',
        '--project',
        'unit',
        '--project',
        'integration',
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${REPORT}`,
        ...process.argv.slice(2),
      ]),
  ],
];

/** Prints vitest's totals as the plain closing line CI reads: `N passed, N failed`. */
function summary() {
  try {
    const r = JSON.parse(readFileSync(REPORT, 'utf8'));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  } catch {
    // No report: vitest did not run; the step's exit code says why.
  }
}

const started = Date.now();
for (const [index, [title, step]] of steps.entries()) {
  console.log(`\n=== [${index + 1}/${steps.length}] ${title}`);
  const t0 = Date.now();
  const code = await step();
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (code !== 0) {
    if (index === steps.length - 1) summary();
    console.error(`=== FAILED: ${title} (exit ${code}, ${seconds} s)`);
    process.exit(code);
  }
  console.log(`=== ok: ${title} (${seconds} s)`);
}
console.log(
  `\n=== all ${steps.length} steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
summary();
