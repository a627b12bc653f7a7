/**
 * Idle cost of the example cluster (issue 10): the cluster started on the pod runtime, settled,
 * then left alone with no client. Prints, over WINDOW seconds (60 by default):
 *   - CPU of the whole machine in percent of one core, and new processes per second
 *     (/proc/stat), with the budget beside them, nothing else running;
 *   - CPU by source (per-process /proc/PID/stat, children counted in their parent);
 *   - which process created the new processes (forkstat), charged to the nearest ancestor
 *     that names a source: probes, entrypoint supervision, status endpoint, repmgrd,
 *     Pgpool-II, PostgreSQL backends;
 *   - the new PostgreSQL sessions per user and application (log_connections switched on for
 *     a second window of the same length; every new session is a backend fork).
 *
 *   sudo npx tsx bench/idle/run.ts          # WINDOW=60 SETTLE=20
 */
import { ExampleCluster } from '../../test/cluster/harness';
import { machine, runOnCluster } from '../common';
import { cpuBreakdown, describeBreakdown, describeCpu, describeIdle, forkBreakdown, measureIdle } from '../../test/cluster/idle';
import { waitConverged } from '../../test/cluster/lifecycle';

const WINDOW = Number(process.env.WINDOW ?? '60');
const SETTLE = Number(process.env.SETTLE ?? '20');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sessionsByClient(cluster: ExampleCluster, seconds: number): Promise<Map<string, number>> {
  const pods = [...cluster.members, ...cluster.cascades];
  for (const pod of pods) await cluster.psql(pod, 'ALTER SYSTEM SET log_connections = on').then(() => cluster.psql(pod, 'SELECT pg_reload_conf()'));
  await sleep(2_000);
  const before = new Map<string, number>();
  for (const pod of pods) before.set(pod, (await cluster.rt.logs(pod, { namespace: cluster.namespace })).length);
  await sleep(seconds * 1000);
  const counts = new Map<string, number>();
  for (const pod of pods) {
    const log = (await cluster.rt.logs(pod, { namespace: cluster.namespace })).slice(before.get(pod));
    for (const m of log.matchAll(/connection authorized: user=(\S+)(?: database=(\S+))?(?: application_name=(\S+))?/g)) {
      const key = `user=${m[1]} database=${m[2] ?? '-'} application=${m[3] ?? '-'}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  for (const pod of pods) await cluster.psql(pod, 'ALTER SYSTEM RESET log_connections').then(() => cluster.psql(pod, 'SELECT pg_reload_conf()'));
  return counts;
}

// The product's default Pgpool-II sizing (32 children per pod), as users run it.
runOnCluster(() => ExampleCluster.start('bench-idle', { pgpool: { numInitChildren: 32 } }), async (cluster) => {
  const readyMs = await cluster.waitAllReady();
  await waitConverged(cluster);
  console.log(`Idle cost on ${machine()}; ${cluster.versions.postgresFull}, ${cluster.versions.repmgr}, ${cluster.versions.pgpoolFull}`);
  console.log(`example cluster (${cluster.members.length} members, ${cluster.cascades.length} cascading, 2 Pgpool-II) Ready in ${(readyMs / 1000).toFixed(1)} s; settling ${SETTLE} s`);
  await sleep(SETTLE * 1000);
  // First window: nothing but the cluster (and this process); then the breakdowns.
  const sample = await measureIdle(WINDOW);
  console.log(`\nidle, machine-wide: ${describeIdle(sample)}`);
  console.log('budget (issue 10): at most 20% of one core and 10 new processes/s');
  const [cpu, breakdown] = await Promise.all([cpuBreakdown(WINDOW), forkBreakdown(WINDOW)]);
  console.log(`\nCPU by source (${WINDOW} s, percent of one core; forkstat runs meanwhile):\n${describeCpu(cpu)}`);
  console.log(`\nnew processes by source (forkstat, ${WINDOW} s):\n${describeBreakdown(breakdown, WINDOW)}`);
  const sessions = await sessionsByClient(cluster, WINDOW);
  console.log(`\nnew PostgreSQL sessions by client (log_connections, ${WINDOW} s, all ${cluster.members.length + cluster.cascades.length} PostgreSQL pods):\n${describeBreakdown(sessions, WINDOW)}`);
});
