/**
 * Failover workload and invariant checks for the cluster scenarios.
 *
 * A workload is several concurrent writers and readers through the Pgpool-II Service (one
 * port-forward, node-postgres clients). Each writer inserts rows with a unique id, one
 * autocommit INSERT per row, and records the outcome of every insert:
 *   - `ack`: the server answered the INSERT ... RETURNING (the commit returned); the server
 *     address and the timeline of the WAL the row went into are recorded;
 *   - `failed`: the server rejected the statement with an SQL error raised before commit
 *     (read-only transaction, constraint, syntax...): the row cannot be there;
 *   - `doubt`: the connection was lost or the error came without a definite SQL rejection
 *     (the commit may or may not have happened): the row may or may not be there.
 *
 * Client retry policy (stated, the same for every scenario): a writer or reader whose
 * connection fails or is lost opens a new connection every RETRY_MS (200 ms) until it
 * succeeds, forever while the workload runs; a failed statement is never retried (the next
 * insert has a new id). Connect timeout 5 s, statement timeout (client side) 10 s.
 *
 * The timeline is read as `pg_walfile_name(pg_current_wal_lsn())` on the primary: the WAL
 * insert timeline, right from the first transaction after a promotion
 * (`pg_control_checkpoint()` still shows the old timeline until the next checkpoint).
 */
import { Client, type ClientConfig } from 'pg';
import type { PostgresClusterProps } from '../../lib/model/props';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';

export const RETRY_MS = 200;

export type Outcome = 'ack' | 'failed' | 'doubt';

export interface InsertRecord {
  readonly id: number;
  readonly writer: number;
  readonly start: number;
  end: number;
  outcome: Outcome;
  server?: string;
  tli?: number;
  error?: string;
}

export interface WorkloadOptions {
  readonly writers?: number;
  readonly readers?: number;
  readonly table?: string;
  /** pause between two inserts of one writer, ms */
  readonly pauseMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Closes a client without ever waiting more than 1 s (end() may never settle on a dead socket). */
function endQuietly(c: Client | undefined): Promise<void> {
  if (!c) return Promise.resolve();
  return Promise.race([c.end().catch(() => undefined), sleep(1_000)]).then(() => {
    // Whatever end() did, the socket goes: a port-forward closes only once its connections did.
    (c as any).connection?.stream?.destroy();
  });
}

/** SQLSTATE classes that mean "rejected before commit": the row is certainly not there. */
function definitelyNotCommitted(error: any): boolean {
  const code: string | undefined = error?.code;
  if (!code || code.length !== 5) return false;
  // 25 invalid transaction state (25006 read-only), 23 integrity, 42 syntax/access, 22 data,
  // 40 rollback (serialization, deadlock), 53 resources, 28 auth.
  return ['25', '23', '42', '22', '40', '53', '28'].includes(code.slice(0, 2));
}

export class Workload {
  readonly records: InsertRecord[] = [];
  readonly readErrors: { at: number; error: string }[] = [];
  readonly connectErrors: { at: number; error: string }[] = [];
  reads = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private nextId = 1;
  private readonly table: string;

  constructor(
    private readonly config: ClientConfig,
    private readonly options: WorkloadOptions = {},
  ) {
    this.table = options.table ?? 'failover_rows';
  }

  private clientConfig(): ClientConfig {
    return { ...this.config, connectionTimeoutMillis: 5_000, query_timeout: 10_000 };
  }

