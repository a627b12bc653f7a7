/**
 * Image profiles: how an image reference maps onto the software installed on this host.
 *
 * The runtime never pulls images. Every container runs the host's /usr (read-only) inside a
 * fresh root directory of its own; a profile adds what the real image would have: its users
 * (/etc/passwd, /etc/group, /etc/shadow of the container), its default environment, a few
 * directories of the image with their owners, and its default user. Profiles are matched on the
 * image *repository* name (registry and tag are ignored), first match wins.
 *
 * Where a profile differs from the real image is documented in podrt/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

export interface ImageUser { name: string; uid: number; gid: number; home: string; shell: string }
export interface ImageGroup { name: string; gid: number; members?: string[] }
export interface ImageDir { path: string; uid: number; gid: number; mode: number }

export interface ImageProfile {
  /** profile name shown in `get pods -o wide` and in warnings */
  name: string;
  users: ImageUser[];
  groups: ImageGroup[];
  /** image ENV */
  env: Record<string, string>;
  /** directories that exist in the image (created in the container's root) */
  dirs: ImageDir[];
  /** default uid/gid when no runAsUser/runAsGroup is given (the image's USER) */
  defaultUid: number;
  defaultGid: number;
  /** image WORKDIR */
  workingDir: string;
  /** the image's ENTRYPOINT + CMD if the pod gives no command (undefined: none available) */
  entrypoint?: string[];
}

