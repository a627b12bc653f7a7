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

/**
 * The time a log line was written, in ms since the epoch, from whichever of the pods' three line
 * formats it has: the entrypoints' `2026-12-02T10:00:00Z` (1 s), PostgreSQL's and Pgpool-II's
 * `%m`, `2026-12-02 10:00:00.123 GMT` (1 ms; UTC in some images), repmgr's `[2026-12-02 10:00:00]` (1 s). Every
 * pod logs in UTC. Undefined for a line with none (a continuation line, a tool's output).
 */
export function lineTime(line: string): number | undefined {
  const m = /^\[?(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d{1,6})?)(?:Z| GMT| UTC|\])/.exec(line);
  return m ? Date.parse(`${m[1]}T${m[2]}Z`) : undefined;
}

/**
 * The timed lines written at or after `sinceMs`, with their times. Lines of 1 s resolution that
 * fall in the same second as `sinceMs` count as after it.
 */
export function linesSince(log: string, sinceMs: number): { t: number; line: string }[] {
  const floor = Math.floor(sinceMs / 1000) * 1000;
  const out: { t: number; line: string }[] = [];
  for (const line of log.split('\n')) {
    const t = lineTime(line);
    if (t !== undefined && t >= floor) out.push({ t, line });
  }
  return out;
}

/** The time of the first line at or after `sinceMs` that matches `pattern`, if any. */
export function firstLineAfter(log: string, pattern: RegExp, sinceMs: number): number | undefined {
  return linesSince(log, sinceMs).find(({ line }) => pattern.test(line))?.t;
}
