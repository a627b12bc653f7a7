/**
 * One PostgreSQL StatefulSet (the failover-eligible members, a cascading layer, or the
 * witness) with its headless Service, its rendered config, and its PodDisruptionBudget.
 */
import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { tierConfigMapName, NAME_SUFFIX } from '../model/names';
import {
  domainSuffix,
  membersOf,
  podHost,
  type ResolvedCluster,
  type ResolvedTier,
} from '../model/resolved';
import { renderPgHbaConf } from '../render/pg-hba-conf';
import { NODE_PATHS, SECRET_KEYS } from '../render/paths';
import { renderPostgresqlConf } from '../render/postgresql-conf';
import { renderRepmgrConf } from '../render/repmgr-conf';
import { configChecksum } from './checksum';
import { ANNOTATION, LABEL, metadataFactory, objectLabels, selectorLabels, votingMembersSelector } from './labels';
import type { NodeScripts } from './scripts-config-map';
import {
  containerSecurityContext,
  downwardApiEnv,
  placement,
  podSecurityContext,
  resourceRequirements,
  healthProbe,
  HEALTH_PORT,
  spreading,
  tlsPodParts,
  withTlsNames,
} from './pod-spec';

/** uid/gid of `postgres` in the official PostgreSQL image (and so in ours). */
/**
 * A StatefulSet whose claim templates carry apiVersion and kind, as the API server stores them:
 * without them Argo CD shows the StatefulSet OutOfSync for ever (argo-cd issues 11143, 16707).
 * The generated PersistentVolumeClaim type has no such fields and its serializer drops them
 * (a JSON patch too, since it runs before), so they are added to the serialized object.
 */
class StatefulSetWithTypedClaims extends k8s.KubeStatefulSet {
  public toJson(): any {
    const json = super.toJson();
    const templates: Record<string, unknown>[] | undefined = json.spec?.volumeClaimTemplates;
    if (templates) json.spec.volumeClaimTemplates = templates.map((t) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', ...t }));
    return json;
  }
}

export const POSTGRES_UID = 999;

/** Port of the entrypoint's status endpoint (PGHA_STATUS_PORT in the scripts). */
export const STATUS_PORT = 8008;

/**
 * Seconds a PostgreSQL pod gets between SIGTERM and SIGKILL: a primary's handoff (pause the
 * standbys, checkpoint, fast shutdown, promote one) and a standby's fast shutdown fit well inside.
 */
export const NODE_TERMINATION_GRACE_SECONDS = 60;

/** Seconds a pod may take to start, covering a long clone or rewind before liveness applies. */
export const STARTUP_BUDGET = Duration.hours(2);
const STARTUP_PERIOD_SECONDS = 5;

export interface PostgresTierProps {
  /** The resolved cluster this tier belongs to. */
  readonly cluster: ResolvedCluster;
  /** Which tier of `cluster` to build. */
  readonly tier: ResolvedTier;
  /** The scripts ConfigMap every PostgreSQL pod mounts. */
  readonly scripts: NodeScripts;
  /** ServiceAccount the pods run as (no API token is mounted). */
  readonly serviceAccountName: string;
}

export class PostgresTier extends Construct {
  /** The rendered files of this tier's ConfigMap (file name -> content). */
  public readonly configData: Readonly<Record<string, string>>;
  public readonly statefulSet: k8s.KubeStatefulSet;
  public readonly headlessService: k8s.KubeService;
  /** Cascading layers only: a ClusterIP Service over the layer's Ready pods, for reads. */
  public readonly readService?: k8s.KubeService;

  constructor(scope: Construct, id: string, props: PostgresTierProps) {
    super(scope, id);
    const { cluster, tier } = props;
    const name = tier.statefulSetName;
    const selector = selectorLabels(cluster, 'postgresql', tier.component);
    const labels = { ...objectLabels(cluster, 'postgresql', tier.component), [LABEL.tier]: name };
    const metadata = metadataFactory(cluster, labels);

    this.configData = {
      'postgresql.conf': renderPostgresqlConf(cluster, tier),
      'pg_hba.conf': renderPgHbaConf(cluster),
      'repmgr.conf': renderRepmgrConf(cluster, tier),
    };
    const configMap = new k8s.KubeConfigMap(this, 'Config', {
      metadata: metadata(tierConfigMapName(name), cluster.configSyncWave),
      data: { ...this.configData },
    });

    this.headlessService = new k8s.KubeService(this, 'HeadlessService', {
      metadata: metadata(name, cluster.configSyncWave),
      spec: {
        clusterIp: 'None',
        // Peers must resolve a pod's name before it is Ready: a standby clones from it, and
        // a whole-cluster restart needs every node to find the others.
        publishNotReadyAddresses: true,
        selector,
        ports: [{ name: 'postgresql', port: cluster.postgres.port, targetPort: k8s.IntOrString.fromString('postgresql') }],
      },
    });

    if (tier.kind === 'cascade') {
      this.readService = new k8s.KubeService(this, 'ReadService', {
        metadata: metadata(`${name}${NAME_SUFFIX.readService}`, cluster.configSyncWave),
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [{ name: 'postgresql', port: cluster.postgres.port, targetPort: k8s.IntOrString.fromString('postgresql') }],
        },
      });
    }

