/**
 * The repository's example cluster (3 members, one cascading layer of 2, 2 Pgpool-II replicas),
 * synthesized for the versions installed here and run on the local pod runtime with the real
 * PostgreSQL, repmgr and Pgpool-II binaries. Every assertion uses a real client: psql inside
 * the pods, node-postgres through the Pgpool-II Service.
 */
import { Client, type ClientConfig } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { clusterForksPerSecond, describeIdle, designedIdleForksPerSecond, measureIdle } from './idle';
import { waitConverged } from './lifecycle';

/**
 * The idle budget: the settled example cluster, with no client, may create at most what its
 * design needs (designedIdleForksPerSecond: repmgrd's and Pgpool-II's checks, the supervision
 * passes, autovacuum) plus a half: a doubling fails it. Counted inside
 * the pods (each pod's PID namespace), so whatever else runs on the machine does not count; the
 * machine-wide figures are printed beside. The design needs about
 * 20/s; less would mean detecting failures later (bench/README.md, "idle").
 */
const IDLE_WINDOW_SECONDS = 30;

let cluster: ExampleCluster;
let bootstrapMs = 0;

beforeAll(async () => {
  cluster = await ExampleCluster.start('cluster-e2e');
  try {
    bootstrapMs = await cluster.waitAllReady();
    // Ready pods are not yet a settled cluster: a Pgpool-II that started before a standby
    // answered re-attaches it a few seconds later, and that failback event ends the sessions
    // open at the time. The tests start from the settled state.
    const settle = Date.now();
    await waitConverged(cluster);
    console.log(`converged (Pgpool-II shows every backend up) ${((Date.now() - settle) / 1000).toFixed(1)} s after all pods were Ready`);
  } catch (error) {
    for (const pod of [...cluster.members, ...cluster.cascades, ...(await cluster.pgpoolPods())]) {
      console.log(`---- logs of ${pod}\n${(await cluster.rt.logs(pod, { namespace: cluster.namespace })).slice(-4000)}`);
    }
    throw error;
  }
  console.log(
    `example cluster Ready in ${(bootstrapMs / 1000).toFixed(1)} s on ${cluster.versions.postgresFull}, ` +
      `${cluster.versions.repmgr}, ${cluster.versions.pgpoolFull}`,
  );
});

afterAll(async () => {
  if (cluster) {
    const leftovers = await cluster.stop();
    expect(leftovers).toEqual([]);
  }
});

