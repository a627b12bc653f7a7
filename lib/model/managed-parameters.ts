/**
 * PostgreSQL parameters the cluster sets itself. A user value for any of them would break
 * replication, failover, the probes or a later feature (archiving, TLS), so the synth refuses
 * them and names the prop that controls them instead, where there is one.
 */
const MANAGED: Record<string, string> = {
  // Where and how the server listens: the Services, probes and peers depend on it.
  listen_addresses: 'managed by the cluster',
  port: 'managed by the cluster',
  unix_socket_directories: 'managed by the cluster',
  unix_socket_group: 'managed by the cluster',
  unix_socket_permissions: 'managed by the cluster',
  // Files: the entrypoint lays them out.
  data_directory: 'managed by the cluster',
  config_file: 'managed by the cluster',
  hba_file: 'managed by the cluster',
  ident_file: 'managed by the cluster',
  external_pid_file: 'managed by the cluster',
  include: 'managed by the cluster',
  include_dir: 'managed by the cluster',
  include_if_exists: 'managed by the cluster',
  // Replication: repmgr writes these, and every node must agree on them.
  wal_level: 'managed by the cluster',
  hot_standby: 'managed by the cluster',
  hot_standby_feedback: 'managed by the cluster',
  wal_log_hints: 'managed by the cluster (pg_rewind needs it)',
  max_wal_senders: 'derived from the topology',
  max_replication_slots: 'derived from the topology',
  wal_keep_size: 'managed by the cluster (rejoin by rewind needs it)',
  max_slot_wal_keep_size: 'managed by the cluster',
  primary_conninfo: 'written by repmgr',
  primary_slot_name: 'written by repmgr',
  promote_trigger_file: 'managed by the cluster',
  recovery_min_apply_delay: 'managed by the cluster',
  synchronous_standby_names: 'set through the `replication` prop',
  shared_preload_libraries: 'managed by the cluster (repmgr must be loaded)',
  cluster_name: 'managed by the cluster',
  max_connections: 'set through `postgres.maxConnections`',
  superuser_reserved_connections: 'managed by the cluster',
  password_encryption: 'managed by the cluster (SCRAM)',
  // Logging must reach the container's stderr.
  log_destination: 'managed by the cluster (logs go to stderr)',
  logging_collector: 'managed by the cluster (logs go to stderr)',
  // Archiving and recovery: reserved for WAL archiving and point-in-time recovery.
  archive_mode: 'reserved for WAL archiving',
  archive_command: 'reserved for WAL archiving',
  archive_library: 'reserved for WAL archiving',
  archive_timeout: 'reserved for WAL archiving',
  archive_cleanup_command: 'reserved for WAL archiving',
  restore_command: 'reserved for WAL archiving',
  recovery_end_command: 'reserved for WAL archiving',
  recovery_target: 'reserved for point-in-time recovery',
  recovery_target_action: 'reserved for point-in-time recovery',
  recovery_target_inclusive: 'reserved for point-in-time recovery',
  recovery_target_lsn: 'reserved for point-in-time recovery',
  recovery_target_name: 'reserved for point-in-time recovery',
  recovery_target_time: 'reserved for point-in-time recovery',
  recovery_target_timeline: 'reserved for point-in-time recovery',
  recovery_target_xid: 'reserved for point-in-time recovery',
};

/** Every `ssl*` parameter is reserved for TLS. */
const MANAGED_PREFIXES: Array<[string, string]> = [['ssl', 'reserved for TLS']];

/** Why `name` is managed by the cluster, or undefined when the user may set it. */
export function managedParameterReason(name: string): string | undefined {
  const key = name.toLowerCase();
  if (Object.prototype.hasOwnProperty.call(MANAGED, key)) {
    return MANAGED[key];
  }
  const prefix = MANAGED_PREFIXES.find(([p]) => key.startsWith(p));
  return prefix?.[1];
}

/** The sorted list of managed parameter names, for documentation and tests. */
export function managedParameterNames(): string[] {
  return Object.keys(MANAGED).sort();
}
