/**
 * PersistentVolumeClaims: a directory per claim under the state dir, kept across pod recreation,
 * deleted only when no pod uses it (pvc-protection).
 */
import * as fs from 'node:fs';
import type { Engine } from './engine';
import { unmountUnder } from './cleanup';
import { Labels } from './k8s-types';
import { mkdirp, rmrf } from './util';

export interface Claim { namespace: string; name: string; dir: string; deleting: boolean; labels: Labels; createdAt: number }

export class Claims {
  private claims = new Map<string, Claim>();

  constructor(private readonly eng: Engine) {}

  get(ns: string, name: string): Claim | undefined {
    return this.claims.get(`${ns}/${name}`);
  }

  ensure(ns: string, name: string, labels: Labels): Claim {
    const key = `${ns}/${name}`;
    let c = this.claims.get(key);
    if (!c) {
      c = { namespace: ns, name, dir: `${this.eng.sdir}/pvc/${ns}/${name}`, deleting: false, labels, createdAt: Date.now() };
      mkdirp(c.dir);
      fs.chmodSync(c.dir, 0o755);
      this.claims.set(key, c);
      this.eng.event(`claim ${key} created`);
    }
    return c;
  }

  delete(ns: string, name: string): string {
    const c = this.claims.get(`${ns}/${name}`);
    if (!c) throw new Error(`persistentvolumeclaim "${name}" not found in namespace ${ns}`);
    c.deleting = true;
    this.eng.event(`claim ${ns}/${name} marked for deletion`);
    this.eng.controllers.scheduleReconcile();
    return `persistentvolumeclaim/${name} deleted${this.inUse(c) ? ' (kept until the pod using it is gone: pvc-protection)' : ''}`;
  }

  inUse(c: Claim): boolean {
    for (const p of this.eng.pods.values()) {
      if (p.gone || p.namespace !== c.namespace) continue;
      for (const v of p.spec.volumes ?? []) if (v.persistentVolumeClaim?.claimName === c.name) return true;
    }
    return false;
  }

  list(ns?: string): Claim[] {
    return [...this.claims.values()].filter((c) => !ns || c.namespace === ns);
  }

  /** Remove the claims marked for deletion that no pod uses any more. */
  async reap(): Promise<void> {
    for (const c of [...this.claims.values()]) {
      if (c.deleting && !this.inUse(c)) {
        this.claims.delete(`${c.namespace}/${c.name}`);
        await unmountUnder(c.dir);
        rmrf(c.dir);
        this.eng.event(`claim ${c.namespace}/${c.name} deleted`);
      }
    }
  }
}
