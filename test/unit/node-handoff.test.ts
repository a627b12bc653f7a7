/**
 * The handoff (lib/scripts/node-handoff.sh), the I/O around decide_handoff_order and
 * decide_handoff_candidate, run against stub `psql`, `pg_ctl` and `pg_controldata` on PATH (the
 * seam of node-promote.test.ts): which standbys it pauses, whether it stops the primary, which
 * one it promotes, and that every pause is lifted when it gives up. The peers' status lines come
 * from files (read_peer_statuses is the one function replaced: it reads TCP endpoints).
 */
import { execFile } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { facts } from './decide-harness';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const SCRIPTS = join(REPO_ROOT, 'lib', 'scripts');
/** The files the entrypoint sources, in its order (read from it, so the test follows it). */
const SOURCED = [...readFileSync(join(SCRIPTS, 'node-entrypoint.sh'), 'utf8').matchAll(/^source "\$HERE\/([a-z-]+\.sh)"/gm)].map((m) => m[1]);

// Records every call as "<host or local>|<sql>" (several -c joined by " ;; ") and answers from
// files: fail-<host> makes any call to that host fail, lsn-<host> is its
// pg_last_wal_receive_lsn(). A standby streams with a primary_conninfo naming pg-0.
const STUB_PSQL = `#!/bin/bash
d=local sql=
while (($#)); do case $1 in -d) d=$2; shift ;; -c) sql+="\${sql:+ ;; }$2"; shift ;; esac; shift; done
case $d in host=*) h=\${d#host=}; h=\${h%% *} ;; *) h=local ;; esac
echo "$h|\${sql//$'\\n'/ }" >>"$STUB_DIR/calls"
[[ -e $STUB_DIR/fail-$h ]] && exit 2
case $sql in
  *"primary_conninfo')"*) printf "\\nconninfo=user=repmgr host='pg-0.pg-hl.db.svc.cluster.local' application_name=%s\\n" "\${h%%.*}" ;;
  *repmgrd_pause*|*pg_promote*) echo t ;;
  *pg_last_wal_receive_lsn*) cat "$STUB_DIR/lsn-$h" 2>/dev/null ;;
esac
exit 0
`;
const STUB_PG_CTL = `#!/bin/bash
echo "pg_ctl $*" >>"$STUB_DIR/calls"
`;
const STUB_PG_CONTROLDATA = `#!/bin/bash
printf 'Database cluster state:               shut down\\nLatest checkpoint location:           0/5000028\\n'
`;

const host = (o: number) => `pg-${o}.pg-hl.db.svc.cluster.local`;

