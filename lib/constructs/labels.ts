/**
 * Labels and annotations. Selector labels are a fixed, minimal set (name, instance, component)
 * because a StatefulSet's or Deployment's selector is immutable: changing one orphans the
 * pods and, for a StatefulSet, its data. Everything else goes on as plain labels.
 */
import type { k8s } from 'cdk8s-plus-27';
import { ANNOTATION, LABEL } from '../model/names';
import type { ResolvedCluster } from '../model/resolved';

export { ANNOTATION, LABEL } from '../model/names';

/** `app.kubernetes.io/name` of the PostgreSQL pods and of the Pgpool-II pods. */
export type AppName = 'postgresql' | 'pgpool';

/** The immutable selector of one workload. */
export function selectorLabels(cluster: ResolvedCluster, app: AppName, component: string): Record<string, string> {
  return {
    [LABEL.name]: app,
    [LABEL.instance]: cluster.name,
    [LABEL.component]: component,
  };
}

/** Every pod that votes in a repmgr election: the members and the witness. */
export function votingMembersSelector(cluster: ResolvedCluster): k8s.LabelSelector {
  return {
    matchLabels: { [LABEL.name]: 'postgresql', [LABEL.instance]: cluster.name },
    matchExpressions: [{ key: LABEL.component, operator: 'In', values: ['member', 'witness'] }],
  };
}

/** Selector labels plus the recommended labels and the user's own. */
export function objectLabels(cluster: ResolvedCluster, app: AppName, component: string): Record<string, string> {
  return {
    ...cluster.labels,
    ...selectorLabels(cluster, app, component),
    [LABEL.partOf]: 'postgresql-ha',
    [LABEL.managedBy]: 'cdk8s-pg-ha',
  };
}

/** The user's annotations plus the Argo CD sync wave, when waves are on. */
export function objectAnnotations(cluster: ResolvedCluster, syncWave: number | undefined): Record<string, string> | undefined {
  const annotations: Record<string, string> = { ...cluster.annotations };
  if (syncWave !== undefined) {
    annotations[ANNOTATION.argoSyncWave] = String(syncWave);
  }
  return Object.keys(annotations).length === 0 ? undefined : annotations;
}

/** Metadata of one object of the cluster: its explicit name, the namespace, labels, annotations. */
export type MetadataFactory = (name: string, syncWave: number | undefined) => {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
};

/** A factory for the metadata of the objects of one workload (same labels, own names and waves). */
export function metadataFactory(cluster: ResolvedCluster, labels: Record<string, string>): MetadataFactory {
  return (name, syncWave) => ({
    name,
    namespace: cluster.namespace,
    labels,
    annotations: objectAnnotations(cluster, syncWave),
  });
}
