/**
 * Failover benchmark (issue 5): the example cluster with the default timing profile on the local
 * pod runtime (real PostgreSQL, repmgr, Pgpool-II), a write workload of 4 writers and 2 readers
 * through the Pgpool-II Service (client retry policy: reconnect every 200 ms, see
 * test/cluster/workload.ts), and per scenario and run:
 *   - ms from the fault to the first write acknowledged by the new primary (a newer timeline;
 *     the first write acknowledged after the fault call returned when no failover happened);
 *   - acknowledged writes lost (missing on the converged cluster's primary);
 *   - errors the client saw (inserts failed or in doubt, failed connects, failed reads);
 *   - scenario specific: the killed primary streaming again (and whether it was re-cloned),
 *     the partitioned primary no longer serving as primary.
 * One cluster serves every run (the runs follow each other once the cluster converged).
 * Absolute times depend on the machine's load (other jobs run here): compare within one run.
 *
 * For `kill`, where the time went, from the pods' own log lines (PostgreSQL's in ms, repmgr's and
 * the entrypoints' in s): repmgrd noticing, the new primary's promotion, the other member standby
 * streaming from it, the old primary streaming again.
 *
 *   npx tsx bench/failover/run.ts [--runs 5] [--scenarios kill,delete,partition] [--mode async|quorum]
 *                                 [--cpu-hog N] [--tls on|off|both] [--out FILE]
 * `--tls both` measures a cluster with TLS (the default) and then one in plaintext in the same
 * invocation, and prints their tables one under the other: what TLS costs a failover.
 * `--cpu-hog N` keeps N busy processes (a shell loop, no forks) on the host for the whole run:
 * with 1 on a 2-core machine, one core is taken from the cluster.
 * Needs root (the pod runtime).
 */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { mkdirSync, writeFileSync } from 'fs';
import { cpus, release } from 'os';
import { versionSet } from '../../podrt';
import { ExampleCluster } from '../../test/cluster/harness';
import { closeForward, waitConverged, waitStreaming } from '../../test/cluster/lifecycle';
import { dumpLogs, entrypointHistory, firstLineAfter, linesSince, newestPodLog } from '../../test/cluster/logs';
import { underLoad } from '../../test/cluster/workload';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(arg('runs', '5'));
const SCENARIOS = arg('scenarios', 'kill,delete,partition').split(',');
const MODE = arg('mode', 'async');
const OUT = arg('out', '');
const CPU_HOG = Number(arg('cpu-hog', '0'));
/** 'on' (the default product), 'off' (tls.plaintextReason), or 'both': one cluster each, one after the other, tables side by side. */
const TLS = arg('tls', 'on');
if (!['on', 'off', 'both'].includes(TLS)) throw new Error(`--tls ${TLS}: use on, off or both`);

/** ms from the fault to each step of a kill's failover; undefined when the step's line was not found. */
interface KillBreakdown {
  /** a member standby's repmgrd first failed to reach the primary (1 s resolution) */
  detectedMs?: number;
  /** the new primary selected its new timeline (PostgreSQL, ms) */
  promotedMs?: number;
  /** the other member standby streams from the new primary (PostgreSQL, ms) */
  otherFollowsMs?: number;
  /** how the other standby switched: restarted, or only reconnected its WAL receiver */
  otherHow?: string;
  /** the old primary's new pod streams from the new primary (PostgreSQL, ms) */
  oldReturnsMs?: number;
}

interface Sample {
  scenario: string;
  run: number;
  firstAckMs: number;
  lost: number;
  acked: number;
  insertErrors: number;
  connectErrors: number;
  readErrors: number;
  extraMs?: number;
  extra?: string;
  breakdown?: KillBreakdown;
}

/** A run slower than this keeps every pod's whole log for reading afterwards (a partition waits ~10 s by design). */
const slowMs = (scenario: string) => (scenario === 'partition' ? 20_000 : 10_000);

