import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime } from './index';
import { clientDeployment, clientPod, container, resolve, service, statefulSet } from './helpers';

// Readiness = a file in the pod's emptyDir; the exec probe checks it every second.
const gated = (name: string) => statefulSet(name, {
  replicas: 1,
  policy: 'Parallel',
  containers: [container('main', ['sleep', 'infinity'], {
    readinessProbe: { exec: { command: ['test', '-f', '/work/ready'] }, periodSeconds: 1, timeoutSeconds: 10, failureThreshold: 1 },
    volumeMounts: [{ name: 'work', mountPath: '/work' }],
  })],
  volumes: [{ name: 'work', emptyDir: {} }],
});

describe('DNS as cluster DNS gives it, gated by readiness', () => {
  let rt: PodRuntime;
  let client: string;

  beforeAll(async () => {
    rt = await PodRuntime.start({ instance: 'rt-dns', backoffBaseSeconds: 1 });
    await rt.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } },
      clientDeployment(),
      gated('strict'), service('strict', { selector: { app: 'strict' }, ports: [{ port: 80 }], headless: true }),
      gated('eager'), service('eager', { selector: { app: 'eager' }, ports: [{ port: 80 }], headless: true, publishNotReady: true }),
      service('web', { selector: { app: 'nothing' }, ports: [{ port: 80 }] }),
      service('web', { selector: { app: 'nothing' }, ports: [{ port: 80 }], namespace: 'other' }),
    ]);
    client = await clientPod(rt);
    await rt.waitFor(async () => (await rt.pods('app=strict')).find((p) => p.containers[0]?.state === 'running'), { what: 'strict-0 running' });
    await rt.waitFor(async () => (await rt.pods('app=eager')).find((p) => p.containers[0]?.state === 'running'), { what: 'eager-0 running' });
  });
  afterAll(async () => { expect(await rt?.down()).toEqual([]); });

  it('GIVEN a ClusterIP Service WHEN resolved by its four names THEN each gives the virtual address; short names only within the namespace', async () => {
    const [svc] = await rt.get('svc');
    const web = (await rt.get('svc')).find((s) => s.name === 'web')!;
    expect(svc).toBeDefined();
    expect(web.clusterIP).toMatch(/^10\.96\./);
    for (const n of ['web', 'web.default', 'web.default.svc', 'web.default.svc.cluster.local']) {
      expect(await resolve(rt, client, n), n).toEqual([web.clusterIP]);
    }
    const other = (await rt.get('svc', { namespace: 'other' }))[0];
    expect(other.clusterIP).not.toBe(web.clusterIP);
    expect(await resolve(rt, client, 'web.other')).toEqual([other.clusterIP]);
    expect(await resolve(rt, client, 'nope.default.svc.cluster.local')).toEqual([]);
  });

  it('GIVEN a StatefulSet pod THEN its hostname is the pod name and its own FQDN resolves inside it', async () => {
    const r = await rt.exec('eager-0', 'main', ['sh', '-c', 'hostname; cat /etc/hostname']);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['eager-0', 'eager-0']);
    const ip = (await rt.pod('eager-0')).ip;
    expect(await resolve(rt, 'eager-0', 'eager-0.eager.default.svc.cluster.local')).toEqual([ip]);
    expect(await resolve(rt, 'eager-0', 'eager-0')).toEqual([ip]);
  });

  it('GIVEN a not-ready pod behind a headless Service THEN it has no DNS record, unless the Service publishes not-ready addresses', async () => {
    expect((await rt.pod('strict-0')).ready).toBe(false);
    expect(await resolve(rt, client, 'strict-0.strict.default.svc.cluster.local')).toEqual([]);
    expect(await resolve(rt, client, 'strict')).toEqual([]);
    const eagerIp = (await rt.pod('eager-0')).ip;
    for (const n of ['eager-0.eager', 'eager-0.eager.default', 'eager-0.eager.default.svc', 'eager-0.eager.default.svc.cluster.local', 'eager']) {
      expect(await resolve(rt, client, n), n).toEqual([eagerIp]);
    }
    expect((await rt.get('svc')).find((s) => s.name === 'strict').clusterIP).toBe('None');
  });

  it('WHEN the pod becomes Ready THEN its record appears (in the already running client, same hosts inode), and goes when it is unready again', async () => {
    const inode1 = (await rt.exec(client, undefined, ['stat', '-c', '%i', '/etc/hosts'])).stdout.trim();
    await rt.exec('strict-0', 'main', ['touch', '/work/ready']);
    await rt.waitReady('strict-0', { timeoutMs: 20000 });
    const ip = (await rt.pod('strict-0')).ip;
    await rt.waitFor(async () => (await resolve(rt, client, 'strict-0.strict')).length > 0, { timeoutMs: 10000, what: 'record' });
    expect(await resolve(rt, client, 'strict-0.strict.default.svc.cluster.local')).toEqual([ip]);
    const inode2 = (await rt.exec(client, undefined, ['stat', '-c', '%i', '/etc/hosts'])).stdout.trim();
    expect(inode2).toBe(inode1);
    await rt.exec('strict-0', 'main', ['rm', '/work/ready']);
    await rt.waitFor(async () => !(await rt.pod('strict-0')).ready, { timeoutMs: 20000, what: 'unready' });
    await rt.waitFor(async () => (await resolve(rt, client, 'strict-0.strict')).length === 0, { timeoutMs: 10000, what: 'record removed' });
  });

  it('GIVEN dnsLagMs (CoreDNS caching) WHEN a record changes THEN pods see it only after the lag', async () => {
    const lag = await PodRuntime.start({ instance: 'rt-dns-lag', backoffBaseSeconds: 1, dnsLagMs: 2000 });
    try {
      await lag.apply([clientDeployment(), gated('late'), service('late', { selector: { app: 'late' }, ports: [{ port: 80 }], headless: true })]);
      const c = await clientPod(lag);
      await lag.waitFor(async () => (await lag.pod('late-0').catch(() => undefined))?.containers[0]?.state === 'running', { what: 'late-0 running' });
      await lag.exec('late-0', 'main', ['touch', '/work/ready']);
      await lag.waitReady('late-0', { timeoutMs: 20000 });
      const t0 = Date.now();
      expect(await resolve(lag, c, 'late-0.late')).toEqual([]);
      await lag.waitFor(async () => (await resolve(lag, c, 'late-0.late')).length > 0, { timeoutMs: 10000, intervalMs: 100, what: 'record after lag' });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    } finally {
      expect(await lag.down()).toEqual([]);
    }
  });
});
