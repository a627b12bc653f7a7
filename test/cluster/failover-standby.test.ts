/**
 * Standby faults (a member standby killed, a standby's claim
 * deleted so it re-clones, the first-layer standby that cascades stream from killed), then
 * every pod of the cluster killed at once. Quorum-synchronous replication: zero acknowledged
 * writes may be lost.
 *
 * Its start-up once hung past the 600 s hook timeout in a clean-clone CI run (2026-11-25,
 * cause not found: nothing was printed). startConverged now bounds every step (Ready 300 s,
 * converged 180 s, port-forward 30 s, all under the hook timeout) and names the step that
 * did not finish, with every pod's log; a Pgpool-II port-forward in the convergence check is
 * closed with a bound too. Passed 3 runs in a row since, with three other clusters running.
 */
import { describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { describeVerdict, invariantFailures } from './invariants';
import { Client } from 'pg';
import { type ConvergedCluster, endQuietly, waitConverged, waitStreaming } from './lifecycle';
import { decisions, linesSince, newestPodLog } from './logs';
import { underLoad } from './workload';
import { clusterForThisFile, QUORUM } from './file-cluster';

let cluster: ExampleCluster;
let forward: ConvergedCluster['forward'];
clusterForThisFile('failover-standby', QUORUM, (started) => ({ cluster, forward } = started));

const STANDBY_CUT_MS = 60_000;
const STANDBY_FREEZE_MS = 30_000;
/** New read sessions opened after a heal, to see Pgpool-II balance reads onto the healed standby. */
const FRESH_READ_SESSIONS = 24;

/**
 * Opens FRESH_READ_SESSIONS sessions through the Service, one read each, once Pgpool-II has
 * `pod` up again, and returns how many of them read on it (Pgpool-II picks a load-balancing
 * node per session; every backend weighs the same). Waits up to the convergence bound for the
 * first such read.
 */
async function readsReach(pod: string): Promise<number> {
  const ip = (await cluster.rt.pod(pod, cluster.namespace)).ip;
  let best = 0;
  await cluster.rt.waitFor(
    async () => {
      let n = 0;
      for (let i = 0; i < FRESH_READ_SESSIONS; i++) {
        const c = new Client({ ...forward.config, connectionTimeoutMillis: 5_000, query_timeout: 10_000 });
        c.on('error', () => undefined);
        try {
          await c.connect();
          const { rows } = await c.query('SELECT host(inet_server_addr()) AS server FROM failover_rows LIMIT 1');
          if (rows[0]?.server === ip) n++;
        } catch {
          // a session that fails proves nothing either way
        } finally {
          await endQuietly(c);
        }
      }
      best = n;
      return n > 0;
    },
    { timeoutMs: BOUNDS.convergedMs, intervalMs: 1_000, what: `a read balanced onto ${pod}` },
  );
  return best;
}

/** The timed lines every Pgpool-II pod logged at or after `sinceMs`. */
async function pgpoolLines(sinceMs: number): Promise<string[]> {
  const out: string[] = [];
  for (const pod of await cluster.pgpoolPods()) {
    const log = await cluster.rt.logs(pod, { namespace: cluster.namespace });
    out.push(...linesSince(log, sinceMs).map((l) => l.line));
  }
  return out;
}

/**
 * A member standby taken out by `fault` for `durationMs` under the workload, then restored; what
 * the writers and Pgpool-II saw: the longest write gap during the fault and after it, when the
 * standby streamed again, how many new read sessions then reached it, and the watch's
 * hung-check corrections. Reported under "member standby <label>".
 */
async function standbyOutage(label: string, durationMs: number, fault: (pod: string) => Promise<unknown>, restore: (pod: string) => Promise<unknown>) {
  const primary = (await cluster.primary())!;
  const victim = cluster.members.find((m) => m !== primary)!;
  let back = -1;
  let readsOnVictim = -1;
  let restoredAt = Infinity;
  const run = await underLoad(cluster, forward.config, () => fault(victim).then(() => undefined), {
    after: async (t0) => {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + durationMs - Date.now())));
      await restore(victim);
      restoredAt = Date.now();
      back = await waitStreaming(cluster, victim, t0);
      readsOnVictim = await readsReach(victim);
    },
  });
  const gap = run.workload.maxAckGap(run.t0, restoredAt);
  const after = run.workload.maxAckGap(restoredAt);
  const corrections = (await pgpoolLines(run.t0)).filter((l) => /correction: the health check of backend \d+ has not run/.test(l));
  report(
    `member standby ${label}`,
    run,
    `; ${victim} ${label} for ${durationMs / 1000} s; longest write gap meanwhile ${gap.ms} ms (from ${gap.since}), after it ${after.ms} ms (from ${after.since}); streaming again after ${back} ms; ${readsOnVictim} of ${FRESH_READ_SESSIONS} new read sessions then read on it; ${corrections.length} hung-check corrections${corrections.length ? `:\n${corrections.join('\n')}` : ''}`,
  );
  return { run, primary, victim, gapMs: gap.ms, afterMs: after.ms, back, readsOnVictim, corrections };
}

