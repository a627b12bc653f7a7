/**
 * One Pgpool-II pod cut off from the primary, both ways and each way alone, for 60 s, while the
 * rest of the cluster is healthy. Writers run through the Service and through each Pgpool-II pod
 * (one table each), and read-only refusals (SQLSTATE 25006) are counted apart.
 *
 * What must hold (lib/scripts/README.md, "Pgpool-II entrypoint"): the cut pod leaves the Service
 * (not Ready: it reaches no primary while a standby it reaches still hears from one), nobody
 * fails over, the other pod's writers see no error at all, no write ever reaches a standby
 * (Pgpool-II's failover command holds the detach of the unreachable primary, then detaches the
 * standbys so the pod refuses sessions), and after healing the pod is Ready and takes writes.
 */
import { describe, expect, it } from 'vitest';
import { BOUNDS } from './bounds';
import { ExampleCluster } from './harness';
import { describeVerdict, invariantFailures, verify } from './invariants';
import { type ConvergedCluster, closeForward } from './lifecycle';
import { dumpLogs } from './logs';
import { Workload } from './workload';
import { clusterForThisFile, QUORUM } from './file-cluster';

const CUT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: ExampleCluster;
let forward: ConvergedCluster['forward'];
clusterForThisFile('pgpool-partial', QUORUM, (started) => ({ cluster, forward } = started));

type Direction = 'both ways' | 'pgpool to primary only' | 'primary to pgpool only';

async function isReady(pod: string): Promise<boolean> {
  const p = await cluster.rt.pod(pod, cluster.namespace);
  return !!p?.ready;
}

async function cut(direction: Direction, pgpool: string, primary: string, on: boolean): Promise<void> {
  const apply = (from: string, to: string) => (on ? cluster.rt.cut(from, to) : cluster.rt.uncut(from, to));
  if (direction !== 'primary to pgpool only') await apply(pgpool, primary);
  if (direction !== 'pgpool to primary only') await apply(primary, pgpool);
}

async function cutOnePgpoolPod(direction: Direction): Promise<void> {
  const [cutPod, otherPod] = await cluster.pgpoolPods();
  const primary = (await cluster.primary())!;
  const viaCut = await cluster.forward(`pod/${cutPod}`);
  const viaOther = await cluster.forward(`pod/${otherPod}`);
  const tag = direction.replace(/\W+/g, '_');
  const workloads = {
    service: new Workload(forward.config, { writers: 2, readers: 1, table: `partial_service_${tag}` }),
    cut: new Workload(viaCut.config, { writers: 1, readers: 1, table: `partial_cut_${tag}` }),
    other: new Workload(viaOther.config, { writers: 1, readers: 1, table: `partial_other_${tag}` }),
  };
  try {
    for (const w of Object.values(workloads)) await w.start();
    for (const w of Object.values(workloads)) await w.waitAckAfter(Date.now(), BOUNDS.steadyWriteMs);
    const tliBefore = Math.max(...Object.values(workloads).flatMap((w) => w.acked().map((r) => r.tli!)));
    const t0 = Date.now();
    await cut(direction, cutPod, primary, true);
    // Readiness of both pods, sampled until the heal.
    let leftMs: number | undefined;
    const otherUnready: number[] = [];
    while (Date.now() - t0 < CUT_MS) {
      const [cutReady, otherReady] = await Promise.all([isReady(cutPod), isReady(otherPod)]);
      if (!cutReady && leftMs === undefined) leftMs = Date.now() - t0;
      if (!otherReady) otherUnready.push(Date.now() - t0);
      await sleep(500);
    }
    await cut(direction, cutPod, primary, false);
    const healAt = Date.now();
    await cluster.rt.waitFor(() => isReady(cutPod), { timeoutMs: BOUNDS.convergedMs, intervalMs: 500, what: `${cutPod} Ready again after the heal` });
    const readyAgainMs = Date.now() - healAt;
    const afterHeal = await workloads.cut.waitAckAfter(Date.now(), BOUNDS.steadyWriteMs);
    const writeAgainMs = afterHeal.end - healAt;
    await sleep(3_000);
    for (const w of Object.values(workloads)) await w.stop();
    const verdicts = {
      service: await verify(cluster, workloads.service, `partial_service_${tag}`),
      cut: await verify(cluster, workloads.cut, `partial_cut_${tag}`),
      other: await verify(cluster, workloads.other, `partial_other_${tag}`),
    };
    for (const [name, v] of Object.entries(verdicts)) {
      const w = workloads[name as keyof typeof workloads];
      console.log(`cut ${direction}, writers through ${name}: ${describeVerdict(v)}; since the cut ${JSON.stringify(w.summary(t0))}; errors ${JSON.stringify(w.errorKinds())}`);
    }
    console.log(
      `cut ${direction}: ${cutPod} cut from ${primary} for ${CUT_MS / 1000} s; left the Service after ${leftMs} ms (bound ${BOUNDS.pgpoolLeavesServiceMs} ms); ` +
        `${otherPod} not ready at ${otherUnready.length} samples; after the heal Ready in ${readyAgainMs} ms, a write through it in ${writeAgainMs} ms`,
    );
    for (const v of Object.values(verdicts)) expect(invariantFailures(v, { zeroLoss: true })).toEqual([]);
    // The cut pod left the Service within the bound; the other stayed in.
    expect(leftMs).toBeDefined();
    expect(leftMs!).toBeLessThanOrEqual(BOUNDS.pgpoolLeavesServiceMs);
    expect(otherUnready).toEqual([]);
    // No failover: the same primary, every write on the same timeline.
    expect(verdicts.other.state.primary).toBe(primary);
    expect(Math.max(...Object.values(workloads).flatMap((w) => w.acked().map((r) => r.tli!)))).toBe(tliBefore);
    // The other pod's clients saw no error at all.
    const other = workloads.other.summary(t0);
    expect({ failed: other.failed, doubt: other.doubt, connectErrors: other.connectErrors, readErrors: other.readErrors }).toEqual({ failed: 0, doubt: 0, connectErrors: 0, readErrors: 0 });
  } catch (error) {
    console.error(`cut ${direction} failed: ${(error as Error).stack ?? error}`);
    await cut(direction, cutPod, primary, false).catch(() => undefined);
    for (const w of Object.values(workloads)) await w.stop();
    await dumpLogs(cluster);
    throw error;
  } finally {
    await closeForward(viaCut);
    await closeForward(viaOther);
  }
}

describe('GIVEN a quorum-synchronous cluster with writers through the Service and through each Pgpool-II pod', () => {
  for (const direction of ['both ways', 'pgpool to primary only', 'primary to pgpool only'] as const) {
    it(`WHEN one Pgpool-II pod is cut from the primary ${direction} for 60 s THEN it leaves the Service, nobody fails over, the other pod's writers see no error, no write reaches a standby, and after healing it serves again`, async () => {
      await cutOnePgpoolPod(direction);
    }, CUT_MS + BOUNDS.convergedMs + 2 * BOUNDS.steadyWriteMs + 4 * BOUNDS.rejoinMs);
  }
});
