/**
 * The failover-eligible tier scaled from 3 to 5, back to 3, then to 5
 * again (ordinals 3 and 4 start on the claims they left behind), by changing `members.replicas`
 * in the chart and re-applying it, as Argo CD would. Quorum-synchronous replication: zero
 * acknowledged writes may be lost, in every phase, under a workload through the Pgpool-II
 * Service that never reconnects differently nor gets reconfigured.
 *
 * Each phase re-synthesizes the example chart and re-applies it (ExampleCluster.apply): the
 * changed member list rolls every member (so the primary too: one or two failovers per phase),
 * the cascades and the Pgpool-II Deployment (its pgpool.conf lists the members). Known cost,
 * measured: after the scale-down, the first failover of the roll waits for the entrypoint's
 * election (~65-70 s without a primary) because the primary of the moment still had the
 * scaled-away members' repmgr records (see lib/scripts/README.md, "Scale-down bookkeeping").
 */
import { readFileSync } from 'fs';
import { describe, expect, it } from 'vitest';
import { stateDir } from '../../podrt';
import type { PostgresClusterProps } from '../../lib/model/props';
import { NODE_TERMINATION_GRACE_SECONDS } from '../../lib/constructs/postgres-tier';
import { BOUNDS, rollMs } from './bounds';
import { ExampleCluster } from './harness';
import { describeVerdict, invariantFailures, type Verdict, verify } from './invariants';
import { type ConvergedCluster } from './lifecycle';
import { decisions, dumpLogs, entrypointHistory } from './logs';
import { Workload } from './workload';
import { clusterForThisFile, QUORUM } from './file-cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const withMembers = (replicas: number): Partial<PostgresClusterProps> => ({ ...QUORUM, members: { replicas, storage: { size: '10Gi' } } });

// A phase: a first write, the roll of every member (and of the cascades and Pgpool-II, which
// roll at the same time), the writes going on, convergence and bookkeeping.
const MAX_MEMBERS = 5;
const ROLL_BOUND_MS = rollMs(MAX_MEMBERS);
const BOOKKEEPING_SETTLE_MS = BOUNDS.rejoinMs;
const PHASE_TIMEOUT_MS = 2 * BOUNDS.steadyWriteMs + ROLL_BOUND_MS + BOUNDS.rejoinMs + BOOKKEEPING_SETTLE_MS;

let cluster: ExampleCluster;
let forward: ConvergedCluster['forward'];
clusterForThisFile('failover-scale', withMembers(3), (started) => ({ cluster, forward } = started));

/** Every workload of the namespace rolled out to its current template, with exactly `replicas` pods, all Ready. */
async function waitRolledOut(timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await cluster.rt.waitFor(
    async () => {
      const workloads = [...(await cluster.rt.get('statefulsets', { namespace: cluster.namespace })), ...(await cluster.rt.get('deployments', { namespace: cluster.namespace }))];
      const pods = await cluster.rt.pods(undefined, cluster.namespace);
      for (const w of workloads) {
        if (w.updated !== w.replicas || w.ready !== w.replicas || w.current !== w.replicas) return false;
      }
      // Nothing terminating is left (a scaled-away member or an old Pgpool-II pod).
      return pods.every((p: any) => !p.deleting) && pods.length === cluster.expectedPods;
    },
    { timeoutMs, intervalMs: 1_000, what: 'every workload rolled out' },
  );
  return Date.now() - t0;
}

/** Milliseconds of each step of one pod's replacement during a roll, from the runtime's events and the entrypoint log. */
interface RollStep {
  pod: string;
  /** SIGTERM (deletion) to the container's exit: the entrypoint's shutdown (handoff on a primary). */
  terminateMs?: number;
  /** Exit to the old pod's deletion: the runtime's teardown (cgroup, mounts, network namespace). */
  teardownMs?: number;
  /** Deletion to the new container's start: the controller and the runtime's pod set-up. */
  recreateMs?: number;
  /** Container start to the entrypoint's role decision (its first look at the peers). */
  decideMs?: number;
  /** Role decision to Ready (rejoin or clone, start, streaming). */
  joinMs?: number;
}

