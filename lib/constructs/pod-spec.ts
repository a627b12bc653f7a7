/**
 * Pod-level building blocks shared by the PostgreSQL and Pgpool-II workloads: the "restricted"
 * Pod Security Standard, spreading, and the downward-API environment.
 */
import { k8s } from 'cdk8s-plus-27';
import type { ResolvedCluster, ResolvedResources } from '../model/resolved';
import { ANNOTATION } from '../model/names';
import { TLS_FILES } from '../render/paths';

/** Pod security context meeting the "restricted" standard with a fixed numeric uid. */
export function podSecurityContext(uid: number): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    // Re-chown a big data volume only when its root has the wrong owner.
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container security context: no privileges, no capabilities, read-only root filesystem. */
export function containerSecurityContext(uid: number): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function resourceRequirements(resources: ResolvedResources): k8s.ResourceRequirements {
  const q = (value: string) => k8s.Quantity.fromString(value);
  const limits: Record<string, k8s.Quantity> = { memory: q(resources.limits.memory) };
  if (resources.limits.cpu !== undefined) {
    limits.cpu = q(resources.limits.cpu);
  }
  return {
    requests: { cpu: q(resources.requests.cpu), memory: q(resources.requests.memory) },
    limits,
  };
}

/**
 * Spreads the pods matched by `selector` across hosts and zones, as configured, and adds the
 * node affinity of the props. 'required' across hosts is a hard pod anti-affinity (never two on
 * one host), because a topology spread with maxSkew 1 still allows e.g. 2 + 1 pods on two hosts.
 */
export function spreading(
  cluster: ResolvedCluster,
  selector: k8s.LabelSelector,
): Pick<k8s.PodSpec, 'topologySpreadConstraints' | 'affinity'> {
  const constraints: k8s.TopologySpreadConstraint[] = [];
  const spread = (mode: 'required' | 'preferred', topologyKey: string) =>
    constraints.push({
      maxSkew: 1,
      topologyKey,
      whenUnsatisfiable: mode === 'required' ? 'DoNotSchedule' : 'ScheduleAnyway',
      labelSelector: selector,
    });
  const hosts = cluster.scheduling.spreadAcrossHosts;
  const zones = cluster.scheduling.spreadAcrossZones;
  if (hosts === 'preferred') {
    spread('preferred', HOSTNAME_KEY);
  }
  if (zones !== 'off') {
    spread(zones, ZONE_KEY);
  }
  const result: { topologySpreadConstraints?: k8s.TopologySpreadConstraint[]; affinity?: k8s.Affinity } = {};
  if (constraints.length > 0) {
    result.topologySpreadConstraints = constraints;
  }
  const nodeAffinity = cluster.scheduling.nodeAffinity;
  const term = (requirements: readonly { key: string; operator: string; values?: readonly string[] }[]): k8s.NodeSelectorTerm => ({
    matchExpressions: requirements.map((r) => ({ key: r.key, operator: r.operator, ...(r.values?.length ? { values: [...r.values] } : {}) })),
  });
  if (hosts === 'required' || nodeAffinity) {
    result.affinity = {
      ...(hosts === 'required'
        ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: HOSTNAME_KEY, labelSelector: selector }] } }
        : {}),
      ...(nodeAffinity
        ? {
            nodeAffinity: {
              ...(nodeAffinity.required?.length ? { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: nodeAffinity.required.map(term) } } : {}),
              ...(nodeAffinity.preferred?.length
                ? { preferredDuringSchedulingIgnoredDuringExecution: nodeAffinity.preferred.map((p) => ({ weight: p.weight, preference: term(p.requirements) })) }
                : {}),
            },
          }
        : {}),
    };
  }
  return result;
}

const HOSTNAME_KEY = 'kubernetes.io/hostname';
const ZONE_KEY = 'topology.kubernetes.io/zone';

