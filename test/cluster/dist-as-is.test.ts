/**
 * The committed dist/ runs as is: the Secrets from `npm run credentials -- dist/` (the one
 * documented command), then dist/ applied unchanged to the pod runtime, which builds every image
 * dist/ names from its recipe. What answers through the Pgpool-II Service is the PostgreSQL major
 * of the postgres image dist/ names, and the Pgpool-II in the pgpool pods is the series its
 * pgpool.conf was rendered for. TLS is on, with the certificate the command issued: clients
 * verify it as `sslmode=verify-full` does, the members replicate over it, and a plaintext client
 * is refused. The NetworkPolicies dist/ holds are enforced by the runtime: the cluster above
 * works through them, an application pod of the namespace logs in with psql through Pgpool-II,
 * and pods the policies do not name are shut out.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as yaml from 'js-yaml';
import { Client, type ClientConfig } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifests, PodRuntime, stateDir } from '../../podrt';
import { container, deployment, tcpConnect } from '../../podrt/helpers';
import { BOUNDS } from './bounds';

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');

interface Obj { kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string>; spec?: { replicas?: number; template?: { spec?: { containers?: { name: string; image: string }[] } } } }

describe('GIVEN the committed dist/ and the Secrets `npm run credentials -- dist/` creates', () => {
  const objects = loadManifests(DIST) as Obj[];
  const workloads = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
  const imageOf = (kind: string, container: string) =>
    workloads.filter((w) => w.kind === kind).flatMap((w) => w.spec!.template!.spec!.containers!).find((c) => c.name === container)!.image;
  const namespace = workloads[0].metadata.namespace!;
  const pgpoolDeployment = workloads.find((w) => w.kind === 'Deployment')!;
  let rt: PodRuntime;
  let secrets: Record<string, string>;
  /** The CA of the TLS Secret the command made: what an application is given to verify with. */
  let ca: string;
  const pgpoolHost = () => `${pgpoolDeployment.metadata.name}.${namespace}.svc.cluster.local`;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-credentials-'));
    try {
      execFileSync('npx', ['tsx', join(ROOT, 'lib/cli/credentials.ts'), DIST, '-o', join(dir, 'credentials.yaml')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      const made = yaml.loadAll(readFileSync(join(dir, 'credentials.yaml'), 'utf8')) as { type: string; stringData: Record<string, string> }[];
      secrets = made.find((s) => s.type === 'Opaque')!.stringData;
      ca = made.find((s) => s.stringData['ca.crt'])!.stringData['ca.crt'];
      rt = await PodRuntime.start({ instance: 'dist-as-is', namespace });
      const applied = await rt.apply([...objects, ...made]);
      expect(applied.errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const expected = workloads.reduce((n, w) => n + (w.spec?.replicas ?? 1), 0);
    let ready = 0;
    try {
      await rt.waitFor(async () => ((ready = (await rt.pods(undefined, namespace)).filter((p) => p.ready).length) >= expected ? true : undefined), {
        timeoutMs: BOUNDS.allReadyMs,
        intervalMs: 1000,
        what: `${expected} Ready pods of dist/`,
      });
    } catch (error) {
      // What is needed to diagnose a start that did not finish, without a rerun: each pod's
      // state, the runtime's events and the end of each pod's log.
      const pods = await rt.pods(undefined, namespace);
      const lines = [`dist/ as is: ${ready} of ${expected} pods Ready`, ...pods.map((p) => `  ${JSON.stringify(p)}`)];
      lines.push('events:', ...readFileSync(`${stateDir('dist-as-is')}/events.log`, 'utf8').trim().split('\n').slice(-60));
      for (const p of pods) lines.push(`--- ${p.name} (last 30 lines)`, ...(await rt.logs(p.name, { namespace }).catch(() => '')).trim().split('\n').slice(-30));
      console.log(lines.join('\n'));
      throw error;
    }
  });
  afterAll(async () => {
    expect(await rt?.down()).toEqual([]);
  });

  it('WHEN applied unchanged THEN SELECT version() through the Pgpool-II Service, over TLS verified against the CA and the Service name, reports the major of the postgres image dist/ names, and Pgpool-II reached the backend over TLS too', async () => {
    const major = /-pg(\d+)$/.exec(imageOf('StatefulSet', 'postgres'))![1];
    const fwd = await rt.portForward(`svc/${pgpoolDeployment.metadata.name}`, 5432, { namespace });
    const client = new Client({
      host: fwd.host,
      port: fwd.port,
      user: 'app',
      password: secrets['app-password'],
      database: 'app',
      connectionTimeoutMillis: 15_000,
      ssl: { ca, servername: pgpoolHost() },
    });
    try {
      await client.connect();
      const { rows } = await client.query('SELECT version(), ssl, version AS tls FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      console.log(`dist/ as is: ${rows[0].version}; Pgpool-II to the backend: ssl ${rows[0].ssl} (${rows[0].tls})`);
      expect(rows[0].version).toMatch(new RegExp(`^PostgreSQL ${major}\\.`));
      expect(rows[0].ssl).toBe(true);
    } finally {
      await client.end().catch(() => undefined);
      await fwd.close();
    }
  });

  describe('AND TLS on every hop', () => {
    const refusal = async (config: ClientConfig): Promise<string> => {
      const client = new Client({ user: 'app', password: secrets['app-password'], database: 'app', connectionTimeoutMillis: 15_000, ...config });
      try {
        await client.connect();
        await client.end();
        return 'connected';
      } catch (error) {
        return (error as Error).message;
      }
    };

    it('WHEN a client connects in plaintext, or verifies a name the certificate does not carry THEN Pgpool-II and the members refuse it', async () => {
      const viaPgpool = await rt.portForward(`svc/${pgpoolDeployment.metadata.name}`, 5432, { namespace });
      const member = objects.find((o) => o.kind === 'StatefulSet')!.metadata.name;
      const direct = await rt.portForward(`pod/${member}-0`, 5432, { namespace });
      try {
        const plainPgpool = await refusal({ host: viaPgpool.host, port: viaPgpool.port });
        const plainMember = await refusal({ host: direct.host, port: direct.port });
        const wrongName = await refusal({ host: viaPgpool.host, port: viaPgpool.port, ssl: { ca, servername: `${pgpoolDeployment.metadata.name}.elsewhere.svc.cluster.local` } });
        console.log(`plaintext to Pgpool-II: ${plainPgpool}\nplaintext to a member: ${plainMember}\nverify-full of another name: ${wrongName}`);
        // Pgpool-II tells a refused client no more than this; its pool_hba.conf has no plaintext line that could match.
        expect(plainPgpool).toMatch(/client authentication failed|no encryption/);
        expect(plainMember).toMatch(/pg_hba\.conf rejects connection .*no encryption/);
        expect(wrongName).toMatch(/does not match certificate's altnames/);
        // The same member over TLS, verified against its own pod name, lets the application in.
        expect(await refusal({ host: direct.host, port: direct.port, ssl: { ca, servername: `${member}-0.${member}.${namespace}.svc.cluster.local` } })).toBe('connected');
      } finally {
        await viaPgpool.close();
        await direct.close();
      }
    });

    it('WHEN the standbys stream THEN every WAL sender on the primary serves a TLS connection', async () => {
      const member = objects.find((o) => o.kind === 'StatefulSet')!.metadata.name;
      const pods = (await rt.pods(undefined, namespace)).filter((p) => p.name.startsWith(`${member}-`)).map((p) => p.name);
      const rows: string[] = [];
      for (const pod of pods) {
        const r = await rt.exec(pod, 'postgres', ['psql', '-X', '-At', '-h', '/var/run/postgresql', '-U', 'postgres', '-d', 'postgres', '-c', "SELECT r.application_name || ':' || s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) ORDER BY 1"], { namespace });
        rows.push(...r.stdout.trim().split('\n').filter(Boolean));
      }
      console.log(`WAL senders: ${rows.join(', ')}`);
      // Two member standbys and the cascading layer's first pod stream from someone.
      expect(rows.length).toBeGreaterThanOrEqual(2);
      for (const row of rows) expect(row).toMatch(/:true$/);
    });
  });

  describe('AND its NetworkPolicies enforced', () => {
    const OUTSIDE = 'pgha-netpol-outside';
    const podOf = async (app: string, ns = namespace) => (await rt.waitReady(`app=${app}`, { namespace: ns, timeoutMs: BOUNDS.allReadyMs }))[0].name as string;
    const member = () => objects.find((o) => o.kind === 'StatefulSet')!.metadata.name;
    const memberHost = () => `${member()}-0.${member()}.${namespace}.svc.cluster.local`;
    beforeAll(async () => {
      const applied = await rt.apply([
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OUTSIDE } },
        // An application: the postgres image for its psql, in the cluster's namespace.
        deployment('netpol-app', { namespace, containers: [{ ...container('app', ['sleep', 'infinity']), image: imageOf('StatefulSet', 'postgres') }] }),
        deployment('netpol-probe', { namespace, containers: [container('probe', ['sleep', 'infinity'])] }),
        deployment('netpol-outsider', { namespace: OUTSIDE, containers: [container('probe', ['sleep', 'infinity'])] }),
      ]);
      expect(applied.errors).toEqual([]);
    });

    it('WHEN an application pod of the namespace logs in with psql through the Pgpool-II Service, and through the cascading layer\'s read-only Service THEN it is served by both', async () => {
      const pod = await podOf('netpol-app');
      // The application verifies the server with the CA of the TLS Secret, as the README says.
      const psql = (sql: string) => `printf '%s' "$3" > /tmp/ca.crt && PGPASSWORD="$1" psql -X -At -c "${sql}" "host=$2 port=5432 user=app dbname=app connect_timeout=10 sslmode=verify-full sslrootcert=/tmp/ca.crt"`;
      const r = await rt.exec(pod, 'app', ['sh', '-c', psql('SELECT current_user'), 'sh', secrets['app-password'], pgpoolHost(), ca], { namespace, timeoutMs: 30_000 });
      expect(r.stdout.trim(), r.stderr).toBe('app');
      // And reads from the cascading layer through its read-only Service, as the README says apps may.
      const ro = objects.find((o) => o.kind === 'Service' && o.metadata.name.endsWith('-ro'))!.metadata.name;
      const read = await rt.exec(pod, 'app', ['sh', '-c', psql('SELECT pg_is_in_recovery()'), 'sh', secrets['app-password'], `${ro}.${namespace}.svc.cluster.local`, ca], { namespace, timeoutMs: 30_000 });
      expect(read.stdout.trim(), read.stderr).toBe('t');
    });

    it("WHEN a pod that is not the cluster's connects straight to a member (5432, 8008) THEN the packets are dropped", async () => {
      const pod = await podOf('netpol-probe');
      expect((await tcpConnect(rt, pod, memberHost(), 5432, 3, namespace)).result).toBe('timeout');
      expect((await tcpConnect(rt, pod, memberHost(), 8008, 3, namespace)).result).toBe('timeout');
      // The same pod reaches Pgpool-II: the default lets the cluster's namespace in.
      expect((await tcpConnect(rt, pod, pgpoolHost(), 5432, 3, namespace)).result).toBe('connected');
    });

    it('WHEN a pod of another namespace connects to Pgpool-II THEN the packets are dropped', async () => {
      const pod = await podOf('netpol-outsider', OUTSIDE);
      expect((await tcpConnect(rt, pod, pgpoolHost(), 5432, 3, OUTSIDE)).result).toBe('timeout');
    });

    it("WHEN a Pgpool-II pod asks a member's status endpoint THEN it is dropped; a member's peer gets through", async () => {
      const pgpoolPod = (await rt.pods(undefined, namespace)).find((p) => p.name.startsWith(pgpoolDeployment.metadata.name))!.name;
      const probe = 'timeout 3 bash -c "exec 3<>/dev/tcp/$1/8008" 2>/dev/null; echo $?';
      const fromPgpool = await rt.exec(pgpoolPod, 'pgpool', ['bash', '-c', probe, 'bash', memberHost()], { namespace });
      expect(fromPgpool.stdout.trim()).toBe('124');
      const fromPeer = await rt.exec(`${member()}-1`, 'postgres', ['bash', '-c', probe, 'bash', memberHost()], { namespace });
      expect(fromPeer.stdout.trim()).toBe('0');
    });
  });

  it('THEN pgpool --version in a pgpool pod reports the series its pgpool.conf was rendered for', async () => {
    const series = /-pgpool(\d+\.\d+)$/.exec(imageOf('Deployment', 'pgpool'))![1];
    const conf = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['pgpool.conf'])!.data!['pgpool.conf'];
    // The rendered file names its series in its header and uses that series' keys (4.7: work_dir).
    expect(conf).toMatch(series === '4.7' ? /^work_dir = /m : /^logdir = /m);
    const pod = (await rt.pods(undefined, namespace)).find((p) => p.name.startsWith(pgpoolDeployment.metadata.name))!;
    const r = await rt.exec(pod.name, 'pgpool', ['sh', '-c', 'pgpool --version 2>&1'], { namespace });
    console.log(`dist/ as is: ${r.stdout.trim()}`);
    expect(r.stdout).toMatch(new RegExp(`version ${series.replace('.', '\\.')}\\.`));
  });
});
