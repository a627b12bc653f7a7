/**
 * Removal of everything an instance created: processes (freezer cgroup), mounts under its state
 * directory, network namespaces and /etc/netns entries with its prefix, cgroups and state files.
 * Works without a running daemon, so it also clears what a killed or interrupted run left behind.
 */
import * as fs from 'node:fs';
import { CGROUP_ROOT, NETNS_PREFIX, STATE_ROOT, cgroupKillAndRemove, pidAlive, rmrf, run, sleep, stateDir } from './util';

export function netnsPrefix(instance: string): string {
  return `${NETNS_PREFIX}${instance}_`; // "_" cannot occur in an instance name: no prefix collisions (a vs a-b)
}

function mountsUnder(dir: string): string[] {
  let text = '';
  try { text = fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return []; }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4].replace(/\\040/g, ' ');
    if (mp === dir || mp.startsWith(dir + '/')) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

export async function unmountUnder(dir: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const mps = mountsUnder(dir);
    if (!mps.length) return;
    for (const mp of mps) await run('umount', ['-l', mp]);
  }
}

/** Whether a namespace name belongs to an instance (also the older `prt-<instance>-<n|infra>` form). */
export function ownsNetns(instance: string, name: string): boolean {
  if (name.startsWith(netnsPrefix(instance))) return true;
  const legacy = `${NETNS_PREFIX}${instance}-`;
  return name.startsWith(legacy) && /^(infra|\d+)$/.test(name.slice(legacy.length));
}

export function listInstanceNetns(instance?: string): string[] {
  let names: string[] = [];
  try { names = fs.readdirSync('/run/netns'); } catch { return []; }
  return names.filter((n) => (instance ? ownsNetns(instance, n) : n.startsWith(NETNS_PREFIX)));
}

/** Kill the daemon of an instance (if any) and remove every trace of the instance. */
export async function cleanupInstance(instance: string, opts: { killDaemon?: boolean; keepDaemonLog?: boolean } = {}): Promise<string[]> {
  const removed: string[] = [];
  const sdir = stateDir(instance);
  if (opts.killDaemon !== false) {
    try {
      const pid = Number(fs.readFileSync(`${sdir}/daemon.pid`, 'utf8'));
      if (pid && pid !== process.pid && pidAlive(pid)) {
        process.kill(pid, 'SIGKILL');
        removed.push(`daemon pid ${pid}`);
        for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(20);
      }
    } catch { /* no daemon */ }
  }
  const cg = `${CGROUP_ROOT}/${instance}`;
  if (fs.existsSync(cg)) { await cgroupKillAndRemove(cg); removed.push(`cgroup ${cg}`); }
  const mounts = mountsUnder(sdir);
  if (mounts.length) { await unmountUnder(sdir); removed.push(`${mounts.length} mounts`); }
  for (const ns of listInstanceNetns(instance)) {
    await run('ip', ['netns', 'del', ns]);
    removed.push(`netns ${ns}`);
  }
  try {
    for (const d of fs.readdirSync('/etc/netns')) {
      if (ownsNetns(instance, d)) { rmrf(`/etc/netns/${d}`); }
    }
  } catch { /* no /etc/netns */ }
  if (fs.existsSync(sdir)) { rmrf(sdir); removed.push(`state ${sdir}`); }
  if (!opts.keepDaemonLog) { try { fs.unlinkSync(`${STATE_ROOT}/${instance}.daemon.log`); } catch { /* none */ } }
  // the shared roots go when no instance is left
  try { fs.rmdirSync(CGROUP_ROOT); } catch { /* other instances or absent */ }
  try { fs.rmdirSync(STATE_ROOT); } catch { /* other instances or absent */ }
  return removed;
}

export function listInstances(): string[] {
  const s = new Set<string>();
  try { for (const d of fs.readdirSync(STATE_ROOT)) s.add(d); } catch { /* none */ }
  try { for (const d of fs.readdirSync(CGROUP_ROOT)) if (fs.statSync(`${CGROUP_ROOT}/${d}`).isDirectory()) s.add(d); } catch { /* none */ }
  return [...s];
}

/** What is left of an instance (empty when nothing): used by `down` and by the teardown test. */
export function leftovers(instance: string): string[] {
  const out: string[] = [];
  for (const ns of listInstanceNetns(instance)) out.push(`netns ${ns}`);
  try { for (const d of fs.readdirSync('/etc/netns')) if (ownsNetns(instance, d)) out.push(`/etc/netns/${d}`); } catch { /* */ }
  const sdir = stateDir(instance);
  for (const m of mountsUnder(sdir)) out.push(`mount ${m}`);
  if (fs.existsSync(sdir)) out.push(`state ${sdir}`);
  const cg = `${CGROUP_ROOT}/${instance}`;
  if (fs.existsSync(cg)) out.push(`cgroup ${cg}`);
  if (fs.existsSync(`${STATE_ROOT}/${instance}.daemon.log`)) out.push(`${STATE_ROOT}/${instance}.daemon.log`);
  return out;
}
