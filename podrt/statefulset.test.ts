import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime } from './index';
import { container, service, sleepMs, statefulSet } from './helpers';

const gatedSts = (name: string, policy: 'OrderedReady' | 'Parallel', replicas: number, env: Record<string, string> = {}) => statefulSet(name, {
  replicas, policy, claims: ['data'],
  containers: [container('main', ['sleep', 'infinity'], {
    env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
    // Ready once /data/ready exists (on the claim, so a recreated pod is Ready again by itself)
    readinessProbe: { exec: { command: ['test', '-f', '/data/ready'] }, periodSeconds: 1, timeoutSeconds: 10, failureThreshold: 1 },
    volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'scratch', mountPath: '/scratch' }],
  })],
  volumes: [{ name: 'scratch', emptyDir: {} }],
});

describe('StatefulSet controller', () => {
  let rt: PodRuntime;
  beforeAll(async () => {
    rt = await PodRuntime.start({ instance: 'rt-sts', backoffBaseSeconds: 1 });
  });
  afterAll(async () => { expect(await rt?.down()).toEqual([]); });

  const names = async (sel: string) => (await rt.pods(sel)).filter((p) => !p.deleting).map((p) => p.name).sort();
  const makeReady = async (pod: string) => {
    await rt.waitFor(async () => (await rt.pod(pod).catch(() => undefined))?.containers[0]?.state === 'running', { what: `${pod} running` });
    await rt.exec(pod, 'main', ['touch', '/data/ready']);
    await rt.waitReady(pod, { timeoutMs: 20000 });
  };

  it('GIVEN OrderedReady WHEN pods are not Ready THEN the next ordinal is not created; each Ready pod lets the next one start', async () => {
    await rt.apply([gatedSts('ord', 'OrderedReady', 3), service('ord', { selector: { app: 'ord' }, ports: [{ port: 80 }], headless: true })]);
    await rt.waitFor(async () => (await names('app=ord')).length === 1, { what: 'ord-0' });
    await sleepMs(2500);
    expect(await names('app=ord')).toEqual(['ord-0']);
    await makeReady('ord-0');
    await rt.waitFor(async () => (await names('app=ord')).length === 2, { what: 'ord-1' });
    await sleepMs(2000);
    expect(await names('app=ord')).toEqual(['ord-0', 'ord-1']);
    await makeReady('ord-1');
    await makeReady('ord-2');
    const pods = await rt.pods('app=ord');
    const byName = Object.fromEntries(pods.map((p) => [p.name, p]));
    expect(byName['ord-1'].createdAt).toBeGreaterThanOrEqual(byName['ord-0'].readyAt);
    expect(byName['ord-2'].createdAt).toBeGreaterThanOrEqual(byName['ord-1'].readyAt);
    expect((await rt.get('pvc')).map((c) => c.name).sort()).toEqual(['data-ord-0', 'data-ord-1', 'data-ord-2']);
  });

  it('GIVEN Parallel WHEN applied THEN all pods are created at once, none of them Ready', async () => {
    await rt.apply([gatedSts('par', 'Parallel', 3), service('par', { selector: { app: 'par' }, ports: [{ port: 80 }], headless: true })]);
    await rt.waitFor(async () => (await names('app=par')).length === 3, { timeoutMs: 20000, what: '3 par pods' });
    expect((await rt.pods('app=par')).every((p) => !p.ready)).toBe(true);
    for (const n of ['par-0', 'par-1', 'par-2']) await makeReady(n);
  });

  it('GIVEN data on a claim WHEN the pod is deleted THEN it is recreated with the same name, a new address, the same claim data and a fresh emptyDir', async () => {
    await rt.exec('par-1', 'main', ['sh', '-c', 'echo kept > /data/file; echo old > /scratch/file']);
    const before = await rt.pod('par-1');
    await rt.deletePod('par-1');
    const after = await rt.waitReady('par-1', { timeoutMs: 30000 }).then((p) => p[0]);
    expect(after.uid).not.toBe(before.uid);
    expect(after.ip).not.toBe(before.ip);
    expect((await rt.exec('par-1', 'main', ['cat', '/data/file'])).stdout).toBe('kept\n');
    expect((await rt.exec('par-1', 'main', ['ls', '/scratch'])).stdout).toBe('');
    // the DNS name follows the new address
    const r = await rt.exec('par-0', 'main', ['getent', 'hosts', 'par-1.par']);
    expect(r.stdout.split(/\s+/)[0]).toBe(after.ip);
  });

  // What the runtime itself adds to a StatefulSet roll: from the old pod's deletion (its
  // container stopped, the pod torn down) to its replacement's container start (the controller,
  // the new pod's network, mounts and container). The cluster tests' roll bounds count on it
  // staying within seconds (test/cluster/bounds.ts, POD_START_S).
  it('GIVEN a StatefulSet pod WHEN it is deleted THEN its replacement\'s container starts within 5 s of the deletion', async () => {
    const before = await rt.pod('par-0');
    const t0 = Date.now();
    await rt.deletePod('par-0');
    const deletedMs = Date.now() - t0;
    await rt.waitFor(async () => {
      const p = await rt.pod('par-0').catch(() => undefined);
      return p && p.uid !== before.uid && p.containers[0]?.state === 'running';
    }, { timeoutMs: 30000, intervalMs: 50, what: 'par-0 replaced and running' });
    const addedMs = Date.now() - t0 - deletedMs;
    console.log(`runtime replacement of par-0: deleted ${deletedMs} ms after the delete call (grace included), new container running ${addedMs} ms after the deletion`);
    expect(addedMs).toBeLessThan(5_000);
    await makeReady('par-0');
  });

  it('WHEN the claim is deleted and then its pod THEN the recreated pod gets an empty claim', async () => {
    const msg = await rt.deleteClaim('data-par-2');
    expect(msg).toMatch(/kept until the pod using it is gone/);
    expect((await rt.get('pvc')).find((c) => c.name === 'data-par-2').deleting).toBe(true);
    await rt.exec('par-2', 'main', ['sh', '-c', 'echo x > /data/file']);
    await rt.deletePod('par-2');
    await rt.waitFor(async () => (await rt.pod('par-2').catch(() => undefined))?.containers[0]?.state === 'running', { timeoutMs: 30000, what: 'par-2 back' });
    expect((await rt.exec('par-2', 'main', ['ls', '-A', '/data'])).stdout).toBe('');
    expect((await rt.pod('par-2')).ready).toBe(false);
    await makeReady('par-2');
  });

  it('WHEN scaled down THEN the highest ordinals go and their claims stay; scaled up again they come back with their data', async () => {
    await rt.exec('par-2', 'main', ['sh', '-c', 'echo two > /data/file']);
    await rt.apply(gatedSts('par', 'Parallel', 1));
    await rt.waitFor(async () => (await rt.pods('app=par')).length === 1, { timeoutMs: 30000, what: 'scale down' });
    expect(await names('app=par')).toEqual(['par-0']);
    expect((await rt.get('pvc')).filter((c) => c.name.startsWith('data-par')).map((c) => c.name).sort()).toEqual(['data-par-0', 'data-par-1', 'data-par-2']);
    await rt.apply(gatedSts('par', 'Parallel', 3));
    await rt.waitReady('app=par', { count: 3, timeoutMs: 30000 });
    expect((await rt.exec('par-2', 'main', ['cat', '/data/file'])).stdout).toBe('two\n');
  });

  it('WHEN the template changes THEN a rolling update replaces pods one at a time from the highest ordinal', async () => {
    const old = Object.fromEntries((await rt.pods('app=ord')).map((p) => [p.name, p.uid]));
    await rt.apply(gatedSts('ord', 'OrderedReady', 3, { VERSION: '2' }));
    const rev = (await rt.get('sts')).find((s) => s.name === 'ord').revision;
    await rt.waitFor(async () => {
      const ps = await rt.pods('app=ord');
      return ps.length === 3 && ps.every((p) => p.revision === rev && p.ready);
    }, { timeoutMs: 90000, what: 'rolled out' });
    const pods = Object.fromEntries((await rt.pods('app=ord')).map((p) => [p.name, p]));
    for (const n of ['ord-0', 'ord-1', 'ord-2']) expect(pods[n].uid).not.toBe(old[n]);
    expect(pods['ord-2'].createdAt).toBeLessThan(pods['ord-1'].createdAt);
    expect(pods['ord-1'].createdAt).toBeLessThan(pods['ord-0'].createdAt);
    expect((await rt.exec('ord-0', 'main', ['sh', '-c', 'echo $VERSION'])).stdout).toBe('2\n');
  });

  it('GIVEN persistentVolumeClaimRetentionPolicy Delete THEN claims go on scale down and on deletion of the StatefulSet', async () => {
    const ret = (replicas: number) => ({ ...gatedSts('ret', 'Parallel', replicas), spec: { ...gatedSts('ret', 'Parallel', replicas).spec, persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Delete' } } });
    const r = await rt.apply(ret(2));
    expect(r.warnings.filter((w) => /Retention/.test(w.message))).toEqual([]);
    await rt.waitFor(async () => (await rt.pods('app=ret')).length === 2, { what: 'ret pods' });
    const claims = async () => (await rt.get('pvc')).filter((c) => c.name.startsWith('data-ret-')).map((c) => c.name).sort();
    expect(await claims()).toEqual(['data-ret-0', 'data-ret-1']);
    await rt.apply(ret(1));
    await rt.waitFor(async () => (await claims()).length === 1, { timeoutMs: 30000, what: 'claim of ret-1 deleted' });
    expect(await claims()).toEqual(['data-ret-0']);
    await rt.delete('statefulset', 'ret');
    await rt.waitFor(async () => (await claims()).length === 0, { timeoutMs: 30000, what: 'claims deleted' });
    // the default policy (Retain) kept the claims of the other StatefulSets
    expect((await rt.get('pvc')).filter((c) => c.name.startsWith('data-par-')).length).toBe(3);
  });
});
