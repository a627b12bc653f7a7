import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PodRuntime, leftovers } from './index';
import { container, sleepMs, statefulSet } from './helpers';

const workload = () => [
  statefulSet('keep', {
    replicas: 2, policy: 'Parallel', claims: ['data'],
    containers: [container('main', ['sh', '-c', 'exec sleep infinity'], {
      volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'shm', mountPath: '/dev/shm' }],
      readinessProbe: { tcpSocket: { port: 1 }, periodSeconds: 1 }, // never Ready: probes keep running
    })],
    volumes: [{ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } }],
  }),
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'keep' }, spec: { selector: { app: 'keep' }, ports: [{ port: 80 }] } },
];

function hostSnapshot(): Record<string, string> {
  const cmd = (c: string, a: string[]) => spawnSync(c, a, { encoding: 'utf8' }).stdout;
  return {
    hosts: readFileSync('/etc/hosts', 'utf8'),
    routes: cmd('ip', ['route']),
    addrs: cmd('ip', ['-brief', 'addr']),
    links: cmd('ip', ['-brief', 'link']),
    nft: cmd('nft', ['list', 'ruleset']),
  };
}

/** a process that still runs (zombies waiting for init to reap them do not count) */
const alive = (pid: number) => {
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0] !== 'Z'; } catch { return false; }
};
async function gone(pids: number[]): Promise<boolean> {
  for (let i = 0; i < 30 && pids.some(alive); i++) await sleepMs(100);
  return !pids.some(alive);
}

async function running(rt: PodRuntime): Promise<number[]> {
  await rt.waitFor(async () => (await rt.pods('app=keep')).filter((p) => p.containers[0].state === 'running').length === 2, { what: 'keep pods running' });
  return (await rt.pods('app=keep')).map((p) => p.containers[0].pid);
}

describe('teardown leaves nothing behind', () => {
  it('GIVEN running pods, probes, a tmpfs and a port-forward WHEN down() THEN no process, netns, mount, cgroup or state file is left and the host was never touched', async () => {
    const before = hostSnapshot();
    const rt = await PodRuntime.start({ instance: 'rt-down', backoffBaseSeconds: 1 });
    await rt.apply(workload());
    const pids = await running(rt);
    const pf = await rt.portForward('pod/keep-0', 1);
    expect(leftovers('rt-down').some((l) => l.startsWith('netns prt-rt-down_'))).toBe(true);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain('/run/podrt/rt-down/');
    expect(hostSnapshot()).toEqual(before);
    const left = await rt.down();
    expect(left).toEqual([]);
    void pf;
    expect(await gone(pids)).toBe(true);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('/run/podrt/rt-down');
    expect(existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith('prt-rt-down_')) : []).toEqual([]);
    expect(existsSync('/run/podrt/rt-down')).toBe(false);
    expect(existsSync('/sys/fs/cgroup/freezer/podrt/rt-down')).toBe(false);
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toMatch(/rt-down/);
    expect(hostSnapshot()).toEqual(before);
  });

  it('GIVEN a daemon that was killed (an interrupted run) WHEN the instance is started again THEN the leftovers are cleared first', async () => {
    const rt = await PodRuntime.start({ instance: 'rt-crash', backoffBaseSeconds: 1, ownerPid: false });
    await rt.apply(workload());
    const pids = await running(rt);
    const daemon = Number(readFileSync('/run/podrt/rt-crash/daemon.pid', 'utf8'));
    rt.close();
    process.kill(daemon, 'SIGKILL');
    await sleepMs(500);
    const left = leftovers('rt-crash');
    expect(left.filter((l) => l.startsWith('netns ')).length).toBeGreaterThanOrEqual(3);
    expect(left.some((l) => l.startsWith('mount '))).toBe(true);
    const rt2 = await PodRuntime.start({ instance: 'rt-crash', backoffBaseSeconds: 1 });
    expect(await gone(pids)).toBe(true);
    expect(leftovers('rt-crash').filter((l) => l.startsWith('netns ')).map((l) => l.slice(6))).toEqual(['prt-rt-crash_infra']);
    expect(leftovers('rt-crash').some((l) => l.startsWith('mount '))).toBe(false);
    expect(await rt2.down()).toEqual([]);
  });

  it('GIVEN a runtime owned by a process WHEN that process dies (test run interrupted) THEN the daemon tears everything down by itself', async () => {
    const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
    const rt = await PodRuntime.start({ instance: 'rt-owner', backoffBaseSeconds: 1, ownerPid: owner.pid });
    await rt.apply(workload());
    const pids = await running(rt);
    rt.close();
    owner.kill('SIGKILL');
    const deadline = Date.now() + 30000;
    while (leftovers('rt-owner').length && Date.now() < deadline) await sleepMs(200);
    expect(leftovers('rt-owner')).toEqual([]);
    expect(await gone(pids)).toBe(true);
  });

  it('GIVEN a non-root user WHEN the CLI is run THEN it says clearly that it needs root', () => {
    const cli = path.join(__dirname, 'cli.ts');
    const tsx = path.resolve(__dirname, '..', 'node_modules', '.bin', 'tsx');
    const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', tsx, cli, 'get', 'pods'], { encoding: 'utf8', env: { ...process.env, HOME: '/tmp' }, cwd: '/tmp' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/needs root/);
  });
});
