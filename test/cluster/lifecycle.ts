/**
 * A test cluster's lifecycle: started and converged (every member streaming from the one
 * primary, every cascade from a member standby, every Pgpool-II pod agreeing), waited on, and
 * torn down without ever hanging the suite.
 */
import { Client } from 'pg';
import type { PostgresClusterProps } from '../../lib/model/props';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { dumpLogs } from './logs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Closes a client without ever waiting more than 1 s (end() may never settle on a dead socket). */
export function endQuietly(c: Client | undefined): Promise<void> {
  if (!c) return Promise.resolve();
  return Promise.race([c.end().catch(() => undefined), sleep(1_000)]).then(() => {
    // Whatever end() did, the socket goes: a port-forward closes only once its connections did.
    (c as any).connection?.stream?.destroy();
  });
}

export interface ConvergedState {
  primary: string;
  tli: number;
  standbys: Record<string, string>;
  cascades: Record<string, string>;
  poolNodes: Record<string, string[]>;
}

export async function podIps(cluster: ExampleCluster): Promise<Map<string, string>> {
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