/** Tolerations, node selector and priority class, omitted when unset so the YAML stays small. */
export function placement(cluster: ResolvedCluster): Pick<k8s.PodSpec, 'tolerations' | 'nodeSelector' | 'priorityClassName'> {
  const result: Pick<k8s.PodSpec, 'tolerations' | 'nodeSelector' | 'priorityClassName'> = {};
  if (cluster.scheduling.priorityClassName) {
    (result as { priorityClassName: string }).priorityClassName = cluster.scheduling.priorityClassName;
  }
  if (cluster.scheduling.tolerations.length > 0) {
    (result as { tolerations: k8s.Toleration[] }).tolerations = cluster.scheduling.tolerations.map((t) => ({ ...t }));
  }
  if (Object.keys(cluster.scheduling.nodeSelector).length > 0) {
    (result as { nodeSelector: Record<string, string> }).nodeSelector = { ...cluster.scheduling.nodeSelector };
  }
  return result;
}

/**
 * POD_NAME, POD_NAMESPACE and POD_IP from the downward API, and PGHA_NAMESPACE, the namespace
 * the output was synthesized for: a pod whose two namespaces differ was moved to another
 * namespace after synthesis and refuses to start (lib-base.sh check_namespace).
 */
export function downwardApiEnv(namespace: string): k8s.EnvVar[] {
  return [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'PGHA_NAMESPACE', value: namespace },
  ];
}

/** Port of the probe endpoint every pod serves (status-server.pl; PGHA_HEALTH_PORT in the scripts). */
export const HEALTH_PORT = 8009;

/**
 * An httpGet probe of the pod's probe endpoint (lib/scripts/status-server.pl), which answers
 * from the status line its entrypoint refreshes. An exec probe would fork the kubelet's exec,
 * bash and psql, and open a PostgreSQL backend, every period of every pod: on a small node
 * that alone kept a core busy.
 */
export function healthProbe(
  mode: 'startup' | 'ready' | 'live',
  timing: { periodSeconds: number; failureThreshold: number; initialDelaySeconds?: number },
): k8s.Probe {
  return {
    httpGet: { path: `/${mode}`, port: k8s.IntOrString.fromString('health'), scheme: 'HTTP' },
    // The endpoint reads a file and answers at once.
    timeoutSeconds: 2,
    ...timing,
  };
}

/**
 * What a PostgreSQL or Pgpool-II container needs for TLS, or nothing when it is off: the TLS
 * Secret mounted at `mountPath`, and libpq told to verify every server it connects to over the
 * network against the cluster's CA, host name included (PGSSLMODE; a Unix socket ignores it).
 * The environment reaches every libpq client in the container: the scripts' psql, repmgr,
 * pg_basebackup and the WAL receiver of the server they start. PGHA_TLS_DIR tells the
 * entrypoint to check the files before it starts anything (lib-base.sh check_tls_files).
 */
export function tlsPodParts(
  cluster: ResolvedCluster,
  mountPath: string,
): { env: k8s.EnvVar[]; volumeMounts: k8s.VolumeMount[]; volumes: k8s.Volume[] } {
  if (cluster.tls.mode === 'off') return { env: [], volumeMounts: [], volumes: [] };
  return {
    env: [
      { name: 'PGHA_TLS_DIR', value: mountPath },
      { name: 'PGSSLMODE', value: 'verify-full' },
      { name: 'PGSSLROOTCERT', value: `${mountPath}/${TLS_FILES.ca}` },
    ],
    volumeMounts: [{ name: 'tls', mountPath, readOnly: true }],
    volumes: [
      {
        name: 'tls',
        secret: {
          secretName: cluster.tls.secretName,
          // Root-owned and group-readable through the pod's fsGroup: PostgreSQL accepts such a key.
          defaultMode: 0o440,
          items: Object.values(TLS_FILES).map((key) => ({ key, path: key })),
        },
      },
    ],
  };
}

/** A workload's metadata with the names its server certificate must carry (ANNOTATION.tlsDnsNames). */
export function withTlsNames<M extends { annotations?: Record<string, string> }>(cluster: ResolvedCluster, metadata: M): M {
  if (cluster.tls.mode === 'off') return metadata;
  return { ...metadata, annotations: { ...metadata.annotations, [ANNOTATION.tlsDnsNames]: cluster.tls.dnsNames.join(',') } };
}
