/**
 * The kubelet's part: creating and starting pods (network, volumes, init containers), the run
 * loop of each container with its restart back-off, stopping containers, deleting pods, logs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { unmountUnder } from './cleanup';
import { ContainerSetup } from './container-setup';
import type { Engine } from './engine';
import { execIn } from './exec';
import { ensureImage } from './image-build';
import { resolveImage } from './image-catalog';
import { PodObject } from './k8s-types';
import { Container, Owner, Pod } from './pod';
import { cgroupKillAndRemove, cgroupSetFrozen, mkdirp, rmrf, sleep } from './util';

const SIGNAL_NUMBERS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15 };

export class Kubelet {
  private podSeq = 0;
  private readonly setup: ContainerSetup;

  constructor(private readonly eng: Engine) {
    this.setup = new ContainerSetup(eng);
  }

  /** Something changed that endpoints, DNS or the controllers depend on. */
  private changed(): void {
    this.eng.network.dirty = true;
    this.eng.controllers.scheduleReconcile();
  }

  createPod(obj: PodObject, owner: Owner | undefined, revision: string): Pod {
    const eng = this.eng;
    const pod = new Pod(obj, owner, revision, { sdir: eng.sdir, instance: eng.opts.instance }, ++this.podSeq);
    eng.pods.set(pod.key, pod);
    eng.event(`pod ${pod.key} created (uid ${pod.uid})`);
    void this.startPod(pod).finally(() => pod.resolveSetup()).catch((e) => {
      eng.event(`pod ${pod.key} failed to start: ${(e as Error).stack}`);
      pod.events.push(`start failed: ${(e as Error).message}`);
      pod.phase = 'Failed';
      pod.failedAt = Date.now();
    });
    return pod;
  }

  findPod(ns: string, name: string): Pod {
    const p = this.eng.pods.get(`${ns}/${name}`);
    if (!p) throw new Error(`pod "${name}" not found in namespace ${ns}`);
    return p;
  }

  private async startPod(pod: Pod): Promise<void> {
    const eng = this.eng;
    mkdirp(pod.dir);
    mkdirp(pod.cgroup);
    await eng.network.setupPod(pod);
    if (pod.deleting) return;
    // volumes: like the kubelet, keep retrying a mount that cannot be set up (e.g. a missing ConfigMap)
    for (;;) {
      try { await eng.volumes.setupVolumes(pod); break; } catch (e) {
        const msg = `FailedMount: ${(e as Error).message}`;
        if (pod.events[pod.events.length - 1] !== msg) { pod.events.push(msg); eng.event(`pod ${pod.key} ${msg}`); }
        for (const c of [...pod.initContainers, ...pod.containers]) c.reason = 'ContainerCreating';
        await sleep(2000);
        if (pod.deleting) return;
      }
    }
    if (pod.deleting) return;
    // images: built from their recipes before any container starts (the kubelet's pull)
    for (const c of pod.allContainers) {
      if (!(await this.pullImage(pod, c))) return;
    }
    pod.phase = 'Running';
    pod.resolveSetup();
    // init containers, one after another
    for (const c of pod.initContainers) {
      for (;;) {
        if (pod.deleting) return;
        const code = await this.runContainerOnce(pod, c);
        if (pod.deleting) return;
        if (code === 0) { c.state = 'terminated'; c.reason = 'Completed'; break; }
        c.reason = 'Error';
        eng.event(`pod ${pod.key} init container ${c.name} failed with ${code}`);
        if (pod.spec.restartPolicy === 'Never') { pod.phase = 'Failed'; return; }
        await this.backoff(pod, c);
      }
    }
    pod.initDone = true;
    for (const c of pod.containers) void this.runContainerLoop(pod, c);
    eng.controllers.scheduleReconcile();
  }

  /**
   * The container's image, built from its recipe when not cached. A reference no recipe builds,
   * or a build that fails, keeps the container waiting in ErrImagePull / ImagePullBackOff with
   * the reason, retried with the restart back-off; it never falls back to the host's binaries.
   * False when the pod was deleted meanwhile.
   */
  private async pullImage(pod: Pod, c: Container): Promise<boolean> {
    const eng = this.eng;
    for (let attempt = 0; ; attempt++) {
      if (pod.deleting) return false;
      const resolved = resolveImage(c.spec.image ?? '');
      try {
        if ('reason' in resolved) throw new Error(resolved.reason);
        c.reason = 'ContainerCreating';
        c.image = await ensureImage(resolved.source, (msg) => {
          c.message = msg;
          eng.event(`pod ${pod.key} container ${c.name}: ${msg}`);
        });
        c.message = '';
        return true;
      } catch (e) {
        c.state = 'waiting';
        c.reason = attempt === 0 ? 'ErrImagePull' : 'ImagePullBackOff';
        c.message = (e as Error).message;
        const msg = `Failed to pull image "${c.spec.image}": ${c.message}`;
        if (pod.events[pod.events.length - 1] !== msg) { pod.events.push(msg); eng.event(`pod ${pod.key} container ${c.name}: ${msg}`); }
        const delay = Math.min(eng.opts.backoffBaseSeconds * 2 ** attempt, eng.opts.backoffMaxSeconds);
        for (let waited = 0; waited < delay * 1000 && !pod.deleting; waited += 500) await sleep(500);
      }
    }
  }

  private backoff(pod: Pod, c: Container): Promise<void> {
    const { opts } = this.eng;
    const delay = Math.min(opts.backoffBaseSeconds * 2 ** Math.max(0, c.consecutiveCrashes - 1), opts.backoffMaxSeconds);
    c.state = 'waiting';
    c.reason = 'CrashLoopBackOff';
    this.eng.event(`pod ${pod.key} container ${c.name}: back-off ${delay}s before restart ${c.restartCount}`);
    return new Promise((r) => { c.backoffTimer = setTimeout(() => { c.backoffTimer = undefined; r(); }, delay * 1000); });
  }

  private async runContainerLoop(pod: Pod, c: Container): Promise<void> {
    for (;;) {
      if (pod.deleting) return;
      const code = await this.runContainerOnce(pod, c);
      if (pod.deleting) return;
      const policy = pod.spec.restartPolicy ?? 'Always';
      if (policy === 'Never' || (policy === 'OnFailure' && code === 0)) return;
      await this.backoff(pod, c);
    }
  }

  /** Start one container and resolve with its exit code when its PID 1 is gone. */
  private async runContainerOnce(pod: Pod, c: Container): Promise<number> {
    const eng = this.eng;
    const runId = ++c.runId;
    c.ready = false;
    c.started = false;
    c.state = 'waiting';
    c.reason = 'ContainerCreating';
    c.killing = false;
    let argv: string[];
    try {
      argv = this.setup.prepare(pod, c);
    } catch (e) {
      c.reason = 'CreateContainerConfigError';
      eng.event(`pod ${pod.key} container ${c.name}: ${(e as Error).message}`);
      pod.events.push(`${c.name}: ${(e as Error).message}`);
      await sleep(2000);
      return 128;
    }
    const logFile = this.logPath(pod, c);
    if (c.restartCount > 0 || c.lastExitCode !== undefined) {
      try { fs.renameSync(logFile, `${logFile}.previous`); } catch { /* none */ }
    }
    const logFd = fs.openSync(logFile, 'a', 0o640);
    const proc = spawn('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', `${pod.cgroup}/cgroup.procs`, ...argv], {
      stdio: ['ignore', logFd, logFd, 'pipe'], env: c.env,
    });
    fs.closeSync(logFd);
    c.proc = proc;
    let info = '';
    const infoDone = new Promise<void>((resolve) => {
      const s = proc.stdio[3] as NodeJS.ReadableStream;
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        info += d;
        const m = /"child-pid":\s*(\d+)/.exec(info);
        if (m && !c.pid1) { c.pid1 = Number(m[1]); resolve(); }
      });
      s.on('end', () => resolve());
      s.on('error', () => resolve());
    });
    c.pid1 = undefined;
    const exited = new Promise<number>((resolve) => {
      proc.once('exit', (code, sig) => resolve(code ?? (sig ? 128 + (SIGNAL_NUMBERS[sig] ?? 1) : 1)));
      proc.once('error', () => resolve(127));
    });
    c.exited = exited;
    const spawned = Promise.race([infoDone, exited]);
    c.spawning = spawned;
    await spawned;
    c.spawning = undefined;
    if (c.pid1) {
      // bwrap reports the child before it has built the mount namespace: wait until the child has
      // exec'd (setpriv, then the command), so exec probes enter a finished container
      const pid = c.pid1;
      for (let i = 0; i < 2000; i++) {
        let cmd = '';
        try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { break; }
        if (!cmd.startsWith('/usr/bin/bwrap')) break;
        await sleep(5);
      }
    }
    if (c.pid1) {
      c.state = 'running';
      c.reason = '';
      c.startedAt = Date.now();
      c.exitCode = undefined;
      eng.event(`pod ${pod.key} container ${c.name} started (pid ${c.pid1}, restart ${c.restartCount})`);
      // postStart runs right after the start; the container counts as started only when it
      // succeeded, and a failing hook kills the container (it is then restarted)
      const post = c.spec.lifecycle?.postStart?.exec?.command;
      if (post && !c.init) {
        const r = await execIn(pod, c, post, (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000 + 60000);
        if (r.code !== 0 && c.runId === runId && !pod.deleting) {
          pod.events.push(`FailedPostStartHook: ${c.name}: exit ${r.code}: ${(r.stdout + r.stderr).trim().slice(0, 200)}`);
          eng.event(`pod ${pod.key} container ${c.name}: postStart hook failed (${r.code}), killing it`);
          void this.killContainer(pod, c, true);
        }
      }
      if (!c.init && c.runId === runId && c.state === 'running') eng.probes.start(pod, c, runId);
      this.changed();
    }
    const code = await exited;
    c.pid1 = undefined;
    c.proc = undefined;
    // the kubelet notices a dead container on its next relist (PLEG, ~1 s): until then the pod
    // still counts as Ready and stays an endpoint
    if (c.ready && !c.killing && !pod.deleting && eng.opts.statusLagMs > 0) {
      setTimeout(() => {
        if (c.runId === runId && c.ready) { c.ready = false; this.changed(); }
      }, eng.opts.statusLagMs);
    } else c.ready = false;
    c.started = false;
    c.state = 'terminated';
    c.reason = code === 0 ? 'Completed' : 'Error';
    c.exitCode = code;
    c.lastExitCode = code;
    const ranMs = Date.now() - (c.startedAt ?? Date.now());
    if (ranMs > 10 * 60 * 1000) c.consecutiveCrashes = 0;
    eng.event(`pod ${pod.key} container ${c.name} exited with ${code} after ${ranMs} ms`);
    this.changed();
    if (!pod.deleting && !c.init) { c.restartCount++; c.consecutiveCrashes++; }
    if (!pod.deleting && c.init && code !== 0) { c.restartCount++; c.consecutiveCrashes++; }
    return code;
  }

  logPath(pod: Pod, c: Container | string): string {
    const n = typeof c === 'string' ? c : c.name;
    return `${this.eng.sdir}/logs/${pod.namespace}_${pod.name}_${pod.uid}_${n}.log`;
  }

  capLogs(): void {
    const { sdir, opts } = this.eng;
    let ents: string[] = [];
    try { ents = fs.readdirSync(`${sdir}/logs`); } catch { return; }
    for (const e of ents) {
      const f = `${sdir}/logs/${e}`;
      try {
        const st = fs.statSync(f);
        if (st.size > opts.logCapBytes) {
          // keep the newest quarter; writers use O_APPEND so truncation is safe
          const keep = Math.floor(opts.logCapBytes / 4);
          const fd = fs.openSync(f, 'r+');
          const buf = Buffer.alloc(keep);
          fs.readSync(fd, buf, 0, keep, st.size - keep);
          fs.ftruncateSync(fd, 0);
          fs.writeSync(fd, `[podrt: log cut at ${st.size} bytes]\n`);
          fs.writeSync(fd, buf);
          fs.closeSync(fd);
        }
      } catch { /* gone */ }
    }
  }

  /** Stop a container: preStop hook, SIGTERM to PID 1, SIGKILL after the grace period. */
  async killContainer(pod: Pod, c: Container, graceful: boolean, graceSeconds?: number): Promise<void> {
    const eng = this.eng;
    if (!c.pid1 || c.killing) { if (c.exited) await c.exited; return; }
    c.killing = true;
    c.ready = false;
    eng.network.dirty = true;
    const pid = c.pid1;
    const exited = c.exited!;
    const grace = (graceSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const deadline = Date.now() + grace;
    if (graceful && grace > 0) {
      const pre = c.spec.lifecycle?.preStop?.exec?.command;
      if (pre) {
        eng.event(`pod ${pod.key} container ${c.name}: preStop`);
        const r = await Promise.race([execIn(pod, c, pre, grace), exited.then(() => undefined)]);
        if (r) eng.event(`pod ${pod.key} container ${c.name}: preStop exited ${r.code}`);
      }
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      const left = deadline - Date.now();
      const done = await Promise.race([exited.then(() => true), sleep(Math.max(left, 0)).then(() => false)]);
      if (done) return;
      eng.event(`pod ${pod.key} container ${c.name}: grace period over, SIGKILL`);
    }
    if (pod.frozen) {
      // a frozen task cannot die (cgroup v1 freezer); a stopped process could: thaw the pod first
      eng.event(`pod ${pod.key}: thawed to kill container ${c.name}`);
      cgroupSetFrozen(pod.cgroup, false);
      pod.frozen = false;
    }
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.race([exited, sleep(10000)]);
  }

  async deletePod(ns: string, name: string, opts: { graceSeconds?: number; kill?: boolean } = {}): Promise<void> {
    const eng = this.eng;
    const pod = eng.pods.get(`${ns}/${name}`);
    if (!pod) throw new Error(`pod "${name}" not found in namespace ${ns}`);
    if (pod.deleting) { await pod.terminated; return; }
    pod.deleting = true;
    eng.network.dirty = true;
    eng.event(`pod ${pod.key} deleting (${opts.kill ? 'SIGKILL' : `grace ${opts.graceSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30}s`})`);
    void eng.network.syncNetwork();
    eng.controllers.scheduleReconcile();
    for (const c of pod.allContainers) if (c.backoffTimer) { clearTimeout(c.backoffTimer); c.backoffTimer = undefined; }
    // a pod still being set up finishes that first (its network namespace must not leak), and a
    // container being started gets its PID 1 known before it is stopped
    await Promise.race([pod.setup, sleep(30000)]);
    await Promise.race([Promise.all(pod.allContainers.map((c) => c.spawning)), sleep(10000)]);
    if (opts.kill) {
      cgroupSetFrozen(pod.cgroup, false);
      await cgroupKillAndRemove(pod.cgroup, false);
    } else {
      await Promise.all(pod.allContainers.map((c) => this.killContainer(pod, c, true, opts.graceSeconds)));
    }
    await cgroupKillAndRemove(pod.cgroup, true);
    await this.teardownPod(pod);
    pod.gone = true;
    eng.pods.delete(pod.key);
    if (!pod.owner) eng.store.forgetPod(pod.key);
    eng.event(`pod ${pod.key} deleted`);
    pod.resolveTerminated();
    this.changed();
  }

  private async teardownPod(pod: Pod): Promise<void> {
    this.eng.portForwards.closePod(pod);
    await unmountUnder(pod.dir);
    await this.eng.network.teardownPod(pod);
    rmrf(pod.dir);
  }
}