    // The members and the witness vote in one election: spread them as one group and cover
    // them with one disruption budget, so a drain never takes two votes at once. (A pod under
    // two PodDisruptionBudgets cannot be evicted at all, so the witness gets none of its own.)
    const voting = tier.kind === 'member' || tier.kind === 'witness';
    const spreadSelector: k8s.LabelSelector = voting ? votingMembersSelector(cluster) : { matchLabels: selector };

    const members = membersOf(cluster);
    const secretKeys =
      tier.kind === 'witness'
        ? [SECRET_KEYS.superuserPassword, SECRET_KEYS.replicationPassword]
        : [SECRET_KEYS.superuserPassword, SECRET_KEYS.replicationPassword, SECRET_KEYS.appPassword, SECRET_KEYS.monitorPassword];

    const env: k8s.EnvVar[] = [
      ...downwardApiEnv(cluster.namespace),
      { name: 'PGDATA', value: NODE_PATHS.pgdata },
      // The entrypoint writes the passfile; every process in the container, including an
      // operator's `kubectl exec ... repmgr cluster show`, finds the passwords through it.
      { name: 'PGPASSFILE', value: NODE_PATHS.passfile },
      { name: 'PGHA_CLUSTER', value: cluster.name },
      { name: 'PGHA_ROLE_TIER', value: tier.kind },
      // The Secret keys mounted below: the entrypoint refuses to start when one is missing or empty.
      { name: 'PGHA_MOUNTED_CREDENTIALS', value: secretKeys.join(' ') },
      { name: 'PGHA_SERVICE', value: name },
      { name: 'PGHA_DOMAIN_SUFFIX', value: domainSuffix(cluster) },
      { name: 'PGHA_NODE_ID_BASE', value: String(tier.nodeIdBase) },
      { name: 'PGHA_PRIORITIES', value: tier.priorities.join(' ') },
      { name: 'PGHA_DEFAULT_PRIORITY', value: String(tier.defaultPriority) },
      {
        name: 'PGHA_MEMBER_HOSTS',
        value: Array.from({ length: members.replicas }, (_, i) => podHost(cluster, members, i)).join(' '),
      },
    ];
    if (tier.upstreamStatefulSetName !== undefined) {
      const upstream = cluster.tiers.find((t) => t.statefulSetName === tier.upstreamStatefulSetName)!;
      env.push({
        name: 'PGHA_UPSTREAM_HOSTS',
        value: Array.from({ length: upstream.replicas }, (_, i) => podHost(cluster, upstream, i)).join(' '),
      });
    }
    env.push(
      { name: 'PGHA_SUPERUSER', value: cluster.users.superuser },
      { name: 'PGHA_REPMGR_USER', value: cluster.users.repmgrUser },
      { name: 'PGHA_REPMGR_DATABASE', value: cluster.users.repmgrDatabase },
      { name: 'PGHA_APP_USER', value: cluster.users.appUser },
      { name: 'PGHA_APP_DATABASE', value: cluster.users.appDatabase },
      { name: 'PGHA_MONITOR_USER', value: cluster.users.monitorUser },
      { name: 'PGHA_PORT', value: String(cluster.postgres.port) },
      { name: 'PGHA_STATUS_PORT', value: String(STATUS_PORT) },
      { name: 'PGHA_HEALTH_PORT', value: String(HEALTH_PORT) },
      { name: 'PGHA_CONNECT_TIMEOUT', value: String(cluster.timing.connectTimeoutSeconds) },
      // Derived once, here: the entrypoint never reads a rendered config back for a number.
      { name: 'PGHA_FAILOVER_WAIT', value: String(cluster.timing.failoverWaitSeconds) },
      // A former primary waits this long after it stopped before serving as a standby.
      { name: 'PGHA_PGPOOL_DETECTION_SECONDS', value: String(cluster.timing.pgpoolDetectionSeconds) },
    );
    const tls = tlsPodParts(cluster, NODE_PATHS.tls);
    env.push(...tls.env);

