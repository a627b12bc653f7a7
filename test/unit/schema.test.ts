/**
 * Every synthesized object of the example chart and of every example program validates against
 * the Kubernetes OpenAPI schema, through the maintained `kubernetes-models` package.
 */
import { createRequire } from 'module';
import { beforeAll, describe, expect, it } from 'vitest';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { ExternalSecret } from '@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { allSetsWithEveryTier, synthCluster, type K8sObject } from './helpers';

const requireModule = createRequire(__filename);

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: K8sObject) => Validatable;

/** The custom resources the library emits, from the @kubernetes-models package of their operator (ESM only). */
const CUSTOM_RESOURCES: Record<string, ModelClass> = {
  'external-secrets.io/v1/ExternalSecret': ExternalSecret as unknown as ModelClass,
  'cert-manager.io/v1/Certificate': Certificate as unknown as ModelClass,
};

/**
 * The kubernetes-models class for an object's apiVersion and kind, e.g. `apps/v1` + `StatefulSet`
 * -> `kubernetes-models/apps/v1`.StatefulSet. Throws for a kind the package does not know.
 */
function modelClassFor(apiVersion: string, kind: string): ModelClass {
  if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    throw new Error(`malformed apiVersion/kind ${apiVersion}/${kind}`);
  }
  const custom = CUSTOM_RESOURCES[`${apiVersion}/${kind}`];
  if (custom) return custom;
  let module: Record<string, unknown>;
  try {
    module = requireModule(`kubernetes-models/${apiVersion}`);
  } catch {
    throw new Error(`kubernetes-models has no API group/version ${apiVersion}`);
  }
  const cls = module[kind] as (ModelClass & { kind?: string; apiVersion?: string }) | undefined;
  if (typeof cls !== 'function' || cls.kind !== kind || cls.apiVersion !== apiVersion) {
    throw new Error(`kubernetes-models has no kind ${kind} in ${apiVersion}`);
  }
  return cls;
}

