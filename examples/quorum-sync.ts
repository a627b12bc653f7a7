/**
 * Zero data loss on failover: every commit waits until at least one other member has flushed
 * it (quorum commit, `ANY 1 (...)`), on every node, so it survives promotions. Five members,
 * ordinal 4 sits in a far zone and is never promoted (priority 0), ordinal 3 only as a last
 * resort.
 */
import { App, Chart } from 'cdk8s';
import { PostgresCluster } from '../lib';

const app = new App();
const chart = new Chart(app, 'payments', { namespace: 'payments' });
new PostgresCluster(chart, 'ledger', {
  members: { replicas: 5, priorities: [100, 100, 100, 10, 0] },
  replication: { mode: 'quorum', standbys: 1 },
  postgres: { majorVersion: 16, parameters: { synchronous_commit: 'on' } },
});
app.synth();
