/**
 * Paths inside the containers, as laid out in docs/pod-contract.md. The renderers, the
 * constructs (volume mounts) and the shell scripts must agree on every one of them.
 */
export const NODE_PATHS = {
  dataMount: '/var/lib/postgresql/data',
  pgdata: '/var/lib/postgresql/data/pgdata',
  config: '/etc/pgha/config',
  scripts: '/opt/pgha/scripts',
  secrets: '/etc/pgha/secrets',
  /** The TLS Secret (TLS_FILES), when TLS is on. */
  tls: '/etc/pgha/tls',
  sockets: '/var/run/postgresql',
  runtime: '/run/pgha',
  tmp: '/tmp',
  shm: '/dev/shm',
  /** The per-node repmgr.conf the entrypoint writes (common part + node lines). */
  repmgrConf: '/run/pgha/repmgr.conf',
  passfile: '/run/pgha/pgpass',
  /**
   * PostgreSQL's log: a FIFO the entrypoint drains to the container's output (node-env.sh
   * PG_LOG_FIFO). Every pg_ctl start points -l here, also repmgr's: with -l /dev/stderr, a server
   * that repmgr started (rejoin, follow) logged into repmgr's output pipe, gone once repmgr exits.
   */
  postgresLog: '/run/pgha/postgres.log',
} as const;

export const PGPOOL_PATHS = {
  config: '/etc/pgha/pgpool',
  scripts: '/opt/pgha/scripts',
  secrets: '/etc/pgha/secrets',
  /** The TLS Secret (TLS_FILES), when TLS is on. */
  tls: '/etc/pgha/tls',
  runtime: '/run/pgpool',
  tmp: '/tmp',
} as const;

/** Keys of the credentials Secret (docs/pod-contract.md). */
export const SECRET_KEYS = {
  superuserPassword: 'superuser-password',
  replicationPassword: 'replication-password',
  appPassword: 'app-password',
  monitorPassword: 'monitor-password',
  pgpoolKey: 'pgpool-key',
} as const;

/**
 * Keys of the TLS Secret, in the layout cert-manager writes, and so the file names under
 * NODE_PATHS.tls and PGPOOL_PATHS.tls.
 */
export const TLS_FILES = {
  /** The server certificate, then any intermediate certificates. */
  certificate: 'tls.crt',
  /** Its private key (PEM, unencrypted). */
  key: 'tls.key',
  /** The CA that peers and clients verify the server certificate with. */
  ca: 'ca.crt',
} as const;
