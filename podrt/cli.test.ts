import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from './index';

const TSX = path.resolve(__dirname, '..', 'node_modules', '.bin', 'tsx');
const CLI = path.join(__dirname, 'cli.ts');
const INSTANCE = 'rt-cli';

function podrt(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(TSX, [CLI, '--instance', INSTANCE, '-n', 'demo', ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status ?? 1, out: r.stdout, err: r.stderr };
}

const MANIFEST = `
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: demo}
spec:
  replicas: 1
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      nodeSelector: {disk: ssd}
      containers:
      - name: web
        image: python:3.12
        command: [python3, -u, -m, http.server, "8080"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1, timeoutSeconds: 10}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: demo}
`;

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
  });
}

describe('podrt CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'podrt-cli-'));
    writeFileSync(path.join(dir, 'app.yaml'), MANIFEST);
  });
  afterAll(() => {
    podrt('down');
    rmSync(dir, { recursive: true, force: true });
    expect(leftovers(INSTANCE)).toEqual([]);
  });

  it('GIVEN a manifest dir WHEN applied THEN objects are created, unknown kinds and fields are printed as warnings, and the pods keep running after the CLI exits', () => {
    const r = podrt('apply', '-f', dir, '--backoff-base', '1');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('statefulset/web (demo) created');
    expect(r.err).toContain('Warning: StatefulSet/web: field spec.template.spec.nodeSelector is not implemented (ignored)');
    expect(r.err).toContain('Warning: Widget/w: kind example.com/v1/Widget is not implemented: object ignored');
    const w = podrt('wait', 'web-0', '--timeout', '60');
    expect(w.code, w.err).toBe(0);
    expect(w.out).toContain('pod/web-0 condition met');
    const g = podrt('get', 'pods');
    expect(g.out).toMatch(/demo\s+web-0\s+1\/1\s+Running\s+0/);
    expect(podrt('get', 'svc').out).toMatch(/web\s+10\.96\.\d+\.\d+\s+80\/TCP\s+10\.244\./);
  });

  it('exec, logs and hosts work like kubectl', () => {
    const e = podrt('exec', 'web-0', '--', 'sh', '-c', 'hostname; id -u');
    expect(e.out).toBe('web-0\n0\n');
    expect(podrt('exec', 'web-0', '--', 'sh', '-c', 'exit 7').code).toBe(7);
    expect(podrt('logs', 'web-0').out).toMatch(/GET \/ HTTP\/1\.1" 200/);
    expect(podrt('hosts', 'web-0').out).toContain('web.demo.svc.cluster.local');
  });

  it('port-forward serves 127.0.0.1:LOCAL until interrupted', async () => {
    const p = spawn(TSX, [CLI, '--instance', INSTANCE, '-n', 'demo', 'port-forward', 'svc/web', '0:80'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      p.stdout!.on('data', (d) => { out += d; const m = /127\.0\.0\.1:(\d+)/.exec(out); if (m) resolve(Number(m[1])); });
      p.once('exit', (c) => reject(new Error(`port-forward exited ${c}`)));
    });
    try { expect(await get(port)).toBe(200); } finally { p.kill('SIGINT'); }
  });

  it('fault verbs: crash restarts in place, partition/heal, freeze/thaw, evict, kill', async () => {
    const ip = /web-0\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)/.exec(podrt('get', 'pods').out)![1];
    expect(podrt('crash', 'web-0').out).toMatch(/killed/);
    const restarted = new RegExp(`web-0\\s+1/1\\s+Running\\s+1\\s+\\S+\\s+${ip.replace(/\./g, '\\.')}`);
    for (let i = 0; i < 60 && !restarted.test(podrt('get', 'pods').out); i++) await new Promise((r) => setTimeout(r, 500));
    expect(podrt('get', 'pods').out).toMatch(restarted);
    expect(podrt('partition', 'web-0').out).toMatch(/partitioned/);
    expect(podrt('get', 'pods', '-o', 'wide').out).toMatch(/partitioned/);
    expect(podrt('heal').out).toMatch(/healed/);
    expect(podrt('freeze', 'web-0').out).toMatch(/frozen/);
    expect(podrt('thaw', 'web-0').out).toMatch(/thawed/);
    expect(podrt('evict', 'web-0').out).toMatch(/evicted/);
    expect(podrt('wait', 'web-0', '--timeout', '60').code).toBe(0);
    expect(podrt('kill', 'web-0').out).toMatch(/killed/);
    expect(podrt('wait', 'web-0', '--timeout', '60').code).toBe(0);
    expect(podrt('get', 'pods').out).not.toContain(ip + '\n');
  });

  it('down removes everything', () => {
    const d = podrt('down');
    expect(d.out).toContain(`instance ${INSTANCE} down`);
    expect(d.out).not.toContain('STILL LEFT');
    expect(leftovers(INSTANCE)).toEqual([]);
  });
});
