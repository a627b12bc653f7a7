/**
 * The cluster's NetworkPolicies: every connection into its pods is denied except what the
 * cluster needs and what the props name (NetworkOptions in props.ts says what and why).
 *
 *   <cluster>-postgresql  PostgreSQL pods: 5432 from the cluster's PostgreSQL pods (replication,
 *                         repmgr, clones, rewinds) and its Pgpool-II pods; 8008, the members'
 *                         unauthenticated status endpoint, from the PostgreSQL pods only (the
 *                         entrypoints read their peers' state there; nothing else needs it).
 *   <cluster>-pgpool      Pgpool-II pods: their port from network.pgpoolClients.
 *   <cluster>-cascade-reads  the cascading layers' pods (only with cascades): 5432 from
 *                         network.pgpoolClients too, since applications read from them directly
 *                         through each layer's -ro Service. Policies add to each other, so
 *                         these pods keep what <cluster>-postgresql lets in.
 *
 * Ingress only: an egress policy would also have to let DNS through to the cluster's DNS
 * service, whose labels differ between distributions. The kubelet's probes come from the node,
 * which the common CNIs always let in.
 */
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { NAME_SUFFIX } from '../model/names';
import type { ResolvedCluster, ResolvedNetworkPeer } from '../model/resolved';
import { LABEL, objectAnnotations, objectLabels } from './labels';
import { STATUS_PORT } from './postgres-tier';

/** The label every namespace carries with its own name (Kubernetes 1.22+). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface ClusterNetworkPoliciesProps {
  readonly cluster: ResolvedCluster;
}

export class ClusterNetworkPolicies extends Construct {
  public readonly postgres: k8s.KubeNetworkPolicy;
  public readonly pgpool: k8s.KubeNetworkPolicy;
  /** Only when the cluster has cascading layers. */
  public readonly cascadeReads?: k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: ClusterNetworkPoliciesProps) {
    super(scope, id);
    const { cluster } = props;
    const postgresPods: k8s.LabelSelector = { matchLabels: { [LABEL.name]: 'postgresql', [LABEL.instance]: cluster.name } };
    const pgpoolPods: k8s.LabelSelector = { matchLabels: { [LABEL.name]: 'pgpool', [LABEL.instance]: cluster.name } };
    const tcp = (port: number): k8s.NetworkPolicyPort => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) });
    const metadata = (name: string, app: 'postgresql' | 'pgpool') => ({
      name,
      namespace: cluster.namespace,
      labels: objectLabels(cluster, app, 'network-policy'),
      annotations: objectAnnotations(cluster, cluster.configSyncWave),
    });

    this.postgres = new k8s.KubeNetworkPolicy(this, 'Postgres', {
      metadata: metadata(`${cluster.name}${NAME_SUFFIX.postgresPolicy}`, 'postgresql'),
      spec: {
        podSelector: postgresPods,
        policyTypes: ['Ingress'],
        ingress: [
          { from: [{ podSelector: postgresPods }, { podSelector: pgpoolPods }], ports: [tcp(cluster.postgres.port)] },
          { from: [{ podSelector: postgresPods }], ports: [tcp(STATUS_PORT)] },
        ],
      },
    });
    this.pgpool = new k8s.KubeNetworkPolicy(this, 'Pgpool', {
      metadata: metadata(`${cluster.name}${NAME_SUFFIX.pgpoolPolicy}`, 'pgpool'),
      spec: {
        podSelector: pgpoolPods,
        policyTypes: ['Ingress'],
        ingress: [{ from: cluster.network.pgpoolClients.map(policyPeer), ports: [tcp(cluster.pgpool.port)] }],
      },
    });
    const cascadeComponents = cluster.tiers.filter((t) => t.kind === 'cascade').map((t) => t.component);
    if (cascadeComponents.length > 0) {
      this.cascadeReads = new k8s.KubeNetworkPolicy(this, 'CascadeReads', {
        metadata: metadata(`${cluster.name}${NAME_SUFFIX.cascadeReadsPolicy}`, 'postgresql'),
        spec: {
          podSelector: { ...postgresPods, matchExpressions: [{ key: LABEL.component, operator: 'In', values: cascadeComponents }] },
          policyTypes: ['Ingress'],
          ingress: [{ from: cluster.network.pgpoolClients.map(policyPeer), ports: [tcp(cluster.postgres.port)] }],
        },
      });
    }
  }
}

/** One peer of the props as Kubernetes spells it. */
export function policyPeer(peer: ResolvedNetworkPeer): k8s.NetworkPolicyPeer {
  if ('cidr' in peer) return { ipBlock: { cidr: peer.cidr } };
  return {
    ...(peer.namespaces === undefined ? {} : { namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: [...peer.namespaces] }] } }),
    ...(peer.podLabels === undefined ? {} : { podSelector: { matchLabels: { ...peer.podLabels } } }),
  };
}
