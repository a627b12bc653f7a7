/**
 * The cluster's own NetworkPolicies (lib/constructs/network-policies.ts), decided by the same
 * code the pod runtime enforces them with (podrt/network-policy.ts): who reaches the PostgreSQL
 * pods, their status endpoint and Pgpool-II, for the default props and for named clients. The
 * pods' labels are the synthesized workloads' own; the sources are pods of the cluster and
 * strangers. The cluster suite proves the same on running pods (dist-as-is.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { accepts, ingressFor, type NetworkPolicy, type PolicyPod } from '../../podrt/network-policy';
import type { PostgresClusterProps } from '../../lib/model/props';
import { synthCluster, workloads, type K8sObject } from './helpers';

const NAMESPACE_LABELS: Record<string, Record<string, string>> = {
  db: { 'kubernetes.io/metadata.name': 'db' },
  shop: { 'kubernetes.io/metadata.name': 'shop' },
  other: { 'kubernetes.io/metadata.name': 'other' },
};

/** One pod of each workload of the synthesized cluster, plus strangers, with made-up addresses. */
function world(props: PostgresClusterProps): { policies: NetworkPolicy[]; pods: Record<string, PolicyPod> } {
  const objects = synthCluster({ cascades: [{ name: 'replica' }], ...props }, { namespace: 'db' });
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as unknown as NetworkPolicy[];
  const pods: Record<string, PolicyPod> = {};
  let host = 10;
  const add = (name: string, namespace: string, labels: Record<string, string>) => {
    pods[name] = { name, namespace, labels, ip: `10.244.0.${host++}`, namedPorts: {} };
  };
  for (const w of workloads(objects) as K8sObject[]) add(w.metadata.name, 'db', w.spec.template.metadata.labels);
  add('stranger', 'db', { run: 'debug' });
  add('shop-web', 'shop', { app: 'web' });
  add('other-web', 'other', { app: 'web' });
  return { policies, pods };
}

function reaches(w: ReturnType<typeof world>, from: string, to: string, port: number): boolean {
  const decision = ingressFor(w.pods[to], w.policies, Object.values(w.pods), (ns) => NAMESPACE_LABELS[ns] ?? {});
  return accepts(decision, w.pods[from].ip!, port);
}

describe('network policies: GIVEN the default props', () => {
  const w = world({});

  it('WHEN a member, a cascade or Pgpool-II connects to a member on 5432 THEN it gets through', () => {
    expect(reaches(w, 'c-node', 'c-node', 5432)).toBe(true);
    expect(reaches(w, 'c-replica', 'c-node', 5432)).toBe(true);
    expect(reaches(w, 'c-pgpool', 'c-node', 5432)).toBe(true);
    expect(reaches(w, 'c-pgpool', 'c-replica', 5432)).toBe(true);
  });

  it("WHEN a pod that is not the cluster's connects to a member THEN it is shut out, even from the cluster's namespace", () => {
    expect(reaches(w, 'stranger', 'c-node', 5432)).toBe(false);
    expect(reaches(w, 'shop-web', 'c-node', 5432)).toBe(false);
  });

  it("WHEN an application reads from a cascading layer (its -ro Service) THEN the Pgpool-II clients get through on 5432 only", () => {
    expect(reaches(w, 'stranger', 'c-replica', 5432)).toBe(true);
    expect(reaches(w, 'stranger', 'c-replica', 8008)).toBe(false);
    expect(reaches(w, 'shop-web', 'c-replica', 5432)).toBe(false);
  });

  it('WHEN the status endpoint (8008) is asked THEN only PostgreSQL pods of the cluster get through (not Pgpool-II)', () => {
    expect(reaches(w, 'c-replica', 'c-node', 8008)).toBe(true);
    expect(reaches(w, 'c-node', 'c-replica', 8008)).toBe(true);
    expect(reaches(w, 'c-pgpool', 'c-node', 8008)).toBe(false);
    expect(reaches(w, 'stranger', 'c-node', 8008)).toBe(false);
  });

  it("WHEN clients connect to Pgpool-II THEN every pod of the cluster's namespace gets through, another namespace's does not", () => {
    expect(reaches(w, 'stranger', 'c-pgpool', 5432)).toBe(true);
    expect(reaches(w, 'shop-web', 'c-pgpool', 5432)).toBe(false);
  });

  it('WHEN any other port of a PostgreSQL or Pgpool-II pod is tried THEN it is shut', () => {
    expect(reaches(w, 'c-node', 'c-node', 22)).toBe(false);
    expect(reaches(w, 'stranger', 'c-pgpool', 9898)).toBe(false);
  });
});

describe('network policies: GIVEN named Pgpool-II clients', () => {
  it('WHEN they are a namespace THEN its pods reach Pgpool-II, and the cluster namespace\'s own pods no longer do', () => {
    const w = world({ network: { pgpoolClients: [{ namespaces: ['shop'] }] } });
    expect(reaches(w, 'shop-web', 'c-pgpool', 5432)).toBe(true);
    expect(reaches(w, 'other-web', 'c-pgpool', 5432)).toBe(false);
    expect(reaches(w, 'stranger', 'c-pgpool', 5432)).toBe(false);
    // The cascading layer follows the same clients; the members stay closed to them.
    expect(reaches(w, 'shop-web', 'c-replica', 5432)).toBe(true);
    expect(reaches(w, 'stranger', 'c-replica', 5432)).toBe(false);
    expect(reaches(w, 'shop-web', 'c-node', 5432)).toBe(false);
    // The cluster itself is unaffected.
    expect(reaches(w, 'c-pgpool', 'c-node', 5432)).toBe(true);
  });

  it('WHEN they are pod labels in a namespace THEN only those pods of that namespace', () => {
    const w = world({ network: { pgpoolClients: [{ namespaces: ['shop', 'other'], podLabels: { app: 'web' } }] } });
    expect(reaches(w, 'shop-web', 'c-pgpool', 5432)).toBe(true);
    expect(reaches(w, 'other-web', 'c-pgpool', 5432)).toBe(true);
    expect(reaches(w, 'stranger', 'c-pgpool', 5432)).toBe(false);
  });

  it('WHEN one is an address range THEN addresses in it reach Pgpool-II', () => {
    const w = world({ network: { pgpoolClients: [{ cidr: '10.244.0.0/24' }] } });
    expect(reaches(w, 'other-web', 'c-pgpool', 5432)).toBe(true);
  });
});

describe('network policies: GIVEN network.policies false', () => {
  it('THEN no NetworkPolicy is emitted', () => {
    expect(synthCluster({ network: { policies: false }, cascades: [{ name: 'replica' }] }).filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });
});