/** Validates one object; returns the error message, or undefined when it is valid. */
function schemaError(obj: K8sObject): string | undefined {
  try {
    new (modelClassFor(obj.apiVersion, obj.kind))(obj).validate();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('schema: GIVEN every synthesized object WHEN validated against the Kubernetes OpenAPI schema THEN it is valid', () => {
  let sets: Array<{ source: string; objects: K8sObject[] }>;
  beforeAll(async () => {
    sets = await allSetsWithEveryTier({ argoSyncWaveBase: false });
  }, 60_000);

  it('validates every object of every set (errors listed per object)', () => {
    const errors: Record<string, string> = {};
    let count = 0;
    for (const set of sets) {
      for (const obj of set.objects) {
        count++;
        const error = schemaError(obj);
        if (error !== undefined) errors[`${set.source}: ${obj.kind}/${obj.metadata?.name}`] = error;
      }
    }
    expect(errors).toEqual({});
    expect(count).toBeGreaterThan(60);
  });

  it('every object has apiVersion, kind and metadata.name', () => {
    for (const set of sets) {
      for (const obj of set.objects) {
        expect(typeof obj.apiVersion, set.source).toBe('string');
        expect(typeof obj.kind, set.source).toBe('string');
        expect(typeof obj.metadata?.name, `${set.source} ${obj.kind}`).toBe('string');
      }
    }
  });

  it('only the expected kinds are emitted, at their stable API versions', () => {
    const kinds = new Set(sets.flatMap((s) => s.objects.map((o) => `${o.apiVersion}/${o.kind}`)));
    expect([...kinds].sort()).toEqual([
      'apps/v1/Deployment',
      'apps/v1/StatefulSet',
      'external-secrets.io/v1/ExternalSecret',
      'networking.k8s.io/v1/NetworkPolicy',
      'policy/v1/PodDisruptionBudget',
      'v1/ConfigMap',
      'v1/Namespace',
      'v1/Service',
      'v1/ServiceAccount',
    ]);
  });
});

describe('schema: GIVEN a broken object THEN the validator rejects it (so the check above can fail)', () => {
  let statefulSet: K8sObject;
  beforeAll(() => {
    statefulSet = synthCluster({}, { namespace: 'db' }).find((o) => o.kind === 'StatefulSet')!;
  });
  const broken = (mutate: (o: K8sObject) => void) => {
    const copy = JSON.parse(JSON.stringify(statefulSet));
    mutate(copy);
    return copy;
  };

  it('the unmodified StatefulSet is valid', () => {
    expect(schemaError(statefulSet)).toBeUndefined();
    expect(() => new StatefulSet(statefulSet as never).validate()).not.toThrow();
  });

  it("replicas: 'three' is rejected", () => {
    expect(schemaError(broken((o) => (o.spec.replicas = 'three')))).toMatch(/replicas/);
  });

  it('a container port that is not a number is rejected', () => {
    expect(schemaError(broken((o) => (o.spec.template.spec.containers[0].ports[0].containerPort = 'postgres')))).toMatch(/containerPort/);
  });

  it('a container without an image name field of the wrong type is rejected', () => {
    expect(schemaError(broken((o) => (o.spec.template.spec.containers[0].name = 42)))).toMatch(/name/);
  });

  it('a missing required selector is rejected', () => {
    expect(schemaError(broken((o) => delete o.spec.selector))).toMatch(/selector/);
  });

  it("the credentials ExternalSecret is valid, and one with a store kind the operator does not know, or without its remoteRef, is rejected", () => {
    const es = synthCluster({ credentials: { externalSecret: { storeName: 'vault', remoteKey: 'db/orders' } } }, { namespace: 'db' }).find((o) => o.kind === 'ExternalSecret')!;
    expect(schemaError(es)).toBeUndefined();
    const copy = () => JSON.parse(JSON.stringify(es)) as K8sObject;
    const badKind = copy();
    badKind.spec.secretStoreRef.kind = 'VaultStore';
    expect(schemaError(badKind)).toMatch(/secretStoreRef\/kind/);
    const noRef = copy();
    delete noRef.spec.data[0].remoteRef;
    expect(schemaError(noRef)).toMatch(/remoteRef/);
  });

  it('the TLS Certificate for a cert-manager issuer is valid and names the Secret, the issuer and every name the pods need; one with an unknown key algorithm or without its issuer is rejected', () => {
    const cert = synthCluster({ tls: { certManagerIssuer: { name: 'my-ca', kind: 'ClusterIssuer' } } }, { namespace: 'db' }).find((o) => o.kind === 'Certificate')!;
    expect(schemaError(cert)).toBeUndefined();
    expect(cert.spec.secretName).toBe('c-tls');
    expect(cert.spec.issuerRef).toEqual({ name: 'my-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    expect(cert.spec.dnsNames).toEqual(expect.arrayContaining(['c-pgpool', 'c-pgpool.db.svc.cluster.local', '*.c-node.db.svc.cluster.local']));
    const copy = () => JSON.parse(JSON.stringify(cert)) as K8sObject;
    const badAlgorithm = copy();
    badAlgorithm.spec.privateKey.algorithm = 'DSA';
    expect(schemaError(badAlgorithm)).toMatch(/algorithm/);
    const noIssuer = copy();
    delete noIssuer.spec.issuerRef;
    expect(schemaError(noIssuer)).toMatch(/issuerRef/);
  });

  it('an unknown kind fails instead of passing unvalidated', () => {
    expect(schemaError({ apiVersion: 'v1', kind: 'PostgresCluster', metadata: { name: 'x' } })).toMatch(/no kind PostgresCluster in v1/);
    expect(schemaError({ apiVersion: 'pgha.cdk8s.io/v1', kind: 'Cluster', metadata: { name: 'x' } })).toMatch(/no API group\/version/);
    expect(schemaError({ apiVersion: 'apps/v1', kind: 'StatefulSetSpec', metadata: { name: 'x' } })).toMatch(/no kind StatefulSetSpec/);
  });
});
