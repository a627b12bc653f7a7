/**
 * A container's environment as the kubelet builds it: service links, envFrom, env with
 * valueFrom and $(VAR) expansion, over the image's declared variables.
 */
import type { Engine } from './engine';
import { BRIDGE_IP } from './network';
import { Container, Pod } from './pod';

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

export class ContainerEnv {
  constructor(private readonly eng: Engine) {}

  private lookupKey(kind: 'ConfigMap' | 'Secret', ns: string, name: string, key: string, optional: boolean, what: string): string | undefined {
    const o = this.eng.store.getObject(kind, ns, name);
    if (!o) { if (optional) return undefined; throw new Error(`${what}: ${kind.toLowerCase()} "${name}" not found`); }
    let v: string | undefined;
    if (o.kind === 'Secret') v = o.data?.[key] !== undefined ? Buffer.from(o.data[key], 'base64').toString('utf8') : undefined;
    else v = o.data?.[key] ?? (o.binaryData?.[key] !== undefined ? Buffer.from(o.binaryData[key], 'base64').toString('utf8') : undefined);
    if (v === undefined && !optional) throw new Error(`${what}: couldn't find key ${key} in ${kind} ${ns}/${name}`);
    return v;
  }

  /** Service links (enableServiceLinks, default true): the services of the namespace that exist now. */
  private serviceLinks(pod: Pod, defined: Record<string, string>): void {
    for (const s of this.eng.store.list('Service', pod.namespace)) {
      const ip = this.eng.network.serviceIP(pod.namespace, s.metadata.name);
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

  private fieldRef(pod: Pod, env: string, fp: string): string {
    if (fp === 'metadata.name') return pod.name;
    if (fp === 'metadata.namespace') return pod.namespace;
    if (fp === 'status.podIP') return pod.ip ?? '';
    if (fp === 'status.podIPs') return pod.ip ?? '';
    if (fp === 'metadata.uid') return pod.uid;
    if (fp === 'spec.nodeName') return 'podrt-node';
    if (fp === 'status.hostIP') return BRIDGE_IP;
    if (fp === 'spec.serviceAccountName') return pod.spec.serviceAccountName ?? 'default';
    const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fp);
    if (m) return (pod.obj.metadata[m[1] as 'labels' | 'annotations'] ?? {})[m[2]] ?? '';
    throw new Error(`env ${env}: fieldRef ${fp} not supported`);
  }

  build(pod: Pod, c: Container): Record<string, string> {
    const defined: Record<string, string> = {};
    if (pod.spec.enableServiceLinks !== false) this.serviceLinks(pod, defined);
    // envFrom: every key of the ConfigMap/Secret that is a valid variable name, before env
    for (const ef of c.spec.envFrom ?? []) {
      const ref = ef.configMapRef ?? ef.secretRef;
      const kind = ef.configMapRef ? 'ConfigMap' : 'Secret';
      if (!ref) continue;
      const o = this.eng.store.getObject(kind, pod.namespace, ref.name);
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
        else if (vf.fieldRef) v = this.fieldRef(pod, e.name, vf.fieldRef.fieldPath);
        else throw new Error(`env ${e.name}: valueFrom kind not supported`);
        if (v === undefined) continue; // optional and absent: not set
      } else {
        v = expandVars(String(e.value ?? ''), (n) => defined[n]);
      }
      defined[e.name] = v;
    }
    const env: Record<string, string> = { ...c.image!.config.env, ...defined };
    env.HOSTNAME = pod.hostname;
    if (env.HOME === undefined) env.HOME = c.home;
    return env;
  }
}