describe('GIVEN the example cluster applied to the pod runtime', () => {
  it(`WHEN it is left idle for ${IDLE_WINDOW_SECONDS} s THEN its pods create no more processes per second than its design needs`, async () => {
    const designed = designedIdleForksPerSecond(cluster.objects);
    const budget = designed.total * 1.5;
    const podsOf = async () =>
      (await cluster.rt.pods(undefined, cluster.namespace)).filter((p) => p.containers[0]?.pid).map((p) => ({ name: p.name as string, pid: p.containers[0].pid as number }));
    const [inPods, machine] = await Promise.all([clusterForksPerSecond(podsOf, IDLE_WINDOW_SECONDS), measureIdle(IDLE_WINDOW_SECONDS)]);
    console.log(
      `idle example cluster: ${inPods.perSecond.toFixed(1)} new processes/s inside its ${inPods.pods} pods (budget ${budget.toFixed(1)}/s from the design's ` +
        `${designed.total.toFixed(1)}/s: ${Object.entries(designed.parts).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}); machine-wide ${describeIdle(machine)}`,
    );
    expect(inPods.restarted).toEqual([]);
    expect(inPods.perSecond).toBeLessThanOrEqual(budget);
  }, (IDLE_WINDOW_SECONDS + 30) * 1000);

  it('THEN ordinal 0 is the primary and every standby streams, checked apart from our probes', async () => {
    const primary = await cluster.primary();
    expect(primary).toBe(cluster.members[0]);
    // pg_stat_replication on the primary: both member standbys, streaming.
    const onPrimary = (await cluster.psql(primary!, "SELECT application_name || ':' || state FROM pg_stat_replication ORDER BY 1"))
      .split('\n')
      .filter(Boolean);
    expect(onPrimary).toEqual([`${cluster.members[1]}:streaming`, `${cluster.members[2]}:streaming`]);
    // Each cascading node streams from a member standby, and that standby shows it streaming.
    for (const cascade of cluster.cascades) {
      const upstream = await cluster.psql(cascade, "SELECT split_part(split_part(conninfo, 'host=', 2), '.', 1) FROM pg_stat_wal_receiver");
      expect(cluster.members.slice(1)).toContain(upstream);
      const state = await cluster.psql(upstream, `SELECT state FROM pg_stat_replication WHERE application_name = '${cascade}'`);
      expect(state).toBe('streaming');
    }
    console.log(`bootstrap: all ${cluster.members.length + cluster.cascades.length + 2} pods Ready after ${(bootstrapMs / 1000).toFixed(1)} s`);
  });

  it('WHEN the application writes through the Pgpool-II Service THEN the row is on every member and cascading node', async () => {
    const forward = await cluster.forward();
    const client = new Client(forward.config);
    try {
      await client.connect();
      await client.query('CREATE TABLE IF NOT EXISTS e2e_orders (id int PRIMARY KEY, note text)');
      const { rows } = await client.query(
        "INSERT INTO e2e_orders VALUES (1, 'first') RETURNING host(inet_server_addr()) AS server, pg_is_in_recovery() AS standby",
      );
      expect(rows[0].standby).toBe(false);
    } finally {
      await client.end();
      await forward.close();
    }
    for (const pod of [...cluster.members, ...cluster.cascades]) {
      await cluster.rt.waitFor(
        async () => (await cluster.psql(pod, 'SELECT note FROM e2e_orders WHERE id = 1', { database: 'app' })) === 'first',
        { timeoutMs: 30_000, what: `row visible on ${pod}` },
      );
    }
  });

  it('THEN repmgr cluster show lists every node with the right upstream, cascades under member standbys', async () => {
    const show = await cluster.exec(cluster.members[0], ['repmgr', '-f', '/run/pgha/repmgr.conf', 'cluster', 'show', '--csv']);
    expect(show.code, show.stderr).toBe(0);
    const nodes = await cluster.psql(
      cluster.members[0],
      "SELECT n.node_name || ' ' || n.type || ' ' || coalesce(u.node_name, '-') || ' ' || n.active FROM repmgr.nodes n LEFT JOIN repmgr.nodes u ON u.node_id = n.upstream_node_id ORDER BY n.node_id",
      { database: 'repmgr' },
    );
    const rows = nodes.split('\n').map((line) => line.split(' '));
    expect(rows.map((r) => r[0])).toEqual([...cluster.members, ...cluster.cascades]);
    expect(rows[0]).toEqual([cluster.members[0], 'primary', '-', 'true']);
    expect(rows[1]).toEqual([cluster.members[1], 'standby', cluster.members[0], 'true']);
    expect(rows[2]).toEqual([cluster.members[2], 'standby', cluster.members[0], 'true']);
    for (const row of rows.slice(3)) {
      expect(row[1]).toBe('standby');
      expect(cluster.members.slice(1)).toContain(row[2]);
    }
  });
});

/** Connects with `config`, expecting a refusal; returns the server's message and detail. */
async function connectionError(config: ClientConfig): Promise<string> {
  const client = new Client(config);
  try {
    await client.connect();
  } catch (error) {
    // node-postgres' end() never settles after a refused connect: the socket is already closed.
    const e = error as { message: string; detail?: string; hint?: string };
    return [e.message, e.detail, e.hint].filter(Boolean).join(' | ');
  }
  await client.end();
  throw new Error(`connecting as ${config.user} to ${config.database} was accepted`);
}

/** Maps each pod's current address to its name, for inet_server_addr(). */
async function podsByAddress(): Promise<Map<string, string>> {
  const pods = await cluster.rt.pods(undefined, cluster.namespace);
  return new Map(pods.filter((p) => p.ip).map((p) => [p.ip as string, p.name as string]));
}

