/**
 * `npm run credentials -- dist/`: every Secret the synthesized workloads mount, with every key
 * they mount from it, random values, and never a file inside the output directory.
 */
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import * as yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { createPrivateKey, X509Certificate } from 'crypto';
import { referencedSecrets, secretManifests } from '../../lib/cli/credentials';
import { REPO_ROOT, synthCluster } from './helpers';

const execFileAsync = promisify(execFile);

describe('credentials: GIVEN synthesized manifests WHEN the Secrets are created for them THEN dist/ can run as is', () => {
  it('every mounted Secret, once, with the union of the keys the node and pgpool pods mount', () => {
    const objects = synthCluster({ cascades: [{ name: 'replica' }] }, { namespace: 'shop' });
    expect(referencedSecrets(objects)).toEqual([
      { namespace: 'shop', name: 'c-credentials', keys: ['app-password', 'monitor-password', 'pgpool-key', 'replication-password', 'superuser-password'], dnsNames: [] },
      {
        namespace: 'shop',
        name: 'c-tls',
        keys: ['ca.crt', 'tls.crt', 'tls.key'],
        dnsNames: expect.arrayContaining(['c-pgpool.shop.svc.cluster.local', 'c-replica-ro.shop', '*.c-node.shop.svc.cluster.local', '*.c-replica.shop.svc.cluster.local']),
      },
    ]);
  });

  it('random values, different on every call, with no character pgpass or pool_passwd would need escaped', async () => {
    const objects = synthCluster();
    const a = (await secretManifests(objects))[0];
    const b = (await secretManifests(objects))[0];
    for (const [k, v] of Object.entries(a.stringData)) {
      expect(v, k).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(v, k).not.toBe(b.stringData[k]);
    }
  });

  it('a TLS Secret whose certificate, signed by its ca.crt, names every Service and pod and matches its key', async () => {
    const objects = synthCluster({ cascades: [{ name: 'replica' }] }, { namespace: 'shop' });
    const tls = (await secretManifests(objects)).find((s) => s.metadata.name === 'c-tls')!;
    const cert = new X509Certificate(tls.stringData['tls.crt']);
    const ca = new X509Certificate(tls.stringData['ca.crt']);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(tls.stringData['tls.key']))).toBe(true);
    for (const host of ['c-pgpool', 'c-pgpool.shop.svc.cluster.local', 'c-node-2.c-node.shop.svc.cluster.local', 'c-replica-0.c-replica.shop.svc.cluster.local', 'c-replica-ro.shop.svc']) {
      expect(cert.checkHost(host), host).toBeDefined();
    }
    // A pod of another namespace, or a name one label deeper, is not covered.
    expect(cert.checkHost('c-node-0.c-node.other.svc.cluster.local')).toBeUndefined();
    expect(cert.checkHost('x.c-node-0.c-node.shop.svc.cluster.local')).toBeUndefined();
    expect(Date.parse(cert.validTo)).toBeGreaterThan(Date.now() + 300 * 24 * 3600 * 1000);
  });

  it('the command reads dist/ and refuses to write into it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-cred-'));
    try {
      await execFileAsync('npx', ['tsx', 'lib/cli/credentials.ts', 'dist/', '-o', join(dir, 'c.yaml')], { cwd: REPO_ROOT });
      const secrets = yaml.loadAll(readFileSync(join(dir, 'c.yaml'), 'utf8')) as { kind: string; type: string; metadata: { name: string } }[];
      expect(secrets).toMatchObject([
        { kind: 'Secret', type: 'Opaque', metadata: { name: 'orders-credentials' } },
        { kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'orders-tls-ca' } },
        { kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'orders-tls' } },
      ]);
      // Renewal: only the server certificate, re-issued from the CA of the earlier output.
      const { stdout } = await execFileAsync('npx', ['tsx', 'lib/cli/credentials.ts', 'dist/', '--renew-tls', join(dir, 'c.yaml')], { cwd: REPO_ROOT });
      const renewed = yaml.loadAll(stdout) as { metadata: { name: string }; stringData: Record<string, string> }[];
      expect(renewed.map((s) => s.metadata.name)).toEqual(['orders-tls']);
      const [, ca, first] = secrets as unknown as { stringData: Record<string, string> }[];
      expect(renewed[0].stringData['ca.crt']).toBe(ca.stringData['tls.crt']);
      const cert = new X509Certificate(renewed[0].stringData['tls.crt']);
      expect(cert.checkIssued(new X509Certificate(ca.stringData['tls.crt']))).toBe(true);
      expect(cert.verify(new X509Certificate(ca.stringData['tls.crt']).publicKey)).toBe(true);
      expect(cert.serialNumber).not.toBe(new X509Certificate(first.stringData['tls.crt']).serialNumber);
      // An earlier output without the CA's Secret cannot keep the CA: refused, naming it.
      writeFileSync(join(dir, 'no-ca.yaml'), yaml.dump(secrets[0]));
      await expect(execFileAsync('npx', ['tsx', 'lib/cli/credentials.ts', 'dist/', '--renew-tls', join(dir, 'no-ca.yaml')], { cwd: REPO_ROOT })).rejects.toMatchObject({
        stderr: expect.stringContaining('holds no Secret pgha-example/orders-tls-ca with tls.crt and tls.key'),
      });
      await expect(execFileAsync('npx', ['tsx', 'lib/cli/credentials.ts', 'dist/', '-o', 'dist/c.yaml'], { cwd: REPO_ROOT })).rejects.toMatchObject({
        stderr: expect.stringContaining('refusing to write'),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
