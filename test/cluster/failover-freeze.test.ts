/**
 * The primary frozen (rt.freeze: SIGSTOP of every process of the pod), then thawed: for 15 s,
 * for 25 s, and until another member took writes. It must accept no write once another member
 * is promoted, and come back as a streaming standby; no write may reach a standby (SQLSTATE
 * 25006). Quorum-synchronous replication: zero acknowledged loss.
 *
 * Bound of the fixed freezes: the first write after the freeze comes within the kill
 * scenario's bound (BOUNDS.failoverMs), plus the freeze itself when no failover happened (the
 * thaw came before repmgrd promoted anyone). A frozen primary's kernel still accepts TCP
 * connections, so Pgpool-II's health check blocks on it instead of failing: the Pgpool-II
 * entrypoint detaches a primary that does not answer once another backend answers as the
 * primary.
 *
 * What it needs (lib/scripts/README.md, Pgpool-II reconcile loop): Pgpool-II's streaming-
 * replication check worker and PCP workers connect to a backend without a timeout after the
 * TCP handshake; a frozen backend blocks them for good and pgpool's failover would wait on
 * them forever. The Pgpool-II entrypoint signals the stuck worker.
 *
 * The slow path the bound is sized for: repmgrd on the winning standby can block in
 * get_recovery_type(primary_conn) (SELECT pg_is_in_recovery() on its persistent connection, a
 * blocking PQexec without a client-side timeout, which the frozen primary's kernel ACKs, so
 * keepalives and tcp_user_timeout cannot end it). The other standby elects it and waits 60 s
 * for its notification; then only the entrypoint's fallback election promotes
 * (BOUNDS.frozenFailoverMs covers its election timeout and failover wait).
 * PGHA_KEEP_LOGS=DIR keeps every container log of a run.
 */
import { describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { describeVerdict, invariantFailures } from './invariants';
import { type ConvergedCluster, servesAsPrimary, waitConverged, waitStreaming } from './lifecycle';
import { decisions, entrypointHistory } from './logs';
import { underLoad } from './workload';
import { clusterForThisFile, QUORUM } from './file-cluster';

/** Epoch ms of a log line: the entrypoint's `2026-...T..:..:..Z` or repmgr's `[2026-... ..:..:..]` (UTC). */
function logTime(line: string): number {
  const m = /(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)/.exec(line);
  return m ? Date.parse(`${m[1]}T${m[2]}Z`) : NaN;
}

const FAILOVER_BOUND_MS = BOUNDS.frozenFailoverMs;

let cluster: ExampleCluster;
let forward: ConvergedCluster['forward'];
clusterForThisFile('failover-freeze', QUORUM, (started) => ({ cluster, forward } = started));

/**
 * Freezes the primary for `freezeMs`, thaws it, and checks the bound and the invariants. The
 * old primary may still be the primary afterwards (no failover was due yet); if another member
 * was promoted, the thawed node must have taken no write after that member's first one.
 */
async function frozenFor(freezeMs: number): Promise<void> {
  const before = (await cluster.primary())!;
  let thawAt = 0;
  const run = await underLoad(cluster, forward.config, async () => {
    await cluster.rt.freeze(before);
    setTimeout(() => {
      thawAt = Date.now();
      void cluster.rt.thaw(before);
    }, freezeMs);
  }, {
    ackTimeoutMs: BOUNDS.failoverMs + freezeMs,
    // Every write after the thaw settles on one primary before the verdict.
    after: async () => {
      await cluster.rt.waitFor(async () => thawAt > 0, { timeoutMs: freezeMs + 10_000, intervalMs: 200, what: 'the thaw' });
      await waitConverged(cluster);
    },
  });
  const failedOver = run.verdict.state.primary !== before;
  const firstAckAfterFaultMs = run.firstAckMs;
  const bound = BOUNDS.failoverMs + (failedOver ? 0 : freezeMs);
  console.log(
    `freeze ${freezeMs / 1000} s: froze ${before}; ${failedOver ? `failed over to ${run.verdict.state.primary}` : 'no failover (thawed first)'}; ` +
      `first write acknowledged after the freeze began: ${firstAckAfterFaultMs} ms (bound ${bound} ms), on a newer timeline after ${run.newTimelineAckMs ?? '-'} ms; ` +
      `${describeVerdict(run.verdict)}; ${JSON.stringify(run.workload.summary(run.t0))}; errors ${JSON.stringify(run.workload.errorKinds())}`,
  );
  expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
  expect(firstAckAfterFaultMs).toBeLessThanOrEqual(bound);
  if (failedOver) {
    // The thawed node took no write after the new primary's first one (splitBrain covers
    // the record; this names the server).
    const newFirst = Math.min(...run.workload.acked().filter((r) => r.tli === run.verdict.state.tli).map((r) => r.end));
    const oldAfter = run.workload.acked().filter((r) => r.server === before && r.start > newFirst);
    expect(oldAfter).toEqual([]);
  }
}

describe('GIVEN a quorum-synchronous cluster under a write workload through Pgpool-II', () => {
  it('WHEN the primary is frozen for 15 s and thawed THEN writes resume within the kill bound (plus the freeze if no failover was due), nothing reaches a standby, nothing acknowledged is lost', async () => {
    await frozenFor(15_000);
  }, 15_000 + BOUNDS.failoverMs + 2 * BOUNDS.rejoinMs);

  it('WHEN the primary is frozen for 25 s and thawed THEN the same holds', async () => {
    await frozenFor(25_000);
  }, 25_000 + BOUNDS.failoverMs + 2 * BOUNDS.rejoinMs);

  it('WHEN the primary is frozen longer than failure detection and thawed THEN it accepts no write after thawing and rejoins as a standby', async () => {
    const before = (await cluster.primary())!;
    let thawAt = 0;
    let fencedAfterThawMs = -1;
    let streamingAfterThawMs = -1;
    let workerBackAfterThawMs = -1;
    let direct = { code: -1, stdout: '', stderr: '' };
    // Availability bound: the designed worst case, not the usual one (20-25 s). When the
    // winning standby's repmgrd blocks on the frozen primary (see the header), only the
    // entrypoint's fallback election promotes (~80-90 s), then Pgpool-II's stuck failover is
    // released by its entrypoint (two 5 s passes and more): 240 s covers that with margin.
    const run = await underLoad(cluster, forward.config, () => cluster.rt.freeze(before).then(() => undefined), {
      ackTimeoutMs: FAILOVER_BOUND_MS,
      after: async (t0, workload) => {
        // Promotion of another member is visible to the client: a write acknowledged on a newer timeline.
        const tliBefore = Math.max(...workload.acked().filter((r) => r.end < t0).map((r) => r.tli!));
        await cluster.rt.waitFor(async () => workload.acked().find((r) => r.tli! > tliBefore), { timeoutMs: FAILOVER_BOUND_MS, intervalMs: 100, what: 'a write on a newer timeline' });
        await new Promise((r) => setTimeout(r, 3_000));
        await cluster.rt.thaw(before);
        thawAt = Date.now();
        // A client of the old primary writes right after the thaw, straight to its socket.
        direct = await cluster.exec(before, ['psql', '-X', '-At', '-h', '/var/run/postgresql', '-U', 'postgres', '-d', 'app', '-c', 'INSERT INTO failover_rows (id, writer) VALUES (-2, -2)'], 60_000);
        await cluster.rt.waitFor(async () => !(await servesAsPrimary(cluster, before)), { timeoutMs: BOUNDS.steadyWriteMs, intervalMs: 200, what: `${before} fenced after thaw` });
        fencedAfterThawMs = Date.now() - thawAt;
        streamingAfterThawMs = (await waitStreaming(cluster, before, t0)) - (thawAt - t0);
        // Every Pgpool-II pod runs its streaming-replication check worker again (the entrypoint
        // stops a worker stuck on the frozen node; pgpool does not restart it by itself).
        await cluster.rt.waitFor(
          async () => {
            for (const p of await cluster.pgpoolPods()) {
              const r = await cluster.exec(p, ['bash', '-c', 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" "\\n" | grep -c "^pgpool: worker process"'], 10_000);
              if (r.stdout.trim() !== '1') return false;
            }
            return true;
          },
          // Measured 12-78 s after the thaw (a pod whose worker was stopped waits until every
          // backend answers and is attached again, then restarts pgpool once).
          { timeoutMs: BOUNDS.rejoinMs, intervalMs: 1_000, what: 'a streaming-replication check worker in every Pgpool-II pod' },
        );
        workerBackAfterThawMs = Date.now() - thawAt;
      },
    });
    // Promotion as the new primary logged it (repmgr's or the entrypoint's line, 1 s resolution).
    const promotedLine = (await entrypointHistory(cluster, run.verdict.state.primary))
      .split('\n')
      .find((l) => /STANDBY PROMOTE successful|entrypoint: role: primary/.test(l) && logTime(l) >= run.t0 - 1_000);
    const promotedMs = promotedLine ? logTime(promotedLine) - run.t0 : undefined;
    const pgpoolCorrections = (await Promise.all((await cluster.pgpoolPods()).map((p) => entrypointHistory(cluster, p))))
      .join('\n')
      .split('\n')
      .filter((l) => / pgpool-entrypoint: correction/.test(l) && logTime(l) >= run.t0 - 1_000)
      .map((l) => l.slice(0, 220))
      .join('\n');
    console.log(
      `freeze: froze ${before}; promoted ${run.verdict.state.primary} at ${promotedMs} ms (its log line: ${promotedLine?.trim().slice(0, 120)}); ` +
        `first write acknowledged on a newer timeline after ${run.newTimelineAckMs} ms; ` +
        `old primary stopped serving ${fencedAfterThawMs} ms after the thaw, streaming ${streamingAfterThawMs} ms after the thaw; Pgpool-II check workers back ${workerBackAfterThawMs} ms after the thaw; direct insert after thaw: exit ${direct.code} ${direct.stderr.trim().slice(0, 200)}; ` +
        `${describeVerdict(run.verdict)}; ${JSON.stringify(run.workload.summary(run.t0))}; errors ${JSON.stringify(run.workload.errorKinds())}\n` +
        `Pgpool-II corrections:\n${pgpoolCorrections}\n` +
        decisions(await entrypointHistory(cluster, before)),
    );
    expect(invariantFailures(run.verdict, { zeroLoss: true })).toEqual([]);
    // No acknowledged write through Pgpool-II by the thawed node.
    const oldServerAcks = run.workload.acked().filter((r) => r.end > thawAt && r.tli! < run.verdict.state.tli);
    expect(oldServerAcks).toEqual([]);
    // The direct write after the thaw was not accepted.
    expect(direct.code).not.toBe(0);
    expect(await cluster.psql(run.verdict.state.primary, 'SELECT count(*) FROM failover_rows WHERE id < 0', { database: 'app' })).toBe('0');
  }, BOUNDS.frozenFailoverMs + 2 * BOUNDS.rejoinMs);
});
