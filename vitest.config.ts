import { defineConfig } from 'vitest/config';
import { BOUNDS } from './test/cluster/bounds';

/**
 * Four suites:
 * - unit:    validation, renderers, constructs, schema and drift checks; seconds, no root.
 * - package: the packed npm package in fresh consumer projects, the GitOps examples and a
 *            kustomize build of dist/; about a minute, no root.
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
          // What consumers of the output run: the npm package installed into fresh CommonJS and
          // ES-module projects, Argo CD's and Flux's schemas, kustomize. About a minute.
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'runtime',
          include: ['podrt/**/*.test.ts'],
          // Every container runs in its image's root filesystem, built from images/*/recipe.sh.
          globalSetup: ['podrt/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          // The images of the version set (PGHA_VERSION_SET), built from images/*/recipe.sh.
          globalSetup: ['test/cluster/global-setup.ts'],
          // A failing test prints the runtime's events and every pod's entrypoint lines.
          setupFiles: ['test/cluster/diagnose-on-failure.ts'],
          // From the product's bounds (test/cluster/bounds.ts): a failover and a rejoin per test,
          // a cluster start per file.
          testTimeout: BOUNDS.failoverMs + BOUNDS.rejoinMs + 60_000,
          hookTimeout: BOUNDS.allReadyMs + BOUNDS.convergedMs + 60_000,
        },
      },
    ],
  },
});