describe('GIVEN a read-only workload of several clients through Pgpool-II', () => {
  it('THEN the standbys serve most reads, each a fair share, and a write transaction stays on the primary', async () => {
    const forward = await cluster.forward();
    const addresses = await podsByAddress();
    const perServer = new Map<string, number>();
    // Each session lands on one of three equal weights, so a standby's share of sessions is
    // binomial (n = 144, p = 1/3: mean 48, sd 5.7); the 15% floor below is 22 sessions, 4.6 sd
    // under the mean (a false alarm once in ~500,000 runs). With 48 sessions it was 2.6 sd
    // (about 1 in 100 runs per standby).
    const sessions = 144;
    const queriesPerSession = 2;
    const clients = 6;
    try {
      // Session-level balancing picks a node per session, so many short sessions are what a
      // web application's pool does over time; run them from 6 concurrent clients.
      await Promise.all(
        Array.from({ length: clients }, async () => {
          for (let s = 0; s < sessions / clients; s++) {
            const client = new Client(forward.config);
            await client.connect();
            try {
              for (let q = 0; q < queriesPerSession; q++) {
                const { rows } = await client.query('SELECT host(inet_server_addr()) AS server');
                const pod = addresses.get(rows[0].server) ?? rows[0].server;
                perServer.set(pod, (perServer.get(pod) ?? 0) + 1);
              }
            } finally {
              await client.end();
            }
          }
        }),
      );
      const total = sessions * queriesPerSession;
      const primary = (await cluster.primary())!;
      const standbys = cluster.members.filter((m) => m !== primary);
      const onStandbys = standbys.reduce((sum, s) => sum + (perServer.get(s) ?? 0), 0);
      console.log(`reads per server (${total} queries, ${sessions} sessions): ${JSON.stringify(Object.fromEntries(perServer))}`);
      expect([...perServer.keys()].every((k) => cluster.members.includes(k))).toBe(true);
      expect(onStandbys / total).toBeGreaterThan(0.5);
      for (const standby of standbys) {
        // A fair share of three equal weights is a third; the band is for randomness (above).
        expect((perServer.get(standby) ?? 0) / total).toBeGreaterThan(0.15);
      }

      const client = new Client(forward.config);
      await client.connect();
      try {
        const nodes = await client.query('SHOW pool_nodes');
        console.log(`SHOW pool_nodes:\n${nodes.rows.map((r) => `${r.hostname} ${r.status} ${r.role} select_cnt=${r.select_cnt}`).join('\n')}`);
        await client.query('BEGIN');
        await client.query("INSERT INTO e2e_orders VALUES (2, 'in a transaction')");
        const { rows } = await client.query('SELECT host(inet_server_addr()) AS server, pg_is_in_recovery() AS standby');
        await client.query('COMMIT');
        expect(rows[0].standby).toBe(false);
        expect(addresses.get(rows[0].server)).toBe(primary);
      } finally {
        await client.end();
      }
    } finally {
      await forward.close();
    }
  });
});

describe('GIVEN the application user', () => {
  it('THEN it is not a superuser, cannot replicate, create roles or open the repmgr database', async () => {
    const forward = await cluster.forward();
    try {
      const client = new Client(forward.config);
      await client.connect();
      try {
        const { rows } = await client.query('SELECT rolsuper, rolreplication, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user');
        expect(rows[0]).toEqual({ rolsuper: false, rolreplication: false, rolcreaterole: false, rolcreatedb: false });
        await expect(client.query('CREATE ROLE intruder LOGIN')).rejects.toThrow(/permission denied/);
      } finally {
        await client.end();
      }
      const refusal = await connectionError({ ...forward.config, database: 'repmgr' });
      console.log(`app user opening the repmgr database: ${refusal}`);
      expect(refusal).toMatch(/authentication failed|rejected|pool_hba/i);
    } finally {
      await forward.close();
    }
    // A replication connection straight to the primary is refused for the application role.
    const direct = await cluster.rt.portForward(`pod/${cluster.members[0]}`, 5432, { namespace: cluster.namespace });
    try {
      const replication = new Client({
        host: direct.host,
        port: direct.port,
        user: 'app',
        password: cluster.credentials.app,
        database: 'app',
        replication: 'database',
        ssl: cluster.ssl(cluster.podHost(cluster.members[0])),
      } as never);
      await expect(replication.connect()).rejects.toThrow(/replication|WAL sender/i); // PostgreSQL 18: "permission denied to start WAL sender"
    } finally {
      await direct.close();
    }
  });

  it('WHEN it logs in with a wrong password THEN Pgpool-II refuses with a clear error', async () => {
    const forward = await cluster.forward();
    try {
      const refusal = await connectionError({ ...forward.config, password: 'not-the-password' });
      console.log(`wrong password: ${refusal}`);
      expect(refusal).toMatch(/password authentication failed for user "app"|authentication failed/);
    } finally {
      await forward.close();
    }
  });
});

