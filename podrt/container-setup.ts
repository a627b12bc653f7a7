/**
 * Preparing a container start: its user, groups and capabilities from the security contexts and
 * the image, its environment, its root (the image's root filesystem under a per-container
 * overlay, so the image stays as built and the container's writes go away with it), and the
 * nsenter + bwrap + setpriv command line that runs it in the pod's network namespace.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerEnv, expandVars } from './container-env';
import type { Engine } from './engine';
import type { BuiltImage } from './image-build';
import { Container, Pod } from './pod';
import { mkdirp, rmrf } from './util';

/** Docker's default capability bounding set, for containers that do not drop ALL. */
const DEFAULT_CAPS = ['chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'net_bind_service', 'net_raw', 'sys_chroot', 'mknod', 'audit_write', 'setfcap'];

interface Accounts {
  users: { name: string; uid: number; gid: number; home: string }[];
  groups: { name: string; gid: number; members: string[] }[];
}
const accountsByImage = new Map<string, Accounts>();

/** The users and groups of the image's /etc/passwd and /etc/group. */
export function imageAccounts(image: BuiltImage): Accounts {
  let a = accountsByImage.get(image.key);
  if (a) return a;
  const read = (f: string) => fs.readFileSync(path.join(image.rootfs, 'etc', f), 'utf8').split('\n').filter(Boolean).map((l) => l.split(':'));
  a = {
    users: read('passwd').map(([name, , uid, gid, , home]) => ({ name, uid: Number(uid), gid: Number(gid), home })),
    groups: read('group').map(([name, , gid, members]) => ({ name, gid: Number(gid), members: members ? members.split(',') : [] })),
  };
  accountsByImage.set(image.key, a);
  return a;
}

/** The uid, gid, groups, setpriv arguments and working directory of the container. */
function resolveSecurity(pod: Pod, c: Container): void {
  const psc = pod.spec.securityContext ?? {};
  const csc = c.spec.securityContext ?? {};
  const image = c.image!;
  const accounts = imageAccounts(image);
  c.uid = csc.runAsUser ?? psc.runAsUser ?? image.config.uid;
  const user = accounts.users.find((u) => u.uid === c.uid);
  c.gid = csc.runAsGroup ?? psc.runAsGroup ?? (csc.runAsUser !== undefined || psc.runAsUser !== undefined ? (user?.gid ?? 0) : image.config.gid);
  if ((csc.runAsNonRoot ?? psc.runAsNonRoot) && c.uid === 0) throw new Error('container has runAsNonRoot and image will run as root');
  const groups = new Set<number>();
  if (psc.fsGroup !== undefined) groups.add(psc.fsGroup);
  for (const g of psc.supplementalGroups ?? []) groups.add(g);
  for (const g of accounts.groups) if (user && g.members.includes(user.name)) groups.add(g.gid);
  c.groups = [...groups];
  c.home = user?.home ?? '/';
  const priv: string[] = ['--reuid', String(c.uid), '--regid', String(c.gid)];
  priv.push(...(c.groups.length ? ['--groups', c.groups.join(',')] : ['--clear-groups']));
  if (csc.allowPrivilegeEscalation === false) priv.push('--no-new-privs');
  const drop = csc.capabilities?.drop ?? [];
  if (drop.includes('ALL')) priv.push('--inh-caps=-all', '--bounding-set=-all');
  else priv.push(`--bounding-set=-all,${DEFAULT_CAPS.map((x) => '+' + x).join(',')}`);
  c.privArgs = priv;
  c.workingDir = c.spec.workingDir ?? image.config.workingDir;
}

/**
 * `target`, a path in the container, with every symlink on the way resolved as the container
 * sees it (an absolute link starts again at `root`); a path that does not exist yet is returned
 * as far as it resolved plus the rest. Never leaves `root`.
 */
export function resolveInRoot(root: string, target: string): string {
  let pending = target.split('/').filter(Boolean);
  let done: string[] = [];
  for (let hops = 0; pending.length; ) {
    const name = pending.shift()!;
    if (name === '.' ) continue;
    if (name === '..') { done.pop(); continue; }
    const here = path.join(root, ...done, name);
    let link: string | undefined;
    try { if (fs.lstatSync(here).isSymbolicLink()) link = fs.readlinkSync(here); } catch { /* does not exist yet */ }
    if (link === undefined) { done.push(name); continue; }
    if (++hops > 40) throw new Error(`too many symlinks resolving ${target} in the image`);
    if (link.startsWith('/')) done = [];
    pending = [...link.split('/').filter(Boolean), ...pending];
  }
  return '/' + done.join('/');
}

/** Unmounts the container root of an earlier run (a restart), if it is still mounted. */
function unmountRoot(root: string): void {
  try { execFileSync('umount', ['-l', root], { stdio: 'ignore' }); } catch { /* not mounted */ }
}

export class ContainerSetup {
  private readonly env: ContainerEnv;

  constructor(private readonly eng: Engine) {
    this.env = new ContainerEnv(eng);
  }

  /** Build the container's root and the command line that runs it. */
  prepare(pod: Pod, c: Container): string[] {
    const image = c.image;
    if (!image) throw new Error(`image ${c.spec.image} is not built`);
    resolveSecurity(pod, c);
    c.env = this.env.build(pod, c);
    // argv: command/args with $(VAR) expansion from the container's env
    const look = (n: string) => c.env[n];
    let argv: string[];
    const cmd = c.spec.command?.map((s) => expandVars(String(s), look));
    const args = c.spec.args?.map((s) => expandVars(String(s), look));
    if (cmd && cmd.length) argv = [...cmd, ...(args ?? [])];
    else if (image.config.cmd) argv = [...(args?.length ? [] : image.config.cmd), ...(args ?? [])];
    else throw new Error(`image ${c.spec.image} declares no CMD: set command`);

    const cdir = `${pod.dir}/c/${c.name}`;
    const root = `${cdir}/rootfs`;
    unmountRoot(root);
    for (const d of ['rootfs', 'upper', 'work']) { rmrf(`${cdir}/${d}`); mkdirp(`${cdir}/${d}`); }
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${image.rootfs},upperdir=${cdir}/upper,workdir=${cdir}/work`, root]);
    const b: string[] = ['--bind', root, '/', '--proc', '/proc', '--dev', '/dev'];
    const ns = pod.netns!;
    b.push('--ro-bind', `/etc/netns/${ns}/hosts`, '/etc/hosts', '--ro-bind', `/etc/netns/${ns}/resolv.conf`, '/etc/resolv.conf', '--ro-bind', `/etc/netns/${ns}/hostname`, '/etc/hostname');
    b.push(...this.volumeBinds(pod, c, root));
    const ro = !!c.spec.securityContext?.readOnlyRootFilesystem;
    if (ro) b.push('--remount-ro', '/');
    b.push('--unshare-pid', '--unshare-uts', '--unshare-ipc', '--hostname', pod.hostname, '--as-pid-1', '--die-with-parent', '--info-fd', '3', '--chdir', c.workingDir);
    return ['/usr/bin/nsenter', `--net=/run/netns/${ns}`, '--', '/usr/bin/bwrap', ...b, '--', '/usr/bin/setpriv', ...c.privArgs, '--', ...argv];
  }

  /** bwrap arguments that mount the container's volumes, parents before children, creating the mount points in `root`. */
  private volumeBinds(pod: Pod, c: Container, root: string): string[] {
    const b: string[] = [];
    const mounts = [...(c.spec.volumeMounts ?? [])].sort((x, y) => x.mountPath.split('/').length - y.mountPath.split('/').length);
    for (const m of mounts) {
      const v = (pod.spec.volumes ?? []).find((x) => x.name === m.name);
      if (!v) throw new Error(`volumeMount ${m.name}: no such volume`);
      let src = this.eng.volumes.volumePath(pod, v);
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
      // the point itself a directory or an empty file like its source. Symlinks on the way are the
      // image's (Debian's /var/run -> /run): resolved inside the root, never on the host.
      let target = path.posix.normalize(m.mountPath);
      const under = (p: string) => !['/proc', '/dev'].some((x) => p === x || p.startsWith(x + '/'));
      if (under(target)) {
        target = resolveInRoot(root, target);
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
      b.push(ro ? '--ro-bind' : '--bind', src, target);
    }
    return b;
  }
}
