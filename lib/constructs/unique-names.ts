/**
 * No two clusters of one App may produce the same object: two clusters named `orders` in one
 * namespace, or a cluster `a` with a layer `b-node` next to a cluster `a-b`, would each emit
 * the other's StatefulSets, Services and ConfigMaps, and the last one applied would win.
 * Checked when a cluster is constructed, against every cluster constructed before it in the
 * same App (the construct tree's root).
 */
import { ApiObject } from 'cdk8s';
import type { Construct, IConstruct } from 'constructs';
import { check } from '../model/errors';

/** Per App root: "group/kind namespace/name" -> path of the cluster construct that emits it. */
const EMITTED = new WeakMap<IConstruct, Map<string, string>>();

function objectKey(o: ApiObject): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : 'core';
  return `${group}/${o.kind} ${o.metadata.namespace ?? ''}/${o.name}`;
}

/**
 * Registers every object `cluster` emits in its App and throws a PostgresClusterConfigError
 * (prop `clusterName`) when one of them was already emitted by another cluster.
 */
export function claimObjectNames(cluster: Construct): void {
  const root = cluster.node.root;
  const emitted = EMITTED.get(root) ?? new Map<string, string>();
  EMITTED.set(root, emitted);
  const mine = cluster.node.findAll().filter((c): c is ApiObject => ApiObject.isApiObject(c));
  for (const o of mine) {
    const other = emitted.get(objectKey(o));
    check(
      other === undefined,
      'clusterName',
      `the cluster at ${cluster.node.path} emits ${o.kind} ${o.metadata.namespace}/${o.name}, which the cluster at ${other} in the same App emits too (the last one applied would overwrite it)`,
      'Give each cluster its own clusterName or namespace, and no cascading layer a name that turns "<cluster>-<layer>" into another cluster\'s objects.',
    );
  }
  for (const o of mine) emitted.set(objectKey(o), cluster.node.path);
}
