/**
 * The software versions a cluster's configuration is rendered for. Keys are only emitted for
 * the versions that understand them: Pgpool-II ignores unknown keys silently and renamed several
 * (4.2: master_slave_mode -> backend_clustering_mode; 4.4: socket_dir ->
 * unix_socket_directories), so a config rendered for the wrong version fails quietly.
 */

/**
 * This library's version: the tag of the images it publishes (images/README.md). Equal to
 * package.json's version, which the unit tests check; a constant, not read from package.json at
 * run time, because bundlers do not ship that file next to the code.
 */
export const LIBRARY_VERSION = '0.1.0';

/** PostgreSQL major versions the renderers and the entrypoint scripts support. */
export const SUPPORTED_POSTGRES_MAJORS = [15, 16, 17, 18] as const;
export type PostgresMajorVersion = (typeof SUPPORTED_POSTGRES_MAJORS)[number];
/** The newest major a Debian suite carries with repmgr (sid), which CI runs the whole suite on. */
export const DEFAULT_POSTGRES_MAJOR: PostgresMajorVersion = 18;

/** Pgpool-II minor series the pgpool.conf renderer supports. */
export const SUPPORTED_PGPOOL_VERSIONS = ['4.3', '4.4', '4.5', '4.6', '4.7'] as const;
export type PgpoolVersion = (typeof SUPPORTED_PGPOOL_VERSIONS)[number];
/** The series the default published pgpool image carries (images/pgpool built on sid). */
export const DEFAULT_PGPOOL_VERSION: PgpoolVersion = '4.7';

/**
 * Majors refused with a reason rather than "not supported": what they lack, and when that changes.
 */
export const REFUSED_POSTGRES_MAJORS: Readonly<Record<number, string>> = {
  19: 'repmgr has no release that builds against PostgreSQL 19 (repmgr 5.5.0 is the last, and fails to build against 19: EnterpriseDB/repmgr#916), and the failover of this library is repmgr\'s',
};

/** Compares two "MAJOR.MINOR" strings numerically. */
export function pgpoolAtLeast(version: PgpoolVersion, minimum: string): boolean {
  const [aMajor, aMinor] = version.split('.').map(Number);
  const [bMajor, bMinor] = minimum.split('.').map(Number);
  return aMajor !== bMajor ? aMajor > bMajor : aMinor >= bMinor;
}
