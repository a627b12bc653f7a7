/**
 * Services as kube-proxy implements them: the endpoints of a Service and the nftables DNAT
 * ruleset that every pod's namespace (and the runtime's own) gets.
 */
import { Service, ServicePort, matches } from './k8s-types';
import { Pod } from './pod';

/** Pods behind a Service: ready ones, or all with an address when publishNotReadyAddresses. */
export function endpoints(svc: Service, pods: Iterable<Pod>): Pod[] {
  const ns = svc.metadata.namespace;
  const sel = svc.spec?.selector;
  if (!sel) return [];
  const tolerate = !!svc.spec.publishNotReadyAddresses;
  return [...pods].filter((p) => p.namespace === ns && p.ip && !p.gone && matches(sel, p.labels) && (tolerate ? p.phase !== 'Pending' || !!p.netns : p.ready));
}

/** A container port by number or by name, as a Service's targetPort or a probe's port names it. */
export function containerPort(p: Pod, port: number | string): number | undefined {
  if (typeof port === 'number' || /^\d+$/.test(String(port))) return Number(port);
  for (const c of p.containers) for (const cp of c.spec.ports ?? []) if (cp.name === port) return cp.containerPort;
  return undefined;
}

export function targetPortFor(p: Pod, sp: ServicePort): number | undefined {
  return containerPort(p, sp.targetPort ?? sp.port);
}

/**
 * The DNAT rules of every ClusterIP Service: `numgen random` over its endpoints, a TCP reset
 * when it has none (kube-proxy's REJECT). Replaces the whole table atomically.
 */
export function serviceRuleset(services: Service[], ipOf: (s: Service) => string | undefined, endpointsOf: (s: Service) => Pod[]): string {
  const rules: string[] = [];
  const rejects: string[] = [];
  for (const s of services) {
    const ip = ipOf(s);
    if (!ip) continue;
    const eps = endpointsOf(s);
    for (const sp of s.spec?.ports ?? []) {
      if ((sp.protocol ?? 'TCP') !== 'TCP') continue;
      const targets: string[] = [];
      for (const p of eps) { const tp = targetPortFor(p, sp); if (tp) targets.push(`${p.ip} . ${tp}`); }
      const match = `ip daddr ${ip} tcp dport ${sp.port}`;
      if (!targets.length) rejects.push(`${match} reject with tcp reset`); // kube-proxy: no endpoints -> REJECT
      else if (targets.length === 1) rules.push(`${match} dnat ip to ${targets[0].replace(' . ', ':')}`);
      else rules.push(`${match} dnat ip to numgen random mod ${targets.length} map { ${targets.map((t, i) => `${i} : ${t}`).join(', ')} }`);
    }
  }
  return ['table ip prt_svc { }', 'delete table ip prt_svc', 'table ip prt_svc {',
    '  chain out { type nat hook output priority -100; policy accept;', ...rules.map((r) => `    ${r}`), '  }',
    '  chain noendpoints { type filter hook output priority -1; policy accept;', ...rejects.map((r) => `    ${r}`), '  }', '}', ''].join('\n');
}
