/**
 * Issue 5, scenario 3: the primary pod deleted gracefully (preStop, SIGTERM, grace period) under
 * a write workload, with the example chart's default ASYNCHRONOUS replication: a switchover
 * with no acknowledged write lost (the primary's fast shutdown sends all WAL to its connected
 * standbys before it exits, then repmgrd promotes the most advanced standby).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExampleCluster } from './harness';
import { decisions, describeVerdict, dumpLogs, invariantFailures, newestPodLog, underLoad, waitConverged, waitStreaming } from './workload';

let cluster: ExampleCluster;
let forward: Awaited<ReturnType<ExampleCluster['forward']>>;

beforeAll(async () => {
  cluster = await ExampleCluster.start('failover-graceful');
  try {
    await cluster.waitAllReady();
    await waitConverged(cluster);
  } catch (error) {
    await dumpLogs(cluster);
    throw error;
  }
  forward = await cluster.forward();
});

afterAll(async () => {
  await forward?.close();
  if (cluster) {
    const leftovers = await cluster.stop();
    expect(leftovers).toEqual([]);
  }
});

describe('GIVEN an asynchronous cluster under a write workload through Pgpool-II', () => {
  it('WHEN the primary pod is deleted gracefully THEN a standby takes over and no acknowledged write is lost', async () => {
    const before = (await cluster.primary())!;
    let goneMs = -1;
    let streamingMs = -1;
    const run = await underLoad(cluster, forward.config, async () => {
      const t = Date.now();
      await cluster.rt.deletePod(before);
      goneMs = Date.now() - t;
    }, {
      after: async (t0) => {
        streamingMs = await waitStreaming(cluster, before, t0);
      },
    });
    const history = await newestPodLog(cluster, before);
    console.log(
      `scenario 3: deleted ${before} gracefully (gone after ${goneMs} ms); first acknowledged write after ${run.firstAckMs} ms on ${run.firstAck.server} ` +
        `timeline ${run.firstAck.tli}; ${before} streaming again after ${streamingMs} ms; ${describeVerdict(run.verdict)}; ` +
        `${JSON.stringify(run.workload.summary(run.t0))}; errors ${JSON.stringify(run.workload.errorKinds())}\n${decisions(history)}`,
    );
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
    expect(run.verdict.state.primary).not.toBe(before);
    expect(history).not.toMatch(/clone: repmgr standby clone|re-clone/);
  });
});
