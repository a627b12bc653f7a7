/**
 * lib/scripts/pgpool-check-watch.sh, the watch over Pgpool-II's health-check processes, run
 * against a fixture process tree (PGHA_PROC_DIR: titles and scheduling counts the test writes)
 * and a stub `pcp_detach_node` on PATH. The processes it may signal are real `sleep`s this test
 * starts, so a SIGTERM is seen; nothing of a running cluster can be touched. The rule itself
 * (decide_health_check) is tested in pgpool-decide.test.ts; the cluster suite freezes and cuts
 * standbys for real (failover-standby.test.ts).
 */
import { execFile, spawn, type ChildProcess } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);

/** pcp_node_info -a -v output for backends with these roles, every one up (status 2). */
function nodeInfo(roles: string[]): string {
  return roles.map((role, i) => `Hostname               : node-${i}\nPort                   : 5432\nStatus                 : 2\nWeight                 : 0.333333\nStatus Name            : up\nRole                   : ${role}\n`).join('\n');
}
const SCRIPTS = join(REPO_ROOT, 'lib', 'scripts');

/** Runs the watch for `seconds`, with the standbys' check "1 0 0" and the global one 1 s period, 2 s timeout. */
const HARNESS = `
set -u
source "$SCRIPTS/lib-base.sh"
source "$SCRIPTS/pgpool-decide.sh"
RUN_DIR=$T
FAILOVER_WAITING=$T/failover-waiting
PGHA_STANDBY_HEALTH_CHECK="1 0 0"
source "$SCRIPTS/pgpool-check-watch.sh"
conf_value() {
  case $1 in
    health_check_period | health_check_retry_delay) echo 1 ;;
    health_check_timeout) echo 2 ;;
    connect_timeout) echo 2000 ;;
  esac
}
pcp() { local cmd=$1; shift; "$cmd" "$@"; }
# The working check: scheduled every WORKING_EVERY seconds.
( n=1; while :; do printf '1 2 %s\\n' $((n++)) >"$T/proc/$WORKING/schedstat"; sleep "$WORKING_EVERY"; done ) &
ticker=$!
watch_health_checks $$ &
watcher=$!
sleep "$RUN_SECONDS"
kill "$watcher" "$ticker"
`;

interface Fixture {
  dir: string;
  hung: ChildProcess;
  working: ChildProcess;
}

/** Two real processes posing as pgpool's health checks of backends `hungId` (never scheduled) and `workingId`. */
function fixture(hungId: number, workingId: number, knownPrimary: string): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'check-watch-'));
  const hung = spawn('sleep', ['600'], { stdio: 'ignore' });
  const working = spawn('sleep', ['600'], { stdio: 'ignore' });
  for (const [p, id] of [
    [hung, hungId],
    [working, workingId],
  ] as const) {
    mkdirSync(join(dir, 'proc', String(p.pid)), { recursive: true });
    writeFileSync(join(dir, 'proc', String(p.pid), 'cmdline'), `pgpool: health check process(${id})\0\0`);
    writeFileSync(join(dir, 'proc', String(p.pid), 'schedstat'), '1 2 7\n');
    // Where a check blocked on a login answer waits (a TCP read), without a newline as the kernel writes it.
    writeFileSync(join(dir, 'proc', String(p.pid), 'wchan'), 'wait_woken');
  }
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'pcp_detach_node'), `#!/bin/bash\necho "pcp_detach_node $*" >>"${dir}/pcp.log"\n`);
  chmodSync(join(dir, 'bin', 'pcp_detach_node'), 0o755);
  // pgpool's view when the watch asks before a detach: backend 0 the primary, 1 and 2 standbys.
  writeFileSync(join(dir, 'bin', 'pcp_node_info'), `#!/bin/bash\ncat "${dir}/node-info"\n`);
  chmodSync(join(dir, 'bin', 'pcp_node_info'), 0o755);
  writeFileSync(join(dir, 'node-info'), nodeInfo(['primary', 'standby', 'standby']));
  writeFileSync(join(dir, 'known-primary'), `${knownPrimary}\n`);
  return { dir, hung, working };
}

