/**
 * Setup file of the cluster suite: when a test fails, print once what is needed to diagnose it
 * without a rerun (the runtime's events and every pod's recent entrypoint lines, for every
 * cluster still running), then let the suite go on.
 */
import { afterEach } from 'vitest';
import { ExampleCluster } from './harness';

afterEach(async (context) => {
  if (context.task.result?.state !== 'fail') return;
  for (const cluster of ExampleCluster.running) {
    console.log(await cluster.diagnosis().catch((error) => `diagnosis failed: ${String(error)}`));
  }
}, 60_000);
