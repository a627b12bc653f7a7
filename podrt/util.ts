import { spawn, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

export const STATE_ROOT = process.env.PODRT_STATE_ROOT ?? '/run/podrt';
export const CGROUP_ROOT = '/sys/fs/cgroup/freezer/podrt';
/** prefix of every network namespace (and /etc/netns dir) the runtime creates */
export const NETNS_PREFIX = 'prt-';

export function stateDir(instance: string): string {
  return `${STATE_ROOT}/${instance}`;
}

export function assertRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('podrt needs root (network namespaces, bind mounts, real uids, cgroups): run it as root, e.g. with sudo');
  }
}

export function validInstance(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(name)) throw new Error(`invalid instance name "${name}" (a-z0-9-, at most 20 characters)`);
  return name;
}

export interface RunResult { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: opts.timeoutMs ?? 30000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && typeof (err as any).code !== 'number' ? String(err.message) : '') });
    });
    if (opts.input !== undefined) { p.stdin?.end(opts.input); }
  });
}

export async function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function mkdirp(p: string, mode?: number): void {
  fs.mkdirSync(p, { recursive: true, mode });
}

export function rmrf(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

/** Read all pids of a freezer cgroup subtree. */
export function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    let ents: fs.Dirent[];
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    try {
      for (const l of fs.readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n')) if (l.trim()) pids.push(Number(l));
    } catch { /* gone */ }
    for (const e of ents) if (e.isDirectory()) walk(`${d}/${e.name}`);
  };
  walk(dir);
  return pids;
}

export function cgroupSetFrozen(dir: string, frozen: boolean): void {
  try { fs.writeFileSync(`${dir}/freezer.state`, frozen ? 'FROZEN' : 'THAWED'); } catch { /* gone */ }
}

/** SIGKILL every process in a cgroup subtree (thawing first: a frozen task cannot die), then remove it. */
export async function cgroupKillAndRemove(dir: string, remove = true): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const dirs: string[] = [];
  const walk = (d: string) => {
    dirs.push(d);
    try { for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(`${d}/${e.name}`); } catch { /* */ }
  };
  walk(dir);
  for (let i = 0; i < 100; i++) {
    for (const d of dirs) cgroupSetFrozen(d, false);
    const pids = cgroupPids(dir);
    if (!pids.length) break;
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    await sleep(i < 10 ? 20 : 100);
  }
  if (remove) {
    for (const d of dirs.reverse()) { try { fs.rmdirSync(d); } catch { /* busy or gone */ } }
  }
}

export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** JSON-lines request/response client over a Unix socket. */
export class LineClient {
  private sock?: net.Socket;
  private buf = '';
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  constructor(private path: string) {}

  async connect(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(this.path);
      s.once('connect', () => { this.sock = s; resolve(); });
      s.once('error', reject);
    });
    const s = this.sock!;
    s.setEncoding('utf8');
    s.on('error', () => { /* surfaced through close */ });
    s.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (!line.trim()) continue;
        const m = JSON.parse(line);
        const p = this.pending.get(m.id);
        if (p) { this.pending.delete(m.id); p.resolve(m); }
      }
    });
    s.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error(`connection to ${this.path} closed`));
      this.pending.clear();
      this.sock = undefined;
    });
  }

  get connected(): boolean { return !!this.sock; }

  request(msg: Record<string, unknown>, timeoutMs = 0): Promise<any> {
    if (!this.sock) return Promise.reject(new Error(`not connected to ${this.path}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let t: NodeJS.Timeout | undefined;
      this.pending.set(id, {
        resolve: (v) => { if (t) clearTimeout(t); resolve(v); },
        reject: (e) => { if (t) clearTimeout(t); reject(e); },
      });
      if (timeoutMs > 0) t = setTimeout(() => { this.pending.delete(id); reject(new Error(`request ${String(msg.op ?? msg.method)} timed out after ${timeoutMs}ms`)); }, timeoutMs);
      this.sock!.write(JSON.stringify({ ...msg, id }) + '\n');
    });
  }

  close(): void { this.sock?.destroy(); this.sock = undefined; }
}

/** Spawn a long-lived helper; resolves once it printed `ready` on stdout. */
export function spawnReady(cmd: string, args: string[], logFile: string, timeoutMs = 15000): Promise<number> {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logFile, 'a');
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', log], detached: true });
    fs.closeSync(log);
    let out = '';
    const t = setTimeout(() => { try { p.kill('SIGKILL'); } catch { /* */ } reject(new Error(`${cmd} ${args.join(' ')} did not become ready`)); }, timeoutMs);
    p.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready')) { clearTimeout(t); p.stdout!.removeAllListeners('data'); p.stdout!.resume(); resolve(p.pid!); }
    });
    p.once('exit', (c) => { clearTimeout(t); reject(new Error(`${cmd} exited with ${c} before ready`)); });
    p.unref();
  });
}

/** k8s quantity "64Mi" -> bytes */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined || q === null || q === '') return undefined;
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const u: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return u[m[2]] !== undefined ? Math.floor(n * u[m[2]]) : undefined;
}

export function randomSuffix(n = 5): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

export function hashString(s: string): string {
  // FNV-1a 32 bit, rendered like a k8s pod-template-hash
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  let x = h;
  for (let i = 0; i < 10; i++) { out += alphabet[x % alphabet.length]; x = Math.floor(x / alphabet.length) + ((h >>> (i % 16)) & 0xff); }
  return out;
}

export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(stableStringify).join(',') + ']';
  if (v && typeof v === 'object') return '{' + Object.keys(v as object).sort().map((k) => JSON.stringify(k) + ':' + stableStringify((v as any)[k])).join(',') + '}';
  return JSON.stringify(v);
}
