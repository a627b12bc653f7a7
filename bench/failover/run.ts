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
 *   npx tsx bench/failover/run.ts [--runs 5] [--scenarios kill,delete,partition] [--mode async|quorum] [--out FILE]
 * Needs root (the pod runtime).
 */
import { execFileSync } from 'child_process';
import { writeFileSync } from 'fs';
import { cpus, release } from 'os';
import { versionSet } from '../../podrt';
import { ExampleCluster } from '../../test/cluster/harness';
import { closeForward, waitConverged, waitStreaming } from '../../test/cluster/lifecycle';
import { dumpLogs, entrypointHistory, newestPodLog } from '../../test/cluster/logs';
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

async function main(): Promise<void> {
  // The product's default Pgpool-II sizing (32 children per pod), not the test clusters' smaller
  // one: the figures compare with earlier runs and are what a user gets.
  const cluster = await ExampleCluster.start('bench-failover', {
    pgpool: { numInitChildren: 32 },
    ...(MODE === 'quorum' ? { replication: { mode: 'quorum' as const, standbys: 1 } } : {}),
  });
  const samples: Sample[] = [];
  try {
    const readyMs = await cluster.waitAllReady();
    await waitConverged(cluster);
    console.log(`cluster Ready in ${readyMs} ms (${MODE})`);
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
        if (scenario === 'kill') {
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
        };
        samples.push(sample);
        console.log(JSON.stringify(sample), r.verdict.splitBrain.length ? `SPLIT BRAIN: ${r.verdict.splitBrain.join('; ')}` : '');
        if (OUT) writeFileSync(OUT, JSON.stringify(samples, null, 1));
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
  const cpu = cpus()[0]?.model ?? '?';
  console.log(`\nmachine: nproc ${cpus().length}, ${cpu}, kernel ${release()}, ${new Date().toISOString()}, ${execFileSync('uptime').toString().trim()}`);
  console.log(`versions (version set ${versionSet()}, ${MODE}): ${cluster.versions.postgresFull}, ${cluster.versions.repmgr}, ${cluster.versions.pgpoolFull}`);
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
  process.exit(0);
}

void main();
