/**
 * The invariants every failover scenario asserts on the record of a workload: nothing
 * acknowledged lost, no write acknowledged by an old timeline after a newer one took writes
 * (split brain), rows in doubt accounted for, every member holding what the primary holds.
 */
import type { ExampleCluster } from './harness';
import { podIps, waitConverged, type ConvergedState } from './lifecycle';
import type { InsertRecord, Workload } from './workload';

/**
 * "At no moment did two nodes accept writes", from the client's record alone:
 *  - each timeline's acknowledged writes were all taken by one server;
 *  - once a write on timeline T was acknowledged, no write started later was acknowledged on an
 *    older timeline (the old primary did not keep accepting writes after the promotion was
 *    visible to clients);
 *  - every acknowledged write's timeline is at most the final primary's.
 * Returns the violations (empty when none).
 */
export function splitBrainViolations(records: InsertRecord[], finalTli: number): string[] {
  const acks = records.filter((r) => r.outcome === 'ack');
  const out: string[] = [];
  const serverOf = new Map<number, Set<string>>();
  for (const r of acks) {
    const s = serverOf.get(r.tli!) ?? new Set<string>();
    s.add(r.server!);
    serverOf.set(r.tli!, s);
    if (r.tli! > finalTli) out.push(`insert ${r.id} acknowledged on timeline ${r.tli}, newer than the final primary's ${finalTli}`);
  }
  for (const [tli, servers] of serverOf) {
    if (servers.size > 1) out.push(`timeline ${tli} took writes on several servers: ${[...servers].join(', ')}`);
  }
  // First acknowledgement time of each timeline.
  const firstAck = new Map<number, number>();
  for (const r of acks) firstAck.set(r.tli!, Math.min(firstAck.get(r.tli!) ?? Infinity, r.end));
  for (const r of acks) {
    for (const [tli, t] of firstAck) {
      if (tli > r.tli! && r.start > t) {
        out.push(`insert ${r.id} started at ${r.start} was acknowledged by ${r.server} on timeline ${r.tli} after timeline ${tli} took writes (${t})`);
        break;
      }
    }
  }
  return out;
}

/** Ids present on `pod` (app database). */
export async function idsOn(cluster: ExampleCluster, pod: string, table = 'failover_rows'): Promise<Set<number>> {
  const out = await cluster.psql(pod, `SELECT string_agg(id::text, ',') FROM ${table}`, { database: 'app', timeoutMs: 30_000 });
  return new Set(out ? out.split(',').map(Number) : []);
}

export interface Verdict {
  acked: number;
  lost: number[];
  lostOnStandbys: Record<string, number>;
  doubtPresent: number;
  doubtAbsent: number;
  failedPresent: number[];
  /** Inserts refused as read-only (SQLSTATE 25006): writes routed to a standby. */
  readOnly: number;
  splitBrain: string[];
  state: ConvergedState;
}

/**
 * After a scenario: waits for convergence, then compares the client's record with the data on
 * the final primary and on every standby (once each has replayed up to the primary's LSN).
 */
export async function verify(cluster: ExampleCluster, workload: Workload, table = 'failover_rows'): Promise<Verdict> {
  const state = await waitConverged(cluster);
  // Let every standby and cascade replay up to the primary's current LSN.
  const lsn = await cluster.psql(state.primary, 'SELECT pg_current_wal_lsn()');
  for (const pod of [...cluster.members, ...cluster.cascades].filter((p) => p !== state.primary)) {
    await cluster.rt.waitFor(
      async () => (await cluster.psql(pod, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)) === 't',
      { timeoutMs: 60_000, what: `${pod} replayed up to ${lsn}` },
    );
  }
  const onPrimary = await idsOn(cluster, state.primary, table);
  const acks = workload.acked();
  const lost = acks.filter((r) => !onPrimary.has(r.id)).map((r) => r.id);
  const lostOnStandbys: Record<string, number> = {};
  for (const pod of [...cluster.members, ...cluster.cascades].filter((p) => p !== state.primary)) {
    const ids = await idsOn(cluster, pod, table);
    lostOnStandbys[pod] = acks.filter((r) => !ids.has(r.id)).length;
  }
  const doubts = workload.records.filter((r) => r.outcome === 'doubt');
  const failedPresent = workload.records.filter((r) => r.outcome === 'failed' && onPrimary.has(r.id)).map((r) => r.id);
  const splitBrain = splitBrainViolations(workload.records, state.tli);
  const ips = await podIps(cluster);
  // Map servers to pod names for readability (addresses are stable per pod name here).
  for (const r of acks) r.server = ips.get(r.server!) ?? r.server;
  return {
    acked: acks.length,
    lost,
    lostOnStandbys,
    doubtPresent: doubts.filter((r) => onPrimary.has(r.id)).length,
    doubtAbsent: doubts.filter((r) => !onPrimary.has(r.id)).length,
    failedPresent,
    readOnly: workload.readOnlyRefusals().length,
    splitBrain,
    state,
  };
}

export function describeVerdict(v: Verdict): string {
  return (
    `acked=${v.acked} lost=${v.lost.length} doubt(present/absent)=${v.doubtPresent}/${v.doubtAbsent} ` +
    `failedPresent=${v.failedPresent.length} readOnly=${v.readOnly} splitBrain=${v.splitBrain.length} final primary ${v.state.primary} tli ${v.state.tli}`
  );
}

/** The standard assertions on a verdict, as a list of failures (empty = every invariant holds). */
export function invariantFailures(v: Verdict, opts: { zeroLoss: boolean }): string[] {
  const out: string[] = [];
  if (opts.zeroLoss && v.lost.length) out.push(`${v.lost.length} acknowledged writes lost: ${v.lost.slice(0, 20).join(',')}`);
  out.push(...v.splitBrain);
  if (v.failedPresent.length) out.push(`${v.failedPresent.length} writes reported failed are present`);
  if (v.readOnly) out.push(`${v.readOnly} writes refused as read-only (SQLSTATE 25006): Pgpool-II sent them to a standby`);
  for (const [pod, n] of Object.entries(v.lostOnStandbys)) {
    // A standby lacks only what the primary lacks.
    if (n > v.lost.length) out.push(`${pod} lacks ${n} acknowledged writes (primary lacks ${v.lost.length})`);
  }
  return out;
}
