/**
 * postgresql.conf for every PostgreSQL node. Every node gets the same replication settings, so
 * any member can become primary and a standby never has lower limits than its primary.
 */
import { membersOf, type ResolvedCluster, type ResolvedTier } from '../model/resolved';
import { renderConf, type ConfSection, type ConfValue } from './conf-format';
import { NODE_PATHS, TLS_FILES } from './paths';

/**
 * `ANY n ("a","b",...)` over the members' repmgr node names, or '' for asynchronous. The
 * witness never has standbys, so it never waits for any (it would block its own writes).
 */
/** A size in MiB as postgresql.conf writes it: '4GB' when whole gigabytes, else '512MB'. */
function megabytes(mb: number): string {
  return mb % 1024 === 0 ? `${mb / 1024}GB` : `${mb}MB`;
}

export function synchronousStandbyNames(cluster: ResolvedCluster, tier?: ResolvedTier): string {
  if (cluster.synchronousQuorum === 0 || tier?.kind === 'witness') {
    return '';
  }
  const members = membersOf(cluster);
  const names = Array.from({ length: members.replicas }, (_, i) => `"${members.statefulSetName}-${i}"`);
  return `ANY ${cluster.synchronousQuorum} (${names.join(', ')})`;
}

/** postgresql.conf of the nodes of `tier` (every tier but the witness gets the same text). */
export function renderPostgresqlConf(cluster: ResolvedCluster, tier?: ResolvedTier): string {
  const pg = cluster.postgres;
  const userSettings = Object.keys(pg.parameters)
    .sort()
    .map((key) => [key, pg.parameters[key]] as const);
  const setting = (key: string, value: ConfValue) => [key, value] as const;
  return renderConf(
    [
      `postgresql.conf for cluster "${cluster.name}", PostgreSQL ${pg.majorVersion}.`,
      'Rendered by cdk8s-pg-ha: change the construct props, not this file.',
    ],
    [
      {
        title: 'Connections (the Services, probes and peers depend on these)',
        settings: [
          setting('listen_addresses', '*'),
          setting('port', pg.port),
          setting('unix_socket_directories', NODE_PATHS.sockets),
          setting('hba_file', `${NODE_PATHS.config}/pg_hba.conf`),
          setting('max_connections', pg.maxConnections),
          setting('superuser_reserved_connections', pg.superuserReservedConnections),
          setting('password_encryption', 'scram-sha-256'),
          // Notice a silently vanished client or peer within about 25 s instead of hours.
          setting('tcp_keepalives_idle', 10),
          setting('tcp_keepalives_interval', 5),
          setting('tcp_keepalives_count', 3),
        ],
      },
      tlsSection(cluster),
      {
        title: 'Replication (identical on every node: any member may become primary)',
        settings: [
          setting('wal_level', 'replica'),
          setting('max_wal_senders', pg.maxWalSenders),
          setting('max_replication_slots', pg.maxWalSenders),
          setting('hot_standby', true),
          setting('hot_standby_feedback', true),
          // pg_rewind needs hint bits WAL-logged to rejoin a former primary without a re-clone.
          setting('wal_log_hints', true),
          // Keep the WAL an old primary needs to rewind onto this one, and bound what
          // replication slots of a vanished standby may pin.
          setting('wal_keep_size', megabytes(pg.walKeepSizeMb)),
          setting('max_slot_wal_keep_size', megabytes(pg.maxSlotWalKeepSizeMb)),
          // A walsender or walreceiver whose peer is gone (partition) gives up within 10 s.
          setting('wal_sender_timeout', '10s'),
          setting('wal_receiver_timeout', '10s'),
          setting('wal_retrieve_retry_interval', '1s'),
          setting('synchronous_standby_names', synchronousStandbyNames(cluster, tier)),
          setting('shared_preload_libraries', 'repmgr'),
        ],
      },
      {
        title: 'Logging (to stderr, where the container runtime collects it)',
        settings: [
          setting('log_destination', 'stderr'),
          setting('logging_collector', false),
          setting('log_line_prefix', '%m [%p] %q%u@%d '),
          setting('log_connections', false),
          setting('log_replication_commands', false),
        ],
      },
      { title: 'Parameters set by the user (postgres.parameters)', settings: userSettings },
    ],
  );
}

/**
 * TLS: the server certificate names every Service and pod (resolve-cluster.ts resolveTls), and
 * pg_hba.conf accepts network connections only over TLS. The files are the mounted Secret: a
 * renewed certificate takes effect on a reload, without a restart (PostgreSQL 10 and later).
 * The key is owned by root and group-readable (0440, the pod's fsGroup), which PostgreSQL
 * accepts for a root-owned key.
 */
function tlsSection(cluster: ResolvedCluster): ConfSection {
  if (cluster.tls.mode === 'off') {
    return { title: `TLS off (tls.plaintextReason: ${cluster.tls.plaintextReason})`, settings: [['ssl', false]] };
  }
  return {
    title: 'TLS (pg_hba.conf takes network connections over TLS only)',
    settings: [
      ['ssl', true],
      ['ssl_cert_file', `${NODE_PATHS.tls}/${TLS_FILES.certificate}`],
      ['ssl_key_file', `${NODE_PATHS.tls}/${TLS_FILES.key}`],
      // Verifies client certificates (the cert method in pg_hba.conf) against the same CA.
      ['ssl_ca_file', `${NODE_PATHS.tls}/${TLS_FILES.ca}`],
      ['ssl_min_protocol_version', 'TLSv1.2'],
    ],
  };
}
