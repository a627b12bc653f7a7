/**
 * The pod runtime's NetworkPolicy ingress decision (podrt/network-policy.ts) against the standard
 * Kubernetes behaviour, as a table: podSelector, namespaceSelector, both, ipBlock with except,
 * ports (number, range, name, protocol), the empty selector, several policies combined, and
 * policyTypes. Pure: no root, no namespace; the nftables table it renders is checked by its rules.
 */
import { describe, expect, it } from 'vitest';
import { accepts, ingressFor, policyRuleset, selectorMatches, type NetworkPolicy, type PolicyPod } from '../../podrt/network-policy';

const NAMESPACE_LABELS: Record<string, Record<string, string>> = {
  db: { 'kubernetes.io/metadata.name': 'db' },
  shop: { 'kubernetes.io/metadata.name': 'shop', team: 'shop' },
  other: { 'kubernetes.io/metadata.name': 'other' },
};
const nsLabels = (ns: string) => NAMESPACE_LABELS[ns] ?? {};

const pod = (namespace: string, name: string, ip: string, labels: Record<string, string>, namedPorts: PolicyPod['namedPorts'] = {}): PolicyPod => ({ namespace, name, ip, labels, namedPorts });
const PODS = {
  node0: pod('db', 'orders-node-0', '10.244.0.10', { component: 'node' }, { postgres: { port: 5432, protocol: 'TCP' }, status: { port: 8008, protocol: 'TCP' } }),
  node1: pod('db', 'orders-node-1', '10.244.0.11', { component: 'node' }, { postgres: { port: 5432, protocol: 'TCP' }, status: { port: 8008, protocol: 'TCP' } }),
  pgpool: pod('db', 'orders-pgpool-x', '10.244.0.12', { component: 'pgpool' }),
  stranger: pod('db', 'debug', '10.244.0.13', { run: 'debug' }),
  shopApp: pod('shop', 'web', '10.244.0.20', { app: 'web' }),
  otherApp: pod('other', 'web', '10.244.0.40', { app: 'web' }),
};
const ALL = Object.values(PODS);

const policy = (name: string, spec: NetworkPolicy['spec'], namespace = 'db'): NetworkPolicy => ({ metadata: { name, namespace }, spec });
const NODES = { matchLabels: { component: 'node' } };

/** The member policy of the library's design: peers on 5432 and 8008, Pgpool-II on 5432. */
const MEMBERS = policy('members', {
  podSelector: NODES,
  policyTypes: ['Ingress'],
  ingress: [
    { from: [{ podSelector: NODES }], ports: [{ port: 5432 }, { port: 'status' }] },
    { from: [{ podSelector: { matchLabels: { component: 'pgpool' } } }], ports: [{ port: 'postgres' }] },
  ],
});

