/**
 * Cluster DNS as files: each pod's hosts file (ClusterIP names, headless endpoints, the pod's
 * own name) and resolv.conf, bind-mounted into every container of the pod.
 */
import { Service } from './k8s-types';
import { Pod } from './pod';

export function hostsFile(pod: Pod, domain: string, services: Service[], ipOf: (s: Service) => string | undefined, endpointsOf: (s: Service) => Pod[]): string {
  const d = domain;
  const lines = ['# Kubernetes-managed hosts file (podrt).', '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'fe00::1\tip6-mcastprefix'];
  if (pod.ip) lines.push(pod.subdomain ? `${pod.ip}\t${pod.hostname}.${pod.subdomain}.${pod.namespace}.svc.${d}\t${pod.hostname}` : `${pod.ip}\t${pod.hostname}`);
  const names = (base: string, ns: string) => {
    const n = [`${base}.${ns}.svc.${d}`, `${base}.${ns}.svc`, `${base}.${ns}`];
    if (ns === pod.namespace) n.push(base);
    return n.join(' ');
  };
  for (const s of services) {
    const ns = s.metadata.namespace; const sn = s.metadata.name;
    const ip = ipOf(s);
    if (ip) { lines.push(`${ip}\t${names(sn, ns)}`); continue; }
    // headless: the service name resolves to every endpoint, and pods with hostname+subdomain get records
    for (const p of endpointsOf(s)) {
      lines.push(`${p.ip}\t${names(sn, ns)}`);
      if (p.subdomain === sn) lines.push(`${p.ip}\t${names(`${p.hostname}.${sn}`, ns)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Names not in the hosts file fail fast: the nameserver is a loopback address nothing listens on. */
export function resolvConf(namespace: string, domain: string): string {
  return `search ${namespace}.svc.${domain} svc.${domain} ${domain}\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n`;
}
