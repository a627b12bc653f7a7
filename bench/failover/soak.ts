/**
 * False-failover soak (issue 5 speed target "no false failover during a 5-minute full-speed
 * pgbench run with the default timing"): the example cluster with the default timing profile
 * and asynchronous replication, pgbench's TPC-B-like write mix at full speed through the
 * Pgpool-II Service for DURATION seconds, then evidence that nothing failed over:
 *   - the same primary on the same timeline, every member and cascade still streaming;
 *   - no promotion or follow event in repmgr.events during the run;
 *   - repmgrd never lost its upstream ("unable to ping"/"unable to connect to upstream" lines);
 *   - Pgpool-II never detached a backend (its failover/degeneration log lines) and shows every
 *     backend up at the end.
 * pgbench runs inside a cascading pod (a client in the cluster network). The load average is
 * sampled during the run: it is the "full load" the defaults must survive on this machine.
 *
 *   sudo npx tsx bench/failover/soak.ts          # DURATION=300 CLIENTS=8 SCALE=10 by default
 */
import { execFileSync } from 'child_process';
import { cpus, loadavg } from 'os';
import { ExampleCluster } from '../../test/cluster/harness';
import { waitConverged } from '../../test/cluster/lifecycle';

const DURATION = Number(process.env.DURATION ?? '300');
const CLIENTS = Number(process.env.CLIENTS ?? '8');
const SCALE = Number(process.env.SCALE ?? '10');

/** Log lines that mean a node lost its upstream or Pgpool-II detached a backend. */
const REPMGRD_ALARM = /unable to ping|unable to connect to upstream|unable to reconnect|election|promot/;
const PGPOOL_ALARM = /failover|fail back|failback|degenerat|detach|attach|health check|quarantine|correction|primary node|failed to create a backend/i;
/**
 * Not a detach: a Pgpool-II child that could not open a session's connection to a standby
 * within connect_timeout skips that standby for the session ("failed to create a backend N
 * connection ... skip this backend") and restarts itself after it, and its siblings log
 * "failover or failback event detected" (pool_connection_pool.c). Counted apart.
 */
const PGPOOL_SESSION_SKIP = /failover or failback event detected|failed to create a backend \d+ connection|skip this backend|main node \d+ is down/;

function machine(): string {
  const kernel = execFileSync('uname', ['-r']).toString().trim();
  return `${cpus().length} x ${cpus()[0]?.model ?? 'unknown cpu'}, kernel ${kernel}`;
}

async function alarmLines(cluster: ExampleCluster, pods: string[], pattern: RegExp): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const pod of pods) {
    const log = await cluster.rt.logs(pod, { namespace: cluster.namespace });
    out.set(pod, log.split('\n').filter((l) => pattern.test(l)));
  }
  return out;
}

/** Lines present after the run that were not there before it. */
function newLines(before: Map<string, string[]>, after: Map<string, string[]>): string[] {
  const added: string[] = [];
  for (const [pod, lines] of after) {
    const seen = new Set(before.get(pod) ?? []);
    for (const l of lines) if (!seen.has(l)) added.push(`${pod}: ${l}`);
  }
  return added;
}

