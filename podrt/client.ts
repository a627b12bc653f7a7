/**
 * Programmatic API of the local pod runtime (used by the tests and by the CLI).
 *
 *   const rt = await PodRuntime.start({ instance: 't1', backoffBaseSeconds: 1 });
 *   const { warnings } = await rt.apply('dist/');
 *   await rt.waitReady('app=web', { count: 3 });
 *   const r = await rt.exec('web-0', 'web', ['sh', '-c', 'id -u']);
 *   const pf = await rt.portForward('svc/web', 80); ... pf.port ...; await pf.close();
 *   await rt.down();
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { cleanupInstance, leftovers } from './cleanup';
import { LineClient, assertRoot, pidAlive, sleep, stateDir, validInstance } from './util';

export interface StartOptions {
  instance?: string;
  /** first restart back-off (s); Kubernetes uses 10 */
  backoffBaseSeconds?: number;
  backoffMaxSeconds?: number;
  /** tear down when this process exits (default: the calling process; false: never) */
  ownerPid?: number | false;
  /** default namespace for names without one (default "default") */
  namespace?: string;
  /** apply fsGroup to PVC contents recursively at pod start (default true, like most CSI drivers) */
  pvcFsGroup?: boolean;
  /** how long a dead container still counts as Ready (kubelet PLEG relist), ms; default 1000 */
  statusLagMs?: number;
  /** delay before pods see DNS changes (CoreDNS cache), ms; default 0, a real cluster ~5000 */
  dnsLagMs?: number;
}

export interface ApplyResult { applied: string[]; warnings: { object: string; message: string }[]; errors: string[] }
export interface ExecResult { code: number; stdout: string; stderr: string }
export interface PortForwardHandle { host: string; port: number; close: () => Promise<void> }

const HERE = __dirname;
const PROJECT_ROOT = path.resolve(HERE, '..');

/** Read manifests from a file or a directory (.yaml/.yml/.json, sorted by name, not recursive). */
export function loadManifests(p: string): any[] {
  const st = fs.statSync(p);
  const files = st.isDirectory()
    ? fs.readdirSync(p).filter((f) => /\.(ya?ml|json)$/.test(f)).sort().map((f) => path.join(p, f))
    : [p];
  const out: any[] = [];
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    if (f.endsWith('.json')) { const o = JSON.parse(text); out.push(...(Array.isArray(o) ? o : [o])); continue; }
    for (const d of yaml.loadAll(text)) if (d && typeof d === 'object') out.push(d);
  }
  return out;
}

export class PodRuntime {
  private client: LineClient;
  readonly namespace: string;
  private forwards = new Set<PortForwardHandle>();

  private constructor(readonly instance: string, client: LineClient, namespace: string) {
    this.client = client;
    this.namespace = namespace;
  }

