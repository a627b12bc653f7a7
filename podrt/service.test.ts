import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime } from './index';
import { HTTP_SERVER, clientDeployment, clientPod, container, deployment, httpGet, service, tcpConnect } from './helpers';

const web = deployment('web', {
  replicas: 3,
  containers: [container('web', [...HTTP_SERVER, '8080'], {
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: { exec: { command: ['test', '-f', '/work/ready'] }, periodSeconds: 1, timeoutSeconds: 10, failureThreshold: 1 },
    volumeMounts: [{ name: 'work', mountPath: '/work' }],
  })],
  volumes: [{ name: 'work', emptyDir: {} }],
});

function hostGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
}

describe('ClusterIP Services forward to Ready endpoints only', () => {
  let rt: PodRuntime;
  let client: string;
  let ip: string;
  let names: string[];

  beforeAll(async () => {
    rt = await PodRuntime.start({ instance: 'rt-svc', backoffBaseSeconds: 1 });
    await rt.apply([
      clientDeployment(), web,
      service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }),
      service('web-hl', { selector: { app: 'web' }, ports: [{ port: 8080 }], headless: true }),
      service('empty', { selector: { app: 'none' }, ports: [{ port: 80, targetPort: 8080 }] }),
    ]);
    client = await clientPod(rt);
    await rt.waitFor(async () => (await rt.pods('app=web')).filter((p) => p.containers[0].state === 'running').length === 3, { what: '3 web pods running' });
    names = (await rt.pods('app=web')).map((p) => p.name).sort();
    ip = (await rt.get('svc')).find((s) => s.name === 'web').clusterIP;
  });
  afterAll(async () => { expect(await rt?.down()).toEqual([]); });

  it('GIVEN no Ready endpoint WHEN a client connects to the Service THEN the connection is refused (no endpoints)', async () => {
    expect((await rt.get('svc')).find((s) => s.name === 'web').endpoints).toEqual([]);
    const r = await tcpConnect(rt, client, 'web', 80);
    expect(r.result).toBe('refused');
  });

  it('GIVEN two of three pods Ready WHEN 40 requests go to the Service by name THEN only those two answer, and both do (targetPort by name)', async () => {
    for (const n of names.slice(0, 2)) await rt.exec(n, 'web', ['touch', '/work/ready']);
    await rt.waitReady('app=web', { count: 2, timeoutMs: 20000 });
    await rt.waitFor(async () => (await rt.get('svc')).find((s) => s.name === 'web').endpoints.length === 2, { what: '2 endpoints' });
    const seen = new Map<string, number>();
    const r = await rt.exec(client, undefined, ['python3', '-c',
      'import urllib.request\nfor i in range(40): print(urllib.request.urlopen("http://web.default.svc.cluster.local/", timeout=3).read().decode())']);
    expect(r.code, r.stderr).toBe(0);
    for (const l of r.stdout.trim().split('\n')) seen.set(l, (seen.get(l) ?? 0) + 1);
    expect([...seen.keys()].sort()).toEqual(names.slice(0, 2));
    for (const n of seen.values()) expect(n).toBeGreaterThanOrEqual(5);
  });

  it('WHEN a Ready pod fails its readiness probe THEN it leaves the endpoints and gets no more traffic', async () => {
    await rt.exec(names[0], 'web', ['rm', '/work/ready']);
    await rt.waitFor(async () => (await rt.get('svc')).find((s) => s.name === 'web').endpoints.length === 1, { timeoutMs: 20000, what: '1 endpoint' });
    for (let i = 0; i < 10; i++) expect(await httpGet(rt, client, `http://${ip}/`)).toBe(names[1]);
  });

  it('GIVEN a headless Service THEN it has no virtual address and its name resolves to the Ready pods', async () => {
    const hl = (await rt.get('svc')).find((s) => s.name === 'web-hl');
    expect(hl.clusterIP).toBe('None');
    const r = await rt.exec(client, undefined, ['getent', 'ahostsv4', 'web-hl']);
    const addrs = [...new Set(r.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]))];
    expect(addrs).toEqual([(await rt.pod(names[1])).ip]);
  });

  it('GIVEN a port-forward of the Service to host loopback THEN the host reaches a Ready pod and the host namespace got no address or route', async () => {
    await rt.exec(names[2], 'web', ['touch', '/work/ready']);
    await rt.waitFor(async () => (await rt.get('svc')).find((s) => s.name === 'web').endpoints.length === 2, { timeoutMs: 20000, what: '2 endpoints' });
    const pf = await rt.portForward('svc/web', 80);
    try {
      expect(pf.host).toBe('127.0.0.1');
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add(await hostGet(pf.port));
      expect([...seen].sort()).toEqual([names[1], names[2]].sort());
    } finally { await pf.close(); }
    const pfPod = await rt.portForward(`pod/${names[0]}`, 'http');
    try { expect(await hostGet(pfPod.port)).toBe(names[0]); } finally { await pfPod.close(); }
    const { execFileSync } = await import('node:child_process');
    expect(execFileSync('ip', ['-4', 'addr'], { encoding: 'utf8' })).not.toMatch(/10\.(244|96)\./);
    expect(execFileSync('ip', ['route'], { encoding: 'utf8' })).not.toMatch(/10\.(244|96)\./);
  });

  it('WHEN the container of a Ready endpoint dies THEN it stays an endpoint until the kubelet notices (~1 s), then leaves', async () => {
    const eps = async () => (await rt.get('svc')).find((x) => x.name === 'web').endpoints.map((e: any) => e.pod).sort();
    const before = await eps();
    expect(before).toContain(names[1]);
    await rt.crash(names[1], 'web');
    expect(await eps()).toContain(names[1]);
    const t0 = Date.now();
    await rt.waitFor(async () => !(await eps()).includes(names[1]), { timeoutMs: 10000, intervalMs: 50, what: 'endpoint removed' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