describe('GIVEN the roles that are not the application', () => {
  it("WHEN the repmgr role logs into the application database with its own password THEN PostgreSQL and Pgpool-II reject it by name", async () => {
    const direct = await cluster.rt.portForward(`pod/${cluster.members[0]}`, 5432, { namespace: cluster.namespace });
    try {
      const asRepmgr = { host: direct.host, port: direct.port, user: 'repmgr', password: cluster.credentials.replication, ssl: cluster.ssl(cluster.podHost(cluster.members[0])) };
      const refusal = await connectionError({ ...asRepmgr, database: 'app' });
      console.log(`repmgr role opening the application database on a member: ${refusal}`);
      expect(refusal).toMatch(/pg_hba\.conf rejects connection .*user "repmgr", database "app"/);
      // The same role and password into its own database is let in: the refusal is the reject line.
      const own = new Client({ ...asRepmgr, database: 'repmgr' });
      await own.connect();
      try {
        expect((await own.query('SELECT current_user AS u')).rows[0].u).toBe('repmgr');
      } finally {
        await own.end();
      }
    } finally {
      await direct.close();
    }
    const forward = await cluster.forward();
    try {
      const refusal = await connectionError({ ...forward.config, user: 'repmgr', password: cluster.credentials.replication });
      console.log(`repmgr role opening the application database through Pgpool-II: ${refusal}`);
      expect(refusal).toMatch(/rejected|pool_hba/i);
    } finally {
      await forward.close();
    }
  });

  it("WHEN PCP is asked with the monitor's password THEN it refuses: PCP has its own credential, made in the pod at start, which the pod's scripts use", async () => {
    const [pod] = await cluster.pgpoolPods();
    const asMonitor = await cluster.exec(pod, ['bash', '-c', `umask 077; printf '*:*:monitor:%s\\n' "$0" >/run/pgpool/test-pcppass; PCPPASSFILE=/run/pgpool/test-pcppass pcp_node_count -h /run/pgpool -p 9898 -U monitor -w; rc=$?; rm -f /run/pgpool/test-pcppass; exit $rc`, cluster.credentials.monitor], 30_000);
    console.log(`pcp_node_count as monitor: exit ${asMonitor.code}: ${asMonitor.stderr.trim()}`);
    expect(asMonitor.code).not.toBe(0);
    expect(asMonitor.stderr).toMatch(/authentication failed|invalid password|authentication/i);
    const asPcp = await cluster.exec(pod, ['bash', '-c', 'PCPPASSFILE=/run/pgpool/.pcppass pcp_node_count -h /run/pgpool -p 9898 -U pcp -w'], 30_000);
    expect(asPcp.code).toBe(0);
    expect(Number(asPcp.stdout.trim())).toBe(cluster.members.length);
  });
});

describe('GIVEN every rendered config file', () => {
  it('THEN PostgreSQL reports no errors in postgresql.conf or pg_hba.conf and SHOW returns the intended values', async () => {
    for (const pod of [...cluster.members, ...cluster.cascades]) {
      expect(await cluster.psql(pod, 'SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL')).toBe('0');
      expect(await cluster.psql(pod, 'SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL')).toBe('0');
      const settings = await cluster.psql(
        pod,
        "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE name IN ('max_connections','wal_level','hot_standby','hot_standby_feedback','wal_log_hints','shared_preload_libraries','password_encryption','listen_addresses','synchronous_standby_names')",
      );
      expect(settings).toBe(
        'hot_standby=on,hot_standby_feedback=on,listen_addresses=*,max_connections=250,password_encryption=scram-sha-256,' +
          'shared_preload_libraries=repmgr,synchronous_standby_names=,wal_level=replica,wal_log_hints=on',
      );
    }
  });

  it('THEN repmgr node check passes on every node', async () => {
    for (const pod of [...cluster.members, ...cluster.cascades]) {
      const check = await cluster.exec(pod, ['repmgr', '-f', '/run/pgha/repmgr.conf', 'node', 'check']);
      expect(check.code, `${pod}: ${check.stdout}${check.stderr}`).toBe(0);
    }
  });

  it("THEN Pgpool-II's SHOW pool_status matches its rendered pgpool.conf", async () => {
    const rendered = (cluster.objects as any[]).find((o) => o.kind === 'ConfigMap' && o.metadata.name === `${cluster.name}-pgpool-config`)
      .data['pgpool.conf'] as string;
    const conf = new Map(
      rendered
        .split('\n')
        .filter((l) => /^\w+ = /.test(l))
        .map((l) => {
          const [key, value] = l.split(' = ');
          return [key, value.replace(/^'(.*)'$/, '$1')] as const;
        }),
    );
    const forward = await cluster.forward();
    const client = new Client(forward.config);
    try {
      await client.connect();
      const { rows } = await client.query('SHOW pool_status');
      const live = new Map(rows.map((r) => [r.item as string, String(r.value)]));
      // SHOW pool_status prints booleans as 0/1 and enums by number (pool_config.h:
      // DLBOW_OFF = 1, DLBOW_TRANSACTION = 2, ...).
      const enums: Record<string, string> = { transaction: '2' };
      const asShown = (v: string) => (v === 'on' ? '1' : v === 'off' ? '0' : (enums[v] ?? v));
      const compared = ['num_init_children', 'max_pool', 'load_balance_mode', 'health_check_period', 'sr_check_period', 'sr_check_user',
        'health_check_user', 'auto_failback', 'detach_false_primary', 'search_primary_node_timeout', 'failover_on_backend_error',
        'backend_hostname0', 'backend_hostname1', 'backend_hostname2', 'backend_application_name0', 'delay_threshold', 'connection_cache',
        'enable_pool_hba', 'statement_level_load_balance', 'disable_load_balance_on_write'];
      const mismatches = compared.filter((key) => live.has(key) && asShown(conf.get(key)!) !== live.get(key));
      expect(mismatches.map((k) => `${k}: rendered ${conf.get(k)} live ${live.get(k)}`)).toEqual([]);
      // Every compared key must be shown, or the comparison proves nothing.
      expect(compared.filter((key) => !live.has(key))).toEqual([]);
    } finally {
      await client.end();
      await forward.close();
    }
  });
});

