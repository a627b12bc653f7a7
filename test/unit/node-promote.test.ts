/**
 * lib/scripts/node-promote.sh, repmgrd's promote_command, run against a stub `psql` on PATH:
 * the decision (promote or refuse) depends only on what the other members report, so it is
 * tested here in milliseconds; the cluster suite runs it for real in every failover scenario.
 */
import { execFile } from 'child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'lib', 'scripts', 'node-promote.sh');

// Answers the script's queries from files: own, upstream and conninfo (this node: its position,
// its upstream in repmgr.nodes, its primary_conninfo), peer-<host> (a member over TCP; a missing file = unreachable).
// Records every host asked, the pg_promote() call, the metadata written in its session and
// the members told to follow. With $STUB_DIR/together, a peer answers only
// once every peer has been asked (or gives up after 5 s): asked one after the other, the first
// would wait for a question that never comes.
const STUB_PSQL = `#!/bin/bash
d= c=
while (($#)); do case $1 in -d) d=$2; shift ;; -c) c+=$2$'\\n'; shift ;; esac; shift; done
case $c in
  *pg_promote*)
    echo promoted >"$STUB_DIR/promoted"
    [[ $c == *'UPDATE repmgr.nodes'* ]] && echo "$c" >"$STUB_DIR/metadata"
    echo t; exit 0 ;;
  *notify_follow_primary*)
    h=\${d#host=}; h=\${h%% *}
    [[ $c == *'ALTER SYSTEM'* ]] && echo "$h $c" >>"$STUB_DIR/pointed"
    echo "$h" >>"$STUB_DIR/notified"; exit 0 ;;
esac
case $d in
  host=*)
    h=\${d#host=}; h=\${h%% *}; echo "$h" >>"$STUB_DIR/asked"; f=$STUB_DIR/peer-$h
    [[ -f $STUB_DIR/slow-$h ]] && sleep 0.5
    if [[ -f $STUB_DIR/together ]]; then
      for _ in $(seq 50); do (($(wc -l <"$STUB_DIR/asked") >= 2)) && break; sleep 0.1; done
      (($(wc -l <"$STUB_DIR/asked") >= 2)) || { echo "asked alone" >>"$STUB_DIR/alone"; exit 2; }
    fi
    [[ -f $f ]] || exit 2
    cat "$f" ;;
  # This node's own position, its upstream and its primary_conninfo, in one query.
  *) [[ -f $STUB_DIR/own ]] || exit 2; printf '%s|%s|%s\\n' "$(<"$STUB_DIR/own")" "$(<"$STUB_DIR/upstream")" "$(<"$STUB_DIR/conninfo")" ;;
esac
`;

const host = (ordinal: number) => `pg-${ordinal}.pg-hl.db.svc.cluster.local`;

