/**
 * The cluster a test file works on: started and converged before its tests, healed and torn
 * down after them (the teardown must leave nothing behind). Vitest hooks, so only test files
 * import this; the benchmarks use lifecycle.ts directly.
 */
import { cpSync } from 'fs';
import { afterAll, beforeAll, expect } from 'vitest';
import type { PostgresClusterProps } from '../../lib/model/props';
import { stateDir } from '../../podrt';
import { startConverged, stopConverged, type ConvergedCluster } from './lifecycle';

/** Quorum commit with one synchronous standby: zero acknowledged writes may be lost. */
export const QUORUM: Partial<PostgresClusterProps> = { replication: { mode: 'quorum', standbys: 1 } };

/**
 * Registers the file's cluster on runtime instance `instance`; `use` receives it once it has
 * converged. PGHA_KEEP_LOGS=DIR keeps every container log of the run (teardown deletes them).
 */
export function clusterForThisFile(instance: string, overrides: Partial<PostgresClusterProps>, use: (started: ConvergedCluster) => void): void {
  let started: ConvergedCluster | undefined;
  beforeAll(async () => {
    started = await startConverged(instance, overrides);
    use(started);
  });
  afterAll(async () => {
    // Heal first: a cut-off or frozen pod would slow the teardown down.
    await started?.cluster.rt.heal().catch(() => undefined);
    if (started && process.env.PGHA_KEEP_LOGS) cpSync(`${stateDir(instance)}/logs`, process.env.PGHA_KEEP_LOGS, { recursive: true });
    expect(await stopConverged(started)).toEqual([]);
  });
}
