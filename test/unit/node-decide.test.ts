/**
 * The PostgreSQL pods' rules (lib/scripts/node-decide.sh, node-decide-supervise.sh): fixture
 * facts in, verdict and reason out, without root, in one bash process per table run. Then the
 * mutation check: every comparison in the decision files inverted, one at a time, must make at
 * least one case of the table fail; a mutant that survives is a rule no test pins down.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES } from './decide-cases';
import type { Outcome } from './decide-harness';
import { DECISION_FILES, mismatch, runCases, SCRIPTS_DIR } from './decide-harness';

describe('GIVEN the facts a pod gathers WHEN a rule decides THEN it gives the verdict and reason of the table', () => {
  let outcomes: Outcome[] = [];
  beforeAll(async () => {
    outcomes = await runCases(CASES);
  });

  it.each(CASES.map((c, i) => [`${c.rule}: ${c.when}`, i] as const))('%s', (_title, i) => {
    expect(mismatch(CASES[i], outcomes[i])).toBe('');
  });
});

describe('GIVEN lib/scripts/README.md WHEN its table of rules is read THEN every rule is tested by name, and every tested rule is in it', () => {
  const readme = readFileSync(join(SCRIPTS_DIR, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Rules'), readme.indexOf('\n## ', readme.indexOf('## Rules') + 1));
  const documented = [...section.matchAll(/^\| ([^|`]+?) \| `(decide_[a-z_]+)` \|/gm)].map((m) => ({ rule: m[1], fn: m[2] }));

  it('the table lists the rules', () => {
    expect(documented.length).toBeGreaterThan(20);
  });

  it.each(documented.map((d) => [d.rule, d.fn] as const))('"%s" (%s) has a case in the table', (rule, fn) => {
    expect(CASES.filter((c) => c.rule === rule && c.fn === fn).length).toBeGreaterThan(0);
  });

  it('every rule the table tests is documented', () => {
    const names = new Set(documented.map((d) => d.rule));
    expect([...new Set(CASES.map((c) => c.rule))].filter((r) => !names.has(r))).toEqual([]);
  });
});

/** One mutant: a comparison inverted at one place of one file. */
interface Mutant {
  file: string;
  line: number;
  from: string;
  to: string;
  text: string;
}

const ARITH_INVERSE: Record<string, string> = { '==': '!=', '!=': '==', '<': '>=', '>=': '<', '>': '<=', '<=': '>' };
const TEST_INVERSE: Record<string, string> = { '==': '!=', '!=': '==', '<': '>', '>': '<', '-n': '-z', '-z': '-n' };

/** Every comparison inside (( )) and [[ ]] of a non-comment line, inverted one at a time. */
export function mutants(file: string, source: string): Mutant[] {
  const out: Mutant[] = [];
  const lines = source.split('\n');
  lines.forEach((line, idx) => {
    if (line.trimStart().startsWith('#')) return;
    // (( ... )) not preceded by $ (that is arithmetic expansion, not a condition), and [[ ... ]].
    for (const [re, inverse] of [
      [/(?<!\$)\(\((.*?)\)\)/g, ARITH_INVERSE],
      [/\[\[ (.*?) \]\]/g, TEST_INVERSE],
    ] as const) {
      for (const span of line.matchAll(re)) {
        const start = span.index! + span[0].indexOf(span[1]);
        for (const op of span[1].matchAll(/(?<= )(==|!=|<=|>=|<|>|-n|-z)(?= )/g)) {
          const at = start + op.index!;
          const to = inverse[op[1]];
          const mutated = [...lines];
          mutated[idx] = line.slice(0, at) + to + line.slice(at + op[1].length);
          out.push({ file, line: idx + 1, from: op[1], to, text: mutated.join('\n') });
        }
      }
    }
  });
  return out;
}

describe('GIVEN every comparison in the decision files inverted, one at a time, WHEN the table runs THEN a case fails', () => {
  const all = DECISION_FILES.flatMap((f) => mutants(f, readFileSync(join(SCRIPTS_DIR, f), 'utf8')));
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-mutants-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the mutator finds the comparisons (each decision file has some)', () => {
    for (const f of DECISION_FILES) expect(all.filter((m) => m.file === f).length, f).toBeGreaterThan(15);
  });

  it('no mutant survives', async () => {
    const survivors: string[] = [];
    let next = 0;
    const worker = async (w: number) => {
      const wdir = join(dir, String(w));
      for (let i = next++; i < all.length; i = next++) {
        const mu = all[i];
        rmSync(wdir, { recursive: true, force: true });
        mkdirSync(wdir);
        for (const f of DECISION_FILES) writeFileSync(join(wdir, f), f === mu.file ? mu.text : readFileSync(join(SCRIPTS_DIR, f), 'utf8'));
        const killed = await runCases(CASES, wdir).then(
          (outcomes) => CASES.some((c, k) => mismatch(c, outcomes[k]) !== ''),
          () => true, // the mutant broke the run as a whole: killed
        );
        if (!killed) survivors.push(`${mu.file}:${mu.line}: ${mu.from} -> ${mu.to}`);
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    expect(survivors).toEqual([]);
  }, 60_000);
});
