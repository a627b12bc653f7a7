/**
 * A running cluster switched to another PostgreSQL major without pg_upgrade (a prop changed, the
 * image with it): every PostgreSQL pod (members and cascades) refuses to start with one log line
 * naming both majors and leaves its data as it was; switching back heals the cluster with every
 * acknowledged row. The pods are deleted after each switch, as an operator would: a StatefulSet
 * does not replace a pod stuck on a broken revision by itself (Kubernetes' forced rollback).
 */
import { createHash } from 'crypto';
import { readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresMajorVersion } from '../../lib/model/versions';
import { ensureImage, resolveImage, stateDir, SUITES, versionSet } from '../../podrt';
import { BOUNDS } from './bounds';
import { ExampleCluster, setImages } from './harness';
import { waitConverged } from './lifecycle';

const SET = versionSet();
const MAJOR = SUITES[SET].postgresMajor;
/** Another major a Debian suite carries: the one just below, else the one just above. */
const OTHER = (Object.values(SUITES).map((s) => s.postgresMajor).filter((m) => m !== MAJOR).sort((a, b) => Math.abs(a - MAJOR) - Math.abs(b - MAJOR) || a - b)[0]) as PostgresMajorVersion;
const OTHER_SET = (Object.keys(SUITES) as (keyof typeof SUITES)[]).find((s) => SUITES[s].postgresMajor === OTHER)!;

/** sha256 of every file under `dir`, by relative path. */
function checksums(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(p.slice(dir.length), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

describe(`GIVEN a running PostgreSQL ${MAJOR} cluster WHEN its props switch it to PostgreSQL ${OTHER} without pg_upgrade`, () => {
  let cluster: ExampleCluster;
  const refusal = new RegExp(`FATAL: data directory is PostgreSQL ${MAJOR}, binaries are ${OTHER}: refusing to start`);

  beforeAll(async () => {
    const other = resolveImage(setImages(OTHER_SET).postgres);
    if ('reason' in other) throw new Error(other.reason);
    await ensureImage(other.source, (m) => console.log(`image for the switch: ${m}`));
    cluster = await ExampleCluster.start('major-switch');
    await cluster.waitAllReady();
    await waitConverged(cluster);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('THEN every PostgreSQL pod refuses to start with one line naming both majors, its data untouched; switching back heals it with every row', async () => {
    await cluster.psql(cluster.members[0], "CREATE TABLE before_switch (v text); INSERT INTO before_switch VALUES ('kept')", { database: 'app' });
    const claim = (pod: string) => join(stateDir(cluster.instance), 'pvc', cluster.namespace, `data-${pod}`);
    const rt = cluster.rt;
    const nodes = [...cluster.members, ...cluster.cascades, ...(cluster.witness ? [cluster.witness] : [])];

    await cluster.apply({ postgres: { majorVersion: OTHER } });
    for (const pod of nodes) await rt.killPod(pod);
    const refused = async () => {
      const logs = await Promise.all(nodes.map((p) => rt.logs(p).catch(() => '')));
      return logs.every((l) => refusal.test(l)) ? logs : undefined;
    };
    const first = await rt.waitFor(refused, { timeoutMs: BOUNDS.allReadyMs, intervalMs: 1000, what: 'every PostgreSQL pod refusing' });
    for (const log of first) {
      // one line, and nothing before it touched the volume (no start, no role decision)
      expect(log.split('\n').filter((l) => / entrypoint: /.test(l))).toEqual([expect.stringMatching(refusal)]);
    }
    const sums = new Map(nodes.map((p) => [p, checksums(claim(p))]));
    const restarts = new Map(await Promise.all(nodes.map(async (p) => [p, (await rt.pod(p)).containers[0].restartCount] as const)));
    await rt.waitFor(async () => {
      for (const p of nodes) if ((await rt.pod(p)).containers[0].restartCount <= restarts.get(p)!) return undefined;
      return true;
    }, { timeoutMs: BOUNDS.allReadyMs, intervalMs: 1000, what: 'another refused start of every PostgreSQL pod' });
    for (const p of nodes) {
      expect((await rt.pod(p)).ready, p).toBe(false);
      const again = checksums(claim(p));
      expect(again.size, p).toBeGreaterThan(100);
      expect(again, `${p}: the data is the same files with the same content`).toEqual(sums.get(p));
      expect(statSync(join(claim(p), 'pgdata', 'PG_VERSION')).isFile()).toBe(true);
    }
    console.log(`major switch ${MAJOR} -> ${OTHER}: ${nodes.length} PostgreSQL pods refused twice each, data unchanged (${[...sums.values()].map((m) => m.size).join(', ')} files)`);

    await cluster.apply({});
    for (const pod of nodes) await rt.killPod(pod);
    await cluster.waitAllReady();
    await waitConverged(cluster);
    expect(await cluster.psql(cluster.members[0], 'SELECT v FROM before_switch', { database: 'app' }).catch(async () => {
      const state = await waitConverged(cluster);
      return cluster.psql(state.primary, 'SELECT v FROM before_switch', { database: 'app' });
    })).toBe('kept');
  });
});