  /** Creates the table (through Pgpool-II, with retries) and starts the loops. */
  async start(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const c = new Client(this.clientConfig());
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query(`CREATE TABLE IF NOT EXISTS ${this.table} (id bigint PRIMARY KEY, writer int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
        const { rows } = await c.query(`SELECT coalesce(max(id), 0) AS m FROM ${this.table}`);
        this.nextId = Number(rows[0].m) + 1;
        await endQuietly(c);
        break;
      } catch (error) {
        await endQuietly(c);
        if (Date.now() > deadline) throw error;
        await sleep(RETRY_MS);
      }
    }
    this.running = true;
    for (let w = 0; w < (this.options.writers ?? 4); w++) this.loops.push(this.writer(w));
    for (let r = 0; r < (this.options.readers ?? 2); r++) this.loops.push(this.reader());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
    await Promise.all([...this.clients].map((c) => endQuietly(c)));
    this.clients.clear();
  }

  private readonly clients = new Set<Client>();

  private async connect(): Promise<Client | undefined> {
    while (this.running) {
      const c = new Client(this.clientConfig());
      this.clients.add(c);
      c.on('error', () => undefined);
      try {
        await c.connect();
        return c;
      } catch (error) {
        this.connectErrors.push({ at: Date.now(), error: String((error as Error).message ?? error) });
        void endQuietly(c);
        await sleep(RETRY_MS);
      }
    }
    return undefined;
  }

  private async writer(w: number): Promise<void> {
    let c: Client | undefined;
    while (this.running) {
      if (!c) {
        c = await this.connect();
        if (!c) break;
      }
      const rec: InsertRecord = { id: this.nextId++, writer: w, start: Date.now(), end: 0, outcome: 'doubt' };
      this.records.push(rec);
      try {
        const { rows } = await c.query(
          `INSERT INTO ${this.table} (id, writer) VALUES ($1, $2) RETURNING host(inet_server_addr()) AS server, ` +
            `('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli`,
          [rec.id, w],
        );
        rec.end = Date.now();
        rec.outcome = 'ack';
        rec.server = rows[0].server;
        rec.tli = Number(rows[0].tli);
      } catch (error) {
        rec.end = Date.now();
        rec.outcome = definitelyNotCommitted(error) ? 'failed' : 'doubt';
        rec.error = `${(error as any).code ?? ''} ${(error as Error).message}`.trim();
        // Whatever the error, start over on a new connection (a session that saw an error
        // during a failover may be bound to a dead backend).
        void endQuietly(c);
        c = undefined;
        await sleep(RETRY_MS);
      }
      if (this.options.pauseMs) await sleep(this.options.pauseMs);
    }
    await endQuietly(c);
  }

  private async reader(): Promise<void> {
    let c: Client | undefined;
    while (this.running) {
      if (!c) {
        c = await this.connect();
        if (!c) break;
      }
      try {
        await c.query(`SELECT count(*) FROM ${this.table} WHERE id > $1`, [Math.max(0, this.nextId - 100)]);
        this.reads++;
      } catch (error) {
        this.readErrors.push({ at: Date.now(), error: String((error as Error).message) });
        void endQuietly(c);
        c = undefined;
        await sleep(RETRY_MS);
      }
      await sleep(20);
    }
    await endQuietly(c);
  }

  acked(): InsertRecord[] {
    return this.records.filter((r) => r.outcome === 'ack');
  }

  /** First acknowledged insert that started after `t` (ms epoch). */
  firstAckAfter(t: number): InsertRecord | undefined {
    return this.records.filter((r) => r.outcome === 'ack' && r.start >= t).sort((a, b) => a.end - b.end)[0];
  }

  /** Waits until a write that started after `t` was acknowledged; returns its end time. */
  async waitAckAfter(t: number, timeoutMs: number): Promise<InsertRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.firstAckAfter(t);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`no acknowledged write within ${timeoutMs} ms after the fault`);
      await sleep(100);
    }
  }

  summary(since = 0): { ack: number; failed: number; doubt: number; connectErrors: number; readErrors: number; reads: number } {
    const recs = this.records.filter((r) => r.start >= since);
    return {
      ack: recs.filter((r) => r.outcome === 'ack').length,
      failed: recs.filter((r) => r.outcome === 'failed').length,
      doubt: recs.filter((r) => r.outcome === 'doubt').length,
      connectErrors: this.connectErrors.filter((e) => e.at >= since).length,
      readErrors: this.readErrors.filter((e) => e.at >= since).length,
      reads: this.reads,
    };
  }

  /** Distinct error messages with counts (for the report). */
  errorKinds(): Record<string, number> {
    const out: Record<string, number> = {};
    const add = (m: string) => {
      const k = m.replace(/\d+/g, 'N').slice(0, 120);
      out[k] = (out[k] ?? 0) + 1;
    };
    for (const r of this.records) if (r.error) add(`insert: ${r.error}`);
    for (const e of this.connectErrors) add(`connect: ${e.error}`);
    for (const e of this.readErrors) add(`read: ${e.error}`);
    return out;
  }
}

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

