/**
 * The common part of repmgr.conf for one tier. The entrypoint appends the per-node lines
 * (node_id, node_name, conninfo, priority, pg_bindir, location) at every start and writes the
 * result to /run/pgha/repmgr.conf, because those depend on the pod's ordinal.
 */
import type { ResolvedCluster, ResolvedTier } from '../model/resolved';
import { renderConf, type ConfValue } from './conf-format';
import { NODE_PATHS } from './paths';

export function renderRepmgrConf(cluster: ResolvedCluster, tier: ResolvedTier): string {
  const t = cluster.timing;
  const setting = (key: string, value: ConfValue) => [key, value] as const;
  // A start after a crash replays WAL first; a timeout here would turn a slow but healthy
  // recovery into a failed rejoin and a full re-clone.
  const pgctl = `pg_ctl -D ${NODE_PATHS.pgdata} -w -t 3600`;
  return renderConf(
    [
      `repmgr.conf (common part) for tier "${tier.statefulSetName}" of cluster "${cluster.name}".`,
      'Rendered by cdk8s-pg-ha. The entrypoint appends node_id, node_name, conninfo, priority,',
      `pg_bindir and location, and writes the whole file to ${NODE_PATHS.repmgrConf}.`,
    ],
    [
      {
        title: 'Node',
        settings: [
          setting('data_directory', NODE_PATHS.pgdata),
          setting('use_replication_slots', true),
          // The walreceiver reads its password from this passfile, never from conninfo.
          setting('passfile', NODE_PATHS.passfile),
          setting('replication_user', cluster.users.repmgrUser),
        ],
      },
      {
        title: 'Failover (repmgrd)',
        settings: [
          // Automatic on every tier: a cascading node with priority 0 is never promoted, but
          // repmgrd still makes it follow its upstream's parent when its upstream fails.
          setting('failover', 'automatic'),
          // Refuses when a reachable sibling holds more WAL, else pg_promote() and the repmgr
          // record, faster than `repmgr standby promote` (why: lib/scripts/node-promote.sh).
          setting('promote_command', `bash ${NODE_PATHS.scripts}/node-promote.sh`),
          // Points the WAL receiver at the new primary with three sessions, falling back to
          // `repmgr standby follow` for anything unusual (why: lib/scripts/node-follow.sh).
          setting('follow_command', `bash ${NODE_PATHS.scripts}/node-follow.sh %n`),
          setting('monitor_interval_secs', t.monitorIntervalSeconds),
          setting('reconnect_attempts', t.reconnectAttempts),
          setting('reconnect_interval', t.reconnectIntervalSeconds),
          setting('connection_check_type', 'ping'),
          // Promote only when the other standbys agree the primary is gone.
          setting('primary_visibility_consensus', true),
          // Off: in repmgr 5.3 it costs 7-12 s after a silent primary (a fixed 5 s sleep, then a
          // sibling wait that runs to its timeout). promote_command re-checks the siblings'
          // WAL positions right before promoting instead.
          setting('standby_disconnect_on_failover', false),
          setting('degraded_monitoring_timeout', -1),
          setting('log_status_interval', 60),
        ],
      },
      {
        title: 'Service control (the entrypoint runs PostgreSQL through pg_ctl)',
        settings: [
          setting('service_start_command', `${pgctl} start -l ${NODE_PATHS.postgresLog}`),
          setting('service_stop_command', `${pgctl} stop -m fast`),
          setting('service_restart_command', `${pgctl} restart -m fast -l ${NODE_PATHS.postgresLog}`),
          setting('service_reload_command', `${pgctl} reload`),
          setting('service_promote_command', `${pgctl} promote`),
        ],
      },
      {
        title: 'Logging (stderr, collected by the container runtime)',
        settings: [setting('log_level', 'INFO'), setting('log_facility', 'STDERR')],
      },
    ],
  );
}
