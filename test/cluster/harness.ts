/**
 * Cluster test harness: synthesizes the repository's example cluster for the PostgreSQL,
 * repmgr and Pgpool-II versions of the run's version set (PGHA_VERSION_SET, a Debian suite),
 * applies it with a credentials Secret to the local pod runtime, which runs each pod in the
 * image it names, and gives the tests real clients (psql in the pods, node-postgres
 * through a port-forward of the Pgpool-II Service).
 */
import { randomBytes } from 'crypto';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App } from 'cdk8s';
import { Client, type ClientConfig } from 'pg';
import { EXAMPLE_CLUSTER_NAME, EXAMPLE_NAMESPACE, ExampleClusterChart } from '../../charts/example-cluster';
import type { PostgresClusterProps } from '../../lib/model/props';
import { SUPPORTED_PGPOOL_VERSIONS, SUPPORTED_POSTGRES_MAJORS, type PgpoolVersion, type PostgresMajorVersion } from '../../lib/model/versions';
import { cachedImage, loadManifests, PodRuntime, resolveImage, stateDir, SUITES, versionSet, type DebianSuite, type ExecResult } from '../../podrt';
import { defaultPgpoolImage, defaultPostgresImage } from '../../lib/model/resolve-cluster';
import { referencedSecrets, secretManifests } from '../../lib/cli/credentials';
import { BACKOFF_MAX_S, BOUNDS } from './bounds';

export interface SetVersions {
  readonly postgresMajor: PostgresMajorVersion;
  readonly postgresFull: string;
  readonly repmgr: string;
  readonly pgpool: PgpoolVersion;
  readonly pgpoolFull: string;
}

/**
 * The versions of the version set this run tests (PGHA_VERSION_SET, a Debian suite), read from
 * the images built for it (their recipes report what they resolved). Fails loudly when an image
 * is not built or a version is not one the library supports: the cluster tests are never skipped.
 */
export function setVersions(): SetVersions {
  const set = versionSet();
  const postgresMajor = SUITES[set].postgresMajor;
  const pgpool = SUITES[set].pgpoolSeries;
  if (!(SUPPORTED_POSTGRES_MAJORS as readonly number[]).includes(postgresMajor)) {
    throw new Error(`version set ${set}: PostgreSQL ${postgresMajor} is not supported by the library (${SUPPORTED_POSTGRES_MAJORS.join(', ')})`);
  }
  if (!(SUPPORTED_PGPOOL_VERSIONS as readonly string[]).includes(pgpool)) {
    throw new Error(`version set ${set}: Pgpool-II ${pgpool} is not supported by the library (${SUPPORTED_PGPOOL_VERSIONS.join(', ')})`);
  }
  const packages = (image: string) => {
    const resolved = resolveImage(image);
    if ('reason' in resolved) throw new Error(resolved.reason);
    const built = cachedImage(resolved.source);
    if (!built) throw new Error(`image ${image} of version set ${set} is not built: run \`sudo npm run podrt -- build-image ${image}\` (npm test builds it)`);
    return built.packages;
  };
  const version = (pkgs: string[], name: string) => pkgs.find((p) => p.startsWith(`${name} `)) ?? `${name} (not found in the image)`;
  const pg = packages(setImages(set).postgres);
  const pool = packages(setImages(set).pgpool);
  return {
    postgresMajor: postgresMajor as PostgresMajorVersion,
    postgresFull: version(pg, `postgresql-${postgresMajor}`),
    repmgr: version(pg, `postgresql-${postgresMajor}-repmgr`),
    pgpool: pgpool as PgpoolVersion,
    pgpoolFull: version(pool, 'pgpool2'),
  };
}

/** The images the example cluster of version set `set` names (the library's published references). */
export function setImages(set: DebianSuite): { postgres: string; pgpool: string } {
  return { postgres: defaultPostgresImage(SUITES[set].postgresMajor), pgpool: defaultPgpoolImage(SUITES[set].pgpoolSeries) };
}

/** The passwords of one test cluster (random per run, never written into the repository). */
export interface Credentials {
  readonly superuser: string;
  readonly replication: string;
  readonly app: string;
  readonly monitor: string;
  readonly pgpoolKey: string;
}

function randomPassword(): string {
  // Quotes, backslashes and colons would need escaping in .pgpass and pool_passwd; a real
  // operator's passwords may contain them, which the scripts handle, but a test must fail for
  // one reason at a time. The leading '-' is on purpose: a password handed to a tool as an
  // argument must not be read as an option (pg_md5/pg_enc once took "-l..." for one, 1 in 64
  // random passwords, and Pgpool-II could then not log in to any backend).
  return `-${randomBytes(18).toString('base64url')}`;
}

