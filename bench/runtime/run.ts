/**
 * Local pod runtime benchmark: time from apply to all Ready.
 *   npx tsx bench/runtime/run.ts [runs=3]
 * Scenario A: one Deployment of 10 trivial pods. Scenario B: 3 StatefulSets x 3 pods (OrderedReady).
 * Pods have no probes (Ready as soon as the container runs), so this measures the runtime itself:
 * namespace + veth + nftables + bwrap per pod, controllers and status propagation.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { PodRuntime } from '../../podrt';

const runs = Number(process.argv[2] ?? 3);
const trivial = { name: 'main', image: 'busybox', command: ['sleep', 'infinity'] };

function deployment(replicas: number): any {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bench' }, spec: { replicas, selector: { matchLabels: { app: 'bench' } }, template: { metadata: { labels: { app: 'bench' } }, spec: { containers: [trivial] } } } };
}
function sts(name: string, replicas: number): any[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { clusterIP: 'None', selector: { app: name }, ports: [{ port: 80 }] } },
    { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name }, spec: { replicas, serviceName: name, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [trivial] } } } },
  ];
}

async function timeToReady(rt: PodRuntime, objs: any[], selector: (p: any) => boolean, count: number): Promise<number> {
  const t0 = performance.now();
  await rt.apply(objs);
  await rt.waitFor(async () => (await rt.get('pods')).filter((p) => selector(p) && p.ready).length >= count, { timeoutMs: 300000, intervalMs: 20, what: 'ready' });
  return performance.now() - t0;
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function main(): Promise<void> {
  const a: number[] = []; const b: number[] = []; const start: number[] = []; const down: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    const rt = await PodRuntime.start({ instance: 'bench' });
    start.push(performance.now() - t);
    a.push(await timeToReady(rt, [deployment(10)], (p) => p.labels.app === 'bench', 10));
    b.push(await timeToReady(rt, ['s1', 's2', 's3'].flatMap((n) => sts(n, 3)), (p) => /^s[123]$/.test(p.labels.app), 9));
    t = performance.now();
    const left = await rt.down();
    down.push(performance.now() - t);
    if (left.length) throw new Error(`leftovers: ${left.join(', ')}`);
    process.stderr.write(`run ${i + 1}: deployment ${a[i].toFixed(0)} ms, statefulsets ${b[i].toFixed(0)} ms\n`);
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;
  console.log(`machine: nproc ${os.cpus().length}, kernel ${os.release()}, cpu ${cpu}, node ${process.version}, bwrap ${execFileSync('bwrap', ['--version'], { encoding: 'utf8' }).trim()}`);
  console.log(`runtime start (daemon + infra netns):          ${fmt(start)}`);
  console.log(`Deployment, 10 trivial pods, apply -> Ready:   ${fmt(a)}`);
  console.log(`3 StatefulSets x 3 pods (OrderedReady) -> Ready: ${fmt(b)}`);
  console.log(`down (everything removed):                     ${fmt(down)}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
