/**
 * NetworkPolicy ingress, as the Kubernetes API defines it, decided without side effects: which
 * pods are isolated for ingress and which sources and ports each may receive from, then the
 * nftables table that enforces it in the pod's own network namespace.
 *
 * The semantics (networking.k8s.io/v1):
 * - A policy selects pods of its own namespace by `podSelector` (`{}` selects every pod).
 * - It isolates them for ingress when `policyTypes` has `Ingress`; without `policyTypes`, every
 *   policy does (Egress is added only when the policy has an `egress` section).
 * - An isolated pod accepts what the union of the `ingress` rules of every policy selecting it
 *   allows; a pod no policy isolates accepts everything. Policies only add.
 * - A rule allows its `from` peers (missing or empty: every source) on its `ports` (missing or
 *   empty: every port). A peer is a `podSelector` (pods of the policy's namespace), a
 *   `namespaceSelector` (every pod of the matching namespaces), both (matching pods in matching
 *   namespaces), or an `ipBlock` (a CIDR minus its `except` CIDRs).
 * - A port is a number or a container port name of the receiving pod, with `protocol`
 *   (default TCP) and an optional `endPort`.
 * - Replies to connections the pod opened are never blocked, and the node (the kubelet's probes;
 *   here also the runtime's port-forwards) always reaches its pods, as with the common CNIs.
 *
 * Egress policies are not enforced (the library emits none).
 */
import type { Labels } from './k8s-types';

export interface SelectorRequirement { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }
export interface Selector { matchLabels?: Labels; matchExpressions?: SelectorRequirement[] }
export interface PolicyPeer { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: { cidr: string; except?: string[] } }
export interface PolicyPort { protocol?: 'TCP' | 'UDP' | 'SCTP'; port?: number | string; endPort?: number }
export interface NetworkPolicy {
  metadata: { name: string; namespace: string };
  spec: {
    podSelector: Selector;
    policyTypes?: Array<'Ingress' | 'Egress'>;
    ingress?: Array<{ from?: PolicyPeer[]; ports?: PolicyPort[] }>;
    egress?: unknown[];
  };
}

/** What the decision needs of a pod: where it is, its labels, its address and its named ports. */
export interface PolicyPod {
  namespace: string;
  name: string;
  labels: Labels;
  ip?: string;
  /** container port name -> number and protocol */
  namedPorts: Record<string, { port: number; protocol: string }>;
}

/** Sources: 'any', or address ranges (a pod address as /32) with the ranges cut out of them. */
export type Sources = 'any' | Array<{ cidr: string; except: string[] }>;
/** Ports: 'any', or protocol + first..last. */
export type Ports = 'any' | Array<{ protocol: string; from: number; to: number }>;
export interface IngressDecision {
  /** false: no policy selects the pod for ingress, and it accepts everything */
  isolated: boolean;
  /** what an isolated pod accepts, one entry per rule that can match something */
  allow: Array<{ sources: Sources; ports: Ports; because: string }>;
}

