/**
 * Building an image's root filesystem without a container engine: mmdebstrap makes a Debian
 * root of the image's suite, then runs the image's recipe (images/<recipe>/recipe.sh, the same
 * script its Dockerfile runs) inside it. The result is cached by recipe text, suite and
 * parameters under PODRT_IMAGE_CACHE (default /var/cache/podrt); the downloaded packages are
 * kept per suite, so each suite's packages are fetched once. Each build reports its time and
 * the package versions the recipe resolved; a failed build names what the recipe said.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImageSource } from './image-catalog';
import { mkdirp, pidAlive, rmrf, sleep } from './util';

export const PROJECT_ROOT = path.resolve(__dirname, '..');
export const CACHE_ROOT = process.env.PODRT_IMAGE_CACHE ?? '/var/cache/podrt';
/** Debian's archive; the machines this runs on reach it for every suite. */
const MIRROR = process.env.PODRT_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

/** What the recipe declares with `#@` lines: what a Dockerfile's ENV, USER, WORKDIR and CMD say. */
export interface ImageConfig {
  env: Record<string, string>;
  uid: number;
  gid: number;
  workingDir: string;
  cmd?: string[];
}

export interface BuiltImage {
  readonly key: string;
  readonly source: ImageSource;
  readonly rootfs: string;
  readonly config: ImageConfig;
  /** the recipe's "resolved" lines: package and version */
  readonly packages: string[];
  readonly buildSeconds: number;
}

export function recipePath(recipe: string): string {
  return path.join(PROJECT_ROOT, 'images', recipe, 'recipe.sh');
}