export interface ConvergedState {
  primary: string;
  tli: number;
  standbys: Record<string, string>;
  cascades: Record<string, string>;
  poolNodes: Record<string, string[]>;
}

async function podIps(cluster: ExampleCluster): Promise<Map<string, string>> {
  const pods = await cluster.rt.pods(undefined, cluster.namespace);
  return new Map(pods.filter((p: any) => p.ip).map((p: any) => [p.ip as string, p.name as string]));
}

/**
 * One look at the whole cluster; throws with the reason when it has not converged:
 * exactly one member out of recovery, every other member streaming from it (its
 * pg_stat_wal_receiver, and the primary's pg_stat_replication), every cascade streaming from a
 * member standby, no process of an old timeline serving, and SHOW pool_nodes on every Pgpool-II
 * pod showing that primary and every backend up.
 */
export async function convergedOnce(cluster: ExampleCluster): Promise<ConvergedState> {
  const sql = (pod: string, q: string, db = 'postgres') => cluster.psql(pod, q, { timeoutMs: 15_000, database: db });
  const roles = new Map<string, string>();
  for (const m of cluster.members) roles.set(m, await sql(m, 'SELECT pg_is_in_recovery()'));
  const primaries = [...roles].filter(([, r]) => r === 'f').map(([m]) => m);
  if (primaries.length !== 1) throw new Error(`members out of recovery: [${primaries.join(', ')}]`);
  const primary = primaries[0];
  const tli = Number(await sql(primary, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"));
  const standbys: Record<string, string> = {};
  for (const m of cluster.members.filter((x) => x !== primary)) {
    const up = await sql(m, "SELECT status || ' ' || substring(conninfo from 'host=''?([^ ''.]+)') || ' ' || received_tli FROM pg_stat_wal_receiver");
    standbys[m] = up;
    if (up !== `streaming ${primary} ${tli}`) throw new Error(`${m} wal receiver: '${up}', expected streaming from ${primary} on timeline ${tli}`);
  }
  const repl = (await sql(primary, "SELECT application_name || ':' || state FROM pg_stat_replication ORDER BY 1")).split('\n').filter(Boolean);
  for (const m of Object.keys(standbys)) {
    if (!repl.includes(`${m}:streaming`)) throw new Error(`${primary} pg_stat_replication lacks ${m} streaming: ${repl.join(', ')}`);
  }
  const cascades: Record<string, string> = {};
  for (const c of cluster.cascades) {
    const up = await sql(c, "SELECT status || ' ' || substring(conninfo from 'host=''?([^ ''.]+)') FROM pg_stat_wal_receiver");
    cascades[c] = up;
    const [status, host] = up.split(' ');
    if (status !== 'streaming' || !Object.keys(standbys).includes(host)) throw new Error(`cascade ${c} wal receiver '${up}', expected streaming from a member standby`);
    const st = await sql(host, `SELECT state FROM pg_stat_replication WHERE application_name = '${c}'`);
    if (st !== 'streaming') throw new Error(`${host} does not show ${c} streaming ('${st}')`);
  }
  const poolNodes: Record<string, string[]> = {};
  const pgpools = await cluster.pgpoolPods();
  if (pgpools.length < 2) throw new Error(`only ${pgpools.length} pgpool pods`);
  for (const p of pgpools) {
    const fwd = await cluster.forward(`pod/${p}`);
    const c = new Client({ ...fwd.config, connectionTimeoutMillis: 5_000, query_timeout: 10_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const { rows } = await c.query('SHOW pool_nodes');
      poolNodes[p] = rows.map((r: any) => `${String(r.hostname).split('.')[0]} ${r.status} ${r.role}`);
      for (const r of rows) {
        const host = String(r.hostname).split('.')[0];
        const want = host === primary ? 'primary' : 'standby';
        if (r.status !== 'up' || r.role !== want) throw new Error(`pgpool ${p}: ${host} is ${r.status} ${r.role}, expected up ${want}`);
      }
    } finally {
      await endQuietly(c);
      await closeForward(fwd);
    }
  }
  return { primary, tli, standbys, cascades, poolNodes };
}

/** Waits until {@link convergedOnce} holds (twice in a row, 2 s apart). */
export async function waitConverged(cluster: ExampleCluster, timeoutMs = BOUNDS.rejoinMs): Promise<ConvergedState> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      await convergedOnce(cluster);
      await sleep(2_000);
      return await convergedOnce(cluster);
    } catch (error) {
      last = String((error as Error).message);
      if (Date.now() > deadline) throw new Error(`cluster did not converge within ${timeoutMs} ms: ${last}`);
      await sleep(2_000);
    }
  }
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
    splitBrain,
    state,
  };
}

