/**
 * Turns user props into a {@link ResolvedCluster}: applies every default, checks every rule and
 * computes every derived number once. Each rule throws a {@link PostgresClusterConfigError}
 * that names the prop and the fix; this file is the only place rules live.
 */
import { check } from './errors';
import { closestKey, KNOWN_KEYS } from './known-keys';
import { parameterMegabytes, parameterProblem } from './parameter-catalog';
import { managedParameterReason } from './managed-parameters';
import {
  ANNOTATION,
  DNS_1035_LABEL,
  DNS_1123_LABEL,
  LIBRARY_LABEL_KEYS,
  LIBRARY_PREFIX,
  SELECTOR_LABEL_KEYS,
  MAX_LABEL_LENGTH,
  MAX_STATEFULSET_NAME_LENGTH,
  NAME_SUFFIX,
} from './names';
import type {
  CascadeLayerOptions,
  ContainerResources,
  ExternalSecretOptions,
  NetworkOptions,
  NodeSelectorRequirement,
  PostgresClusterProps,
  StorageOptions,
  TlsOptions,
  Toleration,
} from './props';
import {
  isByteQuantity,
  isCidr,
  isDnsSubdomain,
  hasTagOrDigest,
  isImageReference,
  isLabelValue,
  isQualifiedName,
  isQuantity,
  parseQuantity,
} from './quantities';
import type {
  ConnectionBudget,
  ResolvedBackend,
  ResolvedCluster,
  ResolvedExternalSecret,
  ResolvedNetwork,
  ResolvedNetworkPeer,
  ResolvedResources,
  ResolvedTier,
  ResolvedTiming,
  ResolvedTls,
} from './resolved';
import {
  DEFAULT_PGPOOL_VERSION,
  DEFAULT_POSTGRES_MAJOR,
  LIBRARY_VERSION,
  REFUSED_POSTGRES_MAJORS,
  SUPPORTED_PGPOOL_VERSIONS,
  SUPPORTED_POSTGRES_MAJORS,
  type PostgresMajorVersion,
} from './versions';

/** Node id layout (documented in docs/pod-contract.md; never change it for a live cluster). */
export const NODE_ID = {
  membersBase: 1000,
  cascadeBase: 2000,
  cascadeStride: 1000,
  witness: 9000,
  /** No tier may have more pods than this: ids of one tier stay inside its block. */
  maxPodsPerTier: 99,
} as const;

export const POSTGRES_PORT = 5432;
export const PCP_PORT = 9898;
const SUPERUSER_RESERVED_CONNECTIONS = 3;
/** Pgpool-II opens a health-check and an sr_check connection, and our primary checker one. */
const CHECK_CONNECTIONS_PER_PGPOOL_POD = 3;
/** Probes, repmgr command-line calls and an operator's psql session. */
const SPARE_CONNECTIONS = 5;
const PGPOOL_MAX_SURGE = 1;
/**
 * A stopping Pgpool-II pod keeps accepting sessions this long after SIGTERM, with its readiness
 * failing: Kubernetes drops a terminating pod from the Service's endpoints at once, but
 * kube-proxy on every node applies that a moment later, and a client sent there meanwhile must
 * still get a session.
 */
const PGPOOL_LEAVE_SERVICE_SECONDS = 3;
/** A promotion once repmgrd decided: node-promote.sh asks its siblings, pg_promote, the record. */
const PROMOTION_SECONDS = 10;
/**
 * The most Pgpool-II's failover command may hold a failover: Pgpool-II 4.5+ children wait at
 * most 30 s for a failover to end (MAX_FAILOVER_WAIT), then serve without it.
 */
const PGPOOL_PRIMARY_WAIT_MAX_SECONDS = 25;
/**
 * Pgpool-II's health check of the standbys (the primary keeps the failover timing): while a
 * standby is silent, every extended-protocol query through Pgpool-II waits for it at its Sync,
 * writes included, until the health check detaches it. One attempt of 1 s (about 40 logins on
 * the slow 2-core test machine) and no retry, so writes stall at most one 1 s period plus that
 * attempt: a retry would add its full second to every real loss. The price: a single login
 * slower than 1 s detaches a healthy standby, which restarts that Pgpool-II pod's children
 * (their clients reconnect) and the reconcile re-attaches it once it streams again. No write is
 * lost or misrouted by it.
 */
const PGPOOL_STANDBY_HEALTH_CHECK = { timeoutSeconds: 1, maxRetries: 0, retryDelaySeconds: 0 } as const;
/** `wal_keep_size`: the WAL a former primary needs to rewind onto this node without a re-clone. */
const WAL_KEEP_SIZE_MB = 512;
/** `max_slot_wal_keep_size`: the most WAL the slot of a vanished standby may pin. */
const MAX_SLOT_WAL_KEEP_SIZE_MB = 4096;
/** PostgreSQL's default `max_wal_size`: WAL between checkpoints, kept on top of the above. */
const DEFAULT_MAX_WAL_SIZE_MB = 1024;
/** Room for the database itself, temporary files and logs beyond the WAL it keeps. */
const DATA_HEADROOM_MB = 1024;

/**
 * What a PostgreSQL container needs beside shared_buffers: the postmaster, backends, WAL
 * senders, repmgrd and the entrypoint. Measured 36-66 MB (PSS) per pod of the test clusters
 * with shared_buffers mostly untouched; twice that as the floor.
 */
const POSTGRES_MEMORY_OVERHEAD_MB = 128;
/**
 * Pgpool-II's shared memory, allocated and touched whole at start (so charged to the
 * container): measured with 4.7, 128.2 MiB whatever the settings, plus 53 KiB per pooled slot
 * (num_init_children x max_pool).
 */
const PGPOOL_SHARED_MEMORY_BASE_MB = 128.2;
const PGPOOL_SHARED_MEMORY_PER_SLOT_MB = 53 / 1024;
/** Each Pgpool-II child process beside the shared memory (measured 0.4-1.5 MB PSS). */
const PGPOOL_MEMORY_PER_CHILD_MB = 2;
/** The main process, health-check and worker processes, PCP, the entrypoint and probe server. */
const PGPOOL_MEMORY_OVERHEAD_MB = 32;

/** What a fast shutdown of Pgpool-II needs after the drain: children exit at once on SIGINT. */
const PGPOOL_FAST_SHUTDOWN_SECONDS = 5;
/**
 * How long the entrypoint may take to act on SIGTERM: it does between two reconcile passes,
 * and a pass that waits on PCP or a backend takes a few seconds.
 */
const PGPOOL_SIGTERM_REACTION_SECONDS = 5;

/** Layer names that would collide with a name the cluster derives itself. */
const RESERVED_LAYER_NAMES = ['node', 'witness', 'pgpool', 'postgres', 'credentials'];
const RESERVED_LAYER_SUFFIXES = ['-ro', '-config', '-scripts'];
const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** Roles the cluster creates, and words pg_hba.conf / pool_hba.conf read as keywords. */
const RESERVED_ROLES = ['postgres', 'repmgr', 'public', 'none', 'all', 'replication', 'sameuser', 'samerole', 'samegroup'];
const RESERVED_DATABASES = ['postgres', 'repmgr', 'template0', 'template1'];

/** Image the library publishes for a PostgreSQL major (see images/README.md). */
export function defaultPostgresImage(major: number): string {
  return `ghcr.io/cdk8s-pg-ha/postgres-repmgr:${LIBRARY_VERSION}-pg${major}`;
}

