/**
 * The Kubernetes objects as the runtime reads them: only the fields it touches are typed (the
 * full list of accepted fields is IMPLEMENTED in fields.ts). Applied manifests are not
 * validated against these types beyond that list, so every object keeps an open index
 * signature for the fields the runtime reports but does not read.
 */

export type IntOrString = number | string;
export type Labels = Record<string, string>;

export interface ObjectMeta {
  name: string;
  /** set by apply: the object's namespace ('default' when absent), undefined for a Namespace */
  namespace?: string;
  labels?: Labels;
  annotations?: Labels;
  /** set by apply: bumped when the spec changes */
  generation?: number;
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** A namespaced object once stored: apply has set its namespace. */
export interface StoredMeta extends ObjectMeta { namespace: string }

// ---------------------------------------------------------------- pods and containers
export interface ExecAction { command: string[] }

export interface Probe {
  exec?: ExecAction;
  tcpSocket?: { port: IntOrString; host?: string };
  httpGet?: { path?: string; port: IntOrString; host?: string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
}

export interface KeyRef { name: string; key: string; optional?: boolean }

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: KeyRef;
    secretKeyRef?: KeyRef;
    fieldRef?: { fieldPath: string; apiVersion?: string };
    [field: string]: unknown;
  };
}

export interface EnvFromSource {
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
  prefix?: string;
}

export interface ContainerPort { name?: string; containerPort: number; protocol?: string }

export interface VolumeMount { name: string; mountPath: string; subPath?: string; readOnly?: boolean }

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  [field: string]: unknown;
}

export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  fsGroupChangePolicy?: string;
  supplementalGroups?: number[];
  [field: string]: unknown;
}

export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  ports?: ContainerPort[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  lifecycle?: { postStart?: { exec?: ExecAction }; preStop?: { exec?: ExecAction } };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  [field: string]: unknown;
}

export interface KeyToPath { key: string; path: string; mode?: number }

/** The part a configMap and a secret volume have in common. */
export interface ConfigVolumeSource { items?: KeyToPath[]; defaultMode?: number; optional?: boolean }

export interface Volume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string | number };
  configMap?: ConfigVolumeSource & { name: string };
  secret?: ConfigVolumeSource & { secretName: string };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  [field: string]: unknown;
}

export interface PodSpec {
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  volumes?: Volume[];
  hostname?: string;
  subdomain?: string;
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds?: number;
  securityContext?: PodSecurityContext;
  enableServiceLinks?: boolean;
  serviceAccountName?: string;
  [field: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Labels; annotations?: Labels; [field: string]: unknown };
  spec: PodSpec;
}

export interface PodObject extends KubeObject { kind: 'Pod'; metadata: StoredMeta; spec: PodSpec }

// ---------------------------------------------------------------- controllers
export interface LabelSelector { matchLabels?: Labels; [field: string]: unknown }

export interface StatefulSet extends KubeObject {
  kind: 'StatefulSet';
  metadata: StoredMeta;
  spec: {
    replicas?: number;
    selector?: LabelSelector;
    serviceName?: string;
    podManagementPolicy?: 'OrderedReady' | 'Parallel';
    template: PodTemplate;
    volumeClaimTemplates?: { metadata: { name: string; labels?: Labels }; [field: string]: unknown }[];
    updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: { partition?: number } };
    persistentVolumeClaimRetentionPolicy?: { whenDeleted?: 'Retain' | 'Delete'; whenScaled?: 'Retain' | 'Delete' };
    [field: string]: unknown;
  };
}

export interface Deployment extends KubeObject {
  kind: 'Deployment';
  metadata: StoredMeta;
  spec: {
    replicas?: number;
    selector?: LabelSelector;
    template: PodTemplate;
    strategy?: { type?: 'RollingUpdate' | 'Recreate'; rollingUpdate?: { maxSurge?: IntOrString; maxUnavailable?: IntOrString } };
    [field: string]: unknown;
  };
}

export interface PodDisruptionBudget extends KubeObject {
  kind: 'PodDisruptionBudget';
  metadata: StoredMeta;
  spec: { selector?: LabelSelector; minAvailable?: IntOrString; maxUnavailable?: IntOrString; [field: string]: unknown };
}

// ---------------------------------------------------------------- services and configuration
export interface ServicePort { name?: string; port: number; targetPort?: IntOrString; protocol?: string; [field: string]: unknown }

export interface Service extends KubeObject {
  kind: 'Service';
  metadata: StoredMeta;
  spec: { selector?: Labels; clusterIP?: string; publishNotReadyAddresses?: boolean; ports?: ServicePort[]; [field: string]: unknown };
}

export interface ConfigMap extends KubeObject {
  kind: 'ConfigMap';
  metadata: StoredMeta;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** Stored with stringData folded into data: every value base64. */
export interface Secret extends KubeObject {
  kind: 'Secret';
  metadata: StoredMeta;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface PersistentVolumeClaim extends KubeObject { kind: 'PersistentVolumeClaim'; metadata: StoredMeta }

/** The kinds the runtime reads, by kind name. */
export interface KindMap {
  Namespace: KubeObject;
  ServiceAccount: KubeObject & { metadata: StoredMeta };
  ConfigMap: ConfigMap;
  Secret: Secret;
  PersistentVolumeClaim: PersistentVolumeClaim;
  Service: Service;
  PodDisruptionBudget: PodDisruptionBudget;
  Pod: PodObject;
  StatefulSet: StatefulSet;
  Deployment: Deployment;
}

/** Label selector semantics of the runtime: every key must match, an empty selector matches nothing. */
export function matches(selector: Labels | undefined, labels: Labels): boolean {
  if (!selector) return false;
  const keys = Object.keys(selector);
  if (!keys.length) return false;
  return keys.every((k) => labels[k] === selector[k]);
}

/** An IntOrString count or percentage of `total` (maxSurge, maxUnavailable, minAvailable). */
export function intOrPercent(v: IntOrString | undefined | null, total: number, roundUp: boolean, dflt: string): number {
  const x = v === undefined || v === null ? dflt : v;
  if (typeof x === 'number') return x;
  const m = /^(\d+)%$/.exec(String(x));
  if (m) { const f = (Number(m[1]) * total) / 100; return roundUp ? Math.ceil(f) : Math.floor(f); }
  return Number(x);
}
