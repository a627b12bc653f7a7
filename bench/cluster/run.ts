/**
 * Cluster benchmark (issue 4): bootstrap time of the example cluster, and pgbench through
 * Pgpool-II versus straight to the primary, in the same run on the same cluster.
 *
 *   sudo npx tsx bench/cluster/run.ts        # DURATION=15 ROUNDS=2 CLIENTS=4 by default
 *
 * pgbench runs inside a cascading pod (a client in the cluster network, like an application
 * pod), against the Pgpool-II Service name or the primary's pod name. Both legs share the
 * 2-core machine with every PostgreSQL and Pgpool-II process, so compare the ratios; the
 * absolute numbers say little.
 */
import { ExampleCluster } from '../../test/cluster/harness';
import { machine, runOnCluster } from '../common';

const DURATION = Number(process.env.DURATION ?? '15');
const ROUNDS = Number(process.env.ROUNDS ?? '2');
const CLIENTS = Number(process.env.CLIENTS ?? '4');

async function pgbench(cluster: ExampleCluster, client: string, host: string, extra: string[]): Promise<number> {
  const argv = ['env', `PGPASSWORD=${cluster.credentials.app}`, 'pgbench', '-h', host, '-p', '5432', '-U', 'app', '-n',
    '-c', String(CLIENTS), '-j', String(Math.min(CLIENTS, 2)), '-T', String(DURATION), ...extra, 'app'];
  const result = await cluster.exec(client, argv, (DURATION + 60) * 1000);
  const tps = /tps = ([\d.]+)/.exec(result.stdout);
  if (result.code !== 0 || !tps) {
    throw new Error(`pgbench ${extra.join(' ')} against ${host} failed: ${result.stderr}${result.stdout}`);
  }
  return Number(tps[1]);
}

runOnCluster(() => ExampleCluster.start('bench-cluster'), async (cluster) => {
  const bootstrapMs = await cluster.waitAllReady();
  console.log(`Cluster benchmark on ${machine()}; ${cluster.versions.postgresFull}, ${cluster.versions.repmgr}, ${cluster.versions.pgpoolFull}`);
  console.log(`bootstrap: example cluster (3 members, 2 cascading, 2 Pgpool-II) all Ready in ${(bootstrapMs / 1000).toFixed(1)} s`);

  const primary = (await cluster.primary())!;
  const suffix = `${cluster.namespace}.svc.cluster.local`;
  const direct = `${primary}.${cluster.name}-node.${suffix}`;
  const viaPgpool = `${cluster.pgpoolService}.${suffix}`;
  const client = cluster.cascades[cluster.cascades.length - 1];
  const init = await cluster.exec(client, ['env', `PGPASSWORD=${cluster.credentials.app}`, 'pgbench', '-i', '-s', '5', '-q', '-h', direct, '-U', 'app', 'app'], 300_000);
  if (init.code !== 0) {
    throw new Error(`pgbench -i failed: ${init.stderr}`);
  }
  await cluster.psql(primary, 'CHECKPOINT');

  for (const [label, extra] of [
    ['select-only (-S)', ['-S']],
    ['select-only, new connection per transaction (-S -C)', ['-S', '-C']],
  ] as const) {
    const rows: Array<[number, number]> = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so drift of the machine hits both legs alike.
      const first = round % 2 === 0;
      const a = first ? await pgbench(cluster, client, viaPgpool, [...extra]) : 0;
      const b = await pgbench(cluster, client, direct, [...extra]);
      const c = first ? a : await pgbench(cluster, client, viaPgpool, [...extra]);
      rows.push([c, b]);
    }
    console.log(`\n${label}, ${CLIENTS} clients, ${DURATION} s per leg:`);
    for (const [pool, dir] of rows) {
      console.log(`  through Pgpool-II ${pool.toFixed(0).padStart(7)} tps   direct ${dir.toFixed(0).padStart(7)} tps   ratio ${(pool / dir).toFixed(2)}`);
    }
  }
});
