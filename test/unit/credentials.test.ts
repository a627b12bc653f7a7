/**
 * `npm run credentials -- dist/`: every Secret the synthesized workloads mount, with every key
 * they mount from it, random values, and never a file inside the output directory.
 */
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import * as yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { referencedSecrets, secretManifests } from '../../lib/cli/credentials';
import { REPO_ROOT, synthCluster } from './helpers';

const execFileAsync = promisify(execFile);

describe('credentials: GIVEN synthesized manifests WHEN the Secrets are created for them THEN dist/ can run as is', () => {
  it('every mounted Secret, once, with the union of the keys the node and pgpool pods mount', () => {
    const objects = synthCluster({ cascades: [{ name: 'replica' }] }, { namespace: 'shop' });
    expect(referencedSecrets(objects)).toEqual([
      { namespace: 'shop', name: 'c-credentials', keys: ['app-password', 'monitor-password', 'pgpool-key', 'replication-password', 'superuser-password'] },
    ]);
  });

  it('random values, different on every call, with no character pgpass or pool_passwd would need escaped', () => {
    const objects = synthCluster();
    const a = secretManifests(objects)[0] as { stringData: Record<string, string> };
    const b = secretManifests(objects)[0] as { stringData: Record<string, string> };
    for (const [k, v] of Object.entries(a.stringData)) {
      expect(v, k).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(v, k).not.toBe(b.stringData[k]);
    }
  });

  it('the command reads dist/ and refuses to write into it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-cred-'));
    try {
      await execFileAsync('npx', ['tsx', 'lib/cli/credentials.ts', 'dist/', '-o', join(dir, 'c.yaml')], { cwd: REPO_ROOT });
      const secret = yaml.load(readFileSync(join(dir, 'c.yaml'), 'utf8')) as { kind: string; metadata: { name: string } };
      expect(secret).toMatchObject({ kind: 'Secret', metadata: { name: 'orders-credentials' } });
      await expect(execFileAsync('npx', ['tsx', 'lib/cli/credentials.ts', 'dist/', '-o', 'dist/c.yaml'], { cwd: REPO_ROOT })).rejects.toMatchObject({
        stderr: expect.stringContaining('refusing to write'),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
