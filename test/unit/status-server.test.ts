/**
 * lib/scripts/status-server.pl: the probe verdicts (a pure function, fed fixture status lines)
 * and the server itself on loopback (the status line for peers, HTTP for the kubelet).
 * No root; perl is on every Debian machine (perl-base is Essential).
 */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { connect } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const SERVER = join(REPO_ROOT, 'lib', 'scripts', 'status-server.pl');
const NOW = 1_800_000_000;
const READY_MAX_AGE = 12;
const LIVE_MAX_AGE = 60;

/** Runs verdict() for each case in one perl process; returns "ok|reason" per case. */
function verdicts(cases: Array<{ mode: string; line?: string; busy?: string; now?: number }>): string[] {
  const script = `require ${JSON.stringify(SERVER)};
    while (my $l = <STDIN>) { chomp $l; my ($mode, $line, $busy, $now) = split /\\t/, $l, -1;
      my ($ok, $why) = verdict($mode, $line eq '' ? undef : $line, $busy eq '-' ? undef : $busy, $now, ${READY_MAX_AGE}, ${LIVE_MAX_AGE});
      print "$ok|$why\\n"; }`;
  const input = cases.map((c) => [c.mode, c.line ?? '', c.busy ?? '-', String(c.now ?? NOW)].join('\t')).join('\n') + '\n';
  return execFileSync('perl', ['-e', script], { input, encoding: 'utf8' }).trim().split('\n');
}

const line = (state: string, age: number, extra = '') => `node_id=1001 state=${state} sysid=7 tli=1 lsn=0/1 streaming=${extra || 0} tier=member ts=${NOW - age}`;

describe('status-server.pl: GIVEN a status line WHEN the kubelet probes THEN the verdict follows the entrypoint state and its freshness', () => {
  const table: Array<[string, { mode: string; line?: string; busy?: string }, boolean]> = [
    ['a fresh primary is started, ready and live', { mode: 'ready', line: line('primary', 3) }, true],
    ['a fresh primary is started', { mode: 'startup', line: line('primary', 3) }, true],
    ['a standby that streams is ready', { mode: 'ready', line: line('standby', 3, '1') }, true],
    ['a standby that does not stream is started but not ready', { mode: 'ready', line: line('standby', 3, '0') }, false],
    ['a standby that does not stream has started', { mode: 'startup', line: line('standby', 3, '0') }, true],
    ['a witness needs no streaming', { mode: 'ready', line: line('witness', 1) }, true],
    ['a pgpool pod serving is ready', { mode: 'ready', line: 'state=serving tier=pgpool ts=' + (NOW - 2) }, true],
    ['a pgpool pod starting is not started', { mode: 'startup', line: 'state=starting tier=pgpool ts=' + NOW }, false],
    ['a line older than the ready limit is not ready', { mode: 'ready', line: line('primary', READY_MAX_AGE + 1) }, false],
    ['a line at the ready limit is ready', { mode: 'ready', line: line('primary', READY_MAX_AGE) }, true],
    ['a node holding, cloning or waiting is not ready', { mode: 'ready', line: line('hold', 0) }, false],
    ['no status line at all is not started', { mode: 'startup' }, false],
    ['a node holding is live (the entrypoint decides)', { mode: 'live', line: line('hold', 500) }, true],
    ['a serving node stale beyond the live limit is not live', { mode: 'live', line: line('primary', LIVE_MAX_AGE + 1) }, false],
    ['a serving node stale within the live limit is live', { mode: 'live', line: line('standby', LIVE_MAX_AGE) }, true],
    ['a long operation (busy) keeps a stale node live', { mode: 'live', line: line('standby', 600), busy: 'rejoining' }, true],
    ['a line without a timestamp is never ready', { mode: 'ready', line: 'state=primary' }, false],
  ];
  const results = verdicts(table.map(([, c]) => c));
  it.each(table.map(([name, c, ok], i) => [name, c, ok, i] as const))('%s', (_name, _c, ok, i) => {
    expect(results[i].startsWith(ok ? '1|' : '0|'), results[i]).toBe(true);
  });

  it('a failed verdict says why', () => {
    expect(verdicts([{ mode: 'ready', line: line('standby', 1, '0') }])[0]).toBe('0|standby is not streaming');
    expect(verdicts([{ mode: 'live', line: line('primary', 90) }])[0]).toMatch(/not refreshed for 90s \(limit 60s\)/);
  });
});

describe('status-server.pl: GIVEN the server running WHEN peers and the kubelet connect THEN each gets its answer', () => {
  let dir: string;
  let server: ChildProcess;
  const statusPort = 20000 + Math.floor(Math.random() * 20000);
  const healthPort = statusPort + 1;

  const raw = (port: number, send = ''): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => send && s.write(send));
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'status-server-'));
    writeFileSync(join(dir, 'status'), `state=standby streaming=1 ts=${Math.floor(Date.now() / 1000)}\n`);
    server = spawn('perl', [SERVER, String(statusPort), String(healthPort), join(dir, 'status'), join(dir, 'busy'), '12', '60'], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      if (await raw(statusPort).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('status-server.pl did not listen');
  });

  afterAll(() => {
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a peer that connects and sends nothing gets the status line', async () => {
    expect(await raw(statusPort)).toMatch(/^state=standby streaming=1 ts=\d+\n$/);
  });

  it('the kubelet gets 200 for a streaming standby, and 503 with the reason once it stops streaming', async () => {
    expect(await raw(healthPort, 'GET /ready HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.0 200 OK\r\n[\s\S]*ok: state standby\n$/);
    writeFileSync(join(dir, 'status'), `state=standby streaming=0 ts=${Math.floor(Date.now() / 1000)}\n`);
    expect(await raw(healthPort, 'GET /ready HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.0 503 [\s\S]*standby is not streaming\n$/);
    expect(await raw(healthPort, 'GET /live HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.0 200 /);
  });

  it('an unknown path gets 404', async () => {
    expect(await raw(healthPort, 'GET /metrics HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.0 404 /);
  });
});