    const container: k8s.Container = {
      name: 'postgres',
      image: cluster.postgres.image,
      imagePullPolicy: cluster.imagePullPolicy,
      command: ['/bin/bash', `${NODE_PATHS.scripts}/node-entrypoint.sh`],
      env,
      ports: [
        { name: 'postgresql', containerPort: cluster.postgres.port, protocol: 'TCP' },
        // One status line (role, system id, timeline, LSN) that peers read to elect a primary
        // when none is running, even while this node's PostgreSQL is down (lib/scripts/README.md).
        { name: 'status', containerPort: STATUS_PORT, protocol: 'TCP' },
        // The kubelet's probes (lib/scripts/status-server.pl).
        { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
      ],
      resources: resourceRequirements(tier.resources),
      securityContext: containerSecurityContext(POSTGRES_UID),
      startupProbe: healthProbe('startup', {
        periodSeconds: STARTUP_PERIOD_SECONDS,
        failureThreshold: STARTUP_BUDGET.toSeconds() / STARTUP_PERIOD_SECONDS,
      }),
      // The verdicts follow the status line the supervisor refreshes every 5 s: ready within a
      // period or two of a change; live fails after the line was stale for PGHA_LIVE_MAX_AGE
      // (60 s) outside a long operation, then 3 periods more.
      readinessProbe: healthProbe('ready', { periodSeconds: 3, failureThreshold: 2 }),
      livenessProbe: healthProbe('live', { periodSeconds: 10, failureThreshold: 3 }),
      volumeMounts: [
        { name: 'data', mountPath: NODE_PATHS.dataMount },
        { name: 'config', mountPath: NODE_PATHS.config, readOnly: true },
        { name: 'scripts', mountPath: NODE_PATHS.scripts, readOnly: true },
        { name: 'credentials', mountPath: NODE_PATHS.secrets, readOnly: true },
        { name: 'sockets', mountPath: NODE_PATHS.sockets },
        { name: 'runtime', mountPath: NODE_PATHS.runtime },
        { name: 'tmp', mountPath: NODE_PATHS.tmp },
        { name: 'shm', mountPath: NODE_PATHS.shm },
        ...tls.volumeMounts,
      ],
    };

    this.statefulSet = new StatefulSetWithTypedClaims(this, 'StatefulSet', {
      metadata: withTlsNames(cluster, metadata(name, tier.syncWave)),
      spec: {
        serviceName: name,
        replicas: tier.replicas,
        // The entrypoint coordinates start-up from live state; OrderedReady would deadlock a
        // restart of every pod (pod 0 waits for peers that wait for pod 0 to be Ready).
        podManagementPolicy: 'Parallel',
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
        // No persistentVolumeClaimRetentionPolicy: its default (Retain when deleted and when
        // scaled down) already keeps the data, and a cluster without the StatefulSetAutoDeletePVC
        // gate (before 1.27) drops the field, which Argo CD and Flux then show as drift.
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels,
            annotations: {
              [ANNOTATION.configChecksum]: configChecksum(this.configData, props.scripts.data),
            },
          },
          spec: {
            serviceAccountName: props.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurityContext(POSTGRES_UID),
            terminationGracePeriodSeconds: NODE_TERMINATION_GRACE_SECONDS,
            ...spreading(cluster, spreadSelector),
            ...placement(cluster),
            containers: [container],
            volumes: [
              { name: 'config', configMap: { name: configMap.name, defaultMode: 0o444 } },
              { name: 'scripts', configMap: { name: props.scripts.configMapName, defaultMode: 0o555 } },
              {
                name: 'credentials',
                secret: {
                  secretName: cluster.credentialsSecretName,
                  defaultMode: 0o440,
                  items: secretKeys.map((key) => ({ key, path: key })),
                },
              },
              { name: 'sockets', emptyDir: {} },
              { name: 'runtime', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
              {
                name: 'shm',
                emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString(tier.resources.limits.memory) },
              },
              ...tls.volumes,
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data', labels: selector },
            spec: {
              accessModes: ['ReadWriteOnce'],
              ...(tier.storage.storageClassName ? { storageClassName: tier.storage.storageClassName } : {}),
              resources: { requests: { storage: k8s.Quantity.fromString(tier.storage.size) } },
            },
          },
        ],
      },
    });

    if (tier.kind !== 'witness') {
      new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: metadata(name, tier.syncWave),
        spec: {
          // One PostgreSQL pod of a tier at a time: a drain never takes a majority away.
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: spreadSelector,
        },
      });
    }
  }
}
