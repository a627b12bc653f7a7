/**
 * The repository's own example cluster, synthesized into dist/ and exercised end to end by the
 * cluster tests: 3 failover-eligible members, one cascading layer of 2, 2 Pgpool-II replicas,
 * in its own namespace.
 */
import { ApiObject, Chart, JsonPatch, type ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { PostgresCluster } from '../lib';
import type { PostgresClusterProps } from '../lib/model/props';

export const EXAMPLE_NAMESPACE = 'pgha-example';
export const EXAMPLE_CLUSTER_NAME = 'orders';

export interface ExampleClusterChartProps extends ChartProps {
  /**
   * Overrides for the tests, which render the same topology for the PostgreSQL and Pgpool-II
   * versions installed on the machine.
   * @default - none
   */
  readonly overrides?: Partial<PostgresClusterProps>;
}

export class ExampleClusterChart extends Chart {
  public readonly cluster: PostgresCluster;

  constructor(scope: Construct, id: string, props: ExampleClusterChartProps = {}) {
    super(scope, id, { ...props, namespace: EXAMPLE_NAMESPACE });
    const namespace = new k8s.KubeNamespace(this, 'Namespace', {
      metadata: {
        name: EXAMPLE_NAMESPACE,
        // Before everything else in the namespace.
        annotations: { 'argocd.argoproj.io/sync-wave': '-1' },
        labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    });
    // A Namespace is cluster-scoped: the chart's namespace, which cdk8s puts on every object,
    // makes Flux health checks and Config Sync reject it.
    ApiObject.of(namespace).addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    this.cluster = new PostgresCluster(this, EXAMPLE_CLUSTER_NAME, {
      members: { replicas: 3, storage: { size: '10Gi' } },
      cascades: [{ name: 'replica', replicas: 2 }],
      pgpool: { replicas: 2 },
      ...props.overrides,
    });
  }
}
