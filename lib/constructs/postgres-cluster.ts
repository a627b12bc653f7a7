/**
 * The top-level construct: a complete repmgr + Pgpool-II PostgreSQL cluster.
 *
 *   new PostgresCluster(chart, 'orders', { namespace: 'db', cascades: [{ name: 'replica' }] });
 *
 * It resolves and validates the props once (every error names the prop and the fix), then
 * composes the smaller constructs, each of which a user may also use alone with a resolved
 * model from {@link resolveCluster}.
 */
import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { NAME_SUFFIX } from '../model/names';
import type { PostgresClusterProps } from '../model/props';
import { resolveCluster } from '../model/resolve-cluster';
import type { ResolvedCluster } from '../model/resolved';
import { CredentialsExternalSecret } from './credentials-external-secret';
import { ClusterNetworkPolicies } from './network-policies';
import { TlsCertificate } from './tls-certificate';
import { objectAnnotations, objectLabels } from './labels';
import { NodeScripts, PgpoolScripts } from './scripts-config-map';
import { PgpoolDeployment } from './pgpool-deployment';
import { PostgresTier } from './postgres-tier';
import { claimObjectNames } from './unique-names';
import {
  clusterCredentials,
  clusterService,
  libpqEnv,
  type ClusterAppUser,
  type ClusterCredentials,
  type ClusterService,
} from './cluster-connection';

export class PostgresCluster extends Construct {
  /** The validated model everything below was built from. */
  public readonly spec: ResolvedCluster;
  /** Members first, then cascading layers in declaration order, then the witness. */
  public readonly tiers: readonly PostgresTier[];
  public readonly pgpool: PgpoolDeployment;
  /** DNS name applications connect to (the Pgpool-II Service). */
  public readonly endpoint: string;
  /** The Pgpool-II Service: writes go to the primary, reads are balanced over the standbys. */
  public readonly service: ClusterService;
  /** The credentials Secret, its keys, and a cdk8s-plus handle to it. */
  public readonly credentials: ClusterCredentials;
  /** The application's role and database. */
  public readonly app: ClusterAppUser;

  constructor(scope: Construct, id: string, props: PostgresClusterProps = {}) {
    super(scope, id);
    const chartNamespace = Chart.of(this).namespace;
    this.spec = resolveCluster(props, id, chartNamespace);
    const cluster = this.spec;

    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: {
        name: `${cluster.name}${NAME_SUFFIX.serviceAccount}`,
        namespace: cluster.namespace,
        labels: objectLabels(cluster, 'postgresql', 'service-account'),
        annotations: objectAnnotations(cluster, cluster.configSyncWave),
      },
      // The pods never talk to the Kubernetes API: nothing depends on relabelling pods.
      automountToken: false,
    });

    if (cluster.externalSecret) {
      new CredentialsExternalSecret(this, 'CredentialsExternalSecret', { cluster, externalSecret: cluster.externalSecret });
    }

    if (cluster.tls.mode === 'required' && cluster.tls.certManagerIssuer) {
      new TlsCertificate(this, 'TlsCertificate', { cluster });
    }

    const nodeScripts = new NodeScripts(this, 'NodeScripts', { cluster });
    this.tiers = cluster.tiers.map(
      (tier) =>
        new PostgresTier(this, tier.statefulSetName, {
          cluster,
          tier,
          scripts: nodeScripts,
          serviceAccountName: serviceAccount.name,
        }),
    );
    const pgpoolScripts = new PgpoolScripts(this, 'PgpoolScripts', { cluster });
    this.pgpool = new PgpoolDeployment(this, 'Pgpool', { cluster, scripts: pgpoolScripts, serviceAccountName: serviceAccount.name });
    if (cluster.network.policies) {
      new ClusterNetworkPolicies(this, 'NetworkPolicies', { cluster });
    }
    this.service = clusterService(cluster, this.pgpool.service.name);
    this.endpoint = this.service.host;
    this.credentials = clusterCredentials(this, cluster);
    this.app = { user: cluster.users.appUser, database: cluster.users.appDatabase, passwordKey: this.credentials.keys.appPassword };
    claimObjectNames(this);
  }

  /**
   * The read-only Service of a cascading layer (`<cluster>-<layer>-ro`): reads spread over that
   * layer's pods. Throws naming the layers when `layer` is not one.
   */
  public readService(layer: string): ClusterService {
    const cascades = this.spec.tiers.filter((t) => t.kind === 'cascade');
    const index = cascades.findIndex((t) => t.statefulSetName === `${this.spec.name}-${layer}`);
    // Tiers are constructed in model order: members, cascading layers, witness.
    const service = index < 0 ? undefined : this.tiers[1 + index].readService;
    if (!service) {
      const names = cascades.map((t) => t.statefulSetName.slice(this.spec.name.length + 1));
      throw new Error(`${this.node.path}: no cascading layer "${layer}"; the layers are: ${names.length ? names.join(', ') : 'none'}`);
    }
    return clusterService(this.spec, service.name);
  }

  /**
   * libpq environment variables for an application container that uses the cluster as its
   * application user through Pgpool-II: PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD (a
   * reference to the credentials Secret).
   */
  public connectionEnv(): Record<string, kplus.EnvValue> {
    return libpqEnv(this.service, this.app, this.credentials);
  }
}
