/**
 * The failover workload, and a fault run under it (underLoad). The invariants checked on its
 * record are in invariants.ts, the cluster's lifecycle in lifecycle.ts, log reading in logs.ts.
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
import { Client, Pool, type ClientConfig } from 'pg';
import { BOUNDS } from './bounds';
import type { ExampleCluster } from './harness';
import { verify, type Verdict } from './invariants';
import { endQuietly } from './lifecycle';
import { dumpLogs } from './logs';

export const RETRY_MS = 200;

/** "cannot execute INSERT in a read-only transaction": the statement reached a standby. */
export const READ_ONLY_SQLSTATE = '25006';

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
  /**
   * Writers and readers share one node-postgres `Pool` (one connection each at most) and call
   * `pool.query`, as most applications do, instead of a Client each: the pool drops a client
   * whose connection broke and opens a new one on the next query; nothing else is retried.
   */
  readonly pool?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    await this.pool?.end().catch(() => undefined);
    this.pool = undefined;
  }

  private pool?: Pool;

  /** The Pool of the `pool` option, created on first use. */
  private sharedPool(): Pool {
    if (!this.pool) {
      this.pool = new Pool({ ...this.clientConfig(), max: (this.options.writers ?? 4) + (this.options.readers ?? 2) });
      // An idle pooled client whose connection breaks: the pool drops it; nothing to do.
      this.pool.on('error', () => undefined);
    }
    return this.pool;
  }

  /**
   * Runs one statement for a writer or reader: on its own connection `c` (opened if needed), or
   * through the shared Pool. Returns the rows, or throws with the connection dropped.
   */
  private async run(c: Client | undefined, sql: string, params: unknown[]): Promise<{ rows: any[]; client?: Client }> {
    if (this.options.pool) return { rows: (await this.sharedPool().query(sql, params)).rows };
    const client = c ?? (await this.connect());
    if (!client) throw new Error('workload stopped');
    try {
      return { rows: (await client.query(sql, params)).rows, client };
    } catch (error) {
      // Whatever the error, start over on a new connection (a session that saw an error
      // during a failover may be bound to a dead backend).
      void endQuietly(client);
      throw error;
    }
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
      if (!c && !this.options.pool) {
        c = await this.connect();
        if (!c) break;
      }
      const rec: InsertRecord = { id: this.nextId++, writer: w, start: Date.now(), end: 0, outcome: 'doubt' };
      this.records.push(rec);
      try {
        const { rows, client } = await this.run(
          c,
          `INSERT INTO ${this.table} (id, writer) VALUES ($1, $2) RETURNING host(inet_server_addr()) AS server, ` +
            `('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli`,
          [rec.id, w],
        );
        c = client;
        rec.end = Date.now();
        rec.outcome = 'ack';
        rec.server = rows[0].server;
        rec.tli = Number(rows[0].tli);
      } catch (error) {
        rec.end = Date.now();
        rec.outcome = definitelyNotCommitted(error) ? 'failed' : 'doubt';
        rec.error = `${(error as any).code ?? ''} ${(error as Error).message}`.trim();
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
      if (!c && !this.options.pool) {
        c = await this.connect();
        if (!c) break;
      }
      try {
        c = (await this.run(c, `SELECT count(*) FROM ${this.table} WHERE id > $1`, [Math.max(0, this.nextId - 100)])).client;
        this.reads++;
      } catch (error) {
        this.readErrors.push({ at: Date.now(), error: String((error as Error).message) });
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

  /**
   * Inserts refused with SQLSTATE 25006 (read-only transaction): Pgpool-II sent a write to a
   * standby. Many applications take that error for a permanent one, so no fault may cause it.
   */
  readOnlyRefusals(since = 0): InsertRecord[] {
    return this.records.filter((r) => r.start >= since && r.error?.startsWith(`${READ_ONLY_SQLSTATE} `));
  }

  summary(since = 0): { ack: number; failed: number; readOnly: number; doubt: number; connectErrors: number; readErrors: number; reads: number } {
    const recs = this.records.filter((r) => r.start >= since);
    return {
      ack: recs.filter((r) => r.outcome === 'ack').length,
      failed: recs.filter((r) => r.outcome === 'failed').length,
      readOnly: this.readOnlyRefusals(since).length,
      doubt: recs.filter((r) => r.outcome === 'doubt').length,
      connectErrors: this.connectErrors.filter((e) => e.at >= since).length,
      readErrors: this.readErrors.filter((e) => e.at >= since).length,
      reads: this.reads,
    };
  }

  /** The longest time between two consecutive acknowledged writes since `from` (a write outage), and when it began; with `until`, only gaps that began before it. */
  maxAckGap(from: number, until = Infinity): { ms: number; since: string } {
    const ends = this.acked().filter((r) => r.end >= from).map((r) => r.end).sort((x, y) => x - y);
    let gap = 0;
    let since = from;
    // A gap belongs to the window its last acknowledged write before it falls in.
    for (let i = 1; i < ends.length && ends[i - 1] < until; i++) {
      if (ends[i] - ends[i - 1] > gap) [gap, since] = [ends[i] - ends[i - 1], ends[i - 1]];
    }
    return { ms: gap, since: new Date(since).toISOString() };
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
