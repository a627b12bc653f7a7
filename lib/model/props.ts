/**
 * The typed public API of a cluster: everything a user may set. Every optional member says
 * what it defaults to; {@link resolveCluster} turns these props into a fully resolved,
 * validated {@link ResolvedCluster} that the renderers and constructs consume.
 */
import type { PgpoolVersion, PostgresMajorVersion } from './versions';

/** Kubernetes image pull policy. */
export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** CPU and memory for one container, as Kubernetes quantities (e.g. `'500m'`, `'1Gi'`). */
export interface ContainerResources {
  /**
   * Requested CPU.
   * @default - depends on the component ('250m' for PostgreSQL, '100m' for Pgpool-II)
   */
  readonly cpuRequest?: string;
  /**
   * CPU limit. Unset means no CPU limit, which avoids CFS throttling of a database.
   * @default - no limit
   */
  readonly cpuLimit?: string;
  /**
   * Requested memory.
   * @default - depends on the component ('512Mi' for PostgreSQL, '128Mi' for Pgpool-II)
   */
  readonly memoryRequest?: string;
  /**
   * Memory limit.
   * @default - depends on the component ('1Gi' for PostgreSQL, '512Mi' for Pgpool-II)
   */
  readonly memoryLimit?: string;
}

/** A PersistentVolumeClaim template for a PostgreSQL StatefulSet. */
export interface StorageOptions {
  /**
   * Requested size of each pod's data volume.
   * @default '10Gi'
   */
  readonly size?: string;
  /**
   * StorageClass of the claims. Unset uses the cluster's default StorageClass.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
}

/** The failover-eligible tier: ordinal 0 starts as primary, the others stream from it. */
export interface MembersOptions {
  /**
   * Number of failover-eligible PostgreSQL pods. At least 3, or 2 with `witness: true`, so an
   * election always has a majority.
   * @default 3
   */
  readonly replicas?: number;
  /**
   * Adds a repmgr witness pod (a small non-replicating PostgreSQL that only votes). Required
   * when `replicas` is 2, refused otherwise.
   * @default false
   */
  readonly witness?: boolean;
  /**
   * repmgr promotion priority per ordinal (index 0 is pod `-0`). 0 means never promote;
   * ordinals beyond the list get 100. When the most advanced standbys tie on received WAL,
   * the higher priority wins.
   * @default - 100 for every member
   */
  readonly priorities?: number[];
  /** @default - 10Gi on the default StorageClass */
  readonly storage?: StorageOptions;
  /** @default - 250m / 512Mi requested, 1Gi memory limit */
  readonly resources?: ContainerResources;
}

/** A cascading standby layer: streams from standbys of another tier and serves reads. */
export interface CascadeLayerOptions {
  /**
   * Short name of the layer, part of its StatefulSet and Service names (`<cluster>-<name>`).
   * Lower-case letters, digits and '-'. Never rename a layer of a live cluster: the name is
   * part of its claims.
   */
  readonly name: string;
  /**
   * Number of pods in the layer.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * Which tier this layer streams from: `'members'` (a first-layer standby, never the primary)
   * or the `name` of another cascading layer declared before this one.
   * @default 'members'
   */
  readonly upstream?: string;
  /**
   * Whether repmgr may ever promote a node of this layer. Cascading nodes are not part of the
   * failover election in repmgr (only direct children of the failed primary are), so the
   * default is never.
   * @default false
   */
  readonly promotable?: boolean;
  /**
   * First repmgr node id of the layer (pod ordinal is added). Set it only to keep ids stable
   * when you reorder layers; ids must not collide with another tier's range.
   * @default - 2000 + 1000 * (position of the layer in `cascades`)
   */
  readonly nodeIdBase?: number;
  /** @default - same as the members' storage */
  readonly storage?: StorageOptions;
  /** @default - same as the members' resources */
  readonly resources?: ContainerResources;
}

/** How commits wait for standbys. Part of every node's config, so it survives failover. */
export type ReplicationMode =
  | { readonly mode: 'async' }
  /**
   * Quorum commit: a commit returns once `standbys` of the failover-eligible members
   * have flushed it (`synchronous_standby_names = 'ANY n (...)'`).
   */
  | { readonly mode: 'quorum'; readonly standbys?: number };

/**
 * repmgrd failure detection. Detection time is about
 * `monitorIntervalSeconds + (reconnectAttempts - 1) * reconnectIntervalSeconds` after the
 * primary stops answering (plus up to `reconnectAttempts * connectTimeoutSeconds` when its
 * packets are dropped silently).
 *
 * repmgrd cancels an election when a sibling saw the primary less than
 * `2 * monitorIntervalSeconds` ago (`primary_visibility_consensus`, which keeps a standby that
 * alone lost the primary from promoting). A failure detected faster than that window would
 * cancel elections whenever the standbys' checks are out of phase, so the settings must keep
 * `(reconnectAttempts - 1) * reconnectIntervalSeconds >= 2 * monitorIntervalSeconds`.
 */
export interface FailoverTimingOptions {
  /**
   * Seconds between repmgrd's checks of its upstream.
   * @default 1
   */
  readonly monitorIntervalSeconds?: number;
  /**
   * Reconnection attempts before the upstream is declared failed.
   * @default 3
   */
  readonly reconnectAttempts?: number;
  /**
   * Seconds between reconnection attempts.
   * @default 1
   */
  readonly reconnectIntervalSeconds?: number;
  /**
   * libpq `connect_timeout` for every connection between nodes (a silent partition otherwise
   * hangs for the TCP timeout).
   * @default 2
   */
  readonly connectTimeoutSeconds?: number;
}

/** PostgreSQL server settings. */
export interface PostgresOptions {
  /**
   * PostgreSQL major version the configuration is rendered for. It must match the image.
   * 19 is refused: no repmgr release builds against it.
   * @default 18
   */
  readonly majorVersion?: PostgresMajorVersion;
  /**
   * PostgreSQL + repmgr image.
   * @default - this library's published image for `majorVersion`
   */
  readonly image?: string;
  /**
   * `max_connections` of every node; the Pgpool-II connection budget must fit under it.
   * @default 250
   */
  readonly maxConnections?: number;
  /**
   * Extra server parameters (`postgresql.conf`). Parameters the cluster manages itself
   * (replication, listening, archiving, TLS, ...) are refused with an error that names them.
   * @default - none
   */
  readonly parameters?: Record<string, string | number | boolean>;
  /**
   * Address ranges (CIDR) from which clients and peers may connect with a password. Narrow it
   * to your pod network.
   * @default ['0.0.0.0/0', '::/0']
   */
  readonly allowedCidrs?: string[];
}

/** Pgpool-II settings. */
export interface PgpoolOptions {
  /**
   * Pgpool-II version (MAJOR.MINOR) the configuration is rendered for. It must match the image.
   * @default '4.7' (the series the default image carries)
   */
  readonly version?: PgpoolVersion;
  /** @default - this library's published Pgpool-II image */
  readonly image?: string;
  /**
   * Pgpool-II pods behind the client Service. At least 2 so it is no single point of failure;
   * 1 needs `allowSinglePgpool`.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * Accept a single Pgpool-II replica (development only).
   * @default false
   */
  readonly allowSinglePgpool?: boolean;
  /**
   * Pgpool-II child processes per pod: the number of concurrent client sessions one pod serves.
   * @default 32
   */
  readonly numInitChildren?: number;
  /**
   * Cached backend connections per child (one per distinct user/database pair).
   * @default 2
   */
  readonly maxPool?: number;
  /**
   * Send read-only queries to standbys.
   * @default true
   */
  readonly loadBalancing?: boolean;
  /**
   * Balance each statement instead of each session. Spreads reads more evenly with few
   * sessions, at some cost per statement.
   * @default false
   */
  readonly statementLevelLoadBalancing?: boolean;
  /**
   * Standbys further behind the primary than this many bytes of WAL get no reads.
   * @default 10485760 (10 MiB)
   */
  readonly maxReplicationDelayBytes?: number;
  /**
   * Seconds a stopping Pgpool-II pod (a rollout, a drain, a scale-down) gives its open client
   * sessions to end by themselves, after it has left the Service, before it closes the rest
   * (fast shutdown). Sessions that end within it see no error.
   * @default 10
   */
  readonly drainSeconds?: number;
  /**
   * Seconds Kubernetes gives a stopping Pgpool-II pod before SIGKILL. It must hold up to 5 s
   * for the entrypoint to act on SIGTERM, the time the pod keeps serving while the Service
   * drops it (3 s), `drainSeconds`, and 5 s for the fast shutdown.
   * @default 30
   */
  readonly terminationGracePeriodSeconds?: number;
  /** @default - 100m / 128Mi requested, 512Mi memory limit */
  readonly resources?: ContainerResources;
}

/** Where the cluster's passwords come from. Nothing of it is ever written into dist/. */
export interface CredentialsOptions {
  /**
   * Name of an existing Secret in the cluster's namespace with the keys `superuser-password`,
   * `replication-password`, `app-password`, `monitor-password` and `pgpool-key`. Create it
   * out of band (kubectl, External Secrets, SealedSecrets): the library never emits it.
   * @default '<cluster name>-credentials'
   */
  readonly secretName?: string;
  /**
   * Have the External Secrets Operator write the credentials Secret from your secret store: the
   * library emits an `ExternalSecret` (external-secrets.io/v1) named `secretName` that writes
   * the Secret `secretName` with the five keys, each read from the property of the same name
   * of one remote secret. Install the operator and a SecretStore or ClusterSecretStore first.
   * @default - no ExternalSecret: you create the Secret (kubectl, a SealedSecret, ...)
   */
  readonly externalSecret?: ExternalSecretOptions;
}

/** The `ExternalSecret` that writes the credentials Secret (External Secrets Operator). */
export interface ExternalSecretOptions {
  /** Name of the SecretStore (in the cluster's namespace) or ClusterSecretStore to read from. */
  readonly storeName: string;
  /**
   * Kind of the store `storeName` names.
   * @default 'SecretStore'
   */
  readonly storeKind?: 'SecretStore' | 'ClusterSecretStore';
  /**
   * The remote secret's key (its path or name in the store). It must hold the properties
   * `superuser-password`, `replication-password`, `app-password`, `monitor-password` and
   * `pgpool-key`.
   */
  readonly remoteKey: string;
  /**
   * How often the operator reads the store again, as a Go duration ('1h', '15m'). A changed
   * value reaches the Secret at the next read; '0' reads once.
   * @default '1h'
   */
  readonly refreshInterval?: string;
}

/** The database users and database the cluster creates at bootstrap. */
export interface UsersOptions {
  /**
   * The application role, reachable through Pgpool-II. Not a superuser, cannot replicate or
   * create roles.
   * @default 'app'
   */
  readonly appUser?: string;
  /**
   * The application database, owned by `appUser`.
   * @default - same as `appUser`
   */
  readonly appDatabase?: string;
  /**
   * The role Pgpool-II health-checks and detects the primary with (granted `pg_monitor`).
   * @default 'pgpool_monitor'
   */
  readonly monitorUser?: string;
}

/** How the pods spread over the Kubernetes nodes. */
export interface SchedulingOptions {
  /**
   * What to do when pods of one tier cannot be spread across hosts
   * (`kubernetes.io/hostname`): `'required'` refuses to schedule, `'preferred'` schedules anyway.
   * `'preferred'` keeps a cluster schedulable on fewer nodes than pods (a small or shrinking
   * node pool) at the risk of two members on one host; choose `'required'` when the node pool
   * always has a host per pod of the largest tier, so one host's loss never takes two members.
   * @default 'preferred'
   */
  readonly spreadAcrossHosts?: 'required' | 'preferred' | 'off';
  /**
   * Same, across zones (`topology.kubernetes.io/zone`).
   * @default 'preferred'
   */
  readonly spreadAcrossZones?: 'required' | 'preferred' | 'off';
  /** @default - none */
  readonly tolerations?: Toleration[];
  /** @default - none */
  readonly nodeSelector?: Record<string, string>;
  /**
   * Node affinity of every pod: nodes a pod must run on (`required`, any term may match, every
   * expression of a term must) and nodes it prefers (`preferred`, by weight).
   * @default - none
   */
  readonly nodeAffinity?: NodeAffinityOptions;
  /**
   * PriorityClass of every pod (it must exist in the cluster): lets a platform keep the
   * database from being preempted by, or starved by, less important workloads.
   * @default - none (the cluster's default priority)
   */
  readonly priorityClassName?: string;
}

/** A node label requirement, as in a Kubernetes node selector term. */
export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  /** @default - none (required for In, NotIn, Gt and Lt; refused for Exists and DoesNotExist) */
  readonly values?: string[];
}

