/**
 * Runs the pods' pure decisions (lib/scripts/node-decide*.sh) on fixture facts: every case of a
 * table in ONE bash process (a fork costs ~8 ms on the test VM), with no PATH and `set -u`, so a
 * decision that runs a command or reads a global it was not given fails the run.
 */
import { execFile } from 'child_process';
import { join } from 'path';
import { promisify } from 'util';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);

export const SCRIPTS_DIR = join(REPO_ROOT, 'lib', 'scripts');
/** The files that hold the decisions, in the order the entrypoint sources them. */
export const DECISION_FILES = ['node-decide.sh', 'node-decide-supervise.sh'] as const;

export interface Outcome {
  status: number;
  verdict: string;
  reason: string;
  reply: string;
}

export interface DecisionCase {
  /** The rule as lib/scripts/README.md names it in its table of rules. */
  rule: string;
  /** The situation, for the test title. */
  when: string;
  fn: string;
  args: string[];
  expect: { verdict: string; reason?: RegExp; reply?: string };
}

/** A status line as a node publishes it, with the member fields the caller prepends. */
export function facts(f: {
  host: string;
  state?: string;
  sysid?: string;
  tli?: number;
  lsn?: string;
  streaming?: 0 | 1;
  nodeId?: number;
  priority?: number;
  ordinal?: number;
  spec?: string;
}): string {
  const ordinal = f.ordinal ?? Number(f.host.split('.')[0].split('-').pop());
  const head = `host=${f.host} ordinal=${ordinal} priority=${f.priority ?? 100}`;
  if (!f.state) return head; // did not answer
  return (
    `${head} node_id=${f.nodeId ?? 1000 + ordinal} state=${f.state} sysid=${f.sysid ?? '7300000000000000001'} ` +
    `tli=${f.tli ?? 1} lsn=${f.lsn ?? '0/3000000'} pgmajor=17 streaming=${f.streaming ?? 0} tier=member spec=${f.spec ?? 'aaaaaaaaaaaa'} ts=1795630010`
  );
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The outcome of every case, in order, with the decision files read from `dir`.
 * Rejects when bash fails as a whole (a syntax error, an unset variable, a missing command).
 */
export async function runCases(cases: readonly DecisionCase[], dir = SCRIPTS_DIR): Promise<Outcome[]> {
  const script = [
    'set -u',
    ...DECISION_FILES.map((f) => `source ${quote(join(dir, f))}`),
    `run() { VERDICT=- REASON=- REPLY=-; "$@"; local rc=$?; printf '%s\\037%s\\037%s\\037%s\\036' "$rc" "$VERDICT" "$REASON" "$REPLY"; }`,
    ...cases.map((c) => ['run', c.fn, ...c.args.map(quote)].join(' ')),
  ].join('\n');
  const { stdout } = await execFileAsync('/bin/bash', ['-c', script], { env: { PATH: '/nonexistent' }, timeout: 20_000 });
  const records = stdout.split('\x1e').slice(0, -1);
  if (records.length !== cases.length) throw new Error(`bash printed ${records.length} outcomes for ${cases.length} cases`);
  return records.map((r) => {
    const [status, verdict, reason, reply] = r.split('\x1f');
    return { status: Number(status), verdict, reason, reply };
  });
}

/** The verdicts that return status 1: nothing to do (yet), or a refusal. */
const NOT_ACTING = ['wait', 'ok', 'none', 'behind', 'isolated', 'gone', 'present', 'member', 'refuse'];

/** Why an outcome does not match its case (empty when it does). */
export function mismatch(c: DecisionCase, o: Outcome): string {
  const problems: string[] = [];
  if (o.verdict !== c.expect.verdict) problems.push(`verdict ${o.verdict}, expected ${c.expect.verdict}`);
  // Status 0 means the verdict is to act: the callers branch on it.
  const acts = !NOT_ACTING.includes(c.expect.verdict);
  if ((o.status === 0) !== acts) problems.push(`status ${o.status} for verdict ${o.verdict}`);
  if (c.expect.reason && !c.expect.reason.test(o.reason)) problems.push(`reason "${o.reason}" does not match ${c.expect.reason}`);
  if (c.expect.reply !== undefined && o.reply !== c.expect.reply) problems.push(`reply "${o.reply}", expected "${c.expect.reply}"`);
  return problems.join('; ');
}
