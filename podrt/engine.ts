/**
 * The pod runtime engine: object store, controllers, pods, containers, probes, networking.
 * It runs inside the supervisor daemon (daemon.ts); clients talk to it over a Unix socket.
 */
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IMPLEMENTED, unimplementedFields, valueWarnings } from './fields';
import { ImageProfile, groupFile, passwdFile, profileFor, shadowFile } from './profiles';
import {
  CGROUP_ROOT, LineClient, cgroupKillAndRemove, cgroupPids, cgroupSetFrozen, hashString, mkdirp, must, parseQuantity,
  randomSuffix, rmrf, run, sleep, spawnReady, stableStringify, stateDir,
} from './util';
import { netnsPrefix, unmountUnder } from './cleanup';

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

export interface Warning { object: string; message: string }

const CLUSTER_CIDR_PREFIX = '10.244';
const SERVICE_CIDR_PREFIX = '10.96';
const BRIDGE_IP = '10.244.0.1';
const PROBE_IP = '10.244.0.2';
const DEFAULT_CAPS = ['chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'net_bind_service', 'net_raw', 'sys_chroot', 'mknod', 'audit_write', 'setfcap'];
const AGENT = path.join(__dirname, 'agent.cjs');

type Obj = any;

export interface ContainerStatus {
  name: string;
  init: boolean;
  state: 'waiting' | 'running' | 'terminated';
  reason: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  exitCode?: number;
  lastExitCode?: number;
  pid?: number;
  startedAt?: number;
}

class Container {
  state: 'waiting' | 'running' | 'terminated' = 'waiting';
  reason = 'ContainerCreating';
  ready = false;
  started = false;
  restartCount = 0;
  exitCode?: number;
  lastExitCode?: number;
  pid1?: number;
  proc?: ChildProcess;
  runId = 0;
  startedAt?: number;
  exited?: Promise<number>;
  killing = false;
  /** between spawn and knowing PID 1 */
  spawning?: Promise<unknown>;
  backoffTimer?: NodeJS.Timeout;
  consecutiveCrashes = 0;
  env: Record<string, string> = {};
  uid = 0;
  gid = 0;
  groups: number[] = [];
  privArgs: string[] = [];
  workingDir = '/';
  profile!: ImageProfile;
  constructor(public spec: Obj, public init: boolean) {}
  get name(): string { return this.spec.name; }
}

export class Pod {
  uid: string;
  ip?: string;
  netns?: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  createdAt = Date.now();
  deleting = false;
  gone = false;
  initDone = false;
  containers: Container[] = [];
  initContainers: Container[] = [];
  dir: string;
  cgroup: string;
  hostname: string;
  subdomain?: string;
  partitioned = false;
  cutsFrom = new Set<string>(); // pod keys whose packets to this pod are dropped
  frozen = false;
  mounted = new Set<string>();
  /** settles when the pod's network and volumes are set up (or given up): deletion waits for it */
  setup?: Promise<void>;
  resolveSetup!: () => void;
  failedAt?: number;
  /** when the pod first became Ready */
  readyAt?: number;
  agent?: { pid: number; client: LineClient; sock: string };
  terminated?: Promise<void>;
  resolveTerminated!: () => void;
  events: string[] = [];
  constructor(public obj: Obj, public owner: { kind: string; name: string } | undefined, public revision: string, eng: Engine, seq: number) {
    this.uid = `${seq}-${randomSuffix(8)}`;
    this.dir = `${eng.sdir}/pods/${this.namespace}_${this.name}_${this.uid}`;
    this.cgroup = `${CGROUP_ROOT}/${eng.opts.instance}/pods/${this.uid}`;
    const spec = obj.spec;
    this.hostname = spec.hostname ?? this.name.slice(0, 63);
    this.subdomain = spec.subdomain;
    this.containers = (spec.containers ?? []).map((c: Obj) => new Container(c, false));
    this.initContainers = (spec.initContainers ?? []).map((c: Obj) => new Container(c, true));
    this.terminated = new Promise((r) => { this.resolveTerminated = r; });
    this.setup = new Promise((r) => { this.resolveSetup = r; });
  }
  get name(): string { return this.obj.metadata.name; }
  get namespace(): string { return this.obj.metadata.namespace; }
  get key(): string { return `${this.namespace}/${this.name}`; }
  get labels(): Record<string, string> { return this.obj.metadata.labels ?? {}; }
  get spec(): Obj { return this.obj.spec; }
  get ready(): boolean {
    return !this.deleting && this.phase === 'Running' && this.initDone && this.containers.length > 0 && this.containers.every((c) => c.ready);
  }
  get ordinal(): number {
    const m = /-(\d+)$/.exec(this.name);
    return m ? Number(m[1]) : -1;
  }
  container(name?: string): Container {
    const all = [...this.containers, ...this.initContainers];
    const c = name ? all.find((x) => x.name === name) : this.containers[0];
    if (!c) throw new Error(`pod ${this.key} has no container ${name}`);
    return c;
  }
}

interface Claim { namespace: string; name: string; dir: string; deleting: boolean; labels: Record<string, string>; createdAt: number }

interface PortForward { id: number; sock: string; pod?: Pod; agent: LineClient }

function matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const keys = Object.keys(selector);
  if (!keys.length) return false;
  return keys.every((k) => labels[k] === selector[k]);
}

/** Kubernetes $(VAR) expansion: $$ -> $, unresolved references stay as they are. */
export function expandVars(s: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '$' && i + 1 < s.length) {
      const nx = s[i + 1];
      if (nx === '$') { out += '$'; i++; continue; }
      if (nx === '(') {
        const end = s.indexOf(')', i + 2);
        if (end > 0) {
          const name = s.slice(i + 2, end);
          const v = lookup(name);
          if (v !== undefined) { out += v; i = end; continue; }
          out += s.slice(i, end + 1);
          i = end;
          continue;
        }
      }
    }
    out += ch;
  }
  return out;
}

function intOrPercent(v: any, total: number, roundUp: boolean, dflt: string): number {
  const x = v === undefined || v === null ? dflt : v;
  if (typeof x === 'number') return x;
  const m = /^(\d+)%$/.exec(String(x));
  if (m) { const f = (Number(m[1]) * total) / 100; return roundUp ? Math.ceil(f) : Math.floor(f); }
  return Number(x);
}

function kindKey(o: Obj): string {
  return `${o.apiVersion}/${o.kind}`;
}

export class Engine {
  readonly sdir: string;
  readonly opts: Required<EngineOptions>;
  private objects = new Map<string, Map<string, Obj>>(); // kind -> ns/name -> obj
  pods = new Map<string, Pod>(); // ns/name -> pod (including terminating)
  private claims = new Map<string, Claim>();
  private serviceIPs = new Map<string, string>(); // ns/name -> ip
  private podSeq = 0;
  private ipSeq = 10;
  private svcSeq = 10;
  private infraNs: string;
  private infraAgent?: LineClient;
  private netDirty = true;
  private netSyncing?: Promise<void>;
  private nftApplied = new Map<string, string>(); // netns -> ruleset
  private hostsWritten = new Map<string, string>(); // file -> content
  private hostsPending = new Map<string, string>(); // file -> content scheduled (dnsLagMs)
  private reconcileTimer?: NodeJS.Timeout;
  private tickTimer?: NodeJS.Timeout;
  private reconciling = false;
  private reconcileAgain = false;
  private pfSeq = 0;
  private portForwards = new Map<number, PortForward>();
  private etcEntries: { binds: string[]; links: [string, string][] } | undefined;
  events: string[] = [];
  private stopping = false;

