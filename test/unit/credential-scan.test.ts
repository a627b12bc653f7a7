/**
 * Nothing committed or emitted carries a credential value: dist/, every file under examples/
 * and the output of every example program are scanned for what a leaked credential looks like
 * (a Secret with values, a private key, a password in a conninfo or a conf line, a literal value
 * in a credential-named env var, a long random token). The scanner is shown to catch each kind.
 */
import { readdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';
import * as yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { allSynthesizedSets, REPO_ROOT, type K8sObject } from './helpers';

/** Files a user commits or copies: the synthesized output and the examples. */
function committedFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  return [...walk(join(REPO_ROOT, 'dist')), ...walk(join(REPO_ROOT, 'examples'))].sort();
}

const CREDENTIAL_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY/i;

/** What in `text` (from `where`) looks like a credential value; empty when nothing does. */
function credentialFindings(where: string, text: string): string[] {
  const found: string[] = [];
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) found.push(`${where}: a PEM private key`);
  // libpq conninfo / URI with a literal password (a variable reference like $PW or ${x} is fine).
  for (const m of text.matchAll(/\bpassword\s*=\s*'?([^\s'"$`{]+)/gi)) found.push(`${where}: password=${m[1]}`);
  for (const m of text.matchAll(/postgres(?:ql)?:\/\/[^:/\s]+:([^@\s$]+)@/g)) found.push(`${where}: a password in a connection URI (${m[1]})`);
  // A run of 32+ base64/base64url characters mixing cases and digits: a random token. Hex digests
  // (config checksums, image digests) are lower-case hex and do not match.
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{32,}={0,2}/g)) {
    const s = m[0];
    if (/[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s) && !/^[A-Za-z]+(?:[-_/][A-Za-z0-9]+)+$/.test(s)) found.push(`${where}: a random-looking token ${s.slice(0, 8)}...`);
  }
  return found;
}

/** What in the Kubernetes objects carries a credential value. */
function objectFindings(source: string, objects: readonly K8sObject[]): string[] {
  const found: string[] = [];
  for (const o of objects) {
    const id = `${source}: ${o.kind}/${o.metadata?.name}`;
    if (o.kind === 'Secret' && (Object.keys(o.data ?? {}).length > 0 || Object.keys(o.stringData ?? {}).length > 0)) found.push(`${id} holds values`);
    const containers = [...(o.spec?.template?.spec?.containers ?? []), ...(o.spec?.template?.spec?.initContainers ?? [])];
    for (const c of containers) {
      for (const e of c.env ?? []) {
        if (CREDENTIAL_NAME.test(e.name) && e.value !== undefined) found.push(`${id} env ${e.name} has a literal value`);
      }
    }
  }
  return found;
}

describe('credential scan: GIVEN dist/, examples/ and the output of every example program THEN no credential value is in them', () => {
  let sets: Array<{ source: string; objects: K8sObject[] }>;
  beforeAll(async () => {
    sets = await allSynthesizedSets();
  }, 60_000);

  it('no file under dist/ or examples/ holds a private key, a literal password or a random token', () => {
    const files = committedFiles();
    expect(files.some((f) => f.includes('/dist/'))).toBe(true);
    expect(files.filter((f) => f.includes('/examples/')).length).toBeGreaterThanOrEqual(5);
    expect(files.flatMap((f) => credentialFindings(relative(REPO_ROOT, f), readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('no synthesized object is a Secret with values or sets a credential-named env var to a literal', () => {
    expect(sets.length).toBeGreaterThanOrEqual(5);
    expect(sets.flatMap((s) => objectFindings(s.source, s.objects))).toEqual([]);
  });
});

describe('credential scan: GIVEN a leaked credential of each kind THEN the scanner reports it (so the scan above can fail)', () => {
  it.each([
    ['a PEM private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----', /PEM private key/],
    ['a conninfo password', "primary_conninfo = 'host=a user=repmgr password=hunter22'", /password=hunter22/],
    ['a connection URI', 'DATABASE_URL=postgresql://app:s3cr3t@orders-pgpool:5432/app', /connection URI \(s3cr3t\)/],
    ['a random token', `pgpool-key: ${'Qm9vdHN0cmFwU2VjcmV0S2V5MTIzNDU2Nzg5MA'}`, /random-looking token Qm9vdHN0/],
  ])('%s', (_what, text, finding) => {
    const found = credentialFindings('leak.yaml', text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(finding);
  });

  it('a Secret with stringData, and an env PGPASSWORD with a literal value', () => {
    const leaked = yaml.loadAll(`
apiVersion: v1
kind: Secret
metadata: { name: orders-credentials }
stringData: { app-password: x }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: shop }
spec: { template: { spec: { containers: [{ name: app, env: [{ name: PGPASSWORD, value: x }, { name: PGHOST, value: orders-pgpool }] }] } } }
`) as K8sObject[];
    expect(objectFindings('leak', leaked)).toEqual(['leak: Secret/orders-credentials holds values', 'leak: Deployment/shop env PGPASSWORD has a literal value']);
  });

  it('what is not a credential passes: a checksum, an image digest, a variable reference, a placeholder', () => {
    const text = [
      'pgha.cdk8s.io/config-checksum: 51221ab0edaa63944999a7e354d634412525f43258ec462ff693d6932c69a0e1',
      'image: ghcr.io/cdk8s-pg-ha/pgpool@sha256:0f4a9c1e2b3d4e5f60718293a4b5c6d7e8f9012345678901234567890abcdef',
      'conninfo="host=$HOST password=$PW"',
      'app-password: REPLACE-WITH-KUBESEAL-OUTPUT',
    ].join('\n');
    expect(credentialFindings('fine.yaml', text)).toEqual([]);
  });
});
