/**
 * THE list of what the local pod runtime implements: kinds and fields. Anything in an applied
 * manifest that is not listed here is reported by name (a warning returned by apply and printed
 * by the CLI); nothing is silently ignored.
 *
 * Path syntax: dot-separated field names, `[]` for "every array element", `*` for "any map key"
 * (labels, data, ...). A listed path covers everything below it.
 */

const META = ['metadata.name', 'metadata.namespace', 'metadata.labels.*', 'metadata.annotations.*'];

const PROBE = (p: string) => [
  `${p}.exec.command`,
  `${p}.tcpSocket.port`,
  `${p}.tcpSocket.host`,
  `${p}.httpGet.path`,
  `${p}.httpGet.port`,
  `${p}.httpGet.host`,
  `${p}.httpGet.scheme`,
  `${p}.httpGet.httpHeaders`,
  `${p}.initialDelaySeconds`,
  `${p}.periodSeconds`,
  `${p}.timeoutSeconds`,
  `${p}.failureThreshold`,
  `${p}.successThreshold`,
];

const CONTAINER = (c: string, init: boolean) => [
  `${c}.name`,
  `${c}.image`,
  `${c}.imagePullPolicy`, // accepted: nothing is pulled; every image is built from its recipe
  `${c}.command`,
  `${c}.args`,
  `${c}.workingDir`,
  `${c}.env[].name`,
  `${c}.env[].value`,
  `${c}.env[].valueFrom.configMapKeyRef.name`,
  `${c}.env[].valueFrom.configMapKeyRef.key`,
  `${c}.env[].valueFrom.configMapKeyRef.optional`,
  `${c}.env[].valueFrom.secretKeyRef.name`,
  `${c}.env[].valueFrom.secretKeyRef.key`,
  `${c}.env[].valueFrom.secretKeyRef.optional`,
  `${c}.env[].valueFrom.fieldRef.fieldPath`,
  `${c}.env[].valueFrom.fieldRef.apiVersion`,
  `${c}.envFrom[].configMapRef.name`,
  `${c}.envFrom[].configMapRef.optional`,
  `${c}.envFrom[].secretRef.name`,
  `${c}.envFrom[].secretRef.optional`,
  `${c}.envFrom[].prefix`,
  `${c}.ports[].name`,
  `${c}.ports[].containerPort`,
  `${c}.ports[].protocol`,
  `${c}.volumeMounts[].name`,
  `${c}.volumeMounts[].mountPath`,
  `${c}.volumeMounts[].subPath`,
  `${c}.volumeMounts[].readOnly`,
  `${c}.securityContext.runAsUser`,
  `${c}.securityContext.runAsGroup`,
  `${c}.securityContext.runAsNonRoot`,
  `${c}.securityContext.readOnlyRootFilesystem`,
  `${c}.securityContext.allowPrivilegeEscalation`,
  `${c}.securityContext.capabilities.drop`,
  `${c}.securityContext.seccompProfile.type`, // RuntimeDefault accepted as-is (no seccomp filter is loaded)
  `${c}.securityContext.privileged=false`, // containers are never privileged
  ...(init ? [] : [...PROBE(`${c}.startupProbe`), ...PROBE(`${c}.readinessProbe`), ...PROBE(`${c}.livenessProbe`), `${c}.lifecycle.preStop.exec.command`, `${c}.lifecycle.postStart.exec.command`]),
];

const POD_SPEC = (s: string) => [
  ...CONTAINER(`${s}.containers[]`, false),
  ...CONTAINER(`${s}.initContainers[]`, true),
  `${s}.restartPolicy`,
  `${s}.terminationGracePeriodSeconds`,
  `${s}.hostname`,
  `${s}.subdomain`,
  `${s}.enableServiceLinks`,
  `${s}.automountServiceAccountToken=false`, // no token is ever mounted
  `${s}.dnsPolicy=ClusterFirst`, // the default: cluster names first (the hosts file), then nothing
  `${s}.securityContext.runAsUser`,
  `${s}.securityContext.runAsGroup`,
  `${s}.securityContext.runAsNonRoot`,
  `${s}.securityContext.fsGroup`,
  `${s}.securityContext.fsGroupChangePolicy`,
  `${s}.securityContext.supplementalGroups`,
  `${s}.securityContext.seccompProfile.type`,
  `${s}.volumes[].name`,
  `${s}.volumes[].configMap.name`,
  `${s}.volumes[].configMap.items[].key`,
  `${s}.volumes[].configMap.items[].path`,
  `${s}.volumes[].configMap.items[].mode`,
  `${s}.volumes[].configMap.defaultMode`,
  `${s}.volumes[].configMap.optional`,
  `${s}.volumes[].secret.secretName`,
  `${s}.volumes[].secret.items[].key`,
  `${s}.volumes[].secret.items[].path`,
  `${s}.volumes[].secret.items[].mode`,
  `${s}.volumes[].secret.defaultMode`,
  `${s}.volumes[].secret.optional`,
  `${s}.volumes[].emptyDir.medium`,
  `${s}.volumes[].emptyDir.sizeLimit`,
  `${s}.volumes[].persistentVolumeClaim.claimName`,
  `${s}.volumes[].persistentVolumeClaim.readOnly`,
];