/** The `#@ ENV|USER|WORKDIR|CMD` lines of a recipe, with ${VAR} taken from its parameters. */
export function recipeDeclarations(text: string, params: Readonly<Record<string, string>> = {}): ImageConfig {
  const subst = (s: string) => s.replace(/\$\{(\w+)\}/g, (_m, v: string) => params[v] ?? `\${${v}}`);
  const config: ImageConfig = { env: {}, uid: 0, gid: 0, workingDir: '/' };
  for (const m of text.matchAll(/^#@ (ENV|USER|WORKDIR|CMD) (.+)$/gm)) {
    const value = subst(m[2].trim());
    if (m[1] === 'ENV') {
      const eq = value.indexOf('=');
      config.env[value.slice(0, eq)] = value.slice(eq + 1);
    } else if (m[1] === 'USER') {
      const [u, g] = value.split(':').map(Number);
      config.uid = u;
      config.gid = g ?? u;
    } else if (m[1] === 'WORKDIR') config.workingDir = value;
    else config.cmd = JSON.parse(value) as string[];
  }
  return config;
}

export function imageKey(source: ImageSource): string {
  const text = fs.readFileSync(recipePath(source.recipe), 'utf8');
  const params = Object.entries(source.params).sort().map(([k, v]) => `${k}=${v}`);
  const hash = createHash('sha256').update(text).update(params.join('\n')).update(BUILDER_VERSION).digest('hex').slice(0, 12);
  return [source.recipe, source.suite, ...Object.values(source.params), hash].join('-');
}
/** Changes to how the builder calls mmdebstrap invalidate the cache. */
const BUILDER_VERSION = 'mmdebstrap-apt-2';

const building = new Map<string, Promise<BuiltImage>>();

/** The image's root filesystem, built first when it is not in the cache. */
export function ensureImage(source: ImageSource, progress: (msg: string) => void = () => {}): Promise<BuiltImage> {
  const key = imageKey(source);
  let p = building.get(key);
  if (!p) {
    p = buildOnce(key, source, progress).finally(() => building.delete(key));
    building.set(key, p);
  }
  return p;
}

/** A cached image, or undefined. */
export function cachedImage(source: ImageSource): BuiltImage | undefined {
  const file = path.join(CACHE_ROOT, 'images', imageKey(source), 'image.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as BuiltImage) : undefined;
}

async function buildOnce(key: string, source: ImageSource, progress: (msg: string) => void): Promise<BuiltImage> {
  const done = cachedImage(source);
  if (done) return done;
  const release = await lock(path.join(CACHE_ROOT, 'locks', key), progress);
  try {
    return cachedImage(source) ?? (await build(key, source, progress));
  } finally {
    release();
  }
}

/** A lock directory with the owner's pid; a dead owner's lock is taken over. */
async function lock(dir: string, progress: (msg: string) => void): Promise<() => void> {
  mkdirp(path.dirname(dir));
  for (let waited = 0; ; waited++) {
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
      return () => rmrf(dir);
    } catch {
      let owner = 0;
      try { owner = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8')) || 0; } catch { /* the owner has not written it yet */ }
      if (owner && !pidAlive(owner)) { rmrf(dir); continue; }
      if (waited % 30 === 0) progress(`waiting for another build of the same image (pid ${owner || '?'})`);
      await sleep(1000);
    }
  }
}

async function build(key: string, source: ImageSource, progress: (msg: string) => void): Promise<BuiltImage> {
  const recipe = recipePath(source.recipe);
  if (!fs.existsSync(recipe)) throw new Error(`no recipe at ${recipe}`);
  const images = path.join(CACHE_ROOT, 'images');
  const final = path.join(images, key);
  const work = path.join(images, `.build-${key}`);
  const archives = path.join(CACHE_ROOT, 'apt', source.suite);
  const logFile = path.join(images, `${key}.log`);
  mkdirp(archives);
  mkdirp(images);
  await removeBuildDir(work);
  const envArgs = Object.entries({ ...source.params, SUITE: source.suite }).map(([k, v]) => `${k}=${v}`).join(' ');
  const args = [
    '--variant=apt', '--mode=root', '--format=directory',
    // sid's Release file on some mirrors is past its Valid-Until date
    '--aptopt=Acquire::Check-Valid-Until "false"',
    // the downloaded packages stay in the suite's cache for the next build
    '--skip=download/empty',
    // what the recipe puts under /run (its users' directories) stays, as in a Docker layer
    '--skip=cleanup/run',
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives" && mount --bind ${archives} "$1/var/cache/apt/archives"`,
    `--customize-hook=copy-in ${recipe} /tmp`,
    `--customize-hook=chroot "$1" env ${envArgs} sh /tmp/recipe.sh`,
    '--customize-hook=rm -f "$1/tmp/recipe.sh"; umount "$1/var/cache/apt/archives"',
    source.suite, work, MIRROR,
  ];
  progress(`building image ${key}: recipe ${source.recipe} on Debian ${source.suite} (mmdebstrap; log ${logFile})`);
  const t0 = Date.now();
  const { code, output } = await run('mmdebstrap', args, logFile);
  // a failed build may leave the cache mounted inside the work directory
  await run('umount', ['-l', path.join(work, 'var/cache/apt/archives')], '/dev/null');
  // The recipe's own lines: "recipe NAME: ..." (errors, and "resolved ...:" followed by one
  // "  package version" line per package).
  const lines = output.split('\n');
  const resolvedAt = lines.findIndex((l) => /^recipe \S+: resolved/.test(l));
  const said = [
    ...lines.filter((l) => /^recipe \S+: /.test(l)),
    ...(resolvedAt >= 0 ? lines.slice(resolvedAt + 1).filter((l) => /^ {2}\S+ \S+$/.test(l)) : []),
  ];
  if (code !== 0) {
    await removeBuildDir(work);
    const why = said.filter((l) => l.startsWith('recipe ')).join('; ') || output.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`building ${source.recipe} on ${source.suite} failed (mmdebstrap exit ${code}): ${why} (log: ${logFile})`);
  }
  // Mount points a container's root needs for the files the runtime binds over.
  for (const f of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname']) {
    if (!fs.existsSync(path.join(work, f))) fs.writeFileSync(path.join(work, f), '');
  }
  const built: BuiltImage = {
    key,
    source,
    rootfs: path.join(final, 'rootfs'),
    config: recipeDeclarations(fs.readFileSync(recipe, 'utf8'), source.params),
    packages: said.filter((l) => l.startsWith('  ')).map((l) => l.trim()),
    buildSeconds: Math.round((Date.now() - t0) / 100) / 10,
  };
  rmrf(final);
  mkdirp(final);
  fs.renameSync(work, built.rootfs);
  fs.writeFileSync(path.join(final, 'image.json'), JSON.stringify(built, null, 1));
  progress(`built image ${key} in ${built.buildSeconds} s: ${built.packages.join(', ')}`);
  return built;
}

/**
 * Removes a build directory, unmounting first what a build killed half-way left mounted in it
 * (mmdebstrap's /proc, /sys, /dev/pts, /dev/shm, and the apt cache bound in by the setup hook):
 * removing through those would fail on /proc and /sys and empty the suite's package cache.
 */
export async function removeBuildDir(work: string): Promise<void> {
  const mountPoints = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp): mp is string => !!mp && (mp === work || mp.startsWith(`${work}/`)))
    .sort((a, b) => b.length - a.length);
  for (const mp of mountPoints) await run('umount', ['-l', mp], '/dev/null');
  rmrf(work);
}

function run(cmd: string, args: string[], logFile: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const out = fs.createWriteStream(logFile);
    const take = (d: Buffer) => { output += d.toString(); out.write(d); };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    p.once('error', (e) => { out.end(); resolve({ code: 127, output: String(e) }); });
    p.once('close', (code) => { out.end(); resolve({ code: code ?? 1, output }); });
  });
}