/** Dumps the last part of every pod's log (on failure). */
export async function dumpLogs(cluster: ExampleCluster, chars = 4000): Promise<void> {
  for (const pod of [...cluster.members, ...cluster.cascades, ...(await cluster.pgpoolPods().catch(() => []))]) {
    const log = await cluster.rt.logs(pod, { namespace: cluster.namespace }).catch((e) => String(e));
    console.log(`---- logs of ${pod}\n${log.slice(-chars)}`);
  }
}

/** Everything a pod name logged so far (all its pods and containers, oldest first). */
export async function entrypointHistory(cluster: ExampleCluster, pod: string): Promise<string> {
  const files = cluster.rt.logHistory(pod, cluster.namespace);
  return files.map((f) => f.content).join('\n');
}

export function describeVerdict(v: Verdict): string {
  return (
    `acked=${v.acked} lost=${v.lost.length} doubt(present/absent)=${v.doubtPresent}/${v.doubtAbsent} ` +
    `failedPresent=${v.failedPresent.length} splitBrain=${v.splitBrain.length} final primary ${v.state.primary} tli ${v.state.tli}`
  );
}

export interface FaultRun {
  workload: Workload;
  t0: number;
  /** ms the fault call took (from t0) */
  faultMs: number;
  /** ms from the fault to the first acknowledged write that started after the fault call returned */
  firstAckMs: number;
  /** ms from the fault to the first write acknowledged on a newer timeline (a failover), if any */
  newTimelineAckMs?: number;
  firstAck: InsertRecord;
  verdict: Verdict;
}

/**
 * Runs `fault` under a fresh workload through `config` (the Pgpool-II Service): waits for a
 * steady state, injects the fault, waits for a write acknowledged after it, runs `after` (e.g.
 * heal, or wait for the old primary), keeps writing `tailMs`, stops, and verifies.
 */
export async function underLoad(
  cluster: ExampleCluster,
  config: ClientConfig,
  fault: () => Promise<void>,
  opts: { after?: (t0: number, workload: Workload) => Promise<void>; tailMs?: number; ackTimeoutMs?: number; workload?: WorkloadOptions } = {},
): Promise<FaultRun> {
  const workload = new Workload(config, opts.workload ?? { writers: 4, readers: 2 });
  await workload.start();
  try {
    await workload.waitAckAfter(Date.now(), BOUNDS.steadyWriteMs);
    await sleep(2_000);
    const tliBefore = Math.max(0, ...workload.acked().map((r) => r.tli!));
    const t0 = Date.now();
    await fault();
    // The fault call takes a moment (the runtime kills, deletes, cuts): writes that started
    // before it returned may still have reached the old primary; count from its return.
    const faultDone = Date.now();
    const firstAck = await workload.waitAckAfter(faultDone, opts.ackTimeoutMs ?? BOUNDS.failoverMs);
    if (opts.after) await opts.after(t0, workload);
    await sleep(opts.tailMs ?? 3_000);
    await workload.stop();
    const verdict = await verify(cluster, workload);
    const newTli = workload.acked().filter((r) => r.tli! > tliBefore).sort((a, b) => a.end - b.end)[0];
    return {
      workload,
      t0,
      faultMs: faultDone - t0,
      firstAckMs: firstAck.end - t0,
      firstAck,
      newTimelineAckMs: newTli ? newTli.end - t0 : undefined,
      verdict,
    };
  } catch (error) {
    console.error(`scenario failed: ${(error as Error).stack ?? error}`);
    await workload.stop();
    await dumpLogs(cluster);
    throw error;
  }
}

/** Waits until `pod` is a standby streaming from someone. Returns the ms since `t0`. */
export async function waitStreaming(cluster: ExampleCluster, pod: string, t0: number, timeoutMs = BOUNDS.rejoinMs): Promise<number> {
  await cluster.rt.waitFor(
    async () => {
      try {
        return (await cluster.psql(pod, 'SELECT status FROM pg_stat_wal_receiver', { timeoutMs: 5_000 })) === 'streaming';
      } catch {
        return false;
      }
    },
    { timeoutMs, intervalMs: 500, what: `${pod} streaming` },
  );
  return Date.now() - t0;
}

