/**
 * Shared helpers of the unit suite: synthesize a chart (or an example program) to plain
 * objects, find objects by kind and name, and parse the rendered config files.
 */
import { execFile } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { promisify } from 'util';
import { Chart, Testing } from 'cdk8s';
import * as yaml from 'js-yaml';
import { PostgresCluster } from '../../lib';
import type { PostgresClusterProps } from '../../lib/model/props';
import { ExampleClusterChart } from '../../charts/example-cluster';

const execFileAsync = promisify(execFile);

/** Root of the repository (where package.json lives). */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/** A synthesized Kubernetes object, as plain JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = Record<string, any>;

/** Synthesizes a chart holding one PostgresCluster with `props` into plain objects. */
export function synthCluster(
  props: PostgresClusterProps = {},
  options: { id?: string; namespace?: string } = {},
): K8sObject[] {
  const app = Testing.app();
  const chart = new Chart(app, 'test', options.namespace === undefined ? {} : { namespace: options.namespace });
  new PostgresCluster(chart, options.id ?? 'c', props);
  return Testing.synth(chart);
}

/** Synthesizes the repository's example chart (charts/example-cluster.ts). */
export function synthExampleChart(overrides?: Partial<PostgresClusterProps>): K8sObject[] {
  const app = Testing.app();
  const chart = new ExampleClusterChart(app, 'example-cluster', overrides === undefined ? {} : { overrides });
  return Testing.synth(chart);
}

export function byKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The one object of `kind` named `name`; throws (failing the test) when absent or duplicated. */
export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata?.name === name);
  if (found.length !== 1) {
    const present = objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ');
    throw new Error(`expected exactly one ${kind}/${name}, found ${found.length}; present: ${present}`);
  }
  return found[0];
}

export function maybeFind(objects: readonly K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata?.name === name);
}

/** Workloads (StatefulSets and Deployments). */
export function workloads(objects: readonly K8sObject[]): K8sObject[] {
  return objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
}