describe('node-promote.sh: GIVEN the election winner (pg-1; the failed primary pg-0, sibling pg-2)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-promote-'));
    writeFileSync(join(dir, 'psql'), STUB_PSQL);
    chmodSync(join(dir, 'psql'), 0o755);
    writeFileSync(join(dir, 'own'), '1|0/5000100');
    writeFileSync(join(dir, 'upstream'), '1000');
    writeFileSync(join(dir, 'conninfo'), `user=repmgr connect_timeout=2 host='${host(0)}' port=5432 application_name='pg-1'`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  let priorities = '100 100 100';
  afterEach(() => {
    priorities = '100 100 100';
  });

  const run = (script = SCRIPT) =>
    execFileAsync('bash', [script], {
      timeout: 20_000,
      env: {
        PATH: `${dir}:${process.env.PATH}`,
        STUB_DIR: dir,
        POD_NAME: 'pg-1',
        PGHA_SERVICE: 'pg-hl',
        PGHA_DOMAIN_SUFFIX: 'db.svc.cluster.local',
        PGHA_MEMBER_HOSTS: [0, 1, 2].map(host).join(' '),
        PGHA_NODE_ID_BASE: '1000',
        PGHA_PRIORITIES: priorities,
        PGHA_RUN_DIR: dir,
      },
    }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  const promoted = () => existsSync(join(dir, 'promoted'));
  const metadata = () => (existsSync(join(dir, 'metadata')) ? readFileSync(join(dir, 'metadata'), 'utf8') : '');
  const asked = () => (existsSync(join(dir, 'asked')) ? readFileSync(join(dir, 'asked'), 'utf8').trim().split('\n').sort() : []);

  it('WHEN the sibling holds less WAL THEN it promotes with pg_promote() and writes the repmgr record repmgr standby promote would', async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(promoted()).toBe(true);
    expect(metadata()).toMatch(/SET LOCAL synchronous_commit = local/);
    expect(metadata()).toMatch(/UPDATE repmgr.nodes SET type = 'primary', upstream_node_id = NULL, active = true WHERE node_id = 1001/);
    expect(metadata()).toMatch(/VALUES \(1001, 'standby_promote', true, .*failed primary node 1000/);
    // repmgrd's stdout is /dev/null: the script's log goes to stderr, the container's log.
    expect(r.out).toMatch(/promote: no reachable sibling is ahead of 0\/5000100 .*: promoting/);
  });

  it('THEN it tells the other member, not the failed primary, to follow it at once (repmgrd would a second or more later)', async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
    const r = await run();
    expect(r.code, r.out).toBe(0);
    const notified = join(dir, 'notified');
    for (let i = 0; i < 50 && !existsSync(notified); i++) await new Promise((res) => setTimeout(res, 100));
    expect(readFileSync(notified, 'utf8').trim()).toBe(host(2));
    expect(existsSync(join(dir, 'pointed')), 'no slot and primary_conninfo reported: nothing to point').toBe(false);
  });

  it('WHEN the other member reports its slot and primary_conninfo THEN the slot is created here in the promotion\'s session, and the member is pointed here (host swapped, every other option kept), reloaded and told to follow', async () => {
    const conninfo = `user=repmgr connect_timeout=2 host='${host(0)}' port=5432 application_name='pg-2' passfile='/run/pgha/pgpass'`;
    writeFileSync(join(dir, `peer-${host(2)}`), `1|0/5000000|repmgr_slot_1002|${conninfo}\n`);
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(metadata()).toMatch(/pg_create_physical_replication_slot\(s\)\) FROM unnest\(ARRAY\['repmgr_slot_1002'\]::text\[\]\)/);
    const pointed = join(dir, 'pointed');
    for (let i = 0; i < 50 && !existsSync(pointed); i++) await new Promise((res) => setTimeout(res, 100));
    const sent = readFileSync(pointed, 'utf8');
    expect(sent).toContain(`ALTER SYSTEM SET primary_conninfo = '${conninfo.replace(host(0), host(1)).replace(/'/g, "''")}'`);
    expect(sent).toContain('SELECT pg_reload_conf()');
    expect(sent).toContain('SELECT repmgr.notify_follow_primary(1001)');
    expect(r.out).toMatch(/told 1 other member\(s\) to follow \(1 pointed here at once\)/);
  });

  it("WHEN the sibling holds as much WAL and loses repmgrd's tie-break (same priority, higher node id) THEN it promotes", async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000100\n');
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(promoted()).toBe(true);
  });

  it("WHEN the sibling holds as much WAL and wins repmgrd's tie-break (higher priority) THEN it refuses, naming the rule", async () => {
    priorities = '100 100 200';
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000100\n');
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`not promoting: ${host(2)} holds as much WAL (0/5000100) and wins repmgrd's tie-break (priority 200, node 1002; this node priority 100, node 1001)`);
    expect(promoted()).toBe(false);
  });

  describe('GIVEN a repmgr record left stale by an earlier failover: the metadata names the live sibling pg-2 as the upstream, primary_conninfo the failed pg-0', () => {
    beforeEach(() => writeFileSync(join(dir, 'upstream'), '1002'));

    it('WHEN pg-2 was promoted by an election of its own a moment ago THEN it sees pg-2 out of recovery and refuses (two primaries otherwise)', async () => {
      writeFileSync(join(dir, `peer-${host(2)}`), '0|0/5000300\n');
      const r = await run();
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(`${host(2)} is out of recovery`);
      expect(r.out).toMatch(/the metadata names node 1002 as the upstream, primary_conninfo pg-0\S+: waiting for every member/);
      expect(promoted()).toBe(false);
    });

    it('WHEN pg-0 answers as a standby holding as much WAL THEN it is a sibling that wins the tie-break (lower node id): it refuses', async () => {
      writeFileSync(join(dir, `peer-${host(0)}`), '1|0/5000100\n');
      writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
      const r = await run();
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(`not promoting: ${host(0)} holds as much WAL`);
      expect(promoted()).toBe(false);
    });

    it('WHEN pg-2 is a standby behind this node and pg-0 is dead THEN it promotes', async () => {
      writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
      const r = await run();
      expect(r.code, r.out).toBe(0);
      expect(promoted()).toBe(true);
    });
  });

  it('WHEN the sibling holds more WAL THEN it refuses, names the sibling and never calls repmgr', async () => {
    // 0/10000000 > 0/5000100 only as a number: a string comparison would order them wrongly.
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/10000000\n');
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`not promoting: ${host(2)} holds WAL up to 0/10000000`);
    expect(promoted()).toBe(false);
    expect(metadata()).toBe('');
  });

  it('WHEN the sibling is out of recovery (a live primary) THEN it refuses', async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '0|0/5000000\n');
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`${host(2)} is out of recovery`);
    expect(promoted()).toBe(false);
  });

  it('WHEN the sibling and the failed primary are unreachable THEN it promotes (repmgrd already required a majority)', async () => {
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(promoted()).toBe(true);
  });

  it('THEN it asks every other member at once, the failed primary too, never itself (one after the other, a silent one would cost its connect timeout first)', async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
    writeFileSync(join(dir, 'together'), '');
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(asked()).toEqual([host(0), host(2)]);
    expect(existsSync(join(dir, 'alone')), 'a peer was asked alone: the questions went one after the other').toBe(false);
  });

  it('WHEN the failed primary answers as a primary (it came back) by the time the sibling answers THEN it refuses', async () => {
    writeFileSync(join(dir, `peer-${host(0)}`), '0|0/5000200\n');
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
    writeFileSync(join(dir, `slow-${host(2)}`), '');
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`${host(0)} is out of recovery`);
    expect(promoted()).toBe(false);
  });

  it('WHEN the failed primary answers as a standby holding more WAL (restarted, with WAL nobody received) THEN it still promotes', async () => {
    writeFileSync(join(dir, `peer-${host(0)}`), '1|0/9000000\n');
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(promoted()).toBe(true);
  });

  it('WHEN this node is no longer in recovery THEN it refuses', async () => {
    writeFileSync(join(dir, 'own'), '0|0/5000100');
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(promoted()).toBe(false);
  });
  describe('GIVEN a copy of the scripts whose node-follow.sh only records its argument', () => {
    let copy: string;
    beforeEach(() => {
      copy = join(dir, 'scripts');
      cpSync(join(REPO_ROOT, 'lib', 'scripts'), copy, { recursive: true });
      writeFileSync(join(copy, 'node-follow.sh'), `echo "$1" >"$STUB_DIR/followed"\n`);
    });
    const followed = () => (existsSync(join(dir, 'followed')) ? readFileSync(join(dir, 'followed'), 'utf8').trim() : '');

    it("WHEN the live primary that refuses the promotion is the one this node's primary_conninfo names (a promotion elsewhere pointed it there) THEN node-follow.sh records it as the upstream (repmgrd does not follow after a failed promotion)", async () => {
      writeFileSync(join(dir, 'conninfo'), `user=repmgr connect_timeout=2 host='${host(2)}' port=5432 application_name='pg-1'`);
      writeFileSync(join(dir, `peer-${host(2)}`), '0|0/5000300\n');
      const r = await run(join(copy, 'node-promote.sh'));
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(`not promoting: ${host(2)} is out of recovery`);
      expect(r.out).toContain('node-follow.sh 1002 records it as the upstream');
      expect(followed()).toBe('1002');
      expect(promoted()).toBe(false);
    });

    it('WHEN the live primary is not the one this node streams from THEN it only refuses (pointing this node elsewhere is repmgrd\'s and the entrypoint\'s call)', async () => {
      writeFileSync(join(dir, `peer-${host(2)}`), '0|0/5000300\n');
      const r = await run(join(copy, 'node-promote.sh'));
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(`not promoting: ${host(2)} is out of recovery`);
      expect(followed()).toBe('');
    });
  });
});
