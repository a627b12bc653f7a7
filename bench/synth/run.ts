/**
 * Synth benchmark: how the app's own cost grows with the number of clusters, and what the
 * cdk8s CLI adds on top. Every figure is a median of RUNS process runs measured in this one
 * invocation, so compare figures within a run (the machine is noisy; ratios hold, absolute
 * times do not).
 *
 *   npm run bench:synth            # RUNS=5 by default
 */
import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { cpus, tmpdir } from 'os';
import { join } from 'path';

const ROOT = join(__dirname, '..', '..');
const RUNS = Number(process.env.RUNS ?? '5');
const SIZES = [1, 10, 25, 50, 100];
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const CDK8S = join(ROOT, 'node_modules', '.bin', 'cdk8s');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function timeMs(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.toString()}`);
  }
  return elapsed;
}

/** Least-squares line y = a + b x, with R². */
function fitLine(points: Array<[number, number]>): { fixed: number; perCluster: number; r2: number } {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const b = sxy / sxx;
  const a = my - b * mx;
  const ssRes = points.reduce((s, [x, y]) => s + (y - (a + b * x)) ** 2, 0);
  const ssTot = points.reduce((s, [, y]) => s + (y - my) ** 2, 0);
  return { fixed: a, perCluster: b, r2: 1 - ssRes / ssTot };
}

function machine(): string {
  const kernel = execFileSync('uname', ['-r']).toString().trim();
  return `${cpus().length} x ${cpus()[0]?.model ?? 'unknown cpu'}, kernel ${kernel}, node ${process.version}`;
}

function main(): void {
  const out = mkdtempSync(join(tmpdir(), 'bench-synth-'));
  const env = { CDK8S_OUTDIR: out, CDK8S_CHECK_UPGRADE: 'false' };
  try {
    console.log(`Synth benchmark on ${machine()}; median of ${RUNS} runs each`);
    const points: Array<[number, number]> = [];
    // Interleave sizes within each round so drift of the machine hits every size alike.
    const samples = new Map<number, number[]>(SIZES.map((n) => [n, []]));
    for (let round = 0; round < RUNS; round++) {
      for (const n of SIZES) {
        samples.get(n)!.push(timeMs(TSX, [join(__dirname, 'app.ts'), String(n)], env));
      }
    }
    console.log('\nApp process (tsx start-up + module load + synth), no CLI:');
    console.log('clusters  median ms  per cluster ms');
    for (const n of SIZES) {
      const m = median(samples.get(n)!);
      points.push([n, m]);
      console.log(`${String(n).padStart(8)}  ${m.toFixed(0).padStart(9)}  ${(m / n).toFixed(1).padStart(14)}`);
    }
    const fit = fitLine(points);
    console.log(
      `\nLine fit: ${fit.fixed.toFixed(0)} ms fixed + ${fit.perCluster.toFixed(2)} ms per cluster (R² = ${fit.r2.toFixed(4)})`,
    );

    // The CLI's own start-up: a full `cdk8s synth` of a one-cluster app minus the app alone.
    const project = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    writeFileSync(join(project, 'cdk8s.yaml'), `language: typescript\napp: ${TSX} ${join(__dirname, 'app.ts')} 1\noutput: dist\n`);
    const cli: number[] = [];
    const appAlone: number[] = [];
    for (let round = 0; round < RUNS; round++) {
      cli.push(timeMs(CDK8S, ['synth'], { CDK8S_CHECK_UPGRADE: 'false' }, project));
      appAlone.push(timeMs(TSX, [join(__dirname, 'app.ts'), '1'], env));
    }
    rmSync(project, { recursive: true, force: true });
    const cliMedian = median(cli);
    const appMedian = median(appAlone);
    console.log(
      `\ncdk8s synth of 1 cluster: ${cliMedian.toFixed(0)} ms; the app alone ${appMedian.toFixed(0)} ms; ` +
        `the CLI adds ${(cliMedian - appMedian).toFixed(0)} ms (${(cliMedian / appMedian).toFixed(2)}x the app)`,
    );
    const produced = readFileSync(join(out, 'tenant-0.k8s.yaml'), 'utf8').split('\n---').length;
    console.log(`(each cluster: ${produced} Kubernetes objects)`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

main();
