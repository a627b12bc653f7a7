/**
 * The GitOps examples (examples/gitops/) and dist/ as Argo CD and Flux read them: the
 * Application, GitRepository and Kustomization validate against their CRD schemas (the
 * `@kubernetes-models` packages), point at dist/, and a kustomize build of dist/ (what Flux runs
 * on a path without a kustomization.yaml) gives back exactly the objects dist/ holds.
 *
 * Needs `kubectl` (Debian's kubernetes-client; .ci/run installs it when the machine has none).
 */
import { execFileSync } from 'child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as yaml from 'js-yaml';
import { Application } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1';
import { Kustomization } from '@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1';
import { GitRepository } from '@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1';
import { SealedSecret } from '@kubernetes-models/sealed-secrets/bitnami.com/v1alpha1/SealedSecret';
import { referencedSecrets } from '../../lib/cli/credentials';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, type K8sObject } from '../unit/helpers';

const GITOPS = join(REPO_ROOT, 'examples', 'gitops');
const DIST = join(REPO_ROOT, 'dist');

const load = (file: string): K8sObject[] => (yaml.loadAll(readFileSync(file, 'utf8')) as K8sObject[]).filter(Boolean);
const distFiles = () => readdirSync(DIST).filter((f) => f.endsWith('.yaml')).sort();
const distObjects = () => distFiles().flatMap((f) => load(join(DIST, f)));

/** Validates one object with its @kubernetes-models class; returns the error or undefined. */
function schemaError(obj: K8sObject): string | undefined {
  const classes: Record<string, new (data: never) => { validate(): void }> = {
    'argoproj.io/v1alpha1/Application': Application,
    'kustomize.toolkit.fluxcd.io/v1/Kustomization': Kustomization,
    'source.toolkit.fluxcd.io/v1/GitRepository': GitRepository,
    'bitnami.com/v1alpha1/SealedSecret': SealedSecret,
  };
  const cls = classes[`${obj.apiVersion}/${obj.kind}`];
  if (!cls) return `no schema for ${obj.apiVersion}/${obj.kind}`;
  try {
    new cls(obj as never).validate();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function kubectl(): string {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' });
    return 'kubectl';
  } catch {
    throw new Error("kubectl is missing: install Debian's kubernetes-client (apt-get install kubernetes-client); .ci/run does");
  }
}

describe('gitops: GIVEN the Argo CD and Flux examples', () => {
  const argo = load(join(GITOPS, 'argocd-application.yaml'));
  const flux = load(join(GITOPS, 'flux-kustomization.yaml'));

  it('THEN every object validates against its CRD schema', () => {
    const errors = Object.fromEntries([...argo, ...flux].map((o) => [`${o.kind}/${o.metadata.name}`, schemaError(o)]).filter(([, e]) => e !== undefined));
    expect(errors).toEqual({});
    expect(argo.map((o) => o.kind)).toEqual(['Application']);
    expect(flux.map((o) => o.kind)).toEqual(['GitRepository', 'Kustomization']);
  });

  it('THEN a broken object is refused by the same check (so the one above can fail)', () => {
    const broken = { ...argo[0], spec: { ...argo[0].spec, destination: 'in-cluster' } };
    expect(schemaError(broken)).toBeDefined();
  });

  it('THEN both apply dist/ without pruning, forcing or moving it to another namespace', () => {
    expect(argo[0].spec.source.path).toBe('dist');
    expect(argo[0].spec.syncPolicy.automated.prune).toBe(false);
    const kustomization = flux.find((o) => o.kind === 'Kustomization')!;
    expect(kustomization.spec.path).toBe('./dist');
    expect(kustomization.spec.sourceRef).toEqual({ kind: 'GitRepository', name: flux[0].metadata.name });
    expect(kustomization.spec.prune).toBe(false);
    expect(kustomization.spec.force).toBe(false);
    expect(kustomization.spec.targetNamespace).toBeUndefined();
  });
});

describe('gitops: GIVEN dist/ WHEN kustomize builds it as Flux does (a generated kustomization.yaml listing every file) THEN it gives back exactly the objects of dist/', () => {
  it('the same objects, field for field', () => {
    const bin = kubectl();
    const dir = mkdtempSync(join(tmpdir(), 'pgha-kustomize-'));
    try {
      for (const f of distFiles()) copyFileSync(join(DIST, f), join(dir, f));
      writeFileSync(join(dir, 'kustomization.yaml'), yaml.dump({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: distFiles() }));
      const built = (yaml.loadAll(execFileSync(bin, ['kustomize', dir], { encoding: 'utf8' })) as K8sObject[]).filter(Boolean);
      const key = (o: K8sObject) => `${o.apiVersion}/${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      const byKey = (objects: K8sObject[]) => Object.fromEntries(objects.map((o) => [key(o), o]));
      expect(Object.keys(byKey(built)).sort()).toEqual(Object.keys(byKey(distObjects())).sort());
      expect(byKey(built)).toEqual(byKey(distObjects()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gitops: GIVEN the SealedSecret example (not run here: no Sealed Secrets controller on the pod runtime)', () => {
  const sealed = load(join(GITOPS, 'sealed-secret.yaml'));

  it('THEN it validates against its CRD schema, and a value that is not a string is rejected', () => {
    expect(sealed.map((o) => o.kind)).toEqual(['SealedSecret']);
    expect(schemaError(sealed[0])).toBeUndefined();
    const broken = JSON.parse(JSON.stringify(sealed[0]));
    broken.spec.encryptedData['app-password'] = 42;
    expect(schemaError(broken)).toMatch(/encryptedData/);
  });

  it('THEN it unseals into the Secret the pods of dist/ mount, with every key they mount', () => {
    const [mounted] = referencedSecrets(distObjects() as never);
    const s = sealed[0];
    expect({ name: s.spec.template.metadata.name, namespace: s.spec.template.metadata.namespace }).toEqual({ name: mounted.name, namespace: mounted.namespace });
    expect({ name: s.metadata.name, namespace: s.metadata.namespace }).toEqual({ name: mounted.name, namespace: mounted.namespace });
    expect(Object.keys(s.spec.encryptedData).sort()).toEqual(mounted.keys);
  });
});
