/**
 * Drift: the committed dist/ is exactly what `cdk8s synth` produces now, synthesis is
 * deterministic, and every example program type-checks and synthesizes.
 */
import { execFile } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePrograms, REPO_ROOT, synthProgram } from './helpers';

const execFileAsync = promisify(execFile);
const DIST = join(REPO_ROOT, 'dist');
const BIN = join(REPO_ROOT, 'node_modules', '.bin');

/** Every file under `dir` (relative path -> bytes). */
function readTree(dir: string, prefix = ''): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix === '' ? entry : join(prefix, entry);
    if (statSync(join(dir, rel)).isDirectory()) {
      for (const [k, v] of readTree(dir, rel)) files.set(k, v);
    } else {
      files.set(rel, readFileSync(join(dir, rel)));
    }
  }
  return files;
}

/** Runs the cdk8s CLI exactly like `npm run synth`, into a fresh temporary folder. */
async function cliSynth(root: string, name: string): Promise<Map<string, Buffer>> {
  const outdir = join(root, name);
  await execFileAsync(join(BIN, 'cdk8s'), ['synth', '-o', outdir], {
    cwd: REPO_ROOT,
    env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' },
    timeout: 60_000,
  });
  return readTree(outdir);
}

/** Differences between two trees, as readable lines (empty when byte-identical). */
function treeDiff(expected: Map<string, Buffer>, actual: Map<string, Buffer>, expectedName: string, actualName: string): string[] {
  const diff: string[] = [];
  for (const file of new Set([...expected.keys(), ...actual.keys()])) {
    const a = expected.get(file);
    const b = actual.get(file);
    if (a === undefined) diff.push(`${file}: only in ${actualName}`);
    else if (b === undefined) diff.push(`${file}: only in ${expectedName}`);
    else if (!a.equals(b)) {
      const al = a.toString('utf8').split('\n');
      const bl = b.toString('utf8').split('\n');
      const line = al.findIndex((l, i) => l !== bl[i]);
      diff.push(`${file}: differs from line ${line + 1}: ${JSON.stringify(al[line])} (${expectedName}) vs ${JSON.stringify(bl[line])} (${actualName})`);
    }
  }
  return diff;
}

describe('drift: GIVEN the repository WHEN `cdk8s synth` runs THEN dist/ is up to date and the output is deterministic', () => {
  let root: string;
  let first: Map<string, Buffer>;
  let second: Map<string, Buffer>;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'pgha-drift-'));
    [first, second] = await Promise.all([cliSynth(root, 'a'), cliSynth(root, 'b')]);
  }, 60_000);

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('synthesizes at least one non-empty YAML file', () => {
    expect(first.size).toBeGreaterThan(0);
    for (const [file, bytes] of first) {
      expect(file).toMatch(/\.k8s\.yaml$/);
      expect(bytes.length).toBeGreaterThan(0);
    }
  });

  it('two synth runs give byte-identical output', () => {
    expect(treeDiff(first, second, 'run 1', 'run 2')).toEqual([]);
  });

  it('dist/ exists and equals a fresh synth byte for byte (run `npm run synth` and commit dist/ when this fails)', () => {
    expect(existsSync(DIST), 'dist/ is missing: run `npm run synth`').toBe(true);
    expect(treeDiff(readTree(DIST), first, 'dist/', 'fresh synth')).toEqual([]);
  });

  it('the drift comparison detects a changed byte (so the check above can fail)', () => {
    const tampered = new Map(first);
    const [file, bytes] = [...first][0];
    tampered.set(file, Buffer.concat([bytes, Buffer.from(' ')]));
    expect(treeDiff(first, tampered, 'a', 'b')).toHaveLength(1);
    tampered.set('extra.k8s.yaml', Buffer.from(''));
    expect(treeDiff(first, tampered, 'a', 'b')).toContain('extra.k8s.yaml: only in b');
  });
});

describe('drift: GIVEN every program in examples/ THEN it type-checks and synthesizes', () => {
  it('examples/, charts/ and main.ts type-check against the library (tsc --noEmit)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-tsc-'));
    try {
      const config = join(dir, 'tsconfig.json');
      writeFileSync(
        config,
        JSON.stringify({
          extends: join(REPO_ROOT, 'tsconfig.json'),
          compilerOptions: { typeRoots: [join(REPO_ROOT, 'node_modules', '@types')] },
          include: [...examplePrograms().map((p) => join(REPO_ROOT, p)), join(REPO_ROOT, 'charts'), join(REPO_ROOT, 'main.ts')],
        }),
      );
      const result = await execFileAsync(join(BIN, 'tsc'), ['--noEmit', '-p', config], { cwd: REPO_ROOT, timeout: 60_000 }).then(
        () => '',
        (e: { stdout?: string; stderr?: string; message: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message,
      );
      expect(result).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('every example program synthesizes one non-empty chart file', async () => {
    const programs = examplePrograms();
    const results = await Promise.all(programs.map((p) => synthProgram(p)));
    results.forEach((r, i) => {
      expect(Object.keys(r.files), programs[i]).toHaveLength(1);
      expect(r.objects.length, programs[i]).toBeGreaterThan(5);
    });
  }, 60_000);
});
