/**
 * The primary's container crashed and restarted in place at once
 * (rt.crash), then Pgpool-II pods killed / restarted under the workload.
 * Quorum-synchronous replication: zero acknowledged writes may be lost.
 */
import { describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { describeVerdict, invariantFailures } from './invariants';
import { type ConvergedCluster } from './lifecycle';
import { decisions, newestPodLog } from './logs';
import { underLoad } from './workload';
import { clusterForThisFile, QUORUM } from './file-cluster';

let cluster: ExampleCluster;
let forward: ConvergedCluster['forward'];
clusterForThisFile('failover-crash', QUORUM, (started) => ({ cluster, forward } = started));

describe('GIVEN a quorum-synchronous cluster under a write workload through Pgpool-II', () => {
  it('WHEN the primary container crashes and restarts in place THEN either it stays primary with no promotion, or another member is promoted and it rejoins as a standby, never both', async () => {
    const before = (await cluster.primary())!;
    const tliBefore = Number(await cluster.psql(before, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"));
    let streamingMs = -1;
    const run = await underLoad(cluster, forward.config, () => cluster.rt.crash(before).then(() => undefined), {
      after: async (t0) => {
        // Either it is primary again (no failover) or it streams as a standby.
        await cluster.rt.waitFor(
          async () => {
            if ((await cluster.primary()) === before) return true;
            return (await cluster.psql(before, 'SELECT status FROM pg_stat_wal_receiver', { timeoutMs: 5_000 }).catch(() => '')) === 'streaming';
          },
          { timeoutMs: BOUNDS.rejoinMs, intervalMs: 500, what: `${before} primary again or streaming` },
        );
        streamingMs = Date.now() - t0;
      },
    });
    const v = run.verdict;
    const log = await newestPodLog(cluster, before);
    console.log(
      `crash in place: crashed ${before} (timeline ${tliBefore}); first acknowledged write after ${run.firstAckMs} ms on ${run.firstAck.server} timeline ${run.firstAck.tli}, first on a newer timeline after ${run.newTimelineAckMs ?? '-'} ms; ` +
        `final primary ${v.state.primary} timeline ${v.state.tli}; ${before} primary again or streaming after ${streamingMs} ms; ${describeVerdict(v)}; ` +
        `${JSON.stringify(run.workload.summary(run.t0))}; errors ${JSON.stringify(run.workload.errorKinds())}\n${decisions(log)}`,
    );
    expect(invariantFailures(v, { zeroLoss: true })).toEqual([]);
    // Writes acknowledged after the crash, by server: one node only may have taken them
    // (besides writes that began before the crash call returned, on the old timeline).
    const after = run.workload.acked().filter((r) => r.start >= run.t0 + run.faultMs);
    const serversAfter = new Set(after.filter((r) => r.tli! > tliBefore).map((r) => r.server));
    if (v.state.primary === before) {
      // It is primary again and no other member was: either nothing was promoted (same
      // timeline), or repmgrd could not promote and the entrypoint's election re-elected it as
      // the most advanced node (a new timeline on the same node). Never another server.
      expect([...serversAfter].every((s) => s === before)).toBe(true);
      if (v.state.tli !== tliBefore) expect(log).toMatch(/role: primary \(election: /);
    } else {
      // Failed over: it came back as a standby of the new timeline, without a clone.
      expect(v.state.tli).toBeGreaterThan(tliBefore);
      expect(v.state.standbys[before]).toMatch(/^streaming /);
      expect(log).not.toMatch(/clone: repmgr standby clone|re-clone/);
    }
    // Every acknowledged write after the fault went to the final primary's timeline or the old one, one server each.
    const servers = new Set(run.workload.acked().filter((r) => r.start > run.t0).map((r) => `${r.server}@${r.tli}`));
    console.log(`crash in place: servers@timeline that acknowledged writes after the crash: ${[...servers].join(', ')}`);
  });

  it('WHEN a Pgpool-II pod is killed during the workload THEN writes continue through the Service with nothing acknowledged lost', async () => {
    const [victim] = await cluster.pgpoolPods();
    const run = await underLoad(cluster, forward.config, () => cluster.rt.killPod(victim).then(() => undefined), {
      after: async () => {
        await cluster.rt.waitReady('app.kubernetes.io/component=pgpool', { count: 2, namespace: cluster.namespace, timeoutMs: BOUNDS.pgpoolReplacementMs });
      },
    });
    console.log(
      `pgpool pod killed: killed ${victim}; first acknowledged write after ${run.firstAckMs} ms; ${describeVerdict(run.verdict)}; ` +
        `${JSON.stringify(run.workload.summary(run.t0))}; errors ${JSON.stringify(run.workload.errorKinds())}`,
    );
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
  });

  it('WHEN every Pgpool-II pod is restarted THEN the application reconnects by itself, nothing acknowledged is lost', async () => {
    const pods = await cluster.pgpoolPods();
    const run = await underLoad(cluster, forward.config, async () => {
      await Promise.all(pods.map((p) => cluster.rt.killPod(p)));
    }, {
      after: async () => {
        await cluster.rt.waitReady('app.kubernetes.io/component=pgpool', { count: 2, namespace: cluster.namespace, timeoutMs: BOUNDS.pgpoolReplacementMs });
      },
    });
    console.log(
      `pgpool pods restarted: killed ${pods.join(', ')}; first acknowledged write after ${run.firstAckMs} ms; ${describeVerdict(run.verdict)}; ` +
        `${JSON.stringify(run.workload.summary(run.t0))}; errors ${JSON.stringify(run.workload.errorKinds())}`,
    );
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
  });
});