/** Image the library publishes for a Pgpool-II series (see images/README.md). */
export function defaultPgpoolImage(version: string): string {
  return `ghcr.io/cdk8s-pg-ha/pgpool:${LIBRARY_VERSION}-pgpool${version}`;
}

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function checkInteger(value: number, prop: string, min: number, max: number, fix = ''): void {
  check(
    isInteger(value, min, max),
    prop,
    `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    fix || `Set ${prop} to a whole number in that range.`,
  );
}

function resolveResources(
  prop: string,
  given: ContainerResources | undefined,
  defaults: { cpu: string; memory: string; memoryLimit: string },
): ResolvedResources {
  const cpu = given?.cpuRequest ?? defaults.cpu;
  const memory = given?.memoryRequest ?? defaults.memory;
  const memoryLimit = given?.memoryLimit ?? defaults.memoryLimit;
  const cpuLimit = given?.cpuLimit;
  for (const [key, value] of [
    ['cpuRequest', cpu],
    ['cpuLimit', cpuLimit],
  ] as const) {
    if (value !== undefined) {
      check(isQuantity(value), `${prop}.${key}`, `"${value}" is not a Kubernetes quantity`, `Use a value like '500m' or '2'.`);
    }
  }
  for (const [key, value] of [
    ['memoryRequest', memory],
    ['memoryLimit', memoryLimit],
  ] as const) {
    check(isByteQuantity(value), `${prop}.${key}`, `"${value}" is not a byte quantity`, `Use a value like '512Mi' or '2Gi'.`);
  }
  for (const [key, value] of [
    ['cpuRequest', cpu],
    ['cpuLimit', cpuLimit],
    ['memoryRequest', memory],
    ['memoryLimit', memoryLimit],
  ] as const) {
    if (value !== undefined) {
      check(parseQuantity(value) > 0, `${prop}.${key}`, `is ${value}: a container needs some ${key.startsWith('cpu') ? 'CPU' : 'memory'} to run`, `Give a positive quantity, or leave ${prop}.${key} out for the default.`);
    }
  }
  // Kubernetes refuses a pod whose request exceeds its limit; say so at synth time.
  check(
    parseQuantity(memory) <= parseQuantity(memoryLimit),
    `${prop}.memoryRequest`,
    `${memory} is above the memory limit ${memoryLimit}`,
    `Raise ${prop}.memoryLimit to at least the request, or lower the request.`,
  );
  if (cpuLimit !== undefined) {
    check(
      parseQuantity(cpu) <= parseQuantity(cpuLimit),
      `${prop}.cpuRequest`,
      `${cpu} is above the CPU limit ${cpuLimit}`,
      `Raise ${prop}.cpuLimit to at least the request, or lower the request.`,
    );
  }
  return {
    requests: { cpu, memory },
    limits: cpuLimit === undefined ? { memory: memoryLimit } : { cpu: cpuLimit, memory: memoryLimit },
  };
}

/** Refuses a PostgreSQL memory limit that cannot hold shared_buffers and the processes. */
function checkPostgresMemory(prop: string, limit: string, major: PostgresMajorVersion, parameters: Readonly<Record<string, string | number | boolean>>): void {
  const sharedBuffers = parameterMegabytes(major, 'shared_buffers', parameters.shared_buffers) ?? 128;
  const needMb = sharedBuffers + POSTGRES_MEMORY_OVERHEAD_MB;
  check(
    parseQuantity(limit) >= needMb * 2 ** 20,
    `${prop}.memoryLimit`,
    `${limit} cannot hold shared_buffers ${sharedBuffers} MiB + ${POSTGRES_MEMORY_OVERHEAD_MB} MiB for the server processes, repmgrd and the entrypoint = ${needMb} MiB: the kernel would kill PostgreSQL under load`,
    `Use at least ${Math.ceil(needMb)}Mi, or lower shared_buffers.`,
  );
}

/**
 * The smallest data volume that holds the WAL a node keeps plus the database: every number
 * named, for the error message.
 */
function walFloor(major: PostgresMajorVersion, parameters: Readonly<Record<string, string | number | boolean>>): { mb: number; arithmetic: string } {
  const maxWalSize = parameterMegabytes(major, 'max_wal_size', parameters.max_wal_size) ?? DEFAULT_MAX_WAL_SIZE_MB;
  const mb = MAX_SLOT_WAL_KEEP_SIZE_MB + WAL_KEEP_SIZE_MB + maxWalSize + DATA_HEADROOM_MB;
  return {
    mb,
    arithmetic:
      `max_slot_wal_keep_size ${MAX_SLOT_WAL_KEEP_SIZE_MB} MiB + wal_keep_size ${WAL_KEEP_SIZE_MB} MiB + max_wal_size ${maxWalSize} MiB ` +
      `+ ${DATA_HEADROOM_MB} MiB headroom for the data = ${mb} MiB`,
  };
}

function resolveStorage(prop: string, given: StorageOptions | undefined, fallback: StorageOptions | undefined, floor: { mb: number; arithmetic: string }) {
  const size = given?.size ?? fallback?.size ?? '10Gi';
  const storageClassName = given?.storageClassName ?? fallback?.storageClassName;
  check(isByteQuantity(size), `${prop}.size`, `"${size}" is not a byte quantity`, `Use a size like '10Gi'.`);
  check(
    parseQuantity(size) >= floor.mb * 2 ** 20,
    `${prop}.size`,
    `${size} cannot hold the WAL a node keeps for its peers plus the database (${floor.arithmetic})`,
    `Use at least ${Math.ceil(floor.mb / 1024)}Gi.`,
  );
  if (storageClassName !== undefined) {
    check(
      isDnsSubdomain(storageClassName),
      `${prop}.storageClassName`,
      `"${storageClassName}" is not a valid StorageClass name`,
      'Use lower-case letters, digits, - and .',
    );
  }
  return storageClassName === undefined ? { size } : { size, storageClassName };
}

function checkStringMap(prop: string, map: Record<string, string>, values: 'label' | 'any'): void {
  for (const [key, value] of Object.entries(map)) {
    check(isQualifiedName(key), `${prop}["${key}"]`, 'is not a valid key', 'Use [prefix/]name with letters, digits, -, _ and . (name up to 63 characters).');
    if (values === 'label') {
      check(isLabelValue(value), `${prop}["${key}"]`, `value "${value}" is not a valid label value`, 'Use up to 63 letters, digits, -, _ and ., starting and ending alphanumeric.');
    }
  }
}

function checkTolerations(tolerations: readonly Toleration[]): void {
  tolerations.forEach((t, i) => {
    const prop = `scheduling.tolerations[${i}]`;
    check(
      !(t.operator === 'Exists' && t.value !== undefined),
      prop,
      'has a value with operator Exists',
      'Drop the value, or use operator Equal.',
    );
    check(
      t.key !== undefined || t.operator === 'Exists',
      prop,
      'has no key',
      'Give a key, or use operator Exists to tolerate every taint.',
    );
    if (t.tolerationSeconds !== undefined) {
      check(t.effect === 'NoExecute', prop, 'sets tolerationSeconds without effect NoExecute', 'tolerationSeconds only applies to NoExecute.');
    }
  });
}

/** Where each group of KNOWN_KEYS sits in the props, for "it is a prop of ...". */
const PROP_OF_GROUP: Readonly<Record<string, string>> = {
  cascade: 'cascades[]',
  storage: 'members.storage',
  resources: 'members.resources',
  toleration: 'scheduling.tolerations[]',
  nodeAffinity: 'scheduling.nodeAffinity',
  nodeSelectorRequirement: 'scheduling.nodeAffinity requirements',
};

/** A Go duration as the External Secrets Operator parses it ('1h', '15m', '1h30m', '0'). */
const GO_DURATION = /^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/;

/**
 * The TLS settings. Refused: plaintext without a reason, a reason alongside certificate settings
 * (they would do nothing), a Secret name Kubernetes rejects or the credentials Secret's (the two
 * hold different keys and rotate apart), and an issuer that is not a cert-manager kind.
 */
function resolveTls(
  tls: TlsOptions | undefined,
  names: { cluster: string; namespace: string; clusterDomain: string; credentialsSecretName: string; services: readonly string[]; statefulSets: readonly string[] },
): ResolvedTls {
  check(tls !== null && (tls === undefined || typeof tls === 'object'), 'tls', 'is not an object', "Omit it (TLS required, Secret '<cluster>-tls'), or give { secretName } or { plaintextReason }.");
  checkKnownKeys('tls', tls, KNOWN_KEYS.tls);
  if (tls?.plaintextReason !== undefined) {
    const reason = tls.plaintextReason;
    check(
      typeof reason === 'string' && reason.trim().length >= 10 && !/[\r\n]/.test(reason),
      'tls.plaintextReason',
      `${JSON.stringify(reason)} does not say, in one line, why the cluster may run without TLS`,
      "Write the reason in a sentence, e.g. 'the Istio mesh encrypts all pod traffic', or drop it to keep TLS on.",
    );
    check(
      tls.secretName === undefined && tls.certManagerIssuer === undefined,
      'tls.plaintextReason',
      'is set together with certificate settings (secretName, certManagerIssuer), which plaintext would ignore',
      'Drop plaintextReason to use the certificates, or drop the certificate settings.',
    );
    return { mode: 'off', plaintextReason: reason.trim() };
  }
  const secretName = tls?.secretName ?? `${names.cluster}-tls`;
  check(typeof secretName === 'string' && isDnsSubdomain(secretName), 'tls.secretName', `${JSON.stringify(secretName)} is not a valid Secret name`, 'Use lower-case letters, digits, - and . (at most 253).');
  check(
    secretName !== names.credentialsSecretName,
    'tls.secretName',
    `is the credentials Secret "${secretName}"`,
    `Use a Secret of its own, e.g. '${names.cluster}-tls': it holds tls.crt, tls.key and ca.crt, and is renewed apart from the passwords.`,
  );
  let certManagerIssuer: { name: string; kind: 'Issuer' | 'ClusterIssuer' } | undefined;
  if (tls?.certManagerIssuer !== undefined) {
    const issuer = tls.certManagerIssuer;
    check(issuer !== null && typeof issuer === 'object', 'tls.certManagerIssuer', 'is not an object', "Give { name: 'my-ca', kind: 'ClusterIssuer' }.");
    checkKnownKeys('tls.certManagerIssuer', issuer, KNOWN_KEYS.certManagerIssuer);
    check(typeof issuer.name === 'string' && isDnsSubdomain(issuer.name), 'tls.certManagerIssuer.name', `${JSON.stringify(issuer.name)} is not a valid issuer name`, 'Use the name of your Issuer or ClusterIssuer.');
    const kind = issuer.kind ?? 'Issuer';
    check(kind === 'Issuer' || kind === 'ClusterIssuer', 'tls.certManagerIssuer.kind', `${JSON.stringify(kind)} is not a cert-manager issuer kind`, "Use 'Issuer' (the default) or 'ClusterIssuer'.");
    certManagerIssuer = { name: issuer.name, kind };
  }
  const suffix = `${names.namespace}.svc.${names.clusterDomain}`;
  const dnsNames = [
    // What applications and tools type: short, namespaced and fully qualified Service names.
    ...names.services.flatMap((s) => [s, `${s}.${names.namespace}`, `${s}.${names.namespace}.svc`, `${s}.${suffix}`]),
    // Each pod as its peers, repmgr and Pgpool-II address it: <pod>.<statefulset>.<suffix>.
    ...names.statefulSets.map((sts) => `*.${sts}.${suffix}`),
  ];
  return { mode: 'required', secretName, ...(certManagerIssuer ? { certManagerIssuer } : {}), dnsNames };
}

/**
 * The NetworkPolicy settings. Refused: a policy that would let no client reach Pgpool-II (no
 * peer, or a peer that matches nothing), peers Kubernetes would reject, and clients named while
 * the policies are off (they would guard nothing).
 */
function resolveNetwork(network: NetworkOptions | undefined): ResolvedNetwork {
  const policies = network?.policies === undefined ? true : network.policies;
  check(typeof policies === 'boolean', 'network.policies', `${JSON.stringify(policies)} is not true or false`, 'Use true (the default) or false.');
  if (!policies) {
    check(
      network?.pgpoolClients === undefined,
      'network.pgpoolClients',
      'is set while network.policies is false: no NetworkPolicy would enforce it',
      'Drop network.pgpoolClients, or turn network.policies on.',
    );
    return { policies, pgpoolClients: [] };
  }
  const clients = network?.pgpoolClients ?? [{ podLabels: {} }];
  check(Array.isArray(clients), 'network.pgpoolClients', 'must be a list of peers', "Give [{ namespaces: ['shop'] }] or [{ podLabels: { app: 'shop' } }].");
  check(
    clients.length > 0,
    'network.pgpoolClients',
    'is empty: the NetworkPolicy would let no client reach Pgpool-II, and the applications could not connect',
    "Name your applications: [{ namespaces: ['shop'] }], [{ podLabels: { app: 'shop' } }], or leave it out for every pod of the cluster's namespace.",
  );
  const pgpoolClients = clients.map((peer, i): ResolvedNetworkPeer => {
    const prop = `network.pgpoolClients[${i}]`;
    checkKnownKeys(prop, peer, KNOWN_KEYS.networkPeer);
    const { namespaces, podLabels, cidr } = peer;
    check(
      namespaces !== undefined || podLabels !== undefined || cidr !== undefined,
      prop,
      'names no namespace, pod label or address range, so it would let no client in',
      "Give namespaces (e.g. ['shop']), podLabels (e.g. { app: 'shop' }, or {} for every pod) or cidr.",
    );
    if (cidr !== undefined) {
      check(namespaces === undefined && podLabels === undefined, prop, 'combines cidr with namespaces or podLabels, which Kubernetes rejects', 'Make the address range a peer of its own.');
      check(typeof cidr === 'string' && isCidr(cidr), `${prop}.cidr`, `${JSON.stringify(cidr)} is not a CIDR`, "Use a range like '10.0.0.0/8'.");
      return { cidr };
    }
    if (namespaces !== undefined) {
      check(Array.isArray(namespaces), `${prop}.namespaces`, `must be a list of namespace names, got ${JSON.stringify(namespaces)}`, "Give a list, e.g. ['shop'].");
      check(namespaces.length > 0, `${prop}.namespaces`, 'is empty: the peer would match no namespace', "Name at least one namespace, e.g. ['shop'], or leave namespaces out for the cluster's own.");
      namespaces.forEach((ns, j) =>
        check(
          typeof ns === 'string' && DNS_1123_LABEL.test(ns) && ns.length <= MAX_LABEL_LENGTH,
          `${prop}.namespaces[${j}]`,
          `${JSON.stringify(ns)} is not a valid namespace name`,
          'Use lower-case letters, digits and -, at most 63 characters.',
        ),
      );
    }
    if (podLabels !== undefined) {
      check(
        typeof podLabels === 'object' && podLabels !== null && !Array.isArray(podLabels),
        `${prop}.podLabels`,
        `must be an object of labels, got ${JSON.stringify(podLabels)}`,
        "Give { app: 'shop' }, or {} for every pod.",
      );
      checkStringMap(`${prop}.podLabels`, podLabels, 'label');
    }
    return { ...(namespaces === undefined ? {} : { namespaces: [...namespaces] }), ...(podLabels === undefined ? {} : { podLabels: { ...podLabels } }) };
  });
  return { policies, pgpoolClients };
}

function resolveExternalSecret(es: ExternalSecretOptions | undefined): ResolvedExternalSecret | undefined {
  if (es === undefined) return undefined;
  const prop = 'credentials.externalSecret';
  checkKnownKeys(prop, es, KNOWN_KEYS.externalSecret);
  check(typeof es.storeName === 'string' && isDnsSubdomain(es.storeName), `${prop}.storeName`, `${JSON.stringify(es.storeName)} is not a valid store name`, 'Name your SecretStore or ClusterSecretStore: lower-case letters, digits, - and .');
  const storeKind = es.storeKind ?? 'SecretStore';
  check(storeKind === 'SecretStore' || storeKind === 'ClusterSecretStore', `${prop}.storeKind`, `${JSON.stringify(storeKind)} is not a store kind`, "Use 'SecretStore' or 'ClusterSecretStore'.");
  check(typeof es.remoteKey === 'string' && es.remoteKey.trim() !== '', `${prop}.remoteKey`, 'is empty', "Give the remote secret's key (its path or name in the store), e.g. 'databases/orders'.");
  const refreshInterval = es.refreshInterval ?? '1h';
  check(GO_DURATION.test(refreshInterval), `${prop}.refreshInterval`, `${JSON.stringify(refreshInterval)} is not a duration`, "Use a Go duration like '1h' or '15m' ('0' reads once).");
  return { storeName: es.storeName, storeKind, remoteKey: es.remoteKey, refreshInterval };
}

/** Refuses anything but a plain object at `prop`, and every key of it not in `known`. */
function checkKnownKeys(prop: string, value: unknown, known: readonly string[]): void {
  if (value === undefined) return;
  check(
    typeof value === 'object' && value !== null && !Array.isArray(value),
    prop,
    `must be an object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
    `Give ${prop} as { ${known.slice(0, 3).join(', ')}, ... }.`,
  );
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = closestKey(key, known);
    // A nested prop given at the top level, like replicas instead of members.replicas.
    const homes = prop === 'props' ? Object.entries(KNOWN_KEYS).filter(([group, keys]) => group !== 'cluster' && keys.includes(key)).map(([group]) => PROP_OF_GROUP[group] ?? group) : [];
    const hint = near ? ` (did you mean ${near}?)` : homes.length > 0 ? ` at the top level (it is a prop of ${homes.join(', ')})` : '';
    check(false, prop === 'props' ? key : `${prop}.${key}`, `is not a known prop${hint}`, `Known props${prop === 'props' ? '' : ` of ${prop}`}: ${known.join(', ')}.`);
  }
}

