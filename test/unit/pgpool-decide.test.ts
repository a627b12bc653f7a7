/**
 * lib/scripts/pgpool-decide.sh, the Pgpool-II pods' pure rules, fed backend lines
 * ("ID|RECOVERY|WALRECEIVER|AGE"; "ID|" for a backend that did not answer).
 */
import { execFileSync } from 'child_process';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const SCRIPT = join(REPO_ROOT, 'lib', 'scripts', 'pgpool-decide.sh');

function decide(fresh: number, ...lines: string[]): { verdict: string; reply: string; reason: string } {
  const out = execFileSync('bash', ['-c', `source "${SCRIPT}"; decide_primary_seen "$@"; printf '%s\\n%s\\n%s' "$VERDICT" "$REPLY" "$REASON"`, 'decide', String(fresh), ...lines], { encoding: 'utf8' });
  const [verdict, reply, reason] = out.split('\n');
  return { verdict, reply, reason };
}

describe('decide_primary_seen: GIVEN what the backends this Pgpool-II pod reaches answered', () => {
  it('WHEN one answers as a primary THEN primary, that backend (whatever the standbys say)', () => {
    expect(decide(7, '0|', '1|false|primary|-1', '2|true|streaming|1')).toMatchObject({ verdict: 'primary', reply: '1' });
  });

  it('WHEN the primary does not answer but a standby heard from its upstream within the bound THEN cut, naming that standby', () => {
    const d = decide(7, '0|', '1|true|streaming|7', '2|true|streaming|30');
    expect(d).toMatchObject({ verdict: 'cut', reply: '1' });
    expect(d.reason).toMatch(/a live primary exists that this pod cannot reach/);
  });

  it('WHEN the standbys last heard from their upstream longer ago than the bound THEN none (a frozen or dead primary: a failover, not a cut)', () => {
    expect(decide(7, '0|', '1|true|streaming|8', '2|true|streaming|12')).toMatchObject({ verdict: 'none', reply: '' });
  });

  it('WHEN the standbys do not stream at all (their primary died) THEN none', () => {
    expect(decide(7, '0|', '1|true|startup|-1', '2|true|none|-1')).toMatchObject({ verdict: 'none' });
  });

  it('WHEN nothing answers THEN none', () => {
    expect(decide(7, '0|', '1|', '2')).toMatchObject({ verdict: 'none' });
  });

  it('WHEN a standby line has no age (an unexpected answer) THEN it proves nothing', () => {
    expect(decide(7, '0|', '1|true|streaming|', '2|true|streaming|x')).toMatchObject({ verdict: 'none' });
  });
});

function overrides(...args: string[]): string[] {
  const out = execFileSync('bash', ['-c', `source "${SCRIPT}"; health_check_overrides "$@"; printf '%s\\n' "\${HEALTH_CHECK_LINES[@]}"`, 'overrides', ...args], { encoding: 'utf8' });
  return out.trimEnd().split('\n');
}