describe('GIVEN two Pgpool-II pods', () => {
  it('WHEN one is killed THEN sessions on the other continue and new connections succeed within the retry window', async () => {
    const [victim, survivor] = await cluster.pgpoolPods();
    const onSurvivor = await cluster.forward(`pod/${survivor}`);
    const client = new Client(onSurvivor.config);
    await client.connect();
    try {
      await client.query('SELECT 1');
      await cluster.rt.killPod(victim);
      // The session on the other pod is unaffected.
      const { rows } = await client.query("SELECT note FROM e2e_orders WHERE id = 1");
      expect(rows[0].note).toBe('first');
      // New sessions through the Service: stated client retry policy = retry every 250 ms for 15 s.
      const forward = await cluster.forward();
      try {
        const retryWindowMs = 15_000;
        const times: number[] = [];
        for (let i = 0; i < 10; i++) {
          const { client: fresh, elapsedMs } = await ExampleCluster.connectWithRetry(forward.config, retryWindowMs);
          times.push(elapsedMs);
          await fresh.query('SELECT 1');
          await fresh.end();
        }
        console.log(`after killing ${victim}: 10 new sessions through the Service, connect times (ms incl. retries) ${times.join(', ')}`);
      } finally {
        await forward.close();
      }
    } finally {
      await client.end();
      await onSurvivor.close();
    }
    await cluster.rt.waitReady('app.kubernetes.io/component=pgpool', { count: 2, namespace: cluster.namespace, timeoutMs: BOUNDS.pgpoolReplacementMs });
  });
});

describe('GIVEN the cascading layer and its read Service', () => {
  it('THEN reads through <cluster>-replica-ro land on cascading nodes, and a killed cascading pod returns to it streaming', async () => {
    const readService = `svc/${cluster.name}-replica-ro`;
    const addresses = await podsByAddress();
    const forward = await cluster.forward(readService);
    try {
      const client = new Client(forward.config);
      await client.connect();
      try {
        const { rows } = await client.query('SELECT host(inet_server_addr()) AS server, pg_is_in_recovery() AS standby');
        expect(rows[0].standby).toBe(true);
        expect(cluster.cascades).toContain(addresses.get(rows[0].server));
      } finally {
        await client.end();
      }
    } finally {
      await forward.close();
    }

    const victim = cluster.cascades[0];
    const before = await cluster.rt.pod(victim, cluster.namespace);
    await cluster.rt.killPod(victim);
    await cluster.rt.waitGone(victim, { namespace: cluster.namespace, uid: before.uid, timeoutMs: 60_000 });
    await cluster.rt.waitReady(victim, { namespace: cluster.namespace, timeoutMs: BOUNDS.nodeReplacementMs });
    // Back in the read Service's endpoints, streaming again, with data written meanwhile.
    const services = await cluster.rt.get('services', { namespace: cluster.namespace });
    const ro = services.find((s) => s.name === `${cluster.name}-replica-ro`);
    expect(ro.endpoints.map((e: { pod: string }) => e.pod)).toContain(victim);
    expect(await cluster.psql(victim, 'SELECT status FROM pg_stat_wal_receiver')).toBe('streaming');
    expect(await cluster.psql(victim, 'SELECT count(*) > 0 FROM e2e_orders', { database: 'app' })).toBe('t');
  });
});