/** Every props object, key by key, before anything reads them (see known-keys.ts). */
function checkKnownProps(props: PostgresClusterProps): void {
  checkKnownKeys('props', props, KNOWN_KEYS.cluster);
  checkKnownKeys('postgres', props.postgres, KNOWN_KEYS.postgres);
  checkKnownKeys('members', props.members, KNOWN_KEYS.members);
  checkKnownKeys('members.storage', props.members?.storage, KNOWN_KEYS.storage);
  checkKnownKeys('members.resources', props.members?.resources, KNOWN_KEYS.resources);
  check(props.cascades === undefined || Array.isArray(props.cascades), 'cascades', 'must be a list of layers', "Give cascades as [{ name: 'replica' }, ...].");
  (props.cascades ?? []).forEach((layer, i) => {
    checkKnownKeys(`cascades[${i}]`, layer, KNOWN_KEYS.cascade);
    checkKnownKeys(`cascades[${i}].storage`, layer.storage, KNOWN_KEYS.storage);
    checkKnownKeys(`cascades[${i}].resources`, layer.resources, KNOWN_KEYS.resources);
  });
  checkKnownKeys('replication', props.replication, KNOWN_KEYS.replication);
  checkKnownKeys('failover', props.failover, KNOWN_KEYS.failover);
  checkKnownKeys('pgpool', props.pgpool, KNOWN_KEYS.pgpool);
  checkKnownKeys('pgpool.resources', props.pgpool?.resources, KNOWN_KEYS.resources);
  checkKnownKeys('credentials', props.credentials, KNOWN_KEYS.credentials);
  checkKnownKeys('users', props.users, KNOWN_KEYS.users);
  checkKnownKeys('scheduling', props.scheduling, KNOWN_KEYS.scheduling);
  checkKnownKeys('network', props.network, KNOWN_KEYS.network);
  check(
    props.scheduling?.tolerations === undefined || Array.isArray(props.scheduling.tolerations),
    'scheduling.tolerations',
    'must be a list',
    "Give scheduling.tolerations as [{ key: 'dedicated', operator: 'Exists' }, ...].",
  );
  (props.scheduling?.tolerations ?? []).forEach((t, i) => checkKnownKeys(`scheduling.tolerations[${i}]`, t, KNOWN_KEYS.toleration));
  const affinity = props.scheduling?.nodeAffinity;
  checkKnownKeys('scheduling.nodeAffinity', affinity, KNOWN_KEYS.nodeAffinity);
  (affinity?.required ?? []).forEach((term, i) =>
    (Array.isArray(term) ? term : []).forEach((r, j) => checkKnownKeys(`scheduling.nodeAffinity.required[${i}][${j}]`, r, KNOWN_KEYS.nodeSelectorRequirement)),
  );
  (affinity?.preferred ?? []).forEach((p, i) => {
    checkKnownKeys(`scheduling.nodeAffinity.preferred[${i}]`, p, ['weight', 'requirements']);
    (Array.isArray(p?.requirements) ? p.requirements : []).forEach((r, j) =>
      checkKnownKeys(`scheduling.nodeAffinity.preferred[${i}].requirements[${j}]`, r, KNOWN_KEYS.nodeSelectorRequirement),
    );
  });
}