describe('health_check_overrides: GIVEN the primary and the standbys health-check numbers', () => {
  it('WHEN backend 1 of 3 is the primary THEN backends 0 and 2 get the per-node settings and the primary keeps the global ones', () => {
    const lines = overrides('1', '3', '1', '1', '0');
    expect(lines.filter((l) => !l.startsWith('#'))).toEqual([
      'health_check_timeout0 = 1',
      'health_check_max_retries0 = 1',
      'health_check_retry_delay0 = 0',
      'health_check_timeout2 = 1',
      'health_check_max_retries2 = 1',
      'health_check_retry_delay2 = 0',
    ]);
    expect(lines[0]).toMatch(/^# .*primary = backend 1/);
  });

  it('WHEN the only backend is the primary THEN no per-node setting', () => {
    expect(overrides('0', '1', '1', '1', '0').filter((l) => !l.startsWith('#'))).toEqual([]);
  });
});

function orphans(...args: string[]): { verdict: string; reply: string } {
  const out = execFileSync('bash', ['-c', `source "${SCRIPT}"; decide_orphan_backends "$@"; printf '%s\\n%s' "$VERDICT" "$REPLY"`, 'orphans', ...args], { encoding: 'utf8' });
  const [verdict, reply] = out.split('\n');
  return { verdict, reply };
}

describe("decide_orphan_backends: GIVEN pgpool's primary, the backends that answer as a primary, and pgpool's status of each backend", () => {
  it('WHEN pgpool has no primary, none answers as one, and pgpool has backends 1 and 2 up THEN detach 1 2 (writes would reach a standby)', () => {
    expect(orphans('', '', '3', '2', '1')).toEqual({ verdict: 'detach', reply: '1 2' });
  });

  it('WHEN pgpool has no primary but backend 1 answers as one THEN ok (the attach rules bring pgpool to it)', () => {
    expect(orphans('', '1', '3', '2', '2')).toEqual({ verdict: 'ok', reply: '' });
  });

  it('WHEN pgpool has a primary THEN ok, even if nothing answers (a probe timeout is not a lost primary)', () => {
    expect(orphans('0', '', '2', '2', '2')).toEqual({ verdict: 'ok', reply: '' });
  });

  it('WHEN pgpool has every backend down THEN ok (it already refuses sessions)', () => {
    expect(orphans('', '', '3', '3', '3')).toEqual({ verdict: 'ok', reply: '' });
  });
});

function judgeCheck(...args: string[]): { verdict: string; reply: string; reason: string } {
  const out = execFileSync('bash', ['-c', `source "${SCRIPT}"; decide_health_check "$@"; printf '%s\\n%s\\n%s' "$VERDICT" "$REPLY" "$REASON"`, 'judge', ...args], { encoding: 'utf8' });
  const [verdict, reply, reason] = out.split('\n');
  return { verdict, reply, reason };
}

describe('decide_health_check: GIVEN how long a health-check process went unscheduled and its longest single wait', () => {
  it('WHEN a standby check went unscheduled no longer than its wait plus the margin THEN ok', () => {
    expect(judgeCheck('1', '0', '1500', '1000')).toMatchObject({ verdict: 'ok', reply: '1' });
    expect(judgeCheck('1', '0', '350', '1000')).toMatchObject({ verdict: 'ok' });
  });

  it('WHEN a standby check went unscheduled past that bound while the primary is known THEN detach that standby', () => {
    const d = judgeCheck('1', '0', '1501', '1000');
    expect(d).toMatchObject({ verdict: 'detach', reply: '1' });
    expect(d.reason).toMatch(/blocked reading a login answer/);
    expect(d.reason).toMatch(/backend 1 is a standby and backend 0 the primary/);
  });

  it("WHEN the primary's own check is hung THEN restart the check, never a detach of the primary", () => {
    const d = judgeCheck('0', '0', '9000', '2000');
    expect(d).toMatchObject({ verdict: 'restart', reply: '0' });
    expect(d.reason).toMatch(/backend 0 is the primary/);
  });

  it('WHEN no primary is known THEN restart only, whichever backend it is', () => {
    const d = judgeCheck('2', '', '9000', '1000');
    expect(d).toMatchObject({ verdict: 'restart', reply: '2' });
    expect(d.reason).toMatch(/no primary known/);
  });

  it('WHEN the stalled check waits in the kernel on a socket (wait_woken) or the kernel does not say THEN it is hung', () => {
    expect(judgeCheck('1', '0', '1600', '1000', 'wait_woken')).toMatchObject({ verdict: 'detach' });
    expect(judgeCheck('1', '0', '1600', '1000', '0')).toMatchObject({ verdict: 'detach' });
    expect(judgeCheck('1', '0', '1600', '1000', '').reason).toMatch(/kernel wait: unknown/);
  });

  it.each(['futex_do_wait', 'futex_wait_queue', 'do_semtimedop', 'hrtimer_nanosleep', 'poll_schedule_timeout', 'do_select', 'ep_poll'])(
    'WHEN the stalled check waits in %s (a lock, a sleep, a poll: not a login answer) THEN ok',
    (wchan) => {
      const d = judgeCheck('1', '0', '9000', '1000', wchan);
      expect(d.verdict).toBe('ok');
      expect(d.reason).toMatch(new RegExp(`waits in ${wchan}, not on a backend's answer`));
    },
  );

  it("WHEN the primary's check waits its longer timeout THEN ok within that wait plus the margin", () => {
    expect(judgeCheck('0', '0', '2400', '2000')).toMatchObject({ verdict: 'ok' });
  });
});

const NODE_INFO = (roles: string[], statuses: number[]) =>
  roles.map((role, i) => `Hostname               : node-${i}\nPort                   : 5432\nStatus                 : ${statuses[i]}\nWeight                 : 0.333333\nStatus Name            : ${statuses[i] === 3 ? 'down' : 'up'}\nRole                   : ${role}\n`).join('\n');

function confirm(info: string, primary: string, id: string, waiting: string): { verdict: string; reason: string; parsed: string } {
  const out = execFileSync(
    'bash',
    ['-c', `source "${SCRIPT}"; parse_node_info "$1"; confirm_standby_detach "$2" "$3" "$4"; printf '%s\\n%s\\n%s' "$VERDICT" "$REASON" "$NODE_COUNT:\${NODE_HOSTS[*]}:\${NODE_PORTS[*]}:\${NODE_STATUSES[*]}:\${NODE_ROLES[*]}"`, 'confirm', info, primary, id, waiting],
    { encoding: 'utf8' },
  );
  const [verdict, reason, parsed] = out.split('\n');
  return { verdict, reason, parsed };
}

describe("parse_node_info + confirm_standby_detach: GIVEN pgpool's view (pcp_node_info -a -v) just before the watch detaches a standby", () => {
  it('WHEN parsed THEN every backend block gives its host, port, status and role', () => {
    expect(confirm(NODE_INFO(['primary', 'standby', 'standby'], [2, 2, 3]), '0', '1', '0').parsed).toBe('3:node-0 node-1 node-2:5432 5432 5432:2 2 3:primary standby standby');
  });

  it('WHEN the primary is up and the backend an up standby, and no failover waits THEN detach', () => {
    expect(confirm(NODE_INFO(['primary', 'standby', 'standby'], [2, 2, 2]), '0', '1', '0').verdict).toBe('detach');
  });

  it.each<[string, string[], number[], string, string, string]>([
    ['the backend is the primary now', ['standby', 'primary', 'standby'], [2, 2, 2], '0', '1', '0'],
    ['the known primary is down in pgpool', ['primary', 'standby', 'standby'], [3, 2, 2], '0', '1', '0'],
    ['the backend is down already', ['primary', 'standby', 'standby'], [2, 3, 2], '0', '1', '0'],
    ['a failover waits for a new primary', ['primary', 'standby', 'standby'], [2, 2, 2], '0', '1', '1'],
    ['the backend id is not in pgpool', ['primary', 'standby'], [2, 2], '0', '2', '0'],
  ])('WHEN %s THEN restart only (no detach)', (_what, roles, statuses, primary, id, waiting) => {
    const c = confirm(NODE_INFO(roles, statuses), primary, id, waiting);
    expect(c.verdict).toBe('restart');
    expect(c.reason).toMatch(/no detach/);
  });
});