/** Node affinity of the cluster's pods. */
export interface NodeAffinityOptions {
  /**
   * Terms of which a node must match at least one (each term: all its requirements).
   * @default - none
   */
  readonly required?: NodeSelectorRequirement[][];
  /**
   * Weighted terms a node should match.
   * @default - none
   */
  readonly preferred?: { readonly weight: number; readonly requirements: NodeSelectorRequirement[] }[];
}

/** A Kubernetes toleration. */
export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  readonly tolerationSeconds?: number;
}

/**
 * Who may connect to what. The library emits NetworkPolicies that deny every connection into the
 * cluster's pods except these: PostgreSQL (5432) from the cluster's PostgreSQL and Pgpool-II pods;
 * the members' status endpoint (8008) from the cluster's PostgreSQL pods; Pgpool-II (5432) from
 * `pgpoolClients`. The kubelet's probes come from the node, which the common CNIs always let in.
 * Policies only add to each other: a metrics scraper, for instance, is let in by a policy of
 * your own that selects the same pods.
 */
export interface NetworkOptions {
  /**
   * Emit the NetworkPolicies. Turn off only where another layer (a service mesh, your own
   * policies) guards the pods: the pg_hba/pool_hba address ranges alone let every pod of the
   * allowed ranges try passwords.
   * @default true
   */
  readonly policies?: boolean;
  /**
   * Who may connect to Pgpool-II, the cluster's front door. Each entry is one peer: pods with
   * all of `podLabels` (in the cluster's namespace, or in `namespaces` when given), every pod of
   * `namespaces`, or the addresses of `cidr` (alone: Kubernetes does not combine an address
   * range with selectors).
   * @default [{ podLabels: {} }] - every pod of the cluster's namespace
   */
  readonly pgpoolClients?: NetworkPeer[];
}

