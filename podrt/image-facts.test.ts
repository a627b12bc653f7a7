/**
 * The facts the pods rely on, checked in the built root filesystem of each image of the version
 * set (PGHA_VERSION_SET) against its tag: the uids and gids the pods run as, every binary the
 * scripts call, the status endpoint's interpreter, the series the tag names. CI runs this file
 * for every version set (test/run-all.sh).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_PGPOOL_IMAGE, TEST_POSTGRES_IMAGE, VERSION_SET } from './helpers';
import { ensureImage, resolveImage, SUITES, type BuiltImage } from './index';
import { CATALOG_DIR, readParameterCatalog } from './parameter-catalog';

async function image(ref: string): Promise<BuiltImage> {
  const r = resolveImage(ref);
  if ('reason' in r) throw new Error(r.reason);
  return ensureImage(r.source);
}
const passwd = (img: BuiltImage) => readFileSync(join(img.rootfs, 'etc/passwd'), 'utf8');
/** Runs a command of the image in its root, as the uid the pods use. */
const inImage = (img: BuiltImage, uid: number, cmd: string[]) =>
  execFileSync('chroot', [`--userspec=${uid}:${uid}`, img.rootfs, ...cmd], { encoding: 'utf8', env: { PATH: img.config.env.PATH } });

describe(`GIVEN the images of version set ${VERSION_SET} WHEN built from their recipes THEN they hold what the pods rely on`, () => {
  it(`postgres (${TEST_POSTGRES_IMAGE}): user postgres 999:999, the binaries the scripts call, the status endpoint's perl`, async () => {
    const img = await image(TEST_POSTGRES_IMAGE);
    const major = SUITES[VERSION_SET].postgresMajor;
    expect(passwd(img)).toMatch(/^postgres:x:999:999:/m);
    for (const b of ['postgres', 'pg_ctl', 'initdb', 'pg_rewind', 'pg_basebackup', 'pg_controldata', 'psql', 'repmgr', 'repmgrd']) {
      expect(existsSync(join(img.rootfs, `usr/lib/postgresql/${major}/bin`, b)), b).toBe(true);
    }
    for (const b of ['bash', 'perl', 'setpriv', 'env', 'timeout', 'sed', 'md5sum', 'mkfifo']) {
      expect(inImage(img, 999, ['sh', '-c', `command -v ${b}`]).trim(), b).not.toBe('');
    }
    expect(inImage(img, 999, ['perl', '-MIO::Socket::IP', '-e', 'print "ok"'])).toBe('ok');
    expect(inImage(img, 999, ['postgres', '--version'])).toMatch(new RegExp(`\\(PostgreSQL\\) ${major}\\.`));
    expect(img.packages.some((p) => p.startsWith(`postgresql-${major}-repmgr `))).toBe(true);
    expect(img.config).toMatchObject({ uid: 999, gid: 999, env: { PGDATA: '/var/lib/postgresql/data/pgdata' } });
    expect(img.config.env.PATH.split(':')[0]).toBe(`/usr/lib/postgresql/${major}/bin`);
  });

  it(`postgres (${TEST_POSTGRES_IMAGE}): its pg_settings equal the committed parameter catalog the props are checked against`, async () => {
    const img = await image(TEST_POSTGRES_IMAGE);
    const major = SUITES[VERSION_SET].postgresMajor;
    const committed = JSON.parse(readFileSync(join(CATALOG_DIR, `pg${major}.json`), 'utf8'));
    const fresh = readParameterCatalog(img, VERSION_SET);
    // Regenerate with: sudo npx tsx podrt/parameter-catalog.ts <suite>
    expect(fresh.parameters).toEqual(committed.parameters);
    expect(Object.keys(fresh.parameters).length).toBeGreaterThan(300);
  });

  it(`pgpool (${TEST_PGPOOL_IMAGE}): user pgpool 1001:1001, the series of its tag, pcp tools, psql itself, perl`, async () => {
    const img = await image(TEST_PGPOOL_IMAGE);
    expect(passwd(img)).toMatch(/^pgpool:x:1001:1001:/m);
    const version = execFileSync('chroot', ['--userspec=1001:1001', img.rootfs, 'pgpool', '--version'], { encoding: 'utf8', env: { PATH: img.config.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(version + img.packages.join(' ')).toMatch(new RegExp(`pgpool2 ${SUITES[VERSION_SET].pgpoolSeries.replace('.', '\\.')}\\.`));
    for (const b of ['pgpool', 'pg_enc', 'pg_md5', 'pcp_node_info', 'pcp_attach_node', 'pcp_detach_node', 'psql', 'perl', 'bash', 'setpriv']) {
      expect(inImage(img, 1001, ['sh', '-c', `command -v ${b}`]).trim(), b).not.toBe('');
    }
    // psql itself, not Debian's perl wrapper: the reconcile loop calls it
    expect(inImage(img, 1001, ['sh', '-c', 'readlink -f "$(command -v psql)"'])).toMatch(/^\/usr\/lib\/postgresql\/\d+\/bin\/psql/);
    expect(img.config).toMatchObject({ uid: 1001, gid: 1001, workingDir: '/run/pgpool' });
  });

});