/** One node selector requirement: a label key, an operator, and values as the operator needs. */
function checkNodeRequirement(prop: string, r: NodeSelectorRequirement): void {
  check(typeof r?.key === 'string' && isQualifiedName(r.key), `${prop}.key`, `${JSON.stringify(r?.key)} is not a valid label key`, 'Use [prefix/]name, e.g. topology.kubernetes.io/zone.');
  const ops = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'];
  check(ops.includes(r.operator), `${prop}.operator`, `"${r.operator}" is not a node selector operator`, `Use one of ${ops.join(', ')}.`);
  const values = r.values ?? [];
  if (r.operator === 'Exists' || r.operator === 'DoesNotExist') {
    check(values.length === 0, `${prop}.values`, `must be empty with operator ${r.operator}`, 'Drop values.');
  } else if (r.operator === 'Gt' || r.operator === 'Lt') {
    check(values.length === 1 && /^-?\d+$/.test(values[0]), `${prop}.values`, `must be one integer with operator ${r.operator}`, "Give values: ['4'].");
  } else {
    check(values.length > 0, `${prop}.values`, `must not be empty with operator ${r.operator}`, 'List the label values.');
    values.forEach((v, k) => check(isLabelValue(v), `${prop}.values[${k}]`, `"${v}" is not a valid label value`, 'Use up to 63 letters, digits, -, _ and ..'));
  }
}

function connectionBudget(
  pgpoolPods: number,
  numInitChildren: number,
  maxPool: number,
  repmgrNodes: number,
  maxConnections: number,
): ConnectionBudget {
  const pooledConnections = pgpoolPods * numInitChildren * maxPool;
  const checkConnections = pgpoolPods * CHECK_CONNECTIONS_PER_PGPOOL_POD;
  const repmgrConnections = repmgrNodes + SPARE_CONNECTIONS;
  return {
    pgpoolPods,
    pooledConnections,
    checkConnections,
    repmgrConnections,
    total: pooledConnections + checkConnections + repmgrConnections,
    available: maxConnections - SUPERUSER_RESERVED_CONNECTIONS,
  };
}

/**
 * Validates `props` and returns the fully resolved cluster model.
 * @param defaultName used when `props.clusterName` is unset (the construct id)
 * @param defaultNamespace used when `props.namespace` is unset (the chart's namespace)
 * @throws PostgresClusterConfigError naming the first offending prop
 */