/**
 * TLS on every network hop: clients to Pgpool-II, Pgpool-II to PostgreSQL (its health checks
 * too), and replication and repmgr between members and cascading layers. On by default: the
 * servers accept no plaintext connection over the network, and the members verify each other's
 * host names (`sslmode=verify-full`).
 *
 * The certificates come from one Secret in the layout cert-manager writes: `tls.crt` (the
 * server certificate, chain included), `tls.key` and `ca.crt`. One certificate serves every pod:
 * it names every Service and, by wildcard, every pod of each StatefulSet (the list is in the
 * synthesized Certificate, and in the README).
 */
export interface TlsOptions {
  /**
   * Turn TLS off, saying why in a sentence, e.g. 'the Istio mesh encrypts all pod traffic'.
   * Plaintext is then accepted, and the reason is written into the rendered configuration.
   * @default - TLS required
   */
  readonly plaintextReason?: string;
  /**
   * The Secret with `tls.crt`, `tls.key` and `ca.crt`. Made by `npm run credentials` (from a CA it
   * creates), by cert-manager when `certManagerIssuer` is set, or by you.
   * @default '<cluster name>-tls'
   */
  readonly secretName?: string;
  /**
   * A cert-manager issuer: the library emits a `Certificate` that writes `secretName`, naming
   * every host the pods need. The issuer's CA must be in the Secret's `ca.crt` (a CA issuer
   * writes it).
   * @default - no Certificate is emitted
   */
  readonly certManagerIssuer?: CertManagerIssuerRef;
}

