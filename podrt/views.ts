/** What `get` and `pod` return: the runtime's objects as the CLI and the test API show them. */
import type { Engine } from './engine';
import { Deployment, StatefulSet } from './k8s-types';
import { normalizeKind } from './object-store';
import { Container, ContainerStatus, Owner, Pod } from './pod';
import { templateRevision } from './controllers';

export interface PodView {
  name: string;
  namespace: string;
  uid: string;
  ip: string | null;
  netns: string | null;
  phase: Pod['phase'];
  ready: boolean;
  deleting: boolean;
  labels: Record<string, string>;
  owner: Owner | null;
  revision: string;
  hostname: string;
  subdomain: string | null;
  createdAt: number;
  readyAt: number | null;
  partitioned: boolean;
  frozen: boolean;
  cutsFrom: string[];
  restarts: number;
  containers: ContainerStatus[];
  initContainers: ContainerStatus[];
  events: string[];
  logDir: string;
}

export function podStatus(eng: Engine, p: Pod): PodView {
  const cs = (c: Container): ContainerStatus => ({
    name: c.name, init: c.init, state: c.state, reason: c.reason, message: c.message || undefined, ready: c.ready, started: c.started, restartCount: c.restartCount,
    exitCode: c.exitCode, lastExitCode: c.lastExitCode, pid: c.pid1, startedAt: c.startedAt,
  });
  return {
    name: p.name, namespace: p.namespace, uid: p.uid, ip: p.ip ?? null, netns: p.netns ?? null, phase: p.phase, ready: p.ready,
    deleting: p.deleting, labels: p.labels, owner: p.owner ?? null, revision: p.revision, hostname: p.hostname, subdomain: p.subdomain ?? null,
    createdAt: p.createdAt, readyAt: p.readyAt ?? null, partitioned: p.partitioned, frozen: p.frozen, cutsFrom: [...p.cutsFrom],
    restarts: p.containers.reduce((n, c) => n + c.restartCount, 0),
    containers: p.containers.map(cs), initContainers: p.initContainers.map(cs), events: p.events.slice(-20),
    logDir: `${eng.sdir}/logs`,
  };
}

/** kubectl get: pods, claims, services with their endpoints, events, or any stored kind. */
export function getView(eng: Engine, kind: string, ns?: string): object[] {
  kind = normalizeKind(kind);
  if (kind === 'Pod') return [...eng.pods.values()].filter((p) => !ns || p.namespace === ns).map((p) => podStatus(eng, p));
  if (kind === 'PersistentVolumeClaim') return eng.claims.list(ns).map((c) => ({ name: c.name, namespace: c.namespace, dir: c.dir, deleting: c.deleting, labels: c.labels, inUse: eng.claims.inUse(c) }));
  if (kind === 'Service') {
    return eng.store.list('Service', ns).map((s) => {
      const ip = eng.network.serviceIP(s.metadata.namespace, s.metadata.name) ?? 'None';
      return { name: s.metadata.name, namespace: s.metadata.namespace, clusterIP: ip, ports: s.spec.ports ?? [], publishNotReadyAddresses: !!s.spec.publishNotReadyAddresses, endpoints: eng.network.endpoints(s).map((p) => ({ pod: p.name, ip: p.ip, ready: p.ready })) };
    });
  }
  if (kind === 'Event') return eng.events.slice(-500).map((e) => ({ event: e }));
  return eng.store.list(kind, ns).map((o) => {
    const base: Record<string, unknown> = { name: o.metadata.name, namespace: o.metadata.namespace ?? null };
    if (kind === 'StatefulSet' || kind === 'Deployment') {
      const w = o as StatefulSet | Deployment;
      const pods = eng.controllers.ownedPods(kind, w.metadata.namespace, w.metadata.name);
      const revision = templateRevision(w.spec.template);
      base.replicas = w.spec.replicas ?? 1;
      base.ready = pods.filter((p) => p.ready).length;
      base.current = pods.filter((p) => !p.deleting).length;
      base.revision = revision;
      base.updated = pods.filter((p) => p.revision === revision && !p.deleting).length;
    }
    if (kind === 'PodDisruptionBudget') base.spec = o.spec;
    return base;
  });
}
