/**
 * A cluster whose credentials come from the External Secrets Operator (examples/external-secrets.ts).
 * The operator cannot run on the pod runtime, so it is stood in for the way the README says:
 * `npm run credentials` writes the Secret the output's ExternalSecret names, with the keys it
 * lists. The runtime ignores the ExternalSecret itself (a kind it does not implement), and the
 * pods run on that Secret alone: what the operator would have written is enough.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as yaml from 'js-yaml';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime } from '../../podrt';
import { BOUNDS } from './bounds';

const ROOT = join(__dirname, '..', '..');

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { replicas?: number; target?: { name: string }; data?: { secretKey: string }[] };
  stringData?: Record<string, string>;
}

describe('GIVEN examples/external-secrets.ts synthesized, and the Secret its ExternalSecret would write made by `npm run credentials`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-external-secrets-'));
  let objects: Obj[];
  let secret: Obj;
  /** The TLS Secret the command made too (TLS is on by default). */
  let tls: Obj;
  let warnings: string[];
  let rt: PodRuntime;
  let namespace: string;

  beforeAll(async () => {
    const out = join(dir, 'out');
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'examples', 'external-secrets.ts')], { cwd: ROOT, env: { ...process.env, CDK8S_OUTDIR: out }, stdio: ['ignore', 'ignore', 'inherit'] });
    objects = readdirSync(out).flatMap((f) => yaml.loadAll(readFileSync(join(out, f), 'utf8')) as Obj[]).filter(Boolean);
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'lib/cli/credentials.ts'), out, '-o', join(dir, 'credentials.yaml')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    const made = yaml.loadAll(readFileSync(join(dir, 'credentials.yaml'), 'utf8')) as (Obj & { type: string })[];
    secret = made.find((s) => s.type === 'Opaque')!;
    tls = made.find((s) => s.stringData?.['ca.crt'])!;
    namespace = objects.find((o) => o.kind === 'StatefulSet')!.metadata.namespace!;
    rt = await PodRuntime.start({ instance: 'external-secrets', namespace });
    // The program's chart has no Namespace object: created first, as `kubectl create namespace` would.
    const applied = await rt.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, ...objects, secret, ...made.filter((s) => s.type === 'kubernetes.io/tls')]);
    expect(applied.errors).toEqual([]);
    warnings = applied.warnings.map((w) => `${w.object}: ${w.message}`);
    const expected = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment').reduce((n, w) => n + (w.spec?.replicas ?? 1), 0);
    await rt.waitFor(async () => ((await rt.pods(undefined, namespace)).filter((p) => p.ready).length >= expected ? true : undefined), {
      timeoutMs: BOUNDS.allReadyMs,
      intervalMs: 1000,
      what: `${expected} Ready pods of examples/external-secrets.ts`,
    });
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    expect(await rt?.down()).toEqual([]);
  });

  it('THEN the stand-in Secret is exactly the ExternalSecret target with its keys, and the runtime ran no ExternalSecret', () => {
    const es = objects.find((o) => o.kind === 'ExternalSecret')!;
    expect(secret.metadata).toEqual({ name: es.spec!.target!.name, namespace: es.metadata.namespace });
    expect(Object.keys(secret.stringData!).sort()).toEqual(es.spec!.data!.map((d) => d.secretKey).sort());
    expect(warnings.some((w) => /ExternalSecret.*not implemented/.test(w)), warnings.join('\n')).toBe(true);
  });

  it('WHEN the application writes and reads through the Pgpool-II Service THEN it works with the password from that Secret', async () => {
    const service = objects.find((o) => o.kind === 'Deployment')!.metadata.name;
    const fwd = await rt.portForward(`svc/${service}`, 5432, { namespace });
    const client = new Client({
      host: fwd.host,
      port: fwd.port,
      user: 'app',
      password: secret.stringData!['app-password'],
      database: 'app',
      connectionTimeoutMillis: 15_000,
      ssl: { ca: tls.stringData!['ca.crt'], servername: `${service}.${namespace}.svc.cluster.local` },
    });
    try {
      await client.connect();
      await client.query('CREATE TABLE stock (sku text PRIMARY KEY, n int)');
      await client.query("INSERT INTO stock VALUES ('bolt', 7)");
      const { rows } = await client.query("SELECT n FROM stock WHERE sku = 'bolt'");
      expect(rows).toEqual([{ n: 7 }]);
    } finally {
      await client.end().catch(() => undefined);
      await fwd.close();
    }
  });
});
