/**
 * The cdk8s app of this repository (`npx cdk8s synth` runs it, see cdk8s.yaml): every chart
 * in charts/ becomes one file in dist/. Keep it free of clocks, randomness and environment
 * reads so two runs give byte-identical output.
 */
import { App } from 'cdk8s';
import { ExampleClusterChart } from './charts/example-cluster';

const app = new App();
new ExampleClusterChart(app, 'example-cluster');
app.synth();
