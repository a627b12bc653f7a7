/**
 * Golden: what must never change under a live cluster, as explicit tables (not a snapshot).
 * Renaming an object orphans it; a selector, serviceName or claim template of a StatefulSet is
 * immutable (and the claim names hold the data); repmgr node ids and Pgpool-II backend indices
 * are recorded in the repmgr metadata and pgpool status. A change here needs a migration plan.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  configMapData,
  envOf,
  find,
  isVotingWorkload,
  kindNames,
  parseConf,
  selectorMatches,
  synthCluster,
  synthExampleChart,
  votingSelector,
  workloads,
  type K8sObject,
  type LabelSelector,
} from './helpers';

interface Golden {
  /**
   * kind/name of every object, sorted. PodDisruptionBudgets are included only when `pdbs` is
   * true: a PDB holds no state and may be regrouped (e.g. one PDB over members and witness).
   */
  readonly pdbs: boolean;
  /** kind/name of every object, sorted. */
  readonly objects: string[];
  /** Selector of each PodDisruptionBudget (checked only when `pdbs` is true). */
  readonly pdbSelectors?: Record<string, LabelSelector>;
  /** Immutable spec of each StatefulSet. */
  readonly statefulSets: Record<
    string,
    { selector: Record<string, string>; serviceName: string; claims: Array<{ name: string; storage: string; storageClassName?: string }>; nodeIdBase: string }
  >;
  /** Selector of each Deployment. */
  readonly deployments: Record<string, Record<string, string>>;
  /** Selector (and clusterIP for headless ones) of each Service. */
  readonly services: Record<string, { selector: Record<string, string>; clusterIP?: string }>;
  /** pgpool.conf ConfigMap -> backend index -> host. */
  readonly backends: Record<string, string[]>;
  /** Pod selector of each NetworkPolicy: another one would open or shut pods without a word. */
  readonly policies: Record<string, LabelSelector>;
}

const policySel = (name: 'postgresql' | 'pgpool', instance: string) => ({
  matchLabels: { 'app.kubernetes.io/instance': instance, 'app.kubernetes.io/name': name },
});
const cascadeSel = (instance: string, components: string[]) => ({
  ...policySel('postgresql', instance),
  matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: components }],
});

const sel = (name: 'postgresql' | 'pgpool', instance: string, component: string) => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/instance': instance,
  'app.kubernetes.io/component': component,
});

const EXAMPLE_HOST = (i: number) => `orders-node-${i}.orders-node.pgha-example.svc.cluster.local`;

const EXAMPLE_GOLDEN: Golden = {
  pdbs: true,
  objects: [
    'ConfigMap/orders-node-config',
    'ConfigMap/orders-node-scripts',
    'ConfigMap/orders-pgpool-config',
    'ConfigMap/orders-pgpool-scripts',
    'ConfigMap/orders-replica-config',
    'Deployment/orders-pgpool',
    'Namespace/pgha-example',
    'NetworkPolicy/orders-cascade-reads',
    'NetworkPolicy/orders-pgpool',
    'NetworkPolicy/orders-postgresql',
    'PodDisruptionBudget/orders-node',
    'PodDisruptionBudget/orders-pgpool',
    'PodDisruptionBudget/orders-replica',
    'Service/orders-node',
    'Service/orders-pgpool',
    'Service/orders-replica',
    'Service/orders-replica-ro',
    'ServiceAccount/orders-pgha',
    'StatefulSet/orders-node',
    'StatefulSet/orders-replica',
  ],
  statefulSets: {
    'orders-node': {
      selector: sel('postgresql', 'orders', 'member'),
      serviceName: 'orders-node',
      claims: [{ name: 'data', storage: '10Gi' }],
      nodeIdBase: '1000',
    },
    'orders-replica': {
      selector: sel('postgresql', 'orders', 'cascade-replica'),
      serviceName: 'orders-replica',
      claims: [{ name: 'data', storage: '10Gi' }],
      nodeIdBase: '2000',
    },
  },
  deployments: { 'orders-pgpool': sel('pgpool', 'orders', 'pgpool') },
  // The members' budget covers the voting group (members and witness, here no witness); the
  // cascade layer and Pgpool-II keep their workload selector.
  pdbSelectors: {
    'orders-node': votingSelector('orders'),
    'orders-replica': { matchLabels: sel('postgresql', 'orders', 'cascade-replica') },
    'orders-pgpool': { matchLabels: sel('pgpool', 'orders', 'pgpool') },
  },
  services: {
    'orders-node': { selector: sel('postgresql', 'orders', 'member'), clusterIP: 'None' },
    'orders-replica': { selector: sel('postgresql', 'orders', 'cascade-replica'), clusterIP: 'None' },
    'orders-replica-ro': { selector: sel('postgresql', 'orders', 'cascade-replica') },
    'orders-pgpool': { selector: sel('pgpool', 'orders', 'pgpool') },
  },
  backends: { 'orders-pgpool-config': [EXAMPLE_HOST(0), EXAMPLE_HOST(1), EXAMPLE_HOST(2)] },
  policies: {
    'orders-postgresql': policySel('postgresql', 'orders'),
    'orders-pgpool': policySel('pgpool', 'orders'),
    'orders-cascade-reads': cascadeSel('orders', ['cascade-replica']),
  },
};

