/**
 * The PostgreSQL parameter catalog of a postgres image: what images/postgres/parameter-catalog.sh
 * prints when run in the image's root filesystem, as the image's postgres user, with a private
 * /tmp. The committed catalogs in lib/model/parameter-catalog/ come from here, and
 * podrt/image-facts.test.ts regenerates each version set's to compare.
 *
 *   sudo npx tsx podrt/parameter-catalog.ts bookworm   # writes lib/model/parameter-catalog/pg15.json
 *   npx tsx podrt/parameter-catalog.ts pg16            # pg16.json from pg15.json and pg17.json
 *
 * PostgreSQL 16 is in no Debian suite (bookworm has 15, trixie 17), so no image of it can be
 * built here and its catalog is not regenerated: it is the union of 15's and 17's (a name either
 * knows is accepted; where both know it, 17's definition), and says so in generatedFrom.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './image-build';
import { ensureImage, resolveImage, SUITES, type BuiltImage, type DebianSuite } from './index';

export interface ParameterCatalog {
  readonly major: number;
  /** The package the catalog was read from, e.g. "postgresql-18 18.6-3 (Debian sid)". */
  readonly generatedFrom: string;
  readonly parameters: Record<string, { type: string; unit?: string; min?: number; max?: number; values?: string[] }>;
}

export const CATALOG_DIR = path.join(PROJECT_ROOT, 'lib', 'model', 'parameter-catalog');

/** Runs the catalog script in `img` and returns its catalog. */
export function readParameterCatalog(img: BuiltImage, suite: DebianSuite): ParameterCatalog {
  const major = SUITES[suite].postgresMajor;
  const script = path.join(PROJECT_ROOT, 'images', 'postgres', 'parameter-catalog.sh');
  const out = execFileSync(
    'setpriv',
    ['--reuid', String(img.config.uid), '--regid', String(img.config.gid), '--clear-groups',
      'bwrap', '--ro-bind', img.rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
      '--ro-bind', script, '/tmp/parameter-catalog.sh', '--unshare-net', '--clearenv', '--setenv', 'PATH', img.config.env.PATH,
      'sh', '/tmp/parameter-catalog.sh'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const parsed = JSON.parse(out) as { major: number; parameters: ParameterCatalog['parameters'] };
  if (parsed.major !== major) throw new Error(`the ${suite} image runs PostgreSQL ${parsed.major}, not ${major}`);
  const pkg = img.packages.find((p) => p.startsWith(`postgresql-${major} `)) ?? `postgresql-${major}`;
  return { major, generatedFrom: `${pkg} (Debian ${suite})`, parameters: parsed.parameters };
}

/** The catalog as committed: one parameter per line, so a diff shows what a major changed. */
export function formatCatalog(catalog: ParameterCatalog): string {
  const lines = Object.entries(catalog.parameters).map(([name, spec]) => `    ${JSON.stringify(name)}: ${JSON.stringify(spec)}`);
  return `{\n  "major": ${catalog.major},\n  "generatedFrom": ${JSON.stringify(catalog.generatedFrom)},\n  "parameters": {\n${lines.join(',\n')}\n  }\n}\n`;
}

/** The catalog of PostgreSQL 16, from its neighbours (see the header). */
export function neighbourCatalog16(pg15: ParameterCatalog, pg17: ParameterCatalog): ParameterCatalog {
  const names = [...new Set([...Object.keys(pg15.parameters), ...Object.keys(pg17.parameters)])].sort();
  return {
    major: 16,
    generatedFrom:
      'not regenerated: PostgreSQL 16 is in no Debian suite; the union of the 15 and 17 catalogs (' +
      `${pg15.generatedFrom}; ${pg17.generatedFrom}), 17's definition where both have one`,
    parameters: Object.fromEntries(names.map((n) => [n, pg17.parameters[n] ?? pg15.parameters[n]])),
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === 'pg16') {
    const read = (major: number): ParameterCatalog => JSON.parse(readFileSync(path.join(CATALOG_DIR, `pg${major}.json`), 'utf8'));
    const catalog = neighbourCatalog16(read(15), read(17));
    writeFileSync(path.join(CATALOG_DIR, 'pg16.json'), formatCatalog(catalog));
    console.log(`pg16.json: ${Object.keys(catalog.parameters).length} parameters, ${catalog.generatedFrom}`);
    return;
  }
  const suite = process.argv[2] as DebianSuite;
  if (!SUITES[suite]) throw new Error(`usage: parameter-catalog.ts <${Object.keys(SUITES).join('|')}>`);
  const major = SUITES[suite].postgresMajor;
  const r = resolveImage(`postgres:${major}`);
  if ('reason' in r) throw new Error(r.reason);
  const catalog = readParameterCatalog(await ensureImage(r.source), suite);
  const file = path.join(CATALOG_DIR, `pg${major}.json`);
  writeFileSync(file, formatCatalog(catalog));
  console.log(`${file}: ${Object.keys(catalog.parameters).length} parameters from ${catalog.generatedFrom}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