describe('GIVEN TLS on every hop, with a certificate from the cluster CA', () => {
  /** The serial number of the certificate a new TLS session to `pod` (PostgreSQL or Pgpool-II) is served. */
  const servedSerial = async (pod: string, servername: string): Promise<string> => {
    const fwd = await cluster.rt.portForward(`pod/${pod}`, 5432, { namespace: cluster.namespace });
    const client = new Client({ host: fwd.host, port: fwd.port, user: 'app', password: cluster.credentials.app, database: 'app', ssl: cluster.ssl(servername), connectionTimeoutMillis: 15_000 });
    try {
      await client.connect();
      return (client as unknown as { connection: { stream: { getPeerCertificate(): { serialNumber: string } } } }).connection.stream.getPeerCertificate().serialNumber;
    } finally {
      await client.end().catch(() => undefined);
      await fwd.close();
    }
  };

  it('WHEN the TLS Secret is renewed THEN every PostgreSQL pod serves the new certificate after a reload, with no restart and no change of primary, a session opened before keeps working, and each Pgpool-II pod says when it will serve it', async () => {
    expect(cluster.tlsOn).toBe(true);
    const primary = (await cluster.primary())!;
    const pods = [...cluster.members, ...cluster.cascades];
    const before = await servedSerial(primary, cluster.podHost(primary));
    const restartsBefore = new Map((await cluster.rt.pods(undefined, cluster.namespace)).map((p) => [p.name, p.restarts]));
    const forward = await cluster.forward();
    // The stated client retry policy: a Pgpool-II pod replaced by an earlier test may still be joining.
    const { client: open, attempts } = await ExampleCluster.connectWithRetry({ ...forward.config, connectionTimeoutMillis: 5_000 }, 30_000);
    console.log(`TLS renewal: primary ${primary} served serial ${before}; a session through Pgpool-II opened after ${attempts} attempt(s)`);
    try {
      const renewedAt = Date.now();
      const renewed = await cluster.renewTls();
      // Only the server certificate changes: the CA, which clients verify with, is kept.
      expect(renewed.map((s) => (s as { metadata: { name: string } }).metadata.name)).toEqual([`${cluster.name}-tls`]);
      await cluster.rt.apply(renewed);
      const loaded = new Set<string>();
      await cluster.rt.waitFor(
        async () => {
          for (const pod of pods) {
            if (!loaded.has(pod) && /TLS: the Secret was renewed; the new certificate is loaded/.test(await cluster.rt.logs(pod, { namespace: cluster.namespace }))) loaded.add(pod);
          }
          return loaded.size === pods.length ? true : undefined;
        },
        { timeoutMs: BOUNDS.steadyWriteMs * 4, intervalMs: 1000, what: `every PostgreSQL pod loading the renewed certificate (${loaded.size} of ${pods.length})` },
      );
      const after = await servedSerial(primary, cluster.podHost(primary));
      console.log(`TLS renewal: every PostgreSQL pod reloaded within ${Date.now() - renewedAt} ms; primary ${primary} served serial ${before}, now ${after}`);
      expect(after).not.toBe(before);
      expect((await open.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      expect(await cluster.primary()).toBe(primary);
      for (const p of await cluster.rt.pods(undefined, cluster.namespace)) expect(p.restarts, p.name).toBe(restartsBefore.get(p.name));
      const pgpools = await cluster.pgpoolPods();
      await cluster.rt.waitFor(
        async () => {
          const said = await Promise.all(pgpools.map(async (pod) => /TLS: the Secret was renewed; Pgpool-II serves the new certificate from its next start/.test(await cluster.rt.logs(pod, { namespace: cluster.namespace }))));
          return said.every(Boolean) ? true : undefined;
        },
        { timeoutMs: BOUNDS.steadyWriteMs * 2, intervalMs: 1000, what: 'every Pgpool-II pod saying when it serves the renewed certificate' },
      );
    } finally {
      await open.end().catch(() => undefined);
      await forward.close();
    }
  });
});
