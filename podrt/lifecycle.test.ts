import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime } from './index';
import { container, deployment, statefulSet } from './helpers';

const work = { name: 'work', emptyDir: {} };
const workMount = { name: 'work', mountPath: '/work' };

describe('containers, probes, restarts and termination', () => {
  let rt: PodRuntime;
  beforeAll(async () => {
    rt = await PodRuntime.start({ instance: 'rt-life', backoffBaseSeconds: 1 });
    await rt.apply([
      deployment('live', {
        containers: [container('main', ['sh', '-c', 'rm -f /work/die; echo "started as $$$$"; echo started >> /work/starts; exec sleep infinity'], {
          livenessProbe: { exec: { command: ['sh', '-c', 'test ! -f /work/die'] }, periodSeconds: 1, timeoutSeconds: 10, failureThreshold: 2 },
          volumeMounts: [workMount],
        })],
        volumes: [work],
      }),
      deployment('init', {
        podSpec: {
          initContainers: [
            container('first', ['sh', '-c', 'echo first >> /work/order'], { volumeMounts: [workMount] }),
            // "$$(" is Kubernetes' escape for a literal "$(" in command/args
            container('second', ['sh', '-c', 'test "$$(cat /work/order)" = first && echo second >> /work/order'], { volumeMounts: [workMount] }),
          ],
        },
        containers: [container('main', ['sh', '-c', 'echo main >> /work/order; exec sleep infinity'], { volumeMounts: [workMount] })],
        volumes: [work],
      }),
      statefulSet('term', {
        claims: ['data'],
        podSpec: { terminationGracePeriodSeconds: 10 },
        containers: [container('main', ['bash', '-c', 'trap "echo term >> /data/events; exit 0" TERM; echo pid=$$$$ >> /data/events; while true; do sleep 0.1; done'], {
          lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /data/events; sleep 1'] } } },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        })],
      }),
      statefulSet('stubborn', {
        podSpec: { terminationGracePeriodSeconds: 3 },
        containers: [container('main', ['bash', '-c', 'while true; do sleep 0.1; done'])],
      }),
      deployment('slow', {
        containers: [container('main', ['sleep', 'infinity'], {
          startupProbe: { exec: { command: ['test', '-f', '/work/started'] }, periodSeconds: 1, timeoutSeconds: 10, failureThreshold: 3 },
          livenessProbe: { exec: { command: ['false'] }, periodSeconds: 1, timeoutSeconds: 10, failureThreshold: 1 },
          volumeMounts: [workMount],
        })],
        volumes: [work],
      }),
      deployment('httpprobe', {
        podSpec: { securityContext: { runAsUser: 1000, runAsGroup: 1000 } },
        containers: [container('main', ['python3', '-m', 'http.server', '8080'], {
          workingDir: '/srv/www',
          readinessProbe: { httpGet: { path: '/ok', port: 8080 }, periodSeconds: 1, timeoutSeconds: 10, successThreshold: 2, failureThreshold: 1 },
          volumeMounts: [{ name: 'www', mountPath: '/srv/www' }],
        })],
        volumes: [{ name: 'www', emptyDir: {} }],
      }),
      statefulSet('hooked', {
        containers: [container('main', ['sh', '-c', 'echo main >> /work/order; exec sleep infinity'], {
          lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo poststart >> /work/order; test ! -f /work/fail-hook'] } } },
          readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1, timeoutSeconds: 10 },
          volumeMounts: [workMount],
        })],
        volumes: [work],
      }),
      statefulSet('crashloop', { claims: ['data'], containers: [container('main', ['sh', '-c', 'date +%s.%N >> /data/runs; exit 3'], { volumeMounts: [{ name: 'data', mountPath: '/data' }] })] }),
    ]);
  });
  afterAll(async () => { expect(await rt?.down()).toEqual([]); });

  const one = async (app: string) => (await rt.waitFor(async () => (await rt.pods(`app=${app}`)).find((p) => !p.deleting && p.containers[0].state === 'running'), { what: `${app} running` }));

  it('GIVEN a liveness probe WHEN it fails THEN the container restarts in place: same pod, same address, emptyDir kept', async () => {
    const p = await one('live');
    await rt.exec(p.name, 'main', ['touch', '/work/die']);
    const after = await rt.waitFor(async () => { const x = await rt.pod(p.name); return x.containers[0].restartCount >= 1 && x.containers[0].state === 'running' ? x : undefined; }, { timeoutMs: 30000, what: 'restart' });
    expect(after.uid).toBe(p.uid);
    expect(after.ip).toBe(p.ip);
    expect((await rt.exec(p.name, 'main', ['cat', '/work/starts'])).stdout).toBe('started\nstarted\n');
  });

  it('WHEN a container is crashed (SIGKILL) THEN the kubelet restarts it in place and the previous log is kept', async () => {
    const p = await rt.pod((await one('live')).name);
    const before = p.containers[0].restartCount;
    await rt.crash(p.name, 'main');
    const after = await rt.waitFor(async () => { const x = await rt.pod(p.name); return x.containers[0].restartCount > before && x.containers[0].state === 'running' ? x : undefined; }, { timeoutMs: 30000, what: 'restart after crash' });
    expect(after.ip).toBe(p.ip);
    expect(after.containers[0].lastExitCode).toBe(137);
    expect(after.containers[0].restartCount).toBeGreaterThan(before);
    expect((await rt.exec(p.name, 'main', ['sh', '-c', 'wc -l < /work/starts'])).stdout.trim()).toBe(String(after.containers[0].restartCount + 1));
    expect(await rt.logs(p.name, { container: 'main' })).toBe('started as 1\n');
    expect(await rt.logs(p.name, { container: 'main', previous: true })).toBe('started as 1\n');
  });

  it('WHEN a pod is killed THEN its controller creates a new pod with a new name, a new address and a fresh emptyDir', async () => {
    const p = await one('live');
    await rt.killPod(p.name);
    const n = await rt.waitFor(async () => (await rt.pods('app=live')).find((x) => x.name !== p.name && x.containers[0].state === 'running'), { timeoutMs: 30000, what: 'replacement' });
    expect(n.ip).not.toBe(p.ip);
    expect((await rt.exec(n.name, 'main', ['cat', '/work/starts'])).stdout).toBe('started\n');
    expect((await rt.pods('app=live')).map((x) => x.name)).toEqual([n.name]);
  });

  it('GIVEN init containers THEN they run one after another before the main container, and not again on a restart in place', async () => {
    const p = await one('init');
    expect(p.initContainers.map((c: any) => c.reason)).toEqual(['Completed', 'Completed']);
    expect((await rt.exec(p.name, 'main', ['cat', '/work/order'])).stdout).toBe('first\nsecond\nmain\n');
    await rt.crash(p.name, 'main');
    await rt.waitFor(async () => { const x = await rt.pod(p.name); return x.containers[0].restartCount === 1 && x.containers[0].state === 'running'; }, { timeoutMs: 30000, what: 'restart' });
    expect((await rt.exec(p.name, 'main', ['cat', '/work/order'])).stdout).toBe('first\nsecond\nmain\nmain\n');
  });

  it('GIVEN a startup probe THEN liveness waits for it, and a startup past its budget restarts the container', async () => {
    const p = await one('slow');
    const x = await rt.waitFor(async () => { const y = await rt.pod(p.name); return y.containers[0].restartCount >= 1 ? y : undefined; }, { timeoutMs: 30000, what: 'startup failure restart' });
    expect(x.events.join('\n')).toMatch(/startup probe of main failed/);
    expect(x.events.join('\n')).not.toMatch(/liveness/);
    // once started, the (always failing) liveness probe takes over
    await rt.waitFor(async () => (await rt.pod(p.name)).containers[0].state === 'running', { timeoutMs: 30000, what: 'running' });
    await rt.exec(p.name, 'main', ['touch', '/work/started']);
    await rt.waitFor(async () => (await rt.pod(p.name)).events.some((e: string) => /liveness probe of main failed/.test(e)), { timeoutMs: 30000, what: 'liveness runs' });
  });

  it('GIVEN a container exiting with an error THEN it is restarted with exponential back-off (base 1 s here, 10 s by default)', async () => {
    await rt.waitFor(async () => (await rt.pod('crashloop-0')).containers[0].restartCount >= 4, { timeoutMs: 60000, what: '4 restarts' });
    const x = await rt.pod('crashloop-0');
    expect(x.containers[0].lastExitCode).toBe(3);
    // the claim is a directory on the host: read the run timestamps from there
    const dir = (await rt.get('pvc')).find((c) => c.name === 'data-crashloop-0').dir;
    const runs = readFileSync(`${dir}/runs`, 'utf8').trim().split('\n').map(Number);
    const gaps = runs.slice(1).map((t, i) => t - runs[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(0.9);
    expect(gaps[1]).toBeGreaterThanOrEqual(1.8);
    expect(gaps[2]).toBeGreaterThanOrEqual(3.6);
    expect(gaps[2]).toBeLessThan(6);
  });

  it('GIVEN a preStop hook and a TERM trap WHEN the pod is deleted gracefully THEN preStop runs, then PID 1 gets SIGTERM and exits early', async () => {
    await one('term');
    const t0 = Date.now();
    await rt.deletePod('term-0');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1000); // the preStop sleep
    expect(took).toBeLessThan(8000); // well before the 10 s grace period
    await rt.waitFor(async () => (await rt.pod('term-0').catch(() => undefined))?.containers[0]?.state === 'running', { timeoutMs: 30000, what: 'term-0 back' });
    const events = (await rt.exec('term-0', 'main', ['cat', '/data/events'])).stdout.trim().split('\n');
    expect(events.slice(0, 3)).toEqual(['pid=1', 'prestop', 'term']);
  });

  it('GIVEN a bash PID 1 without a trap WHEN deleted THEN SIGTERM is ignored (as in a container) and it is SIGKILLed after the grace period', async () => {
    await one('stubborn');
    expect((await rt.exec('stubborn-0', 'main', ['cat', '/proc/1/cmdline'])).stdout.split('\0')[0]).toBe('bash');
    const t0 = Date.now();
    await rt.deletePod('stubborn-0');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(2900);
    expect(took).toBeLessThan(8000);
  });

  it('GIVEN an httpGet readiness probe with successThreshold 2 THEN 404 keeps the pod unready and it is Ready after two successes; workingDir and pod-level runAsUser apply', async () => {
    const p = await one('httpprobe');
    expect((await rt.exec(p.name, 'main', ['sh', '-c', 'pwd; id -u; id -g'])).stdout).toBe('/srv/www\n1000\n1000\n');
    await new Promise((r) => setTimeout(r, 2000));
    const x = await rt.pod(p.name);
    expect(x.ready).toBe(false);
    expect(x.events.join('\n')).toMatch(/readiness probe of main failed: HTTP 404/);
    await rt.exec(p.name, 'main', ['touch', '/srv/www/ok']);
    const t0 = Date.now();
    await rt.waitReady(p.name, { timeoutMs: 20000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('GIVEN a postStart hook THEN it runs after the start and before probes; when it fails the container is killed and restarted', async () => {
    await rt.waitReady('hooked-0', { timeoutMs: 30000 });
    const order = (await rt.exec('hooked-0', 'main', ['cat', '/work/order'])).stdout.split('\n').filter(Boolean);
    expect(new Set(order)).toEqual(new Set(['main', 'poststart']));
    await rt.exec('hooked-0', 'main', ['touch', '/work/fail-hook']);
    await rt.crash('hooked-0', 'main');
    const p = await rt.waitFor(async () => { const x = await rt.pod('hooked-0'); return x.events.some((e: string) => /FailedPostStartHook/.test(e)) ? x : undefined; }, { timeoutMs: 30000, what: 'hook failure' });
    expect(p.containers[0].restartCount).toBeGreaterThanOrEqual(1);
    await rt.waitFor(async () => (await rt.pod('hooked-0')).containers[0].restartCount >= 2, { timeoutMs: 30000, what: 'killed after the failed hook' });
  });
});
