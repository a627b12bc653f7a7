import { defineConfig } from 'vitest/config';

/**
 * Three suites:
 * - unit:    validation, renderers, constructs, schema and drift checks; seconds, no root.
 * - runtime: the local pod runtime's own tests; root, network namespaces.
 * - cluster: dist/ applied to the local pod runtime with real PostgreSQL, repmgr, Pgpool-II.
 * The runtime and cluster suites share the machine's namespaces and ports, so their files must
 * run one at a time: run them with --no-file-parallelism (test/run-all.sh and the npm scripts do;
 * vitest 3 has no per-project switch for it).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'runtime',
          include: ['test/runtime/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
