/**
 * Pod volumes as the kubelet sets them up: emptyDir (tmpfs for medium Memory), configMap and
 * secret volumes in the atomic writer's layout (and kept current), claims with fsGroup applied.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Engine } from './engine';
import { Volume } from './k8s-types';
import { Pod } from './pod';
import { mkdirp, must, parseQuantity, randomSuffix, rmrf } from './util';

export class Volumes {
  constructor(private readonly eng: Engine) {}

  /** Where a volume's contents are on the host. */
  volumePath(pod: Pod, v: Volume): string {
    if (v.persistentVolumeClaim) {
      const c = this.eng.claims.get(pod.namespace, v.persistentVolumeClaim.claimName);
      if (!c) throw new Error(`persistentvolumeclaim "${v.persistentVolumeClaim.claimName}" not found`);
      return c.dir;
    }
    return `${pod.dir}/vol/${v.name}`;
  }

  async setupVolumes(pod: Pod): Promise<void> {
    const fsGroup = pod.spec.securityContext?.fsGroup;
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
        const claim = this.eng.claims.get(pod.namespace, v.persistentVolumeClaim.claimName);
        if (!claim) throw new Error(`persistentvolumeclaim "${v.persistentVolumeClaim.claimName}" not found`);
        if (fsGroup !== undefined && this.eng.opts.pvcFsGroup && !v.persistentVolumeClaim.readOnly) {
          const st = fs.statSync(claim.dir);
          const onRootMismatch = pod.spec.securityContext?.fsGroupChangePolicy === 'OnRootMismatch';
          // kubelet's requiresPermissionChange: group, setgid and rwx for the group on the root
          const rootOk = st.gid === fsGroup && (st.mode & 0o2000) !== 0 && (st.mode & 0o770) === 0o770;
          if (!(onRootMismatch && rootOk)) applyFsGroup(claim.dir, fsGroup, false);
        }
      } else {
        throw new Error(`volume ${v.name}: type not implemented`);
      }
    }
  }

  private writeConfigVolume(pod: Pod, v: Volume, dir: string): void {
    const isSecret = !!v.secret;
    const src = (v.secret ?? v.configMap)!;
    const name = v.secret ? v.secret.secretName : v.configMap!.name;
    const o = isSecret ? this.eng.store.getObject('Secret', pod.namespace, name) : this.eng.store.getObject('ConfigMap', pod.namespace, name);
    if (!o && !src.optional) throw new Error(`${isSecret ? 'secret' : 'configmap'} "${name}" not found (volume ${v.name})`);
    const data: Record<string, Buffer> = {};
    if (o) {
      if (o.kind === 'Secret') for (const [k, val] of Object.entries(o.data ?? {})) data[k] = Buffer.from(String(val), 'base64');
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
    const fsGroup = pod.spec.securityContext?.fsGroup;
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
    if (fsGroup !== undefined) applyFsGroup(tsDir, fsGroup, true);
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
  refreshConfigVolumes(kind: string, ns: string, name: string): void {
    for (const p of this.eng.pods.values()) {
      if (p.namespace !== ns || p.deleting || p.phase === 'Pending') continue;
      for (const v of p.spec.volumes ?? []) {
        const matchesVol = kind === 'Secret' ? v.secret?.secretName === name : v.configMap?.name === name;
        if (!matchesVol) continue;
        try { this.writeConfigVolume(p, v, `${p.dir}/vol/${v.name}`); } catch (e) { this.eng.event(`pod ${p.key} volume ${v.name}: ${(e as Error).message}`); }
      }
    }
  }
}

/** kubelet's SetVolumeOwnership: group fsGroup, group rw (ro for read-only volumes), setgid dirs. */
function applyFsGroup(dir: string, gid: number, readonly: boolean): void {
  const mask = readonly ? 0o440 : 0o660;
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    fs.lchownSync(p, -1, gid);
    let m = mask;
    if (st.isDirectory()) m |= 0o2000 | 0o110;
    fs.chmodSync(p, (st.mode & 0o7777) | m);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(`${p}/${e}`);
  };
  walk(dir);
}
