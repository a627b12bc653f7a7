/**
 * Credentials from a secret store through the External Secrets Operator: the output holds an
 * ExternalSecret, not a Secret, and the operator writes `inventory-credentials` from the remote
 * secret `databases/inventory` of the ClusterSecretStore `vault`. That remote secret needs one
 * property per key: superuser-password, replication-password, app-password, monitor-password and
 * pgpool-key. Install the operator and the store before applying.
 */
import { App, Chart } from 'cdk8s';
import { PostgresCluster } from '../lib';

const app = new App();
const chart = new Chart(app, 'warehouse-database', { namespace: 'warehouse' });
new PostgresCluster(chart, 'inventory', {
  credentials: {
    externalSecret: { storeName: 'vault', storeKind: 'ClusterSecretStore', remoteKey: 'databases/inventory', refreshInterval: '15m' },
  },
});
app.synth();
