/**
 * The primary pod killed (SIGKILL + delete) under a write workload through Pgpool-II, then,
 * once the old primary has rejoined, the new primary killed too. Quorum-synchronous replication
 * (ANY 1): zero acknowledged writes may be lost.
 *
 * What keeps repmgrd from cancelling its own election: its reconnection phase outlasts its
 * primary-visibility window ((reconnect_attempts - 1) x reconnect_interval >= 2 x
 * monitor_interval_secs, enforced at synth time), so a dead primary is always older than the
 * window when the candidate asks its siblings.
 */
import { describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { describeVerdict, invariantFailures, verify } from './invariants';
import { type ConvergedCluster, waitConverged } from './lifecycle';
import { decisions, dumpLogs, newestPodLog } from './logs';
import { underLoad, Workload } from './workload';
import { clusterForThisFile, QUORUM } from './file-cluster';

let cluster: ExampleCluster;
let forward: ConvergedCluster['forward'];
clusterForThisFile('failover-kill', QUORUM, (started) => ({ cluster, forward } = started));

/** The second kill of the double fault follows the first this much later. */
const DOUBLE_FAULT_DELAY_MS = 2_000;

interface KillOptions {
  /** The workload goes through one node-postgres Pool instead of a Client per writer. */
  readonly pool?: boolean;
  /** The primary's claim is deleted first: its pod comes back empty and re-clones. */
  readonly deleteClaim?: boolean;
}

async function killPrimaryUnderLoad(label: string, opts: KillOptions = {}): Promise<void> {
  const before = await cluster.primary();
  expect(before).toBeDefined();
  const workload = new Workload(forward.config, { writers: 4, readers: 2, pool: opts.pool });
  await workload.start();
  try {
    await workload.waitAckAfter(Date.now(), BOUNDS.steadyWriteMs);
    await new Promise((r) => setTimeout(r, 2_000));
    const tliBefore = Math.max(...workload.acked().map((r) => r.tli!));
    const t0 = Date.now();
    if (opts.deleteClaim) await cluster.rt.deleteClaim(`data-${before}`);
    await cluster.rt.killPod(before!);
    const faultMs = Date.now() - t0;
    // First write acknowledged by the new primary (a newer timeline).
    const first = await cluster.rt.waitFor(
      async () => workload.acked().filter((r) => r.tli! > tliBefore).sort((a, b) => a.end - b.end)[0],
      { timeoutMs: BOUNDS.failoverMs, intervalMs: 100, what: 'a write acknowledged on a newer timeline' },
    );
    const firstAckMs = first.end - t0;
    // The old primary streams again (as a standby of the new primary).
    await cluster.rt.waitFor(
      async () => {
        try {
          return (await cluster.psql(before!, "SELECT status FROM pg_stat_wal_receiver", { timeoutMs: 5_000 })) === 'streaming';
        } catch {
          return false;
        }
      },
      { timeoutMs: BOUNDS.rejoinMs, intervalMs: 500, what: `${before} streaming again` },
    );
    const streamingMs = Date.now() - t0;
    // Keep writing a little on the converged cluster.
    await new Promise((r) => setTimeout(r, 3_000));
    await workload.stop();
    const verdict = await verify(cluster, workload);
    const log = await newestPodLog(cluster, before!);
    const summary = workload.summary(t0);
    console.log(
      `${label}: killed ${before} (kill call took ${faultMs} ms); first write acknowledged on a newer timeline after ${firstAckMs} ms (on ${first.server}, timeline ${first.tli}); ` +
        `${before} streaming again after ${streamingMs} ms; ${describeVerdict(verdict)}; since the fault ${JSON.stringify(summary)}; ` +
        `errors ${JSON.stringify(workload.errorKinds())}`,
    );
    console.log(`${label}: ${before} entrypoint decisions:\n${log.split('\n').filter((l) => / entrypoint: (role|rejoin|clone|re-clone|promote|register)/.test(l)).join('\n')}`);
    expect(verdict.lost).toEqual([]);
    expect(verdict.splitBrain).toEqual([]);
    expect(verdict.failedPresent).toEqual([]);
    // No write reached a standby: the client waited or got a connection error, never 25006.
    expect(verdict.readOnly).toBe(0);
    expect(Object.values(verdict.lostOnStandbys).every((n) => n === 0)).toBe(true);
    expect(verdict.state.primary).not.toBe(before);
    if (opts.deleteClaim) {
      // An empty data directory: cloned from the new primary.
      expect(log).toMatch(/clone: repmgr standby clone/);
    } else {
      // Came back by rejoin (rewind or plain restart as standby), not by a clone.
      expect(log).toMatch(/rejoin: done/);
      expect(log).not.toMatch(/clone: repmgr standby clone|re-clone/);
    }
  } catch (error) {
    console.error(`${label} failed: ${(error as Error).stack ?? error}`);
    await workload.stop();
    await dumpLogs(cluster);
    throw error;
  }
}

describe('GIVEN a quorum-synchronous cluster under a write workload through Pgpool-II', () => {
  it('WHEN the primary pod is killed THEN a standby is promoted, writes resume, the old primary rejoins without a clone, nothing acknowledged is lost', async () => {
    await killPrimaryUnderLoad('primary killed');
  });

  it('WHEN the new primary is killed in turn THEN the cluster fails over again with the same guarantees', async () => {
    await killPrimaryUnderLoad('new primary killed');
  });

  it('WHEN the primary is killed under an application using a node-postgres Pool THEN its queries wait or fail to connect, never reach a standby, and succeed again after the failover', async () => {
    await killPrimaryUnderLoad('primary killed, node-postgres Pool', { pool: true });
  });

  it("WHEN the primary's claim is deleted and its pod killed THEN a standby is promoted, the old primary comes back by a clone, nothing acknowledged is lost", async () => {
    await killPrimaryUnderLoad('primary claim deleted, pod killed', { deleteClaim: true });
  });

  it('WHEN the primary is killed and the most advanced standby 2 s later THEN the cluster comes back with one primary, no write reaches a standby, nothing acknowledged is lost', async () => {
    const primary = (await cluster.primary())!;
    let standby = '';
    const run = await underLoad(
      cluster,
      forward.config,
      async () => {
        // The standby that received the most WAL, read just before the kill (the one repmgrd
        // would promote, and the one that holds every write quorum commit acknowledged).
        const received = await Promise.all(
          cluster.members
            .filter((m) => m !== primary)
            .map(async (m) => ({ m, lsn: await cluster.psql(m, "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')", { timeoutMs: 5_000 }).catch(() => '0') })),
        );
        standby = received.sort((a, b) => Number(b.lsn) - Number(a.lsn))[0].m;
        await cluster.rt.killPod(primary);
        await new Promise((r) => setTimeout(r, DOUBLE_FAULT_DELAY_MS));
        await cluster.rt.killPod(standby);
      },
      {
        ackTimeoutMs: BOUNDS.frozenFailoverMs,
        after: async () => {
          await waitConverged(cluster);
        },
      },
    );
    console.log(
      `double fault: killed ${primary}, then ${standby} ${DOUBLE_FAULT_DELAY_MS} ms later; first acknowledged write after ${run.firstAckMs} ms (new timeline after ${run.newTimelineAckMs ?? '-'} ms); ` +
        `primary now ${run.verdict.state.primary}; ${describeVerdict(run.verdict)}; ${JSON.stringify(run.workload.summary(run.t0))}; errors ${JSON.stringify(run.workload.errorKinds())}`,
    );
    for (const pod of [primary, standby]) console.log(`double fault: ${pod} decisions:\n${decisions(await newestPodLog(cluster, pod))}`);
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
    expect(run.verdict.readOnly).toBe(0);
  });
});
