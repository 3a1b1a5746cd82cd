import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure, fast, in parallel) and `integration` (real NATS and Redis on
// loopback; files run one at a time because they share the servers).
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/shared/**', 'node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        // Checks on ../shared/data: `npm run check:shared`, not part of `npm test`.
        test: {
          name: 'shared',
          include: ['test/shared/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
