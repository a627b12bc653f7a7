/**
 * Pgpool-II: a replicated Deployment behind a ClusterIP Service. Every replica renders the same
 * config and reaches the same view of the primary on its own (no watchdog), so any replica can
 * serve any client and losing one loses only its sessions.
 */
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { NAME_SUFFIX } from '../model/names';
import { domainSuffix, type ResolvedCluster } from '../model/resolved';
import { PGPOOL_PATHS, SECRET_KEYS } from '../render/paths';
import { renderPgpoolConf } from '../render/pgpool-conf';
import { renderPoolHbaConf } from '../render/pool-hba-conf';
import { configChecksum } from './checksum';
import { ANNOTATION, metadataFactory, objectLabels, selectorLabels } from './labels';
import type { PgpoolScripts } from './scripts-config-map';
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

/** uid/gid of `pgpool` in our Pgpool-II image (images/pgpool/Dockerfile). */
export const PGPOOL_UID = 1001;
/** The credentials a Pgpool-II pod mounts: its clients' and checks' passwords, and the key of its pool_passwd. */
const PGPOOL_SECRET_KEYS = [SECRET_KEYS.appPassword, SECRET_KEYS.monitorPassword, SECRET_KEYS.pgpoolKey];

export interface PgpoolDeploymentProps {
  readonly cluster: ResolvedCluster;
  readonly scripts: PgpoolScripts;
  readonly serviceAccountName: string;
}

export class PgpoolDeployment extends Construct {
  /** The rendered files of the Pgpool-II ConfigMap. */
  public readonly configData: Readonly<Record<string, string>>;
  public readonly deployment: k8s.KubeDeployment;
  /** The Service applications connect to. */
  public readonly service: k8s.KubeService;

