/**
 * lib/scripts/node-promote.sh, repmgrd's promote_command, run against stub `psql` and `repmgr`
 * executables: the decision (promote or refuse) depends only on the WAL positions the
 * siblings report, so it is tested here in milliseconds; the cluster suite runs it for real
 * in every failover scenario.
 */
import { execFile } from 'child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'lib', 'scripts', 'node-promote.sh');

// Answers the script's two queries from files: own (local socket), upstream (repmgr.nodes),
// peer-<host> (a sibling over TCP; a missing file = unreachable). Records every host asked.
const STUB_PSQL = `#!/bin/bash
d=
while (($#)); do case $1 in -d) d=$2; shift ;; esac; shift; done
case $d in
  host=*) h=\${d#host=}; h=\${h%% *}; echo "$h" >>"$STUB_DIR/asked"; f=$STUB_DIR/peer-$h ;;
  repmgr) f=$STUB_DIR/upstream ;;
  *) f=$STUB_DIR/own ;;
esac
[[ -f $f ]] || exit 2
cat "$f"
`;
const STUB_REPMGR = `#!/bin/bash
echo "$*" >"$STUB_DIR/repmgr-called"
`;

const host = (ordinal: number) => `pg-${ordinal}.pg-hl.db.svc.cluster.local`;

describe('node-promote.sh: GIVEN the election winner (pg-1; the failed primary pg-0, sibling pg-2)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-promote-'));
    for (const [name, body] of [['psql', STUB_PSQL], ['repmgr', STUB_REPMGR]] as const) {
      writeFileSync(join(dir, name), body);
      chmodSync(join(dir, name), 0o755);
    }
    writeFileSync(join(dir, 'own'), '1|0/5000100\n');
    writeFileSync(join(dir, 'upstream'), '1000\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = () =>
    execFileAsync('bash', [SCRIPT], {
      timeout: 20_000,
      env: {
        PATH: `${dir}:${process.env.PATH}`,
        STUB_DIR: dir,
        POD_NAME: 'pg-1',
        PGHA_SERVICE: 'pg-hl',
        PGHA_DOMAIN_SUFFIX: 'db.svc.cluster.local',
        PGHA_MEMBER_HOSTS: [0, 1, 2].map(host).join(' '),
        PGHA_NODE_ID_BASE: '1000',
        PGHA_RUN_DIR: dir,
      },
    }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  const repmgrCall = () => (existsSync(join(dir, 'repmgr-called')) ? readFileSync(join(dir, 'repmgr-called'), 'utf8').trim() : null);
  const asked = () => (existsSync(join(dir, 'asked')) ? readFileSync(join(dir, 'asked'), 'utf8').trim().split('\n') : []);

  it('WHEN the sibling holds less WAL THEN it promotes with repmgr and the per-node repmgr.conf', async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(repmgrCall()).toBe(`-f ${dir}/repmgr.conf standby promote --log-to-file`);
  });

  it('WHEN the sibling holds as much WAL THEN it promotes (the election already broke the tie)', async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000100\n');
    expect((await run()).code).toBe(0);
    expect(repmgrCall()).not.toBeNull();
  });

  it('WHEN the sibling holds more WAL THEN it refuses, names the sibling and never calls repmgr', async () => {
    // 0/10000000 > 0/5000100 only as a number: a string comparison would order them wrongly.
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/10000000\n');
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`not promoting: ${host(2)} holds WAL up to 0/10000000`);
    expect(repmgrCall()).toBeNull();
  });

  it('WHEN the sibling is out of recovery (a live primary) THEN it refuses', async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '0|0/5000000\n');
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`${host(2)} is out of recovery`);
    expect(repmgrCall()).toBeNull();
  });

  it('WHEN the sibling is unreachable THEN it promotes (repmgrd already required a majority)', async () => {
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(asked()).toEqual([host(2)]);
  });

  it('THEN it never asks the failed primary (a silent one would cost the connect timeout) nor itself', async () => {
    writeFileSync(join(dir, `peer-${host(2)}`), '1|0/5000000\n');
    await run();
    expect(asked()).toEqual([host(2)]);
  });

  it('WHEN this node is no longer in recovery THEN it refuses', async () => {
    writeFileSync(join(dir, 'own'), '0|0/5000100\n');
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(repmgrCall()).toBeNull();
  });
});