async function keepLogs(cluster: ExampleCluster, name: string, run: Awaited<ReturnType<typeof underLoad>>): Promise<void> {
  const dir = `/tmp/bench-failover-logs/${name}`;
  mkdirSync(dir, { recursive: true });
  // What the clients saw, ms after the fault: every insert (outcome, server, timeline, error)
  // and every failed connect, to lay beside the pods' log lines.
  const at = (t: number) => t - run.t0;
  const lines = [
    `fault at ${new Date(run.t0).toISOString()}`,
    ...run.workload.records.filter((r) => r.end >= run.t0 - 2_000).map((r) => `${at(r.start)}..${at(r.end)} writer ${r.writer} ${r.outcome}${r.server ? ` ${r.server} tli ${r.tli}` : ''}${r.error ? ` ${r.error}` : ''}`),
    ...run.workload.connectErrors.filter((e) => e.at >= run.t0 - 2_000).map((e) => `${at(e.at)} connect failed: ${e.error}`),
  ];
  writeFileSync(`${dir}/clients.txt`, `${lines.join('\n')}\n`);
  for (const pod of [...cluster.members, ...cluster.cascades, ...(await cluster.pgpoolPods().catch(() => []))]) {
    writeFileSync(`${dir}/${pod}.log`, await entrypointHistory(cluster, pod));
  }
  console.log(`slow run: every pod's log kept in ${dir}`);
}

