/**
 * decisions() (test/cluster/logs.ts) against the lines the entrypoint really writes: every
 * failover test prints the decisions of the pods it touched, so a line it drops is a decision
 * nobody sees when a scenario fails.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import { decisions, firstLineAfter, lineTime } from '../cluster/logs';
import { REPO_ROOT } from './helpers';

const SCRIPTS = join(REPO_ROOT, 'lib', 'scripts');
/** The node entrypoint and every file it sources (their log lines carry the entrypoint's tag; repmgrd runs node-promote.sh and node-follow.sh, with tags of their own). */
const ENTRYPOINT = readdirSync(SCRIPTS)
  .filter((f) => /^node-.*\.sh$/.test(f) && f !== 'node-promote.sh' && f !== 'node-follow.sh')
  .map((f) => readFileSync(join(SCRIPTS, f), 'utf8'))
  .join('\n');

/** The entrypoint's log lines that start with `word:`, as a pod would print them. */
function linesStartingWith(word: string): string[] {
  const found = [...ENTRYPOINT.matchAll(new RegExp(`\\blog "(${word}: [^"]*)"`, 'g'))].map((m) => m[1]);
  return found.map((text) => `2026-12-02T01:02:03Z orders-node-0 entrypoint: ${text}`);
}

describe('GIVEN the entrypoint\'s log lines WHEN a test extracts the decisions THEN none is dropped', () => {
  it.each(['handoff', 'role', 'rejoin', 'clone', 'register', 'fence', 'follow', 'scale-down'])('every "%s:" line is a decision', (word) => {
    const lines = linesStartingWith(word);
    expect(lines.length, `the node entrypoint's files log "${word}: ..." lines`).toBeGreaterThan(0);
    expect(decisions(lines.join('\n')).split('\n')).toEqual(lines);
  });

  it('the handoff lines are found (the scripts log "handoff", not "handover")', () => {
    const log = ['2026-12-02T01:02:03Z orders-node-0 entrypoint: handoff: orders-node-1 promoted 612 ms after SIGTERM', '2026-12-02T01:02:03Z orders-node-0 entrypoint: waiting: no primary'].join('\n');
    expect(decisions(log)).toBe('2026-12-02T01:02:03Z orders-node-0 entrypoint: handoff: orders-node-1 promoted 612 ms after SIGTERM');
  });
});

describe('GIVEN the three time formats of the pods\' logs WHEN a benchmark times a failover from them THEN each line gets its own time', () => {
  const log = [
    '2026-12-02T10:00:00Z orders-node-1 entrypoint: role: standby of orders-node-0',
    '2026-12-02 10:00:01.250 UTC [77] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1',
    '[2026-12-02 10:00:04] [NOTICE] promoting standby to primary',
    '2026-12-02 10:00:04.731 GMT [77] LOG:  selected new timeline ID: 2',
    '\tcontinuation without a time',
    '2026-12-02 10:00:06.020 UTC [91] LOG:  started streaming WAL from primary at 0/5000000 on timeline 2',
  ].join('\n');

  it.each([
    ['an entrypoint line (seconds)', 0, '2026-12-02T10:00:00.000Z'],
    ['a PostgreSQL line (milliseconds)', 1, '2026-12-02T10:00:01.250Z'],
    ['a repmgr line (seconds, bracketed)', 2, '2026-12-02T10:00:04.000Z'],
  ])('%s', (_what, index, iso) => {
    expect(lineTime(log.split('\n')[index])).toBe(Date.parse(iso));
  });

  it('a line without a time has none', () => {
    expect(lineTime('\tcontinuation without a time')).toBeUndefined();
  });

  it('the first match after a moment skips the earlier matches', () => {
    const t0 = Date.parse('2026-12-02T10:00:02.000Z');
    expect(firstLineAfter(log, /started streaming WAL .* on timeline/, t0)).toBe(Date.parse('2026-12-02T10:00:06.020Z'));
    expect(firstLineAfter(log, /selected new timeline ID/, t0)).toBe(Date.parse('2026-12-02T10:00:04.731Z'));
    expect(firstLineAfter(log, /no such line/, t0)).toBeUndefined();
  });

  it('a seconds-resolution line in the same second as the moment counts as after it', () => {
    expect(firstLineAfter(log, /promoting standby/, Date.parse('2026-12-02T10:00:04.400Z'))).toBe(Date.parse('2026-12-02T10:00:04.000Z'));
  });
});