describe('handoff: GIVEN the primary pg-0 stopping gracefully, with member standbys pg-1 and pg-2', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-handoff-'));
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'pgdata'));
    for (const [name, body] of [['psql', STUB_PSQL], ['pg_ctl', STUB_PG_CTL], ['pg_controldata', STUB_PG_CONTROLDATA]] as const) {
      writeFileSync(join(dir, 'bin', name), body);
      chmodSync(join(dir, 'bin', name), 0o755);
    }
    writeFileSync(join(dir, 'status-pg-1'), facts({ host: host(1), state: 'standby', streaming: 1 }).replace(/^host=\S+ ordinal=\S+ priority=\S+ /, ''));
    writeFileSync(join(dir, 'status-pg-2'), facts({ host: host(2), state: 'standby', streaming: 1 }).replace(/^host=\S+ ordinal=\S+ priority=\S+ /, ''));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = () => {
    const script = [
      'set -uo pipefail',
      'LOG_TAG=entrypoint',
      ...SOURCED.map((f) => `source ${join(SCRIPTS, f)}`),
      // The peers' status endpoints, from files.
      'read_peer_statuses() { local h; PEER_STATUS=(); for h in "$@"; do PEER_STATUS[$h]=$(cat "$STUB_DIR/status-${h%%.*}" 2>/dev/null); done; }',
      'POD_SPEC=aaaaaaaaaaaa',
      'handoff; rc=$?; echo "rc=$rc why=$HANDOFF_WHY"',
    ].join('\n');
    return execFileAsync('/bin/bash', ['-c', script], {
      timeout: 20_000,
      env: {
        PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
        STUB_DIR: dir,
        POD_NAME: 'pg-0',
        PGHA_SERVICE: 'pg-hl',
        PGHA_DOMAIN_SUFFIX: 'db.svc.cluster.local',
        PGHA_MEMBER_HOSTS: [0, 1, 2].map(host).join(' '),
        PGHA_RUN_DIR: dir,
        PGDATA: join(dir, 'pgdata'),
      },
    }).then((r) => r.stdout + r.stderr);
  };
  const calls = () => (existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : []);
  const to = (o: number, sql: RegExp) => calls().filter((c) => c.startsWith(`${host(o)}|`) && sql.test(c));

  it('WHEN both hold the shutdown checkpoint THEN it pauses both, stops, promotes the lowest ordinal and points the other at it', async () => {
    writeFileSync(join(dir, `lsn-${host(1)}`), '0/50000A0\n');
    writeFileSync(join(dir, `lsn-${host(2)}`), '0/50000A0\n');
    const out = await run();
    expect(out).toContain('rc=0');
    expect(to(1, /repmgrd_pause\(true\)/)).toHaveLength(1);
    expect(to(2, /repmgrd_pause\(true\)/)).toHaveLength(1);
    expect(calls()).toContain('pg_ctl -D ' + join(dir, 'pgdata') + ' -w -t 300 -m fast stop');
    expect(to(1, /pg_promote/)).toHaveLength(1);
    expect(to(2, /pg_promote/)).toHaveLength(0);
    // The other standby is pointed, not notified (a paused repmgrd ignores the notification).
    expect(to(2, /notify_follow_primary/)).toHaveLength(0);
    // The other standby is pointed at the new primary at once: its slot and record there, then
    // its primary_conninfo with only the host changed, and a reload.
    expect(to(1, /pg_create_physical_replication_slot.*'repmgr_slot_1002'.*upstream_node_id = 1001 WHERE node_id IN \(1002\)/)).toHaveLength(1);
    expect(to(2, /ALTER SYSTEM SET primary_conninfo = 'user=repmgr host=''pg-1\.pg-hl\.db\.svc\.cluster\.local'' application_name=pg-2' ;; SELECT pg_reload_conf\(\)/)).toHaveLength(1);
    expect(to(1, /ALTER SYSTEM/)).toHaveLength(0);
    expect(out).toMatch(/handoff: done in \d+ ms; 1 standby\(s\) pointed at pg-1/);
    expect(out).toMatch(/handoff: pg-1 promoted \d+ ms after SIGTERM \(it received WAL up to 0\/50000A0, past the shutdown checkpoint 0\/5000028\)/);
    // Pauses come before the stop: no repmgrd may elect while the primary goes.
    const all = calls();
    expect(all.findIndex((c) => c.startsWith('pg_ctl'))).toBeGreaterThan(all.findIndex((c) => c.startsWith(`${host(2)}|`) && c.includes('repmgrd_pause(true)')));
  });

  it('WHEN pg-2 runs the newer pod template THEN the rolled pod is promoted', async () => {
    writeFileSync(join(dir, 'status-pg-2'), readFileSync(join(dir, 'status-pg-2'), 'utf8').replace('spec=aaaaaaaaaaaa', 'spec=bbbbbbbbbbbb'));
    writeFileSync(join(dir, `lsn-${host(1)}`), '0/50000A0\n');
    writeFileSync(join(dir, `lsn-${host(2)}`), '0/50000A0\n');
    expect(await run()).toContain('rc=0');
    expect(to(2, /pg_promote/)).toHaveLength(1);
    expect(to(1, /ALTER SYSTEM SET primary_conninfo = 'user=repmgr host=''pg-2\.pg-hl\.db\.svc\.cluster\.local'' application_name=pg-1'/)).toHaveLength(1);
  });

  it('WHEN the first candidate is behind the shutdown checkpoint THEN the next one is promoted', async () => {
    writeFileSync(join(dir, `lsn-${host(1)}`), '0/5000000\n');
    writeFileSync(join(dir, `lsn-${host(2)}`), '0/50000A0\n');
    const out = await run();
    expect(out).toContain('rc=0');
    expect(out).toContain('handoff: pg-1: it received WAL up to 0/5000000, not past the shutdown checkpoint 0/5000028');
    expect(to(1, /pg_promote/)).toHaveLength(0);
    expect(to(2, /pg_promote/)).toHaveLength(1);
  });

  it('WHEN no candidate received the shutdown checkpoint THEN nobody is promoted and every pause is lifted', async () => {
    writeFileSync(join(dir, `lsn-${host(1)}`), '0/5000000\n');
    const out = await run();
    expect(out).toContain('rc=1 why=no candidate received the shutdown checkpoint 0/5000028');
    expect(calls().filter((c) => c.includes('pg_promote'))).toEqual([]);
    expect(to(1, /repmgrd_pause\(false\)/)).toHaveLength(1);
    expect(to(2, /repmgrd_pause\(false\)/)).toHaveLength(1);
  });

  it('WHEN a standby cannot be paused THEN the primary is not stopped and the pauses taken are lifted', async () => {
    writeFileSync(join(dir, `fail-${host(2)}`), '');
    const out = await run();
    expect(out).toContain('rc=1 why=cannot pause repmgrd on pg-2');
    expect(calls().filter((c) => c.startsWith('pg_ctl'))).toEqual([]);
    expect(to(1, /repmgrd_pause\(false\)/)).toHaveLength(1);
  });

  it('WHEN no standby streams THEN nothing is paused or stopped', async () => {
    for (const o of [1, 2]) writeFileSync(join(dir, `status-pg-${o}`), readFileSync(join(dir, `status-pg-${o}`), 'utf8').replace('streaming=1', 'streaming=0'));
    const out = await run();
    expect(out).toContain('rc=1 why=no member standby streams from this node');
    expect(calls().filter((c) => /repmgrd_pause|pg_ctl/.test(c))).toEqual([]);
  });
});
