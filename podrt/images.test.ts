/**
 * Images built without a container engine (podrt/image-build.ts): the cache, and a build that
 * cannot succeed failing with the recipe's own words. The facts the pods rely on, per image:
 * image-facts.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeBuildDir } from './image-build';
import { TEST_POSTGRES_IMAGE, VERSION_SET } from './helpers';
import { ensureImage, resolveImage, SUITES, type BuiltImage } from './index';

async function image(ref: string): Promise<BuiltImage> {
  const r = resolveImage(ref);
  if ('reason' in r) throw new Error(r.reason);
  return ensureImage(r.source);
}

describe(`GIVEN the image builder WHEN an image of version set ${VERSION_SET} is asked for again, or one its suite cannot build THEN it serves the cache, or fails naming the package`, () => {
  it('a second request for a built image is served from the cache, the same root filesystem', async () => {
    const first = await image(TEST_POSTGRES_IMAGE);
    const t0 = Date.now();
    const again = await image(TEST_POSTGRES_IMAGE);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(again.rootfs).toBe(first.rootfs);
    expect(again.buildSeconds).toBe(first.buildSeconds);
  });

  it('a recipe asked for a package its suite lacks fails, naming the package and the suite', async () => {
    // PostgreSQL 16 is in no Debian suite; the catalog refuses the reference, the recipe the build.
    expect(resolveImage('postgres:16')).toEqual({ reason: expect.stringMatching(/PostgreSQL 16 is in no Debian suite/) });
    const other = (Object.keys(SUITES) as (keyof typeof SUITES)[]).find((s) => s !== 'sid') ?? 'bookworm';
    await expect(ensureImage({ recipe: 'postgres', suite: other, params: { PG_MAJOR: '16' } })).rejects.toThrow(
      new RegExp(`recipe postgres: package postgresql-16 is not in ${other} \\(debian\\)`),
    );
  }, 600_000);
});

describe('GIVEN the build directory of a build killed half-way, with a package cache bound into it and a read-only mount', () => {
  it('WHEN it is removed before the next build THEN the mounts are undone first: the cache keeps its files and nothing fails', async () => {
    const base = mkdtempSync(join(tmpdir(), 'podrt-killed-build-'));
    const cache = join(base, 'apt-cache');
    const work = join(base, '.build-x');
    try {
      mkdirSync(cache);
      writeFileSync(join(cache, 'kept.deb'), 'a package');
      mkdirSync(join(work, 'var/cache/apt/archives'), { recursive: true });
      mkdirSync(join(work, 'ro'));
      execFileSync('mount', ['--bind', cache, join(work, 'var/cache/apt/archives')]);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', join(work, 'ro')]);
      await removeBuildDir(work);
      expect(existsSync(work)).toBe(false);
      expect(readFileSync(join(cache, 'kept.deb'), 'utf8')).toBe('a package');
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(work);
    } finally {
      for (const mp of [join(work, 'ro'), join(work, 'var/cache/apt/archives')]) spawnSync('umount', ['-l', mp]);
      rmSync(base, { recursive: true, force: true });
    }
  });
});
