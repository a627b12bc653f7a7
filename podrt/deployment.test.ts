import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime } from './index';
import { container, deployment } from './helpers';

const web = (version: string, replicas = 4, strategy?: any) => deployment('web', {
  replicas, strategy,
  containers: [container('web', ['sleep', 'infinity'], {
    env: [{ name: 'VERSION', value: version }],
    readinessProbe: { exec: { command: ['true'] }, initialDelaySeconds: 1, periodSeconds: 1, timeoutSeconds: 10 },
  })],
});

describe('Deployment controller', () => {
  let rt: PodRuntime;
  beforeAll(async () => {
    rt = await PodRuntime.start({ instance: 'rt-deploy', backoffBaseSeconds: 1 });
  });
  afterAll(async () => { expect(await rt?.down()).toEqual([]); });

  const live = async () => (await rt.pods('app=web')).filter((p) => !p.deleting);

  it('GIVEN replicas=4 THEN 4 pods with random-suffix names and distinct addresses become Ready', async () => {
    await rt.apply(web('1'));
    const ps = await rt.waitReady('app=web', { count: 4, timeoutMs: 60000 });
    expect(ps.every((p) => /^web-[a-z0-9]{10}-[a-z0-9]{5}$/.test(p.name))).toBe(true);
    expect(new Set(ps.map((p) => p.ip)).size).toBe(4);
  });

  it('WHEN the template changes with maxSurge=1, maxUnavailable=0 THEN pods are replaced while never fewer than 4 are Ready nor more than 5 exist', async () => {
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    await rt.apply(web('1', 4, strategy));
    await rt.waitFor(async () => (await live()).length === 4 && (await live()).every((p) => p.ready), { what: 'stable' });
    const oldNames = new Set((await live()).map((p) => p.name));
    await rt.apply(web('2', 4, strategy));
    const rev = (await rt.get('deploy')).find((d) => d.name === 'web').revision;
    let minReady = 99; let maxPods = 0;
    await rt.waitFor(async () => {
      const all = await rt.pods('app=web');
      const ps = all.filter((p) => !p.deleting);
      minReady = Math.min(minReady, ps.filter((p) => p.ready).length);
      maxPods = Math.max(maxPods, ps.length);
      return ps.length === 4 && ps.every((p) => p.revision === rev && p.ready) && all.length === 4;
    }, { timeoutMs: 120000, intervalMs: 100, what: 'rollout' });
    expect(minReady).toBeGreaterThanOrEqual(4);
    expect(maxPods).toBeLessThanOrEqual(5);
    const ps = await live();
    expect(ps.some((p) => oldNames.has(p.name))).toBe(false);
    expect((await rt.exec(ps[0].name, 'web', ['sh', '-c', 'echo $VERSION'])).stdout).toBe('2\n');
  });

  it('WHEN scaled to 2 and back to 3 THEN pods are removed and new ones get new names and addresses', async () => {
    const before = await live();
    await rt.apply(web('2', 2, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }));
    await rt.waitFor(async () => (await rt.pods('app=web')).length === 2, { what: 'scaled down' });
    await rt.apply(web('2', 3, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }));
    const ps = await rt.waitReady('app=web', { count: 3 });
    const added = ps.filter((p) => !before.some((b) => b.name === p.name));
    expect(added.length).toBeGreaterThanOrEqual(1);
    for (const a of added) expect(before.map((b) => b.ip)).not.toContain(a.ip);
  });

  it('WHEN scaled with scale() and restarted with rolloutRestart() THEN the controller follows, replacing every pod', async () => {
    expect(await rt.scale('deployment', 'web', 2)).toMatch(/scaled/);
    await rt.waitFor(async () => (await rt.pods('app=web')).length === 2, { what: 'scaled to 2' });
    const before = new Set((await live()).map((p) => p.name));
    expect(await rt.rolloutRestart('deployment', 'web')).toMatch(/restarted/);
    await rt.waitFor(async () => { const ps = await rt.pods('app=web'); return ps.length === 2 && ps.every((p) => p.ready && !before.has(p.name)); }, { timeoutMs: 60000, what: 'restarted' });
  });
});
