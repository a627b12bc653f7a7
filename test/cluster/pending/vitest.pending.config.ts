import { defineConfig } from 'vitest/config';

/**
 * Cluster scenarios that do not pass reliably yet (see the comment at the top of each
 * *.pending.ts). Not part of CI: the cluster project includes only *.test.ts. Run one by hand,
 * as root, one file at a time:
 *   npx vitest run -c test/cluster/pending/vitest.pending.config.ts test/cluster/pending/NAME.pending.ts (none today)
 */
export default defineConfig({
  test: {
    include: ['test/cluster/pending/**/*.pending.ts'],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 600_000,
  },
});
