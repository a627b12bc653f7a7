/**
 * The smallest useful cluster: 3 failover-eligible members and 2 Pgpool-II replicas, all
 * defaults. Applications connect to `orders-pgpool.shop.svc:5432` as user `app`.
 *
 * Before applying, create the Secret `orders-credentials` in namespace `shop` with the keys
 * superuser-password, replication-password, app-password, monitor-password and pgpool-key.
 */
import { App, Chart } from 'cdk8s';
import { PostgresCluster } from '../lib';

const app = new App();
const chart = new Chart(app, 'shop-database', { namespace: 'shop' });
new PostgresCluster(chart, 'orders');
app.synth();
