/**
 * A two-member tier with a repmgr witness: it bootstraps (the witness registered as a witness,
 * the standby streaming), and the witness gives the election its majority, so the surviving
 * member is promoted when the primary dies, and the old primary rejoins as standby.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { closeForward } from './lifecycle';

let cluster: ExampleCluster;

beforeAll(async () => {
  cluster = await ExampleCluster.start('witness-failover', { members: { replicas: 2, witness: true }, cascades: [] });
  try {
    const ms = await cluster.waitAllReady();
    console.log(`2 members + witness + 2 Pgpool-II Ready in ${(ms / 1000).toFixed(1)} s`);
  } catch (error) {
    for (const pod of [...cluster.members, cluster.witness!]) {
      console.log(`---- logs of ${pod}\n${(await cluster.rt.logs(pod, { namespace: cluster.namespace })).slice(-4000)}`);
    }
    throw error;
  }
});

afterAll(async () => {
  if (cluster) {
    expect(await cluster.stop()).toEqual([]);
  }
});

/**
 * One idempotent write through the Pgpool-II Service with the client retry policy the failover
 * tests state: on a refused or lost connection, start over every 250 ms, for up to 60 s.
 * (Pgpool-II ends open sessions when it attaches or detaches a backend, e.g. when the old
 * primary comes back right after a failover.)
 */
async function writeThroughPgpool(id: number): Promise<void> {
  const forward = await cluster.forward();
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      const { client } = await ExampleCluster.connectWithRetry(forward.config, Math.max(1, deadline - Date.now()));
      try {
        await client.query('CREATE TABLE IF NOT EXISTS witness_e2e (id int PRIMARY KEY)');
        await client.query('INSERT INTO witness_e2e VALUES ($1) ON CONFLICT DO NOTHING', [id]);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 250));
      } finally {
        client.end().catch(() => undefined);
      }
    }
  } finally {
    await closeForward(forward);
  }
}

describe('GIVEN two members and a witness', () => {
  it('THEN the witness is registered as a witness and the standby streams from ordinal 0', async () => {
    expect(cluster.witness).toBe(`${cluster.name}-witness-0`);
    const nodes = await cluster.psql(cluster.members[0], 'SELECT node_name || \' \' || type FROM repmgr.nodes ORDER BY node_id', { database: 'repmgr' });
    expect(nodes.split('\n')).toEqual([`${cluster.members[0]} primary`, `${cluster.members[1]} standby`, `${cluster.witness} witness`]);
    expect(await cluster.psql(cluster.members[0], 'SELECT application_name || \':\' || state FROM pg_stat_replication')).toBe(`${cluster.members[1]}:streaming`);
  });

  it('WHEN the primary pod is killed THEN the other member is promoted with the witness vote and the old primary rejoins', async () => {
    await writeThroughPgpool(1);
    console.log(`${new Date().toISOString()} first write done; killing ${cluster.members[0]}`);
    const killedAt = Date.now();
    await cluster.rt.killPod(cluster.members[0]);
    try {
      await cluster.rt.waitFor(async () => (await cluster.primary()) === cluster.members[1], {
        timeoutMs: BOUNDS.failoverMs,
        intervalMs: 500,
        what: `${cluster.members[1]} promoted`,
      });
    } catch (error) {
      for (const pod of [cluster.members[1], cluster.witness!]) {
        console.log(`---- logs of ${pod}\n${(await cluster.rt.logs(pod, { namespace: cluster.namespace })).slice(-6000)}`);
      }
      throw error;
    }
    const promotedMs = Date.now() - killedAt;
    console.log(`${new Date().toISOString()} promoted after ${promotedMs} ms`);
    await writeThroughPgpool(2);
    console.log(`${new Date().toISOString()} second write done`);
    const writableMs = Date.now() - killedAt;
    // The old primary comes back as a standby of the new one, with both rows.
    await cluster.rt.waitFor(
      async () =>
        (await cluster.psql(cluster.members[1], `SELECT state FROM pg_stat_replication WHERE application_name = '${cluster.members[0]}'`)) === 'streaming',
      { timeoutMs: BOUNDS.rejoinMs, intervalMs: 1000, what: `${cluster.members[0]} streaming from ${cluster.members[1]}` },
    );
    const rejoinedMs = Date.now() - killedAt;
    expect(await cluster.psql(cluster.members[0], 'SELECT pg_is_in_recovery()')).toBe('t');
    await cluster.rt.waitFor(
      async () => (await cluster.psql(cluster.members[0], 'SELECT count(*) FROM witness_e2e', { database: 'app' })) === '2',
      { timeoutMs: 30_000, what: 'both rows on the rejoined node' },
    );
    console.log(
      `witness failover: promoted after ${(promotedMs / 1000).toFixed(1)} s, write through Pgpool-II after ${(writableMs / 1000).toFixed(1)} s, ` +
        `old primary streaming again after ${(rejoinedMs / 1000).toFixed(1)} s`,
    );
  });
});
