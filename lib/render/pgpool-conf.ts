/**
 * pgpool.conf for the Pgpool-II pods. Rendered for one Pgpool-II series: keys that series does
 * not know are never emitted (Pgpool-II ignores unknown keys silently), and renamed keys use
 * the series' own name.
 *
 * Why these settings (the scripts' side: lib/scripts/README.md, "Pgpool-II entrypoint"):
 * - Backends are the member pods by the exact host names repmgr uses, so a backend's
 *   identity never changes when roles do.
 * - ALLOW_TO_FAILOVER + health check: a dead primary is detached, which makes Pgpool-II look
 *   for the new one. Pgpool-II itself never promotes: repmgr does. Its failover_command
 *   (pgpool-failover.sh) waits for repmgr's promotion while new sessions wait, and never lets
 *   Pgpool-II send writes to a standby for want of a primary.
 * - search_primary_node_timeout is short: with 0, Pgpool-II loops forever over its *up*
 *   backends while the new primary is still marked down, and the entrypoint's reconcile loop
 *   (pcp_attach_node) queues behind that loop. A short search that gives up lets the loop
 *   attach the new primary, which runs the search again (measured: ~5 s write outage).
 * - auto_failback re-attaches a standby once it streams again; detach_false_primary detaches
 *   a second primary that the standbys do not follow (split-brain guard).
 * - The status file is discarded at start (`pgpool -D`), so a restarted pod never trusts
 *   stale up/down states.
 */
import type { ResolvedCluster } from '../model/resolved';
import { pgpoolAtLeast } from '../model/versions';
import { renderConf, type ConfValue } from './conf-format';
import { NODE_PATHS, PGPOOL_PATHS, TLS_FILES } from './paths';

type Setting = readonly [string, ConfValue];