/** A cert-manager `Issuer` (in the cluster's namespace) or `ClusterIssuer`. */
export interface CertManagerIssuerRef {
  readonly name: string;
  /** @default 'Issuer' */
  readonly kind?: 'Issuer' | 'ClusterIssuer';
}

/** One source of connections in a NetworkPolicy. */
export interface NetworkPeer {
  /**
   * Namespaces, by name (the `kubernetes.io/metadata.name` label every namespace has).
   * @default - the cluster's namespace
   */
  readonly namespaces?: string[];
  /**
   * Pods that carry all of these labels; `{}` is every pod.
   * @default - every pod of `namespaces`
   */
  readonly podLabels?: Record<string, string>;
  /**
   * An address range (CIDR), e.g. a load balancer's or a VPN's, instead of selectors.
   * @default - none
   */
  readonly cidr?: string;
}

/** Props of {@link PostgresCluster}. */
export interface PostgresClusterProps {
  /**
   * Cluster name: the prefix of every object's name. Changing it on a live cluster orphans
   * its data (claim names derive from it).
   * @default - the construct id
   */
  readonly clusterName?: string;
  /**
   * Kubernetes namespace of every object.
   * @default - the chart's namespace, else 'default'
   */
  readonly namespace?: string;
  /**
   * Cluster DNS domain, used in the host names repmgr and Pgpool-II connect to.
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** @default - see {@link PostgresOptions} */
  readonly postgres?: PostgresOptions;
  /** @default - 3 members */
  readonly members?: MembersOptions;
  /**
   * Cascading standby layers, in the order they start.
   * @default - none
   */
  readonly cascades?: CascadeLayerOptions[];
  /** @default { mode: 'async' } */
  readonly replication?: ReplicationMode;
  /** @default - 1 s interval, 3 attempts 1 s apart, 2 s connect timeout */
  readonly failover?: FailoverTimingOptions;
  /** @default - see {@link PgpoolOptions} */
  readonly pgpool?: PgpoolOptions;
  /** @default - Secret '<cluster name>-credentials' */
  readonly credentials?: CredentialsOptions;
  /** @default - see {@link UsersOptions} */
  readonly users?: UsersOptions;
  /** @default - spread preferred across hosts and zones */
  readonly scheduling?: SchedulingOptions;
  /** @default - NetworkPolicies on; Pgpool-II open to every pod of the cluster's namespace */
  readonly network?: NetworkOptions;
  /** @default - TLS required, certificates from the Secret '<cluster name>-tls' */
  readonly tls?: TlsOptions;
  /**
   * Extra labels on every object and pod (never part of a selector, so they may change).
   * @default - none
   */
  readonly labels?: Record<string, string>;
  /**
   * Extra annotations on every object.
   * @default - none
   */
  readonly annotations?: Record<string, string>;
  /**
   * Annotate objects with Argo CD sync waves so configuration applies first (wave +0), then
   * the members and witness (+1), then Pgpool-II (+2), then cascading layer k (+3+k). The
   * number is added to every wave.
   * @default - waves starting at 0; set `false` to omit them
   */
  readonly argoSyncWaveBase?: number | false;
}
