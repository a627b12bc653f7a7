/**
 * Startup, readiness and liveness probes of a running container, as the kubelet runs them:
 * startup gates the others, readiness sets the container's Ready, liveness and startup
 * failures restart the container in place.
 */
import type { Engine } from './engine';
import { execIn } from './exec';
import { IntOrString, Probe } from './k8s-types';
import { Container, Pod } from './pod';
import { containerPort } from './services';
import { sleep } from './util';

type ProbeKind = 'startup' | 'readiness' | 'liveness';

export class Probes {
  constructor(private readonly eng: Engine) {}

  /** Probes of the container's run `runId`; they stop when that run ends. */
  start(pod: Pod, c: Container, runId: number): void {
    const eng = this.eng;
    const alive = () => !pod.deleting && c.runId === runId && c.state === 'running' && !c.killing;
    const sp = c.spec.startupProbe; const rp = c.spec.readinessProbe; const lp = c.spec.livenessProbe;
    const afterStarted = () => {
      c.started = true;
      if (!rp) { c.ready = true; eng.network.dirty = true; eng.controllers.scheduleReconcile(); }
      if (rp) void this.probeLoop(pod, c, rp, 'readiness', alive, (ok) => {
        if (c.ready !== ok) { c.ready = ok; eng.event(`pod ${pod.key} container ${c.name} ready=${ok}`); eng.network.dirty = true; eng.controllers.scheduleReconcile(); }
      });
      if (lp) void this.probeLoop(pod, c, lp, 'liveness', alive, (ok) => {
        if (!ok) { eng.event(`pod ${pod.key} container ${c.name} failed liveness probe, will be restarted`); void eng.kubelet.killContainer(pod, c, true); }
      });
    };
    if (sp) {
      void this.probeLoop(pod, c, sp, 'startup', alive, (ok) => {
        if (ok) return true;
        eng.event(`pod ${pod.key} container ${c.name} failed startup probe, will be restarted`);
        void eng.kubelet.killContainer(pod, c, true);
        return true;
      }, afterStarted);
    } else afterStarted();
  }

  /**
   * Run a probe periodically. `onResult` gets the thresholded state changes (readiness: true/false
   * after success/failureThreshold consecutive results; liveness/startup: false after
   * failureThreshold failures). For startup probes the loop ends at the first success.
   */
  private async probeLoop(pod: Pod, c: Container, p: Probe, kind: ProbeKind, alive: () => boolean, onResult: (ok: boolean) => unknown, onStartupSuccess?: () => void): Promise<void> {
    const initial = (p.initialDelaySeconds ?? 0) * 1000;
    const period = (p.periodSeconds ?? 10) * 1000;
    const timeout = (p.timeoutSeconds ?? 1) * 1000;
    const failT = p.failureThreshold ?? 3;
    const succT = kind === 'readiness' ? (p.successThreshold ?? 1) : 1;
    let fails = 0; let succs = 0;
    // initialDelaySeconds counts from the container's start (also for probes that wait for startup)
    const delay = (c.startedAt ?? Date.now()) + initial - Date.now();
    if (delay > 0) await sleep(delay);
    while (alive()) {
      const t0 = Date.now();
      const r = await this.runProbe(pod, c, p, timeout);
      if (!alive()) return;
      if (r.ok) { succs++; fails = 0; } else { fails++; succs = 0; pod.events.push(`${kind} probe of ${c.name} failed: ${r.error ?? ''}`.slice(0, 300)); if (pod.events.length > 50) pod.events.splice(0, 10); }
      if (kind === 'startup') {
        if (r.ok) { onStartupSuccess?.(); return; }
        if (fails >= failT) { onResult(false); return; }
      } else if (kind === 'readiness') {
        if (r.ok && succs >= succT) onResult(true);
        if (!r.ok && fails >= failT) onResult(false);
      } else if (kind === 'liveness') {
        if (!r.ok && fails >= failT) { onResult(false); return; }
      }
      const wait = period - (Date.now() - t0);
      await sleep(Math.max(wait, 50));
    }
  }

  private async runProbe(pod: Pod, c: Container, p: Probe, timeoutMs: number): Promise<{ ok: boolean; error?: string }> {
    const resolvePort = (port: IntOrString): number => {
      const n = containerPort(pod, port);
      if (n === undefined) throw new Error(`named port ${port} not found`);
      return n;
    };
    try {
      if (p.exec) {
        if (!c.pid1) return { ok: false, error: 'container not running' };
        const r = await execIn(pod, c, p.exec.command, timeoutMs);
        return r.code === 0 ? { ok: true } : { ok: false, error: r.timedOut ? `timeout after ${timeoutMs}ms` : `exit ${r.code}: ${(r.stdout + r.stderr).trim().slice(0, 200)}` };
      }
      const agent = this.eng.network.infraAgent!;
      if (p.tcpSocket) {
        const r = await agent.request({ op: 'tcp', host: p.tcpSocket.host ?? pod.ip, port: resolvePort(p.tcpSocket.port), timeoutMs }, timeoutMs + 5000);
        return { ok: !!r.ok, error: r.error };
      }
      if (p.httpGet) {
        const h = p.httpGet;
        const r = await agent.request({ op: 'http', host: h.host ?? pod.ip, port: resolvePort(h.port), path: h.path ?? '/', scheme: h.scheme, headers: h.httpHeaders, timeoutMs }, timeoutMs + 5000);
        return { ok: !!r.ok, error: r.error };
      }
      return { ok: false, error: 'probe has no handler' };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }
}