async function main(): Promise<void> {
  const cluster = await ExampleCluster.start('bench-soak');
  try {
    const readyMs = await cluster.waitAllReady();
    const start = await waitConverged(cluster);
    console.log(`False-failover soak on ${machine()}; ${cluster.versions.postgresFull}, ${cluster.versions.repmgr}, ${cluster.versions.pgpoolFull}`);
    console.log(`cluster Ready in ${(readyMs / 1000).toFixed(1)} s; primary ${start.primary} on timeline ${start.tli}; default timing, asynchronous replication`);

    const suffix = `${cluster.namespace}.svc.cluster.local`;
    const direct = `${start.primary}.${cluster.name}-node.${suffix}`;
    const viaPgpool = `${cluster.pgpoolService}.${suffix}`;
    const client = cluster.cascades[cluster.cascades.length - 1];
    const env = ['env', `PGPASSWORD=${cluster.credentials.app}`];
    const init = await cluster.exec(client, [...env, 'pgbench', '-i', '-s', String(SCALE), '-q', '-h', direct, '-U', 'app', 'app'], 600_000);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);

    const pgpools = await cluster.pgpoolPods();
    const nodes = [...cluster.members, ...cluster.cascades];
    const repmgrdBefore = await alarmLines(cluster, nodes, REPMGRD_ALARM);
    const pgpoolBefore = await alarmLines(cluster, pgpools, PGPOOL_ALARM);
    const eventsSql = "SELECT count(*) FROM repmgr.events WHERE event ~ '(promote|follow|failover|switchover)'";
    const eventsBefore = Number(await cluster.psql(start.primary, eventsSql, { database: 'repmgr' }));

    const loads: number[] = [];
    const sampler = setInterval(() => loads.push(loadavg()[0]), 5_000);
    const t0 = Date.now();
    const bench = await cluster.exec(
      client,
      [...env, 'pgbench', '-h', viaPgpool, '-U', 'app', '-n', '-c', String(CLIENTS), '-j', '2', '-T', String(DURATION), '-P', '60', 'app'],
      (DURATION + 120) * 1000,
    );
    clearInterval(sampler);
    const elapsed = Date.now() - t0;
    const tps = /tps = ([\d.]+)/.exec(bench.stdout)?.[1];
    const failedTx = /number of failed transactions: (\d+)/.exec(bench.stdout)?.[1] ?? 'n/a';
    console.log(`pgbench (TPC-B-like, ${CLIENTS} clients, via Pgpool-II): exit ${bench.code}, ${tps ?? '?'} tps over ${(elapsed / 1000).toFixed(0)} s, failed transactions ${failedTx}`);
    console.log(bench.stderr.split('\n').filter((l) => /^progress/.test(l)).join('\n'));
    loads.sort((a, b) => a - b);
    console.log(`load average (1 min) during the run: median ${loads[Math.floor(loads.length / 2)]?.toFixed(1)}, max ${loads[loads.length - 1]?.toFixed(1)} (${cpus().length} cores)`);

    const end = await waitConverged(cluster, 60_000);
    const eventsAfter = Number(await cluster.psql(end.primary, eventsSql, { database: 'repmgr' }));
    const repmgrd = newLines(repmgrdBefore, await alarmLines(cluster, nodes, REPMGRD_ALARM));
    const pgpool = newLines(pgpoolBefore, await alarmLines(cluster, pgpools, PGPOOL_ALARM));
    const verdict = {
      samePrimary: end.primary === start.primary,
      sameTimeline: end.tli === start.tli,
      failoverEvents: eventsAfter - eventsBefore,
      repmgrdAlarmLines: repmgrd.length,
      pgpoolDetachLines: pgpool.filter((l) => !PGPOOL_SESSION_SKIP.test(l)).length,
      pgpoolSessionSkipLines: pgpool.filter((l) => PGPOOL_SESSION_SKIP.test(l)).length,
      pgbenchOk: bench.code === 0,
    };
    console.log(`verdict: ${JSON.stringify(verdict)}`);
    const skips = pgpool.filter((l) => PGPOOL_SESSION_SKIP.test(l));
    const detaches = pgpool.filter((l) => !PGPOOL_SESSION_SKIP.test(l));
    if (skips.length) console.log(`  ${skips.length} session-level lines (a child skipped a slow standby and restarted; no detach), first ${skips[0]}, last ${skips[skips.length - 1]}`);
    for (const l of [...repmgrd, ...detaches].slice(0, 200)) console.log(`  ${l}`);
    const falseFailover = !verdict.samePrimary || !verdict.sameTimeline || verdict.failoverEvents > 0 || verdict.pgpoolDetachLines > 0;
    console.log(falseFailover ? 'FALSE FAILOVER (or detach) during the run' : `no false failover in ${(elapsed / 1000).toFixed(0)} s of full-speed pgbench`);
    if (falseFailover || !verdict.pgbenchOk) process.exitCode = 1;
  } finally {
    const left = await cluster.stop();
    if (left.length) console.log(`teardown left: ${left.join(', ')}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