  constructor(scope: Construct, id: string, props: PgpoolDeploymentProps) {
    super(scope, id);
    const { cluster } = props;
    const pp = cluster.pgpool;
    const name = `${cluster.name}${NAME_SUFFIX.pgpool}`;
    const selector = selectorLabels(cluster, 'pgpool', 'pgpool');
    const labels = objectLabels(cluster, 'pgpool', 'pgpool');
    const metadata = metadataFactory(cluster, labels);

    this.configData = {
      'pgpool.conf': renderPgpoolConf(cluster),
      'pool_hba.conf': renderPoolHbaConf(cluster),
    };
    const configMap = new k8s.KubeConfigMap(this, 'Config', {
      metadata: metadata(`${cluster.name}${NAME_SUFFIX.pgpoolConfig}`, cluster.configSyncWave),
      data: { ...this.configData },
    });

    const tls = tlsPodParts(cluster, PGPOOL_PATHS.tls);
    const container: k8s.Container = {
      name: 'pgpool',
      image: pp.image,
      imagePullPolicy: cluster.imagePullPolicy,
      command: ['/bin/bash', `${PGPOOL_PATHS.scripts}/pgpool-entrypoint.sh`],
      env: [
        ...downwardApiEnv(cluster.namespace),
        { name: 'PGHA_CLUSTER', value: cluster.name },
        { name: 'PGHA_APP_USER', value: cluster.users.appUser },
        { name: 'PGHA_MONITOR_USER', value: cluster.users.monitorUser },
        // The Secret keys mounted below: the entrypoint refuses to start when one is missing or empty.
        { name: 'PGHA_MOUNTED_CREDENTIALS', value: PGPOOL_SECRET_KEYS.join(' ') },
        { name: 'PGHA_PORT', value: String(pp.port) },
        { name: 'PGHA_PCP_PORT', value: String(pp.pcpPort) },
        { name: 'PGHA_CONNECT_TIMEOUT', value: String(cluster.timing.connectTimeoutSeconds) },
        { name: 'PGHA_HEALTH_PORT', value: String(HEALTH_PORT) },
        // On SIGTERM: not ready but serving this long, then a smart shutdown that lets open
        // sessions end for PGHA_DRAIN_SECONDS, then a fast one.
        { name: 'PGHA_LEAVE_SERVICE_SECONDS', value: String(pp.leaveServiceSeconds) },
        { name: 'PGHA_DRAIN_SECONDS', value: String(pp.drainSeconds) },
        // "TIMEOUT MAX_RETRIES RETRY_DELAY" of the standbys' health checks (per-node settings).
        {
          name: 'PGHA_STANDBY_HEALTH_CHECK',
          value: [pp.standbyHealthCheck.timeoutSeconds, pp.standbyHealthCheck.maxRetries, pp.standbyHealthCheck.retryDelaySeconds].join(' '),
        },
        ...tls.env,
        // The name the entrypoint checks the certificate for before it starts (lib-tls.sh).
        ...(cluster.tls.mode === 'required' ? [{ name: 'PGHA_TLS_SERVICE_HOSTS', value: `${name}.${domainSuffix(cluster)}` }] : []),
      ],
      ports: [
        { name: 'postgresql', containerPort: pp.port, protocol: 'TCP' },
        // The kubelet's probes (lib/scripts/status-server.pl).
        { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
      ],
      resources: resourceRequirements(pp.resources),
      securityContext: containerSecurityContext(PGPOOL_UID),
      // The verdicts follow the entrypoint's reconcile loop (every 5 s): started once a client
      // session through Pgpool-II worked; ready while PCP answered within the last 12 s and the
      // pod is not cut off from a primary that the standbys still hear from (then its peers
      // serve; during a real failover no standby hears from a primary and every pod stays in,
      // so clients wait for the new one instead of seeing "no endpoints"); live fails after
      // 60 s without an answer.
      startupProbe: healthProbe('startup', { periodSeconds: 2, failureThreshold: 150 }),
      readinessProbe: healthProbe('ready', { periodSeconds: 3, failureThreshold: 2 }),
      livenessProbe: healthProbe('live', { periodSeconds: 10, failureThreshold: 3 }),
      volumeMounts: [
        { name: 'config', mountPath: PGPOOL_PATHS.config, readOnly: true },
        { name: 'scripts', mountPath: PGPOOL_PATHS.scripts, readOnly: true },
        { name: 'credentials', mountPath: PGPOOL_PATHS.secrets, readOnly: true },
        { name: 'runtime', mountPath: PGPOOL_PATHS.runtime },
        { name: 'tmp', mountPath: PGPOOL_PATHS.tmp },
        ...tls.volumeMounts,
      ],
    };

    this.deployment = new k8s.KubeDeployment(this, 'Deployment', {
      metadata: withTlsNames(cluster, metadata(name, pp.syncWave)),
      spec: {
        replicas: pp.replicas,
        selector: { matchLabels: selector },
        strategy: {
          type: 'RollingUpdate',
          // A surge pod could never be scheduled under a hard one-per-host anti-affinity when
          // every host already runs a Pgpool-II pod: roll by replacing one pod at a time then.
          rollingUpdate:
            cluster.scheduling.spreadAcrossHosts === 'required'
              ? { maxSurge: k8s.IntOrString.fromNumber(0), maxUnavailable: k8s.IntOrString.fromNumber(1) }
              : { maxSurge: k8s.IntOrString.fromNumber(pp.maxSurge), maxUnavailable: k8s.IntOrString.fromNumber(0) },
        },
        template: {
          metadata: {
            labels,
            annotations: { [ANNOTATION.configChecksum]: configChecksum(this.configData, props.scripts.data) },
          },
          spec: {
            serviceAccountName: props.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurityContext(PGPOOL_UID),
            terminationGracePeriodSeconds: pp.terminationGracePeriodSeconds,
            ...spreading(cluster, { matchLabels: selector }),
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
                  items: PGPOOL_SECRET_KEYS.map((key) => ({
                    key,
                    path: key,
                  })),
                },
              },
              { name: 'runtime', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
              ...tls.volumes,
            ],
          },
        },
      },
    });

    this.service = new k8s.KubeService(this, 'Service', {
      metadata: metadata(name, cluster.configSyncWave),
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [{ name: 'postgresql', port: pp.port, targetPort: k8s.IntOrString.fromString('postgresql') }],
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata: metadata(name, pp.syncWave),
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
    });
  }
}
