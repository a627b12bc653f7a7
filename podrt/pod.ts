/** The runtime's state of a pod and of its containers (the kubelet's view of them). */
import { ChildProcess } from 'node:child_process';
import { ContainerSpec, Labels, PodObject, PodSpec } from './k8s-types';
import type { BuiltImage } from './image-build';
import { CGROUP_ROOT, LineClient, randomSuffix } from './util';

export interface ContainerStatus {
  name: string;
  init: boolean;
  state: 'waiting' | 'running' | 'terminated';
  reason: string;
  /** why it waits, e.g. the image that cannot be built */
  message?: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  exitCode?: number;
  lastExitCode?: number;
  pid?: number;
  startedAt?: number;
}

export interface Owner { kind: string; name: string }

export class Container {
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
  /** the home directory of the container's uid in the image's /etc/passwd */
  home = '/';
  /** the image's root filesystem and what it declares, once built */
  image?: BuiltImage;
  /** why the container waits (e.g. the ErrImagePull reason) */
  message = '';
  constructor(public spec: ContainerSpec, public init: boolean) {}
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
  constructor(public obj: PodObject, public owner: Owner | undefined, public revision: string, where: { sdir: string; instance: string }, seq: number) {
    this.uid = `${seq}-${randomSuffix(8)}`;
    this.dir = `${where.sdir}/pods/${this.namespace}_${this.name}_${this.uid}`;
    this.cgroup = `${CGROUP_ROOT}/${where.instance}/pods/${this.uid}`;
    const spec = obj.spec;
    this.hostname = spec.hostname ?? this.name.slice(0, 63);
    this.subdomain = spec.subdomain;
    this.containers = (spec.containers ?? []).map((c) => new Container(c, false));
    this.initContainers = (spec.initContainers ?? []).map((c) => new Container(c, true));
    this.terminated = new Promise((r) => { this.resolveTerminated = r; });
    this.setup = new Promise((r) => { this.resolveSetup = r; });
  }
  get name(): string { return this.obj.metadata.name; }
  get namespace(): string { return this.obj.metadata.namespace; }
  get key(): string { return `${this.namespace}/${this.name}`; }
  get labels(): Labels { return this.obj.metadata.labels ?? {}; }
  get spec(): PodSpec { return this.obj.spec; }
  get ready(): boolean {
    return !this.deleting && this.phase === 'Running' && this.initDone && this.containers.length > 0 && this.containers.every((c) => c.ready);
  }
  get ordinal(): number {
    const m = /-(\d+)$/.exec(this.name);
    return m ? Number(m[1]) : -1;
  }
  /** Every container, main ones first. */
  get allContainers(): Container[] { return [...this.containers, ...this.initContainers]; }
  container(name?: string): Container {
    const c = name ? this.allContainers.find((x) => x.name === name) : this.containers[0];
    if (!c) throw new Error(`pod ${this.key} has no container ${name}`);
    return c;
  }
}