export function renderPgpoolConf(cluster: ResolvedCluster): string {
  const pp = cluster.pgpool;
  const v = pp.version;
  const t = cluster.timing;
  const monitor = cluster.users.monitorUser;
  const setting = (key: string, value: ConfValue): Setting => [key, value];
  // Renamed in 4.4 (no alias: 4.4+ silently ignores socket_dir). The PCP socket key kept its
  // name in every series (verified against the V4_2 .. V4_6 sources).
  const socketDirKey = pgpoolAtLeast(v, '4.4') ? 'unix_socket_directories' : 'socket_dir';

  const backends: Setting[] = pp.backends.flatMap((b) => [
    setting(`backend_hostname${b.index}`, b.host),
    setting(`backend_port${b.index}`, b.port),
    setting(`backend_weight${b.index}`, 1),
    setting(`backend_data_directory${b.index}`, NODE_PATHS.pgdata),
    setting(`backend_flag${b.index}`, 'ALLOW_TO_FAILOVER'),
    // auto_failback matches a standby to its walreceiver by application_name = node_name.
    setting(`backend_application_name${b.index}`, b.nodeName),
  ]);

  return renderConf(
    [
      `pgpool.conf for cluster "${cluster.name}", Pgpool-II ${v}.`,
      'Rendered by cdk8s-pg-ha: change the construct props, not this file.',
    ],
    [
      {
        title: 'Mode',
        settings: [setting('backend_clustering_mode', 'streaming_replication'), setting('use_watchdog', false)],
      },
      {
        title: 'Connections',
        settings: [
          setting('listen_addresses', '*'),
          setting('port', pp.port),
          setting(socketDirKey, PGPOOL_PATHS.runtime),
          setting('pcp_listen_addresses', 'localhost'),
          setting('pcp_port', pp.pcpPort),
          setting('pcp_socket_dir', PGPOOL_PATHS.runtime),
          setting('pid_file_name', `${PGPOOL_PATHS.runtime}/pgpool.pid`),
          // Holds pgpool_status; it is discarded at start anyway (pgpool -D). 4.7 renamed it
          // (logdir -> work_dir), and ignores the old name.
          setting(pgpoolAtLeast(v, '4.7') ? 'work_dir' : 'logdir', PGPOOL_PATHS.runtime),
          setting('listen_backlog_multiplier', 2),
          setting('serialize_accept', false),
        ],
      },
      {
        title: 'Pools (budget checked against max_connections at synth time)',
        settings: [
          setting('num_init_children', pp.numInitChildren),
          setting('max_pool', pp.maxPool),
          setting('child_life_time', 300),
          setting('child_max_connections', 0),
          setting('connection_life_time', 0),
          setting('client_idle_limit', 0),
          setting('connection_cache', true),
          setting('reserved_connections', 0),
        ],
      },
      {
        title: 'Authentication',
        settings: [
          setting('enable_pool_hba', true),
          setting('pool_passwd', `${PGPOOL_PATHS.runtime}/pool_passwd`),
          setting('allow_clear_text_frontend_auth', false),
          setting('authentication_timeout', 30),
        ],
      },
      tlsSection(cluster),
      {
        title: 'Load balancing',
        settings: [
          setting('load_balance_mode', pp.loadBalancing),
          setting('statement_level_load_balance', pp.statementLevelLoadBalancing),
          // Reads after a write in the same transaction go to the primary (read your writes).
          setting('disable_load_balance_on_write', 'transaction'),
          setting('delay_threshold', pp.maxReplicationDelayBytes),
          setting('prefer_lower_delay_standby', true),
          setting('allow_sql_comments', false),
        ],
      },
      {
        title: 'Primary detection (streaming replication check)',
        settings: [
          // Replication delay for load balancing (delay_threshold), false-primary detection and
          // auto failback. The worker opens a new connection per backend every period (a backend
          // fork and a SCRAM login): at 1 s that was 6 new processes/s for 3 members and 2 pods,
          // a fifth of an idle cluster's. A failover does not wait for it: the failover process
          // searches for the new primary itself.
          setting('sr_check_period', 5),
          setting('sr_check_user', monitor),
          // Empty: the password comes from pool_passwd.
          setting('sr_check_password', ''),
          setting('sr_check_database', 'postgres'),
        ],
      },
      {
        title: 'Health check (detaches a dead backend so the new primary is looked for)',
        settings: [
          setting('health_check_period', 1),
          setting('health_check_timeout', t.connectTimeoutSeconds),
          setting('health_check_user', monitor),
          setting('health_check_password', ''),
          setting('health_check_database', 'postgres'),
          setting('health_check_max_retries', t.reconnectAttempts),
          setting('health_check_retry_delay', t.reconnectIntervalSeconds),
          setting('connect_timeout', t.connectTimeoutSeconds * 1000),
        ],
      },
      {
        title: 'Failover: repmgr promotes; Pgpool-II only follows (never promotes itself)',
        settings: [
          // Waits up to primaryWaitSeconds for the new primary when the primary was detached
          // (sessions wait meanwhile), else detaches the standbys: no write goes to a standby.
          setting('failover_command', `/bin/bash ${PGPOOL_PATHS.scripts}/pgpool-failover.sh %d %P ${pp.primaryWaitSeconds}`),
          setting('follow_primary_command', ''),
          setting('failover_on_backend_error', false),
          ...(pgpoolAtLeast(v, '4.3') ? [setting('failover_on_backend_shutdown', true)] : []),
          setting('search_primary_node_timeout', 3),
          setting('auto_failback', true),
          setting('auto_failback_interval', 5),
          setting('detach_false_primary', true),
        ],
      },
      {
        title: 'Logging (stderr)',
        settings: [
          setting('log_destination', 'stderr'),
          setting('logging_collector', false),
          setting('log_line_prefix', '%m: %a pid %p: '),
          setting('log_connections', false),
          setting('log_hostname', false),
          setting('log_min_messages', 'warning'),
        ],
      },
      { title: 'Caches', settings: [setting('memory_cache_enabled', false)] },
      { title: 'Backends: the failover-eligible members, by the host names repmgr uses', settings: backends },
    ],
  );
}

/**
 * TLS toward clients (pool_hba.conf takes network connections over TLS only) and toward the
 * backends: with `ssl` on, Pgpool-II asks every backend connection for TLS, its health checks and
 * streaming-replication checks included, and with `ssl_ca_cert` set it verifies the backend's
 * certificate chain. Pgpool-II does not check the backend's host name against it (libpq's
 * verify-full does, on the members' own connections). Pgpool-II loads its server certificate at
 * start: a renewed one takes effect when the pod restarts.
 */
function tlsSection(cluster: ResolvedCluster): { title: string; settings: Setting[] } {
  if (cluster.tls.mode === 'off') {
    return { title: `TLS off (tls.plaintextReason: ${cluster.tls.plaintextReason})`, settings: [['ssl', false]] };
  }
  return {
    title: 'TLS (pool_hba.conf takes network connections over TLS only)',
    settings: [
      ['ssl', true],
      ['ssl_cert', `${PGPOOL_PATHS.tls}/${TLS_FILES.certificate}`],
      ['ssl_key', `${PGPOOL_PATHS.tls}/${TLS_FILES.key}`],
      ['ssl_ca_cert', `${PGPOOL_PATHS.tls}/${TLS_FILES.ca}`],
    ],
  };
}
