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
  const repmgr = `repmgr -f ${NODE_PATHS.repmgrConf}`;
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
          setting('promote_command', `${repmgr} standby promote --log-to-file`),
          // --upstream-node-id: follow the node that won the election, never a stale primary.
          setting('follow_command', `${repmgr} standby follow --log-to-file --upstream-node-id=%n`),
          setting('monitor_interval_secs', t.monitorIntervalSeconds),
          setting('reconnect_attempts', t.reconnectAttempts),
          setting('reconnect_interval', t.reconnectIntervalSeconds),
          setting('connection_check_type', 'ping'),
          // Promote only when the other standbys agree the primary is gone.
          setting('primary_visibility_consensus', true),
          // Standbys stop their walreceivers during an election, so none races ahead.
          setting('standby_disconnect_on_failover', true),
          // ...but a sibling whose primary vanished silently keeps restarting its walreceiver
          // against it, and the candidate waited the default 30 s for it (measured: promotion
          // 15-50 s after a partition). It cannot receive anything from a silent primary.
          setting('sibling_nodes_disconnect_timeout', 5),
          setting('degraded_monitoring_timeout', -1),
          setting('log_status_interval', 60),
        ],
      },
      {
        title: 'Service control (the entrypoint runs PostgreSQL through pg_ctl)',
        settings: [
          setting('service_start_command', `${pgctl} start -l /dev/stderr`),
          setting('service_stop_command', `${pgctl} stop -m fast`),
          setting('service_restart_command', `${pgctl} restart -m fast -l /dev/stderr`),
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
