/**
 * lib/scripts/pgpool-failover.sh, Pgpool-II's failover_command, run against stub `psql` and
 * `pcp_detach_node` on PATH: it returns as soon as another backend answers as the
 * primary, and otherwise detaches every other backend so that Pgpool-II refuses sessions
 * instead of sending writes to a standby. The cluster suite runs it for real. (Its loop asks
 * once a second: the cases that wait take two seconds.)
 */
import { execFile } from 'child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'lib', 'scripts', 'pgpool-failover.sh');
const host = (i: number) => `pg-${i}.pg-hl.db.svc.cluster.local`;

// Each backend answers from $STUB_DIR/answer-<host> ("true|streaming|2": the script casts to text, psql -At -F '|');
// a missing file = no answer. The n-th ask of a host may read answer-<host>.<n> instead (a
// promotion seen on a later ask). Every ask is appended to $STUB_DIR/asked.
const STUB_PSQL = `#!/bin/bash
conn=
for a in "$@"; do case $a in host=*) conn=$a ;; esac; done
h=\${conn#host=}; h=\${h%% *}
echo "$h" >>"$STUB_DIR/asked"
n=$(grep -c "^$h$" "$STUB_DIR/asked")
if [[ -f $STUB_DIR/answer-$h.$n ]]; then cat "$STUB_DIR/answer-$h.$n"
elif [[ -f $STUB_DIR/answer-$h ]]; then cat "$STUB_DIR/answer-$h"
else exit 2; fi
`;
const STUB_PCP = `#!/bin/bash
while (($#)); do [[ $1 == -n ]] && echo "$2" >>"$STUB_DIR/detached"; shift; done
`;
// Pgpool-II's status of a backend: $STUB_DIR/status-<id> ("2": up, "3": down), up by default;
// its role: $STUB_DIR/role-<id>, standby by default. -a: every backend, 0 to 2.
const STUB_NODE_INFO = `#!/bin/bash
ids=
while (($#)); do case $1 in -n) ids=$2 ;; -a) ids="0 1 2" ;; esac; shift; done
for id in $ids; do
  echo "Hostname               : pg-$id"
  echo "Status                 : $(cat "$STUB_DIR/status-$id" 2>/dev/null || echo 2)"
  echo "Role                   : $(cat "$STUB_DIR/role-$id" 2>/dev/null || echo standby)"
done
`;

