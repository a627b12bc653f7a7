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
