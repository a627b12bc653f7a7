/**
 * The pure renderers (lib/render), tested from resolved models without cdk8s: every rendered
 * file is parsed back (`key = value` lines, hba columns) and the parsed values are asserted.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import type { PostgresClusterProps } from '../../lib/model/props';
import { resolveCluster } from '../../lib/model/resolve-cluster';
import { membersOf, podHost, type ResolvedCluster } from '../../lib/model/resolved';
import { SUPPORTED_PGPOOL_VERSIONS, SUPPORTED_POSTGRES_MAJORS, type PgpoolVersion } from '../../lib/model/versions';
import { formatConfValue, quoteConfString, renderConf } from '../../lib/render/conf-format';
import { NODE_PATHS, PGPOOL_PATHS } from '../../lib/render/paths';
import { renderPgHbaConf } from '../../lib/render/pg-hba-conf';
import { renderPgpoolConf } from '../../lib/render/pgpool-conf';
import { renderPoolHbaConf } from '../../lib/render/pool-hba-conf';
import { renderPostgresqlConf, synchronousStandbyNames } from '../../lib/render/postgresql-conf';
import { renderRepmgrConf } from '../../lib/render/repmgr-conf';
import { parseConf, parseConfRaw, parseHba, REPO_ROOT } from './helpers';

function model(props: PostgresClusterProps = {}, namespace = 'db'): ResolvedCluster {
  return resolveCluster(props, 'c', namespace);
}

/** A DNS name or anything that is not an IP range: what pg_hba must never match peers by. */
function isAddressRange(value: string): boolean {
  return /^[0-9a-fA-F.:]+\/\d+$/.test(value);
}

describe('conf format: GIVEN a value WHEN formatted THEN it is a valid conf literal', () => {
  it('strings are single-quoted with quotes doubled and backslashes escaped', () => {
    expect(quoteConfString("it's")).toBe("'it''s'");
    expect(quoteConfString("''")).toBe("''''''");
    expect(quoteConfString('C:\\x')).toBe("'C:\\\\x'");
    expect(formatConfValue('')).toBe("''");
  });

  it('booleans are on/off and numbers are bare', () => {
    expect(formatConfValue(true)).toBe('on');
    expect(formatConfValue(false)).toBe('off');
    expect(formatConfValue(0)).toBe('0');
    expect(formatConfValue(-1)).toBe('-1');
    expect(formatConfValue(1.5)).toBe('1.5');
  });

  it('multi-line strings and non-finite numbers are refused (they would inject settings)', () => {
    expect(() => quoteConfString('a\nssl = on')).toThrow(/one line/);
    expect(() => quoteConfString('a\rb')).toThrow(/one line/);
    expect(() => quoteConfString('a\0b')).toThrow(/one line/);
    expect(() => formatConfValue(Infinity)).toThrow(/finite/);
    expect(() => formatConfValue(NaN)).toThrow(/finite/);
  });

  it('renderConf writes a commented header, titled sections, skips empty ones and ends with a newline', () => {
    const text = renderConf(['head'], [
      { title: 'A', settings: [['a', 1]] },
      { title: 'Empty', settings: [] },
      { title: 'B', settings: [['b', 'x']] },
    ]);
    expect(text).toBe("# head\n\n# A\na = 1\n\n# B\nb = 'x'\n");
  });
});

