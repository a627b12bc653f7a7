/**
 * Two data-bearing members are the cheapest HA setup, but an election between two nodes has no
 * majority: a repmgr witness pod (a small PostgreSQL that only votes) breaks the tie.
 */
import { App, Chart } from 'cdk8s';
import { PostgresCluster } from '../lib';

const app = new App();
const chart = new Chart(app, 'small', { namespace: 'small' });
new PostgresCluster(chart, 'inventory', {
  members: { replicas: 2, witness: true, storage: { size: '10Gi', storageClassName: 'fast-ssd' } },
});
app.synth();