const STD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const BASE_USERS: ImageUser[] = [
  { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash' },
  { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent', shell: '/usr/sbin/nologin' },
];
const BASE_GROUPS: ImageGroup[] = [
  { name: 'root', gid: 0 },
  { name: 'shadow', gid: 42 },
  { name: 'nogroup', gid: 65534 },
];
const BASE_DIRS: ImageDir[] = [
  { path: '/root', uid: 0, gid: 0, mode: 0o700 },
  { path: '/tmp', uid: 0, gid: 0, mode: 0o1777 },
  { path: '/var/tmp', uid: 0, gid: 0, mode: 0o1777 },
  { path: '/run', uid: 0, gid: 0, mode: 0o755 },
  { path: '/home', uid: 0, gid: 0, mode: 0o755 },
  { path: '/opt', uid: 0, gid: 0, mode: 0o755 },
  { path: '/srv', uid: 0, gid: 0, mode: 0o755 },
  { path: '/mnt', uid: 0, gid: 0, mode: 0o755 },
  { path: '/var/lib', uid: 0, gid: 0, mode: 0o755 },
  { path: '/var/log', uid: 0, gid: 0, mode: 0o755 },
  { path: '/var/cache', uid: 0, gid: 0, mode: 0o755 },
];

let pgCache: { major: string; bindir: string; version: string } | undefined;

/** Discover the installed PostgreSQL major version and bin dir at run time (never hard-coded). */
export function discoverPostgres(): { major: string; bindir: string; version: string } {
  if (pgCache) return pgCache;
  let version = '';
  let major = '';
  try {
    version = execFileSync('pg_config', ['--version'], { encoding: 'utf8' }).trim(); // "PostgreSQL 15.18 (Debian ...)"
    const m = /PostgreSQL (\d+)(?:\.(\d+))?/.exec(version);
    if (m) { major = m[1]; version = m[2] ? `${m[1]}.${m[2]}` : m[1]; }
  } catch { /* fall back to the directory listing */ }
  if (!major || !existsSync(`/usr/lib/postgresql/${major}/bin`)) {
    const majors = existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql').filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a))
      : [];
    if (!majors.length) throw new Error('image profile postgres: no PostgreSQL under /usr/lib/postgresql');
    major = majors[0];
    if (!version) version = major;
  }
  pgCache = { major, bindir: `/usr/lib/postgresql/${major}/bin`, version };
  return pgCache;
}

function postgresProfile(): ImageProfile {
  const pg = discoverPostgres();
  return {
    name: 'postgres',
    users: [...BASE_USERS, { name: 'postgres', uid: 999, gid: 999, home: '/var/lib/postgresql', shell: '/bin/bash' }],
    groups: [...BASE_GROUPS, { name: 'postgres', gid: 999 }],
    env: {
      PATH: `${pg.bindir}:${STD_PATH}`,
      PG_MAJOR: pg.major,
      PG_VERSION: pg.version,
      PGDATA: '/var/lib/postgresql/data',
      LANG: 'C.UTF-8',
    },
    dirs: [
      ...BASE_DIRS,
      { path: '/var/lib/postgresql', uid: 999, gid: 999, mode: 0o755 },
      { path: '/var/lib/postgresql/data', uid: 999, gid: 999, mode: 0o777 },
      { path: '/run/postgresql', uid: 999, gid: 999, mode: 0o3777 },
      { path: '/docker-entrypoint-initdb.d', uid: 0, gid: 0, mode: 0o755 },
    ],
    defaultUid: 0,
    defaultGid: 0,
    workingDir: '/',
    entrypoint: undefined,
  };
}

function pgpoolProfile(): ImageProfile {
  const pg = discoverPostgres();
  return {
    name: 'pgpool',
    users: [...BASE_USERS, { name: 'pgpool', uid: 1001, gid: 1001, home: '/home/pgpool', shell: '/bin/bash' }],
    groups: [...BASE_GROUPS, { name: 'pgpool', gid: 1001 }],
    env: {
      // /usr/sbin holds pgpool and the pcp_* tools (Debian), the PostgreSQL bin dir psql & co.
      // (the PostgreSQL bin dir before /usr/bin: psql itself, not Debian's pg_wrapper)
      PATH: `/usr/sbin:${pg.bindir}:/usr/bin:/usr/local/sbin:/usr/local/bin:/sbin:/bin`,
      LANG: 'C.UTF-8',
    },
    dirs: [
      ...BASE_DIRS,
      { path: '/home/pgpool', uid: 1001, gid: 1001, mode: 0o755 },
      { path: '/run/pgpool', uid: 1001, gid: 1001, mode: 0o755 },
      { path: '/var/log/pgpool', uid: 1001, gid: 1001, mode: 0o755 },
    ],
    defaultUid: 1001,
    defaultGid: 1001,
    workingDir: '/',
    entrypoint: undefined,
  };
}

function genericProfile(name: string): ImageProfile {
  return {
    name,
    users: [...BASE_USERS],
    groups: [...BASE_GROUPS],
    env: { PATH: STD_PATH },
    dirs: [...BASE_DIRS],
    defaultUid: 0,
    defaultGid: 0,
    workingDir: '/',
    entrypoint: name === 'busybox' || name === 'generic' ? ['sh'] : name === 'python' ? ['python3'] : name === 'node' ? ['node'] : undefined,
  };
}

/** The repository part of an image reference: "docker.io/library/postgres:17@sha.." -> "library/postgres". */
export function imageRepository(image: string): string {
  let ref = image.split('@')[0];
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > lastSlash) ref = ref.slice(0, colon);
  const parts = ref.split('/');
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) parts.shift();
  return parts.join('/');
}

const GENERIC_NAMES = ['busybox', 'python', 'node', 'alpine', 'debian', 'ubuntu', 'bash'];

/** Resolve an image to its profile; `known` is false for the catch-all (reported as a warning). */
export function profileFor(image: string): { profile: ImageProfile; known: boolean } {
  const repo = imageRepository(image || '').toLowerCase();
  if (repo.includes('pgpool')) return { profile: pgpoolProfile(), known: true };
  if (repo.includes('postgres')) return { profile: postgresProfile(), known: true };
  for (const g of GENERIC_NAMES) {
    if (repo.split('/').pop()!.startsWith(g)) return { profile: genericProfile(g), known: true };
  }
  return { profile: genericProfile('generic'), known: false };
}

export function passwdFile(p: ImageProfile): string {
  return p.users.map((u) => `${u.name}:x:${u.uid}:${u.gid}:${u.name}:${u.home}:${u.shell}`).join('\n') + '\n';
}
export function groupFile(p: ImageProfile): string {
  return p.groups.map((g) => `${g.name}:x:${g.gid}:${(g.members ?? []).join(',')}`).join('\n') + '\n';
}
export function shadowFile(p: ImageProfile): string {
  return p.users.map((u) => `${u.name}:*:19000:0:99999:7:::`).join('\n') + '\n';
}
