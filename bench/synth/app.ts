/**
 * The benchmarked app: N clusters (each in its own chart and namespace, like a platform team's
 * repository) synthesized to the folder in CDK8S_OUTDIR. N comes from the first argument.
 */
import { App, Chart } from 'cdk8s';
import { PostgresCluster } from '../../lib';

const clusters = Number(process.argv[2] ?? '1');
const app = new App();
for (let i = 0; i < clusters; i++) {
  const chart = new Chart(app, `tenant-${i}`, { namespace: `tenant-${i}` });
  new PostgresCluster(chart, `db${i}`, { cascades: [{ name: 'replica', replicas: 2 }] });
}
app.synth();
