/**
 * lib/scripts/node-follow.sh, repmgrd's follow_command, run against stub `psql` and `repmgr`
 * executables on PATH: what it changes (the slot and the record on the new primary, this
 * node's primary_conninfo) and when it hands over to `repmgr standby follow` instead. The
 * cluster suite runs it for real after every failover.
 */
import { execFile } from 'child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'lib', 'scripts', 'node-follow.sh');

const host = (ordinal: number) => `pg-${ordinal}.pg-hl.db.svc.cluster.local`;
const CONNINFO = `user=repmgr connect_timeout=2 host='${host(0)}' port=5432 application_name='pg-2' passfile='/run/pgha/pgpass'`;

// Local queries (no host= in -d) answer from $STUB_DIR/local; the target's (host=...) from
// $STUB_DIR/target (a missing file = it fails, as a standby's WAL functions do). Every -c
// sent is appended to $STUB_DIR/sent-local or sent-target.
const STUB_PSQL = `#!/bin/bash
d= c=()
while (($#)); do case $1 in -d) d=$2; shift ;; -c) c+=("$2"); shift ;; esac; shift; done
case $d in host=*) side=target ;; *) side=local ;; esac
printf '%s\\n' "\${c[@]}" >>"$STUB_DIR/sent-$side"
case "\${c[*]}" in
  *concat_ws*) cat "$STUB_DIR/local" ;;
  *pg_walfile_name*) [[ -f $STUB_DIR/target ]] || exit 1; cat "$STUB_DIR/target" ;;
  *) exit 0 ;;
esac
`;
const STUB_REPMGR = `#!/bin/bash
echo "$*" >"$STUB_DIR/repmgr-called"
`;

describe('node-follow.sh: GIVEN a standby (pg-2, node 1002) told to follow node 1001 after its primary pg-0 failed', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-follow-'));
    for (const [name, body] of [['psql', STUB_PSQL], ['repmgr', STUB_REPMGR]] as const) {
      writeFileSync(join(dir, name), body);
      chmodSync(join(dir, name), 0o755);
    }
    writeFileSync(join(dir, 'local'), `host=${host(1)} user=repmgr dbname=repmgr port=5432|${CONNINFO}|repmgr_slot_1002|0/5000100\n`);
    writeFileSync(join(dir, 'target'), '0|0/5000100\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]) =>
    execFileAsync('bash', [SCRIPT, ...args], {
      timeout: 20_000,
      env: {
        PATH: `${dir}:${process.env.PATH}`,
        STUB_DIR: dir,
        POD_NAME: 'pg-2',
        PGHA_SERVICE: 'pg-hl',
        PGHA_DOMAIN_SUFFIX: 'db.svc.cluster.local',
        PGHA_NODE_ID_BASE: '1000',
        PGHA_RUN_DIR: dir,
      },
    }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  const file = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');

  it('WHEN the target is a primary whose timeline forked at or after this node\'s WAL THEN the slot and record go to the target, primary_conninfo names it and is reloaded, repmgr is not run', async () => {
    const r = await run('1001');
    expect(r.code, r.out).toBe(0);
    expect(file('repmgr-called')).toBe('');
    expect(file('sent-target')).toMatch(/pg_create_physical_replication_slot\('repmgr_slot_1002'\)/);
    expect(file('sent-target')).toMatch(/UPDATE repmgr.nodes SET upstream_node_id = 1001 WHERE node_id = 1002/);
    // Every other option kept (application_name matters to synchronous_standby_names).
    expect(file('sent-local')).toContain(`ALTER SYSTEM SET primary_conninfo = '${CONNINFO.replace(host(0), host(1)).replace(/'/g, "''")}'`);
    expect(file('sent-local')).toContain('SELECT pg_reload_conf()');
    // repmgrd's stdout is /dev/null: the log goes to stderr, the container's log.
    expect(r.out).toMatch(/follow: following pg-1 \(node 1001\) instead of pg-0/);
  });

  it.each([
    ['the target does not answer as a primary (still in recovery)', () => rmSync(join(dir, 'target')), /pg-1 did not answer as a primary/],
    ['this node holds WAL past the point where the target\'s timeline forked', () => writeFileSync(join(dir, 'target'), '0|0/5000000\n'), /holds WAL up to 0\/5000100, the fork point .* is '0\/5000000'/],
    ['the target\'s timeline history gives no fork point', () => writeFileSync(join(dir, 'target'), '0|\n'), /the fork point .* is 'unknown'/],
    ['this node\'s primary_conninfo names no host', () => writeFileSync(join(dir, 'local'), `host=${host(1)} port=5432|user=repmgr port=5432|repmgr_slot_1002|0/5000100\n`), /cannot read the target's record or this node's primary_conninfo/],
  ])('WHEN %s THEN it hands over to repmgr standby follow, which checks everything itself', async (_what, arrange, reason) => {
    arrange();
    const r = await run('1001');
    expect(r.out).toMatch(reason);
    expect(file('repmgr-called')).toMatch(/standby follow --log-to-file --upstream-node-id=1001$/m);
    expect(file('sent-local')).not.toContain('ALTER SYSTEM');
  });

  it('WHEN the new primary\'s promotion already pointed this node there (streaming past the fork point by now) THEN it only writes the slot and record there, and neither changes primary_conninfo nor runs repmgr', async () => {
    writeFileSync(join(dir, 'local'), `host=${host(1)} user=repmgr dbname=repmgr port=5432|${CONNINFO.replace(host(0), host(1))}|repmgr_slot_1002|0/5000900\n`);
    const r = await run('1001');
    expect(r.code, r.out).toBe(0);
    expect(file('repmgr-called')).toBe('');
    expect(file('sent-target')).toMatch(/UPDATE repmgr.nodes SET upstream_node_id = 1001 WHERE node_id = 1002/);
    expect(file('sent-local')).not.toContain('ALTER SYSTEM');
    expect(r.out).toMatch(/primary_conninfo already named it/);
  });

  it('WHEN repmgrd passes no node id THEN it refuses', async () => {
    const r = await run('');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/usage: node-follow.sh NODE_ID/);
  });
});