/** The replacement of each member pod after `since` (epoch ms), step by step. */
function rollTimeline(since: number): RollStep[] {
  const events = readFileSync(`${stateDir(cluster.instance)}/events.log`, 'utf8').split('\n');
  const at = (pod: string, re: RegExp, after: number): number | undefined => {
    for (const line of events) {
      const t = Date.parse(line.slice(0, 24));
      if (t >= after && line.includes(`pgha-example/${pod} `) && re.test(line)) return t;
    }
    return undefined;
  };
  const logAt = (pod: string, re: RegExp, after: number): number | undefined => {
    for (const line of cluster.rt.logHistory(pod, cluster.namespace).flatMap((f) => f.content.split('\n'))) {
      const t = Date.parse(line.slice(0, 20));
      if (t >= after - 1000 && re.test(line)) return t;
    }
    return undefined;
  };
  const steps: RollStep[] = [];
  for (const pod of cluster.members) {
    const deleting = at(pod, / deleting \(grace/, since);
    if (deleting === undefined) continue;
    const exited = at(pod, / container postgres exited /, deleting);
    const deleted = at(pod, / deleted$/, deleting);
    const started = deleted === undefined ? undefined : at(pod, / container postgres started /, deleted);
    const decided = started === undefined ? undefined : logAt(pod, / entrypoint: role: /, started);
    const ready = started === undefined ? undefined : at(pod, / container postgres ready=true/, started);
    const d = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : b - a);
    steps.push({ pod, terminateMs: d(deleting, exited), teardownMs: d(exited, deleted), recreateMs: d(deleted, started), decideMs: d(started, decided), joinMs: d(decided, ready) });
  }
  return steps;
}

function describeTimeline(steps: RollStep[]): string {
  const f = (ms?: number) => (ms === undefined ? '     ?' : (ms / 1000).toFixed(1).padStart(6));
  return ['pod              terminate teardown recreate  decide    join (s)', ...steps.map((s) => `${s.pod.padEnd(16)} ${f(s.terminateMs)}   ${f(s.teardownMs)}   ${f(s.recreateMs)}  ${f(s.decideMs)}  ${f(s.joinMs)}`)].join('\n');
}

interface Bookkeeping {
  /** `node_id:type:active` of every repmgr record, on the primary */
  repmgrNodes: string[];
  /** `slot:active` per node that has any replication slot */
  slots: Record<string, string[]>;
  /** backends (short host names) per Pgpool-II pod */
  pgpoolBackends: Record<string, string[]>;
}

async function bookkeeping(primary: string, poolNodes: Record<string, string[]>): Promise<Bookkeeping> {
  const repmgrNodes = (await cluster.psql(primary, "SELECT node_id || ':' || type || ':' || active FROM repmgr.nodes ORDER BY node_id", { database: 'repmgr' })).split('\n').filter(Boolean);
  const slots: Record<string, string[]> = {};
  for (const pod of [...cluster.members, ...cluster.cascades]) {
    const s = (await cluster.psql(pod, "SELECT slot_name || ':' || active FROM pg_replication_slots ORDER BY 1")).split('\n').filter(Boolean);
    if (s.length) slots[pod] = s;
  }
  const pgpoolBackends: Record<string, string[]> = {};
  for (const [p, rows] of Object.entries(poolNodes)) pgpoolBackends[p] = rows.map((r) => r.split(' ')[0]).sort();
  return { repmgrNodes, slots, pgpoolBackends };
}

/** What the bookkeeping must show for the current topology; a list of failures. */
function bookkeepingFailures(b: Bookkeeping): string[] {
  const out: string[] = [];
  const ids = (pods: string[], base: number) => pods.map((p) => base + Number(p.slice(p.lastIndexOf('-') + 1)));
  const want = [...ids(cluster.members, 1000), ...ids(cluster.cascades, 2000)].sort((a, b) => a - b);
  const have = b.repmgrNodes.map((r) => Number(r.split(':')[0]));
  if (JSON.stringify(have) !== JSON.stringify(want)) out.push(`repmgr.nodes holds ${have.join(',')}, expected ${want.join(',')}`);
  for (const r of b.repmgrNodes) if (!r.endsWith(':true')) out.push(`repmgr record ${r} is not active`);
  for (const [pod, slots] of Object.entries(b.slots)) {
    for (const s of slots) if (!s.endsWith(':true')) out.push(`${pod} keeps an inactive replication slot ${s}`);
  }
  const members = cluster.members.slice().sort();
  for (const [p, backends] of Object.entries(b.pgpoolBackends)) {
    if (JSON.stringify(backends) !== JSON.stringify(members)) out.push(`pgpool ${p} backends ${backends.join(',')}, expected ${members.join(',')}`);
  }
  return out;
}

interface Phase {
  verdict: Verdict;
  rolloutMs: number;
  book: Bookkeeping;
  workload: Workload;
  maxGapMs: number;
}


