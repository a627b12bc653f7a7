/**
 * A rolling restart of the Pgpool-II Deployment under pgbench. Each stopping Pgpool-II pod
 * leaves the Service (not ready at once, still accepting for the leave window), lets its open
 * sessions end (smart shutdown, up to pgpool.drainSeconds), then stops
 * (lib/scripts/pgpool-stop.sh). Clients that open a connection per transaction (pgbench -C)
 * and find a live pod behind the Service must see no failed transaction.
 */
import { describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { clusterForThisFile } from './file-cluster';
import type { ExampleCluster } from './harness';
import { entrypointHistory } from './logs';

let cluster: ExampleCluster;
clusterForThisFile('pgpool-rollout', {}, (started) => ({ cluster } = started));

/** One pgbench run's outcome: exit status, transactions done, failed, clients aborted. */
interface PgbenchChunk {
  code: number;
  processed: number;
  failed: number;
  aborted: boolean;
  output: string;
}

async function pgbenchChunk(client: string, host: string, seconds: number): Promise<PgbenchChunk> {
  // -C: a new connection per transaction, as a web application without a pool of its own;
  // pgbench gives up on a client whose connection or transaction fails (exit status 2).
  const argv = ['env', `PGPASSWORD=${cluster.credentials.app}`, 'pgbench', '-h', host, '-p', '5432', '-U', 'app', '-n', '-C', '-c', '3', '-j', '1', '-T', String(seconds), 'app'];
  const r = await cluster.exec(client, argv, (seconds + 120) * 1000);
  const output = `${r.stdout}${r.stderr}`;
  const number = (re: RegExp) => Number(re.exec(output)?.[1] ?? NaN);
  return {
    code: r.code,
    processed: number(/number of transactions actually processed: (\d+)/),
    // "number of failed transactions: 0 (0.000%)" (PostgreSQL 15 and later)
    failed: number(/number of failed transactions: (\d+)/),
    aborted: /aborted|Run was aborted/i.test(output),
    output,
  };
}

describe('GIVEN pgbench opening a connection per transaction through the Pgpool-II Service', () => {
  it('WHEN the Pgpool-II Deployment is restarted pod by pod THEN no transaction fails and each old pod drained before it stopped', async () => {
    const suffix = `${cluster.namespace}.svc.cluster.local`;
    const primary = (await cluster.primary())!;
    const client = cluster.cascades[cluster.cascades.length - 1];
    const init = await cluster.exec(client, ['env', `PGPASSWORD=${cluster.credentials.app}`, 'pgbench', '-i', '-s', '1', '-q', '-h', `${primary}.${cluster.name}-node.${suffix}`, '-U', 'app', 'app'], 300_000);
    expect(init.code, init.stderr).toBe(0);

    const before = await cluster.pgpoolPods();
    const service = `${cluster.pgpoolService}.${suffix}`;
    const chunks: PgbenchChunk[] = [];
    let rolled = false;
    // pgbench runs in chunks of 10 s back to back until the roll is over, then one more: a
    // chunk's summary is only printed when it ends, and the roll's length depends on the machine.
    const load = (async () => {
      do {
        const done = rolled;
        chunks.push(await pgbenchChunk(client, service, 10));
        if (done) break;
      } while (chunks.length < 60);
    })();

    await new Promise((r) => setTimeout(r, 5_000));
    const t0 = Date.now();
    await cluster.rt.rolloutRestart('deployment', cluster.pgpoolService, cluster.namespace);
    await cluster.rt.waitFor(
      async () => {
        const pgpool = await cluster.rt.pods({ 'app.kubernetes.io/component': 'pgpool' }, cluster.namespace);
        return pgpool.length === before.length && pgpool.every((p) => !before.includes(p.name) && p.ready && !p.deleting);
      },
      { timeoutMs: before.length * BOUNDS.pgpoolReplacementMs, intervalMs: 500, what: 'every Pgpool-II pod replaced and Ready' },
    );
    const rollMs = Date.now() - t0;
    rolled = true;
    await load;

    const processed = chunks.reduce((sum, c) => sum + c.processed, 0);
    const failed = chunks.reduce((sum, c) => sum + c.failed, 0);
    console.log(`pgpool roll of ${before.length} pods under pgbench -C: ${rollMs} ms; ${chunks.length} chunks of 10 s, ` +
      `${processed} transactions, ${failed} failed, exit codes ${chunks.map((c) => c.code).join(',')}`);
    for (const pod of before) {
      const stopLines = (await entrypointHistory(cluster, pod)).split('\n').filter((l) => / pgpool-entrypoint: (SIGTERM|drain):/.test(l));
      console.log(stopLines.join('\n'));
      // THEN each old pod left the Service, then drained, and did not need the fast shutdown
      // (pgbench -C sessions last one transaction).
      expect(stopLines.some((l) => /SIGTERM: leaving the Service/.test(l)), `${pod} logged leaving the Service`).toBe(true);
      expect(stopLines.some((l) => /drain: every client session ended/.test(l)), `${pod} drained: ${stopLines.join(' | ')}`).toBe(true);
    }
    for (const c of chunks) {
      expect(c.aborted || c.code !== 0 ? c.output : '', 'a pgbench chunk failed or had a client aborted').toBe('');
      expect(c.failed).toBe(0);
    }
    expect(processed).toBeGreaterThan(0);
  });
});
