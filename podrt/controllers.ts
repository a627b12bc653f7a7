/**
 * The StatefulSet and Deployment controllers, the reconcile loop that runs them (and reaps
 * deleted claims), and the kubectl verbs that change a workload: scale and rollout restart.
 */
import type { Engine } from './engine';
import { Deployment, PodTemplate, StatefulSet, intOrPercent } from './k8s-types';
import { normalizeKind } from './object-store';
import { Pod } from './pod';
import { hashString, randomSuffix, stableStringify } from './util';

export function templateRevision(tmpl: PodTemplate): string {
  return hashString(stableStringify(tmpl));
}

export class Controllers {
  private reconcileTimer?: NodeJS.Timeout;
  private reconciling = false;
  private reconcileAgain = false;

  constructor(private readonly eng: Engine) {}

  scheduleReconcile(): void {
    if (this.eng.stopping) return;
    for (const p of this.eng.pods.values()) if (!p.readyAt && p.ready) p.readyAt = Date.now();
    if (this.reconciling) { this.reconcileAgain = true; return; }
    if (this.reconcileTimer) return;
    this.reconcileTimer = setTimeout(() => { this.reconcileTimer = undefined; void this.reconcile(); }, 10);
  }

  stop(): void {
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
  }

  private async reconcile(): Promise<void> {
    const eng = this.eng;
    if (eng.stopping) return;
    this.reconciling = true;
    try {
      await eng.claims.reap();
      for (const sts of eng.store.list('StatefulSet')) {
        try { this.reconcileStatefulSet(sts); } catch (e) { eng.event(`statefulset ${sts.metadata.name}: ${(e as Error).message}`); }
      }
      for (const d of eng.store.list('Deployment')) {
        try { this.reconcileDeployment(d); } catch (e) { eng.event(`deployment ${d.metadata.name}: ${(e as Error).message}`); }
      }
      if (eng.network.dirty) void eng.network.syncNetwork();
    } finally {
      this.reconciling = false;
      if (this.reconcileAgain) { this.reconcileAgain = false; this.scheduleReconcile(); }
    }
  }

  ownedPods(kind: string, ns: string, name: string): Pod[] {
    return [...this.eng.pods.values()].filter((p) => p.owner?.kind === kind && p.owner.name === name && p.namespace === ns);
  }