function report(label: string, run: Awaited<ReturnType<typeof underLoad>>, extra = ''): void {
  console.log(
    `${label}: first acknowledged write after ${run.firstAckMs} ms; ${describeVerdict(run.verdict)}; ${JSON.stringify(run.workload.summary(run.t0))}; ` +
      `errors ${JSON.stringify(run.workload.errorKinds())}${extra}`,
  );
}

describe('GIVEN a quorum-synchronous cluster under a write workload through Pgpool-II', () => {
  it('WHEN a member standby is killed THEN the primary stays, the standby comes back streaming, nothing acknowledged is lost', async () => {
    const primary = (await cluster.primary())!;
    const victim = cluster.members.find((m) => m !== primary)!;
    let back = -1;
    const run = await underLoad(cluster, forward.config, () => cluster.rt.killPod(victim).then(() => undefined), {
      after: async (t0) => {
        back = await waitStreaming(cluster, victim, t0);
      },
    });
    report('member standby killed', run, `; killed ${victim}, streaming again after ${back} ms`);
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
    expect(run.verdict.state.primary).toBe(primary);
    expect(await newestPodLog(cluster, victim)).not.toMatch(/clone: repmgr standby clone/);
  });

  it("WHEN a member standby is cut off from the network for 60 s THEN writes stop no longer than Pgpool-II's standby health check takes to detach it, the primary stays, and after healing it streams and serves reads again", async () => {
    const o = await standbyOutage('cut off', STANDBY_CUT_MS, (pod) => cluster.rt.partition(pod), (pod) => cluster.rt.heal(pod));
    expect(invariantFailures(o.run.verdict, { zeroLoss: true })).toEqual([]);
    expect(o.run.verdict.state.primary).toBe(o.primary);
    // While cut: designed at most 2 s plus a reconnect (11.9 s with the failover timing for every
    // backend, 2.7-3.2 s with one retry), see BOUNDS.standbyLossWriteGapMs; when the cut falls
    // in the middle of a health check's login, that check hangs, and the entrypoint's watch
    // detaches the standby instead (BOUNDS.standbyHungCheckWriteGapMs, only when it did so).
    expect(o.gapMs).toBeLessThanOrEqual(o.corrections.length > 0 ? BOUNDS.standbyHungCheckWriteGapMs : BOUNDS.standbyLossWriteGapMs);
    // After the heal nothing is designed to stop writes: the bound is the suite's one for a
    // cluster that is not failing over, and the report prints this gap apart from the one while
    // cut, so a stall at the re-attach is not read as the detection's.
    expect(o.afterMs).toBeLessThanOrEqual(BOUNDS.steadyWriteMs);
    expect(o.readsOnVictim).toBeGreaterThan(0);
  }, STANDBY_CUT_MS + BOUNDS.steadyWriteMs + 2 * BOUNDS.rejoinMs);

  it("WHEN a member standby is frozen for 30 s THEN Pgpool-II's hung health check of it is replaced and the standby detached within the bound, the primary stays, and after the thaw it streams and serves reads again", async () => {
    const o = await standbyOutage('frozen', STANDBY_FREEZE_MS, (pod) => cluster.rt.freeze(pod), (pod) => cluster.rt.thaw(pod));
    expect(invariantFailures(o.run.verdict, { zeroLoss: true })).toEqual([]);
    expect(o.run.verdict.state.primary).toBe(o.primary);
    // A frozen node's kernel completes every handshake and nobody answers the login: every
    // health check of it hangs, so only the entrypoint's watch can detach it.
    expect(o.gapMs).toBeLessThanOrEqual(BOUNDS.standbyHungCheckWriteGapMs);
    expect(o.corrections.length).toBeGreaterThan(0);
    expect(o.afterMs).toBeLessThanOrEqual(BOUNDS.steadyWriteMs);
    expect(o.readsOnVictim).toBeGreaterThan(0);
  }, STANDBY_FREEZE_MS + BOUNDS.steadyWriteMs + 2 * BOUNDS.rejoinMs);

  it("WHEN a standby's claim is deleted THEN it re-clones and streams again, nothing acknowledged is lost", async () => {
    const primary = (await cluster.primary())!;
    const victim = cluster.members.filter((m) => m !== primary)[1];
    let back = -1;
    const run = await underLoad(cluster, forward.config, async () => {
      await cluster.rt.deleteClaim(`data-${victim}`);
      await cluster.rt.killPod(victim);
    }, {
      after: async (t0) => {
        back = await waitStreaming(cluster, victim, t0);
      },
    });
    const log = await newestPodLog(cluster, victim);
    report('standby claim deleted', run, `; deleted the claim of ${victim}, streaming again after ${back} ms\n${decisions(log)}`);
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
    expect(run.verdict.state.primary).toBe(primary);
    expect(log).toMatch(/clone: repmgr standby clone/);
  });

  it('WHEN the first-layer standby that cascades stream from is killed THEN they keep streaming and end on a first-layer standby', async () => {
    const state = await waitConverged(cluster);
    // The member standby with the most cascades.
    const counts = new Map<string, number>();
    for (const up of Object.values(state.cascades)) counts.set(up.split(' ')[1], (counts.get(up.split(' ')[1]) ?? 0) + 1);
    const victim = [...counts].sort((a, b) => b[1] - a[1])[0][0];
    const run = await underLoad(cluster, forward.config, () => cluster.rt.killPod(victim).then(() => undefined), {
      after: async (t0) => {
        await waitStreaming(cluster, victim, t0);
      },
    });
    report('cascade upstream killed', run, `; killed ${victim} (upstream of ${counts.get(victim)} cascades); cascades now ${JSON.stringify(run.verdict.state.cascades)}`);
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
    expect(run.verdict.state.primary).toBe(state.primary);
  });

  it('WHEN every pod of the cluster is killed at once THEN it comes back with the most advanced member as primary, no deadlock, no loss', async () => {
    const pods = [...cluster.members, ...cluster.cascades, ...(await cluster.pgpoolPods())];
    const before = (await cluster.primary())!;
    const run = await underLoad(cluster, forward.config, async () => {
      await Promise.all(pods.map((p) => cluster.rt.killPod(p)));
    }, { ackTimeoutMs: BOUNDS.frozenFailoverMs });
    const primaryLog = await newestPodLog(cluster, run.verdict.state.primary);
    report('every pod killed', run, `; killed all ${pods.length} pods (primary was ${before}); new primary ${run.verdict.state.primary}\n${decisions(primaryLog)}`);
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
    expect(primaryLog).toMatch(/role: primary \(election: /);
  });
});
