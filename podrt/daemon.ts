/**
 * podrt supervisor daemon: one per runtime instance. Owns the pods, controllers and probes;
 * clients (the CLI and the test API) talk to it over JSON lines on /run/podrt/<instance>/ctl.sock.
 *
 *   node --import tsx podrt/daemon.ts --instance NAME [--backoff-base S] [--owner-pid PID] [--no-pvc-fsgroup]
 *
 * With --owner-pid the daemon tears everything down and exits when that process is gone (a test
 * run that was interrupted leaves nothing behind).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Engine } from './engine';
import { cleanupInstance } from './cleanup';
import { assertRoot, mkdirp, pidAlive, stateDir, validInstance } from './util';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  assertRoot();
  const instance = validInstance(arg('--instance') ?? 'default');
  const ownerPid = arg('--owner-pid') ? Number(arg('--owner-pid')) : undefined;
  const sdir = stateDir(instance);
  await cleanupInstance(instance, { killDaemon: false, keepDaemonLog: true });
  mkdirp(sdir);
  fs.writeFileSync(`${sdir}/daemon.pid`, String(process.pid));
  const engine = new Engine({
    instance,
    backoffBaseSeconds: arg('--backoff-base') ? Number(arg('--backoff-base')) : undefined,
    backoffMaxSeconds: arg('--backoff-max') ? Number(arg('--backoff-max')) : undefined,
    pvcFsGroup: !process.argv.includes('--no-pvc-fsgroup'),
    statusLagMs: arg('--status-lag-ms') ? Number(arg('--status-lag-ms')) : undefined,
    dnsLagMs: arg('--dns-lag-ms') ? Number(arg('--dns-lag-ms')) : undefined,
  });
  let shuttingDown = false;
  const shutdown = async (why: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    process.stderr.write(`podrt daemon ${instance}: shutting down (${why})\n`);
    try { await engine.down(); } catch (e) { process.stderr.write(String(e) + '\n'); }
    // debugging aid: keep the event log somewhere outside the state dir when asked to
    if (process.env.PODRT_EVENTS_DIR) {
      try { fs.mkdirSync(process.env.PODRT_EVENTS_DIR, { recursive: true }); fs.copyFileSync(`${sdir}/events.log`, `${process.env.PODRT_EVENTS_DIR}/${instance}-${Date.now()}.events.log`); } catch { /* */ }
    }
    server.close();
    await cleanupInstance(instance, { killDaemon: false });
    process.exit(0);
  };

  const handlers: Record<string, (p: any) => unknown> = {
    ping: () => ({ pid: process.pid, instance }),
    apply: (p) => engine.apply(p.objects),
    delete: (p) => engine.deleteObject(p.kind, p.namespace, p.name, { graceSeconds: p.graceSeconds }),
    get: (p) => engine.get(p.kind, p.namespace),
    pod: (p) => engine.podStatus(engine.findPod(p.namespace, p.name)),
    logPath: (p) => {
      const pod = engine.findPod(p.namespace, p.name);
      const c = pod.container(p.container);
      const f = engine.logPath(pod, c);
      return { path: p.previous ? `${f}.previous` : f };
    },
    execArgv: (p) => {
      const pod = engine.findPod(p.namespace, p.name);
      return { argv: engine.execArgv(pod, pod.container(p.container), p.command) };
    },
    portForward: (p) => engine.portForward(p.namespace, p.target, p.port),
    closePortForward: (p) => engine.closePortForward(p.id),
    crash: (p) => engine.crash(p.namespace, p.name, p.container),
    kill: (p) => engine.killPod(p.namespace, p.name),
    deletePod: (p) => engine.deletePod(p.namespace, p.name, { graceSeconds: p.graceSeconds }).then(() => `pod/${p.name} deleted`),
    evict: (p) => engine.evict(p.namespace, p.name, p.graceSeconds),
    deleteClaim: (p) => engine.deleteClaim(p.namespace, p.name),
    partition: (p) => engine.partition(p.namespace, p.name, true),
    heal: (p) => (p.name ? engine.partition(p.namespace, p.name, false) : engine.healAll()),
    cut: (p) => engine.cut(p.namespace, p.from, p.to, true),
    uncut: (p) => engine.cut(p.namespace, p.from, p.to, false),
    freeze: (p) => engine.freeze(p.namespace, p.name, true),
    thaw: (p) => engine.freeze(p.namespace, p.name, false),
    scale: (p) => engine.scale(p.kind, p.namespace, p.name, p.replicas),
    rolloutRestart: (p) => engine.rolloutRestart(p.kind, p.namespace, p.name),
    hosts: (p) => engine.hostsFor(engine.findPod(p.namespace, p.name)),
    serviceRules: () => engine.serviceRuleset(),
    down: () => { setTimeout(() => void shutdown('down requested'), 10); return 'shutting down'; },
  };

  const server = net.createServer((c) => {
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', () => {});
    c.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        let m: any;
        try { m = JSON.parse(line); } catch { continue; }
        const h = handlers[m.method];
        const reply = (r: object) => { if (!c.destroyed) c.write(JSON.stringify({ id: m.id, ...r }) + '\n'); };
        if (!h) { reply({ error: `unknown method ${m.method}` }); continue; }
        Promise.resolve()
          .then(() => h(m.params ?? {}))
          .then((result) => reply({ result: result ?? null }), (e) => reply({ error: (e as Error).message }));
      }
    });
  });

  await engine.start();
  const sock = `${sdir}/ctl.sock`;
  try { fs.unlinkSync(sock); } catch { /* none */ }
  await new Promise<void>((r) => server.listen(sock, r));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => { /* detached: ignore */ });
  process.on('uncaughtException', (e) => { process.stderr.write(`uncaught: ${e.stack}\n`); });
  process.on('unhandledRejection', (e) => { process.stderr.write(`unhandled: ${(e as Error)?.stack ?? e}\n`); });
  if (ownerPid) {
    setInterval(() => { if (!pidAlive(ownerPid)) void shutdown(`owner ${ownerPid} gone`); }, 1000).unref();
  }
  process.stdout.write('ready\n');
}

main().catch((e) => {
  process.stderr.write(`podrt daemon: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
