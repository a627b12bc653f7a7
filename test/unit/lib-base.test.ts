/**
 * lib/scripts/lib-base.sh's check_secrets, which every entrypoint runs first: a credential the pod
 * mounts that is missing, unreadable or empty stops the pod at once with one log line naming the
 * file, before anything runs half-way. The cluster suite starts every pod through it.
 */
import { execFile } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const LIB = join(REPO_ROOT, 'lib', 'scripts', 'lib-base.sh');

/** Runs check_secrets with PGHA_MOUNTED_CREDENTIALS=keys over dir; the exit code and the log lines. */
async function checkSecrets(dir: string, keys: string | undefined): Promise<{ code: number; out: string }> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', PGHA_SECRETS_DIR: dir, POD_NAME: 'pod-0' };
  if (keys !== undefined) env.PGHA_MOUNTED_CREDENTIALS = keys;
  try {
    const { stdout, stderr } = await execFileAsync('bash', ['--norc', '--noprofile', '-c', `source "${LIB}"; check_secrets; echo "went on"`], { env });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('check_secrets: GIVEN the credentials a pod mounts WHEN the entrypoint starts THEN a missing or empty one stops it naming the file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-secrets-'));
    writeFileSync(join(dir, 'app-password'), 's3cret');
    writeFileSync(join(dir, 'pgpool-key'), 'k3y\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('every key present and non-empty (a trailing newline is fine): the entrypoint goes on', async () => {
    const r = await checkSecrets(dir, 'app-password pgpool-key');
    expect(r.code).toBe(0);
    expect(r.out).toBe('went on\n');
  });

  it.each([
    ['missing', () => undefined, /FATAL: secret key 'monitor-password' missing or unreadable at .*\/monitor-password: add it to the credentials Secret$/],
    ['empty', (d: string) => writeFileSync(join(d, 'monitor-password'), ''), /FATAL: secret key 'monitor-password' is empty at .*\/monitor-password: give it a value in the credentials Secret$/],
    ['only a newline', (d: string) => writeFileSync(join(d, 'monitor-password'), '\n'), /FATAL: secret key 'monitor-password' is empty at /],
  ])('monitor-password %s: exit 1, one FATAL line naming the file, nothing after it', async (_what, make, message) => {
    make(dir);
    const r = await checkSecrets(dir, 'app-password monitor-password pgpool-key');
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(lines[0]).toContain(`${dir}/monitor-password`);
  });

  it('no PGHA_MOUNTED_CREDENTIALS (a pod spec not from the constructs): refused, not waved through', async () => {
    const r = await checkSecrets(dir, undefined);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FATAL: PGHA_MOUNTED_CREDENTIALS is not set/);
  });
});
