/**
 * The credentials Secret made by the External Secrets Operator: an `ExternalSecret`
 * (external-secrets.io/v1) that reads one remote secret with one property per credential and
 * writes the Secret the pods mount, with exactly the keys they mount. Emitted only when
 * `credentials.externalSecret` is set; the operator itself is the user's (it cannot run on the
 * local pod runtime, where `npm run credentials` stands in for it).
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { ResolvedCluster, ResolvedExternalSecret } from '../model/resolved';
import { SECRET_KEYS } from '../render/paths';
import { objectAnnotations, objectLabels } from './labels';

export const EXTERNAL_SECRET_API_VERSION = 'external-secrets.io/v1';

export interface CredentialsExternalSecretProps {
  readonly cluster: ResolvedCluster;
  readonly externalSecret: ResolvedExternalSecret;
}

export class CredentialsExternalSecret extends Construct {
  /** The ExternalSecret's name: the same as the Secret it writes. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: CredentialsExternalSecretProps) {
    super(scope, id);
    const { cluster, externalSecret } = props;
    this.name = cluster.credentialsSecretName;
    new ApiObject(this, 'ExternalSecret', {
      apiVersion: EXTERNAL_SECRET_API_VERSION,
      kind: 'ExternalSecret',
      metadata: {
        name: this.name,
        namespace: cluster.namespace,
        labels: objectLabels(cluster, 'postgresql', 'credentials'),
        // With the ConfigMaps: the Secret must exist before any pod mounts it.
        annotations: objectAnnotations(cluster, cluster.configSyncWave),
      },
      spec: {
        refreshInterval: externalSecret.refreshInterval,
        secretStoreRef: { name: externalSecret.storeName, kind: externalSecret.storeKind },
        target: {
          name: this.name,
          // Orphan: deleting or renaming the ExternalSecret (a GitOps prune) must not delete the
          // Secret that every running pod mounts and needs to restart.
          creationPolicy: 'Orphan',
          // Retain: a remote secret that vanishes or cannot be read leaves the last good Secret.
          deletionPolicy: 'Retain',
        },
        // One entry per key, not dataFrom: a property missing in the store shows as an error on
        // this ExternalSecret instead of a Secret without a key the pods need.
        data: Object.values(SECRET_KEYS).map((key) => ({
          secretKey: key,
          remoteRef: { key: externalSecret.remoteKey, property: key },
        })),
      },
    });
  }
}