async function killBreakdown(cluster: ExampleCluster, before: string, t0: number): Promise<KillBreakdown> {
  const after = await cluster.primary();
  const logs = new Map<string, string>();
  for (const m of cluster.members) logs.set(m, await entrypointHistory(cluster, m));
  const since = (t: number | undefined) => (t === undefined ? undefined : t - t0);
  const newLog = after ? logs.get(after)! : '';
  const newTimeline = linesSince(newLog, t0).map(({ line }) => /selected new timeline ID: (\d+)/.exec(line)?.[1]).find(Boolean);
  // A walreceiver that connects logs "started streaming WAL"; one that switched to the new
  // timeline on the same connection, "restarted WAL streaming".
  const streaming = newTimeline ? new RegExp(`(started streaming WAL from primary|restarted WAL streaming) at \\S+ on timeline ${newTimeline}\\b`) : /$^/;
  const others = cluster.members.filter((m) => m !== before && m !== after);
  const detected = Math.min(...cluster.members.filter((m) => m !== before).map((m) => firstLineAfter(logs.get(m)!, /unable to (ping|connect to upstream)/, t0) ?? Infinity));
  const other = others[0];
  const otherFollows = other ? firstLineAfter(logs.get(other)!, streaming, t0) : undefined;
  const otherLines = other && otherFollows !== undefined ? linesSince(logs.get(other)!, t0).filter(({ t }) => t <= otherFollows) : [];
  const otherHow = !other ? 'none'
    : otherFollows === undefined ? 'not seen'
      : otherLines.some(({ line }) => /database system is shut down|received fast shutdown/.test(line)) ? 'restarted'
        : otherLines.some(({ line }) => /received SIGHUP/.test(line)) ? 'reloaded primary_conninfo' : 'reconnected';
  return {
    // A line of 1 s resolution in the second of the fault reads as before it: 0.
    detectedMs: Number.isFinite(detected) ? Math.max(0, detected - t0) : undefined,
    promotedMs: since(firstLineAfter(newLog, /selected new timeline ID/, t0)),
    otherFollowsMs: since(otherFollows),
    otherHow,
    oldReturnsMs: since(firstLineAfter(logs.get(before)!, streaming, t0)),
  };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function stillPrimary(cluster: ExampleCluster, pod: string): Promise<boolean> {
  try {
    return (await cluster.psql(pod, 'SELECT pg_is_in_recovery()', { timeoutMs: 5_000 })) === 'f';
  } catch {
    return false;
  }
}

/** Every run of every scenario on one fresh cluster, TLS on or off; the samples and the versions. */
async function measure(tls: 'on' | 'off'): Promise<{ samples: Sample[]; versions: string }> {
  // The product's default Pgpool-II sizing (32 children per pod), not the test clusters' smaller
  // one: the figures compare with earlier runs and are what a user gets.
  const cluster = await ExampleCluster.start(`bench-fo-tls-${tls}`, {
    pgpool: { numInitChildren: 32 },
    ...(MODE === 'quorum' ? { replication: { mode: 'quorum' as const, standbys: 1 } } : {}),
    ...(tls === 'off' ? { tls: { plaintextReason: 'benchmark: the plaintext baseline TLS is compared with' } } : {}),
  });
  const samples: Sample[] = [];
  try {
    const readyMs = await cluster.waitAllReady();
    await waitConverged(cluster);
    console.log(`cluster Ready in ${readyMs} ms (${MODE}, TLS ${tls})`);
    const forward = await cluster.forward();
    for (const scenario of SCENARIOS) {
      for (let run = 1; run <= RUNS; run++) {
        await waitConverged(cluster, 300_000);
        const before = (await cluster.primary())!;
        let extraMs = -1;
        let extra = '';
        const fault =
          scenario === 'kill'
            ? () => cluster.rt.killPod(before).then(() => undefined)
            : scenario === 'delete'
              ? () => cluster.rt.deletePod(before).then(() => undefined)
              : () => cluster.rt.partition(before).then(() => undefined);
        let r: Awaited<ReturnType<typeof underLoad>>;
        try {
        r = await underLoad(cluster, forward.config, fault, {
          after: async (t0) => {
            if (scenario === 'partition') {
              await cluster.rt.waitFor(async () => !(await stillPrimary(cluster, before)), { timeoutMs: 120_000, intervalMs: 250, what: 'fenced' });
              // The fence decision's own log line (1 s resolution): observing it through exec
              // only starts once the workload saw the new primary.
              const line = (await entrypointHistory(cluster, before)).split('\n').reverse().find((l) => / entrypoint: fence: cut off/.test(l));
              extraMs = line ? Date.parse(line.slice(0, 20)) - t0 : Date.now() - t0;
              extra = line ? 'old primary fenced itself (its log line)' : 'old primary stopped serving (observed)';
              await cluster.rt.heal(before);
              await waitStreaming(cluster, before, t0);
            } else {
              // The old primary streams again, or (when repmgrd could not promote and the
              // entrypoint's election picked the most advanced node) it is primary again.
              await cluster.rt.waitFor(
                async () => {
                  if ((await stillPrimary(cluster, before)) && Date.now() - t0 > 5_000) return 'primary';
                  return (await cluster.psql(before, 'SELECT status FROM pg_stat_wal_receiver', { timeoutMs: 5_000 }).catch(() => '')) === 'streaming';
                },
                { timeoutMs: 240_000, intervalMs: 500, what: 'old primary back' },
              );
              extraMs = Date.now() - t0;
              extra = (await stillPrimary(cluster, before)) ? 'old primary back AS PRIMARY (entrypoint election)' : 'old primary streaming again';
            }
          },
        });
        } catch (error) {
          console.log(JSON.stringify({ scenario, run, error: String((error as Error).message).slice(0, 300) }));
          samples.push({ scenario, run, firstAckMs: NaN, lost: NaN, acked: 0, insertErrors: NaN, connectErrors: NaN, readErrors: NaN, extra: `FAILED: ${String((error as Error).message).slice(0, 120)}` });
          await cluster.rt.heal().catch(() => undefined);
          continue;
        }
        let breakdown: KillBreakdown | undefined;
        if (scenario === 'kill') {
          breakdown = await killBreakdown(cluster, before, r.t0);
          const log = await newestPodLog(cluster, before);
          extra += /clone: repmgr standby clone|re-clone/.test(log) ? ' (RE-CLONED)' : ' (rejoin, no clone)';
        }
        if (scenario === 'delete') {
          // How the switchover went: the old primary's handoff, the others lifting their pause.
          const lines: string[] = [];
          for (const m of cluster.members) {
            const history = (await entrypointHistory(cluster, m)).split('\n');
            lines.push(...history.filter((l) => / entrypoint: handoff: /.test(l) && Date.parse(l.slice(0, 20)) >= r.t0 - 1000));
          }
          console.log(lines.sort().join('\n'));
          extra += lines.some((l) => l.includes(`${before} entrypoint: handoff: done`)) ? ' (handoff)' : ' (NO HANDOFF: repmgrd failover)';
        }
        const s = r.workload.summary(r.t0);
        const sample: Sample = {
          scenario,
          run,
          firstAckMs: r.newTimelineAckMs ?? r.firstAckMs,
          lost: r.verdict.lost.length,
          acked: r.verdict.acked,
          insertErrors: s.failed + s.doubt,
          connectErrors: s.connectErrors,
          readErrors: s.readErrors,
          extraMs,
          extra,
          breakdown,
        };
        samples.push(sample);
        if (sample.firstAckMs > slowMs(scenario)) await keepLogs(cluster, `${scenario}-${run}`, r);
        console.log(JSON.stringify(sample), r.verdict.splitBrain.length ? `SPLIT BRAIN: ${r.verdict.splitBrain.join('; ')}` : '');
        if (OUT) writeFileSync(TLS === 'both' ? OUT.replace(/(\.json)?$/, `-tls-${tls}$1`) : OUT, JSON.stringify(samples, null, 1));
      }
    }
    await closeForward(forward);
  } catch (error) {
    console.error(error);
    await dumpLogs(cluster).catch(() => undefined);
  } finally {
    const left = await cluster.stop();
    if (left.length) console.error(`leftovers: ${left.join(', ')}`);
  }
  return { samples, versions: `${cluster.versions.postgresFull}, ${cluster.versions.repmgr}, ${cluster.versions.pgpoolFull}` };
}

/** The tables of one cluster's samples. */
function report(label: string, samples: Sample[]): void {
  console.log(`\n#### ${label}`);
  console.log('| scenario | runs | first ack after fault, ms: median (min-max) | lost acked writes (per run) | client errors per run: median (min-max) | other |');
  console.log('|---|---|---|---|---|---|');
  for (const scenario of SCENARIOS) {
    const all = samples.filter((s) => s.scenario === scenario);
    const ss = all.filter((s) => !Number.isNaN(s.firstAckMs));
    if (!ss.length) continue;
    const fa = ss.map((s) => s.firstAckMs);
    const errs = ss.map((s) => s.insertErrors + s.connectErrors + s.readErrors);
    const ex = ss.map((s) => s.extraMs ?? -1);
    console.log(
      `| ${scenario} | ${ss.length}${all.length > ss.length ? ` (+${all.length - ss.length} failed)` : ''} | ${median(fa)} (${Math.min(...fa)}-${Math.max(...fa)}) | ${ss.map((s) => s.lost).join(', ')} | ` +
        `${median(errs)} (${Math.min(...errs)}-${Math.max(...errs)}) | ${ss[0].extra?.replace(/ \(.*\)/, '').replace(/ AS PRIMARY.*/, '')}: median ${median(ex)} ms (${Math.min(...ex)}-${Math.max(...ex)}); ${[...new Set(ss.map((s) => s.extra))].join('; ')} |`,
    );
  }
  const kills = samples.filter((s) => s.breakdown && !Number.isNaN(s.firstAckMs));
  if (kills.length) {
    const col = (f: (s: Sample) => number | undefined) => {
      const v = kills.map(f).filter((x): x is number => x !== undefined);
      return v.length ? `${median(v)} (${Math.min(...v)}-${Math.max(...v)})${v.length < kills.length ? ` [${kills.length - v.length} not found]` : ''}` : 'not found';
    };
    console.log('\nkill, where the time went (ms after the fault: median (min-max))');
    console.log('| repmgrd noticed (1 s) | new primary promoted | other standby streams from it | first write acknowledged | old primary streams again |');
    console.log('|---|---|---|---|---|');
    console.log(`| ${col((s) => s.breakdown!.detectedMs)} | ${col((s) => s.breakdown!.promotedMs)} | ${col((s) => s.breakdown!.otherFollowsMs)} | ${col((s) => s.firstAckMs)} | ${col((s) => s.breakdown!.oldReturnsMs)} |`);
    console.log(`other standby: ${kills.map((s) => s.breakdown!.otherHow).join(', ')}`);
  }
}

async function main(): Promise<void> {
  const hogs: ChildProcess[] = [];
  for (let i = 0; i < CPU_HOG; i++) hogs.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  process.on('exit', () => hogs.forEach((h) => h.kill('SIGKILL')));
  const variants: ('on' | 'off')[] = TLS === 'both' ? ['on', 'off'] : [TLS as 'on' | 'off'];
  const results = [];
  for (const tls of variants) results.push({ tls, ...(await measure(tls)) });
  const cpu = cpus()[0]?.model ?? '?';
  console.log(`\nmachine: nproc ${cpus().length}, ${cpu}, kernel ${release()}, ${new Date().toISOString()}, ${execFileSync('uptime').toString().trim()}`);
  hogs.forEach((h) => h.kill('SIGKILL'));
  console.log(`versions (version set ${versionSet()}, ${MODE}${CPU_HOG ? `, ${CPU_HOG} busy process(es) beside the cluster` : ''}): ${results[0].versions}`);
  for (const r of results) report(`TLS ${r.tls}${r.tls === 'on' ? ' (the default)' : ' (tls.plaintextReason)'}`, r.samples);
  process.exit(0);
}

void main();