/** The standard assertions on a verdict, as a list of failures (empty = every invariant holds). */
export function invariantFailures(v: Verdict, opts: { zeroLoss: boolean }): string[] {
  const out: string[] = [];
  if (opts.zeroLoss && v.lost.length) out.push(`${v.lost.length} acknowledged writes lost: ${v.lost.slice(0, 20).join(',')}`);
  out.push(...v.splitBrain);
  if (v.failedPresent.length) out.push(`${v.failedPresent.length} writes reported failed are present`);
  for (const [pod, n] of Object.entries(v.lostOnStandbys)) {
    // A standby lacks only what the primary lacks.
    if (n > v.lost.length) out.push(`${pod} lacks ${n} acknowledged writes (primary lacks ${v.lost.length})`);
  }
  return out;
}

/** The newest pod's log of `pod` (after a kill, the replacement pod's; after a crash, the whole pod's). */
export async function newestPodLog(cluster: ExampleCluster, pod: string): Promise<string> {
  const all = await entrypointHistory(cluster, pod);
  const starts = all.lastIndexOf('entrypoint: start: tier');
  return starts >= 0 ? all.slice(starts) : all;
}

/**
 * Closes a port-forward without hanging the suite: the runtime's close waits for every proxied
 * connection to end, and a connection to a pod that was killed mid-session may never end.
 */
export async function closeForward(forward: { close: () => Promise<void> } | undefined): Promise<void> {
  if (!forward) return;
  await Promise.race([forward.close().catch(() => undefined), sleep(10_000)]);
}

/** What a failover test file works on: its cluster and one port-forward of the Pgpool-II Service. */
export interface ConvergedCluster {
  readonly cluster: ExampleCluster;
  readonly forward: Awaited<ReturnType<ExampleCluster['forward']>>;
}

/**
 * Starts the example cluster on a runtime instance of its own, waits until every pod is Ready
 * and the replication topology converged, and opens the Pgpool-II port-forward the workload
 * uses. On failure it prints every pod's log and tears the cluster down before rethrowing, so
 * a broken start never leaves a cluster behind.
 */
export async function startConverged(instance: string, overrides: Partial<PostgresClusterProps> = {}): Promise<ConvergedCluster> {
  const cluster = await ExampleCluster.start(instance, overrides);
  try {
    // Every step has its own bound, and together they stay under the 600 s hook timeout, so a
    // start that never finishes fails here, names the step and prints the logs (a hook timeout
    // would print nothing and leave the cluster running).
    const readyMs = await withDeadline(cluster.waitAllReady(BOUNDS.allReadyMs), BOUNDS.allReadyMs + 10_000, `${instance}: every pod Ready`);
    const converged = Date.now();
    await withDeadline(waitConverged(cluster, BOUNDS.convergedMs), BOUNDS.convergedMs + 20_000, `${instance}: replication and Pgpool-II converged`);
    const forward = await withDeadline(cluster.forward(), 30_000, `${instance}: port-forward to the Pgpool-II Service`);
    console.log(`${instance}: Ready after ${readyMs} ms, converged ${Date.now() - converged} ms later`);
    return { cluster, forward };
  } catch (error) {
    await dumpLogs(cluster);
    await cluster.stop();
    throw error;
  }
}

/** `promise`, or an error naming `what` once `ms` have passed (the promise is left to settle). */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes the forward and tears the cluster down; returns what teardown left (nothing, normally). */
export async function stopConverged(started: ConvergedCluster | undefined): Promise<string[]> {
  if (!started) return [];
  await closeForward(started.forward);
  return started.cluster.stop();
}

/** Whether `pod` still runs PostgreSQL out of recovery (asked on its own socket, so a partition does not matter). */
export async function servesAsPrimary(cluster: ExampleCluster, pod: string): Promise<boolean> {
  try {
    return (await cluster.psql(pod, 'SELECT pg_is_in_recovery()', { timeoutMs: 5_000 })) === 'f';
  } catch {
    return false;
  }
}