export function resolveCluster(
  props: PostgresClusterProps,
  defaultName: string,
  defaultNamespace?: string,
): ResolvedCluster {
  checkKnownProps(props);

  // ---- Names ---------------------------------------------------------------------------
  const name = props.clusterName ?? defaultName;
  check(
    DNS_1035_LABEL.test(name),
    'clusterName',
    `"${name}" is not a valid name (lower-case letters, digits and '-', starting with a letter)`,
    'Set clusterName to something like "orders".',
  );
  const namespace = props.namespace ?? defaultNamespace ?? 'default';
  check(
    DNS_1123_LABEL.test(namespace) && namespace.length <= MAX_LABEL_LENGTH,
    'namespace',
    `"${namespace}" is not a valid namespace name`,
    'Use up to 63 lower-case letters, digits and -.',
  );
  const clusterDomain = props.clusterDomain ?? 'cluster.local';
  check(isDnsSubdomain(clusterDomain), 'clusterDomain', `"${clusterDomain}" is not a DNS domain`, "Use your cluster's DNS domain, e.g. 'cluster.local'.");

  const imagePullPolicy = props.imagePullPolicy ?? 'IfNotPresent';
  check(
    ['Always', 'IfNotPresent', 'Never'].includes(imagePullPolicy),
    'imagePullPolicy',
    `"${imagePullPolicy}" is not a pull policy`,
    'Use Always, IfNotPresent or Never.',
  );

  // ---- PostgreSQL ------------------------------------------------------------------------
  const pg = props.postgres ?? {};
  const majorVersion = pg.majorVersion ?? DEFAULT_POSTGRES_MAJOR;
  check(
    (SUPPORTED_POSTGRES_MAJORS as readonly number[]).includes(majorVersion),
    'postgres.majorVersion',
    REFUSED_POSTGRES_MAJORS[majorVersion] ? `${majorVersion} is not supported: ${REFUSED_POSTGRES_MAJORS[majorVersion]}` : `${majorVersion} is not supported`,
    `Use one of ${SUPPORTED_POSTGRES_MAJORS.join(', ')}.`,
  );
  const postgresImage = pg.image ?? defaultPostgresImage(majorVersion);
  check(isImageReference(postgresImage), 'postgres.image', `"${postgresImage}" is not an image reference`, "Use 'registry/repository:tag'.");
  check(
    hasTagOrDigest(postgresImage),
    'postgres.image',
    `"${postgresImage}" has no tag or digest, so the runtime would pull ':latest', which can change under a running cluster`,
    `Pin it: '${postgresImage}:<tag>' or '${postgresImage}@sha256:<digest>'.`,
  );
  const maxConnections = pg.maxConnections ?? 250;
  checkInteger(maxConnections, 'postgres.maxConnections', 20, 10000);
  const parameters = pg.parameters ?? {};
  for (const [key, value] of Object.entries(parameters)) {
    const prop = `postgres.parameters.${key}`;
    check(/^[a-z_][a-z0-9_.]*$/i.test(key), prop, 'is not a PostgreSQL parameter name', 'Use the name as in postgresql.conf, e.g. work_mem.');
    const reason = managedParameterReason(key);
    check(reason === undefined, prop, `cannot be set: it is ${reason}`, 'Remove it from postgres.parameters.');
    check(
      ['string', 'number', 'boolean'].includes(typeof value) && !/[\n\r\0]/.test(String(value)),
      prop,
      'must be a single-line string, a number or a boolean',
      'Give the value as postgresql.conf would take it.',
    );
    if (typeof value === 'number') {
      check(Number.isFinite(value), prop, 'must be a finite number', 'Give a finite number.');
    }
    const refused = parameterProblem(majorVersion, key, value);
    check(refused === undefined, prop, refused?.problem ?? '', refused?.fix ?? '');
  }
  const allowedCidrs = pg.allowedCidrs ?? ['0.0.0.0/0', '::/0'];
  check(allowedCidrs.length > 0, 'postgres.allowedCidrs', 'is empty, so no peer could connect', 'List your pod network, e.g. 10.0.0.0/8.');
  allowedCidrs.forEach((cidr, i) =>
    check(isCidr(cidr), `postgres.allowedCidrs[${i}]`, `"${cidr}" is not a CIDR`, "Use a range like '10.244.0.0/16'."),
  );

  // ---- Members ----------------------------------------------------------------------------
  const members = props.members ?? {};
  const memberReplicas = members.replicas ?? 3;
  const witness = members.witness ?? false;
  checkInteger(memberReplicas, 'members.replicas', 2, NODE_ID.maxPodsPerTier);
  check(
    memberReplicas >= 3 || witness,
    'members.replicas',
    'is 2 without a witness: a two-node cluster cannot hold a majority election',
    'Use 3 or more members, or set members.witness to true.',
  );
  check(
    !witness || memberReplicas === 2,
    'members.witness',
    `is only for a two-member tier (members.replicas is ${memberReplicas})`,
    'Remove members.witness, or set members.replicas to 2.',
  );
  const priorities = members.priorities ?? [];
  check(
    priorities.length <= memberReplicas,
    'members.priorities',
    `has ${priorities.length} entries for ${memberReplicas} members`,
    'Give at most one priority per member ordinal.',
  );
  priorities.forEach((p, i) => checkInteger(p, `members.priorities[${i}]`, 0, 1000));
  const memberPriority = (i: number) => priorities[i] ?? 100;
  const promotable = Array.from({ length: memberReplicas }, (_, i) => memberPriority(i)).filter((p) => p > 0).length;
  check(
    promotable >= 2,
    'members.priorities',
    `leaves ${promotable} member(s) that may be primary, so a failover could never happen`,
    'Give at least two members a priority above 0.',
  );
  const storageFloor = walFloor(majorVersion, parameters);
  const memberStorage = resolveStorage('members.storage', members.storage, undefined, storageFloor);
  const pgResourceDefaults = { cpu: '250m', memory: '512Mi', memoryLimit: '1Gi' };
  const memberResources = resolveResources('members.resources', members.resources, pgResourceDefaults);
  checkPostgresMemory('members.resources', memberResources.limits.memory, majorVersion, parameters);

  // ---- Sync waves -------------------------------------------------------------------------
  const waveBase = props.argoSyncWaveBase ?? 0;
  if (waveBase !== false) {
    checkInteger(waveBase, 'argoSyncWaveBase', -1000, 1000, 'Set a whole number, or false to omit sync waves.');
  }
  const wave = (offset: number) => (waveBase === false ? undefined : waveBase + offset);

  const memberTier: ResolvedTier = {
    kind: 'member',
    statefulSetName: `${name}${NAME_SUFFIX.members}`,
    component: 'member',
    replicas: memberReplicas,
    nodeIdBase: NODE_ID.membersBase,
    priorities: Array.from({ length: memberReplicas }, (_, i) => memberPriority(i)),
    defaultPriority: 100,
    storage: memberStorage,
    resources: memberResources,
    syncWave: wave(1),
  };

  // ---- Cascading layers -------------------------------------------------------------------
  const cascades: readonly CascadeLayerOptions[] = props.cascades ?? [];
  const cascadeTiers: ResolvedTier[] = [];
  const idRanges: Array<{ base: number; prop: string }> = [{ base: NODE_ID.membersBase, prop: 'members' }];
  cascades.forEach((layer, k) => {
    const prop = `cascades[${k}]`;
    check(
      typeof layer.name === 'string' && DNS_1123_LABEL.test(layer.name),
      `${prop}.name`,
      `"${layer.name}" is not a valid layer name`,
      "Use lower-case letters, digits and '-', e.g. 'replica'.",
    );
    check(
      !RESERVED_LAYER_NAMES.includes(layer.name) && !RESERVED_LAYER_SUFFIXES.some((s) => layer.name.endsWith(s)),
      `${prop}.name`,
      `"${layer.name}" collides with a name the cluster derives itself`,
      `Avoid ${RESERVED_LAYER_NAMES.join(', ')} and names ending in ${RESERVED_LAYER_SUFFIXES.join(', ')}.`,
    );
    check(
      cascades.findIndex((other) => other.name === layer.name) === k,
      `${prop}.name`,
      `"${layer.name}" is used by two layers`,
      'Give every cascading layer its own name.',
    );
    const replicas = layer.replicas ?? 2;
    checkInteger(replicas, `${prop}.replicas`, 1, NODE_ID.maxPodsPerTier);
    const upstream = layer.upstream ?? 'members';
    let upstreamStatefulSetName: string;
    if (upstream === 'members') {
      upstreamStatefulSetName = memberTier.statefulSetName;
    } else {
      const upstreamIndex = cascades.findIndex((other) => other.name === upstream);
      check(
        upstreamIndex >= 0 && upstreamIndex < k,
        `${prop}.upstream`,
        `"${upstream}" is neither 'members' nor a layer declared before this one`,
        "Use 'members' or the name of an earlier cascading layer.",
      );
      upstreamStatefulSetName = cascadeTiers[upstreamIndex].statefulSetName;
    }
    const nodeIdBase = layer.nodeIdBase ?? NODE_ID.cascadeBase + NODE_ID.cascadeStride * k;
    checkInteger(nodeIdBase, `${prop}.nodeIdBase`, NODE_ID.cascadeBase, NODE_ID.witness - NODE_ID.maxPodsPerTier - 1);
    const clash = idRanges.find((r) => Math.abs(r.base - nodeIdBase) <= NODE_ID.maxPodsPerTier);
    check(
      clash === undefined,
      `${prop}.nodeIdBase`,
      `${nodeIdBase} overlaps the node ids of ${clash?.prop}`,
      `Keep every tier's base at least ${NODE_ID.maxPodsPerTier + 1} apart.`,
    );
    idRanges.push({ base: nodeIdBase, prop });
    const canPromote = layer.promotable ?? false;
    const layerResources = resolveResources(`${prop}.resources`, layer.resources, {
      cpu: memberResources.requests.cpu,
      memory: memberResources.requests.memory,
      memoryLimit: memberResources.limits.memory,
    });
    checkPostgresMemory(`${prop}.resources`, layerResources.limits.memory, majorVersion, parameters);
    cascadeTiers.push({
      kind: 'cascade',
      statefulSetName: `${name}-${layer.name}`,
      component: `cascade-${layer.name}`,
      replicas,
      nodeIdBase,
      priorities: [],
      defaultPriority: canPromote ? 50 : 0,
      upstreamStatefulSetName,
      storage: resolveStorage(`${prop}.storage`, layer.storage, memberStorage, storageFloor),
      resources: layerResources,
      syncWave: wave(3 + k),
    });
  });

  const witnessTier: ResolvedTier[] = witness
    ? [
        {
          kind: 'witness',
          statefulSetName: `${name}${NAME_SUFFIX.witness}`,
          component: 'witness',
          replicas: 1,
          nodeIdBase: NODE_ID.witness,
          priorities: [0],
          defaultPriority: 0,
          storage: { size: '1Gi', ...(memberStorage.storageClassName ? { storageClassName: memberStorage.storageClassName } : {}) },
          resources: resolveResources('members.resources', undefined, { cpu: '50m', memory: '128Mi', memoryLimit: '256Mi' }),
          syncWave: wave(1),
        },
      ]
    : [];
  const tiers = [memberTier, ...cascadeTiers, ...witnessTier];

  // Every derived name must fit the limit of the object kind it names. The StatefulSet bound
  // (52) is the tightest: it also keeps every other derived name (`-ro` Services, `-config`
  // and `-scripts` ConfigMaps, pod host names) within 63 characters.
  for (const tier of tiers) {
    check(
      tier.statefulSetName.length <= MAX_STATEFULSET_NAME_LENGTH,
      tier.kind === 'cascade' ? 'cascades[].name' : 'clusterName',
      `makes the StatefulSet name "${tier.statefulSetName}" ${tier.statefulSetName.length} characters long, over the ${MAX_STATEFULSET_NAME_LENGTH} that its pods' controller-revision-hash label allows`,
      'Shorten the cluster name or the layer name.',
    );
  }

  // ---- Replication ------------------------------------------------------------------------
  const replication = props.replication ?? { mode: 'async' as const };
  check(
    replication.mode === 'async' || replication.mode === 'quorum',
    'replication.mode',
    `"${(replication as { mode: string }).mode}" is not a replication mode`,
    "Use { mode: 'async' } or { mode: 'quorum', standbys: 1 }.",
  );
  check(
    replication.mode === 'quorum' || (replication as { standbys?: number }).standbys === undefined,
    'replication.standbys',
    "is set with mode 'async', where no commit waits for a standby",
    "Use { mode: 'quorum', standbys: n } for commits that wait, or drop standbys.",
  );
  let synchronousQuorum = 0;
  if (replication.mode === 'quorum') {
    synchronousQuorum = replication.standbys ?? 1;
    // ANY n counts standbys only. With n = every standby, one standby down blocks every
    // commit, so one standby must always be spare: n <= members - 2.
    check(
      memberReplicas >= 3,
      'replication.mode',
      `is 'quorum' with ${memberReplicas} members: with one standby, every commit would stop while it is down`,
      "Use 3 or more members for quorum commit, or { mode: 'async' }.",
    );
    checkInteger(
      synchronousQuorum,
      'replication.standbys',
      1,
      memberReplicas - 2,
      `Use at most members.replicas - 2 (${memberReplicas - 2}) so a commit can still succeed while a standby is down.`,
    );
  }

  // ---- Failover timing --------------------------------------------------------------------
  const failover = props.failover ?? {};
  const timingProps = {
    monitorIntervalSeconds: failover.monitorIntervalSeconds ?? 1,
    reconnectAttempts: failover.reconnectAttempts ?? 3,
    reconnectIntervalSeconds: failover.reconnectIntervalSeconds ?? 1,
    connectTimeoutSeconds: failover.connectTimeoutSeconds ?? 2,
  };
  const failureDetectionSeconds =
    timingProps.monitorIntervalSeconds + timingProps.reconnectAttempts * (timingProps.reconnectIntervalSeconds + timingProps.connectTimeoutSeconds);
  // pgpool.conf: health_check_period 1, max_retries, retry_delay and timeout from these.
  const pgpoolDetectionSeconds = 1 + timingProps.reconnectAttempts * (timingProps.reconnectIntervalSeconds + timingProps.connectTimeoutSeconds);
  const timing: ResolvedTiming = { ...timingProps, failureDetectionSeconds, pgpoolDetectionSeconds, failoverWaitSeconds: 2 * failureDetectionSeconds + 30 };
  checkInteger(timing.monitorIntervalSeconds, 'failover.monitorIntervalSeconds', 1, 60);
  checkInteger(timing.reconnectAttempts, 'failover.reconnectAttempts', 1, 60);
  checkInteger(timing.reconnectIntervalSeconds, 'failover.reconnectIntervalSeconds', 1, 60);
  checkInteger(
    timing.connectTimeoutSeconds,
    'failover.connectTimeoutSeconds',
    2,
    60,
    'libpq treats a connect_timeout below 2 as 2: use 2 or more.',
  );
  // repmgrd counts a sibling that saw the primary less than 2 x monitor_interval_secs ago as
  // "primary still visible" and cancels the election for good (it never retries). Measured
  // with 2 attempts of 1 s: about one kill in three ended in a cancelled election.
  const detectionSeconds = (timing.reconnectAttempts - 1) * timing.reconnectIntervalSeconds;
  const visibilityWindow = 2 * timing.monitorIntervalSeconds;
  check(
    detectionSeconds >= visibilityWindow,
    'failover.reconnectAttempts',
    `gives ${detectionSeconds}s of reconnection ((reconnectAttempts - 1) x reconnectIntervalSeconds), shorter than repmgrd's ${visibilityWindow}s primary-visibility window (2 x monitorIntervalSeconds): standbys that notice the failure a moment apart would cancel the election and leave the cluster without a primary`,
    `Use reconnectAttempts of at least ${Math.ceil(visibilityWindow / timing.reconnectIntervalSeconds) + 1} or a longer reconnectIntervalSeconds.`,
  );

  // ---- Users and credentials -----------------------------------------------------------------
  const usersProps = props.users ?? {};
  const appUser = usersProps.appUser ?? 'app';
  const appDatabase = usersProps.appDatabase ?? appUser;
  const monitorUser = usersProps.monitorUser ?? 'pgpool_monitor';
  for (const [prop, value] of [
    ['users.appUser', appUser],
    ['users.monitorUser', monitorUser],
  ] as const) {
    check(SQL_IDENTIFIER.test(value), prop, `"${value}" is not a plain SQL identifier`, 'Use lower-case letters, digits and _ (up to 63), starting with a letter or _.');
    check(!RESERVED_ROLES.includes(value) && !value.startsWith('pg_'), prop, `"${value}" is a role the cluster reserves`, 'Pick another name.');
  }
  check(appUser !== monitorUser, 'users.monitorUser', 'is the same role as users.appUser', 'Use a separate role for monitoring.');
  check(SQL_IDENTIFIER.test(appDatabase), 'users.appDatabase', `"${appDatabase}" is not a plain SQL identifier`, 'Use lower-case letters, digits and _.');
  check(!RESERVED_DATABASES.includes(appDatabase), 'users.appDatabase', `"${appDatabase}" is a database the cluster reserves`, 'Pick another name.');

  const credentialsSecretName = props.credentials?.secretName ?? `${name}${NAME_SUFFIX.credentials}`;
  check(
    isDnsSubdomain(credentialsSecretName),
    'credentials.secretName',
    `"${credentialsSecretName}" is not a valid Secret name`,
    'Use lower-case letters, digits, - and .',
  );
  const externalSecret = resolveExternalSecret(props.credentials?.externalSecret);

  // ---- Pgpool-II ------------------------------------------------------------------------
  const pp = props.pgpool ?? {};
  const pgpoolVersion = pp.version ?? DEFAULT_PGPOOL_VERSION;
  check(
    (SUPPORTED_PGPOOL_VERSIONS as readonly string[]).includes(pgpoolVersion),
    'pgpool.version',
    `"${pgpoolVersion}" is not supported`,
    `Use one of ${SUPPORTED_PGPOOL_VERSIONS.join(', ')} (MAJOR.MINOR).`,
  );
  const pgpoolImage = pp.image ?? defaultPgpoolImage(pgpoolVersion);
  check(isImageReference(pgpoolImage), 'pgpool.image', `"${pgpoolImage}" is not an image reference`, "Use 'registry/repository:tag'.");
  check(
    hasTagOrDigest(pgpoolImage),
    'pgpool.image',
    `"${pgpoolImage}" has no tag or digest, so the runtime would pull ':latest', which can change under a running cluster`,
    `Pin it: '${pgpoolImage}:<tag>' or '${pgpoolImage}@sha256:<digest>'.`,
  );
  const pgpoolReplicas = pp.replicas ?? 2;
  checkInteger(pgpoolReplicas, 'pgpool.replicas', 1, 20);
  check(
    pgpoolReplicas >= 2 || pp.allowSinglePgpool === true,
    'pgpool.replicas',
    'is 1, which makes Pgpool-II a single point of failure',
    'Use 2 or more, or set pgpool.allowSinglePgpool for development.',
  );
  const numInitChildren = pp.numInitChildren ?? 32;
  checkInteger(numInitChildren, 'pgpool.numInitChildren', 1, 2000);
  const maxPool = pp.maxPool ?? 2;
  checkInteger(maxPool, 'pgpool.maxPool', 1, 64);
  const pgpoolResources = resolveResources('pgpool.resources', pp.resources, { cpu: '100m', memory: '128Mi', memoryLimit: '512Mi' });
  const pgpoolSharedMb = PGPOOL_SHARED_MEMORY_BASE_MB + numInitChildren * maxPool * PGPOOL_SHARED_MEMORY_PER_SLOT_MB;
  const pgpoolNeedMb = Math.ceil(pgpoolSharedMb + numInitChildren * PGPOOL_MEMORY_PER_CHILD_MB + PGPOOL_MEMORY_OVERHEAD_MB);
  check(
    parseQuantity(pgpoolResources.limits.memory) >= pgpoolNeedMb * 2 ** 20,
    'pgpool.resources.memoryLimit',
    `${pgpoolResources.limits.memory} cannot hold Pgpool-II: ${pgpoolSharedMb.toFixed(1)} MiB of shared memory (${PGPOOL_SHARED_MEMORY_BASE_MB} MiB + ${numInitChildren} children x ${maxPool} pooled x 53 KiB) ` +
      `+ ${numInitChildren} children x ${PGPOOL_MEMORY_PER_CHILD_MB} MiB + ${PGPOOL_MEMORY_OVERHEAD_MB} MiB for the other processes = ${pgpoolNeedMb} MiB`,
    `Use at least ${pgpoolNeedMb}Mi, or lower pgpool.numInitChildren or pgpool.maxPool.`,
  );
  const maxReplicationDelayBytes = pp.maxReplicationDelayBytes ?? 10 * 1024 * 1024;
  checkInteger(maxReplicationDelayBytes, 'pgpool.maxReplicationDelayBytes', 0, Number.MAX_SAFE_INTEGER);
  const drainSeconds = pp.drainSeconds ?? 10;
  checkInteger(drainSeconds, 'pgpool.drainSeconds', 0, 3600);
  const pgpoolGraceSeconds = pp.terminationGracePeriodSeconds ?? 30;
  checkInteger(pgpoolGraceSeconds, 'pgpool.terminationGracePeriodSeconds', 1, 86400);
  const stopOverhead = PGPOOL_SIGTERM_REACTION_SECONDS + PGPOOL_LEAVE_SERVICE_SECONDS + PGPOOL_FAST_SHUTDOWN_SECONDS;
  const stopSeconds = stopOverhead + drainSeconds;
  check(
    stopSeconds <= pgpoolGraceSeconds,
    'pgpool.drainSeconds',
    `a stopping Pgpool-II pod needs up to ${PGPOOL_SIGTERM_REACTION_SECONDS} s to act on SIGTERM + ${PGPOOL_LEAVE_SERVICE_SECONDS} s to leave the Service + ` +
      `${drainSeconds} s of drain + ${PGPOOL_FAST_SHUTDOWN_SECONDS} s for the fast shutdown = ${stopSeconds} s, ` +
      `more than pgpool.terminationGracePeriodSeconds (${pgpoolGraceSeconds} s): Kubernetes would SIGKILL it in the middle of the drain`,
    `Lower pgpool.drainSeconds to ${Math.max(0, pgpoolGraceSeconds - stopOverhead)} or less, or raise pgpool.terminationGracePeriodSeconds to ${stopSeconds} or more.`,
  );

  const repmgrNodes = tiers.reduce((sum, t) => sum + t.replicas, 0);
  const budget = connectionBudget(pgpoolReplicas + PGPOOL_MAX_SURGE, numInitChildren, maxPool, repmgrNodes, maxConnections);
  check(
    budget.total <= budget.available,
    'pgpool',
    `needs up to ${budget.total} connections per PostgreSQL node ` +
      `(${budget.pgpoolPods} Pgpool-II pods incl. rollout surge x ${numInitChildren} children x ${maxPool} pooled = ${budget.pooledConnections}, ` +
      `+ ${budget.checkConnections} health/sr checks + ${budget.repmgrConnections} repmgr and spare), ` +
      `but max_connections ${maxConnections} leaves ${budget.available}`,
    'Lower pgpool.numInitChildren, pgpool.maxPool or pgpool.replicas, or raise postgres.maxConnections.',
  );

  // Pgpool-II backends: every pod that may become primary, so Pgpool-II can always find the
  // primary among its backends. Members first (index = ordinal), then the pods of promotable
  // cascading layers in declaration order. Non-promotable layers serve reads through their own
  // "-ro" Service instead: Pgpool-II's primary and false-primary detection do not understand
  // cascaded standbys.
  const backendTiers = [memberTier, ...cascadeTiers.filter((t) => t.defaultPriority > 0)];
  const backends: ResolvedBackend[] = backendTiers.flatMap((tier) =>
    Array.from({ length: tier.replicas }, (_, i) => ({
      host: `${tier.statefulSetName}-${i}.${tier.statefulSetName}.${namespace}.svc.${clusterDomain}`,
      port: POSTGRES_PORT,
      nodeName: `${tier.statefulSetName}-${i}`,
    })),
  ).map((backend, index) => ({ index, ...backend }));

  // ---- Scheduling, labels, annotations -------------------------------------------------------
  const sched = props.scheduling ?? {};
  const spreadAcrossHosts = sched.spreadAcrossHosts ?? 'preferred';
  const spreadAcrossZones = sched.spreadAcrossZones ?? 'preferred';
  for (const [prop, value] of [
    ['scheduling.spreadAcrossHosts', spreadAcrossHosts],
    ['scheduling.spreadAcrossZones', spreadAcrossZones],
  ] as const) {
    check(['required', 'preferred', 'off'].includes(value), prop, `"${value}" is not a spread mode`, "Use 'required', 'preferred' or 'off'.");
  }
  const tolerations = sched.tolerations ?? [];
  checkTolerations(tolerations);
  const nodeSelector = sched.nodeSelector ?? {};
  checkStringMap('scheduling.nodeSelector', nodeSelector, 'label');
  const nodeAffinity = sched.nodeAffinity;
  if (nodeAffinity !== undefined) {
    (nodeAffinity.required ?? []).forEach((term, i) => {
      const prop = `scheduling.nodeAffinity.required[${i}]`;
      check(Array.isArray(term) && term.length > 0, prop, 'is not a non-empty list of requirements (an empty term matches no node)', "Give [{ key: 'disktype', operator: 'In', values: ['ssd'] }].");
      term.forEach((r, j) => checkNodeRequirement(`${prop}[${j}]`, r));
    });
    (nodeAffinity.preferred ?? []).forEach((p, i) => {
      const prop = `scheduling.nodeAffinity.preferred[${i}]`;
      checkInteger(p.weight, `${prop}.weight`, 1, 100);
      check(Array.isArray(p.requirements) && p.requirements.length > 0, `${prop}.requirements`, 'is not a non-empty list of requirements', "Give [{ key: 'disktype', operator: 'In', values: ['ssd'] }].");
      p.requirements.forEach((r, j) => checkNodeRequirement(`${prop}.requirements[${j}]`, r));
    });
  }
  const priorityClassName = sched.priorityClassName;
  if (priorityClassName !== undefined) {
    check(isDnsSubdomain(priorityClassName), 'scheduling.priorityClassName', `"${priorityClassName}" is not a valid PriorityClass name`, 'Use lower-case letters, digits, - and .');
  }

  const network = resolveNetwork(props.network);
  const tls = resolveTls(props.tls, {
    cluster: name,
    namespace,
    clusterDomain,
    credentialsSecretName,
    services: [`${name}${NAME_SUFFIX.pgpool}`, ...tiers.filter((t) => t.kind === 'cascade').map((t) => `${t.statefulSetName}${NAME_SUFFIX.readService}`)],
    statefulSets: tiers.map((t) => t.statefulSetName),
  });

  const labels = props.labels ?? {};
  checkStringMap('labels', labels, 'label');
  for (const key of Object.keys(labels)) {
    check(
      !SELECTOR_LABEL_KEYS.includes(key),
      `labels["${key}"]`,
      'is a label the library selects on: another value would leave the workloads without their pods, and selectors cannot change under a live cluster',
      `Use another key; the library sets ${SELECTOR_LABEL_KEYS.join(', ')} itself.`,
    );
    check(
      !LIBRARY_LABEL_KEYS.includes(key),
      `labels["${key}"]`,
      'is set by the library on every object (part-of postgresql-ha, managed-by cdk8s-pg-ha)',
      'Drop it, or use a key of your own (app.kubernetes.io/version, for example, is yours).',
    );
    check(!key.startsWith(LIBRARY_PREFIX), `labels["${key}"]`, `uses the library's own prefix ${LIBRARY_PREFIX}`, 'Use a key with a prefix of your own.');
  }
  const annotations = props.annotations ?? {};
  checkStringMap('annotations', annotations, 'any');
  check(
    waveBase === false || annotations[ANNOTATION.argoSyncWave] === undefined,
    `annotations["${ANNOTATION.argoSyncWave}"]`,
    'would be replaced on every object by the sync wave the library sets (config, then members, then Pgpool-II, then each cascading layer)',
    `Shift the waves with argoSyncWaveBase (now ${waveBase}), or set argoSyncWaveBase: false to put your own wave on every object.`,
  );
  for (const key of Object.keys(annotations)) {
    check(!key.startsWith(LIBRARY_PREFIX), `annotations["${key}"]`, `uses the library's own prefix ${LIBRARY_PREFIX}`, 'Use a key with a prefix of your own.');
  }

  // Every standby streams over one WAL sender; a clone takes two more, a rewind one.
  const standbys = tiers.filter((t) => t.kind !== 'witness').reduce((sum, t) => sum + t.replicas, 0);
  const maxWalSenders = Math.max(10, standbys + 4);

  return {
    name,
    namespace,
    clusterDomain,
    imagePullPolicy,
    postgres: {
      majorVersion,
      image: postgresImage,
      port: POSTGRES_PORT,
      maxConnections,
      superuserReservedConnections: SUPERUSER_RESERVED_CONNECTIONS,
      parameters,
      allowedCidrs,
      maxWalSenders,
      walKeepSizeMb: WAL_KEEP_SIZE_MB,
      maxSlotWalKeepSizeMb: MAX_SLOT_WAL_KEEP_SIZE_MB,
    },
    tiers,
    synchronousQuorum,
    timing,
    pgpool: {
      version: pgpoolVersion,
      image: pgpoolImage,
      replicas: pgpoolReplicas,
      maxSurge: PGPOOL_MAX_SURGE,
      numInitChildren,
      maxPool,
      loadBalancing: pp.loadBalancing ?? true,
      statementLevelLoadBalancing: pp.statementLevelLoadBalancing ?? false,
      maxReplicationDelayBytes,
      leaveServiceSeconds: PGPOOL_LEAVE_SERVICE_SECONDS,
      drainSeconds,
      // repmgrd promotes at most its failure detection after Pgpool-II detached the primary
      // (both watch the same death), plus the promotion itself.
      primaryWaitSeconds: Math.min(timing.failureDetectionSeconds + PROMOTION_SECONDS, PGPOOL_PRIMARY_WAIT_MAX_SECONDS),
      terminationGracePeriodSeconds: pgpoolGraceSeconds,
      standbyHealthCheck: {
        ...PGPOOL_STANDBY_HEALTH_CHECK,
        // One period, then the first check and every retry with its delay and timeout.
        detectionSeconds:
          1 +
          (PGPOOL_STANDBY_HEALTH_CHECK.maxRetries + 1) * PGPOOL_STANDBY_HEALTH_CHECK.timeoutSeconds +
          PGPOOL_STANDBY_HEALTH_CHECK.maxRetries * PGPOOL_STANDBY_HEALTH_CHECK.retryDelaySeconds,
      },
      backends,
      resources: pgpoolResources,
      port: POSTGRES_PORT,
      pcpPort: PCP_PORT,
      syncWave: wave(2),
      connectionBudget: budget,
    },
    credentialsSecretName,
    externalSecret,
    network,
    tls,
    users: {
      superuser: 'postgres',
      repmgrUser: 'repmgr',
      repmgrDatabase: 'repmgr',
      appUser,
      appDatabase,
      monitorUser,
    },
    scheduling: {
      spreadAcrossHosts,
      spreadAcrossZones,
      tolerations,
      nodeSelector,
      ...(nodeAffinity ? { nodeAffinity } : {}),
      ...(priorityClassName ? { priorityClassName } : {}),
    },
    labels,
    annotations,
    configSyncWave: wave(0),
  };
}
