/**
 * The npm package as a user gets it: `npm pack` on this checkout (prepack builds it), the
 * tarball installed into a fresh CommonJS project and a fresh ES-module project, each compiled
 * with `tsc --strict` and run. Both must synthesize exactly the objects the library's own
 * sources synthesize for the same props. Also: the exports map exposes the public API only,
 * every README link resolves inside the tarball or to the repository, and the README's
 * TypeScript sample compiles against the package.
 *
 * The installed package's peers (cdk8s, cdk8s-plus-27, constructs) and the compiler come from
 * this checkout's node_modules (symlinked): no registry is needed.
 */
import { execFileSync } from 'child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, synthCluster, type K8sObject } from '../unit/helpers';

const PEERS = ['cdk8s', 'cdk8s-plus-27', 'constructs', '@types/node'];
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const REPOSITORY = 'https://github.com/cdk8s-pg-ha/cdk8s-pg-ha';

/** The props both consumers and the reference synthesis use. */
const PROPS = { cascades: [{ name: 'replica', replicas: 2 }], replication: { mode: 'quorum', standbys: 1 } } as const;

/** A consumer program: synthesizes one cluster and prints its objects as JSON. */
const PROGRAM = (importLine: string) => `${importLine}
import { App, Chart } from 'cdk8s';

const app = new App();
const chart = new Chart(app, 'shop-database', { namespace: 'shop' });
const cluster = new PostgresCluster(chart, 'orders', ${JSON.stringify(PROPS)});
const objects: unknown[] = chart.toJson();
console.log(JSON.stringify({ endpoint: cluster.service.host, port: cluster.service.port, read: cluster.readService('replica').name, secret: cluster.credentials.secretName, objects }));
`;

let work: string;
let tarball: string;
let packedFiles: string[];

/** A fresh project of `type` with the tarball installed and the peers linked. */
function consumerProject(name: string, type: 'commonjs' | 'module'): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type }));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], skipLibCheck: false, outDir: 'out' },
      include: ['*.ts'],
    }),
  );
  const pkg = join(dir, 'node_modules', 'cdk8s-pg-ha');
  mkdirSync(pkg);
  execFileSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
  for (const peer of PEERS) symlinkSync(join(REPO_ROOT, 'node_modules', peer), join(dir, 'node_modules', peer));
  return dir;
}

function compileAndRun(dir: string, source: string): { endpoint: string; port: number; read: string; secret: string; objects: K8sObject[] } {
  writeFileSync(join(dir, 'main.ts'), source);
  execFileSync(process.execPath, [TSC, '-p', dir], { cwd: dir, encoding: 'utf8' });
  return JSON.parse(execFileSync(process.execPath, [join(dir, 'out', 'main.js')], { cwd: dir, encoding: 'utf8', env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' } }));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pgha-consumer-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
  // prepack's own output comes first; the JSON report is the last thing npm prints.
  const report = JSON.parse(out.slice(out.lastIndexOf('\n[') + 1));
  tarball = join(work, report[0].filename);
  packedFiles = report[0].files.map((f: { path: string }) => f.path);
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('package: GIVEN the tarball npm pack makes from a clean checkout', () => {
  it('THEN it holds the compiled JavaScript, its types and the scripts the ConfigMaps carry, and no TypeScript source', () => {
    expect(packedFiles).toContain('out/index.js');
    expect(packedFiles).toContain('out/index.d.ts');
    expect(packedFiles).toContain('out/scripts/node-entrypoint.sh');
    expect(packedFiles).toContain('out/scripts/pgpool-entrypoint.sh');
    expect(packedFiles).toContain('LICENSE');
    expect(packedFiles.filter((f) => f.startsWith('lib/') && f.endsWith('.ts'))).toEqual([]);
  });

  it('THEN package.json names the repository, homepage and bugs, and its exports map offers the public API only', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.repository.url).toContain('github.com/cdk8s-pg-ha/cdk8s-pg-ha');
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.bugs.url).toMatch(/^https:\/\//);
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './package.json']);
  });

  it('THEN every relative link of the README resolves inside the tarball, every other one is a URL', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const targets = [...readme.matchAll(/\]\(([^)\s#]+)[^)]*\)/g)].map((m) => m[1]);
    expect(targets.length).toBeGreaterThan(5);
    const unresolved = targets.filter((t) => !/^https?:\/\//.test(t) && !packedFiles.some((f) => f === t || f.startsWith(t.endsWith('/') ? t : `${t}/`)));
    expect(unresolved).toEqual([]);
    expect(targets.filter((t) => t.startsWith('https://github.com/') && !t.startsWith(REPOSITORY))).toEqual([]);
  });

  it('WHEN a CommonJS project and an ES-module project install it and compile with --strict THEN both synthesize exactly what the sources do', () => {
    const expected = synthCluster(PROPS as never, { id: 'orders', namespace: 'shop' });
    for (const [name, type, importLine] of [
      ['cjs-consumer', 'commonjs', "import { PostgresCluster } from 'cdk8s-pg-ha';"],
      ['esm-consumer', 'module', "import { PostgresCluster } from 'cdk8s-pg-ha';"],
    ] as const) {
      const dir = consumerProject(name, type);
      const got = compileAndRun(dir, PROGRAM(importLine));
      expect([got.endpoint, got.port, got.read, got.secret], name).toEqual(['orders-pgpool.shop.svc.cluster.local', 5432, 'orders-replica-ro', 'orders-credentials']);
      expect(got.objects.length, name).toBe(expected.length);
      expect(got.objects, name).toEqual(expected);
    }
  }, 120_000);

  it('WHEN a consumer imports a module path outside the exports map THEN Node refuses it', () => {
    const dir = consumerProject('deep-import', 'commonjs');
    writeFileSync(join(dir, 'deep.cjs'), "require('cdk8s-pg-ha/out/model/resolve-cluster.js');\n");
    let error = '';
    try {
      execFileSync(process.execPath, [join(dir, 'deep.cjs')], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      error = String((e as { stderr?: string }).stderr);
    }
    expect(error).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it("WHEN the README's TypeScript sample is compiled against the package THEN it compiles with --strict", () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(samples.length).toBeGreaterThan(0);
    const dir = consumerProject('readme-samples', 'commonjs');
    samples.forEach((code, i) => writeFileSync(join(dir, `sample${i}.ts`), code));
    // Compiled only: app.synth() would write dist/ into the project.
    execFileSync(process.execPath, [TSC, '-p', dir, '--noEmit'], { cwd: dir, encoding: 'utf8' });
  }, 60_000);
});