/** `kind/name` of every object, for readable assertions. */
export function kindNames(objects: readonly K8sObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.name}`);
}

/** The env of the one container of a workload, as a name -> value map. */
export function envOf(workload: K8sObject): Record<string, string | undefined> {
  const env: Array<{ name: string; value?: string }> = workload.spec.template.spec.containers[0].env ?? [];
  return Object.fromEntries(env.map((e) => [e.name, e.value]));
}

/**
 * Parses `key = value` conf text (postgresql.conf, repmgr.conf, pgpool.conf) into a map of raw
 * value text (quotes kept). Throws on a duplicated key, which would make the file ambiguous.
 */
export function parseConfRaw(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      continue;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(trimmed);
    if (!m) {
      throw new Error(`not a "key = value" line: ${JSON.stringify(line)}`);
    }
    if (map.has(m[1])) {
      throw new Error(`duplicate key ${m[1]}`);
    }
    map.set(m[1], m[2]);
  }
  return map;
}

/** Unquotes a conf literal: `'it''s'` -> `it's`; bare values are returned unchanged. */
export function unquoteConf(raw: string): string {
  if (raw.startsWith("'")) {
    if (!raw.endsWith("'") || raw.length < 2) {
      throw new Error(`unterminated string: ${raw}`);
    }
    const inner = raw.slice(1, -1);
    // Every quote inside a well-formed literal is doubled.
    if (/(^|[^'])'([^']|$)/.test(inner.replace(/''/g, ''))) {
      throw new Error(`unescaped quote inside ${raw}`);
    }
    return inner.replace(/''/g, "'").replace(/\\\\/g, '\\');
  }
  return raw;
}

/** Parses conf text into a map of unquoted values. */
export function parseConf(text: string): Map<string, string> {
  const raw = parseConfRaw(text);
  return new Map([...raw].map(([k, v]) => [k, unquoteConf(v)]));
}

/** One non-comment line of pg_hba.conf / pool_hba.conf, split on whitespace. */
export function parseHba(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(/\s+/));
}

/** Runs an example program with tsx and returns its objects, per output file. */
export async function synthProgram(program: string): Promise<{ files: Record<string, string>; objects: K8sObject[] }> {
  const outdir = mkdtempSync(join(tmpdir(), 'pgha-unit-'));
  try {
    await execFileAsync(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [program], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK8S_OUTDIR: outdir },
      timeout: 60_000,
    });
    const files: Record<string, string> = {};
    const objects: K8sObject[] = [];
    for (const file of readdirSync(outdir).sort()) {
      const text = readFileSync(join(outdir, file), 'utf8');
      files[file] = text;
      for (const doc of yaml.loadAll(text)) {
        if (doc !== null && doc !== undefined) {
          objects.push(doc as K8sObject);
        }
      }
    }
    return { files, objects };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The example programs under examples/, relative to the repository root. */
export function examplePrograms(): string[] {
  return readdirSync(join(REPO_ROOT, 'examples'))
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => `examples/${f}`);
}

/**
 * Every object set the cross-object and schema checks run over: the example chart and each
 * example program, synthesized once.
 */
export async function allSynthesizedSets(): Promise<Array<{ source: string; objects: K8sObject[] }>> {
  const programs = examplePrograms();
  const results = await Promise.all(programs.map((p) => synthProgram(p)));
  return [
    { source: 'charts/example-cluster.ts', objects: synthExampleChart() },
    ...programs.map((p, i) => ({ source: p, objects: results[i].objects })),
  ];
}

/**
 * {@link allSynthesizedSets} plus a cluster with every tier kind (members with a witness, a
 * cascade of a cascade), so checks over the sets also see the witness and chained layers.
 */
export async function allSetsWithEveryTier(extra: Partial<PostgresClusterProps> = {}): Promise<Array<{ source: string; objects: K8sObject[] }>> {
  return [
    ...(await allSynthesizedSets()),
    {
      source: 'multi-tier cluster',
      objects: synthCluster({ members: { replicas: 2, witness: true }, cascades: [{ name: 'a' }, { name: 'b', upstream: 'a' }], ...extra }, { namespace: 'db' }),
    },
  ];
}

/** The `data` of the ConfigMap named `name`. */
export function configMapData(objects: readonly K8sObject[], name: string): Record<string, string> {
  return find(objects, 'ConfigMap', name).data ?? {};
}

/** A Kubernetes quantity as a number (`500m` -> 0.5, `1Gi` -> 1073741824). */
export function parseQuantity(value: string): number {
  const m = /^([+]?(?:\d+(?:\.\d*)?|\.\d+))(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/.exec(value);
  if (!m) throw new Error(`not a quantity: ${value}`);
  const suffix = m[2] ?? '';
  const factors: Record<string, number> = {
    '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  const factor = suffix in factors ? factors[suffix] : 10 ** Number(suffix.slice(1));
  return Number(m[1]) * factor;
}

/** A Kubernetes LabelSelector as synthesized (matchLabels and/or matchExpressions). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/**
 * Whether `selector` selects a pod with `labels`, evaluated as the API server does: every
 * matchLabels pair and every matchExpressions requirement (In, NotIn, Exists, DoesNotExist)
 * must hold. An empty selector matches everything (as for a PodDisruptionBudget in policy/v1).
 * An unknown operator throws, so a typo can never make a check pass.
 */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  const matchLabels = selector?.matchLabels ?? {};
  if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) {
    return false;
  }
  return (selector?.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const present = Object.prototype.hasOwnProperty.call(labels, key);
    switch (operator) {
      case 'In':
        if (values.length === 0) throw new Error(`operator In on ${key} needs values`);
        return present && values.includes(labels[key]);
      case 'NotIn':
        if (values.length === 0) throw new Error(`operator NotIn on ${key} needs values`);
        return !present || !values.includes(labels[key]);
      case 'Exists':
        if (values.length > 0) throw new Error(`operator Exists on ${key} takes no values`);
        return present;
      case 'DoesNotExist':
        if (values.length > 0) throw new Error(`operator DoesNotExist on ${key} takes no values`);
        return !present;
      default:
        throw new Error(`unknown label selector operator ${operator}`);
    }
  });
}

/** Whether a selector has no requirement at all (it would select every pod). */
export function selectorIsEmpty(selector: LabelSelector | undefined): boolean {
  return Object.keys(selector?.matchLabels ?? {}).length === 0 && (selector?.matchExpressions ?? []).length === 0;
}

/** The selector of every pod that votes in a repmgr election of cluster `instance`: members and witness. */
export function votingSelector(instance: string): LabelSelector {
  return {
    matchLabels: { 'app.kubernetes.io/name': 'postgresql', 'app.kubernetes.io/instance': instance },
    matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['member', 'witness'] }],
  };
}

/** Whether a workload's pods vote in repmgr elections (member or witness component). */
export function isVotingWorkload(workload: K8sObject): boolean {
  const labels: Record<string, string> = workload.spec?.template?.metadata?.labels ?? {};
  return labels['app.kubernetes.io/name'] === 'postgresql' && ['member', 'witness'].includes(labels['app.kubernetes.io/component']);
}