export function credentialsSecret(namespace: string, name: string, credentials: Credentials): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'Opaque',
    stringData: {
      'superuser-password': credentials.superuser,
      'replication-password': credentials.replication,
      'app-password': credentials.app,
      'monitor-password': credentials.monitor,
      'pgpool-key': credentials.pgpoolKey,
    },
  };
}

/**
 * The TLS Secrets the synthesized objects mount, and their CA's Secret, as `npm run credentials`
 * makes them; with `earlier` (what an earlier call returned), re-issued from the same CA, as
 * `npm run credentials -- --renew-tls` does. Empty when TLS is off.
 */
export async function tlsSecrets(objects: object[], earlier?: object[]): Promise<object[]> {
  const made = await secretManifests(objects as never, earlier as never);
  return made.filter((s) => s.type === 'kubernetes.io/tls');
}

/** Pgpool-II children per pod in the test clusters (see synthExampleCluster). */
export const TEST_PGPOOL_CHILDREN = 12;

/** Synthesizes the example chart for the installed versions; returns its objects. */
export function synthExampleCluster(versions: SetVersions, overrides: Partial<PostgresClusterProps> = {}): object[] {
  const outdir = mkdtempSync(join(tmpdir(), 'pgha-cluster-'));
  try {
    const app = new App({ outdir });
    new ExampleClusterChart(app, 'example-cluster', {
      overrides: {
        ...overrides,
        postgres: { majorVersion: versions.postgresMajor, ...overrides.postgres },
        // Sized to the tests, not the product default (32): the most any test opens at once
        // through one Pgpool-II pod is about 8 sessions, and every child is a process that
        // Pgpool-II re-forks on each failover and child_life_time.
        pgpool: { version: versions.pgpool, numInitChildren: TEST_PGPOOL_CHILDREN, ...overrides.pgpool },
      },
    });
    app.synth();
    return loadManifests(outdir);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export interface PsqlOptions {
  readonly database?: string;
  readonly timeoutMs?: number;
}

/** A running example cluster on the local pod runtime. */
export class ExampleCluster {
  /** Clusters started and not stopped yet: what a failing test's diagnosis looks at. */
  static readonly running = new Set<ExampleCluster>();

  readonly namespace = EXAMPLE_NAMESPACE;
  readonly name = EXAMPLE_CLUSTER_NAME;
  readonly pgpoolService = `${EXAMPLE_CLUSTER_NAME}-pgpool`;
  // The five fields below follow the manifests last applied (see apply()).
  /** Pod names of the failover-eligible members, ordinal order. */
  members: string[] = [];
  /** Pod names of every cascading layer, in declaration order. */
  cascades: string[] = [];
  /** Pod name of the witness, when the topology has one. */
  witness?: string;
  /** How many pods the synthesized workloads ask for (StatefulSets and the Deployment). */
  expectedPods = 0;

  private constructor(
    readonly rt: PodRuntime,
    readonly versions: SetVersions,
    readonly credentials: Credentials,
    public objects: object[],
    /** The TLS Secrets and their CA's, as `npm run credentials` made them (empty with TLS off). */
    public tls: object[],
  ) {
    this.describe(objects);
  }

  /**
   * New TLS Secrets for `objects` from the cluster's CA (`npm run credentials -- --renew-tls`),
   * remembered for ssl(); the caller applies them.
   */
  async renewTls(objects: object[] = this.objects): Promise<object[]> {
    const renewed = await tlsSecrets(objects, this.tls);
    const caSecrets = this.tls.filter((s) => (s as { metadata: { name: string } }).metadata.name.endsWith('-ca'));
    this.tls = [...caSecrets, ...renewed];
    return renewed;
  }

  /** Whether the objects last applied require TLS (they mount a TLS Secret). */
  get tlsOn(): boolean {
    return referencedSecrets(this.objects as never).some((s) => s.dnsNames.length > 0);
  }

  /**
   * node-postgres `ssl` options that verify the server as `sslmode=verify-full` does: the
   * cluster's CA, and the host name `host` (a pod's or a Service's; default the Pgpool-II
   * Service's). A port-forward connects to 127.0.0.1, so the name to verify is given apart.
   * Undefined when TLS is off.
   */
  ssl(host = `${this.pgpoolService}.${this.namespace}.svc.cluster.local`): ClientConfig['ssl'] {
    const server = (this.tls as { metadata: { name: string }; stringData: Record<string, string> }[]).find((s) => s.metadata.name === `${this.name}-tls`);
    return this.tlsOn && server ? { ca: server.stringData['ca.crt'], servername: host } : undefined;
  }

  /** The DNS name peers use for pod `pod` of this cluster (as in repmgr.conf and pgpool.conf). */
  podHost(pod: string): string {
    const sts = pod.replace(/-\d+$/, '');
    return `${pod}.${sts}.${this.namespace}.svc.cluster.local`;
  }

  /**
   * Re-synthesizes the example chart with `overrides` and applies it to the running instance,
   * as a user who edits the chart and lets Argo CD sync it would (the runtime's controllers
   * then scale and roll like Kubernetes'). Nothing is pruned: a change of props never drops
   * an object here. Returns the runtime's warnings; does not wait for anything.
   */
  async apply(overrides: Partial<PostgresClusterProps>): Promise<{ object: string; message: string }[]> {
    const objects = synthExampleCluster(this.versions, overrides);
    // A new layer needs a certificate that names it, as a user would re-run `npm run credentials`.
    const before = JSON.stringify(referencedSecrets(this.objects as never).map((s) => s.dnsNames));
    const tls = before === JSON.stringify(referencedSecrets(objects as never).map((s) => s.dnsNames)) ? [] : await this.renewTls(objects);
    const { warnings } = await this.rt.apply([...tls, ...objects]);
    this.objects = objects;
    this.describe(objects);
    return warnings;
  }

  private describe(objects: object[]): void {
    // Derive the pod names from what was synthesized, so one harness serves every topology.
    const workloads = (objects as any[]).filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
    const podsOf = (sts: any) => Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}`);
    const component = (o: any) => o.spec.selector.matchLabels['app.kubernetes.io/component'] as string;
    this.members = workloads.filter((o) => component(o) === 'member').flatMap(podsOf);
    this.cascades = workloads.filter((o) => component(o).startsWith('cascade-')).flatMap(podsOf);
    this.witness = workloads.filter((o) => component(o) === 'witness').flatMap(podsOf)[0];
    this.expectedPods = workloads.reduce((sum, o) => sum + o.spec.replicas, 0);
  }

  /**
   * Starts a fresh runtime instance and applies the example cluster to it (does not wait for
   * readiness). Always pair with {@link stop}, also when a test fails.
   */
  static async start(instance: string, overrides: Partial<PostgresClusterProps> = {}): Promise<ExampleCluster> {
    const versions = setVersions();
    const credentials: Credentials = {
      superuser: randomPassword(),
      replication: randomPassword(),
      app: randomPassword(),
      monitor: randomPassword(),
      pgpoolKey: randomPassword(),
    };
    const objects = synthExampleCluster(versions, overrides);
    const secret = credentialsSecret(EXAMPLE_NAMESPACE, `${EXAMPLE_CLUSTER_NAME}-credentials`, credentials);
    const tls = await tlsSecrets(objects);
    const rt = await PodRuntime.start({ instance, backoffBaseSeconds: 1, backoffMaxSeconds: BACKOFF_MAX_S, namespace: EXAMPLE_NAMESPACE });
    const cluster = new ExampleCluster(rt, versions, credentials, objects, tls);
    cluster.instance = instance;
    ExampleCluster.running.add(cluster);
    const namespaceFirst = [...objects.filter((o: any) => o.kind === 'Namespace'), secret, ...tls, ...objects.filter((o: any) => o.kind !== 'Namespace')];
    const { warnings } = await rt.apply(namespaceFirst);
    cluster.applyWarnings = warnings;
    return cluster;
  }

  /** What the runtime reported as not implemented when the manifests were applied. */
  applyWarnings: { object: string; message: string }[] = [];

  /** The runtime instance this cluster runs on. */
  instance = '';

  async stop(): Promise<string[]> {
    ExampleCluster.running.delete(this);
    return this.rt.down();
  }

  /**
   * What a failed test needs to be diagnosed without a rerun: the runtime's last events (pod
   * deletions, starts, probe verdicts, faults) and every pod's last entrypoint lines.
   */
  async diagnosis(events = 80, linesPerPod = 40): Promise<string> {
    const out: string[] = [`==== diagnosis of runtime instance ${this.instance} (${new Date().toISOString()})`];
    try {
      const all = readFileSync(`${stateDir(this.instance)}/events.log`, 'utf8').trimEnd().split('\n');
      out.push(`---- last ${Math.min(events, all.length)} of ${all.length} runtime events`, ...all.slice(-events));
    } catch (error) {
      out.push(`---- runtime events unavailable: ${String(error)}`);
    }
    const pods = await this.rt.pods(undefined, this.namespace).catch(() => [] as any[]);
    for (const p of pods) {
      // A container the kubelet restarted (a failed liveness probe) took the lines that explain
      // why with it: its previous instance's log comes first.
      const previous = p.restarts > 0 ? await this.rt.logs(p.name, { namespace: this.namespace, previous: true }).catch((e) => String(e)) : '';
      const log = previous + (await this.rt.logs(p.name, { namespace: this.namespace }).catch((e) => String(e)));
      const lines = log.split('\n').filter((l) => /entrypoint: |FATAL|PANIC/.test(l));
      out.push(`---- ${p.name} (ready=${p.ready}, deleting=${p.deleting}): last ${Math.min(linesPerPod, lines.length)} entrypoint lines`, ...lines.slice(-linesPerPod));
    }
    return out.join('\n');
  }

  /** Waits until every PostgreSQL and Pgpool-II pod is Ready; returns the elapsed ms. */
  async waitAllReady(timeoutMs = BOUNDS.allReadyMs): Promise<number> {
    const start = Date.now();
    const deadline = start + timeoutMs;
    const expected = this.expectedPods;
    await this.rt.waitFor(
      async () => {
        const pods = await this.rt.pods(undefined, this.namespace);
        const ready = pods.filter((p) => p.ready);
        return ready.length >= expected ? ready : undefined;
      },
      { timeoutMs: Math.max(1, deadline - Date.now()), intervalMs: 500, what: `${expected} Ready pods in ${this.namespace}` },
    );
    return Date.now() - start;
  }

  /** psql as the superuser on a pod's local socket (peer authentication, as an operator would). */
  async psql(pod: string, sql: string, options: PsqlOptions = {}): Promise<string> {
    const result = await this.exec(pod, ['psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '/var/run/postgresql', '-U', 'postgres', '-d', options.database ?? 'postgres', '-c', sql], options.timeoutMs);
    if (result.code !== 0) {
      throw new Error(`psql on ${pod} failed (${result.code}): ${result.stderr.trim()}\nSQL: ${sql}`);
    }
    return result.stdout.trim();
  }

  async exec(pod: string, argv: string[], timeoutMs = 60_000): Promise<ExecResult> {
    const container = pod.includes('pgpool') ? 'pgpool' : 'postgres';
    // The runtime kills the exec on timeout; the race is a second guard so that an exec into a
    // pod that is being torn down or recreated can never hang a test.
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<ExecResult>((resolve) => {
      timer = setTimeout(() => resolve({ code: 124, stdout: '', stderr: `exec in ${pod} did not finish in ${timeoutMs + 5000} ms` }), timeoutMs + 5000);
    });
    try {
      return await Promise.race([this.rt.exec(pod, container, argv, { timeoutMs, namespace: this.namespace }), guard]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The member that is primary now (the one not in recovery), or undefined. */
  async primary(): Promise<string | undefined> {
    for (const pod of this.members) {
      try {
        if ((await this.psql(pod, 'SELECT pg_is_in_recovery()', { timeoutMs: 10_000 })) === 'f') {
          return pod;
        }
      } catch {
        // Not running or not reachable: not the primary.
      }
    }
    return undefined;
  }

  /** Names of the current Pgpool-II pods. */
  async pgpoolPods(): Promise<string[]> {
    const pods = await this.rt.pods({ 'app.kubernetes.io/component': 'pgpool' }, this.namespace);
    return pods.map((p) => p.name).sort();
  }

  /**
   * Opens a port-forward to the Pgpool-II Service (or one pod with `pod/NAME`) and returns a
   * client config for the application user; close the handle when done.
   */
  async forward(target = `svc/${this.pgpoolService}`): Promise<{ config: ClientConfig; close: () => Promise<void> }> {
    const handle = await this.rt.portForward(target, 5432, { namespace: this.namespace });
    return {
      config: {
        host: handle.host,
        port: handle.port,
        user: 'app',
        password: this.credentials.app,
        database: 'app',
        connectionTimeoutMillis: 15_000,
        // Never hang a test on a silent peer.
        query_timeout: 30_000,
        // A pod of the Pgpool-II Deployment serves the same certificate as its Service.
        ssl: this.ssl(),
      },
      close: handle.close,
    };
  }

  /** Connects a node-postgres client with `config`, retrying for `windowMs` (the stated client retry policy). */
  static async connectWithRetry(config: ClientConfig, windowMs: number): Promise<{ client: Client; attempts: number; elapsedMs: number }> {
    const start = Date.now();
    let attempts = 0;
    let lastError: unknown;
    while (Date.now() - start <= windowMs) {
      attempts++;
      const client = new Client(config);
      try {
        await client.connect();
        return { client, attempts, elapsedMs: Date.now() - start };
      } catch (error) {
        lastError = error;
        // Never await end() after a failed connect: node-postgres never settles it then.
        client.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`could not connect within ${windowMs} ms after ${attempts} attempts: ${String(lastError)}`);
  }
}
