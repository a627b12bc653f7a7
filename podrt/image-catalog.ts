/**
 * Which image the runtime can build for a reference: the recipe (images/<recipe>/recipe.sh), the
 * Debian suite it runs on and its parameters. The runtime never pulls: every image it runs is
 * built locally from the recipe its reference names, and a reference it cannot map stays in
 * ErrImagePull with the reason.
 *
 * The suites and what they carry are Debian's, not this machine's: the recipes check them at
 * build time (a missing package or another Pgpool-II series fails the build, naming both).
 */

export type Recipe = 'postgres' | 'pgpool' | 'test-tools';
export type DebianSuite = 'bookworm' | 'trixie' | 'sid';

export interface ImageSource {
  readonly recipe: Recipe;
  readonly suite: DebianSuite;
  /** the recipe's parameters (environment of recipe.sh) */
  readonly params: Readonly<Record<string, string>>;
}

/** What each suite carries (Debian 12, 13 and unstable, as of 2026-12). */
export const SUITES: Readonly<Record<DebianSuite, { readonly postgresMajor: number; readonly pgpoolSeries: string }>> = {
  bookworm: { postgresMajor: 15, pgpoolSeries: '4.3' },
  trixie: { postgresMajor: 17, pgpoolSeries: '4.6' },
  sid: { postgresMajor: 18, pgpoolSeries: '4.7' },
};

/** The default version set: the suite carrying the constructs' default PostgreSQL and Pgpool-II. */
export const DEFAULT_VERSION_SET: DebianSuite = 'sid';

/**
 * The version set tests and benchmarks run: a Debian suite, from PGHA_VERSION_SET (bookworm,
 * trixie or sid; default DEFAULT_VERSION_SET).
 */
export function versionSet(env: NodeJS.ProcessEnv = process.env): DebianSuite {
  const set = env.PGHA_VERSION_SET ?? DEFAULT_VERSION_SET;
  if (!(set in SUITES)) throw new Error(`PGHA_VERSION_SET=${set}: expected one of ${Object.keys(SUITES).join(', ')}`);
  return set as DebianSuite;
}

/** The suite the runtime's test-tools image is built on (the one its tests need least from). */
const TEST_TOOLS_SUITE: DebianSuite = 'bookworm';
/** Repository names the runtime's own tests use for a shell or python image. */
const TEST_TOOL_NAMES = ['busybox', 'python', 'bash', 'debian'];

/** "ghcr.io/org/postgres-repmgr:0.1.0-pg18@sha256:.." -> { name: "postgres-repmgr", tag: "0.1.0-pg18" }. */
export function parseReference(image: string): { repository: string; name: string; tag: string } {
  const ref = image.split('@')[0];
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const repository = colon > lastSlash ? ref.slice(0, colon) : ref;
  const tag = colon > lastSlash ? ref.slice(colon + 1) : 'latest';
  return { repository, name: repository.split('/').pop()!.toLowerCase(), tag };
}

const suiteCarrying = (pred: (s: (typeof SUITES)[DebianSuite]) => boolean) =>
  (Object.keys(SUITES) as DebianSuite[]).find((s) => pred(SUITES[s]));
const carried = (what: (s: (typeof SUITES)[DebianSuite]) => string | number) =>
  (Object.keys(SUITES) as DebianSuite[]).map((s) => `${s} ${what(SUITES[s])}`).join(', ');

/** The image to build for a reference, or why there is none. */
export function resolveImage(image: string): { source: ImageSource } | { reason: string } {
  const { name, tag } = parseReference(image || '');
  if (name.includes('pgpool')) {
    const series = /pgpool(\d+\.\d+)/.exec(tag)?.[1] ?? /^(\d+\.\d+)/.exec(tag)?.[1];
    if (!series) return { reason: `image ${image}: the tag names no Pgpool-II series (expected e.g. ...-pgpool4.7 or 4.7)` };
    const suite = suiteCarrying((s) => s.pgpoolSeries === series);
    if (!suite) return { reason: `image ${image}: Pgpool-II ${series} is in no Debian suite the runtime builds from (${carried((s) => s.pgpoolSeries)})` };
    return { source: { recipe: 'pgpool', suite, params: { PGPOOL_SERIES: series } } };
  }
  if (name.includes('postgres')) {
    const major = /pg(\d+)/.exec(tag)?.[1] ?? /^(\d+)/.exec(tag)?.[1];
    if (!major) return { reason: `image ${image}: the tag names no PostgreSQL major (expected e.g. ...-pg18 or 18)` };
    const suite = suiteCarrying((s) => String(s.postgresMajor) === major);
    if (!suite) return { reason: `image ${image}: PostgreSQL ${major} is in no Debian suite the runtime builds from (${carried((s) => s.postgresMajor)})` };
    return { source: { recipe: 'postgres', suite, params: { PG_MAJOR: major } } };
  }
  if (TEST_TOOL_NAMES.some((n) => name.startsWith(n))) return { source: { recipe: 'test-tools', suite: TEST_TOOLS_SUITE, params: {} } };
  return { reason: `image ${image}: no recipe builds it (the runtime builds postgres, pgpool and test-tools images from images/*/recipe.sh, and pulls nothing)` };
}
