/**
 * The resolved model: every default applied, every rule checked, every derived number
 * (node ids, backend indices, budgets) computed once. Renderers and constructs read only this,
 * so a rule lives in exactly one place (resolve-cluster.ts).
 */
import type { ImagePullPolicy, NodeAffinityOptions, Toleration } from './props';
import type { PgpoolVersion, PostgresMajorVersion } from './versions';

export interface ResolvedResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu?: string; readonly memory: string };
}

export type TierKind = 'member' | 'cascade' | 'witness';

/** One PostgreSQL StatefulSet: the members, a cascading layer, or the witness. */
export interface ResolvedTier {
  readonly kind: TierKind;
  /** StatefulSet name = headless Service name (`<cluster>-node`, `<cluster>-<layer>`). */
  readonly statefulSetName: string;
  /** Value of `app.kubernetes.io/component` (part of the selector). */
  readonly component: string;
  readonly replicas: number;
  /** repmgr node_id of ordinal 0; ordinal i has `nodeIdBase + i`. */
  readonly nodeIdBase: number;
  /** repmgr priority per ordinal (0 = never promoted). */
  readonly priorities: readonly number[];
  /** Priority of ordinals beyond `priorities`. */
  readonly defaultPriority: number;
  /** StatefulSet name of the tier this one streams from (cascades only). */
  readonly upstreamStatefulSetName?: string;
  readonly storage: { readonly size: string; readonly storageClassName?: string };
  readonly resources: ResolvedResources;
  /** Argo CD sync wave, or undefined when waves are off. */
  readonly syncWave?: number;
}

/** One Pgpool-II backend: a failover-eligible member pod. */
export interface ResolvedBackend {
  readonly index: number;
  /** The exact host name repmgr uses in `conninfo`. */
  readonly host: string;
  readonly port: number;
  /** repmgr node_name = pod name = application_name of its walreceiver. */
  readonly nodeName: string;
}

export interface ResolvedPgpool {
  readonly version: PgpoolVersion;
  readonly image: string;
  readonly replicas: number;
  /** Extra pods a rolling update may add (the Deployment's maxSurge). */
  readonly maxSurge: number;
  readonly numInitChildren: number;
  readonly maxPool: number;
  readonly loadBalancing: boolean;
  readonly statementLevelLoadBalancing: boolean;
  readonly maxReplicationDelayBytes: number;
  /** Seconds a stopping pod keeps serving, not ready, while the Service drops it. */
  readonly leaveServiceSeconds: number;
  /** Seconds open sessions get to end after that (smart shutdown), before a fast shutdown. */
  readonly drainSeconds: number;
  /**
   * Seconds Pgpool-II's failover command waits, after detaching the primary, for another
   * backend to answer as the primary (lib/scripts/pgpool-failover.sh); new sessions wait.
   */
  readonly primaryWaitSeconds: number;
  readonly terminationGracePeriodSeconds: number;
  /**
   * Pgpool-II's health check of every backend but the primary, applied by the entrypoint as
   * per-node settings once Pgpool-II knows the primary (the global settings, the failover
   * timing, stay the primary's): a silent standby stalls extended-protocol queries until it is
   * detached, so standbys are detached sooner than a primary is failed over.
   */
  readonly standbyHealthCheck: StandbyHealthCheck;
  readonly backends: readonly ResolvedBackend[];
  readonly resources: ResolvedResources;
  readonly port: number;
  readonly pcpPort: number;
  readonly syncWave?: number;
  /** Connections one backend may receive from every Pgpool-II pod at once (see budget). */
  readonly connectionBudget: ConnectionBudget;
}

export interface StandbyHealthCheck {
  readonly timeoutSeconds: number;
  readonly maxRetries: number;
  readonly retryDelaySeconds: number;
  /** The longest it takes to detach a silent standby: one period (1 s), every attempt, every delay. */
  readonly detectionSeconds: number;
}

/** How the Pgpool-II connection budget against `max_connections` was computed. */
export interface ConnectionBudget {
  readonly pgpoolPods: number;
  readonly pooledConnections: number;
  readonly checkConnections: number;
  readonly repmgrConnections: number;
  readonly total: number;
  readonly available: number;
}

export interface ResolvedTiming {
  readonly monitorIntervalSeconds: number;
  readonly reconnectAttempts: number;
  readonly reconnectIntervalSeconds: number;
  readonly connectTimeoutSeconds: number;
  /**
   * The longest repmgrd takes to call a silent primary gone: one monitoring interval, then
   * every reconnection attempt waiting its interval and the connect timeout.
   */
  readonly failureDetectionSeconds: number;
  /**
   * The longest Pgpool-II's health check takes to detach a silent backend (pgpool.conf uses
   * the same numbers): one period (1 s), then every retry waiting its delay and the timeout.
   */
  readonly pgpoolDetectionSeconds: number;
  /**
   * How long the entrypoint leaves a failover to repmgrd before its own election steps in
   * (PGHA_FAILOVER_WAIT): twice the detection time plus 30 s for the promotion itself, so
   * repmgrd always gets the first chance.
   */
  readonly failoverWaitSeconds: number;
}