const TEMPLATE = ['spec.template.metadata.labels.*', 'spec.template.metadata.annotations.*', 'spec.template.metadata.name', ...POD_SPEC('spec.template.spec')];

/** A label selector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist). */
const SELECTOR = (at: string) => [`${at}.matchLabels.*`, `${at}.matchExpressions[].key`, `${at}.matchExpressions[].operator`, `${at}.matchExpressions[].values`];

export const IMPLEMENTED: Record<string, string[]> = {
  'v1/Namespace': [...META],
  'v1/ServiceAccount': [...META, 'automountServiceAccountToken=false'],
  'v1/ConfigMap': [...META, 'data.*', 'binaryData.*', 'immutable'],
  'v1/Secret': [...META, 'data.*', 'stringData.*', 'type', 'immutable'],
  'v1/Service': [
    ...META,
    'spec.type', // ClusterIP only; other types are reported
    'spec.clusterIP', // "None" (headless) or absent; a fixed address is reported
    'spec.selector.*',
    'spec.ports[].name',
    'spec.ports[].port',
    'spec.ports[].targetPort',
    'spec.ports[].protocol',
    'spec.publishNotReadyAddresses',
  ],
  'v1/PersistentVolumeClaim': [...META, 'spec.accessModes', 'spec.resources.requests.storage'],
  'v1/Pod': [...META, ...POD_SPEC('spec')],
  'apps/v1/StatefulSet': [
    ...META,
    'spec.replicas',
    'spec.selector.matchLabels.*',
    'spec.serviceName',
    'spec.podManagementPolicy',
    'spec.updateStrategy.type',
    'spec.updateStrategy.rollingUpdate.partition',
    'spec.volumeClaimTemplates[].metadata.name',
    'spec.volumeClaimTemplates[].metadata.labels.*',
    'spec.volumeClaimTemplates[].spec.accessModes',
    'spec.persistentVolumeClaimRetentionPolicy.whenDeleted',
    'spec.persistentVolumeClaimRetentionPolicy.whenScaled',
    ...TEMPLATE,
  ],
  'apps/v1/Deployment': [
    ...META,
    'spec.replicas',
    'spec.selector.matchLabels.*',
    'spec.strategy.type',
    'spec.strategy.rollingUpdate.maxSurge',
    'spec.strategy.rollingUpdate.maxUnavailable',
    ...TEMPLATE,
  ],
  'policy/v1/PodDisruptionBudget': [...META, 'spec.minAvailable', 'spec.maxUnavailable', 'spec.selector.matchLabels.*'],
  // Ingress only (network-policy.ts); an egress section is reported, not enforced.
  'networking.k8s.io/v1/NetworkPolicy': [
    ...META,
    ...SELECTOR('spec.podSelector'),
    'spec.policyTypes',
    ...SELECTOR('spec.ingress[].from[].podSelector'),
    ...SELECTOR('spec.ingress[].from[].namespaceSelector'),
    'spec.ingress[].from[].ipBlock.cidr',
    'spec.ingress[].from[].ipBlock.except',
    'spec.ingress[].ports[].protocol',
    'spec.ingress[].ports[].port',
    'spec.ingress[].ports[].endPort',
  ],
};

