/**
 * What an application needs to reach a cluster, without reading its resolved model: the
 * Services with their names and ports, the credentials Secret with its keys, the application's
 * role and database, and cdk8s-plus handles to wire an application's Deployment.
 *
 *   const orders = new PostgresCluster(chart, 'orders', {});
 *   const app = new kplus.Deployment(chart, 'web', { containers: [{ image: 'web:1.0' }] });
 *   for (const [name, value] of Object.entries(orders.connectionEnv())) app.containers[0].env.addVariable(name, value);
 */
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { ResolvedCluster } from '../model/resolved';
import { SECRET_KEYS } from '../render/paths';

/** A Service of the cluster, as a client addresses it. */
export interface ClusterService {
  /** The Service's name. */
  readonly name: string;
  readonly namespace: string;
  readonly port: number;
  /** `<name>.<namespace>.svc.<cluster domain>`: resolvable from any namespace. */
  readonly host: string;
}

/** The credentials Secret the cluster reads (created out of band; never in dist/). */
export interface ClusterCredentials {
  /** A cdk8s-plus handle, for `EnvValue.fromSecretValue` or a volume of an application pod. */
  readonly secret: kplus.ISecret;
  readonly secretName: string;
  /** The key of each password in the Secret. */
  readonly keys: typeof SECRET_KEYS;
}

/** The application's own role and database (not a superuser; reached through Pgpool-II). */
export interface ClusterAppUser {
  readonly user: string;
  readonly database: string;
  /** Where its password is: the credentials Secret, this key. */
  readonly passwordKey: string;
}

export function clusterService(cluster: ResolvedCluster, name: string): ClusterService {
  return { name, namespace: cluster.namespace, port: cluster.postgres.port, host: `${name}.${cluster.namespace}.svc.${cluster.clusterDomain}` };
}

export function clusterCredentials(scope: Construct, cluster: ResolvedCluster): ClusterCredentials {
  return {
    secret: kplus.Secret.fromSecretName(scope, 'CredentialsSecret', cluster.credentialsSecretName),
    secretName: cluster.credentialsSecretName,
    keys: SECRET_KEYS,
  };
}

/**
 * libpq's environment for an application container: PGHOST, PGPORT, PGUSER, PGDATABASE from
 * the cluster, PGPASSWORD from the credentials Secret (a secretKeyRef: the password never
 * appears in dist/).
 */
export function libpqEnv(service: ClusterService, app: ClusterAppUser, credentials: ClusterCredentials): Record<string, kplus.EnvValue> {
  return {
    PGHOST: kplus.EnvValue.fromValue(service.host),
    PGPORT: kplus.EnvValue.fromValue(String(service.port)),
    PGUSER: kplus.EnvValue.fromValue(app.user),
    PGDATABASE: kplus.EnvValue.fromValue(app.database),
    PGPASSWORD: kplus.EnvValue.fromSecretValue({ secret: credentials.secret, key: app.passwordKey }),
  };
}