export interface ResolvedUsers {
  readonly superuser: string;
  readonly repmgrUser: string;
  readonly repmgrDatabase: string;
  readonly appUser: string;
  readonly appDatabase: string;
  readonly monitorUser: string;
}

export interface ResolvedScheduling {
  readonly spreadAcrossHosts: 'required' | 'preferred' | 'off';
  readonly spreadAcrossZones: 'required' | 'preferred' | 'off';
  readonly tolerations: readonly Toleration[];
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly nodeAffinity?: NodeAffinityOptions;
  readonly priorityClassName?: string;
}

export interface ResolvedPostgres {
  readonly majorVersion: PostgresMajorVersion;
  readonly image: string;
  readonly port: number;
  readonly maxConnections: number;
  readonly superuserReservedConnections: number;
  /** User parameters, already checked against the managed list. */
  readonly parameters: Readonly<Record<string, string | number | boolean>>;
  readonly allowedCidrs: readonly string[];
  /** `max_wal_senders` and `max_replication_slots` (same number). */
  readonly maxWalSenders: number;
  /** `wal_keep_size`, MiB: WAL kept for a former primary to rewind onto this node. */
  readonly walKeepSizeMb: number;
  /** `max_slot_wal_keep_size`, MiB: the most WAL a vanished standby's slot may pin. */
  readonly maxSlotWalKeepSizeMb: number;
}

/** One NetworkPolicy peer: selectors (namespaces by name, pod labels) or an address range. */
export type ResolvedNetworkPeer =
  | { readonly namespaces?: readonly string[]; readonly podLabels?: Readonly<Record<string, string>> }
  | { readonly cidr: string };

export interface ResolvedNetwork {
  /** Whether the NetworkPolicies are emitted. */
  readonly policies: boolean;
  /** Who may connect to Pgpool-II (empty when the policies are off). */
  readonly pgpoolClients: readonly ResolvedNetworkPeer[];
}

/** TLS of every network hop, or plaintext with the reason the props gave. */
export type ResolvedTls =
  | {
      readonly mode: 'required';
      /** The Secret with tls.crt, tls.key and ca.crt every PostgreSQL and Pgpool-II pod mounts. */
      readonly secretName: string;
      /** The issuer of the Certificate the library emits, when cert-manager makes the Secret. */
      readonly certManagerIssuer?: { readonly name: string; readonly kind: 'Issuer' | 'ClusterIssuer' };
      /** Every name clients and peers use: the Services, and each StatefulSet's pods by wildcard. */
      readonly dnsNames: readonly string[];
    }
  | { readonly mode: 'off'; readonly plaintextReason: string };

export interface ResolvedCluster {
  readonly name: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly imagePullPolicy: ImagePullPolicy;
  readonly postgres: ResolvedPostgres;
  /** members first, then cascading layers in declaration order, then the witness. */
  readonly tiers: readonly ResolvedTier[];
  /** 0 = asynchronous; n = `ANY n` quorum commit among the members. */
  readonly synchronousQuorum: number;
  readonly timing: ResolvedTiming;
  readonly pgpool: ResolvedPgpool;
  readonly credentialsSecretName: string;
  /** The ExternalSecret that writes the credentials Secret, when asked for. */
  readonly externalSecret?: ResolvedExternalSecret;
  readonly users: ResolvedUsers;
  readonly scheduling: ResolvedScheduling;
  readonly network: ResolvedNetwork;
  readonly tls: ResolvedTls;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Sync wave of ConfigMaps and the ServiceAccount, or undefined when waves are off. */
  readonly configSyncWave?: number;
}

/** The member tier of a resolved cluster (always present). */
export function membersOf(cluster: ResolvedCluster): ResolvedTier {
  return cluster.tiers.find((t) => t.kind === 'member')!;
}

/** `<svc>.<namespace>.svc.<domain>`: the suffix of every pod host name in the cluster. */
export function domainSuffix(cluster: ResolvedCluster): string {
  return `${cluster.namespace}.svc.${cluster.clusterDomain}`;
}

/** DNS name of ordinal `ordinal` of `tier`, exactly as repmgr and Pgpool-II use it. */
export function podHost(cluster: ResolvedCluster, tier: ResolvedTier, ordinal: number): string {
  return `${tier.statefulSetName}-${ordinal}.${tier.statefulSetName}.${domainSuffix(cluster)}`;
}

export interface ResolvedExternalSecret {
  readonly storeName: string;
  readonly storeKind: 'SecretStore' | 'ClusterSecretStore';
  readonly remoteKey: string;
  readonly refreshInterval: string;
}