/** Values that are accepted only with particular settings; anything else is reported. */
export function valueWarnings(kindKey: string, obj: any): string[] {
  const w: string[] = [];
  const spec = obj.spec ?? {};
  if (kindKey === 'v1/Service') {
    if (spec.type && spec.type !== 'ClusterIP') w.push(`spec.type=${spec.type} (only ClusterIP is implemented; treated as ClusterIP)`);
    if (spec.clusterIP && spec.clusterIP !== 'None') w.push(`spec.clusterIP=${spec.clusterIP} (a fixed address is not honoured; one is allocated)`);
    for (const p of spec.ports ?? []) if (p.protocol && p.protocol !== 'TCP') w.push(`spec.ports[].protocol=${p.protocol} (only TCP is forwarded)`);
  }
  const podSpec = kindKey === 'v1/Pod' ? spec : spec.template?.spec;
  if (podSpec) {
    if (podSpec.restartPolicy && podSpec.restartPolicy !== 'Always' && kindKey !== 'v1/Pod') w.push(`restartPolicy=${podSpec.restartPolicy}`);
    for (const c of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
      const caps = c.securityContext?.capabilities?.drop;
      if (caps && !(caps.length === 1 && caps[0] === 'ALL')) w.push(`container ${c.name}: capabilities.drop=${JSON.stringify(caps)} (only ["ALL"] is implemented)`);
      const sp = c.securityContext?.seccompProfile?.type;
      if (sp && sp !== 'RuntimeDefault') w.push(`container ${c.name}: seccompProfile.type=${sp} (only RuntimeDefault is accepted, and no filter is loaded)`);
    }
    for (const v of podSpec.volumes ?? []) {
      if (v.emptyDir?.sizeLimit && v.emptyDir.medium !== 'Memory') w.push(`volume ${v.name}: emptyDir.sizeLimit without medium Memory is not enforced`);
    }
    const sp = podSpec.securityContext?.seccompProfile?.type;
    if (sp && sp !== 'RuntimeDefault') w.push(`securityContext.seccompProfile.type=${sp}`);
  }
  if (kindKey === 'apps/v1/StatefulSet' && spec.podManagementPolicy && !['OrderedReady', 'Parallel'].includes(spec.podManagementPolicy)) {
    w.push(`spec.podManagementPolicy=${spec.podManagementPolicy}`);
  }
  return w;
}

function covered(path: string, patterns: string[]): boolean {
  for (const p of patterns) {
    if (path === p || path.startsWith(p + '.') || path.startsWith(p + '[]')) return true;
    if (p.endsWith('.*')) {
      const base = p.slice(0, -2);
      if (path.startsWith(base + '.')) return true;
    }
  }
  return false;
}

/** Every leaf path of `obj` not covered by the implemented list, as "field" strings. */
export function unimplementedFields(kindKey: string, obj: any): string[] {
  const all = IMPLEMENTED[kindKey];
  if (!all) return [];
  // "path=value" entries: implemented only with exactly that value (e.g. privileged=false)
  const valued = all.filter((p) => p.includes('='));
  const patterns = all.filter((p) => !p.includes('='));
  const out = new Set<string>();
  const walk = (v: any, path: string) => {
    if (path && covered(path, patterns)) return;
    if (path && valued.some((p) => p === `${path}=${String(v)}`)) return;
    if (Array.isArray(v)) {
      if (!v.length) return; // an empty list asks for nothing
      for (const e of v) walk(e, path + '[]');
      return;
    }
    if (v && typeof v === 'object') {
      const keys = Object.keys(v);
      if (!keys.length) return;
      for (const k of keys) walk(v[k], path ? `${path}.${k}` : k);
      return;
    }
    if (v === null || v === undefined) return;
    out.add(path);
  };
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  walk(rest, '');
  // report the shortest unimplemented prefix only (e.g. "spec.template.spec.tolerations", not every leaf)
  const shortest = (p: string): string => {
    const segs = p.split('.');
    for (let i = 1; i <= segs.length; i++) {
      const prefix = segs.slice(0, i).join('.');
      const pfxNoArr = prefix.replace(/\[\]$/, '');
      // a prefix is "unknown" if no pattern starts with it
      if (!patterns.some((pt) => pt === pfxNoArr || pt.startsWith(pfxNoArr + '.') || pt.startsWith(pfxNoArr + '[]') || pt.startsWith(prefix))) return pfxNoArr;
    }
    return p;
  };
  return [...new Set([...out].map(shortest))].sort();
}

export const KIND_KEYS = Object.keys(IMPLEMENTED);
