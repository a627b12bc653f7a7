/**
 * The API reference (docs/api/, from the doc comments by TypeDoc, typedoc.json) is the one the
 * code gives now: regenerated and compared, like dist/. Regenerate with `npm run docs:api`.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../unit/helpers';

const COMMITTED = join(REPO_ROOT, 'docs', 'api');
const read = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

describe('api reference: GIVEN the doc comments of the public API WHEN TypeDoc renders them THEN docs/api/ is up to date', () => {
  it('docs/api/ equals a fresh rendering (run `npm run docs:api` and commit docs/api/ when this fails)', () => {
    const out = mkdtempSync(join(tmpdir(), 'pgha-api-'));
    try {
      execFileSync(join(REPO_ROOT, 'node_modules', '.bin', 'typedoc'), ['--out', out], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      const fresh = read(out);
      expect(Object.keys(fresh)).toEqual(Object.keys(read(COMMITTED)));
      expect(fresh).toEqual(read(COMMITTED));
      // The reference documents the props users write, with their defaults.
      expect(fresh['README.md']).toMatch(/### PostgresClusterProps[\s\S]*##### clusterName\?[\s\S]*###### Default/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
