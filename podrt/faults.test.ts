import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime } from './index';
import { HTTP_SERVER, container, deployment, sleepMs, statefulSet, tcpConnect } from './helpers';

const UDP_LOGGER = ['python3', '-u', '-c', [
  'import socket',
  's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", 9999))',
  'while True:',
  '    d, a = s.recvfrom(100); print("got", d.decode(), flush=True)',
].join('\n')];

const peer = (name: string) => statefulSet(name, {
  containers: [
    container('http', [...HTTP_SERVER, '8080'], { readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, timeoutSeconds: 10 } }),
    container('udp', UDP_LOGGER),
  ],
});

async function sendUdp(rt: PodRuntime, from: string, to: string, msg: string): Promise<void> {
  await rt.exec(from, 'http', ['python3', '-c', `import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(3): s.sendto(b"${msg}", ("${to}", 9999))`]);
}

describe('fault injection', () => {
  let rt: PodRuntime;
  beforeAll(async () => {
    rt = await PodRuntime.start({ instance: 'rt-fault', backoffBaseSeconds: 1 });
    await rt.apply([
      peer('a'), peer('b'),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' }, spec: { clusterIP: 'None', selector: { app: 'a' }, ports: [{ port: 8080 }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'b' }, spec: { clusterIP: 'None', selector: { app: 'b' }, ports: [{ port: 8080 }] } },
      deployment('web', { replicas: 2, containers: [container('web', ['sleep', 'infinity'])] }),
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } } },
      statefulSet('db', { replicas: 3, policy: 'Parallel', containers: [container('db', ['sleep', 'infinity'], { readinessProbe: { exec: { command: ['true'] }, initialDelaySeconds: 2, periodSeconds: 1, timeoutSeconds: 10 } })] }),
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'db' }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'db' } } } },
      deployment('ticker', { containers: [container('main', ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /work/n.new; mv /work/n.new /work/n; sleep 0.1; done'], { volumeMounts: [{ name: 'work', mountPath: '/work' }] })], volumes: [{ name: 'work', emptyDir: {} }] }),
    ]);
    await rt.waitReady('a-0');
    await rt.waitReady('b-0');
    await rt.waitReady('app=web', { count: 2 });
    await rt.waitReady('app=db', { count: 3 });
    await rt.waitReady('app=ticker');
  });
  afterAll(async () => { expect(await rt?.down()).toEqual([]); });

  it('GIVEN a PDB with minAvailable=2 and 2 Ready pods WHEN a pod is evicted THEN the eviction is refused and the pod stays', async () => {
    const [p] = await rt.pods('app=web');
    await expect(rt.evict(p.name)).rejects.toThrow(/Cannot evict pod as it would violate the pod's disruption budget/);
    expect((await rt.pod(p.name)).deleting).toBe(false);
  });

  it('GIVEN a PDB with maxUnavailable=1 WHEN one pod is evicted THEN a second eviction is refused until it is Ready again', async () => {
    expect(await rt.evict('db-0')).toMatch(/evicted/);
    await expect(rt.evict('db-1')).rejects.toThrow(/disruption budget/);
    await rt.waitFor(async () => { const p = await rt.pod('db-0').catch(() => undefined); return p && p.ready && !p.deleting; }, { timeoutMs: 30000, what: 'db-0 back' });
    expect(await rt.evict('db-1')).toMatch(/evicted/);
  });

  it('GIVEN a partitioned pod WHEN a peer connects to it THEN the connect hangs until its timeout (not refused); after heal it connects', async () => {
    const ipA = (await rt.pod('a-0')).ip;
    expect((await tcpConnect(rt, 'b-0', ipA, 8080)).result).toBe('connected');
    await rt.partition('a-0');
    const r = await tcpConnect(rt, 'b-0', ipA, 8080, 3);
    expect(r.result).toBe('timeout');
    expect(r.ms).toBeGreaterThanOrEqual(2900);
    const out = await tcpConnect(rt, 'a-0', (await rt.pod('b-0')).ip, 8080, 2);
    expect(out.result).toBe('timeout');
    // the pod itself still works (exec, loopback)
    expect((await tcpConnect(rt, 'a-0', '127.0.0.1', 8080)).result).toBe('connected');
    expect((await rt.get('pods')).find((p) => p.name === 'a-0').partitioned).toBe(true);
    await rt.heal('a-0');
    expect((await tcpConnect(rt, 'b-0', ipA, 8080)).result).toBe('connected');
  });

  it('GIVEN a one-way cut from a to b THEN datagrams from a to b are dropped while b to a still arrive', async () => {
    await rt.cut('a-0', 'b-0');
    await sendUdp(rt, 'a-0', 'b-0.b', 'a-to-b');
    await sendUdp(rt, 'b-0', 'a-0.a', 'b-to-a');
    await rt.waitFor(async () => (await rt.logs('a-0', { container: 'udp' })).includes('got b-to-a'), { timeoutMs: 5000, what: 'b-to-a arrives' });
    await sleepMs(500);
    expect(await rt.logs('b-0', { container: 'udp' })).not.toContain('a-to-b');
    expect((await tcpConnect(rt, 'a-0', 'b-0.b', 8080, 2)).result).toBe('timeout');
    await rt.uncut('a-0', 'b-0');
    await sendUdp(rt, 'a-0', 'b-0.b', 'healed');
    await rt.waitFor(async () => (await rt.logs('b-0', { container: 'udp' })).includes('got healed'), { timeoutMs: 5000, what: 'a-to-b after uncut' });
  });

  it('WHEN a pod is frozen THEN none of its processes run until it is thawed', async () => {
    const [p] = await rt.pods('app=ticker');
    // The ticker renames each count into place, so a read never sees a half-written file (it
    // did under load when the count was rewritten in place).
    const read = async () => Number((await rt.exec(p.name, 'main', ['cat', '/work/n'])).stdout);
    const n0 = await read();
    await sleepMs(500);
    expect(await read()).toBeGreaterThan(n0);
    expect(await rt.freeze(p.name)).toMatch(/frozen/);
    await sleepMs(300);
    const f1 = await read();
    await sleepMs(1000);
    expect(await read()).toBe(f1);
    await rt.thaw(p.name);
    await sleepMs(500);
    expect(await read()).toBeGreaterThan(f1);
  });
});
