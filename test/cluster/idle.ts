/**
 * The idle cost of a running cluster: CPU and process creations per second over a window, read
 * from /proc/stat, and (when forkstat is installed) which process created what. Shared by the
 * idle-cost test (test/cluster/example-cluster.test.ts) and bench/idle/run.ts.
 *
 * /proc/stat counts the whole machine, so the figures include the test runner and the pod
 * runtime: they are an upper bound of the cluster's own cost, which is what a budget needs.
 */
import { execFileSync, spawn } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { cpus } from 'os';

export interface IdleSample {
  readonly seconds: number;
  /** CPU time used by everything on the machine, in percent of one core. */
  readonly cpuPercentOfOneCore: number;
  /** New processes (forks) per second, machine-wide. */
  readonly forksPerSecond: number;
  /** Peak 1-minute load average seen at the start and end of the window. */
  readonly loadAverage: number;
}

interface StatReading { busy: number; forks: number; at: number }

/** USER_HZ: the unit of /proc/stat's CPU columns (100 on every Linux architecture we run). */
const USER_HZ = 100;

function readStat(): StatReading {
  const text = readFileSync('/proc/stat', 'utf8');
  const cpu = text.split('\n').find((l) => l.startsWith('cpu '))!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is work.
  const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + (cpu[7] ?? 0);
  const forks = Number(/^processes (\d+)$/m.exec(text)![1]);
  return { busy, forks, at: Date.now() };
}

