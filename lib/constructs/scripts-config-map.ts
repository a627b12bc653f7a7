/**
 * The ConfigMaps of entrypoint and probe scripts. One per workload kind, so a change to the
 * Pgpool-II scripts never restarts a database pod and vice versa.
 */
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { NAME_SUFFIX } from '../model/names';
import type { ResolvedCluster } from '../model/resolved';
import { objectAnnotations, objectLabels, type AppName } from './labels';
import { loadScripts, NODE_SCRIPT_FILES, PGPOOL_SCRIPT_FILES } from './scripts';

export interface ScriptsConfigMapProps {
  readonly cluster: ResolvedCluster;
}

abstract class ScriptsConfigMap extends Construct {
  public readonly configMapName: string;
  /** File name -> script text, as mounted under /opt/pgha/scripts. */
  public readonly data: Readonly<Record<string, string>>;

  protected constructor(scope: Construct, id: string, cluster: ResolvedCluster, app: AppName, suffix: string, files: readonly string[]) {
    super(scope, id);
    this.configMapName = `${cluster.name}${suffix}`;
    this.data = loadScripts(files);
    new k8s.KubeConfigMap(this, 'ConfigMap', {
      metadata: {
        name: this.configMapName,
        namespace: cluster.namespace,
        labels: objectLabels(cluster, app, 'scripts'),
        annotations: objectAnnotations(cluster, cluster.configSyncWave),
      },
      data: { ...this.data },
    });
  }
}

/** `<cluster>-node-scripts`: mounted by every PostgreSQL pod. */
export class NodeScripts extends ScriptsConfigMap {
  constructor(scope: Construct, id: string, props: ScriptsConfigMapProps) {
    super(scope, id, props.cluster, 'postgresql', NAME_SUFFIX.nodeScripts, NODE_SCRIPT_FILES);
  }
}

/** `<cluster>-pgpool-scripts`: mounted by every Pgpool-II pod. */
export class PgpoolScripts extends ScriptsConfigMap {
  constructor(scope: Construct, id: string, props: ScriptsConfigMapProps) {
    super(scope, id, props.cluster, 'pgpool', NAME_SUFFIX.pgpoolScripts, PGPOOL_SCRIPT_FILES);
  }
}
