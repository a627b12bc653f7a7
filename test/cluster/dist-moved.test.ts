/**
 * dist/ moved to another namespace after synthesis, as a kustomize `namespace:` (or a Flux
 * targetNamespace, which is the same transformer) does: the objects land in the new namespace,
 * but the host names in repmgr.conf and pgpool.conf and the pods' environment still name the
 * old one. Every pod must refuse to start with one log line naming both namespaces, never
 * half-start against peers it cannot reach.
 */
import { execFileSync } from 'child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifests, PodRuntime } from '../../podrt';
import { BOUNDS } from './bounds';

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');
const MOVED = 'moved-ns';

interface Obj { kind: string; metadata: { name: string; namespace?: string }; spec?: { replicas?: number } }

describe(`GIVEN dist/ moved to namespace ${MOVED} by a kustomize namespace: transformer`, () => {
  const original = loadManifests(DIST) as Obj[];
  const originalNamespace = original.find((o) => o.kind === 'StatefulSet')!.metadata.namespace!;
  let rt: PodRuntime;
  let moved: Obj[];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-moved-'));
    try {
      const files = readdirSync(DIST).filter((f) => f.endsWith('.yaml'));
      for (const f of files) copyFileSync(join(DIST, f), join(dir, f));
      writeFileSync(join(dir, 'kustomization.yaml'), yaml.dump({ namespace: MOVED, resources: files }));
      moved = (yaml.loadAll(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })) as Obj[]).filter(Boolean);
      rmSync(join(dir, 'kustomization.yaml'));
      for (const f of files) rmSync(join(dir, f));
      writeFileSync(join(dir, 'moved.yaml'), moved.map((o) => yaml.dump(o)).join('---\n'));
      // The CLI refuses to write passwords next to the output it reads: to stdout instead.
      const secrets = yaml.loadAll(execFileSync('npx', ['tsx', join(ROOT, 'lib/cli/credentials.ts'), dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as Obj[];
      for (const secret of secrets) expect(secret.metadata.namespace).toBe(MOVED);
      rt = await PodRuntime.start({ instance: 'dist-moved', namespace: MOVED });
      const applied = await rt.apply([...moved, ...secrets]);
      expect(applied.errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(async () => {
    expect(await rt?.down()).toEqual([]);
  });

  it('THEN the objects are in the new namespace, but the pod environment still names the old one', () => {
    expect(moved.filter((o) => o.kind !== 'Namespace').every((o) => o.metadata.namespace === MOVED)).toBe(true);
    expect(JSON.stringify(moved)).toContain(`"value":"${originalNamespace}"`);
  });

  it('THEN every pod refuses to start, naming both namespaces, and none turns Ready', async () => {
    const expected = moved.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment').reduce((n, w) => n + (w.spec?.replicas ?? 1), 0);
    const refusal = new RegExp(`FATAL: this pod runs in namespace ${MOVED}, but its configuration was synthesized for namespace ${originalNamespace}`);
    const refused = new Set<string>();
    await rt.waitFor(
      async () => {
        for (const p of await rt.pods(undefined, MOVED)) {
          const logs = (await rt.logs(p.name, { namespace: MOVED }).catch(() => '')) + (await rt.logs(p.name, { namespace: MOVED, previous: true }).catch(() => ''));
          if (refusal.test(logs)) refused.add(p.name);
        }
        return refused.size >= expected ? true : undefined;
      },
      { timeoutMs: BOUNDS.allReadyMs, intervalMs: 2_000, what: `${expected} pods refusing the moved namespace (so far: ${[...refused].join(', ')})` },
    );
    console.log(`moved dist/: ${refused.size} of ${expected} pods refused to start, e.g.: ${(await rt.logs([...refused][0], { namespace: MOVED })).split('\n').find((l) => refusal.test(l))}`);
    expect((await rt.pods(undefined, MOVED)).filter((p) => p.ready)).toEqual([]);
  });
});
