/**
 * Preparing a container start: its user, groups and capabilities from the security contexts and
 * the image profile, its environment, a fresh root directory, and the nsenter + bwrap + setpriv
 * command line that runs it in the pod's network namespace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerEnv, expandVars } from './container-env';
import type { Engine } from './engine';
import { Container, Pod } from './pod';
import { groupFile, passwdFile, profileFor, shadowFile } from './profiles';
import { mkdirp, rmrf } from './util';

/** Docker's default capability bounding set, for containers that do not drop ALL. */
const DEFAULT_CAPS = ['chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'net_bind_service', 'net_raw', 'sys_chroot', 'mknod', 'audit_write', 'setfcap'];

/** The uid, gid, groups, setpriv arguments and working directory of the container. */
function resolveSecurity(pod: Pod, c: Container): void {
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

export class ContainerSetup {
  private readonly env: ContainerEnv;
  private etcEntries: { binds: string[]; links: [string, string][] } | undefined;

  constructor(private readonly eng: Engine) {
    this.env = new ContainerEnv(eng);
  }

  /** The host's /etc entries a container sees (the image's /etc), read once. */
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
  prepare(pod: Pod, c: Container): string[] {
    resolveSecurity(pod, c);
    c.env = this.env.build(pod, c);
    const profile = c.profile;
    // argv: command/args with $(VAR) expansion from the container's env
    const look = (n: string) => c.env[n];
    let argv: string[];
    const cmd = c.spec.command?.map((s) => expandVars(String(s), look));
    const args = c.spec.args?.map((s) => expandVars(String(s), look));
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
    const mountPaths = (c.spec.volumeMounts ?? []).map((m) => path.posix.normalize(m.mountPath));
    for (const n of etc.binds) {
      if (mountPaths.some((mp) => mp === `/etc/${n}` || mp.startsWith(`/etc/${n}/`))) continue;
      b.push('--ro-bind', `/etc/${n}`, `/etc/${n}`);
    }
    const ns = pod.netns!;
    b.push('--ro-bind', `${cdir}/passwd`, '/etc/passwd', '--ro-bind', `${cdir}/group`, '/etc/group', '--ro-bind', `${cdir}/shadow`, '/etc/shadow');
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
    return b;
  }
}
