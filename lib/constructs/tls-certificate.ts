/**
 * The server certificate made by cert-manager: a `Certificate` (cert-manager.io/v1) that writes
 * the TLS Secret every PostgreSQL and Pgpool-II pod mounts, naming every host they are reached
 * by. Emitted only when `tls.certManagerIssuer` is set; cert-manager itself is the user's (it
 * cannot run on the local pod runtime, where `npm run credentials` makes the Secret instead).
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { ResolvedCluster } from '../model/resolved';
import { objectAnnotations, objectLabels } from './labels';

export const CERTIFICATE_API_VERSION = 'cert-manager.io/v1';

export interface TlsCertificateProps {
  readonly cluster: ResolvedCluster;
}

export class TlsCertificate extends Construct {
  /** The Certificate's name: the same as the Secret it writes. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: TlsCertificateProps) {
    super(scope, id);
    const { cluster } = props;
    const tls = cluster.tls;
    if (tls.mode !== 'required' || !tls.certManagerIssuer) {
      throw new Error(`${this.node.path}: a Certificate needs tls.certManagerIssuer`);
    }
    this.name = tls.secretName;
    new ApiObject(this, 'Certificate', {
      apiVersion: CERTIFICATE_API_VERSION,
      kind: 'Certificate',
      metadata: {
        name: this.name,
        namespace: cluster.namespace,
        labels: objectLabels(cluster, 'postgresql', 'tls'),
        // With the ConfigMaps: the Secret must exist before any pod mounts it.
        annotations: objectAnnotations(cluster, cluster.configSyncWave),
      },
      spec: {
        secretName: tls.secretName,
        issuerRef: { name: tls.certManagerIssuer.name, kind: tls.certManagerIssuer.kind, group: 'cert-manager.io' },
        dnsNames: [...tls.dnsNames],
        // ECDSA: the cheapest handshake, and Pgpool-II's health checks make one per check.
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        // Server auth for clients and Pgpool-II; client auth is not used by the pods today.
        usages: ['server auth', 'digital signature', 'key encipherment'],
      },
    });
  }
}