  /** Start a fresh instance (clearing whatever an earlier run of the same instance left). */
  static async start(opts: StartOptions = {}): Promise<PodRuntime> {
    assertRoot();
    const instance = validInstance(opts.instance ?? 'default');
    await cleanupInstance(instance);
    const args = ['--import', 'tsx', path.join(HERE, 'daemon.ts'), '--instance', instance];
    if (opts.backoffBaseSeconds !== undefined) args.push('--backoff-base', String(opts.backoffBaseSeconds));
    if (opts.backoffMaxSeconds !== undefined) args.push('--backoff-max', String(opts.backoffMaxSeconds));
    const owner = opts.ownerPid === undefined ? process.pid : opts.ownerPid;
    if (owner) args.push('--owner-pid', String(owner));
    if (opts.pvcFsGroup === false) args.push('--no-pvc-fsgroup');
    if (opts.statusLagMs !== undefined) args.push('--status-lag-ms', String(opts.statusLagMs));
    if (opts.dnsLagMs !== undefined) args.push('--dns-lag-ms', String(opts.dnsLagMs));
    fs.mkdirSync('/run/podrt', { recursive: true });
    const logFile = `/run/podrt/${instance}.daemon.log`;
    const log = fs.openSync(logFile, 'w');
    const p = spawn(process.execPath, args, { cwd: PROJECT_ROOT, detached: true, stdio: ['ignore', 'pipe', log] });
    fs.closeSync(log);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`podrt daemon did not start in 60 s; see ${logFile}`)), 60000);
      p.stdout!.on('data', (d) => { out += d; if (out.includes('ready')) { clearTimeout(t); resolve(); } });
      p.once('exit', (c) => { clearTimeout(t); reject(new Error(`podrt daemon exited with ${c}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`)); });
    });
    p.stdout!.removeAllListeners('data');
    p.stdout!.destroy();
    p.removeAllListeners('exit');
    p.unref();
    return PodRuntime.connect({ instance, namespace: opts.namespace });
  }

  /** Connect to a running instance. */
  static async connect(opts: { instance?: string; namespace?: string } = {}): Promise<PodRuntime> {
    const instance = validInstance(opts.instance ?? 'default');
    const c = new LineClient(`${stateDir(instance)}/ctl.sock`);
    try { await c.connect(); } catch {
      throw new Error(`podrt instance "${instance}" is not running (start it with: podrt up)`);
    }
    return new PodRuntime(instance, c, opts.namespace ?? 'default');
  }

  static async running(instance = 'default'): Promise<boolean> {
    try { const pid = Number(fs.readFileSync(`${stateDir(instance)}/daemon.pid`, 'utf8')); return pidAlive(pid) && fs.existsSync(`${stateDir(instance)}/ctl.sock`); } catch { return false; }
  }

  async call<T = any>(method: string, params: Record<string, unknown> = {}, timeoutMs = 300000): Promise<T> {
    const r = await this.client.request({ method, params }, timeoutMs);
    if (r.error) throw new Error(r.error);
    return r.result as T;
  }

  private split(name: string, namespace?: string): { namespace: string; name: string } {
    if (name.includes('/') && !/^(pod|pods|po|svc|service)\//.test(name)) { const [ns, n] = name.split('/', 2); return { namespace: ns, name: n }; }
    return { namespace: namespace ?? this.namespace, name: name.replace(/^(pod|pods|po)\//, '') };
  }

  /**
   * Apply manifests: a file, a directory, one object or a list of objects. Like kubectl, objects
   * that cannot be applied (e.g. their namespace does not exist) are errors: the others are still
   * applied, then this throws (unless `allowErrors`, which returns them in `errors`).
   */
  async apply(pathOrObjects: string | object | object[], opts: { allowErrors?: boolean } = {}): Promise<ApplyResult> {
    const objects = typeof pathOrObjects === 'string' ? loadManifests(pathOrObjects) : Array.isArray(pathOrObjects) ? pathOrObjects : [pathOrObjects];
    const r = await this.call<ApplyResult>('apply', { objects });
    if (r.errors.length && !opts.allowErrors) throw new Error(`apply: ${r.errors.join('; ')}`);
    return r;
  }

  async delete(kind: string, name: string, opts: { namespace?: string; graceSeconds?: number } = {}): Promise<string> {
    const n = this.split(name, opts.namespace);
    return this.call('delete', { kind, ...n, graceSeconds: opts.graceSeconds });
  }

  async get(kind: string, opts: { namespace?: string; allNamespaces?: boolean } = {}): Promise<any[]> {
    return this.call('get', { kind, namespace: opts.allNamespaces ? undefined : (opts.namespace ?? this.namespace) });
  }

  async pod(name: string, namespace?: string): Promise<any> {
    return this.call('pod', this.split(name, namespace));
  }

  async pods(selector?: string | Record<string, string>, namespace?: string): Promise<any[]> {
    const sel = typeof selector === 'string' ? parseSelector(selector) : selector;
    const all = await this.get('pods', { namespace });
    return all.filter((p) => !sel || Object.entries(sel).every(([k, v]) => p.labels[k] === v));
  }

  /** Poll until `fn` returns a truthy value; throws with the last value after the timeout. */
  async waitFor<T>(fn: () => Promise<T | undefined | false | null>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
    const deadline = Date.now() + (opts.timeoutMs ?? 120000);
    let last: unknown;
    for (;;) {
      try { const v = await fn(); if (v) return v as T; last = v; } catch (e) { last = (e as Error).message; }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'} (last: ${JSON.stringify(last)?.slice(0, 500)})`);
      await sleep(opts.intervalMs ?? 200);
    }
  }

  /**
   * Wait until pods are Ready: `target` is a pod name ("web-0", "ns/web-0", "pod/web-0") or a label
   * selector ("app=web,tier=x"). With a selector, `count` pods (default 1) must be Ready.
   */
  async waitReady(target: string, opts: { timeoutMs?: number; count?: number; namespace?: string } = {}): Promise<any[]> {
    const isSelector = target.includes('=');
    return this.waitFor(async () => {
      if (!isSelector) {
        const p = await this.pod(target, opts.namespace).catch(() => undefined);
        return p?.ready ? [p] : undefined;
      }
      const ps = (await this.pods(target, opts.namespace)).filter((p) => p.ready);
      return ps.length >= (opts.count ?? 1) ? ps : undefined;
    }, { timeoutMs: opts.timeoutMs ?? 180000, what: `ready ${target}` });
  }

  /** Wait until a pod is gone (or, for a name, replaced by a pod with a different uid). */
  async waitGone(name: string, opts: { timeoutMs?: number; namespace?: string; uid?: string } = {}): Promise<void> {
    await this.waitFor(async () => {
      const p = await this.pod(name, opts.namespace).catch(() => undefined);
      return !p || (opts.uid !== undefined && p.uid !== opts.uid);
    }, { timeoutMs: opts.timeoutMs ?? 120000, what: `pod ${name} gone` });
  }

  async logs(pod: string, opts: { container?: string; previous?: boolean; namespace?: string } = {}): Promise<string> {
    const r = await this.call<{ path: string }>('logPath', { ...this.split(pod, opts.namespace), container: opts.container, previous: opts.previous });
    try { return fs.readFileSync(r.path, 'utf8'); } catch { return ''; }
  }

  /**
   * Every log file kept for pods of this name, oldest first, including pods that were deleted and
   * recreated and previous container instances: [{ file, content }]. (kubectl cannot do this; it
   * is for debugging failed tests.)
   */
  logHistory(pod: string, namespace?: string): { file: string; content: string }[] {
    const n = this.split(pod, namespace);
    const dir = `${stateDir(this.instance)}/logs`;
    let files: string[] = [];
    try { files = fs.readdirSync(dir).filter((f) => f.startsWith(`${n.namespace}_${n.name}_`)); } catch { return []; }
    return files
      .map((f) => ({ file: `${dir}/${f}`, mtime: fs.statSync(`${dir}/${f}`).mtimeMs }))
      .sort((a, b) => a.mtime - b.mtime)
      .map(({ file }) => ({ file, content: fs.readFileSync(file, 'utf8') }));
  }

  async logFile(pod: string, opts: { container?: string; previous?: boolean; namespace?: string } = {}): Promise<string> {
    return (await this.call<{ path: string }>('logPath', { ...this.split(pod, opts.namespace), container: opts.container, previous: opts.previous })).path;
  }

  async execArgv(pod: string, container: string | undefined, command: string[], namespace?: string): Promise<string[]> {
    return (await this.call<{ argv: string[] }>('execArgv', { ...this.split(pod, namespace), container, command })).argv;
  }

  /** Run a command in a container (its namespaces, root, uid and env), like kubectl exec. */
  async exec(pod: string, container: string | undefined, command: string[], opts: { timeoutMs?: number; input?: string; namespace?: string } = {}): Promise<ExecResult> {
    const argv = await this.execArgv(pod, container, command, opts.namespace);
    return new Promise((resolve) => {
      const p = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: {} });
      let stdout = ''; let stderr = '';
      p.stdout!.on('data', (d) => { stdout += d; });
      p.stderr!.on('data', (d) => { stderr += d; });
      p.stdin!.on('error', () => {});
      p.stdin!.end(opts.input ?? '');
      const t = setTimeout(() => { try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* */ } }, opts.timeoutMs ?? 60000);
      p.once('close', (code, sig) => { clearTimeout(t); resolve({ code: code ?? (sig ? 128 + 9 : 1), stdout, stderr }); });
      p.once('error', (e) => { clearTimeout(t); resolve({ code: 127, stdout, stderr: stderr + String(e) }); });
    });
  }

  /**
   * Forward 127.0.0.1:localPort (0 = any free port) to `target` ("svc/NAME" or "pod/NAME" or "NAME")
   * port `port` (number or port name), like kubectl port-forward. A Service target goes through its
   * virtual address (so each connection is balanced over its Ready endpoints); a pod target reaches
   * the port on the pod's loopback inside its network namespace.
   */
  async portForward(target: string, port: number | string, opts: { localPort?: number; namespace?: string } = {}): Promise<PortForwardHandle> {
    let ns = opts.namespace ?? this.namespace;
    let t = target;
    const m = /^([^/]+)\/([^/]+)\/([^/]+)$/.exec(target); // kind/ns/name? keep simple: ns given via opts
    if (m) { t = `${m[1]}/${m[3]}`; ns = m[2]; }
    const r = await this.call<{ id: number; sock: string }>('portForward', { namespace: ns, target: t, port });
    // Closing the forward ends its connections, as kubectl's does: a client that never closed its
    // side (node-postgres after a refused TLS login) must not hold close() open.
    const open = new Set<net.Socket>();
    const server = net.createServer((c) => {
      const up = net.connect(r.sock);
      open.add(c).add(up);
      c.on('close', () => open.delete(c));
      up.on('close', () => open.delete(up));
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
      c.pipe(up);
      up.pipe(c);
    });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(opts.localPort ?? 0, '127.0.0.1', resolve); });
    const addr = server.address() as net.AddressInfo;
    const handle: PortForwardHandle = {
      host: '127.0.0.1',
      port: addr.port,
      close: async () => {
        this.forwards.delete(handle);
        const closed = new Promise<void>((res) => server.close(() => res()));
        for (const sock of open) sock.destroy();
        await closed;
        await this.call('closePortForward', { id: r.id }).catch(() => undefined);
      },
    };
    this.forwards.add(handle);
    return handle;
  }

  // ---- faults (each as it happens in a real cluster)
  /** SIGKILL a container's processes; the kubelet restarts it in place (same pod, address, emptyDirs). */
  crash(pod: string, container?: string): Promise<string> { return this.call('crash', { ...this.split(pod), container }); }
  /** SIGKILL every process of the pod and delete it; its controller makes a new one. */
  killPod(pod: string): Promise<string> { return this.call('kill', this.split(pod)); }
  /** Graceful delete: preStop, SIGTERM, grace period, SIGKILL. Resolves when the pod is gone. */
  deletePod(pod: string, opts: { graceSeconds?: number } = {}): Promise<string> { return this.call('deletePod', { ...this.split(pod), graceSeconds: opts.graceSeconds }); }
  /** Voluntary eviction: refused when it would break a PodDisruptionBudget. */
  evict(pod: string, opts: { graceSeconds?: number } = {}): Promise<string> { return this.call('evict', { ...this.split(pod), graceSeconds: opts.graceSeconds }); }
  deleteClaim(name: string, namespace?: string): Promise<string> { return this.call('deleteClaim', this.split(name, namespace)); }
  /** Drop every packet to and from the pod silently (loopback and kubelet probes excepted). */
  partition(pod: string): Promise<string> { return this.call('partition', this.split(pod)); }
  /** Heal one pod (partition and cuts into it), or everything (also thaws) when no pod is given. */
  heal(pod?: string): Promise<string> { return this.call('heal', pod ? this.split(pod) : {}); }
  /** One-way cut: packets from `from` to `to` are dropped silently (the reverse direction still flows). */
  cut(from: string, to: string): Promise<string> { return this.call('cut', { namespace: this.split(from).namespace, from: this.split(from).name, to: this.split(to).name }); }
  uncut(from: string, to: string): Promise<string> { return this.call('uncut', { namespace: this.split(from).namespace, from: this.split(from).name, to: this.split(to).name }); }
  freeze(pod: string): Promise<string> { return this.call('freeze', this.split(pod)); }
  thaw(pod: string): Promise<string> { return this.call('thaw', this.split(pod)); }

  /** kubectl scale statefulset|deployment NAME --replicas N */
  scale(kind: string, name: string, replicas: number, namespace?: string): Promise<string> { return this.call('scale', { kind, ...this.split(name, namespace), replicas }); }
  /** kubectl rollout restart statefulset|deployment NAME */
  rolloutRestart(kind: string, name: string, namespace?: string): Promise<string> { return this.call('rolloutRestart', { kind, ...this.split(name, namespace) }); }

  /** The hosts file a pod sees (what its DNS answers). */
  hosts(pod: string): Promise<string> { return this.call('hosts', this.split(pod)); }

  /** Stop everything and remove every trace (processes, namespaces, mounts, state). */
  async down(): Promise<string[]> {
    for (const f of [...this.forwards]) await f.close().catch(() => undefined);
    let pid = 0;
    try { pid = Number(fs.readFileSync(`${stateDir(this.instance)}/daemon.pid`, 'utf8')); } catch { /* */ }
    try { await this.call('down', {}, 30000); } catch { /* daemon already gone */ }
    this.client.close();
    for (let i = 0; i < 300 && pid && pidAlive(pid); i++) await sleep(100);
    await cleanupInstance(this.instance);
    return leftovers(this.instance);
  }

  close(): void { this.client.close(); }
}

export function parseSelector(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const [k, v] = part.split('=');
    if (k) out[k.trim()] = (v ?? '').trim();
  }
  return out;
}
