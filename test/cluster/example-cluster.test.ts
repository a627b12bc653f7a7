/**
 * The repository's example cluster (3 members, one cascading layer of 2, 2 Pgpool-II replicas),
 * synthesized for the versions installed here and run on the local pod runtime with the real
 * PostgreSQL, repmgr and Pgpool-II binaries. Every assertion uses a real client: psql inside
 * the pods, node-postgres through the Pgpool-II Service.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExampleCluster } from './harness';

let cluster: ExampleCluster;
let bootstrapMs = 0;

beforeAll(async () => {
  cluster = await ExampleCluster.start('cluster-e2e');
  try {
    bootstrapMs = await cluster.waitAllReady();
  } catch (error) {
    for (const pod of [...cluster.members, ...cluster.cascades, ...(await cluster.pgpoolPods())]) {
      console.log(`---- logs of ${pod}\n${(await cluster.rt.logs(pod, { namespace: cluster.namespace })).slice(-4000)}`);
    }
    throw error;
  }
  console.log(
    `example cluster Ready in ${(bootstrapMs / 1000).toFixed(1)} s on ${cluster.versions.postgresFull}, ` +
      `${cluster.versions.repmgr}, ${cluster.versions.pgpoolFull}`,
  );
});

afterAll(async () => {
  if (cluster) {
    const leftovers = await cluster.stop();
    expect(leftovers).toEqual([]);
  }
});

describe('GIVEN the example cluster applied to the pod runtime', () => {
  it('THEN ordinal 0 is the primary and every standby streams, checked apart from our probes', async () => {
    const primary = await cluster.primary();
    expect(primary).toBe(cluster.members[0]);
    // pg_stat_replication on the primary: both member standbys, streaming.
    const onPrimary = (await cluster.psql(primary!, "SELECT application_name || ':' || state FROM pg_stat_replication ORDER BY 1"))
      .split('\n')
      .filter(Boolean);
    expect(onPrimary).toEqual([`${cluster.members[1]}:streaming`, `${cluster.members[2]}:streaming`]);
    // Each cascading node streams from a member standby, and that standby shows it streaming.
    for (const cascade of cluster.cascades) {
      const upstream = await cluster.psql(cascade, "SELECT split_part(split_part(conninfo, 'host=', 2), '.', 1) FROM pg_stat_wal_receiver");
      expect(cluster.members.slice(1)).toContain(upstream);
      const state = await cluster.psql(upstream, `SELECT state FROM pg_stat_replication WHERE application_name = '${cascade}'`);
      expect(state).toBe('streaming');
    }
    console.log(`bootstrap: all ${cluster.members.length + cluster.cascades.length + 2} pods Ready after ${(bootstrapMs / 1000).toFixed(1)} s`);
  });

  it('WHEN the application writes through the Pgpool-II Service THEN the row is on every member and cascading node', async () => {
    const forward = await cluster.forward();
    const client = new Client(forward.config);
    try {
      await client.connect();
      await client.query('CREATE TABLE IF NOT EXISTS e2e_orders (id int PRIMARY KEY, note text)');
      const { rows } = await client.query(
        "INSERT INTO e2e_orders VALUES (1, 'first') RETURNING host(inet_server_addr()) AS server, pg_is_in_recovery() AS standby",
      );
      expect(rows[0].standby).toBe(false);
    } finally {
      await client.end();
      await forward.close();
    }
    for (const pod of [...cluster.members, ...cluster.cascades]) {
      await cluster.rt.waitFor(
        async () => (await cluster.psql(pod, 'SELECT note FROM e2e_orders WHERE id = 1', { database: 'app' })) === 'first',
        { timeoutMs: 30_000, what: `row visible on ${pod}` },
      );
    }
  });

  it('THEN repmgr cluster show lists every node with the right upstream, cascades under member standbys', async () => {
    const show = await cluster.exec(cluster.members[0], ['repmgr', '-f', '/run/pgha/repmgr.conf', 'cluster', 'show', '--csv']);
    expect(show.code, show.stderr).toBe(0);
    const nodes = await cluster.psql(
      cluster.members[0],
      "SELECT n.node_name || ' ' || n.type || ' ' || coalesce(u.node_name, '-') || ' ' || n.active FROM repmgr.nodes n LEFT JOIN repmgr.nodes u ON u.node_id = n.upstream_node_id ORDER BY n.node_id",
      { database: 'repmgr' },
    );
    const rows = nodes.split('\n').map((line) => line.split(' '));
    expect(rows.map((r) => r[0])).toEqual([...cluster.members, ...cluster.cascades]);
    expect(rows[0]).toEqual([cluster.members[0], 'primary', '-', 't']);
    expect(rows[1]).toEqual([cluster.members[1], 'standby', cluster.members[0], 't']);
    expect(rows[2]).toEqual([cluster.members[2], 'standby', cluster.members[0], 't']);
    for (const row of rows.slice(3)) {
      expect(row[1]).toBe('standby');
      expect(cluster.members.slice(1)).toContain(row[2]);
    }
  });
});