  constructor(opts: EngineOptions) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined && !(typeof v === 'number' && Number.isNaN(v))));
    this.opts = {
      backoffBaseSeconds: 10, backoffMaxSeconds: 300, pvcFsGroup: true, clusterDomain: 'cluster.local', logCapBytes: 16 * 1024 * 1024, statusLagMs: 1000, dnsLagMs: 0,
      ...given,
    } as Required<EngineOptions>;
    this.sdir = stateDir(opts.instance);
    this.infraNs = `${netnsPrefix(opts.instance)}infra`;
  }

  event(msg: string): void {
    const line = `${new Date().toISOString()} ${msg}`;
    this.events.push(line);
    if (this.events.length > 5000) this.events.splice(0, 1000);
    try { fs.appendFileSync(`${this.sdir}/events.log`, line + '\n'); } catch { /* */ }
  }

  // ---------------------------------------------------------------- start / stop
  async start(): Promise<void> {
    mkdirp(`${this.sdir}/pods`);
    mkdirp(`${this.sdir}/pvc`);
    mkdirp(`${this.sdir}/logs`);
    mkdirp(`${this.sdir}/pf`);
    mkdirp(`${CGROUP_ROOT}/${this.opts.instance}/pods`);
    mkdirp(`${CGROUP_ROOT}/${this.opts.instance}/aux`);
    // the runtime's own namespace holds the bridge; the host namespace gets no address, route or rule
    const ns = this.infraNs;
    await must('ip', ['netns', 'add', ns]);
    await must('ip', ['-n', ns, '-batch', '-'], {
      input: [
        'link set lo up',
        'link add br0 type bridge',
        `addr add ${BRIDGE_IP}/16 dev br0`,
        `addr add ${PROBE_IP}/16 dev br0`,
        'link set br0 up',
        `route add ${SERVICE_CIDR_PREFIX}.0.0/16 dev br0`,
      ].join('\n') + '\n',
    });
    await this.applyNft(ns, this.serviceRuleset());
    const sock = `${this.sdir}/agent.sock`;
    await spawnReady('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', `${CGROUP_ROOT}/${this.opts.instance}/aux/cgroup.procs`,
      '/usr/bin/nsenter', `--net=/run/netns/${ns}`, '--', process.execPath, AGENT, 'serve', sock, PROBE_IP], `${this.sdir}/agent.log`);
    this.infraAgent = new LineClient(sock);
    await this.infraAgent.connect();
    this.tickTimer = setInterval(() => { this.scheduleReconcile(); this.capLogs(); }, 1000);
    this.event(`runtime ${this.opts.instance} started`);
  }

  async down(): Promise<void> {
    this.stopping = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    for (const p of this.pods.values()) {
      p.deleting = true;
      for (const c of [...p.containers, ...p.initContainers]) if (c.backoffTimer) clearTimeout(c.backoffTimer);
    }
    await cgroupKillAndRemove(`${CGROUP_ROOT}/${this.opts.instance}`);
    this.infraAgent?.close();
  }

  // ---------------------------------------------------------------- object store
  private bucket(kind: string): Map<string, Obj> {
    let b = this.objects.get(kind);
    if (!b) { b = new Map(); this.objects.set(kind, b); }
    return b;
  }
  getObject(kind: string, ns: string, name: string): Obj | undefined {
    return this.objects.get(kind)?.get(`${ns}/${name}`);
  }
  list(kind: string, ns?: string): Obj[] {
    const b = this.objects.get(kind);
    if (!b) return [];
    return [...b.values()].filter((o) => !ns || o.metadata.namespace === ns);
  }

  apply(objs: Obj[]): { applied: string[]; warnings: Warning[]; errors: string[] } {
    const applied: string[] = [];
    const warnings: Warning[] = [];
    const errors: string[] = [];
    // namespaces, config and services before workloads (like kubectl apply of a directory mostly ends up)
    const order = ['Namespace', 'ServiceAccount', 'ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Service', 'PodDisruptionBudget'];
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
      const o = JSON.parse(JSON.stringify(raw));
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
      const podSpec = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
      for (const c of [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])]) {
        const { profile, known } = profileFor(c.image);
        if (!known) warnings.push({ object: label, message: `container ${c.name}: image ${c.image} matches no image profile; runs the host's /usr as root by default (generic profile)` });
        else if (!c.command?.length && !profile.entrypoint) warnings.push({ object: label, message: `container ${c.name}: image profile ${profile.name} has no default command on this host; the container needs command` });
      }
      const ns = o.metadata.namespace ?? '';
      if (ns && !['default', 'kube-system', 'kube-public'].includes(ns) && !this.getObject('Namespace', '', ns)) {
        errors.push(`${label}: namespaces "${ns}" not found`);
        continue;
      }
      if (o.kind === 'Secret') {
        const data: Record<string, string> = { ...(o.data ?? {}) };
        for (const [k, v] of Object.entries(o.stringData ?? {})) data[k] = Buffer.from(String(v)).toString('base64');
        o.data = data;
        delete o.stringData;
      }
      if (o.kind === 'PersistentVolumeClaim') {
        this.ensureClaim(ns, name, o.metadata.labels ?? {});
      }
      const prev = this.getObject(o.kind, ns, name);
      if (o.kind === 'Service' && o.spec?.clusterIP !== 'None') {
        const k = `${ns}/${name}`;
        if (!this.serviceIPs.has(k)) this.serviceIPs.set(k, this.allocServiceIP());
      }
      if (o.kind === 'Pod') {
        if (!this.pods.has(`${ns}/${name}`)) this.createPod(o, undefined, '');
        else warnings.push({ object: label, message: 'pod already exists; pods are immutable here (delete it first)' });
      }
      o.metadata.generation = (prev?.metadata?.generation ?? 0) + (prev && stableStringify(prev.spec) === stableStringify(o.spec) ? 0 : 1);
      this.bucket(o.kind).set(`${ns}/${name}`, o);
      applied.push(`${o.kind.toLowerCase()}/${name}${ns ? ` (${ns})` : ''} ${prev ? 'configured' : 'created'}`);
      this.event(`apply ${o.kind} ${ns}/${name}`);
      if (o.kind === 'ConfigMap' || o.kind === 'Secret') this.refreshConfigVolumes(o.kind, ns, name);
    }
    for (const w of warnings) this.event(`warning ${w.object}: ${w.message}`);
    for (const e of errors) this.event(`error ${e}`);
    this.netDirty = true;
    this.scheduleReconcile();
    return { applied, warnings, errors };
  }

  async deleteObject(kind: string, ns: string, name: string, opts: { graceSeconds?: number } = {}): Promise<string> {
    kind = normalizeKind(kind);
    if (kind === 'Pod') { await this.deletePod(ns, name, { graceSeconds: opts.graceSeconds }); return `pod/${name} deleted`; }
    if (kind === 'PersistentVolumeClaim') { return this.deleteClaim(ns, name); }
    if (kind === 'Namespace') {
      const msgs: string[] = [];
      for (const [k, b] of this.objects) for (const o of [...b.values()]) if (o.metadata.namespace === name) msgs.push(await this.deleteObject(k, name, o.metadata.name, opts));
      for (const p of [...this.pods.values()]) if (p.namespace === name) void this.deletePod(name, p.name, opts);
      for (const c of [...this.claims.values()]) if (c.namespace === name) this.deleteClaim(name, c.name);
      this.bucket('Namespace').delete(`/${name}`);
      return `namespace/${name} deleted`;
    }
    const b = this.bucket(kind);
    const key = kind === 'Namespace' ? `/${name}` : `${ns}/${name}`;
    const o = b.get(key);
    if (!o) throw new Error(`${kind.toLowerCase()} "${name}" not found in namespace ${ns}`);
    b.delete(key);
    this.event(`delete ${kind} ${ns}/${name}`);
    if (kind === 'Service') this.serviceIPs.delete(key);
    if (kind === 'StatefulSet' || kind === 'Deployment') {
      // cascading deletion (background): the controller's pods go, claims stay
      const waits: Promise<void>[] = [];
      for (const p of [...this.pods.values()]) if (p.owner?.kind === kind && p.owner.name === name && p.namespace === ns) waits.push(this.deletePod(ns, p.name, opts));
      await Promise.all(waits);
      if (kind === 'StatefulSet' && o.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete') {
        for (const t of o.spec.volumeClaimTemplates ?? []) {
          for (const c of this.claimsList(ns)) if (new RegExp(`^${t.metadata.name}-${name}-\\d+$`).test(c.name)) this.deleteClaim(ns, c.name);
        }
      }
    }
    this.netDirty = true;
    this.scheduleReconcile();
    return `${kind.toLowerCase()}/${name} deleted`;
  }

  /** kubectl scale */
  scale(kind: string, ns: string, name: string, replicas: number): string {
    kind = normalizeKind(kind);
    const o = this.getObject(kind, ns, name);
    if (!o || !['StatefulSet', 'Deployment'].includes(kind)) throw new Error(`${kind.toLowerCase()} "${name}" not found in namespace ${ns}`);
    o.spec.replicas = replicas;
    this.event(`scale ${kind} ${ns}/${name} to ${replicas}`);
    this.scheduleReconcile();
    return `${kind.toLowerCase()}/${name} scaled`;
  }

  /** kubectl rollout restart: a template annotation change, so a rolling update */
  rolloutRestart(kind: string, ns: string, name: string): string {
    kind = normalizeKind(kind);
    const o = this.getObject(kind, ns, name);
    if (!o || !['StatefulSet', 'Deployment'].includes(kind)) throw new Error(`${kind.toLowerCase()} "${name}" not found in namespace ${ns}`);
    const md = (o.spec.template.metadata ??= {});
    md.annotations = { ...(md.annotations ?? {}), 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() };
    this.event(`rollout restart ${kind} ${ns}/${name}`);
    this.scheduleReconcile();
    return `${kind.toLowerCase()}/${name} restarted`;
  }

  // ---------------------------------------------------------------- addresses
  private allocPodIP(): string {
    for (;;) {
      const n = this.ipSeq++;
      const a = (n >> 8) & 0xff; const b = n & 0xff;
      if (b === 0 || b === 255 || (a === 0 && b < 10)) continue;
      if (a > 254) throw new Error('pod address range exhausted');
      return `${CLUSTER_CIDR_PREFIX}.${a}.${b}`;
    }
  }
  private allocServiceIP(): string {
    for (;;) {
      const n = this.svcSeq++;
      const a = (n >> 8) & 0xff; const b = n & 0xff;
      if (b === 0 || b === 255) continue;
      return `${SERVICE_CIDR_PREFIX}.${a}.${b}`;
    }
  }

  // ---------------------------------------------------------------- claims
  private ensureClaim(ns: string, name: string, labels: Record<string, string>): Claim {
    const key = `${ns}/${name}`;
    let c = this.claims.get(key);
    if (!c) {
      c = { namespace: ns, name, dir: `${this.sdir}/pvc/${ns}/${name}`, deleting: false, labels, createdAt: Date.now() };
      mkdirp(c.dir);
      fs.chmodSync(c.dir, 0o755);
      this.claims.set(key, c);
      this.event(`claim ${key} created`);
    }
    return c;
  }

  deleteClaim(ns: string, name: string): string {
    const c = this.claims.get(`${ns}/${name}`);
    if (!c) throw new Error(`persistentvolumeclaim "${name}" not found in namespace ${ns}`);
    c.deleting = true;
    this.event(`claim ${ns}/${name} marked for deletion`);
    this.scheduleReconcile();
    return `persistentvolumeclaim/${name} deleted${this.claimInUse(c) ? ' (kept until the pod using it is gone: pvc-protection)' : ''}`;
  }

  private claimInUse(c: Claim): boolean {
    for (const p of this.pods.values()) {
      if (p.gone || p.namespace !== c.namespace) continue;
      for (const v of p.spec.volumes ?? []) if (v.persistentVolumeClaim?.claimName === c.name) return true;
    }
    return false;
  }

  claimsList(ns?: string): Claim[] {
    return [...this.claims.values()].filter((c) => !ns || c.namespace === ns);
  }

  // ---------------------------------------------------------------- reconcile
  scheduleReconcile(): void {
    if (this.stopping) return;
    for (const p of this.pods.values()) if (!p.readyAt && p.ready) p.readyAt = Date.now();
    if (this.reconciling) { this.reconcileAgain = true; return; }
    if (this.reconcileTimer) return;
    this.reconcileTimer = setTimeout(() => { this.reconcileTimer = undefined; void this.reconcile(); }, 10);
  }

  private async reconcile(): Promise<void> {
    if (this.stopping) return;
    this.reconciling = true;
    try {
      for (const c of [...this.claims.values()]) {
        if (c.deleting && !this.claimInUse(c)) {
          this.claims.delete(`${c.namespace}/${c.name}`);
          await unmountUnder(c.dir);
          rmrf(c.dir);
          this.event(`claim ${c.namespace}/${c.name} deleted`);
        }
      }
      for (const sts of this.list('StatefulSet')) {
        try { this.reconcileStatefulSet(sts); } catch (e) { this.event(`statefulset ${sts.metadata.name}: ${(e as Error).message}`); }
      }
      for (const d of this.list('Deployment')) {
        try { this.reconcileDeployment(d); } catch (e) { this.event(`deployment ${d.metadata.name}: ${(e as Error).message}`); }
      }
      if (this.netDirty) void this.syncNetwork();
    } finally {
      this.reconciling = false;
      if (this.reconcileAgain) { this.reconcileAgain = false; this.scheduleReconcile(); }
    }
  }

  private ownedPods(kind: string, ns: string, name: string): Pod[] {
    return [...this.pods.values()].filter((p) => p.owner?.kind === kind && p.owner.name === name && p.namespace === ns);
  }

  private templateRevision(tmpl: Obj): string {
    return hashString(stableStringify(tmpl));
  }

  private reconcileStatefulSet(sts: Obj): void {
    const ns = sts.metadata.namespace; const name = sts.metadata.name;
    const spec = sts.spec;
    const replicas = spec.replicas ?? 1;
    const parallel = spec.podManagementPolicy === 'Parallel';
    const rev = this.templateRevision(spec.template);
    const pods = this.ownedPods('StatefulSet', ns, name);
    const byOrd = new Map<number, Pod>();
    for (const p of pods) byOrd.set(p.ordinal, p);

    // a pod that failed to start is replaced, as the controller does with a Failed pod
    for (const p of pods) if (p.phase === 'Failed' && !p.deleting && Date.now() - (p.failedAt ?? 0) > 5000) { void this.deletePod(ns, p.name, { graceSeconds: 0 }); return; }
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
          const c = this.claims.get(`${ns}/${cname}`);
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
      const scaleDown = (p: Pod) => this.deletePod(ns, p.name, {}).then(() => {
        if (spec.persistentVolumeClaimRetentionPolicy?.whenScaled !== 'Delete') return;
        for (const t of spec.volumeClaimTemplates ?? []) { try { this.deleteClaim(ns, `${t.metadata.name}-${p.name}`); } catch { /* gone */ } }
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
      this.event(`statefulset ${ns}/${name}: rolling update of ${outdated[0].name}`);
      void this.deletePod(ns, outdated[0].name, {});
    }
  }

  private createStatefulPod(sts: Obj, i: number, rev: string): void {
    const ns = sts.metadata.namespace; const name = sts.metadata.name;
    const podName = `${name}-${i}`;
    const tmpl = JSON.parse(JSON.stringify(sts.spec.template));
    const spec = tmpl.spec;
    spec.hostname = podName;
    spec.subdomain = sts.spec.serviceName;
    spec.volumes = [...(spec.volumes ?? [])];
    for (const t of sts.spec.volumeClaimTemplates ?? []) {
      const cname = `${t.metadata.name}-${podName}`;
      this.ensureClaim(ns, cname, { ...(sts.spec.selector?.matchLabels ?? {}), ...(t.metadata.labels ?? {}) });
      spec.volumes = spec.volumes.filter((v: Obj) => v.name !== t.metadata.name);
      spec.volumes.push({ name: t.metadata.name, persistentVolumeClaim: { claimName: cname } });
    }
    const labels = { ...(tmpl.metadata?.labels ?? {}), 'statefulset.kubernetes.io/pod-name': podName, 'apps.kubernetes.io/pod-index': String(i), 'controller-revision-hash': `${name}-${rev}` };
    const obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: ns, labels, annotations: tmpl.metadata?.annotations ?? {} }, spec };
    this.createPod(obj, { kind: 'StatefulSet', name }, rev);
  }

  private reconcileDeployment(d: Obj): void {
    const ns = d.metadata.namespace; const name = d.metadata.name;
    const spec = d.spec;
    const replicas = spec.replicas ?? 1;
    const rev = this.templateRevision(spec.template);
    for (const p of this.ownedPods('Deployment', ns, name)) if (p.phase === 'Failed' && !p.deleting && Date.now() - (p.failedAt ?? 0) > 5000) void this.deletePod(ns, p.name, { graceSeconds: 0 });
    const all = this.ownedPods('Deployment', ns, name);
    const live = all.filter((p) => !p.deleting);
    const newPods = live.filter((p) => p.revision === rev);
    const oldPods = live.filter((p) => p.revision !== rev);
    const create = () => {
      const podName = `${name}-${rev}-${randomSuffix(5)}`;
      const tmpl = JSON.parse(JSON.stringify(spec.template));
      const labels = { ...(tmpl.metadata?.labels ?? {}), 'pod-template-hash': rev };
      this.createPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: ns, labels, annotations: tmpl.metadata?.annotations ?? {} }, spec: tmpl.spec }, { kind: 'Deployment', name }, rev);
    };
    const pickVictims = (ps: Pod[], n: number) => [...ps].sort((a, b) => Number(a.ready) - Number(b.ready) || b.createdAt - a.createdAt).slice(0, n);
    if ((spec.strategy?.type ?? 'RollingUpdate') === 'Recreate') {
      if (oldPods.length) { for (const p of oldPods) void this.deletePod(ns, p.name, {}); return; }
      if (all.some((p) => p.deleting && p.revision !== rev)) return;
    }
    if (!oldPods.length) {
      for (let i = newPods.length; i < replicas; i++) create();
      if (newPods.length > replicas) for (const p of pickVictims(newPods, newPods.length - replicas)) void this.deletePod(ns, p.name, {});
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
      if (!p.ready) { void this.deletePod(ns, p.name, {}); continue; }
      if (available - 1 >= minAvailable && (excess > 0 || maxUnavailable > 0)) {
        void this.deletePod(ns, p.name, {});
        available--; excess--;
      }
    }
  }

  // ---------------------------------------------------------------- pods
  createPod(obj: Obj, owner: { kind: string; name: string } | undefined, revision: string): Pod {
    const pod = new Pod(obj, owner, revision, this, ++this.podSeq);
    this.pods.set(pod.key, pod);
    this.event(`pod ${pod.key} created (uid ${pod.uid})`);
    void this.startPod(pod).finally(() => pod.resolveSetup()).catch((e) => {
      this.event(`pod ${pod.key} failed to start: ${(e as Error).stack}`);
      pod.events.push(`start failed: ${(e as Error).message}`);
      pod.phase = 'Failed';
      pod.failedAt = Date.now();
    });
    return pod;
  }

  private async startPod(pod: Pod): Promise<void> {
    mkdirp(pod.dir);
    mkdirp(pod.cgroup);
    // network: own namespace, own address on the bridge, no default route
    pod.ip = this.allocPodIP();
    const seq = Number(pod.uid.split('-')[0]);
    const ns = `${netnsPrefix(this.opts.instance)}${seq}`;
    const veth = `v${seq}`;
    await must('ip', ['netns', 'add', ns]);
    pod.netns = ns;
    // one `ip -batch` per namespace (fork is slow here)
    await must('ip', ['-n', ns, '-batch', '-'], {
      input: [
        `link add eth0 type veth peer name ${veth} netns ${this.infraNs}`,
        `addr add ${pod.ip}/16 dev eth0`,
        'link set eth0 up',
        'link set lo up',
        `route add ${SERVICE_CIDR_PREFIX}.0.0/16 dev eth0`,
      ].join('\n') + '\n',
    });
    await must('ip', ['-n', this.infraNs, 'link', 'set', veth, 'master', 'br0', 'up']);
    await this.applyNft(ns, this.serviceRuleset());
    mkdirp(`/etc/netns/${ns}`);
    this.writeInPlace(`/etc/netns/${ns}/hosts`, this.hostsFor(pod));
    fs.writeFileSync(`/etc/netns/${ns}/resolv.conf`,
      `search ${pod.namespace}.svc.${this.opts.clusterDomain} svc.${this.opts.clusterDomain} ${this.opts.clusterDomain}\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n`);
    fs.writeFileSync(`/etc/netns/${ns}/hostname`, `${pod.hostname}\n`);
    this.netDirty = true;
    if (pod.deleting) return;
    // volumes: like the kubelet, keep retrying a mount that cannot be set up (e.g. a missing ConfigMap)
    for (;;) {
      try { await this.setupVolumes(pod); break; } catch (e) {
        const msg = `FailedMount: ${(e as Error).message}`;
        if (pod.events[pod.events.length - 1] !== msg) { pod.events.push(msg); this.event(`pod ${pod.key} ${msg}`); }
        for (const c of [...pod.initContainers, ...pod.containers]) c.reason = 'ContainerCreating';
        await sleep(2000);
        if (pod.deleting) return;
      }
    }
    if (pod.deleting) return;
    pod.phase = 'Running';
    pod.resolveSetup();
    // init containers, one after another
    for (const c of pod.initContainers) {
      for (;;) {
        if (pod.deleting) return;
        const code = await this.runContainerOnce(pod, c);
        if (pod.deleting) return;
        if (code === 0) { c.state = 'terminated'; c.reason = 'Completed'; break; }
        c.reason = 'Error';
        this.event(`pod ${pod.key} init container ${c.name} failed with ${code}`);
        if (pod.spec.restartPolicy === 'Never') { pod.phase = 'Failed'; return; }
        await this.backoff(pod, c);
      }
    }
    pod.initDone = true;
    for (const c of pod.containers) void this.runContainerLoop(pod, c);
    this.scheduleReconcile();
  }

  private backoff(pod: Pod, c: Container): Promise<void> {
    const delay = Math.min(this.opts.backoffBaseSeconds * 2 ** Math.max(0, c.consecutiveCrashes - 1), this.opts.backoffMaxSeconds);
    c.state = 'waiting';
    c.reason = 'CrashLoopBackOff';
    this.event(`pod ${pod.key} container ${c.name}: back-off ${delay}s before restart ${c.restartCount}`);
    return new Promise((r) => { c.backoffTimer = setTimeout(() => { c.backoffTimer = undefined; r(); }, delay * 1000); });
  }

  private async runContainerLoop(pod: Pod, c: Container): Promise<void> {
    for (;;) {
      if (pod.deleting) return;
      const code = await this.runContainerOnce(pod, c);
      if (pod.deleting) return;
      const policy = pod.spec.restartPolicy ?? 'Always';
      if (policy === 'Never' || (policy === 'OnFailure' && code === 0)) return;
      await this.backoff(pod, c);
    }
  }

  /** Start one container and resolve with its exit code when its PID 1 is gone. */
  private async runContainerOnce(pod: Pod, c: Container): Promise<number> {
    const runId = ++c.runId;
    c.ready = false;
    c.started = false;
    c.state = 'waiting';
    c.reason = 'ContainerCreating';
    c.killing = false;
    let argv: string[];
    try {
      argv = this.prepareContainer(pod, c);
    } catch (e) {
      c.reason = 'CreateContainerConfigError';
      this.event(`pod ${pod.key} container ${c.name}: ${(e as Error).message}`);
      pod.events.push(`${c.name}: ${(e as Error).message}`);
      await sleep(2000);
      return 128;
    }
    const logFile = this.logPath(pod, c);
    if (c.restartCount > 0 || c.lastExitCode !== undefined) {
      try { fs.renameSync(logFile, `${logFile}.previous`); } catch { /* none */ }
    }
    const logFd = fs.openSync(logFile, 'a', 0o640);
    const proc = spawn('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', `${pod.cgroup}/cgroup.procs`, ...argv], {
      stdio: ['ignore', logFd, logFd, 'pipe'], env: c.env,
    });
    fs.closeSync(logFd);
    c.proc = proc;
    let info = '';
    const infoDone = new Promise<void>((resolve) => {
      const s = proc.stdio[3] as NodeJS.ReadableStream;
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        info += d;
        const m = /"child-pid":\s*(\d+)/.exec(info);
        if (m && !c.pid1) { c.pid1 = Number(m[1]); resolve(); }
      });
      s.on('end', () => resolve());
      s.on('error', () => resolve());
    });
    c.pid1 = undefined;
    const exited = new Promise<number>((resolve) => {
      proc.once('exit', (code, sig) => resolve(code ?? (sig ? 128 + (({ SIGKILL: 9, SIGTERM: 15 } as any)[sig] ?? 1) : 1)));
      proc.once('error', () => resolve(127));
    });
    c.exited = exited;
    const spawned = Promise.race([infoDone, exited]);
    c.spawning = spawned;
    await spawned;
    c.spawning = undefined;
    if (c.pid1) {
      // bwrap reports the child before it has built the mount namespace: wait until the child has
      // exec'd (setpriv, then the command), so exec probes enter a finished container
      const pid = c.pid1;
      for (let i = 0; i < 2000; i++) {
        let cmd = '';
        try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { break; }
        if (!cmd.startsWith('/usr/bin/bwrap')) break;
        await sleep(5);
      }
    }
    if (c.pid1) {
      c.state = 'running';
      c.reason = '';
      c.startedAt = Date.now();
      c.exitCode = undefined;
      this.event(`pod ${pod.key} container ${c.name} started (pid ${c.pid1}, restart ${c.restartCount})`);
      // postStart runs right after the start; the container counts as started only when it
      // succeeded, and a failing hook kills the container (it is then restarted)
      const post = c.spec.lifecycle?.postStart?.exec?.command;
      if (post && !c.init) {
        const r = await this.execIn(pod, c, post, (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000 + 60000);
        if (r.code !== 0 && c.runId === runId && !pod.deleting) {
          pod.events.push(`FailedPostStartHook: ${c.name}: exit ${r.code}: ${(r.stdout + r.stderr).trim().slice(0, 200)}`);
          this.event(`pod ${pod.key} container ${c.name}: postStart hook failed (${r.code}), killing it`);
          void this.killContainer(pod, c, true);
        }
      }
      if (!c.init && c.runId === runId && c.state === 'running') this.startProbes(pod, c, runId);
      this.netDirty = true;
      this.scheduleReconcile();
    }
    const code = await exited;
    c.pid1 = undefined;
    c.proc = undefined;
    // the kubelet notices a dead container on its next relist (PLEG, ~1 s): until then the pod
    // still counts as Ready and stays an endpoint
    if (c.ready && !c.killing && !pod.deleting && this.opts.statusLagMs > 0) {
      setTimeout(() => {
        if (c.runId === runId && c.ready) { c.ready = false; this.netDirty = true; this.scheduleReconcile(); }
      }, this.opts.statusLagMs);
    } else c.ready = false;
    c.started = false;
    c.state = 'terminated';
    c.reason = code === 0 ? 'Completed' : 'Error';
    c.exitCode = code;
    c.lastExitCode = code;
    const ranMs = Date.now() - (c.startedAt ?? Date.now());
    if (ranMs > 10 * 60 * 1000) c.consecutiveCrashes = 0;
    this.event(`pod ${pod.key} container ${c.name} exited with ${code} after ${ranMs} ms`);
    this.netDirty = true;
    this.scheduleReconcile();
    if (!pod.deleting && !c.init) { c.restartCount++; c.consecutiveCrashes++; }
    if (!pod.deleting && c.init && code !== 0) { c.restartCount++; c.consecutiveCrashes++; }
    return code;
  }

  logPath(pod: Pod, c: Container | string): string {
    const n = typeof c === 'string' ? c : c.name;
    return `${this.sdir}/logs/${pod.namespace}_${pod.name}_${pod.uid}_${n}.log`;
  }

  private capLogs(): void {
    let ents: string[] = [];
    try { ents = fs.readdirSync(`${this.sdir}/logs`); } catch { return; }
    for (const e of ents) {
      const f = `${this.sdir}/logs/${e}`;
      try {
        const st = fs.statSync(f);
        if (st.size > this.opts.logCapBytes) {
          // keep the newest quarter; writers use O_APPEND so truncation is safe
          const keep = Math.floor(this.opts.logCapBytes / 4);
          const fd = fs.openSync(f, 'r+');
          const buf = Buffer.alloc(keep);
          fs.readSync(fd, buf, 0, keep, st.size - keep);
          fs.ftruncateSync(fd, 0);
          fs.writeSync(fd, `[podrt: log cut at ${st.size} bytes]\n`);
          fs.writeSync(fd, buf);
          fs.closeSync(fd);
        }
      } catch { /* gone */ }
    }
  }

  // ---------------------------------------------------------------- container preparation
  private resolveSecurity(pod: Pod, c: Container): void {
    const psc = pod.spec.securityContext ?? {};
    const csc = c.spec.securityContext ?? {};
    const { profile } = profileFor(c.spec.image);
    c.profile = profile;
    c.uid = csc.runAsUser ?? psc.runAsUser ?? profile.defaultUid;
    c.gid = csc.runAsGroup ?? psc.runAsGroup ?? (csc.runAsUser !== undefined || psc.runAsUser !== undefined ? (profile.users.find((u) => u.uid === c.uid)?.gid ?? 0) : profile.defaultGid);
    if ((csc.runAsNonRoot ?? psc.runAsNonRoot) && c.uid === 0) throw new Error('container has runAsNonRoot and image will run as root');
    const groups = new Set<number>();
    if (psc.fsGroup !== undefined) groups.add(psc.fsGroup);
    for (const g of psc.supplementalGroups ?? []) groups.add(g);
    const uname = profile.users.find((u) => u.uid === c.uid)?.name;
    for (const g of profile.groups) if (uname && g.members?.includes(uname)) groups.add(g.gid);
    c.groups = [...groups];
    const priv: string[] = ['--reuid', String(c.uid), '--regid', String(c.gid)];
    priv.push(...(c.groups.length ? ['--groups', c.groups.join(',')] : ['--clear-groups']));
    if (csc.allowPrivilegeEscalation === false) priv.push('--no-new-privs');
    const drop = csc.capabilities?.drop ?? [];
    if (drop.includes('ALL')) priv.push('--inh-caps=-all', '--bounding-set=-all');
    else priv.push(`--bounding-set=-all,${DEFAULT_CAPS.map((x) => '+' + x).join(',')}`);
    c.privArgs = priv;
    c.workingDir = c.spec.workingDir ?? profile.workingDir;
  }

  private lookupKey(kind: 'ConfigMap' | 'Secret', ns: string, name: string, key: string, optional: boolean, what: string): string | undefined {
    const o = this.getObject(kind, ns, name);
    if (!o) { if (optional) return undefined; throw new Error(`${what}: ${kind.toLowerCase()} "${name}" not found`); }
    let v: string | undefined;
    if (kind === 'Secret') v = o.data?.[key] !== undefined ? Buffer.from(o.data[key], 'base64').toString('utf8') : undefined;
    else v = o.data?.[key] ?? (o.binaryData?.[key] !== undefined ? Buffer.from(o.binaryData[key], 'base64').toString('utf8') : undefined);
    if (v === undefined && !optional) throw new Error(`${what}: couldn't find key ${key} in ${kind} ${ns}/${name}`);
    return v;
  }

  private buildEnv(pod: Pod, c: Container): Record<string, string> {
    const defined: Record<string, string> = {};
    // service links (enableServiceLinks, default true): services of the namespace that exist now
    if (pod.spec.enableServiceLinks !== false) {
      for (const s of this.list('Service', pod.namespace)) {
        const ip = this.serviceIPs.get(`${pod.namespace}/${s.metadata.name}`);
        if (!ip) continue;
        const base = s.metadata.name.toUpperCase().replace(/-/g, '_');
        const ports = s.spec?.ports ?? [];
        if (!ports.length) continue;
        defined[`${base}_SERVICE_HOST`] = ip;
        defined[`${base}_SERVICE_PORT`] = String(ports[0].port);
        for (const p of ports) {
          if (p.name) defined[`${base}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
          const proto = (p.protocol ?? 'TCP').toLowerCase();
          const pre = `${base}_PORT_${p.port}_${proto.toUpperCase()}`;
          defined[pre] = `${proto}://${ip}:${p.port}`;
          defined[`${pre}_PROTO`] = proto;
          defined[`${pre}_PORT`] = String(p.port);
          defined[`${pre}_ADDR`] = ip;
        }
        defined[`${base}_PORT`] = `${(ports[0].protocol ?? 'TCP').toLowerCase()}://${ip}:${ports[0].port}`;
      }
    }
    // envFrom: every key of the ConfigMap/Secret that is a valid variable name, before env
    for (const ef of c.spec.envFrom ?? []) {
      const ref = ef.configMapRef ?? ef.secretRef;
      const kind = ef.configMapRef ? 'ConfigMap' : 'Secret';
      if (!ref) continue;
      const o = this.getObject(kind, pod.namespace, ref.name);
      if (!o) { if (ref.optional) continue; throw new Error(`envFrom: ${kind.toLowerCase()} "${ref.name}" not found`); }
      for (const [k, raw] of Object.entries(o.data ?? {})) {
        const name = `${ef.prefix ?? ''}${k}`;
        if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)) continue; // kubelet skips invalid names (with an event)
        defined[name] = kind === 'Secret' ? Buffer.from(String(raw), 'base64').toString('utf8') : String(raw);
      }
    }
    for (const e of c.spec.env ?? []) {
      let v: string | undefined;
      if (e.valueFrom) {
        const vf = e.valueFrom;
        if (vf.configMapKeyRef) v = this.lookupKey('ConfigMap', pod.namespace, vf.configMapKeyRef.name, vf.configMapKeyRef.key, !!vf.configMapKeyRef.optional, `env ${e.name}`);
        else if (vf.secretKeyRef) v = this.lookupKey('Secret', pod.namespace, vf.secretKeyRef.name, vf.secretKeyRef.key, !!vf.secretKeyRef.optional, `env ${e.name}`);
        else if (vf.fieldRef) {
          const fp = vf.fieldRef.fieldPath;
          if (fp === 'metadata.name') v = pod.name;
          else if (fp === 'metadata.namespace') v = pod.namespace;
          else if (fp === 'status.podIP') v = pod.ip ?? '';
          else if (fp === 'status.podIPs') v = pod.ip ?? '';
          else if (fp === 'metadata.uid') v = pod.uid;
          else if (fp === 'spec.nodeName') v = 'podrt-node';
          else if (fp === 'status.hostIP') v = BRIDGE_IP;
          else if (fp === 'spec.serviceAccountName') v = pod.spec.serviceAccountName ?? 'default';
          else { const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fp); if (m) v = (pod.obj.metadata[m[1]] ?? {})[m[2]] ?? ''; else throw new Error(`env ${e.name}: fieldRef ${fp} not supported`); }
        } else throw new Error(`env ${e.name}: valueFrom kind not supported`);
        if (v === undefined) continue; // optional and absent: not set
      } else {
        v = expandVars(String(e.value ?? ''), (n) => defined[n]);
      }
      defined[e.name] = v;
    }
    const env: Record<string, string> = { ...c.profile.env, ...defined };
    env.HOSTNAME = pod.hostname;
    if (env.HOME === undefined) env.HOME = c.profile.users.find((u) => u.uid === c.uid)?.home ?? '/';
    return env;
  }

  private etc(): { binds: string[]; links: [string, string][] } {
    if (this.etcEntries) return this.etcEntries;
    const skip = new Set(['passwd', 'group', 'shadow', 'gshadow', 'hosts', 'hostname', 'resolv.conf', 'netns', 'passwd-', 'group-', 'shadow-', 'gshadow-', 'subuid', 'subgid', 'sudoers', 'sudoers.d', 'ssh']);
    const binds: string[] = []; const links: [string, string][] = [];
    for (const e of fs.readdirSync('/etc', { withFileTypes: true })) {
      if (skip.has(e.name)) continue;
      if (e.isSymbolicLink()) links.push([e.name, fs.readlinkSync(`/etc/${e.name}`)]);
      else if (e.isFile() || e.isDirectory()) binds.push(e.name);
    }
    this.etcEntries = { binds, links };
    return this.etcEntries;
  }

  /** Build the container's root directory and the command line that runs it. */
  private prepareContainer(pod: Pod, c: Container): string[] {
    this.resolveSecurity(pod, c);
    c.env = this.buildEnv(pod, c);
    const profile = c.profile;
    // argv: command/args with $(VAR) expansion from the container's env
    const look = (n: string) => c.env[n];
    let argv: string[];
    const cmd: string[] | undefined = c.spec.command?.map((s: string) => expandVars(String(s), look));
    const args: string[] | undefined = c.spec.args?.map((s: string) => expandVars(String(s), look));
    if (cmd && cmd.length) argv = [...cmd, ...(args ?? [])];
    else if (profile.entrypoint) argv = [...profile.entrypoint, ...(args ?? [])];
    else throw new Error(`image ${c.spec.image} (profile ${profile.name}) has no default command on this host: set command`);

    const cdir = `${pod.dir}/c/${c.name}`;
    const root = `${cdir}/rootfs`;
    rmrf(root);
    mkdirp(`${root}/etc`);
    fs.chmodSync(root, 0o755);
    for (const [l, t] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']]) fs.symlinkSync(t, `${root}/${l}`);
    mkdirp(`${root}/var`);
    fs.symlinkSync('../run', `${root}/var/run`);
    for (const d of profile.dirs) {
      mkdirp(`${root}${d.path}`);
      fs.chownSync(`${root}${d.path}`, d.uid, d.gid);
      fs.chmodSync(`${root}${d.path}`, d.mode);
    }
    fs.writeFileSync(`${cdir}/passwd`, passwdFile(profile), { mode: 0o644 });
    fs.writeFileSync(`${cdir}/group`, groupFile(profile), { mode: 0o644 });
    fs.writeFileSync(`${cdir}/shadow`, shadowFile(profile), { mode: 0o640 });
    fs.chownSync(`${cdir}/shadow`, 0, 42);
    fs.chmodSync(`${cdir}/shadow`, 0o640);
    const etc = this.etc();
    for (const [n, t] of etc.links) { try { fs.symlinkSync(t, `${root}/etc/${n}`); } catch { /* exists */ } }
    const b: string[] = ['--bind', root, '/', '--ro-bind', '/usr', '/usr', '--proc', '/proc', '--dev', '/dev'];
    // the host's /etc entries (the image's /etc), except where the pod mounts a volume
    const mountPaths: string[] = (c.spec.volumeMounts ?? []).map((m: Obj) => path.posix.normalize(m.mountPath));
    for (const n of etc.binds) {
      if (mountPaths.some((mp) => mp === `/etc/${n}` || mp.startsWith(`/etc/${n}/`))) continue;
      b.push('--ro-bind', `/etc/${n}`, `/etc/${n}`);
    }
    const ns = pod.netns!;
    b.push('--ro-bind', `${cdir}/passwd`, '/etc/passwd', '--ro-bind', `${cdir}/group`, '/etc/group', '--ro-bind', `${cdir}/shadow`, '/etc/shadow');
    b.push('--ro-bind', `/etc/netns/${ns}/hosts`, '/etc/hosts', '--ro-bind', `/etc/netns/${ns}/resolv.conf`, '/etc/resolv.conf', '--ro-bind', `/etc/netns/${ns}/hostname`, '/etc/hostname');
    // volumes, parents before children
    const mounts = [...(c.spec.volumeMounts ?? [])].sort((x: Obj, y: Obj) => x.mountPath.split('/').length - y.mountPath.split('/').length);
    for (const m of mounts) {
      const v = (pod.spec.volumes ?? []).find((x: Obj) => x.name === m.name);
      if (!v) throw new Error(`volumeMount ${m.name}: no such volume`);
      let src = this.volumePath(pod, v);
      const ro = !!m.readOnly || !!v.configMap || !!v.secret || !!v.persistentVolumeClaim?.readOnly;
      if (m.subPath) {
        if (m.subPath.includes('..')) throw new Error(`subPath ${m.subPath} must not contain ..`);
        src = `${src}/${m.subPath}`;
        if (!fs.existsSync(src)) {
          if (v.configMap || v.secret) throw new Error(`subPath ${m.subPath} not found in volume ${m.name}`);
          mkdirp(src);
          const st = fs.statSync(path.dirname(src));
          fs.chownSync(src, st.uid, st.gid);
        }
        src = fs.realpathSync(src);
      }
      // mount points: parents 0755 (as a container runtime creates them; bwrap would use 0700),
      // the point itself a directory or an empty file like its source
      const target = path.posix.normalize(m.mountPath);
      const under = (p: string) => !['/usr', '/proc', '/dev'].some((x) => p === x || p.startsWith(x + '/'));
      if (under(target)) {
        const parts = target.split('/').filter(Boolean);
        let cur = root;
        for (let i = 0; i < parts.length - 1; i++) {
          cur += '/' + parts[i];
          if (!fs.existsSync(cur)) { fs.mkdirSync(cur); fs.chmodSync(cur, 0o755); }
        }
        const mp = `${root}${target}`;
        if (!fs.existsSync(mp)) {
          if (fs.statSync(src).isDirectory()) { fs.mkdirSync(mp); fs.chmodSync(mp, 0o755); } else fs.writeFileSync(mp, '');
        }
      }
      b.push(ro ? '--ro-bind' : '--bind', src, m.mountPath);
    }
    const ro = !!c.spec.securityContext?.readOnlyRootFilesystem;
    if (ro) b.push('--remount-ro', '/');
    b.push('--unshare-pid', '--unshare-uts', '--unshare-ipc', '--hostname', pod.hostname, '--as-pid-1', '--die-with-parent', '--info-fd', '3', '--chdir', c.workingDir);
    return ['/usr/bin/nsenter', `--net=/run/netns/${ns}`, '--', '/usr/bin/bwrap', ...b, '--', '/usr/bin/setpriv', ...c.privArgs, '--', ...argv];
  }

  // ---------------------------------------------------------------- volumes
  private volumePath(pod: Pod, v: Obj): string {
    if (v.persistentVolumeClaim) {
      const c = this.claims.get(`${pod.namespace}/${v.persistentVolumeClaim.claimName}`);
      if (!c) throw new Error(`persistentvolumeclaim "${v.persistentVolumeClaim.claimName}" not found`);
      return c.dir;
    }
    return `${pod.dir}/vol/${v.name}`;
  }

  private async setupVolumes(pod: Pod): Promise<void> {
    const fsGroup: number | undefined = pod.spec.securityContext?.fsGroup;
    for (const v of pod.spec.volumes ?? []) {
      const dir = `${pod.dir}/vol/${v.name}`;
      if (v.emptyDir) {
        mkdirp(dir);
        if (v.emptyDir.medium === 'Memory' && !pod.mounted.has(dir)) {
          pod.mounted.add(dir);
          const size = parseQuantity(v.emptyDir.sizeLimit);
          await must('mount', ['-t', 'tmpfs', '-o', `mode=0777${size ? `,size=${size}` : ''}`, `podrt-${v.name}`, dir]);
        }
        fs.chmodSync(dir, 0o777);
        if (fsGroup !== undefined) { fs.chownSync(dir, 0, fsGroup); fs.chmodSync(dir, 0o2777); }
      } else if (v.configMap || v.secret) {
        this.writeConfigVolume(pod, v, dir);
      } else if (v.persistentVolumeClaim) {
        const claim = this.claims.get(`${pod.namespace}/${v.persistentVolumeClaim.claimName}`);
        if (!claim) throw new Error(`persistentvolumeclaim "${v.persistentVolumeClaim.claimName}" not found`);
        if (fsGroup !== undefined && this.opts.pvcFsGroup && !v.persistentVolumeClaim.readOnly) {
          const st = fs.statSync(claim.dir);
          const onRootMismatch = pod.spec.securityContext?.fsGroupChangePolicy === 'OnRootMismatch';
          // kubelet's requiresPermissionChange: group, setgid and rwx for the group on the root
          const rootOk = st.gid === fsGroup && (st.mode & 0o2000) !== 0 && (st.mode & 0o770) === 0o770;
          if (!(onRootMismatch && rootOk)) this.applyFsGroup(claim.dir, fsGroup, false);
        }
      } else {
        throw new Error(`volume ${v.name}: type not implemented`);
      }
    }
  }

  /** kubelet's SetVolumeOwnership: group fsGroup, group rw (ro for read-only volumes), setgid dirs. */
  private applyFsGroup(dir: string, gid: number, readonly: boolean): void {
    const mask = readonly ? 0o440 : 0o660;
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) return;
      fs.lchownSync(p, -1 as any, gid);
      let m = mask;
      if (st.isDirectory()) m |= 0o2000 | 0o110;
      fs.chmodSync(p, (st.mode & 0o7777) | m);
      if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(`${p}/${e}`);
    };
    walk(dir);
  }

  private writeConfigVolume(pod: Pod, v: Obj, dir: string): void {
    const isSecret = !!v.secret;
    const src = isSecret ? v.secret : v.configMap;
    const name = isSecret ? src.secretName : src.name;
    const o = this.getObject(isSecret ? 'Secret' : 'ConfigMap', pod.namespace, name);
    if (!o && !src.optional) throw new Error(`${isSecret ? 'secret' : 'configmap'} "${name}" not found (volume ${v.name})`);
    const data: Record<string, Buffer> = {};
    if (o) {
      if (isSecret) for (const [k, val] of Object.entries(o.data ?? {})) data[k] = Buffer.from(String(val), 'base64');
      else {
        for (const [k, val] of Object.entries(o.data ?? {})) data[k] = Buffer.from(String(val));
        for (const [k, val] of Object.entries(o.binaryData ?? {})) data[k] = Buffer.from(String(val), 'base64');
      }
    }
    const defaultMode = src.defaultMode ?? 0o644;
    const files: { path: string; data: Buffer; mode: number }[] = [];
    if (src.items?.length) {
      for (const it of src.items) {
        if (!(it.key in data)) { if (src.optional) continue; throw new Error(`volume ${v.name}: key ${it.key} not found in ${name}`); }
        files.push({ path: it.path, data: data[it.key], mode: it.mode ?? defaultMode });
      }
    } else {
      for (const [k, d] of Object.entries(data)) files.push({ path: k, data: d, mode: defaultMode });
    }
    const fsGroup: number | undefined = pod.spec.securityContext?.fsGroup;
    // kubelet's atomic writer layout: ..<timestamp>/files, ..data -> ..<timestamp>, key -> ..data/key
    mkdirp(dir);
    fs.chmodSync(dir, 0o1777);
    const ts = `..${new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '')}.${randomSuffix(6)}`;
    const tsDir = `${dir}/${ts}`;
    mkdirp(tsDir);
    fs.chmodSync(tsDir, 0o755);
    for (const f of files) {
      const p = `${tsDir}/${f.path}`;
      mkdirp(path.dirname(p));
      fs.writeFileSync(p, f.data);
      fs.chownSync(p, 0, 0);
      fs.chmodSync(p, f.mode);
    }
    if (fsGroup !== undefined) this.applyFsGroup(tsDir, fsGroup, true);
    const oldTarget = fs.existsSync(`${dir}/..data`) ? fs.readlinkSync(`${dir}/..data`) : undefined;
    try { fs.unlinkSync(`${dir}/..data_tmp`); } catch { /* */ }
    fs.symlinkSync(ts, `${dir}/..data_tmp`);
    fs.renameSync(`${dir}/..data_tmp`, `${dir}/..data`);
    const tops = new Set(files.map((f) => f.path.split('/')[0]));
    for (const t of tops) {
      const l = `${dir}/${t}`;
      if (!fs.existsSync(l)) fs.symlinkSync(`..data/${t}`, l);
    }
    for (const e of fs.readdirSync(dir)) {
      if (e.startsWith('..')) continue;
      if (!tops.has(e)) { try { fs.unlinkSync(`${dir}/${e}`); } catch { /* */ } }
    }
    if (oldTarget && oldTarget !== ts) rmrf(`${dir}/${oldTarget}`);
    if (fsGroup !== undefined) { fs.chownSync(dir, 0, fsGroup); fs.chmodSync(dir, 0o3777); }
  }

  /** ConfigMap/Secret volume contents follow updates (not subPath mounts), as the kubelet's sync does. */
  private refreshConfigVolumes(kind: string, ns: string, name: string): void {
    for (const p of this.pods.values()) {
      if (p.namespace !== ns || p.deleting || p.phase === 'Pending') continue;
      for (const v of p.spec.volumes ?? []) {
        const matchesVol = kind === 'Secret' ? v.secret?.secretName === name : v.configMap?.name === name;
        if (!matchesVol) continue;
        try { this.writeConfigVolume(p, v, `${p.dir}/vol/${v.name}`); } catch (e) { this.event(`pod ${p.key} volume ${v.name}: ${(e as Error).message}`); }
      }
    }
  }

  // ---------------------------------------------------------------- probes
  private startProbes(pod: Pod, c: Container, runId: number): void {
    const alive = () => !pod.deleting && c.runId === runId && c.state === 'running' && !c.killing;
    const sp = c.spec.startupProbe; const rp = c.spec.readinessProbe; const lp = c.spec.livenessProbe;
    const afterStarted = () => {
      c.started = true;
      if (!rp) { c.ready = true; this.netDirty = true; this.scheduleReconcile(); }
      if (rp) void this.probeLoop(pod, c, rp, 'readiness', alive, (ok) => {
        if (c.ready !== ok) { c.ready = ok; this.event(`pod ${pod.key} container ${c.name} ready=${ok}`); this.netDirty = true; this.scheduleReconcile(); }
      });
      if (lp) void this.probeLoop(pod, c, lp, 'liveness', alive, (ok) => {
        if (!ok) { this.event(`pod ${pod.key} container ${c.name} failed liveness probe, will be restarted`); void this.killContainer(pod, c, true); }
      });
    };
    if (sp) {
      void this.probeLoop(pod, c, sp, 'startup', alive, (ok) => {
        if (ok) return true;
        this.event(`pod ${pod.key} container ${c.name} failed startup probe, will be restarted`);
        void this.killContainer(pod, c, true);
        return true;
      }, afterStarted);
    } else afterStarted();
  }

  /**
   * Run a probe periodically. `onResult` gets the thresholded state changes (readiness: true/false
   * after success/failureThreshold consecutive results; liveness/startup: false after
   * failureThreshold failures). For startup probes the loop ends at the first success.
   */
  private async probeLoop(pod: Pod, c: Container, p: Obj, kind: string, alive: () => boolean, onResult: (ok: boolean) => unknown, onStartupSuccess?: () => void): Promise<void> {
    const initial = (p.initialDelaySeconds ?? 0) * 1000;
    const period = (p.periodSeconds ?? 10) * 1000;
    const timeout = (p.timeoutSeconds ?? 1) * 1000;
    const failT = p.failureThreshold ?? 3;
    const succT = kind === 'readiness' ? (p.successThreshold ?? 1) : 1;
    let fails = 0; let succs = 0;
    // initialDelaySeconds counts from the container's start (also for probes that wait for startup)
    const delay = (c.startedAt ?? Date.now()) + initial - Date.now();
    if (delay > 0) await sleep(delay);
    while (alive()) {
      const t0 = Date.now();
      const r = await this.runProbe(pod, c, p, timeout);
      if (!alive()) return;
      if (r.ok) { succs++; fails = 0; } else { fails++; succs = 0; pod.events.push(`${kind} probe of ${c.name} failed: ${r.error ?? ''}`.slice(0, 300)); if (pod.events.length > 50) pod.events.splice(0, 10); }
      if (kind === 'startup') {
        if (r.ok) { onStartupSuccess?.(); return; }
        if (fails >= failT) { onResult(false); return; }
      } else if (kind === 'readiness') {
        if (r.ok && succs >= succT) onResult(true);
        if (!r.ok && fails >= failT) onResult(false);
      } else if (kind === 'liveness') {
        if (!r.ok && fails >= failT) { onResult(false); return; }
      }
      const wait = period - (Date.now() - t0);
      await sleep(Math.max(wait, 50));
    }
  }

  private async runProbe(pod: Pod, c: Container, p: Obj, timeoutMs: number): Promise<{ ok: boolean; error?: string }> {
    const resolvePort = (port: any): number => {
      if (typeof port === 'number') return port;
      if (/^\d+$/.test(String(port))) return Number(port);
      for (const ct of pod.containers) for (const cp of ct.spec.ports ?? []) if (cp.name === port) return cp.containerPort;
      throw new Error(`named port ${port} not found`);
    };
    try {
      if (p.exec) {
        if (!c.pid1) return { ok: false, error: 'container not running' };
        const r = await this.execIn(pod, c, p.exec.command, timeoutMs);
        return r.code === 0 ? { ok: true } : { ok: false, error: r.timedOut ? `timeout after ${timeoutMs}ms` : `exit ${r.code}: ${(r.stdout + r.stderr).trim().slice(0, 200)}` };
      }
      if (p.tcpSocket) {
        const r = await this.infraAgent!.request({ op: 'tcp', host: p.tcpSocket.host ?? pod.ip, port: resolvePort(p.tcpSocket.port), timeoutMs }, timeoutMs + 5000);
        return { ok: !!r.ok, error: r.error };
      }
      if (p.httpGet) {
        const h = p.httpGet;
        const r = await this.infraAgent!.request({ op: 'http', host: h.host ?? pod.ip, port: resolvePort(h.port), path: h.path ?? '/', scheme: h.scheme, headers: h.httpHeaders, timeoutMs }, timeoutMs + 5000);
        return { ok: !!r.ok, error: r.error };
      }
      return { ok: false, error: 'probe has no handler' };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  /** argv that runs a command inside a running container: its namespaces, root, uid, env. */
  execArgv(pod: Pod, c: Container, cmd: string[]): string[] {
    if (!c.pid1) throw new Error(`container ${c.name} of pod ${pod.key} is not running`);
    const envArgs = Object.entries(c.env).map(([k, v]) => `${k}=${v}`);
    return ['/usr/bin/nsenter', '-t', String(c.pid1), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--',
      '/usr/bin/env', '-i', '-C', c.workingDir, ...envArgs, '/usr/bin/setpriv', ...c.privArgs, '--', ...cmd];
  }

  execIn(pod: Pod, c: Container, cmd: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      let argv: string[];
      try { argv = this.execArgv(pod, c, cmd); } catch (e) { resolve({ code: 126, stdout: '', stderr: (e as Error).message, timedOut: false }); return; }
      const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {} });
      let out = ''; let err = ''; let timedOut = false;
      p.stdout!.on('data', (d) => { if (out.length < 1e6) out += d; });
      p.stderr!.on('data', (d) => { if (err.length < 1e6) err += d; });
      const t = setTimeout(() => {
        timedOut = true;
        try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
        resolve({ code: 124, stdout: out, stderr: err, timedOut });
      }, timeoutMs);
      p.once('close', (code, sig) => { clearTimeout(t); if (!timedOut) resolve({ code: code ?? (sig === 'SIGKILL' ? 137 : 1), stdout: out, stderr: err, timedOut }); });
      p.once('error', (e) => { clearTimeout(t); resolve({ code: 127, stdout: out, stderr: String(e), timedOut }); });
    });
  }

  /** Stop a container: preStop hook, SIGTERM to PID 1, SIGKILL after the grace period. */
  async killContainer(pod: Pod, c: Container, graceful: boolean, graceSeconds?: number): Promise<void> {
    if (!c.pid1 || c.killing) { if (c.exited) await c.exited; return; }
    c.killing = true;
    c.ready = false;
    this.netDirty = true;
    const pid = c.pid1;
    const exited = c.exited!;
    const grace = (graceSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const deadline = Date.now() + grace;
    if (graceful && grace > 0) {
      const pre = c.spec.lifecycle?.preStop?.exec?.command;
      if (pre) {
        this.event(`pod ${pod.key} container ${c.name}: preStop`);
        const r = await Promise.race([this.execIn(pod, c, pre, grace), exited.then(() => undefined)]);
        if (r) this.event(`pod ${pod.key} container ${c.name}: preStop exited ${r.code}`);
      }
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      const left = deadline - Date.now();
      const done = await Promise.race([exited.then(() => true), sleep(Math.max(left, 0)).then(() => false)]);
      if (done) return;
      this.event(`pod ${pod.key} container ${c.name}: grace period over, SIGKILL`);
    }
    if (pod.frozen) {
      // a frozen task cannot die (cgroup v1 freezer); a stopped process could: thaw the pod first
      this.event(`pod ${pod.key}: thawed to kill container ${c.name}`);
      cgroupSetFrozen(pod.cgroup, false);
      pod.frozen = false;
    }
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.race([exited, sleep(10000)]);
  }

  // ---------------------------------------------------------------- pod deletion
  findPod(ns: string, name: string): Pod {
    const p = this.pods.get(`${ns}/${name}`);
    if (!p) throw new Error(`pod "${name}" not found in namespace ${ns}`);
    return p;
  }

  async deletePod(ns: string, name: string, opts: { graceSeconds?: number; kill?: boolean } = {}): Promise<void> {
    const pod = this.pods.get(`${ns}/${name}`);
    if (!pod) throw new Error(`pod "${name}" not found in namespace ${ns}`);
    if (pod.deleting) { await pod.terminated; return; }
    pod.deleting = true;
    this.netDirty = true;
    this.event(`pod ${pod.key} deleting (${opts.kill ? 'SIGKILL' : `grace ${opts.graceSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30}s`})`);
    void this.syncNetwork();
    this.scheduleReconcile();
    for (const c of [...pod.containers, ...pod.initContainers]) if (c.backoffTimer) { clearTimeout(c.backoffTimer); c.backoffTimer = undefined; }
    // a pod still being set up finishes that first (its network namespace must not leak), and a
    // container being started gets its PID 1 known before it is stopped
    await Promise.race([pod.setup, sleep(30000)]);
    await Promise.race([Promise.all([...pod.containers, ...pod.initContainers].map((c) => c.spawning)), sleep(10000)]);
    if (opts.kill) {
      cgroupSetFrozen(pod.cgroup, false);
      await cgroupKillAndRemove(pod.cgroup, false);
    } else {
      await Promise.all([...pod.containers, ...pod.initContainers].map((c) => this.killContainer(pod, c, true, opts.graceSeconds)));
    }
    await cgroupKillAndRemove(pod.cgroup, true);
    await this.teardownPod(pod);
    pod.gone = true;
    this.pods.delete(pod.key);
    if (!pod.owner) this.bucket('Pod').delete(pod.key);
    this.event(`pod ${pod.key} deleted`);
    pod.resolveTerminated();
    this.netDirty = true;
    this.scheduleReconcile();
  }

  private async teardownPod(pod: Pod): Promise<void> {
    for (const [id, pf] of this.portForwards) if (pf.pod === pod) { pf.agent.close(); this.portForwards.delete(id); }
    if (pod.agent) {
      try { process.kill(pod.agent.pid, 'SIGKILL'); } catch { /* */ }
      pod.agent.client.close();
      try { fs.unlinkSync(pod.agent.sock); } catch { /* */ }
    }
    await unmountUnder(pod.dir);
    if (pod.netns) {
      await run('ip', ['netns', 'del', pod.netns]);
      this.nftApplied.delete(pod.netns);
      rmrf(`/etc/netns/${pod.netns}`);
      this.hostsWritten.delete(`/etc/netns/${pod.netns}/hosts`);
    }
    rmrf(pod.dir);
  }

  // ---------------------------------------------------------------- faults
  crash(ns: string, name: string, container?: string): string {
    const pod = this.findPod(ns, name);
    const c = pod.container(container);
    if (!c.pid1) throw new Error(`container ${c.name} of pod ${pod.key} is not running`);
    this.event(`fault: crash ${pod.key}/${c.name} (SIGKILL pid ${c.pid1})`);
    if (pod.frozen) { cgroupSetFrozen(pod.cgroup, false); pod.frozen = false; }
    process.kill(c.pid1, 'SIGKILL');
    return `container ${c.name} of pod ${name} killed`;
  }

  async killPod(ns: string, name: string): Promise<string> {
    this.event(`fault: kill pod ${ns}/${name}`);
    await this.deletePod(ns, name, { kill: true });
    return `pod ${name} killed`;
  }

  freeze(ns: string, name: string, frozen: boolean): string {
    const pod = this.findPod(ns, name);
    cgroupSetFrozen(pod.cgroup, frozen);
    pod.frozen = frozen;
    this.event(`fault: ${frozen ? 'freeze' : 'thaw'} ${pod.key}`);
    return `pod ${name} ${frozen ? 'frozen' : 'thawed'} (${cgroupPids(pod.cgroup).length} processes)`;
  }

  async evict(ns: string, name: string, graceSeconds?: number): Promise<string> {
    const pod = this.findPod(ns, name);
    if (pod.deleting) return `pod ${name} is already terminating`;
    for (const pdb of this.list('PodDisruptionBudget', ns)) {
      const sel = pdb.spec?.selector?.matchLabels;
      if (!matches(sel, pod.labels)) continue;
      const covered = [...this.pods.values()].filter((p) => p.namespace === ns && matches(sel, p.labels));
      const healthy = covered.filter((p) => p.ready).length;
      const expected = this.expectedPods(ns, sel) ?? covered.filter((p) => !p.deleting).length;
      let desired: number;
      if (pdb.spec.minAvailable !== undefined) desired = intOrPercent(pdb.spec.minAvailable, expected, true, '0');
      else desired = expected - intOrPercent(pdb.spec.maxUnavailable ?? 0, expected, true, '0');
      const allowed = healthy - desired;
      if (pod.ready ? allowed <= 0 : healthy < desired) {
        throw new Error(`Cannot evict pod as it would violate the pod's disruption budget. (PodDisruptionBudget ${ns}/${pdb.metadata.name}: ${healthy} healthy, ${desired} required, disruptionsAllowed ${Math.max(allowed, 0)})`);
      }
    }
    this.event(`evict ${ns}/${name}`);
    void this.deletePod(ns, name, { graceSeconds });
    return `pod/${name} evicted`;
  }

  private expectedPods(ns: string, sel: Record<string, string>): number | undefined {
    let n: number | undefined;
    for (const kind of ['StatefulSet', 'Deployment']) {
      for (const o of this.list(kind, ns)) {
        const tl = o.spec?.template?.metadata?.labels ?? {};
        if (matches(sel, tl)) n = (n ?? 0) + (o.spec.replicas ?? 1);
      }
    }
    return n;
  }

  async partition(ns: string, name: string, on: boolean): Promise<string> {
    const pod = this.findPod(ns, name);
    pod.partitioned = on;
    if (!on) pod.cutsFrom.clear();
    await this.applyPartition(pod);
    this.event(`fault: ${on ? 'partition' : 'heal'} ${pod.key}`);
    return `pod ${name} ${on ? 'partitioned' : 'healed'}`;
  }

  async cut(ns: string, from: string, to: string, on: boolean): Promise<string> {
    const a = this.findPod(ns, from); const b = this.findPod(ns, to);
    if (on) b.cutsFrom.add(a.key); else b.cutsFrom.delete(a.key);
    await this.applyPartition(b);
    this.event(`fault: ${on ? 'cut' : 'uncut'} ${a.key} -> ${b.key}`);
    return `packets from ${from} to ${to} are ${on ? 'dropped' : 'delivered'}`;
  }

  async healAll(): Promise<string> {
    for (const p of this.pods.values()) {
      if (p.partitioned || p.cutsFrom.size) { p.partitioned = false; p.cutsFrom.clear(); await this.applyPartition(p); }
      if (p.frozen) this.freeze(p.namespace, p.name, false);
    }
    this.event('fault: heal all');
    return 'all partitions and cuts healed, all pods thawed';
  }

  private async applyPartition(pod: Pod): Promise<void> {
    if (!pod.netns) throw new Error(`pod ${pod.key} has no network yet`);
    const rules: string[] = [];
    const inRules: string[] = []; const outRules: string[] = [];
    if (pod.partitioned) {
      // silent drop of everything but loopback and the kubelet's probes (they come from the node)
      inRules.push('iif "lo" accept', `ip saddr ${PROBE_IP} accept`, 'drop');
      outRules.push('oif "lo" accept', `ip daddr ${PROBE_IP} accept`, 'drop');
    } else {
      for (const k of pod.cutsFrom) {
        const src = this.pods.get(k);
        if (src?.ip) inRules.push(`ip saddr ${src.ip} drop`);
      }
    }
    rules.push('table inet prt_part { }', 'delete table inet prt_part');
    if (inRules.length || outRules.length) {
      rules.push('table inet prt_part {',
        '  chain part_in {', '    type filter hook input priority -300; policy accept;', ...inRules.map((r) => `    ${r}`), '  }',
        '  chain part_out {', '    type filter hook output priority -300; policy accept;', ...outRules.map((r) => `    ${r}`), '  }',
        '}');
    }
    await must('/usr/bin/nsenter', [`--net=/run/netns/${pod.netns}`, '/usr/sbin/nft', '-f', '-'], { input: rules.join('\n') + '\n' });
  }

  // ---------------------------------------------------------------- services, endpoints, DNS
  /** Pods behind a Service: ready ones, or all with an address when publishNotReadyAddresses. */
  endpoints(svc: Obj): Pod[] {
    const ns = svc.metadata.namespace;
    const sel = svc.spec?.selector;
    if (!sel) return [];
    const tolerate = !!svc.spec.publishNotReadyAddresses;
    return [...this.pods.values()].filter((p) => p.namespace === ns && p.ip && !p.gone && matches(sel, p.labels) && (tolerate ? p.phase !== 'Pending' || !!p.netns : p.ready));
  }

  private targetPortFor(p: Pod, sp: Obj): number | undefined {
    const tp = sp.targetPort ?? sp.port;
    if (typeof tp === 'number' || /^\d+$/.test(String(tp))) return Number(tp);
    for (const c of p.containers) for (const cp of c.spec.ports ?? []) if (cp.name === tp) return cp.containerPort;
    return undefined;
  }

  serviceRuleset(): string {
    const rules: string[] = [];
    const rejects: string[] = [];
    for (const s of this.list('Service')) {
      const ip = this.serviceIPs.get(`${s.metadata.namespace}/${s.metadata.name}`);
      if (!ip) continue;
      const eps = this.endpoints(s);
      for (const sp of s.spec?.ports ?? []) {
        if ((sp.protocol ?? 'TCP') !== 'TCP') continue;
        const targets: string[] = [];
        for (const p of eps) { const tp = this.targetPortFor(p, sp); if (tp) targets.push(`${p.ip} . ${tp}`); }
        const match = `ip daddr ${ip} tcp dport ${sp.port}`;
        if (!targets.length) rejects.push(`${match} reject with tcp reset`); // kube-proxy: no endpoints -> REJECT
        else if (targets.length === 1) rules.push(`${match} dnat ip to ${targets[0].replace(' . ', ':')}`);
        else rules.push(`${match} dnat ip to numgen random mod ${targets.length} map { ${targets.map((t, i) => `${i} : ${t}`).join(', ')} }`);
      }
    }
    return ['table ip prt_svc { }', 'delete table ip prt_svc', 'table ip prt_svc {',
      '  chain out { type nat hook output priority -100; policy accept;', ...rules.map((r) => `    ${r}`), '  }',
      '  chain noendpoints { type filter hook output priority -1; policy accept;', ...rejects.map((r) => `    ${r}`), '  }', '}', ''].join('\n');
  }

  private async applyNft(netns: string, ruleset: string): Promise<void> {
    if (this.nftApplied.get(netns) === ruleset) return;
    await must('/usr/bin/nsenter', [`--net=/run/netns/${netns}`, '/usr/sbin/nft', '-f', '-'], { input: ruleset });
    this.nftApplied.set(netns, ruleset);
  }

  hostsFor(pod: Pod): string {
    const d = this.opts.clusterDomain;
    const lines = ['# Kubernetes-managed hosts file (podrt).', '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'fe00::1\tip6-mcastprefix'];
    if (pod.ip) lines.push(pod.subdomain ? `${pod.ip}\t${pod.hostname}.${pod.subdomain}.${pod.namespace}.svc.${d}\t${pod.hostname}` : `${pod.ip}\t${pod.hostname}`);
    const names = (base: string, ns: string) => {
      const n = [`${base}.${ns}.svc.${d}`, `${base}.${ns}.svc`, `${base}.${ns}`];
      if (ns === pod.namespace) n.push(base);
      return n.join(' ');
    };
    for (const s of this.list('Service')) {
      const ns = s.metadata.namespace; const sn = s.metadata.name;
      const ip = this.serviceIPs.get(`${ns}/${sn}`);
      if (ip) { lines.push(`${ip}\t${names(sn, ns)}`); continue; }
      // headless: the service name resolves to every endpoint, and pods with hostname+subdomain get records
      for (const p of this.endpoints(s)) {
        lines.push(`${p.ip}\t${names(sn, ns)}`);
        if (p.subdomain === sn) lines.push(`${p.ip}\t${names(`${p.hostname}.${sn}`, ns)}`);
      }
    }
    return lines.join('\n') + '\n';
  }

  /** Rewrite in place (truncate + write on the same inode): bind mounts pin the inode. */
  private writeInPlace(file: string, content: string): void {
    if (this.hostsWritten.get(file) === content) return;
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
    const buf = Buffer.from(content);
    // write first, then cut the tail: a concurrent reader never sees an empty file
    fs.writeSync(fd, buf, 0, buf.length, 0);
    fs.ftruncateSync(fd, buf.length);
    fs.closeSync(fd);
    this.hostsWritten.set(file, content);
  }

  async syncNetwork(): Promise<void> {
    if (this.netSyncing) { this.netDirty = true; return this.netSyncing; }
    this.netSyncing = (async () => {
      try {
        while (this.netDirty && !this.stopping) {
          this.netDirty = false;
          const rs = this.serviceRuleset();
          const targets: string[] = [this.infraNs];
          for (const p of this.pods.values()) {
            if (!p.netns || p.gone) continue;
            const file = `/etc/netns/${p.netns}/hosts`;
            const content = this.hostsFor(p);
            if (this.opts.dnsLagMs > 0 && this.hostsWritten.has(file)) {
              // cluster DNS answers are cached for a few seconds: changes reach the pod late
              if (this.hostsPending.get(file) !== content) {
                this.hostsPending.set(file, content);
                setTimeout(() => { if (!p.gone) { try { this.writeInPlace(file, content); } catch { /* torn down */ } } }, this.opts.dnsLagMs);
              }
            } else {
              try { this.writeInPlace(file, content); } catch { /* torn down */ }
            }
            targets.push(p.netns);
          }
          // a few in parallel
          for (let i = 0; i < targets.length; i += 4) {
            await Promise.all(targets.slice(i, i + 4).map((ns) => this.applyNft(ns, rs).catch(() => undefined)));
          }
          for (const p of this.pods.values()) if (p.cutsFrom.size && p.netns) await this.applyPartition(p).catch(() => undefined);
        }
      } finally {
        this.netSyncing = undefined;
      }
    })();
    return this.netSyncing;
  }

  // ---------------------------------------------------------------- port-forward
  private async podAgent(pod: Pod): Promise<LineClient> {
    if (pod.agent?.client.connected) return pod.agent.client;
    const sock = `${this.sdir}/pf/agent-${pod.uid.split('-')[0]}.sock`; // short: Unix socket paths are limited to 107 bytes
    const pid = await spawnReady('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', `${CGROUP_ROOT}/${this.opts.instance}/aux/cgroup.procs`,
      '/usr/bin/nsenter', `--net=/run/netns/${pod.netns}`, '--', process.execPath, AGENT, 'serve', sock], `${this.sdir}/agent.log`);
    const client = new LineClient(sock);
    await client.connect();
    pod.agent = { pid, client, sock };
    return client;
  }

  /** Start a relay for `target` (pod/NAME or svc/NAME) port `port`; returns the Unix socket to connect to. */
  async portForward(ns: string, target: string, port: string | number): Promise<{ id: number; sock: string; description: string }> {
    const [kind, name] = target.includes('/') ? target.split('/', 2) : ['pod', target];
    const id = ++this.pfSeq;
    const sock = `${this.sdir}/pf/${id}.sock`;
    if (/^(svc|service|services)$/.test(kind)) {
      const s = this.getObject('Service', ns, name);
      if (!s) throw new Error(`service "${name}" not found in namespace ${ns}`);
      const ip = this.serviceIPs.get(`${ns}/${name}`);
      const sp = (s.spec.ports ?? []).find((x: Obj) => String(x.port) === String(port) || x.name === port);
      if (!sp) throw new Error(`service ${name} has no port ${port}`);
      if (ip) {
        // through the Service's virtual address (the runtime's namespace has the same DNAT rules as pods)
        const r = await this.infraAgent!.request({ op: 'relay', sock, host: ip, port: sp.port }, 15000);
        if (!r.ok) throw new Error(r.error);
        this.portForwards.set(id, { id, sock, agent: this.infraAgent! });
        return { id, sock, description: `svc/${name} ${ip}:${sp.port}` };
      }
      const eps = this.endpoints(s);
      if (!eps.length) throw new Error(`service ${name} has no endpoints`);
      return this.portForward(ns, `pod/${eps[0].name}`, this.targetPortFor(eps[0], sp)!);
    }
    const pod = this.findPod(ns, name);
    let p = Number(port);
    if (!Number.isInteger(p)) {
      for (const c of pod.containers) for (const cp of c.spec.ports ?? []) if (cp.name === port) p = cp.containerPort;
      if (!Number.isInteger(p)) throw new Error(`pod ${name} has no port named ${port}`);
    }
    const agent = await this.podAgent(pod);
    const r = await agent.request({ op: 'relay', sock, host: '127.0.0.1', port: p }, 15000);
    if (!r.ok) throw new Error(r.error);
    this.portForwards.set(id, { id, sock, pod, agent });
    return { id, sock, description: `pod/${name} 127.0.0.1:${p} (in the pod's network namespace)` };
  }

  async closePortForward(id: number): Promise<void> {
    const pf = this.portForwards.get(id);
    if (!pf) return;
    this.portForwards.delete(id);
    try { await pf.agent.request({ op: 'unrelay', sock: pf.sock }, 5000); } catch { /* agent gone */ }
  }

  // ---------------------------------------------------------------- views
  podStatus(p: Pod): Obj {
    const cs = (c: Container): ContainerStatus => ({
      name: c.name, init: c.init, state: c.state, reason: c.reason, ready: c.ready, started: c.started, restartCount: c.restartCount,
      exitCode: c.exitCode, lastExitCode: c.lastExitCode, pid: c.pid1, startedAt: c.startedAt,
    });
    return {
      name: p.name, namespace: p.namespace, uid: p.uid, ip: p.ip ?? null, netns: p.netns ?? null, phase: p.phase, ready: p.ready,
      deleting: p.deleting, labels: p.labels, owner: p.owner ?? null, revision: p.revision, hostname: p.hostname, subdomain: p.subdomain ?? null,
      createdAt: p.createdAt, readyAt: p.readyAt ?? null, partitioned: p.partitioned, frozen: p.frozen, cutsFrom: [...p.cutsFrom],
      restarts: p.containers.reduce((n, c) => n + c.restartCount, 0),
      containers: p.containers.map(cs), initContainers: p.initContainers.map(cs), events: p.events.slice(-20),
      logDir: `${this.sdir}/logs`,
    };
  }

  get(kind: string, ns?: string): Obj[] {
    kind = normalizeKind(kind);
    if (kind === 'Pod') return [...this.pods.values()].filter((p) => !ns || p.namespace === ns).map((p) => this.podStatus(p));
    if (kind === 'PersistentVolumeClaim') return this.claimsList(ns).map((c) => ({ name: c.name, namespace: c.namespace, dir: c.dir, deleting: c.deleting, labels: c.labels, inUse: this.claimInUse(c) }));
    if (kind === 'Service') {
      return this.list('Service', ns).map((s) => {
        const ip = this.serviceIPs.get(`${s.metadata.namespace}/${s.metadata.name}`) ?? 'None';
        return { name: s.metadata.name, namespace: s.metadata.namespace, clusterIP: ip, ports: s.spec.ports ?? [], publishNotReadyAddresses: !!s.spec.publishNotReadyAddresses, endpoints: this.endpoints(s).map((p) => ({ pod: p.name, ip: p.ip, ready: p.ready })) };
      });
    }
    if (kind === 'Event') return this.events.slice(-500).map((e) => ({ event: e }));
    return this.list(kind, ns).map((o) => {
      const base: Obj = { name: o.metadata.name, namespace: o.metadata.namespace ?? null };
      if (kind === 'StatefulSet' || kind === 'Deployment') {
        const pods = this.ownedPods(kind, o.metadata.namespace, o.metadata.name);
        base.replicas = o.spec.replicas ?? 1;
        base.ready = pods.filter((p) => p.ready).length;
        base.current = pods.filter((p) => !p.deleting).length;
        base.revision = this.templateRevision(o.spec.template);
        base.updated = pods.filter((p) => p.revision === base.revision && !p.deleting).length;
      }
      if (kind === 'PodDisruptionBudget') base.spec = o.spec;
      return base;
    });
  }
}

export function normalizeKind(k: string): string {
  const m: Record<string, string> = {
    po: 'Pod', pod: 'Pod', pods: 'Pod', svc: 'Service', service: 'Service', services: 'Service', sts: 'StatefulSet', statefulset: 'StatefulSet',
    statefulsets: 'StatefulSet', deploy: 'Deployment', deployment: 'Deployment', deployments: 'Deployment', pvc: 'PersistentVolumeClaim',
    persistentvolumeclaim: 'PersistentVolumeClaim', persistentvolumeclaims: 'PersistentVolumeClaim', cm: 'ConfigMap', configmap: 'ConfigMap',
    configmaps: 'ConfigMap', secret: 'Secret', secrets: 'Secret', pdb: 'PodDisruptionBudget', poddisruptionbudget: 'PodDisruptionBudget',
    poddisruptionbudgets: 'PodDisruptionBudget', ns: 'Namespace', namespace: 'Namespace', namespaces: 'Namespace', sa: 'ServiceAccount',
    serviceaccount: 'ServiceAccount', serviceaccounts: 'ServiceAccount', events: 'Event', event: 'Event', ev: 'Event',
  };
  return m[k.toLowerCase()] ?? k;
}
