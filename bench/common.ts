/** What every cluster benchmark needs: the machine's description, and a run with a clean teardown. */
import { execFileSync } from 'child_process';
import { cpus } from 'os';
import type { ExampleCluster } from '../test/cluster/harness';

/** Cores, CPU model and kernel: printed beside every figure (absolute numbers depend on them). */
export function machine(): string {
  const kernel = execFileSync('uname', ['-r']).toString().trim();
  return `${cpus().length} x ${cpus()[0]?.model ?? 'unknown cpu'}, kernel ${kernel}`;
}

/**
 * Runs `body` on a started cluster, then tears the cluster down whatever happened; exits 1 when
 * the body failed or the teardown left something behind.
 */
export function runOnCluster(start: () => Promise<ExampleCluster>, body: (cluster: ExampleCluster) => Promise<void>): void {
  const run = async () => {
    const cluster = await start();
    try {
      await body(cluster);
    } finally {
      const leftovers = await cluster.stop();
      if (leftovers.length > 0) {
        console.error(`leftovers after teardown: ${leftovers.join(', ')}`);
        process.exitCode = 1;
      }
    }
  };
  run().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
