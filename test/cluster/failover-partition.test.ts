/**
 * The primary cut off from the network (rt.partition) then healed. The
 * isolated primary must fence itself (stop serving), another member is promoted, and after the
 * heal the old primary comes back as a standby. Quorum-synchronous replication: zero
 * acknowledged writes may be lost. (Freeze and thaw: failover-freeze.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { describeVerdict, invariantFailures } from './invariants';
import { type ConvergedCluster, servesAsPrimary, waitStreaming } from './lifecycle';
import { decisions, entrypointHistory, newestPodLog } from './logs';
import { underLoad } from './workload';
import { clusterForThisFile, QUORUM } from './file-cluster';

let cluster: ExampleCluster;
let forward: ConvergedCluster['forward'];
clusterForThisFile('failover-partition', QUORUM, (started) => ({ cluster, forward } = started));

describe('GIVEN a quorum-synchronous cluster under a write workload through Pgpool-II', () => {
  it('WHEN the primary is cut off from the network THEN it fences itself, a standby is promoted, and after healing it rejoins as a standby', async () => {
    const before = (await cluster.primary())!;
    let fencedMs = -1;
    let promotedAckMs = -1;
    let streamingMs = -1;
    const run = await underLoad(cluster, forward.config, () => cluster.rt.partition(before).then(() => undefined), {
      after: async (t0, workload) => {
        const tliBefore = Math.max(...workload.acked().filter((r) => r.end < t0).map((r) => r.tli!));
        // Both clocks run from the fault: the isolated primary stops serving, another member takes writes.
        await Promise.all([
          cluster.rt
            .waitFor(async () => workload.acked().find((r) => r.tli! > tliBefore), { timeoutMs: BOUNDS.failoverMs, intervalMs: 100, what: 'a write on a newer timeline' })
            .then((r) => (promotedAckMs = r.end - t0)),
          cluster.rt
            .waitFor(async () => !(await servesAsPrimary(cluster, before)), { timeoutMs: BOUNDS.failoverMs, intervalMs: 250, what: `${before} fenced` })
            .then(() => (fencedMs = Date.now() - t0)),
        ]);
        // A write straight to the isolated node (its own socket) is refused.
        const direct = await cluster.exec(before, ['psql', '-X', '-At', '-h', '/var/run/postgresql', '-U', 'postgres', '-d', 'app', '-c', 'INSERT INTO failover_rows (id, writer) VALUES (-1, -1)'], 30_000);
        expect(direct.code).not.toBe(0);
        await cluster.rt.heal(before);
        streamingMs = await waitStreaming(cluster, before, t0);
      },
    });
    const log = await newestPodLog(cluster, before);
    const history = await entrypointHistory(cluster, before);
    // The fence decision's own log line (1 s resolution), apart from how fast exec can observe it.
    const fenceLine = history.split('\n').reverse().find((l) => / entrypoint: fence: cut off/.test(l));
    const fenceLogMs = fenceLine ? Date.parse(fenceLine.slice(0, 20)) - run.t0 : undefined;
    console.log(
      `partition: partitioned ${before}; first write acknowledged on a newer timeline after ${promotedAckMs} ms; ` +
        `${before} fenced itself at ${fenceLogMs} ms (its log line; seen stopped over exec at ${fencedMs} ms); partition at ${new Date(run.t0).toISOString()}; streaming again after healing at ${streamingMs} ms; ${describeVerdict(run.verdict)}; ` +
        `${JSON.stringify(run.workload.summary(run.t0))}; errors ${JSON.stringify(run.workload.errorKinds())}\n${decisions(history)}`,
    );
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
    expect(run.verdict.state.primary).not.toBe(before);
    expect(fenceLine).toBeDefined();
    expect(log).not.toMatch(/clone: repmgr standby clone|re-clone/);
  });
});