describe('pgpool-failover.sh: GIVEN three backends, pg-0 detached by Pgpool-II', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-pgpool-failover-'));
    for (const [name, body] of [['psql', STUB_PSQL], ['pcp_detach_node', STUB_PCP], ['pcp_node_info', STUB_NODE_INFO]] as const) {
      writeFileSync(join(dir, name), body);
      chmodSync(join(dir, name), 0o755);
    }
    writeFileSync(join(dir, 'backends'), [0, 1, 2].map((i) => `${i} ${host(i)} 5432`).join('\n') + '\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const answer = (i: number, line: string, nth?: number) => writeFileSync(join(dir, `answer-${host(i)}${nth ? `.${nth}` : ''}`), `${line}\n`);
  const file = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
  const run = (...args: string[]) => runWatching(0, ...args);
  /** Runs the script; its orphan watcher (see the last test) runs `watchSeconds`. */
  const runWatching = (watchSeconds: number, ...args: string[]) =>
    execFileAsync('bash', [SCRIPT, ...args], {
      timeout: 30_000,
      env: {
        PATH: `${dir}:${process.env.PATH}`,
        STUB_DIR: dir,
        POD_NAME: 'pgpool-a',
        PGHA_PGPOOL_RUN_DIR: dir,
        PGHA_FAILOVER_WATCH_SECONDS: String(watchSeconds),
        PGHA_FAILOVER_WATCH_INTERVAL: '0.1',
      },
    }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  // The detaches run in the background: give them a moment.
  const detached = async () => {
    await new Promise((r) => setTimeout(r, 300));
    return file('detached').trim().split('\n').filter(Boolean).sort();
  };

  it('WHEN a standby (pg-2) was detached THEN it returns at once: nothing asked, nothing detached', async () => {
    const r = await run('2', '0', '20');
    expect(r.code, r.out).toBe(0);
    expect(file('asked')).toBe('');
    expect(await detached()).toEqual([]);
    expect(r.out).toMatch(/backend 2 \(a standby\) detached; pgpool keeps primary 0/);
  });

  it('WHEN the primary was detached and pg-1 is promoted on the third ask THEN it returns then, without detaching anything, and never asks pg-0', async () => {
    answer(1, 'true|streaming|1');
    answer(1, 'false|none|-1', 3);
    answer(2, 'true|streaming|1');
    const r = await run('0', '0', '20');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/backend 1 answers as the primary/);
    expect(file('asked').split('\n').filter((h) => h === host(1))).toHaveLength(3);
    expect(file('asked')).not.toContain(host(0));
    expect(await detached()).toEqual([]);
  });

  it('WHEN no backend becomes the primary within the wait and the standbys stopped hearing from one THEN it detaches the others and says no primary is anywhere', async () => {
    answer(1, 'true|startup|-1');
    answer(2, 'true|none|-1');
    const r = await run('0', '0', '2');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/no primary after 2s \(no backend answers as a primary/);
    expect(await detached()).toEqual(['1', '2']);
  });

  it('WHEN no backend is the primary but a standby still hears from one THEN it detaches the others and says this pod is cut off', async () => {
    answer(1, 'true|streaming|2');
    answer(2, 'true|streaming|3');
    const r = await run('0', '0', '2');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/a live primary exists that this pod cannot reach/);
    expect(await detached()).toEqual(['1', '2']);
  });

  it('WHEN a standby that Pgpool-II has up does not answer THEN it stops waiting at once and detaches the others (that standby\'s health check would crowd the detaches out of the request queue)', async () => {
    answer(1, 'true|startup|-1');
    const started = Date.now();
    const r = await run('0', '0', '20');
    expect(r.code, r.out).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.out).toMatch(/backend 2 does not answer while pgpool has it up/);
    expect(await detached()).toEqual(['1', '2']);
  });

  it('WHEN the standby that does not answer is one Pgpool-II already has down THEN it keeps waiting for the primary', async () => {
    answer(1, 'true|startup|-1');
    answer(1, 'false|none|-1', 2);
    writeFileSync(join(dir, 'status-2'), '3\n');
    const r = await run('0', '0', '20');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/backend 1 answers as the primary/);
    expect(await detached()).toEqual([]);
  });

  it('WHEN no primary appears and a standby stays up after the detaches (pgpool dropped the request) THEN the watcher detaches it again, and stops once pgpool has a primary', async () => {
    answer(1, 'true|none|-1');
    answer(2, 'true|none|-1');
    // pgpool keeps backend 2 up with no primary: every detach of it is lost.
    const r = await runWatching(2, '0', '0', '1');
    expect(r.code, r.out).toBe(0);
    await new Promise((res) => setTimeout(res, 800));
    const before = (await detached()).filter((id) => id === '2').length;
    expect(before).toBeGreaterThanOrEqual(2);
    // Once pgpool has a primary, the watcher leaves the standbys alone.
    writeFileSync(join(dir, 'role-1'), 'primary\n');
    await new Promise((res) => setTimeout(res, 500));
    const settled = (await detached()).filter((id) => id === '2').length;
    await new Promise((res) => setTimeout(res, 600));
    expect((await detached()).filter((id) => id === '2').length).toBe(settled);
  });

  it('WHILE it waits THEN the failover-waiting marker exists, and it is gone afterwards', async () => {
    // A psql that records whether the marker exists when it is called.
    writeFileSync(join(dir, 'psql'), `#!/bin/bash\n[[ -e $STUB_DIR/failover-waiting ]] && echo yes >>"$STUB_DIR/marker-seen"\necho 'false|none|-1'\n`);
    const r = await run('0', '0', '20');
    expect(r.code, r.out).toBe(0);
    expect(file('marker-seen')).toMatch(/yes/);
    expect(existsSync(join(dir, 'failover-waiting'))).toBe(false);
  });
});
