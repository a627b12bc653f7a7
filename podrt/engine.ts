/**
 * The pod runtime engine: the composition of the object store, the controllers, the kubelet
 * (pods, containers, volumes, probes), the network (addresses, Services, DNS, port-forwards)
 * and the faults. It runs inside the supervisor daemon (daemon.ts); clients talk to it over a
 * Unix socket. Each part reaches the others through the engine.
 */
import * as fs from 'node:fs';
import { Claims } from './claims';
import { Controllers } from './controllers';
import { execArgv } from './exec';
import { Faults } from './faults';
import { KubeObject } from './k8s-types';
import { Kubelet } from './kubelet';
import { Network } from './network';
import { ApplyResult, ObjectStore } from './object-store';
import { Container, Pod } from './pod';
import { PortForwards } from './port-forward';
import { Probes } from './probes';
import { CGROUP_ROOT, cgroupKillAndRemove, mkdirp, stateDir } from './util';
import { PodView, getView, podStatus } from './views';
import { Volumes } from './volumes';

export interface EngineOptions {
  instance: string;
  /** first restart back-off in seconds (Kubernetes: 10); doubles per restart up to backoffMaxSeconds */
  backoffBaseSeconds?: number;
  backoffMaxSeconds?: number;
  /** apply fsGroup ownership to PersistentVolumeClaims recursively at pod start, like a CSI driver that supports it (default true) */
  pvcFsGroup?: boolean;
  clusterDomain?: string;
  /** a container log file is cut when it grows past this (bytes) */
  logCapBytes?: number;
  /** how long a container that died keeps counting as Ready (the kubelet's PLEG relist), ms (default 1000) */
  statusLagMs?: number;
  /** delay of DNS changes as seen by pods (CoreDNS caching; a real cluster: up to ~5 s), ms (default 0) */
  dnsLagMs?: number;
}

export class Engine {
  readonly sdir: string;
  readonly opts: Required<EngineOptions>;
  /** ns/name -> pod, including terminating ones */
  readonly pods = new Map<string, Pod>();
  events: string[] = [];
  stopping = false;
  readonly store: ObjectStore;
  readonly claims: Claims;
  readonly controllers: Controllers;
  readonly kubelet: Kubelet;
  readonly volumes: Volumes;
  readonly probes: Probes;
  readonly network: Network;
  readonly portForwards: PortForwards;
  readonly faults: Faults;
  private tickTimer?: NodeJS.Timeout;

  constructor(opts: EngineOptions) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined && !(typeof v === 'number' && Number.isNaN(v))));
    this.opts = {
      backoffBaseSeconds: 10, backoffMaxSeconds: 300, pvcFsGroup: true, clusterDomain: 'cluster.local', logCapBytes: 16 * 1024 * 1024, statusLagMs: 1000, dnsLagMs: 0,
      ...given,
    } as Required<EngineOptions>;
    this.sdir = stateDir(opts.instance);
    this.store = new ObjectStore(this);
    this.claims = new Claims(this);
    this.controllers = new Controllers(this);
    this.kubelet = new Kubelet(this);
    this.volumes = new Volumes(this);
    this.probes = new Probes(this);
    this.network = new Network(this);
    this.portForwards = new PortForwards(this);
    this.faults = new Faults(this);
  }

  event(msg: string): void {
    const line = `${new Date().toISOString()} ${msg}`;
    this.events.push(line);
    if (this.events.length > 5000) this.events.splice(0, 1000);
    try { fs.appendFileSync(`${this.sdir}/events.log`, line + '\n'); } catch { /* */ }
  }

  async start(): Promise<void> {
    mkdirp(`${this.sdir}/pods`);
    mkdirp(`${this.sdir}/pvc`);
    mkdirp(`${this.sdir}/logs`);
    mkdirp(`${this.sdir}/pf`);
    mkdirp(`${CGROUP_ROOT}/${this.opts.instance}/pods`);
    mkdirp(`${CGROUP_ROOT}/${this.opts.instance}/aux`);
    await this.network.start();
    this.tickTimer = setInterval(() => { this.controllers.scheduleReconcile(); this.kubelet.capLogs(); }, 1000);
    this.event(`runtime ${this.opts.instance} started`);
  }

  async down(): Promise<void> {
    this.stopping = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.controllers.stop();
    for (const p of this.pods.values()) {
      p.deleting = true;
      for (const c of p.allContainers) if (c.backoffTimer) clearTimeout(c.backoffTimer);
    }
    await cgroupKillAndRemove(`${CGROUP_ROOT}/${this.opts.instance}`);
    this.network.stop();
  }

  // ---------------------------------------------------------------- the daemon's verbs
  apply(objs: KubeObject[]): ApplyResult { return this.store.apply(objs); }
  deleteObject(kind: string, ns: string, name: string, opts: { graceSeconds?: number } = {}): Promise<string> { return this.store.deleteObject(kind, ns, name, opts); }
  get(kind: string, ns?: string): object[] { return getView(this, kind, ns); }
  podStatus(p: Pod): PodView { return podStatus(this, p); }
  findPod(ns: string, name: string): Pod { return this.kubelet.findPod(ns, name); }
  logPath(pod: Pod, c: Container | string): string { return this.kubelet.logPath(pod, c); }
  execArgv(pod: Pod, c: Container, cmd: string[]): string[] { return execArgv(pod, c, cmd); }
  deletePod(ns: string, name: string, opts: { graceSeconds?: number; kill?: boolean } = {}): Promise<void> { return this.kubelet.deletePod(ns, name, opts); }
  deleteClaim(ns: string, name: string): string { return this.claims.delete(ns, name); }
  scale(kind: string, ns: string, name: string, replicas: number): string { return this.controllers.scale(kind, ns, name, replicas); }
  rolloutRestart(kind: string, ns: string, name: string): string { return this.controllers.rolloutRestart(kind, ns, name); }
  portForward(ns: string, target: string, port: string | number): Promise<{ id: number; sock: string; description: string }> { return this.portForwards.open(ns, target, port); }
  closePortForward(id: number): Promise<void> { return this.portForwards.close(id); }
  hostsFor(pod: Pod): string { return this.network.hostsFor(pod); }
  serviceRuleset(): string { return this.network.serviceRuleset(); }
  crash(ns: string, name: string, container?: string): string { return this.faults.crash(ns, name, container); }
  killPod(ns: string, name: string): Promise<string> { return this.faults.killPod(ns, name); }
  freeze(ns: string, name: string, frozen: boolean): string { return this.faults.freeze(ns, name, frozen); }
  evict(ns: string, name: string, graceSeconds?: number): Promise<string> { return this.faults.evict(ns, name, graceSeconds); }
  partition(ns: string, name: string, on: boolean): Promise<string> { return this.faults.partition(ns, name, on); }
  cut(ns: string, from: string, to: string, on: boolean): Promise<string> { return this.faults.cut(ns, from, to, on); }
  healAll(): Promise<string> { return this.faults.healAll(); }
}