describe('postgresql.conf: GIVEN a resolved cluster WHEN rendered THEN every node gets the replication settings', () => {
  const conf = parseConf(renderPostgresqlConf(model()));

  it.each([
    ['listen_addresses', '*'],
    ['port', '5432'],
    ['unix_socket_directories', NODE_PATHS.sockets],
    ['hba_file', '/etc/pgha/config/pg_hba.conf'],
    ['max_connections', '250'],
    ['superuser_reserved_connections', '3'],
    ['password_encryption', 'scram-sha-256'],
    ['tcp_keepalives_idle', '10'],
    ['tcp_keepalives_interval', '5'],
    ['tcp_keepalives_count', '3'],
    ['wal_level', 'replica'],
    ['max_wal_senders', '10'],
    ['max_replication_slots', '10'],
    ['hot_standby', 'on'],
    ['hot_standby_feedback', 'on'],
    ['wal_log_hints', 'on'],
    ['wal_keep_size', '512MB'],
    ['max_slot_wal_keep_size', '4GB'],
    ['wal_sender_timeout', '10s'],
    ['wal_receiver_timeout', '10s'],
    ['wal_retrieve_retry_interval', '1s'],
    ['synchronous_standby_names', ''],
    ['shared_preload_libraries', 'repmgr'],
    ['log_destination', 'stderr'],
    ['logging_collector', 'off'],
    ['log_replication_commands', 'off'],
  ])('%s = %s', (key, value) => {
    expect(conf.get(key)).toBe(value);
  });

  it('the hba_file is the pg_hba.conf of the mounted config directory', () => {
    expect(conf.get('hba_file')).toBe(`${NODE_PATHS.config}/pg_hba.conf`);
  });

  it('max_connections follows postgres.maxConnections', () => {
    expect(parseConf(renderPostgresqlConf(model({ postgres: { maxConnections: 600 } }))).get('max_connections')).toBe('600');
  });

  it('max_wal_senders and max_replication_slots grow with the standbys (members + cascades + 4, at least 10)', () => {
    const big = parseConf(renderPostgresqlConf(model({ members: { replicas: 5 }, cascades: [{ name: 'a', replicas: 4 }], postgres: { maxConnections: 400 } })));
    expect(big.get('max_wal_senders')).toBe('13');
    expect(big.get('max_replication_slots')).toBe('13');
  });

  it('names the cluster and PostgreSQL major in the header', () => {
    expect(renderPostgresqlConf(model({ postgres: { majorVersion: 15 } }))).toMatch(/^# postgresql\.conf for cluster "c", PostgreSQL 15\./);
  });

  it('GIVEN user parameters THEN they are rendered, sorted, strings quoted, numbers and booleans bare', () => {
    const text = renderPostgresqlConf(model({ postgres: { parameters: { work_mem: '16MB', random_page_cost: 1.1, jit: false, 'auto_explain.log_min_duration': 250 } } }));
    const raw = parseConfRaw(text);
    expect(raw.get('work_mem')).toBe("'16MB'");
    expect(raw.get('random_page_cost')).toBe('1.1');
    expect(raw.get('jit')).toBe('off');
    expect(raw.get('auto_explain.log_min_duration')).toBe('250');
    const userSection = text.slice(text.indexOf('# Parameters set by the user'));
    expect(userSection.split('\n').filter((l) => /^\w/.test(l)).map((l) => l.split(' ')[0])).toEqual([
      'auto_explain.log_min_duration',
      'jit',
      'random_page_cost',
      'work_mem',
    ]);
  });

  it("GIVEN a parameter value with a single quote THEN the quote is doubled and the value parses back intact", () => {
    const text = renderPostgresqlConf(model({ postgres: { parameters: { application_name: "o'brien's app" } } }));
    expect(parseConfRaw(text).get('application_name')).toBe("'o''brien''s app'");
    expect(parseConf(text).get('application_name')).toBe("o'brien's app");
  });

  it('GIVEN no user parameters THEN no user section is rendered', () => {
    expect(renderPostgresqlConf(model())).not.toContain('Parameters set by the user');
  });

  it("GIVEN quorum replication THEN synchronous_standby_names is ANY n over every member's node name", () => {
    const quorum = model({ members: { replicas: 3 }, replication: { mode: 'quorum', standbys: 1 } });
    expect(synchronousStandbyNames(quorum)).toBe('ANY 1 ("c-node-0", "c-node-1", "c-node-2")');
    expect(parseConf(renderPostgresqlConf(quorum)).get('synchronous_standby_names')).toBe('ANY 1 ("c-node-0", "c-node-1", "c-node-2")');
    const five = model({ members: { replicas: 5 }, replication: { mode: 'quorum', standbys: 2 } });
    expect(parseConf(renderPostgresqlConf(five)).get('synchronous_standby_names')).toBe(
      'ANY 2 ("c-node-0", "c-node-1", "c-node-2", "c-node-3", "c-node-4")',
    );
  });

  it('GIVEN quorum replication with cascades THEN only members are listed', () => {
    const c = model({ members: { replicas: 4 }, replication: { mode: 'quorum' }, cascades: [{ name: 'r' }, { name: 's', upstream: 'r' }] });
    expect(synchronousStandbyNames(c)).toBe('ANY 1 ("c-node-0", "c-node-1", "c-node-2", "c-node-3")');
  });

  // The witness has no standby: waiting for one would block its own writes (role creation,
  // repmgr witness register). The model never combines quorum and a witness (quorum needs 3
  // members), so this renders a hand-made model to check the renderer's own guard.
  it("GIVEN a model with quorum commit and a witness THEN the witness tier renders synchronous_standby_names = '' and every other tier keeps ANY n", () => {
    const base = model({ members: { replicas: 2, witness: true }, cascades: [{ name: 'r' }] });
    const quorum: ResolvedCluster = { ...base, synchronousQuorum: 1 };
    const byKind = (kind: string) => quorum.tiers.find((t) => t.kind === kind)!;
    expect(synchronousStandbyNames(quorum, byKind('witness'))).toBe('');
    expect(parseConfRaw(renderPostgresqlConf(quorum, byKind('witness'))).get('synchronous_standby_names')).toBe("''");
    for (const kind of ['member', 'cascade']) {
      expect(parseConf(renderPostgresqlConf(quorum, byKind(kind))).get('synchronous_standby_names'), kind).toBe('ANY 1 ("c-node-0", "c-node-1")');
    }
    expect(synchronousStandbyNames(quorum)).toBe('ANY 1 ("c-node-0", "c-node-1")');
    // Apart from that one setting, the witness gets the same file as the members.
    const strip = (text: string) => [...parseConf(text)].filter(([k]) => k !== 'synchronous_standby_names');
    expect(strip(renderPostgresqlConf(quorum, byKind('witness')))).toEqual(strip(renderPostgresqlConf(quorum, byKind('member'))));
  });

  it("GIVEN async replication THEN synchronous_standby_names = ''", () => {
    const raw = parseConfRaw(renderPostgresqlConf(model({ replication: { mode: 'async' } })));
    expect(raw.get('synchronous_standby_names')).toBe("''");
  });

  it('every member node name in synchronous_standby_names is the pod name (= repmgr node_name = backend_application_name)', () => {
    const c = model({ replication: { mode: 'quorum' } });
    const names = [...synchronousStandbyNames(c).matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    expect(names).toEqual(c.pgpool.backends.map((b) => b.nodeName));
  });
});

describe('pg_hba.conf: GIVEN allowed CIDRs WHEN rendered THEN peers and clients are matched by address range only', () => {
  const c = model({ postgres: { allowedCidrs: ['10.244.0.0/16', 'fd00::/8'] } });
  const rows = parseHba(renderPgHbaConf(c));
  const hostRows = rows.filter((r) => r[0].startsWith('host'));

  it('local socket: postgres by peer, repmgr kept out of the application database, everyone else by SCRAM, repmgr may replicate', () => {
    expect(rows.filter((r) => r[0] === 'local')).toEqual([
      ['local', 'all', 'postgres', 'peer'],
      ['local', 'app', 'repmgr', 'reject'],
      ['local', 'all', 'all', 'scram-sha-256'],
      ['local', 'replication', 'repmgr', 'scram-sha-256'],
    ]);
  });

  it.each(['10.244.0.0/16', 'fd00::/8'])('CIDR %s: plaintext rejected first, then over TLS replication, repmgr-only metadata, no repmgr in the application database, and SCRAM client lines, in that order', (cidr) => {
    expect(hostRows.filter((r) => r[3] === cidr)).toEqual([
      ['hostnossl', 'all', 'all', cidr, 'reject'],
      ['hostssl', 'replication', 'repmgr', cidr, 'scram-sha-256'],
      ['hostssl', 'repmgr', 'repmgr', cidr, 'scram-sha-256'],
      ['hostssl', 'repmgr', 'all', cidr, 'reject'],
      ['hostssl', 'app', 'repmgr', cidr, 'reject'],
      ['hostssl', 'all', 'all', cidr, 'scram-sha-256'],
    ]);
  });

  it('has 6 host lines per CIDR and no other', () => {
    expect(hostRows).toHaveLength(12);
  });

  it('GIVEN tls.plaintextReason THEN the same lines as plain host lines, and no reject of plaintext', () => {
    const plain = parseHba(renderPgHbaConf(model({ postgres: { allowedCidrs: ['10.244.0.0/16'] }, tls: { plaintextReason: 'the mesh encrypts pod traffic' } })));
    expect(plain.filter((r) => r[0].startsWith('host')).map((r) => r.slice(0, 3))).toEqual([
      ['host', 'replication', 'repmgr'],
      ['host', 'repmgr', 'repmgr'],
      ['host', 'repmgr', 'all'],
      ['host', 'app', 'repmgr'],
      ['host', 'all', 'all'],
    ]);
  });

  it('never names a host: every host line address is an IP range', () => {
    for (const row of hostRows) {
      expect(row).toHaveLength(5);
      expect(isAddressRange(row[3]), `address ${row[3]}`).toBe(true);
    }
    expect(renderPgHbaConf(c)).not.toMatch(/svc\.cluster\.local|\.svc\b/);
  });

  it('uses no password-less or weak method over TCP', () => {
    for (const row of hostRows) {
      expect(['scram-sha-256', 'reject']).toContain(row[4]);
    }
  });

  it('defaults to 0.0.0.0/0 and ::/0', () => {
    const addresses = new Set(parseHba(renderPgHbaConf(model())).filter((r) => r[0].startsWith('host')).map((r) => r[3]));
    expect([...addresses]).toEqual(['0.0.0.0/0', '::/0']);
  });
});

describe('repmgr.conf: GIVEN a tier WHEN rendered THEN the common repmgr settings and timing are set', () => {
  const c = model({
    failover: { monitorIntervalSeconds: 3, reconnectAttempts: 4, reconnectIntervalSeconds: 5, connectTimeoutSeconds: 6 },
    cascades: [{ name: 'r' }],
  });
  const conf = parseConf(renderRepmgrConf(c, membersOf(c)));

  it.each([
    ['data_directory', NODE_PATHS.pgdata],
    ['use_replication_slots', 'on'],
    ['passfile', NODE_PATHS.passfile],
    ['replication_user', 'repmgr'],
    ['failover', 'automatic'],
    ['promote_command', 'bash /opt/pgha/scripts/node-promote.sh'],
    ['follow_command', 'bash /opt/pgha/scripts/node-follow.sh %n'],
    ['connection_check_type', 'ping'],
    ['primary_visibility_consensus', 'on'],
    ['standby_disconnect_on_failover', 'off'],
    ['degraded_monitoring_timeout', '-1'],
    ['service_start_command', 'pg_ctl -D /var/lib/postgresql/data/pgdata -w -t 3600 start -l /run/pgha/postgres.log'],
    ['service_stop_command', 'pg_ctl -D /var/lib/postgresql/data/pgdata -w -t 3600 stop -m fast'],
    ['service_restart_command', 'pg_ctl -D /var/lib/postgresql/data/pgdata -w -t 3600 restart -m fast -l /run/pgha/postgres.log'],
    ['service_reload_command', 'pg_ctl -D /var/lib/postgresql/data/pgdata -w -t 3600 reload'],
    ['service_promote_command', 'pg_ctl -D /var/lib/postgresql/data/pgdata -w -t 3600 promote'],
    ['log_level', 'INFO'],
    ['log_facility', 'STDERR'],
  ])('%s = %s', (key, value) => {
    expect(conf.get(key)).toBe(value);
  });

  // A start after a crash replays WAL first: a short timeout would turn a slow but healthy
  // recovery into a failed rejoin (and a full re-clone).
  it('every pg_ctl service command waits up to an hour (-w -t 3600) on the PGDATA of the pod', () => {
    const commands = ['service_start_command', 'service_stop_command', 'service_restart_command', 'service_reload_command', 'service_promote_command'].map((k) => conf.get(k) ?? '');
    for (const command of commands) expect(command.startsWith(`pg_ctl -D ${NODE_PATHS.pgdata} -w -t 3600 `), command).toBe(true);
  });

  // A server that repmgr starts (rejoin, follow) outlives repmgr: with -l /dev/stderr it
  // logged into repmgr's output pipe and every later line of PostgreSQL was lost.
  it('PostgreSQL started by repmgr logs into the FIFO the entrypoint drains (node-env.sh PG_LOG_FIFO), not into repmgr\'s output', () => {
    const env = readFileSync(join(REPO_ROOT, 'lib', 'scripts', 'node-env.sh'), 'utf8');
    const runDir = /: "\$\{PGHA_RUN_DIR:=([^}]+)\}"/.exec(env)?.[1];
    const fifo = /^PG_LOG_FIFO=\$RUN_DIR\/(\S+)$/m.exec(env)?.[1];
    expect(`${runDir}/${fifo}`).toBe(NODE_PATHS.postgresLog);
    for (const key of ['service_start_command', 'service_restart_command']) expect(conf.get(key)).toMatch(new RegExp(` -l ${NODE_PATHS.postgresLog}$`));
  });

  it('failover timing comes from the failover props', () => {
    expect(conf.get('monitor_interval_secs')).toBe('3');
    expect(conf.get('reconnect_attempts')).toBe('4');
    expect(conf.get('reconnect_interval')).toBe('5');
  });

  it('defaults: 1 s monitor interval, 3 attempts, 1 s apart', () => {
    const d = model();
    const defaults = parseConf(renderRepmgrConf(d, membersOf(d)));
    expect([defaults.get('monitor_interval_secs'), defaults.get('reconnect_attempts'), defaults.get('reconnect_interval')]).toEqual(['1', '3', '1']);
  });

  it('promotion and following go through the wrappers, whose repmgr fallback uses the per-node file the entrypoint writes', () => {
    expect(conf.get('promote_command')).toBe(`bash ${NODE_PATHS.scripts}/node-promote.sh`);
    expect(conf.get('follow_command')).toBe(`bash ${NODE_PATHS.scripts}/node-follow.sh %n`);
    const env = readFileSync(join(REPO_ROOT, 'lib', 'scripts', 'node-env.sh'), 'utf8');
    const runDir = /: "\$\{PGHA_RUN_DIR:=([^}]+)\}"/.exec(env)?.[1];
    const file = /^REPMGR_CONF=\$RUN_DIR\/(\S+)$/m.exec(env)?.[1];
    expect(`${runDir}/${file}`).toBe(NODE_PATHS.repmgrConf);
  });

  it('leaves the per-node keys to the entrypoint (node_id, node_name, conninfo, priority, location)', () => {
    for (const key of ['node_id', 'node_name', 'conninfo', 'priority', 'location', 'pg_bindir']) {
      expect(conf.has(key), key).toBe(false);
    }
  });

  it('every tier renders the same settings; only the header names the tier', () => {
    const cascade = renderRepmgrConf(c, c.tiers[1]);
    expect(cascade).toMatch(/tier "c-r" of cluster "c"/);
    expect(parseConf(cascade)).toEqual(conf);
  });
});

describe('pgpool.conf: GIVEN a resolved cluster WHEN rendered THEN Pgpool-II follows repmgr', () => {
  const c = model({ users: { monitorUser: 'mon' }, failover: { connectTimeoutSeconds: 4, reconnectAttempts: 3, reconnectIntervalSeconds: 2 } }, 'shop');
  const conf = parseConf(renderPgpoolConf(c));
  const members = membersOf(c);

  it('backend_hostnameN exactly equals the repmgr host <sts>-<i>.<sts>.<ns>.svc.<domain> of ordinal N', () => {
    for (let i = 0; i < 3; i++) {
      expect(conf.get(`backend_hostname${i}`)).toBe(`c-node-${i}.c-node.shop.svc.cluster.local`);
      expect(conf.get(`backend_hostname${i}`)).toBe(podHost(c, members, i));
    }
    expect(conf.has('backend_hostname3')).toBe(false);
  });

  it('the cluster domain is used in backend host names', () => {
    const custom = parseConf(renderPgpoolConf(model({ clusterDomain: 'k8s.internal' })));
    expect(custom.get('backend_hostname1')).toBe('c-node-1.c-node.db.svc.k8s.internal');
  });

  it('every backend: port 5432, weight 1, PGDATA, ALLOW_TO_FAILOVER, application_name = pod name', () => {
    for (let i = 0; i < 3; i++) {
      expect(conf.get(`backend_port${i}`)).toBe('5432');
      expect(conf.get(`backend_weight${i}`)).toBe('1');
      expect(conf.get(`backend_data_directory${i}`)).toBe(NODE_PATHS.pgdata);
      expect(conf.get(`backend_flag${i}`)).toBe('ALLOW_TO_FAILOVER');
      expect(conf.get(`backend_application_name${i}`)).toBe(`c-node-${i}`);
    }
  });

  it('backends are exactly the members when no cascade is promotable (no cascade, no witness)', () => {
    const withOthers = parseConf(renderPgpoolConf(model({ members: { replicas: 2, witness: true }, cascades: [{ name: 'r', replicas: 3 }] })));
    const hostKeys = [...withOthers.keys()].filter((k) => k.startsWith('backend_hostname'));
    expect(hostKeys.map((k) => withOthers.get(k))).toEqual([
      'c-node-0.c-node.db.svc.cluster.local',
      'c-node-1.c-node.db.svc.cluster.local',
    ]);
  });

  it('GIVEN promotable cascades THEN their pods follow the members as backends, with consecutive indices in declaration order', () => {
    const m = model({
      cascades: [
        { name: 'fanout', replicas: 3 },
        { name: 'dr', replicas: 2, promotable: true },
        { name: 'reporting', replicas: 2, upstream: 'fanout' },
        { name: 'dr2', replicas: 1, upstream: 'dr', promotable: true },
      ],
      postgres: { maxConnections: 400 },
    }, 'shop');
    const v = parseConf(renderPgpoolConf(m));
    const expected = ['c-node-0', 'c-node-1', 'c-node-2', 'c-dr-0', 'c-dr-1', 'c-dr2-0'];
    const hostKeys = [...v.keys()].filter((k) => k.startsWith('backend_hostname'));
    expect(hostKeys).toEqual(expected.map((_, i) => `backend_hostname${i}`));
    expected.forEach((pod, i) => {
      const sts = pod.replace(/-\d+$/, '');
      expect(v.get(`backend_hostname${i}`)).toBe(`${pod}.${sts}.shop.svc.cluster.local`);
      expect(v.get(`backend_application_name${i}`)).toBe(pod);
      expect(v.get(`backend_port${i}`)).toBe('5432');
      expect(v.get(`backend_weight${i}`)).toBe('1');
      expect(v.get(`backend_data_directory${i}`)).toBe(NODE_PATHS.pgdata);
      expect(v.get(`backend_flag${i}`)).toBe('ALLOW_TO_FAILOVER');
    });
    // The host is the pod's repmgr host, as the entrypoint derives it.
    const dr = m.tiers.find((t) => t.statefulSetName === 'c-dr')!;
    expect(v.get('backend_hostname4')).toBe(podHost(m, dr, 1));
    // Non-promotable layers (fanout, reporting) are no backends.
    expect([...v.values()].filter((value) => /c-(fanout|reporting)-/.test(value))).toEqual([]);
  });

  it('health check and sr_check log in as the monitor user to the postgres database, password from pool_passwd', () => {
    expect(conf.get('health_check_user')).toBe('mon');
    expect(conf.get('sr_check_user')).toBe('mon');
    expect(conf.get('health_check_password')).toBe('');
    expect(conf.get('sr_check_password')).toBe('');
    expect(conf.get('health_check_database')).toBe('postgres');
    expect(conf.get('sr_check_database')).toBe('postgres');
  });

  it('health check timing follows the failover props (timeout, retries, delay, connect_timeout in ms)', () => {
    expect(conf.get('health_check_period')).toBe('1');
    // The replication check reconnects every period: 5 s keeps an idle cluster idle.
    expect(conf.get('sr_check_period')).toBe('5');
    expect(conf.get('health_check_timeout')).toBe('4');
    expect(conf.get('health_check_max_retries')).toBe('3');
    expect(conf.get('health_check_retry_delay')).toBe('2');
    expect(conf.get('connect_timeout')).toBe('4000');
  });

  // With 0 Pgpool-II searches forever over its up backends while the new primary is still marked
  // down, and the entrypoint's pcp_attach_node queues behind that search (lib/render/pgpool-conf.ts).
  it('Pgpool-II never promotes: its failover command only waits for the new primary (bounded under 4.5+\'s 30 s wait), no follow command, a short (3 s) primary search, auto failback, false-primary detach', () => {
    expect(conf.get('backend_clustering_mode')).toBe('streaming_replication');
    expect(conf.get('use_watchdog')).toBe('off');
    const failover = /^\/bin\/bash \/opt\/pgha\/scripts\/pgpool-failover\.sh %d %P (\d+)$/.exec(conf.get('failover_command') ?? '');
    expect(failover).not.toBeNull();
    expect(Number(failover![1])).toBeGreaterThanOrEqual(c.timing.failureDetectionSeconds);
    expect(Number(failover![1])).toBeLessThan(30);
    expect(conf.get('follow_primary_command')).toBe('');
    expect(conf.get('failover_on_backend_error')).toBe('off');
    expect(conf.get('search_primary_node_timeout')).toBe('3');
    expect(conf.get('auto_failback')).toBe('on');
    expect(conf.get('detach_false_primary')).toBe('on');
  });

  it('listens on 5432, PCP on localhost:9898, runtime files under /run/pgpool, pool_hba enforced, no clear-text auth', () => {
    expect(conf.get('listen_addresses')).toBe('*');
    expect(conf.get('port')).toBe('5432');
    expect(conf.get('pcp_listen_addresses')).toBe('localhost');
    expect(conf.get('pcp_port')).toBe('9898');
    expect(conf.get('pid_file_name')).toBe(`${PGPOOL_PATHS.runtime}/pgpool.pid`);
    expect(conf.get('work_dir')).toBe(PGPOOL_PATHS.runtime); // 4.7, the default series: logdir renamed
    expect(conf.get('pool_passwd')).toBe(`${PGPOOL_PATHS.runtime}/pool_passwd`);
    expect(conf.get('enable_pool_hba')).toBe('on');
    expect(conf.get('allow_clear_text_frontend_auth')).toBe('off');
  });

  it('pool sizing and load balancing follow the pgpool props', () => {
    const custom = parseConf(
      renderPgpoolConf(model({ pgpool: { numInitChildren: 40, maxPool: 3, loadBalancing: false, statementLevelLoadBalancing: true, maxReplicationDelayBytes: 4096 }, postgres: { maxConnections: 500 } })),
    );
    expect(custom.get('num_init_children')).toBe('40');
    expect(custom.get('max_pool')).toBe('3');
    expect(custom.get('load_balance_mode')).toBe('off');
    expect(custom.get('statement_level_load_balance')).toBe('on');
    expect(custom.get('delay_threshold')).toBe('4096');
    expect(conf.get('num_init_children')).toBe('32');
    expect(conf.get('max_pool')).toBe('2');
    expect(conf.get('load_balance_mode')).toBe('on');
    expect(conf.get('statement_level_load_balance')).toBe('off');
    expect(conf.get('delay_threshold')).toBe('10485760');
    expect(conf.get('disable_load_balance_on_write')).toBe('transaction');
  });

  it('logs to stderr', () => {
    expect(conf.get('log_destination')).toBe('stderr');
    expect(conf.get('logging_collector')).toBe('off');
  });

  const versions = SUPPORTED_PGPOOL_VERSIONS as readonly PgpoolVersion[];

  it.each(versions)('GIVEN Pgpool-II %s THEN the socket directory key is the one that series reads, never both', (version) => {
    const v = parseConf(renderPgpoolConf(model({ pgpool: { version } })));
    const newKey = version === '4.3' ? 'socket_dir' : 'unix_socket_directories';
    const oldKey = version === '4.3' ? 'unix_socket_directories' : 'socket_dir';
    expect(v.get(newKey)).toBe(PGPOOL_PATHS.runtime);
    expect(v.has(oldKey)).toBe(false);
    // The PCP socket key kept its name in every series.
    expect(v.get('pcp_socket_dir')).toBe(PGPOOL_PATHS.runtime);
    expect(v.has('pcp_unix_socket_directories')).toBe(false);
  });

  it.each(versions)('GIVEN Pgpool-II %s THEN the work directory key is the one that series reads (4.7 renamed logdir to work_dir), never both', (version) => {
    const v = parseConf(renderPgpoolConf(model({ pgpool: { version } })));
    const [key, other] = version === '4.7' ? ['work_dir', 'logdir'] : ['logdir', 'work_dir'];
    expect(v.get(key)).toBe(PGPOOL_PATHS.runtime);
    expect(v.has(other)).toBe(false);
  });

  it.each(versions)('GIVEN Pgpool-II %s (4.3 or later) THEN failover_on_backend_shutdown = on', (version) => {
    expect(parseConf(renderPgpoolConf(model({ pgpool: { version } }))).get('failover_on_backend_shutdown')).toBe('on');
  });

  it.each(versions)('GIVEN Pgpool-II %s THEN the header names the series and no key is duplicated', (version) => {
    const text = renderPgpoolConf(model({ pgpool: { version } }));
    expect(text).toMatch(new RegExp(`Pgpool-II ${version.replace('.', '\\.')}\\.`));
    expect(() => parseConfRaw(text)).not.toThrow();
  });

  it('uses none of the keys Pgpool-II 4.2+ renamed or removed (they are ignored silently)', () => {
    for (const version of versions) {
      const v = parseConf(renderPgpoolConf(model({ pgpool: { version } })));
      for (const old of ['master_slave_mode', 'master_slave_sub_mode', 'fail_over_on_backend_error', 'follow_master_command', 'white_function_list']) {
        expect(v.has(old), `${version}: ${old}`).toBe(false);
      }
    }
  });
});

describe('pool_hba.conf: GIVEN allowed CIDRs WHEN rendered THEN clients use SCRAM and never reach the repmgr database', () => {
  const c = model({ users: { monitorUser: 'mon' }, postgres: { allowedCidrs: ['10.0.0.0/8'] } });
  const rows = parseHba(renderPoolHbaConf(c));

  it('local socket: only the monitor user, by trust (probes inside the pod)', () => {
    expect(rows.filter((r) => r[0] === 'local')).toEqual([['local', 'all', 'mon', 'trust']]);
  });

  it('per CIDR: plaintext rejected, then over TLS the repmgr database and the repmgr role in the application database rejected, then SCRAM for everything else', () => {
    expect(rows.filter((r) => r[0].startsWith('host'))).toEqual([
      ['hostnossl', 'all', 'all', '10.0.0.0/8', 'reject'],
      ['hostssl', 'repmgr', 'all', '10.0.0.0/8', 'reject'],
      ['hostssl', 'app', 'repmgr', '10.0.0.0/8', 'reject'],
      ['hostssl', 'all', 'all', '10.0.0.0/8', 'scram-sha-256'],
    ]);
  });

  it('GIVEN tls.plaintextReason THEN plain host lines and no reject of plaintext', () => {
    const plain = parseHba(renderPoolHbaConf(model({ postgres: { allowedCidrs: ['10.0.0.0/8'] }, tls: { plaintextReason: 'the mesh encrypts pod traffic' } })));
    expect(plain.filter((r) => r[0].startsWith('host')).map((r) => r[0])).toEqual(['host', 'host', 'host']);
  });

  it('every host address is an IP range and there is no trust over TCP', () => {
    const multi = parseHba(renderPoolHbaConf(model({ postgres: { allowedCidrs: ['10.0.0.0/8', '192.168.0.0/16', 'fd00::/8'] } })));
    const hosts = multi.filter((r) => r[0].startsWith('host'));
    expect(hosts).toHaveLength(12);
    for (const row of hosts) {
      expect(isAddressRange(row[3])).toBe(true);
      expect(row[4]).not.toBe('trust');
    }
  });
});

describe('renderers: GIVEN the same model THEN output is deterministic; GIVEN any supported version THEN it renders', () => {
  it('rendering twice gives identical text', () => {
    const p: PostgresClusterProps = { cascades: [{ name: 'r' }], replication: { mode: 'quorum' }, postgres: { parameters: { work_mem: 1024, application_name: 'x' } } };
    const a = model(p);
    const b = model(p);
    expect(renderPostgresqlConf(a)).toBe(renderPostgresqlConf(b));
    expect(renderPgpoolConf(a)).toBe(renderPgpoolConf(b));
    expect(renderRepmgrConf(a, a.tiers[1])).toBe(renderRepmgrConf(b, b.tiers[1]));
    expect(renderPgHbaConf(a)).toBe(renderPgHbaConf(b));
    expect(renderPoolHbaConf(a)).toBe(renderPoolHbaConf(b));
  });

  it.each(SUPPORTED_POSTGRES_MAJORS)('PostgreSQL %s: postgresql.conf parses with no duplicate key', (major) => {
    expect(() => parseConfRaw(renderPostgresqlConf(model({ postgres: { majorVersion: major } })))).not.toThrow();
  });
});

describe('TLS: GIVEN the default props WHEN rendered THEN PostgreSQL and Pgpool-II serve TLS from the mounted Secret; GIVEN tls.plaintextReason THEN ssl is off and the reason is written down', () => {
  it('postgresql.conf: ssl on with the certificate, key and CA of the TLS mount, TLS 1.2 at least', () => {
    const conf = parseConf(renderPostgresqlConf(model()));
    expect([conf.get('ssl'), conf.get('ssl_cert_file'), conf.get('ssl_key_file'), conf.get('ssl_ca_file'), conf.get('ssl_min_protocol_version')]).toEqual([
      'on',
      `${NODE_PATHS.tls}/tls.crt`,
      `${NODE_PATHS.tls}/tls.key`,
      `${NODE_PATHS.tls}/ca.crt`,
      'TLSv1.2',
    ]);
  });

  it('pgpool.conf: ssl on toward clients and backends, backends verified against the CA', () => {
    const conf = parseConf(renderPgpoolConf(model()));
    expect([conf.get('ssl'), conf.get('ssl_cert'), conf.get('ssl_key'), conf.get('ssl_ca_cert')]).toEqual(['on', '/etc/pgha/tls/tls.crt', '/etc/pgha/tls/tls.key', '/etc/pgha/tls/ca.crt']);
  });

  it('plaintext: ssl off in both, no certificate path, the reason in a comment of both files', () => {
    const c = model({ tls: { plaintextReason: 'the Istio mesh encrypts all pod traffic' } });
    for (const text of [renderPostgresqlConf(c), renderPgpoolConf(c)]) {
      const conf = parseConf(text);
      expect(conf.get('ssl')).toBe('off');
      expect(text).not.toMatch(/tls\.crt|tls\.key/);
      expect(text).toContain('# TLS off (tls.plaintextReason: the Istio mesh encrypts all pod traffic)');
    }
  });
});