function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** The last PID allocated in the PID namespace of host process `pid` (a container's PID 1). */
function lastPidIn(pid: number): number {
  return Number(execFileSync('nsenter', ['-t', String(pid), '-p', '--', 'cat', '/proc/sys/kernel/ns_last_pid'], { encoding: 'utf8' }).trim());
}

/** What `podsOf` lists: a pod's name and its container's PID 1 on the host. */
export interface PodPid {
  readonly name: string;
  readonly pid: number;
}

/**
 * New processes per second inside the given pods over `seconds`, counted by each pod's own PID
 * namespace (PIDs are handed out one after another there): the cluster's own process creation,
 * whatever else runs on the machine. Pods whose container restarted meanwhile are left out and
 * named.
 */
export async function clusterForksPerSecond(podsOf: () => Promise<PodPid[]>, seconds: number): Promise<{ perSecond: number; pods: number; restarted: string[] }> {
  const before = new Map((await podsOf()).map((p) => [p.name, { pid: p.pid, last: lastPidIn(p.pid) }]));
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (Date.now() - t0) / 1000;
  let created = 0;
  let pods = 0;
  const restarted: string[] = [];
  for (const p of await podsOf()) {
    const b = before.get(p.name);
    if (!b || b.pid !== p.pid) {
      restarted.push(p.name);
      continue;
    }
    // Minus the reader of the first reading.
    created += lastPidIn(p.pid) - b.last - 1;
    pods++;
  }
  return { perSecond: created / elapsed, pods, restarted };
}

/** Measures the machine for `seconds`; nothing else should be started meanwhile. */
export async function measureIdle(seconds: number): Promise<IdleSample> {
  const load0 = loadAverage();
  const a = readStat();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = readStat();
  const elapsed = (b.at - a.at) / 1000;
  return {
    seconds: elapsed,
    cpuPercentOfOneCore: ((b.busy - a.busy) / USER_HZ / elapsed) * 100,
    forksPerSecond: (b.forks - a.forks) / elapsed,
    loadAverage: Math.max(load0, loadAverage()),
  };
}

export function describeIdle(s: IdleSample): string {
  return `${s.cpuPercentOfOneCore.toFixed(1)}% of one core (${cpus().length} cores), ${s.forksPerSecond.toFixed(1)} new processes/s over ${s.seconds.toFixed(0)} s, load average ${s.loadAverage.toFixed(2)}`;
}

/** Sources of new processes, from the nearest ancestor that says who asked for it. */
const SOURCES: Array<[RegExp, string]> = [
  [/node-probe\.sh|pgpool-probe\.sh/, 'exec probes (scripts)'],
  [/node-entrypoint\.sh/, 'node entrypoint (supervision)'],
  [/node-promote\.sh/, 'node entrypoint (supervision)'],
  [/pgpool-entrypoint\.sh/, 'pgpool entrypoint (reconcile loop)'],
  [/^repmgrd|\/repmgrd /, 'repmgrd'],
  [/^perl /, 'status endpoint (perl)'],
  [/^pgpool: |\/pgpool |^pgpool /, 'Pgpool-II (PCP workers, children)'],
  [/^postgres: |\/postgres |^postgres /, 'PostgreSQL backends (all clients)'],
  [/^\/usr\/bin\/nsenter|^nsenter /, 'runtime exec (probes, tests)'],
  [/daemon\.ts|agent\.cjs|vitest|node /, 'pod runtime and test runner'],
];

function sourceOf(cmdline: string): string | undefined {
  for (const [re, name] of SOURCES) if (re.test(cmdline)) return name;
  return undefined;
}

/**
 * Counts the forks of the next `seconds` by source with forkstat (Debian package forkstat,
 * root). Each fork is charged to the nearest ancestor whose command line names a source, so a
 * psql started by the entrypoint's subshell counts as supervision.
 */
export async function forkBreakdown(seconds: number): Promise<Map<string, number>> {
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('forkstat', ['-e', 'fork,exec', '-l', '-D', String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.on('error', reject);
    p.on('close', () => resolve(text));
  });
  const cmd = new Map<number, string>();
  const parent = new Map<number, number>();
  const counts = new Map<string, number>();
  let pendingParent: { pid: number; cmdline: string } | undefined;
  for (const line of out.split('\n')) {
    // "03:29:11 fork   6336 parent          bash /dev/fd/3" (no -x: no uid/tty columns)
    const m = /^\S+\s+(fork|exec)\s+(\d+)\s+(parent|child)?\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, event, pidText, role, rest] = m;
    const pid = Number(pidText);
    if (event === 'exec') {
      cmd.set(pid, rest);
      continue;
    }
    if (role === 'parent') {
      pendingParent = { pid, cmdline: rest };
      if (!cmd.has(pid)) cmd.set(pid, rest);
      continue;
    }
    if (role === 'child' && pendingParent) {
      parent.set(pid, pendingParent.pid);
      cmd.set(pid, rest);
      let who: string | undefined;
      for (let p: number | undefined = pendingParent.pid, hops = 0; p !== undefined && hops < 20 && !who; p = parent.get(p), hops++) {
        who = sourceOf(cmd.get(p) ?? '');
      }
      const key = who ?? `other (${pendingParent.cmdline.split(' ')[0]})`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      pendingParent = undefined;
    }
  }
  return counts;
}

export function describeBreakdown(counts: Map<string, number>, seconds: number): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `  ${(v / seconds).toFixed(2).padStart(7)}/s  ${k}`)
    .join('\n');
}

/** Long-lived processes by what they are, for the CPU breakdown. */
const CPU_SOURCES: Array<[RegExp, string]> = [
  [/^(\S*\/)?postgres( |:|$)/, 'PostgreSQL (postmasters, their processes and exited backends)'],
  [/^(\S*\/)?repmgrd( |$)/, 'repmgrd'],
  [/^(\S*\/)?pgpool( |:|$)/, 'Pgpool-II'],
  [/node-entrypoint\.sh|pgpool-entrypoint\.sh/, 'entrypoints (bash, incl. exited children)'],
  [/status-server\.pl|^perl/, 'status and probe endpoint (perl)'],
  [/^psql/, 'psql sessions kept open'],
  [/daemon\.ts|agent\.cjs|vitest|tsx|node /, 'pod runtime and test runner (node)'],
  [/forkstat/, 'forkstat (the measurement)'],
];

interface ProcCpu { ticks: number; cmd: string }