/** 2 members + witness, a cascade on the members and a cascade on that cascade. */
const MULTI_PROPS = {
  members: { replicas: 2, witness: true, storage: { size: '50Gi', storageClassName: 'fast-ssd' } },
  cascades: [{ name: 'fanout', replicas: 2 }, { name: 'reporting', replicas: 3, upstream: 'fanout', storage: { size: '20Gi' } }],
};
const MULTI_HOST = (i: number) => `shop-node-${i}.shop-node.db.svc.cluster.local`;

const MULTI_GOLDEN: Golden = {
  pdbs: false,
  objects: [
    'ConfigMap/shop-fanout-config',
    'ConfigMap/shop-node-config',
    'ConfigMap/shop-node-scripts',
    'ConfigMap/shop-pgpool-config',
    'ConfigMap/shop-pgpool-scripts',
    'ConfigMap/shop-reporting-config',
    'ConfigMap/shop-witness-config',
    'Deployment/shop-pgpool',
    'NetworkPolicy/shop-cascade-reads',
    'NetworkPolicy/shop-pgpool',
    'NetworkPolicy/shop-postgresql',
    'Service/shop-fanout',
    'Service/shop-fanout-ro',
    'Service/shop-node',
    'Service/shop-pgpool',
    'Service/shop-reporting',
    'Service/shop-reporting-ro',
    'Service/shop-witness',
    'ServiceAccount/shop-pgha',
    'StatefulSet/shop-fanout',
    'StatefulSet/shop-node',
    'StatefulSet/shop-reporting',
    'StatefulSet/shop-witness',
  ],
  statefulSets: {
    'shop-node': {
      selector: sel('postgresql', 'shop', 'member'),
      serviceName: 'shop-node',
      claims: [{ name: 'data', storage: '50Gi', storageClassName: 'fast-ssd' }],
      nodeIdBase: '1000',
    },
    'shop-fanout': {
      selector: sel('postgresql', 'shop', 'cascade-fanout'),
      serviceName: 'shop-fanout',
      claims: [{ name: 'data', storage: '50Gi', storageClassName: 'fast-ssd' }],
      nodeIdBase: '2000',
    },
    'shop-reporting': {
      selector: sel('postgresql', 'shop', 'cascade-reporting'),
      serviceName: 'shop-reporting',
      claims: [{ name: 'data', storage: '20Gi', storageClassName: 'fast-ssd' }],
      nodeIdBase: '3000',
    },
    'shop-witness': {
      selector: sel('postgresql', 'shop', 'witness'),
      serviceName: 'shop-witness',
      claims: [{ name: 'data', storage: '1Gi', storageClassName: 'fast-ssd' }],
      nodeIdBase: '9000',
    },
  },
  deployments: { 'shop-pgpool': sel('pgpool', 'shop', 'pgpool') },
  services: {
    'shop-node': { selector: sel('postgresql', 'shop', 'member'), clusterIP: 'None' },
    'shop-fanout': { selector: sel('postgresql', 'shop', 'cascade-fanout'), clusterIP: 'None' },
    'shop-fanout-ro': { selector: sel('postgresql', 'shop', 'cascade-fanout') },
    'shop-reporting': { selector: sel('postgresql', 'shop', 'cascade-reporting'), clusterIP: 'None' },
    'shop-reporting-ro': { selector: sel('postgresql', 'shop', 'cascade-reporting') },
    'shop-witness': { selector: sel('postgresql', 'shop', 'witness'), clusterIP: 'None' },
    'shop-pgpool': { selector: sel('pgpool', 'shop', 'pgpool') },
  },
  backends: { 'shop-pgpool-config': [MULTI_HOST(0), MULTI_HOST(1)] },
  policies: {
    'shop-postgresql': policySel('postgresql', 'shop'),
    'shop-pgpool': policySel('pgpool', 'shop'),
    'shop-cascade-reads': cascadeSel('shop', ['cascade-fanout', 'cascade-reporting']),
  },
};