export function selectorMatches(selector: Selector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const inValues = has && (r.values ?? []).includes(labels[r.key]);
    if (r.operator === 'In' && !inValues) return false;
    if (r.operator === 'NotIn' && inValues) return false;
    if (r.operator === 'Exists' && !has) return false;
    if (r.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function isolatesIngress(p: NetworkPolicy): boolean {
  return p.spec.policyTypes ? p.spec.policyTypes.includes('Ingress') : true;
}

/** The sources one peer names, as address ranges (pods without an address yet match nothing). */
function peerSources(peer: PolicyPeer, policyNamespace: string, pods: readonly PolicyPod[], namespaceLabels: (ns: string) => Labels): Array<{ cidr: string; except: string[] }> {
  if (peer.ipBlock) return [{ cidr: peer.ipBlock.cidr, except: peer.ipBlock.except ?? [] }];
  const inNamespace = (pod: PolicyPod) =>
    peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, namespaceLabels(pod.namespace)) : pod.namespace === policyNamespace;
  return pods
    .filter((pod) => pod.ip && inNamespace(pod) && selectorMatches(peer.podSelector, pod.labels))
    .map((pod) => ({ cidr: `${pod.ip}/32`, except: [] }));
}

/** The ports of one rule for the receiving pod; a name the pod does not have matches nothing. */
function rulePorts(ports: PolicyPort[] | undefined, pod: PolicyPod): Ports {
  if (!ports || ports.length === 0) return 'any';
  const out: Array<{ protocol: string; from: number; to: number }> = [];
  for (const p of ports) {
    const protocol = p.protocol ?? 'TCP';
    if (p.port === undefined) {
      out.push({ protocol, from: 1, to: 65535 });
    } else if (typeof p.port === 'number') {
      out.push({ protocol, from: p.port, to: p.endPort ?? p.port });
    } else {
      const named = pod.namedPorts[p.port];
      if (named && named.protocol === protocol) out.push({ protocol, from: named.port, to: named.port });
    }
  }
  return out;
}

/** The ingress decision for `pod` under every policy in `policies`. */
export function ingressFor(pod: PolicyPod, policies: readonly NetworkPolicy[], pods: readonly PolicyPod[], namespaceLabels: (ns: string) => Labels): IngressDecision {
  const selecting = policies.filter((p) => p.metadata.namespace === pod.namespace && isolatesIngress(p) && selectorMatches(p.spec.podSelector, pod.labels));
  const allow: IngressDecision['allow'] = [];
  for (const policy of selecting) {
    (policy.spec.ingress ?? []).forEach((rule, i) => {
      const ports = rulePorts(rule.ports, pod);
      if (ports !== 'any' && ports.length === 0) return;
      const because = `${policy.metadata.namespace}/${policy.metadata.name} ingress[${i}]`;
      if (!rule.from || rule.from.length === 0) {
        allow.push({ sources: 'any', ports, because });
        return;
      }
      const sources = rule.from.flatMap((peer) => peerSources(peer, policy.metadata.namespace, pods, namespaceLabels));
      if (sources.length > 0) allow.push({ sources, ports, because });
    });
  }
  return { isolated: selecting.length > 0, allow };
}

/** Whether a connection from `ip` to `port`/`protocol` is accepted under `decision` (for tests and `podrt get`). */
export function accepts(decision: IngressDecision, ip: string, port: number, protocol = 'TCP'): boolean {
  if (!decision.isolated) return true;
  return decision.allow.some(
    (a) =>
      (a.ports === 'any' || a.ports.some((p) => p.protocol === protocol && port >= p.from && port <= p.to)) &&
      (a.sources === 'any' || a.sources.some((s) => inCidr(ip, s.cidr) && !s.except.some((e) => inCidr(ip, e)))),
  );
}

function ipv4(ip: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  return m ? m.slice(1).reduce((n, o) => n * 256 + Number(o), 0) : undefined;
}

/** IPv4 only: the runtime's pod network is IPv4; an IPv6 range never contains an IPv4 source. */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const a = ipv4(ip);
  const b = ipv4(base);
  if (a === undefined || b === undefined) return false;
  const bits = Number(bitsText ?? 32);
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}

/**
 * The nftables table `prt_policy` of a pod's namespace for `decision`: replaced atomically.
 * Established and related traffic, loopback and `nodeAddresses` always pass; an isolated pod
 * drops every other new connection that no rule allows. IPv4 ranges only (the pod network).
 */
export function policyRuleset(decision: IngressDecision, nodeAddresses: readonly string[]): string {
  const lines = ['table inet prt_policy { }', 'delete table inet prt_policy'];
  if (!decision.isolated) return [...lines, ''].join('\n');
  const rules: string[] = [
    'ct state established,related accept',
    'iif lo accept',
    ...nodeAddresses.map((a) => `ip saddr ${a} accept`),
  ];
  for (const a of decision.allow) {
    const v4 = a.sources === 'any' ? 'any' : a.sources.filter((s) => s.cidr.includes('.'));
    if (v4 !== 'any' && v4.length === 0) continue;
    const portMatches = a.ports === 'any' ? [''] : a.ports.map((p) => `${p.protocol.toLowerCase()} dport ${p.from === p.to ? p.from : `${p.from}-${p.to}`} `);
    for (const pm of portMatches) {
      if (v4 === 'any') {
        rules.push(`${pm}accept comment "${a.because}"`);
        continue;
      }
      for (const s of v4) {
        const except = s.except.filter((e) => e.includes('.'));
        const cut = except.length ? `ip saddr != { ${except.join(', ')} } ` : '';
        rules.push(`ip saddr ${s.cidr} ${cut}${pm}accept comment "${a.because}"`);
      }
    }
  }
  return [...lines, 'table inet prt_policy {', '  chain ingress { type filter hook input priority 0; policy drop;', ...rules.map((r) => `    ${r}`), '  }', '}', ''].join('\n');
}
