/**
 * lib/scripts/lib-session.sh, the PostgreSQL sessions the entrypoints keep open, against a stub
 * `psql` on PATH that speaks the same protocol (a query per line, then `\echo MARK :ERROR`): rows
 * come back, an SQL error fails the query and keeps the session, a silent server ends the session
 * at the timeout, a psql that exits is noticed at once, a SIGTERM request gives up. The cluster
 * suite runs it against real PostgreSQL in every pod.
 */
import { execFile } from 'child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const LIB = join(REPO_ROOT, 'lib', 'scripts', 'lib-session.sh');

// One "server": each query line is answered by what it names; the \echo line by the marker
// and whether the last query failed. Counts its own starts in $STUB_DIR/starts.
const STUB_PSQL = `#!/bin/bash
echo start >>"$STUB_DIR/starts"
failed=false
while IFS= read -r line; do
  case $line in
    'SELECT rows;') echo '1|a b'; echo '2|c' ;;
    'SELECT broken;') failed=true ;;
    'SELECT hang;') sleep 30 ;;
    'SELECT quit;') exit 2 ;;
    '\\echo '*) echo "\${line#\\\\echo }" | sed "s/:ERROR/$failed/"; failed=false ;;
    *) echo "\${line%;}" | sed 's/^SELECT //' ;;
  esac
done
`;

describe('lib-session.sh: GIVEN a session kept open WHEN queries come THEN each gets its rows or a clear failure', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-session-'));
    writeFileSync(join(dir, 'psql'), STUB_PSQL);
    chmodSync(join(dir, 'psql'), 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `body` (bash) after sourcing the library; returns its stdout and how often psql started. */
  const run = async (body: string) => {
    const { stdout } = await execFileAsync('bash', ['-c', `source ${LIB}\n${body}`], {
      timeout: 20_000,
      env: { PATH: `${dir}:${process.env.PATH}`, STUB_DIR: dir, SESSION_DIR: join(dir, 'sessions') },
    });
    const starts = await execFileAsync('bash', ['-c', `wc -l < ${join(dir, 'starts')} 2>/dev/null || echo 0`]);
    return { out: stdout.trim(), starts: Number(starts.stdout.trim()) };
  };
  const q = (sql: string, timeout = 5) => `session_query s ${timeout} "${sql}" conninfo; echo "rc=$? rows=\${#SESSION_ROWS[@]} [\${SESSION_ROWS[*]}]"`;

  it('rows come back one per element, and the same psql serves every query', async () => {
    const r = await run([q('SELECT rows'), q('SELECT 7'), q('SELECT 8;')].join('\n'));
    expect(r.out.split('\n')).toEqual(['rc=0 rows=2 [1|a b 2|c]', 'rc=0 rows=1 [7]', 'rc=0 rows=1 [8]']);
    expect(r.starts).toBe(1);
  });

  it('an SQL error fails that query only: the session stays and answers the next one', async () => {
    const r = await run([q('SELECT broken'), q('SELECT 9')].join('\n'));
    expect(r.out.split('\n')).toEqual(['rc=1 rows=0 []', 'rc=0 rows=1 [9]']);
    expect(r.starts).toBe(1);
  });

  it('a server that does not answer within the timeout ends the session; the next query opens a new one', async () => {
    const t0 = Date.now();
    const r = await run([q('SELECT hang', 1), q('SELECT 5')].join('\n'));
    expect(r.out.split('\n')).toEqual(['rc=1 rows=0 []', 'rc=0 rows=1 [5]']);
    expect(r.starts).toBe(2);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('a psql that exits (connection refused or lost) is noticed within a fraction of a second, not at the timeout', async () => {
    const t0 = Date.now();
    const r = await run([q('SELECT quit', 10), q('SELECT 6')].join('\n'));
    expect(r.out.split('\n')).toEqual(['rc=1 rows=0 []', 'rc=0 rows=1 [6]']);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('a SIGTERM request (TERM_REQUESTED) gives up the query at once, so the caller reaches its next nap', async () => {
    const t0 = Date.now();
    const r = await run(['TERM_REQUESTED=1', q('SELECT hang', 10)].join('\n'));
    expect(r.out).toBe('rc=1 rows=0 []');
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('session_close ends psql and removes the FIFOs', async () => {
    const r = await run([q('SELECT 1'), 'pid=${SESSION_PID[s]}', 'session_close s', 'kill -0 "$pid" 2>/dev/null && echo alive || echo gone', 'ls "$SESSION_DIR"'].join('\n'));
    expect(r.out.split('\n')).toEqual(['rc=0 rows=1 [1]', 'gone']);
  });
});
