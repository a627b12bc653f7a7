/**
 * A two-member tier with a repmgr witness: it bootstraps, the witness registers as a witness
 * and the standby streams. (The failover through the witness vote is in
 * pending/witness-failover.pending.ts: see why there.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExampleCluster } from './harness';

let cluster: ExampleCluster;

beforeAll(async () => {
  cluster = await ExampleCluster.start('cluster-witness', { members: { replicas: 2, witness: true }, cascades: [] });
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

describe('GIVEN two members and a witness', () => {
  it('THEN the witness is registered as a witness and the standby streams from ordinal 0', async () => {
    expect(cluster.witness).toBe(`${cluster.name}-witness-0`);
    const nodes = await cluster.psql(cluster.members[0], 'SELECT node_name || \' \' || type FROM repmgr.nodes ORDER BY node_id', { database: 'repmgr' });
    expect(nodes.split('\n')).toEqual([`${cluster.members[0]} primary`, `${cluster.members[1]} standby`, `${cluster.witness} witness`]);
    expect(await cluster.psql(cluster.members[0], 'SELECT application_name || \':\' || state FROM pg_stat_replication')).toBe(`${cluster.members[1]}:streaming`);
  });
});
