/**
 * GitOps: what Argo CD and Flux compare. An applied object comes back from the API server with
 * defaults filled in and unknown or gated fields dropped; a field the output has and the live
 * object lacks shows as drift for ever. These rules hold for the example chart, every example
 * program and a cluster with every tier kind.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { allSetsWithEveryTier, type K8sObject } from './helpers';

/** Kinds without a namespace: a metadata.namespace on them trips Flux health checks and Config Sync. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'StorageClass', 'PriorityClass']);

interface Probe {
  periodSeconds?: number;
  timeoutSeconds?: number;
}

/** Every container (init containers too) of a workload's pod template, or none. */
function containersOf(obj: K8sObject): Array<{ name: string; startupProbe?: Probe; readinessProbe?: Probe; livenessProbe?: Probe }> {
  const pod = obj.spec?.template?.spec;
  return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : [];
}

/** What a GitOps controller would show as drift or reject, one line per problem. */
function gitopsProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.name}`;
    if (CLUSTER_SCOPED.has(o.kind) && o.metadata?.namespace !== undefined) problems.push(`${id}: cluster-scoped but has metadata.namespace`);
    if (!CLUSTER_SCOPED.has(o.kind) && o.metadata?.namespace === undefined) problems.push(`${id}: namespaced but has no metadata.namespace`);
    // Only the API server's default, stored or not depending on the version.
    if ((o.kind === 'ConfigMap' || o.kind === 'Secret') && o.immutable === false) problems.push(`${id}: immutable: false is only the default`);
    if (o.kind === 'StatefulSet') {
      // Gated by StatefulSetAutoDeletePVC before 1.27: older clusters drop it.
      if (o.spec?.persistentVolumeClaimRetentionPolicy !== undefined) problems.push(`${id}: persistentVolumeClaimRetentionPolicy (feature-gated before 1.27)`);
      for (const t of o.spec?.volumeClaimTemplates ?? []) {
        if (t.apiVersion !== 'v1' || t.kind !== 'PersistentVolumeClaim') problems.push(`${id}: claim template ${t.metadata?.name} without apiVersion v1 / kind PersistentVolumeClaim`);
      }
    }
    for (const c of containersOf(o)) {
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
        const p = c[kind];
        // Defaults: timeoutSeconds 1, periodSeconds 10.
        if (p && (p.timeoutSeconds ?? 1) > (p.periodSeconds ?? 10)) {
          problems.push(`${id}: container ${c.name} ${kind} timeoutSeconds ${p.timeoutSeconds} above periodSeconds ${p.periodSeconds ?? 10}`);
        }
      }
    }
  }
  return problems;
}

describe('gitops: GIVEN every synthesized set WHEN a GitOps controller compares it with the live objects THEN nothing drifts or is rejected', () => {
  let sets: Array<{ source: string; objects: K8sObject[] }>;
  beforeAll(async () => {
    sets = await allSetsWithEveryTier();
  }, 60_000);

  it('no problem in any set (listed per source)', () => {
    const problems = Object.fromEntries(sets.map((s) => [s.source, gitopsProblems(s.objects)]).filter(([, p]) => p.length > 0));
    expect(problems).toEqual({});
  });

  it('the example chart has a Namespace and StatefulSets with claim templates, so the rules above were exercised', () => {
    const example = sets[0].objects;
    expect(example.filter((o) => o.kind === 'Namespace')).toHaveLength(1);
    expect(example.filter((o) => o.kind === 'StatefulSet').flatMap((o) => o.spec.volumeClaimTemplates ?? []).length).toBeGreaterThan(0);
  });
});

describe('gitops: GIVEN objects a GitOps controller would fight THEN each is reported (so the check above can fail)', () => {
  const sts = (extra: Record<string, unknown>, template: Record<string, unknown>, probe: Probe): K8sObject => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 's', namespace: 'db' },
    spec: {
      ...extra,
      volumeClaimTemplates: [{ metadata: { name: 'data' }, ...template }],
      template: { spec: { containers: [{ name: 'c', readinessProbe: probe }] } },
    },
  });

  it('a Namespace with metadata.namespace, and a namespaced object without one', () => {
    expect(gitopsProblems([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'db', namespace: 'db' } }])).toEqual(['Namespace/db: cluster-scoped but has metadata.namespace']);
    expect(gitopsProblems([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }])).toEqual(['Service/s: namespaced but has no metadata.namespace']);
  });

  it('a ConfigMap with immutable: false', () => {
    expect(gitopsProblems([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm', namespace: 'db' }, immutable: false }])).toEqual(['ConfigMap/m: immutable: false is only the default']);
  });

  it('a claim template without apiVersion/kind, a retention policy, and a probe whose timeout exceeds its period', () => {
    expect(gitopsProblems([sts({ persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain' } }, {}, { periodSeconds: 2, timeoutSeconds: 3 })])).toEqual([
      'StatefulSet/s: persistentVolumeClaimRetentionPolicy (feature-gated before 1.27)',
      'StatefulSet/s: claim template data without apiVersion v1 / kind PersistentVolumeClaim',
      'StatefulSet/s: container c readinessProbe timeoutSeconds 3 above periodSeconds 2',
    ]);
  });

  it('the same StatefulSet done right has no problem', () => {
    expect(gitopsProblems([sts({}, { apiVersion: 'v1', kind: 'PersistentVolumeClaim' }, { periodSeconds: 3, timeoutSeconds: 2 })])).toEqual([]);
  });
});
