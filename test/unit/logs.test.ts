/**
 * decisions() (test/cluster/logs.ts) against the lines the entrypoint really writes: every
 * failover test prints the decisions of the pods it touched, so a line it drops is a decision
 * nobody sees when a scenario fails.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import { decisions } from '../cluster/logs';
import { REPO_ROOT } from './helpers';

const SCRIPTS = join(REPO_ROOT, 'lib', 'scripts');
/** The node entrypoint and every file it sources (their log lines carry the entrypoint's tag). */
const ENTRYPOINT = readdirSync(SCRIPTS)
  .filter((f) => /^node-.*\.sh$/.test(f) && f !== 'node-promote.sh')
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
