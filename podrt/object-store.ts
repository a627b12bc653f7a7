/**
 * The object store (the runtime's API server): apply validates, normalizes and stores objects
 * by kind, delete cascades to what an object owns. Controllers and the kubelet read from it.
 */
import type { Engine } from './engine';
import { IMPLEMENTED, unimplementedFields, valueWarnings } from './fields';
import { KindMap, KubeObject, PodObject, PodSpec, Secret, Service, StatefulSet } from './k8s-types';
import { resolveImage } from './image-catalog';
import { stableStringify } from './util';

export interface Warning { object: string; message: string }

export interface ApplyResult { applied: string[]; warnings: Warning[]; errors: string[] }

function kindKey(o: KubeObject): string {
  return `${o.apiVersion}/${o.kind}`;
}

/** The pod template of a workload, the spec of a Pod, undefined for other kinds. */
function podSpecOf(o: KubeObject): PodSpec | undefined {
  return o.kind === 'Pod' ? (o as PodObject).spec : (o as StatefulSet).spec?.template?.spec;
}

export class ObjectStore {
  private objects = new Map<string, Map<string, KubeObject>>(); // kind -> ns/name -> obj

  constructor(private readonly eng: Engine) {}

  private bucket(kind: string): Map<string, KubeObject> {
    let b = this.objects.get(kind);
    if (!b) { b = new Map(); this.objects.set(kind, b); }
    return b;
  }

  getObject<K extends keyof KindMap>(kind: K, ns: string, name: string): KindMap[K] | undefined;
  getObject(kind: string, ns: string, name: string): KubeObject | undefined;
  getObject(kind: string, ns: string, name: string): KubeObject | undefined {
    return this.objects.get(kind)?.get(`${ns}/${name}`);
  }

  list<K extends keyof KindMap>(kind: K, ns?: string): KindMap[K][];
  list(kind: string, ns?: string): KubeObject[];
  list(kind: string, ns?: string): KubeObject[] {
    const b = this.objects.get(kind);
    if (!b) return [];
    return [...b.values()].filter((o) => !ns || o.metadata.namespace === ns);
  }

  /** Forget a bare Pod's object once the pod is gone. */
  forgetPod(key: string): void {
    this.bucket('Pod').delete(key);
  }

  apply(objs: KubeObject[]): ApplyResult {
    const applied: string[] = [];
    const warnings: Warning[] = [];
    const errors: string[] = [];
    const eng = this.eng;
    // namespaces, config and services before workloads (like kubectl apply of a directory mostly ends up)
    const order = ['Namespace', 'ServiceAccount', 'ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Service', 'PodDisruptionBudget', 'NetworkPolicy'];
    const sorted = [...objs].filter(Boolean).sort((a, b) => {
      const ia = order.indexOf(a.kind); const ib = order.indexOf(b.kind);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    for (const raw of sorted) {
      if (raw.kind === 'List' && Array.isArray(raw.items)) {
        const r = this.apply(raw.items);
        applied.push(...r.applied); warnings.push(...r.warnings); errors.push(...r.errors);
        continue;
      }
      const o: KubeObject = JSON.parse(JSON.stringify(raw));
      const kk = kindKey(o);
      const name = o.metadata?.name;
      const label = `${o.kind ?? '?'}/${name ?? '?'}`;
      if (!IMPLEMENTED[kk]) {
        warnings.push({ object: label, message: `kind ${kk} is not implemented: object ignored` });
        continue;
      }
      if (!name) { warnings.push({ object: label, message: 'metadata.name missing: object ignored' }); continue; }
      o.metadata.namespace = o.kind === 'Namespace' ? undefined : (o.metadata.namespace ?? 'default');
      for (const f of unimplementedFields(kk, o)) warnings.push({ object: label, message: `field ${f} is not implemented (ignored)` });
      for (const m of valueWarnings(kk, o)) warnings.push({ object: label, message: m });
      const podSpec = podSpecOf(o);
      for (const c of [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])]) {
        const resolved = resolveImage(c.image ?? '');
        if ('reason' in resolved) warnings.push({ object: label, message: `container ${c.name}: ${resolved.reason}; its pods wait in ErrImagePull` });
      }
      const ns = o.metadata.namespace ?? '';
      if (ns && !['default', 'kube-system', 'kube-public'].includes(ns) && !this.getObject('Namespace', '', ns)) {
        errors.push(`${label}: namespaces "${ns}" not found`);
        continue;
      }
      if (o.kind === 'Secret') {
        const s = o as Secret;
        const data: Record<string, string> = { ...(s.data ?? {}) };
        for (const [k, v] of Object.entries(s.stringData ?? {})) data[k] = Buffer.from(String(v)).toString('base64');
        s.data = data;
        delete s.stringData;
      }
      if (o.kind === 'PersistentVolumeClaim') {
        eng.claims.ensure(ns, name, o.metadata.labels ?? {});
      }
      const prev = this.getObject(o.kind, ns, name);
      if (o.kind === 'Service' && (o as Service).spec?.clusterIP !== 'None') eng.network.ensureServiceIP(`${ns}/${name}`);
      if (o.kind === 'Pod') {
        if (!eng.pods.has(`${ns}/${name}`)) eng.kubelet.createPod(o as PodObject, undefined, '');
        else warnings.push({ object: label, message: 'pod already exists; pods are immutable here (delete it first)' });
      }
      o.metadata.generation = (prev?.metadata?.generation ?? 0) + (prev && stableStringify(prev.spec) === stableStringify(o.spec) ? 0 : 1);
      this.bucket(o.kind).set(`${ns}/${name}`, o);
      applied.push(`${o.kind.toLowerCase()}/${name}${ns ? ` (${ns})` : ''} ${prev ? 'configured' : 'created'}`);
      eng.event(`apply ${o.kind} ${ns}/${name}`);
      if (o.kind === 'ConfigMap' || o.kind === 'Secret') eng.volumes.refreshConfigVolumes(o.kind, ns, name);
    }
    for (const w of warnings) eng.event(`warning ${w.object}: ${w.message}`);
    for (const e of errors) eng.event(`error ${e}`);
    eng.network.dirty = true;
    eng.controllers.scheduleReconcile();
    return { applied, warnings, errors };
  }