function checkGolden(getObjects: () => K8sObject[], golden: Golden) {
  it('object kinds and names', () => {
    const objects = getObjects().filter((o) => golden.pdbs || o.kind !== 'PodDisruptionBudget');
    expect(kindNames(objects).sort()).toEqual(golden.objects);
  });

  it('StatefulSet selectors, serviceName, claim templates and repmgr node id bases', () => {
    const objects = getObjects();
    const actual = Object.fromEntries(
      objects
        .filter((o) => o.kind === 'StatefulSet')
        .map((sts) => [
          sts.metadata.name,
          {
            selector: sts.spec.selector.matchLabels,
            serviceName: sts.spec.serviceName,
            claims: sts.spec.volumeClaimTemplates.map((t: K8sObject) => ({
              name: t.metadata.name,
              storage: t.spec.resources.requests.storage,
              ...(t.spec.storageClassName === undefined ? {} : { storageClassName: t.spec.storageClassName }),
            })),
            nodeIdBase: envOf(sts).PGHA_NODE_ID_BASE,
          },
        ]),
    );
    expect(actual).toEqual(golden.statefulSets);
  });

  it('Deployment selectors', () => {
    const actual = Object.fromEntries(getObjects().filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name, d.spec.selector.matchLabels]));
    expect(actual).toEqual(golden.deployments);
  });

  it('Service selectors and headless clusterIP', () => {
    const actual = Object.fromEntries(
      getObjects()
        .filter((o) => o.kind === 'Service')
        .map((s) => [s.metadata.name, { selector: s.spec.selector, ...(s.spec.clusterIP === undefined ? {} : { clusterIP: s.spec.clusterIP }) }]),
    );
    expect(actual).toEqual(golden.services);
  });

  if (golden.pdbs) {
    it('PodDisruptionBudget selectors: the members one selects the voting group, the others their workload', () => {
      const actual = Object.fromEntries(getObjects().filter((o) => o.kind === 'PodDisruptionBudget').map((p) => [p.metadata.name, p.spec.selector]));
      expect(actual).toEqual(golden.pdbSelectors);
    });
  }

  it('NetworkPolicy pod selectors; every pod is selected by its kind\'s policy, and the cascade pods also by the reads one', () => {
    const objects = getObjects();
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    expect(Object.fromEntries(policies.map((p) => [p.metadata.name, p.spec.podSelector]))).toEqual(golden.policies);
    for (const w of workloads(objects)) {
      const labels = w.spec.template.metadata.labels;
      const selecting = policies.filter((p) => selectorMatches(p.spec.podSelector, labels)).map((p) => p.metadata.name.replace(/^[^-]+-/, ''));
      const expected = labels['app.kubernetes.io/name'] === 'pgpool' ? ['pgpool'] : labels['app.kubernetes.io/component'].startsWith('cascade-') ? ['postgresql', 'cascade-reads'] : ['postgresql'];
      expect(selecting.sort(), `${w.kind}/${w.metadata.name}`).toEqual(expected.sort());
    }
  });

  it('every pod is covered by exactly one PodDisruptionBudget; the members one matches every member and witness pod and nothing else', () => {
    const objects = getObjects();
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    const all = workloads(objects);
    const podLabels = (w: K8sObject) => w.spec.template.metadata.labels as Record<string, string>;
    for (const w of all) {
      const covering = pdbs.filter((p) => selectorMatches(p.spec.selector, podLabels(w))).map((p) => p.metadata.name);
      expect(covering, `${w.kind}/${w.metadata.name}`).toHaveLength(1);
    }
    const memberSts = all.find((w) => w.kind === 'StatefulSet' && podLabels(w)['app.kubernetes.io/component'] === 'member')!;
    const memberPdb = pdbs.find((p) => selectorMatches(p.spec.selector, podLabels(memberSts)))!;
    const covered = all.filter((w) => selectorMatches(memberPdb.spec.selector, podLabels(w))).map((w) => w.metadata.name).sort();
    expect(covered).toEqual(all.filter(isVotingWorkload).map((w) => w.metadata.name).sort());
    expect(covered).toContain(memberSts.metadata.name);
  });

  it('Pgpool-II backend indices: backend_hostnameN is member ordinal N, N = 0..n-1', () => {
    const objects = getObjects();
    for (const [configMap, hosts] of Object.entries(golden.backends)) {
      const conf = parseConf(configMapData(objects, configMap)['pgpool.conf']);
      const indices = [...conf.keys()].filter((k) => k.startsWith('backend_hostname')).map((k) => Number(k.slice('backend_hostname'.length)));
      expect(indices).toEqual(hosts.map((_, i) => i));
      hosts.forEach((host, i) => {
        expect(conf.get(`backend_hostname${i}`)).toBe(host);
        expect(conf.get(`backend_application_name${i}`)).toBe(host.split('.')[0]);
      });
    }
  });
}

describe('golden: GIVEN the example chart THEN the live-cluster identity is unchanged', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = synthExampleChart();
  });
  checkGolden(() => objects, EXAMPLE_GOLDEN);

  it('the example namespace is created before everything else and enforces the restricted standard', () => {
    const ns = find(objects, 'Namespace', 'pgha-example');
    expect(ns.metadata.annotations['argocd.argoproj.io/sync-wave']).toBe('-1');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });
});

describe('golden: GIVEN a multi-layer cluster with a witness THEN the live-cluster identity is unchanged', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = synthCluster(MULTI_PROPS, { id: 'shop', namespace: 'db' });
  });
  checkGolden(() => objects, MULTI_GOLDEN);

  it('a cascade keeps its node id base when an earlier layer is removed, if it sets nodeIdBase explicitly', () => {
    const reordered = synthCluster(
      { members: { replicas: 3 }, cascades: [{ name: 'reporting', replicas: 3, nodeIdBase: 3000 }] },
      { id: 'shop', namespace: 'db' },
    );
    expect(envOf(find(reordered, 'StatefulSet', 'shop-reporting')).PGHA_NODE_ID_BASE).toBe('3000');
  });
});