async function watch(f: Fixture, seconds: number, workingEvery = 0.2): Promise<{ log: string; pcp: string }> {
  const { stdout } = await execFileAsync('bash', ['--norc', '--noprofile', '-c', HARNESS], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${join(f.dir, 'bin')}:${process.env.PATH}`, SCRIPTS, T: f.dir, PGHA_PROC_DIR: join(f.dir, 'proc'), WORKING: String(f.working.pid), RUN_SECONDS: String(seconds), WORKING_EVERY: String(workingEvery), POD_NAME: 'pgpool-test' },
  });
  const pcpLog = join(f.dir, 'pcp.log');
  return { log: stdout, pcp: existsSync(pcpLog) ? readFileSync(pcpLog, 'utf8') : '' };
}

/** The unscheduled time the first correction reports. */
function unscheduledMs(log: string): number {
  return Number(/has not run for (\d+) ms/.exec(log)?.[1] ?? NaN);
}

/** Runs `body` on a new fixture and removes it after (the tests run concurrently: no shared hook). */
async function withFixture(hungId: number, workingId: number, knownPrimary: string, body: (f: Fixture) => Promise<void>): Promise<void> {
  const f = fixture(hungId, workingId, knownPrimary);
  try {
    await body(f);
  } finally {
    f.hung.kill('SIGKILL');
    f.working.kill('SIGKILL');
    rmSync(f.dir, { recursive: true, force: true });
  }
}

/** The exit of `p` as node saw it, once its 'exit' event has had time to arrive. */
async function exitSignal(p: ChildProcess): Promise<string | null> {
  if (p.exitCode === null && p.signalCode === null) await new Promise((r) => setTimeout(r, 200));
  return p.signalCode;
}

describe.concurrent("GIVEN pgpool's health-check processes, one of them never scheduled (blocked in a read its timeout does not end)", () => {
  it('WHEN the hung one checks a standby and the primary is known THEN the standby is detached and the hung check gets SIGTERM; the working check is left alone', async () => {
    await withFixture(1, 0, '0', async (f) => {
      const { log, pcp } = await watch(f, 4);
      expect(pcp).toBe('pcp_detach_node -n 1\n');
      expect(log).toMatch(/correction: the health check of backend 1 has not run for \d+ ms.*backend 1 is a standby and backend 0 the primary: pcp_detach_node 1 and a new health check \(SIGTERM to pid \d+\)/);
      // A standby's check waits at most 1 s (its own settings): hung once 1.5 s pass unscheduled.
      expect(unscheduledMs(log)).toBeGreaterThan(1500);
      expect(unscheduledMs(log)).toBeLessThan(2200);
      expect(await exitSignal(f.hung)).toBe('SIGTERM');
      expect(await exitSignal(f.working)).toBe(null);
    });
  });

  it("WHEN the hung one is the primary's check THEN only the check is restarted, the primary is never detached", async () => {
    await withFixture(0, 1, '0', async (f) => {
      const { log, pcp } = await watch(f, 5);
      expect(pcp).toBe('');
      expect(log).toMatch(/correction: the health check of backend 0 .*backend 0 is the primary: a new health check/);
      // The primary's check waits up to 2 s (the global timeout): hung once 2.5 s pass.
      expect(unscheduledMs(log)).toBeGreaterThan(2500);
      expect(unscheduledMs(log)).toBeLessThan(3200);
      expect(await exitSignal(f.hung)).toBe('SIGTERM');
      expect(await exitSignal(f.working)).toBe(null);
    });
  });

  it('WHEN no primary is known (a failover under way) THEN only the check is restarted', async () => {
    await withFixture(2, 0, '', async (f) => {
      const { log, pcp } = await watch(f, 5);
      expect(pcp).toBe('');
      expect(log).toMatch(/backend 2 is not known to be a standby \(no primary known\): a new health check/);
      expect(await exitSignal(f.hung)).toBe('SIGTERM');
    });
  });

  it("WHEN pgpool, asked before the detach, has the hung standby as its primary now (a failover since) THEN only the check is restarted", async () => {
    await withFixture(1, 0, '0', async (f) => {
      writeFileSync(join(f.dir, 'node-info'), nodeInfo(['standby', 'primary', 'standby']));
      const { log, pcp } = await watch(f, 4);
      expect(pcp).toBe('');
      expect(log).toMatch(/pgpool's view changed .*backend 1 primary.*: no detach: a new health check only/);
      expect(await exitSignal(f.hung)).toBe('SIGTERM');
    });
  });

  it('WHEN a failover waits for a new primary THEN no detach either', async () => {
    await withFixture(1, 0, '0', async (f) => {
      writeFileSync(join(f.dir, 'failover-waiting'), '');
      const { log, pcp } = await watch(f, 4);
      expect(pcp).toBe('');
      expect(log).toMatch(/a failover waits: 1.*no detach/);
    });
  });

  it('WHEN a standby check is scheduled every 0.9 s (under its 1 s wait) THEN it is left alone', async () => {
    await withFixture(0, 1, '0', async (f) => {
      // The "working" one is backend 1, a standby, scheduled every 0.9 s; the hung one is the
      // primary's, whose correction must name backend 0 only.
      const { log } = await watch(f, 4, 0.9);
      expect(log).not.toMatch(/backend 1/);
      expect(await exitSignal(f.working)).toBe(null);
    });
  });

  it('WHEN the unscheduled check waits on a lock, not a socket THEN nothing is done', async () => {
    await withFixture(1, 0, '0', async (f) => {
      writeFileSync(join(f.dir, 'proc', String(f.hung.pid), 'wchan'), 'futex_do_wait');
      const { log, pcp } = await watch(f, 3);
      expect(pcp).toBe('');
      expect(log).not.toMatch(/correction/);
      expect(await exitSignal(f.hung)).toBe(null);
    });
  });

  it('WHEN every check is scheduled within its waits THEN nothing is done', async () => {
    await withFixture(1, 0, '0', async (f) => {
      // The "hung" one is scheduled too: rewrite its count every 300 ms while the watch runs.
      let n = 0;
      const timer = setInterval(() => writeFileSync(join(f.dir, 'proc', String(f.hung.pid), 'schedstat'), `1 2 ${n++}\n`), 300);
      try {
        const { log, pcp } = await watch(f, 4);
        expect(pcp).toBe('');
        expect(log).not.toMatch(/correction/);
        expect(await exitSignal(f.hung)).toBe(null);
      } finally {
        clearInterval(timer);
      }
    });
  });
});