  private reconcileStatefulSet(sts: StatefulSet): void {
    const eng = this.eng;
    const ns = sts.metadata.namespace; const name = sts.metadata.name;
    const spec = sts.spec;
    const replicas = spec.replicas ?? 1;
    const parallel = spec.podManagementPolicy === 'Parallel';
    const rev = templateRevision(spec.template);
    const pods = this.ownedPods('StatefulSet', ns, name);
    const byOrd = new Map<number, Pod>();
    for (const p of pods) byOrd.set(p.ordinal, p);

    // a pod that failed to start is replaced, as the controller does with a Failed pod
    for (const p of pods) if (p.phase === 'Failed' && !p.deleting && Date.now() - (p.failedAt ?? 0) > 5000) { void eng.kubelet.deletePod(ns, p.name, { graceSeconds: 0 }); return; }
    // scale down / condemned pods (ordinal >= replicas), highest first
    const condemned = pods.filter((p) => p.ordinal >= replicas).sort((a, b) => b.ordinal - a.ordinal);
    // create missing pods
    for (let i = 0; i < replicas; i++) {
      const p = byOrd.get(i);
      if (!p) {
        const podName = `${name}-${i}`;
        // claims
        let blocked = false;
        for (const t of spec.volumeClaimTemplates ?? []) {
          const cname = `${t.metadata.name}-${podName}`;
          const c = eng.claims.get(ns, cname);
          if (c?.deleting) { blocked = true; break; }
        }
        if (blocked) { if (!parallel) return; continue; }
        this.createStatefulPod(sts, i, rev);
        if (!parallel) return;
        continue;
      }
      if (!parallel && (p.deleting || !p.ready)) return; // OrderedReady: wait for this one
    }
    if (condemned.length) {
      const scaleDown = (p: Pod) => eng.kubelet.deletePod(ns, p.name, {}).then(() => {
        if (spec.persistentVolumeClaimRetentionPolicy?.whenScaled !== 'Delete') return;
        for (const t of spec.volumeClaimTemplates ?? []) { try { eng.claims.delete(ns, `${t.metadata.name}-${p.name}`); } catch { /* gone */ } }
      });
      if (parallel) {
        for (const p of condemned) if (!p.deleting) void scaleDown(p);
      } else {
        const first = condemned[0];
        if (pods.some((p) => p.deleting)) return;
        void scaleDown(first);
      }
      return;
    }
    // rolling update from the highest ordinal, one pod at a time
    if ((spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return;
    const partition = spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    const live = pods.filter((p) => p.ordinal < replicas);
    if (live.length < replicas || live.some((p) => p.deleting || !p.ready)) return;
    const outdated = live.filter((p) => p.revision !== rev && p.ordinal >= partition).sort((a, b) => b.ordinal - a.ordinal);
    if (outdated.length) {
      eng.event(`statefulset ${ns}/${name}: rolling update of ${outdated[0].name}`);
      void eng.kubelet.deletePod(ns, outdated[0].name, {});
    }
  }

  private createStatefulPod(sts: StatefulSet, i: number, rev: string): void {
    const ns = sts.metadata.namespace; const name = sts.metadata.name;
    const podName = `${name}-${i}`;
    const tmpl: PodTemplate = JSON.parse(JSON.stringify(sts.spec.template));
    const spec = tmpl.spec;
    spec.hostname = podName;
    spec.subdomain = sts.spec.serviceName;
    spec.volumes = [...(spec.volumes ?? [])];
    for (const t of sts.spec.volumeClaimTemplates ?? []) {
      const cname = `${t.metadata.name}-${podName}`;
      this.eng.claims.ensure(ns, cname, { ...(sts.spec.selector?.matchLabels ?? {}), ...(t.metadata.labels ?? {}) });
      spec.volumes = spec.volumes.filter((v) => v.name !== t.metadata.name);
      spec.volumes.push({ name: t.metadata.name, persistentVolumeClaim: { claimName: cname } });
    }
    const labels = { ...(tmpl.metadata?.labels ?? {}), 'statefulset.kubernetes.io/pod-name': podName, 'apps.kubernetes.io/pod-index': String(i), 'controller-revision-hash': `${name}-${rev}` };
    const obj = { apiVersion: 'v1', kind: 'Pod' as const, metadata: { name: podName, namespace: ns, labels, annotations: tmpl.metadata?.annotations ?? {} }, spec };
    this.eng.kubelet.createPod(obj, { kind: 'StatefulSet', name }, rev);
  }

  private reconcileDeployment(d: Deployment): void {
    const eng = this.eng;
    const ns = d.metadata.namespace; const name = d.metadata.name;
    const spec = d.spec;
    const replicas = spec.replicas ?? 1;
    const rev = templateRevision(spec.template);
    for (const p of this.ownedPods('Deployment', ns, name)) if (p.phase === 'Failed' && !p.deleting && Date.now() - (p.failedAt ?? 0) > 5000) void eng.kubelet.deletePod(ns, p.name, { graceSeconds: 0 });
    const all = this.ownedPods('Deployment', ns, name);
    const live = all.filter((p) => !p.deleting);
    const newPods = live.filter((p) => p.revision === rev);
    const oldPods = live.filter((p) => p.revision !== rev);
    const create = () => {
      const podName = `${name}-${rev}-${randomSuffix(5)}`;
      const tmpl: PodTemplate = JSON.parse(JSON.stringify(spec.template));
      const labels = { ...(tmpl.metadata?.labels ?? {}), 'pod-template-hash': rev };
      eng.kubelet.createPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: ns, labels, annotations: tmpl.metadata?.annotations ?? {} }, spec: tmpl.spec }, { kind: 'Deployment', name }, rev);
    };
    const pickVictims = (ps: Pod[], n: number) => [...ps].sort((a, b) => Number(a.ready) - Number(b.ready) || b.createdAt - a.createdAt).slice(0, n);
    if ((spec.strategy?.type ?? 'RollingUpdate') === 'Recreate') {
      if (oldPods.length) { for (const p of oldPods) void eng.kubelet.deletePod(ns, p.name, {}); return; }
      if (all.some((p) => p.deleting && p.revision !== rev)) return;
    }
    if (!oldPods.length) {
      for (let i = newPods.length; i < replicas; i++) create();
      if (newPods.length > replicas) for (const p of pickVictims(newPods, newPods.length - replicas)) void eng.kubelet.deletePod(ns, p.name, {});
      return;
    }
    let maxSurge = intOrPercent(spec.strategy?.rollingUpdate?.maxSurge, replicas, true, '25%');
    let maxUnavailable = intOrPercent(spec.strategy?.rollingUpdate?.maxUnavailable, replicas, false, '25%');
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    if (maxSurge < 0) maxSurge = 0;
    let total = newPods.length + oldPods.length;
    let nNew = newPods.length;
    while (total < replicas + maxSurge && nNew < replicas) { create(); total++; nNew++; }
    const minAvailable = replicas - maxUnavailable;
    let available = live.filter((p) => p.ready).length;
    // unready old pods may always go; ready ones only while availability stays >= minAvailable
    const oldSorted = pickVictims(oldPods, oldPods.length);
    let excess = total - replicas; // pods above the desired count
    for (const p of oldSorted) {
      if (!p.ready) { void eng.kubelet.deletePod(ns, p.name, {}); continue; }
      if (available - 1 >= minAvailable && (excess > 0 || maxUnavailable > 0)) {
        void eng.kubelet.deletePod(ns, p.name, {});
        available--; excess--;
      }
    }
  }

  private workload(kind: string, ns: string, name: string): StatefulSet | Deployment {
    const o = this.eng.store.getObject(kind, ns, name);
    if (!o || !['StatefulSet', 'Deployment'].includes(kind)) throw new Error(`${kind.toLowerCase()} "${name}" not found in namespace ${ns}`);
    return o as StatefulSet | Deployment;
  }

  /** kubectl scale */
  scale(kind: string, ns: string, name: string, replicas: number): string {
    kind = normalizeKind(kind);
    const o = this.workload(kind, ns, name);
    o.spec.replicas = replicas;
    this.eng.event(`scale ${kind} ${ns}/${name} to ${replicas}`);
    this.scheduleReconcile();
    return `${kind.toLowerCase()}/${name} scaled`;
  }

  /** kubectl rollout restart: a template annotation change, so a rolling update */
  rolloutRestart(kind: string, ns: string, name: string): string {
    kind = normalizeKind(kind);
    const o = this.workload(kind, ns, name);
    const md = (o.spec.template.metadata ??= {});
    md.annotations = { ...(md.annotations ?? {}), 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() };
    this.eng.event(`rollout restart ${kind} ${ns}/${name}`);
    this.scheduleReconcile();
    return `${kind.toLowerCase()}/${name} restarted`;
  }
}
