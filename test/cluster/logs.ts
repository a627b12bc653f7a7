/**
 * Reading the pods' logs: what a pod name logged (all its pods and containers), and the
 * entrypoint's decision lines in it. `decisions` is a pure function of the log text, so the unit
 * suite checks it against the lines the scripts write.
 */
import type { ExampleCluster } from './harness';

/** The entrypoint's decision lines: what it chose and why (lib/scripts/README.md). */
export const DECISION_LINE = / entrypoint: (role|rejoin|clone|re-clone|promote|register|fence|handoff|follow|scale-down|SIGTERM)/;

export function decisions(log: string): string {
  return log
    .split('\n')
    .filter((l) => DECISION_LINE.test(l))
    .join('\n');
}

/** Dumps the last part of every pod's log (on failure). */
export async function dumpLogs(cluster: ExampleCluster, chars = 4000): Promise<void> {
  for (const pod of [...cluster.members, ...cluster.cascades, ...(await cluster.pgpoolPods().catch(() => []))]) {
    const log = await cluster.rt.logs(pod, { namespace: cluster.namespace }).catch((e) => String(e));
    console.log(`---- logs of ${pod}\n${log.slice(-chars)}`);
  }
}

/** Everything a pod name logged so far (all its pods and containers, oldest first). */
export async function entrypointHistory(cluster: ExampleCluster, pod: string): Promise<string> {
  const files = cluster.rt.logHistory(pod, cluster.namespace);
  return files.map((f) => f.content).join('\n');
}

/** The newest pod's log of `pod` (after a kill, the replacement pod's; after a crash, the whole pod's). */
export async function newestPodLog(cluster: ExampleCluster, pod: string): Promise<string> {
  const all = await entrypointHistory(cluster, pod);
  const starts = all.lastIndexOf('entrypoint: start: tier');
  return starts >= 0 ? all.slice(starts) : all;
}