/** Re-applies the chart with `replicas` members under a workload, waits for the rollout, verifies. */
async function scaleTo(replicas: number, label: string): Promise<Phase> {
  const workload = new Workload(forward.config, { writers: 4, readers: 2 });
  await workload.start();
  try {
    await workload.waitAckAfter(Date.now(), BOUNDS.steadyWriteMs);
    await sleep(2_000);
    const t0 = Date.now();
    const warnings = await cluster.apply(withMembers(replicas));
    // The roll of the members bounds the rollout: grace, start and rejoin per pod (bounds.ts).
    const rolloutMs = await waitRolledOut(rollMs(Math.max(cluster.members.length, replicas)));
    const timeline = rollTimeline(t0);
    console.log(`scale ${label}: roll of the members, step by step:\n${describeTimeline(timeline)}`);
    // Every member stopped by itself within its grace period (none needed the SIGKILL).
    for (const step of timeline) expect(step.terminateMs ?? 0, `${step.pod} termination`).toBeLessThan(NODE_TERMINATION_GRACE_SECONDS * 1000);
    // Writes keep going a little after the rollout, then the cluster must have settled.
    await workload.waitAckAfter(Date.now(), BOUNDS.steadyWriteMs);
    await sleep(3_000);
    await workload.stop();
    const verdict = await verify(cluster, workload);
    // Slots of a node that went away are dropped by the primary's supervisor within a few passes.
    let book = await bookkeeping(verdict.state.primary, verdict.state.poolNodes);
    const settleDeadline = Date.now() + BOOKKEEPING_SETTLE_MS;
    while (bookkeepingFailures(book).length && Date.now() < settleDeadline) {
      await sleep(5_000);
      book = await bookkeeping(verdict.state.primary, verdict.state.poolNodes);
    }
    const gap = workload.maxAckGap(t0);
    const phase = { verdict, rolloutMs, book, workload, maxGapMs: gap.ms };
    console.log(
      `scale ${label}: rollout ${rolloutMs} ms; longest gap between acknowledged writes ${gap.ms} ms (from ${gap.since}); ${describeVerdict(verdict)}; ` +
        `${JSON.stringify(workload.summary(t0))}; errors ${JSON.stringify(workload.errorKinds())}; warnings ${warnings.length}\n` +
        `repmgr.nodes ${book.repmgrNodes.join(' ')}; slots ${JSON.stringify(book.slots)}; pgpool ${JSON.stringify(verdict.state.poolNodes)}`,
    );
    return phase;
  } catch (error) {
    console.error(`scale ${label} failed: ${(error as Error).stack ?? error}`);
    await workload.stop();
    await dumpLogs(cluster);
    throw error;
  }
}

describe('GIVEN a quorum-synchronous cluster of 3 members under a write workload through Pgpool-II', () => {
  it('WHEN members.replicas is raised to 5 and the chart re-applied THEN 5 members stream from the primary, Pgpool-II and repmgr know all 5, nothing acknowledged is lost', async () => {
    const phase = await scaleTo(5, '3->5');
    expect(cluster.members).toHaveLength(5);
    expect(invariantFailures(phase.verdict, { zeroLoss: true })).toEqual([]);
    expect(bookkeepingFailures(phase.book)).toEqual([]);
  }, PHASE_TIMEOUT_MS);

  it('WHEN members.replicas goes back to 3 THEN ordinals 3 and 4 are unregistered, their slots dropped, Pgpool-II shows 3 backends, nothing acknowledged is lost', async () => {
    const phase = await scaleTo(3, '5->3');
    expect(cluster.members).toHaveLength(3);
    expect(invariantFailures(phase.verdict, { zeroLoss: true })).toEqual([]);
    expect(bookkeepingFailures(phase.book)).toEqual([]);
    // The primary of the day did the bookkeeping (a log line per removed node).
    const cleanups: string[] = [];
    for (const pod of cluster.members) cleanups.push(...(await entrypointHistory(cluster, pod)).split('\n').filter((l) => / entrypoint: scale-down: /.test(l)));
    console.log(`scale 5->3: scale-down bookkeeping:\n${cleanups.join('\n')}`);
    expect(cleanups.join('\n')).toMatch(/scale-down: node 1003 /);
    expect(cleanups.join('\n')).toMatch(/scale-down: node 1004 /);
    // The claims stay (Kubernetes keeps them on scale down).
    const claims = (await cluster.rt.get('pvc', { namespace: cluster.namespace })).map((c: any) => c.name);
    expect(claims).toEqual(expect.arrayContaining(['data-orders-node-3', 'data-orders-node-4']));
   }, PHASE_TIMEOUT_MS);

  it('WHEN members.replicas is raised to 5 again THEN ordinals 3 and 4 detect the stale data on their old claims, rejoin or re-clone, and stream; nothing acknowledged is lost', async () => {
    const phase = await scaleTo(5, '3->5 again');
    expect(invariantFailures(phase.verdict, { zeroLoss: true })).toEqual([]);
    expect(bookkeepingFailures(phase.book)).toEqual([]);
    for (const pod of ['orders-node-3', 'orders-node-4']) {
      // Everything the pod name logged: its first life (a clone onto an empty claim) and this one.
      const log = await entrypointHistory(cluster, pod);
      console.log(`scale: decisions of ${pod} (first start on an empty claim, then on its reused claim):\n${decisions(log)}`);
      expect(log).toMatch(/role: standby \(stale data on a reused claim: primary \S+ has no repmgr record of node 100[34]/);
    }
  }, PHASE_TIMEOUT_MS);
});