function procCpu(): Map<number, ProcCpu> {
  const out = new Map<number, ProcCpu>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime stime cutime cstime are fields 14-17 of stat, 12-15 after the name.
      const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      out.set(Number(d), { ticks, cmd });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * CPU of the next `seconds` by source, in percent of one core: the processes alive at both ends
 * (a parent's children that exited and were reaped count in the parent), the rest as
 * "short-lived or unattributed".
 */
export async function cpuBreakdown(seconds: number): Promise<Map<string, number>> {
  const a = procCpu();
  const t0 = readStat();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = procCpu();
  const t1 = readStat();
  const elapsed = (t1.at - t0.at) / 1000;
  const pct = (ticks: number) => (ticks / USER_HZ / elapsed) * 100;
  const out = new Map<string, number>();
  let attributed = 0;
  for (const [pid, end] of b) {
    const start = a.get(pid);
    if (!start || start.cmd !== end.cmd) continue;
    const d = end.ticks - start.ticks;
    if (d <= 0) continue;
    const source = CPU_SOURCES.find(([re]) => re.test(end.cmd))?.[1] ?? (end.cmd ? `other (${end.cmd.split(' ')[0]})` : 'kernel threads');
    out.set(source, (out.get(source) ?? 0) + pct(d));
    attributed += d;
  }
  out.set('short-lived or unattributed', pct(Math.max(0, t1.busy - t0.busy - attributed)));
  return out;
}

export function describeCpu(cpu: Map<string, number>): string {
  return [...cpu]
    .sort((x, y) => y[1] - x[1])
    .filter(([, v]) => v >= 0.05)
    .map(([k, v]) => `  ${v.toFixed(1).padStart(6)}%  ${k}`)
    .join('\n');
}

/** The value of `key = value` in a rendered conf file. */
function confNumber(text: string, key: string): number {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*'?(\\d+)`, 'm').exec(text);
  if (!m) throw new Error(`${key} not found in the rendered configuration`);
  return Number(m[1]);
}

/**
 * New processes per second an idle cluster creates by design, from the synthesized objects
 * (topology, repmgr.conf, pgpool.conf) and the entrypoints' intervals: what the product cannot
 * avoid without detecting failures later. Each item is a new PostgreSQL backend with a login,
 * or a process of ours:
 * - repmgrd: every node checks itself, and every standby its upstream, once per
 *   monitor_interval_secs (PQping completes a whole login when the passfile has the password);
 * - Pgpool-II: every pod connects to every backend once per health_check_period and once per
 *   sr_check_period;
 * - node supervision (every 5 s): the status line's rename; on the primary, one status reader
 *   per other member (fencing);
 * - Pgpool-II reconcile (every 5 s): timeout, pcp_node_info, its PCP worker, the status rename;
 * - PostgreSQL's autovacuum: a worker per database (postgres, template1, repmgr, the
 *   application's) per autovacuum_naptime (60 s) on every node.
 */
export function designedIdleForksPerSecond(objects: any[]): { total: number; parts: Record<string, number> } {
  const workloads = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
  const component = (o: any) => o.spec.selector.matchLabels['app.kubernetes.io/component'] as string;
  const nodes = workloads.filter((o) => o.kind === 'StatefulSet').reduce((n, o) => n + o.spec.replicas, 0);
  const members = workloads.filter((o) => component(o) === 'member').reduce((n, o) => n + o.spec.replicas, 0);
  const pgpoolPods = workloads.filter((o) => component(o) === 'pgpool').reduce((n, o) => n + o.spec.replicas, 0);
  const data = (name: string) => objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith(name))!.data;
  const repmgrConf = data('-node-config')['repmgr.conf'];
  const pgpoolConf = data('-pgpool-config')['pgpool.conf'];
  const backends = (pgpoolConf.match(/^backend_hostname\d+/gm) ?? []).length;
  const parts = {
    repmgrd: (2 * nodes - 1) / confNumber(repmgrConf, 'monitor_interval_secs'),
    'Pgpool-II health and streaming checks':
      pgpoolPods * backends * (1 / confNumber(pgpoolConf, 'health_check_period') + 1 / confNumber(pgpoolConf, 'sr_check_period')),
    'node supervision': (nodes + members - 1) / 5,
    'Pgpool-II reconcile': (4 * pgpoolPods) / 5,
    autovacuum: (nodes * 4) / 60,
  };
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}