  async deleteObject(kind: string, ns: string, name: string, opts: { graceSeconds?: number } = {}): Promise<string> {
    const eng = this.eng;
    kind = normalizeKind(kind);
    if (kind === 'Pod') { await eng.kubelet.deletePod(ns, name, { graceSeconds: opts.graceSeconds }); return `pod/${name} deleted`; }
    if (kind === 'PersistentVolumeClaim') { return eng.claims.delete(ns, name); }
    if (kind === 'Namespace') {
      const msgs: string[] = [];
      for (const [k, b] of this.objects) for (const o of [...b.values()]) if (o.metadata.namespace === name) msgs.push(await this.deleteObject(k, name, o.metadata.name, opts));
      for (const p of [...eng.pods.values()]) if (p.namespace === name) void eng.kubelet.deletePod(name, p.name, opts);
      for (const c of eng.claims.list(name)) eng.claims.delete(name, c.name);
      this.bucket('Namespace').delete(`/${name}`);
      return `namespace/${name} deleted`;
    }
    const b = this.bucket(kind);
    const key = kind === 'Namespace' ? `/${name}` : `${ns}/${name}`;
    const o = b.get(key);
    if (!o) throw new Error(`${kind.toLowerCase()} "${name}" not found in namespace ${ns}`);
    b.delete(key);
    eng.event(`delete ${kind} ${ns}/${name}`);
    if (kind === 'Service') eng.network.releaseServiceIP(key);
    if (kind === 'StatefulSet' || kind === 'Deployment') {
      // cascading deletion (background): the controller's pods go, claims stay
      const waits: Promise<void>[] = [];
      for (const p of [...eng.pods.values()]) if (p.owner?.kind === kind && p.owner.name === name && p.namespace === ns) waits.push(eng.kubelet.deletePod(ns, p.name, opts));
      await Promise.all(waits);
      const spec = (o as StatefulSet).spec;
      if (kind === 'StatefulSet' && spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete') {
        for (const t of spec.volumeClaimTemplates ?? []) {
          for (const c of eng.claims.list(ns)) if (new RegExp(`^${t.metadata.name}-${name}-\\d+$`).test(c.name)) eng.claims.delete(ns, c.name);
        }
      }
    }
    eng.network.dirty = true;
    eng.controllers.scheduleReconcile();
    return `${kind.toLowerCase()}/${name} deleted`;
  }
}

/** kubectl's kind names and short names to the kind. */
export function normalizeKind(k: string): string {
  const m: Record<string, string> = {
    po: 'Pod', pod: 'Pod', pods: 'Pod', svc: 'Service', service: 'Service', services: 'Service', sts: 'StatefulSet', statefulset: 'StatefulSet',
    statefulsets: 'StatefulSet', deploy: 'Deployment', deployment: 'Deployment', deployments: 'Deployment', pvc: 'PersistentVolumeClaim',
    persistentvolumeclaim: 'PersistentVolumeClaim', persistentvolumeclaims: 'PersistentVolumeClaim', cm: 'ConfigMap', configmap: 'ConfigMap',
    configmaps: 'ConfigMap', secret: 'Secret', secrets: 'Secret', pdb: 'PodDisruptionBudget', poddisruptionbudget: 'PodDisruptionBudget',
    poddisruptionbudgets: 'PodDisruptionBudget', ns: 'Namespace', namespace: 'Namespace', namespaces: 'Namespace', sa: 'ServiceAccount',
    serviceaccount: 'ServiceAccount', serviceaccounts: 'ServiceAccount', events: 'Event', event: 'Event', ev: 'Event',
    netpol: 'NetworkPolicy', networkpolicy: 'NetworkPolicy', networkpolicies: 'NetworkPolicy',
  };
  return m[k.toLowerCase()] ?? k;
}