describe('network policy: GIVEN policies WHEN a source connects to a pod THEN the Kubernetes rules decide', () => {
  it.each<[string, NetworkPolicy[], PolicyPod, PolicyPod, number, boolean]>([
    // no policy, or one that does not select the pod: everything is accepted
    ['no policy at all', [], PODS.stranger, PODS.node0, 5432, true],
    ['a policy selecting other pods', [policy('p', { podSelector: { matchLabels: { component: 'pgpool' } }, ingress: [] })], PODS.stranger, PODS.node0, 5432, true],
    // podSelector peers, ports by number and by name
    ['podSelector peer on its port', [MEMBERS], PODS.node1, PODS.node0, 5432, true],
    ['podSelector peer on the named status port', [MEMBERS], PODS.node1, PODS.node0, 8008, true],
    ['a pod the peers do not select', [MEMBERS], PODS.stranger, PODS.node0, 5432, false],
    ['pgpool on 5432 (named postgres)', [MEMBERS], PODS.pgpool, PODS.node0, 5432, true],
    ['pgpool on the status port it is not allowed', [MEMBERS], PODS.pgpool, PODS.node0, 8008, false],
    ['a podSelector peer of the same labels in another namespace', [MEMBERS], PODS.otherApp, PODS.node0, 5432, false],
    // the empty podSelector: every pod of the namespace is selected, every pod of it is a peer
    ['empty podSelector isolates all; an empty ingress allows nothing', [policy('deny', { podSelector: {}, ingress: [] })], PODS.node1, PODS.pgpool, 5432, false],
    ['empty peer podSelector: every pod of the policy namespace', [policy('ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })], PODS.stranger, PODS.pgpool, 9999, true],
    ['empty peer podSelector: not another namespace', [policy('ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })], PODS.shopApp, PODS.pgpool, 5432, false],
    ['a rule without from: every source', [policy('open', { podSelector: {}, ingress: [{ ports: [{ port: 5432 }] }] })], PODS.otherApp, PODS.pgpool, 5432, true],
    ['a rule without from and without ports: everything', [policy('open', { podSelector: {}, ingress: [{}] })], PODS.otherApp, PODS.pgpool, 1234, true],
    // namespaceSelector, alone and with a podSelector
    ['namespaceSelector: a pod of a matching namespace', [policy('apps', { podSelector: { matchLabels: { component: 'pgpool' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'shop' } } }] }] })], PODS.shopApp, PODS.pgpool, 5432, true],
    ['namespaceSelector: a pod of another namespace', [policy('apps', { podSelector: { matchLabels: { component: 'pgpool' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'shop' } } }] }] })], PODS.otherApp, PODS.pgpool, 5432, false],
    ['empty namespaceSelector: every namespace', [policy('apps', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] })], PODS.otherApp, PODS.pgpool, 5432, true],
    ['namespace and pod selector together: both must match', [policy('apps', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }] }] })], PODS.stranger, PODS.pgpool, 5432, false],
    ['namespace and pod selector together: a match', [policy('apps', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }] }] })], PODS.otherApp, PODS.pgpool, 5432, true],
    ['namespaceSelector by kubernetes.io/metadata.name with matchExpressions', [policy('apps', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop'] }] } }] }] })], PODS.shopApp, PODS.pgpool, 5432, true],
    // ipBlock with except
    ['ipBlock: inside the range', [policy('ip', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/27', except: ['10.244.0.16/28'] } }] }] })], PODS.node1, PODS.pgpool, 5432, true],
    ['ipBlock: in the except range', [policy('ip', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/27', except: ['10.244.0.16/28'] } }] }] })], PODS.shopApp, PODS.pgpool, 5432, false],
    ['ipBlock: outside the range', [policy('ip', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/27' } }] }] })], PODS.otherApp, PODS.pgpool, 5432, false],
    // ports: a range with endPort, a protocol that differs, a name the pod does not have
    ['endPort: inside the range', [policy('r', { podSelector: {}, ingress: [{ ports: [{ port: 5000, endPort: 6000 }] }] })], PODS.otherApp, PODS.pgpool, 5432, true],
    ['endPort: outside the range', [policy('r', { podSelector: {}, ingress: [{ ports: [{ port: 5000, endPort: 6000 }] }] })], PODS.otherApp, PODS.pgpool, 8008, false],
    ['UDP port does not open TCP', [policy('u', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 5432 }] }] })], PODS.otherApp, PODS.pgpool, 5432, false],
    ['a port name the pod does not have matches nothing', [policy('n', { podSelector: {}, ingress: [{ ports: [{ port: 'postgres' }] }] })], PODS.otherApp, PODS.pgpool, 5432, false],
    // several policies: their rules add up; none takes away
    ['two policies: the second allows what the first does not', [MEMBERS, policy('apps', { podSelector: NODES, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'shop' } } }], ports: [{ port: 5432 }] }] })], PODS.shopApp, PODS.node0, 5432, true],
    ['two policies: a deny-all next to an allow still allows', [MEMBERS, policy('deny', { podSelector: {}, ingress: [] })], PODS.node1, PODS.node0, 5432, true],
    // policyTypes
    ['policyTypes Egress only: ingress is not isolated', [policy('e', { podSelector: {}, policyTypes: ['Egress'], egress: [] })], PODS.otherApp, PODS.node0, 5432, true],
    ['policyTypes Ingress with no rules: ingress denied', [policy('i', { podSelector: {}, policyTypes: ['Ingress'] })], PODS.node1, PODS.node0, 5432, false],
    ['no policyTypes and an egress section: still isolates ingress', [policy('ie', { podSelector: {}, egress: [] })], PODS.node1, PODS.node0, 5432, false],
    // a policy of another namespace never selects the pod
    ['a deny-all in another namespace', [policy('deny', { podSelector: {}, ingress: [] }, 'shop')], PODS.shopApp, PODS.node0, 5432, true],
  ])('%s', (_case, policies, from, to, port, accepted) => {
    expect(accepts(ingressFor(to, policies, ALL, nsLabels), from.ip!, port)).toBe(accepted);
  });

  it('matchExpressions: In, NotIn, Exists, DoesNotExist', () => {
    const labels = { tier: 'db', zone: 'a' };
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['db', 'cache'] }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'owner', operator: 'NotIn', values: ['x'] }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels)).toBe(false);
    expect(selectorMatches({ matchLabels: { tier: 'db' }, matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }, labels)).toBe(false);
  });
});

describe('network policy: GIVEN a decision WHEN rendered THEN the nftables table enforces it in the pod namespace', () => {
  const nodeAddresses = ['10.244.0.1', '10.244.0.2'];

  it('a pod no policy isolates: the table is only removed (nothing filtered)', () => {
    const rs = policyRuleset(ingressFor(PODS.stranger, [MEMBERS], ALL, nsLabels), nodeAddresses);
    expect(rs).toBe('table inet prt_policy { }\ndelete table inet prt_policy\n');
  });

  it('an isolated pod: drop by default; replies, loopback and the node pass; one accept per source and port', () => {
    const rs = policyRuleset(ingressFor(PODS.node0, [MEMBERS], ALL, nsLabels), nodeAddresses);
    expect(rs).toContain('chain ingress { type filter hook input priority 0; policy drop;');
    expect(rs).toContain('    ct state established,related accept\n    iif lo accept\n    ip saddr 10.244.0.1 accept\n    ip saddr 10.244.0.2 accept\n');
    for (const peer of ['10.244.0.10', '10.244.0.11']) {
      expect(rs).toContain(`ip saddr ${peer}/32 tcp dport 5432 accept comment "db/members ingress[0]"`);
      expect(rs).toContain(`ip saddr ${peer}/32 tcp dport 8008 accept comment "db/members ingress[0]"`);
    }
    expect(rs).toContain('ip saddr 10.244.0.12/32 tcp dport 5432 accept comment "db/members ingress[1]"');
    expect(rs).not.toContain('10.244.0.13');
  });

  it('ipBlock except and port ranges render as nftables ranges', () => {
    const p = policy('ip', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', 'fd00::/8'] } }], ports: [{ port: 5000, endPort: 5010 }] }] });
    const rs = policyRuleset(ingressFor(PODS.pgpool, [p], ALL, nsLabels), nodeAddresses);
    expect(rs).toContain('ip saddr 10.0.0.0/8 ip saddr != { 10.1.0.0/16 } tcp dport 5000-5010 accept comment "db/ip ingress[0]"');
  });
});
