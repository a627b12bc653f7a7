/**
 * Kubernetes name rules. Every object name is derived from the cluster name by fixed suffixes
 * (see docs/pod-contract.md) and never from the construct path, so refactoring a program can
 * not rename (and so orphan) a live database.
 */

/** RFC 1035 label: what Service names must be. */
export const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 label: what namespaces and most names must be. */
export const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_LABEL_LENGTH = 63;

/**
 * The StatefulSet controller labels every pod with `controller-revision-hash: <name>-<hash>`
 * (a hash of up to 10 characters), and a label value may hold 63 characters.
 */
export const MAX_STATEFULSET_NAME_LENGTH = 63 - 11;

/** Suffixes appended to the cluster name; the longest bounds the cluster name's length. */
export const NAME_SUFFIX = {
  members: '-node',
  witness: '-witness',
  pgpool: '-pgpool',
  nodeScripts: '-node-scripts',
  pgpoolScripts: '-pgpool-scripts',
  pgpoolConfig: '-pgpool-config',
  credentials: '-credentials',
  serviceAccount: '-pgha',
  config: '-config',
  readService: '-ro',
  /** NetworkPolicy of every PostgreSQL pod of the cluster (members, cascades, witness). */
  postgresPolicy: '-postgresql',
  /** NetworkPolicy of the Pgpool-II pods (a NetworkPolicy name; the Deployment's is the same). */
  pgpoolPolicy: '-pgpool',
  /** NetworkPolicy that lets applications read from the cascading layers (their -ro Services). */
  cascadeReadsPolicy: '-cascade-reads',
} as const;

/** Name of the ConfigMap holding the rendered config of the tier whose StatefulSet is `sts`. */
export function tierConfigMapName(statefulSetName: string): string {
  return `${statefulSetName}${NAME_SUFFIX.config}`;
}

/**
 * Label keys the library sets. The first three are every workload's selector, immutable under a
 * live cluster; `tier` selects the pods of one StatefulSet for spreading and budgets.
 */
export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  /** Which StatefulSet (tier) a PostgreSQL pod belongs to. */
  tier: 'pgha.cdk8s.io/tier',
} as const;

/** The labels the library selects on (a user value would break or orphan the workloads). */
export const SELECTOR_LABEL_KEYS: readonly string[] = [LABEL.name, LABEL.instance, LABEL.component, LABEL.tier];
/** The labels the library sets but never selects on. */
export const LIBRARY_LABEL_KEYS: readonly string[] = [LABEL.partOf, LABEL.managedBy];
/** The library's own label and annotation prefix. */
export const LIBRARY_PREFIX = 'pgha.cdk8s.io/';

export const ANNOTATION = {
  /** sha256 of the ConfigMaps a pod consumes: a change rolls exactly those pods. */
  configChecksum: 'pgha.cdk8s.io/config-checksum',
  argoSyncWave: 'argocd.argoproj.io/sync-wave',
  /**
   * On each workload that mounts the TLS Secret: the comma-separated names its server
   * certificate must carry. `npm run credentials` reads it to issue one from its own CA.
   */
  tlsDnsNames: 'pgha.cdk8s.io/tls-dns-names',
} as const;
