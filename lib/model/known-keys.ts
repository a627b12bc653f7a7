/**
 * The keys of every props object, for refusing keys the types do not have (plain JavaScript,
 * `any`, a typo in a JSON file): such a key would otherwise be ignored without a word, like
 * `replicas` at the top level instead of under `members`. Each list is checked by the compiler
 * against its interface in both directions, so adding a prop without listing it fails to
 * compile.
 */
import type {
  CascadeLayerOptions,
  ContainerResources,
  CredentialsOptions,
  ExternalSecretOptions,
  FailoverTimingOptions,
  MembersOptions,
  NetworkOptions,
  NetworkPeer,
  TlsOptions,
  CertManagerIssuerRef,
  NodeAffinityOptions,
  NodeSelectorRequirement,
  PgpoolOptions,
  PostgresClusterProps,
  PostgresOptions,
  SchedulingOptions,
  StorageOptions,
  Toleration,
  UsersOptions,
} from './props';

/**
 * `keysOf<T>()('a', 'b')`: the keys of T as a list. A key T lacks does not compile; neither
 * does a list that leaves a key of T out (the arguments then have type never).
 */
function keysOf<T>() {
  return <const K extends readonly (keyof T & string)[]>(
    ...keys: K & (Exclude<keyof T, K[number]> extends never ? unknown : never)
  ): readonly string[] => keys;
}

export const KNOWN_KEYS = {
  cluster: keysOf<PostgresClusterProps>()(
    'clusterName',
    'namespace',
    'clusterDomain',
    'imagePullPolicy',
    'postgres',
    'members',
    'cascades',
    'replication',
    'failover',
    'pgpool',
    'credentials',
    'users',
    'scheduling',
    'network',
    'tls',
    'labels',
    'annotations',
    'argoSyncWaveBase',
  ),
  postgres: keysOf<PostgresOptions>()('majorVersion', 'image', 'maxConnections', 'parameters', 'allowedCidrs'),
  members: keysOf<MembersOptions>()('replicas', 'witness', 'priorities', 'storage', 'resources'),
  cascade: keysOf<CascadeLayerOptions>()('name', 'replicas', 'upstream', 'promotable', 'nodeIdBase', 'storage', 'resources'),
  storage: keysOf<StorageOptions>()('size', 'storageClassName'),
  resources: keysOf<ContainerResources>()('cpuRequest', 'cpuLimit', 'memoryRequest', 'memoryLimit'),
  /** Both variants of ReplicationMode. */
  replication: ['mode', 'standbys'] as readonly string[],
  failover: keysOf<FailoverTimingOptions>()('monitorIntervalSeconds', 'reconnectAttempts', 'reconnectIntervalSeconds', 'connectTimeoutSeconds'),
  pgpool: keysOf<PgpoolOptions>()(
    'version',
    'image',
    'replicas',
    'allowSinglePgpool',
    'numInitChildren',
    'maxPool',
    'loadBalancing',
    'statementLevelLoadBalancing',
    'maxReplicationDelayBytes',
    'drainSeconds',
    'terminationGracePeriodSeconds',
    'resources',
  ),
  credentials: keysOf<CredentialsOptions>()('secretName', 'externalSecret'),
  externalSecret: keysOf<ExternalSecretOptions>()('storeName', 'storeKind', 'remoteKey', 'refreshInterval'),
  users: keysOf<UsersOptions>()('appUser', 'appDatabase', 'monitorUser'),
  network: keysOf<NetworkOptions>()('policies', 'pgpoolClients'),
  networkPeer: keysOf<NetworkPeer>()('namespaces', 'podLabels', 'cidr'),
  tls: keysOf<TlsOptions>()('plaintextReason', 'secretName', 'certManagerIssuer'),
  certManagerIssuer: keysOf<CertManagerIssuerRef>()('name', 'kind'),
  scheduling: keysOf<SchedulingOptions>()('spreadAcrossHosts', 'spreadAcrossZones', 'tolerations', 'nodeSelector', 'nodeAffinity', 'priorityClassName'),
  nodeAffinity: keysOf<NodeAffinityOptions>()('required', 'preferred'),
  nodeSelectorRequirement: keysOf<NodeSelectorRequirement>()('key', 'operator', 'values'),
  toleration: keysOf<Toleration>()('key', 'operator', 'value', 'effect', 'tolerationSeconds'),
} as const;

/** Levenshtein distance, for "did you mean" on a mistyped key. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The known key closest to `key`, if it is a plausible typo of it (or a case slip). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : distance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}
