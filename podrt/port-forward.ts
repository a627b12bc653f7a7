/**
 * Port-forwards: a relay on a Unix socket of the state dir, served by the runtime's agent (to a
 * Service's virtual address) or by an agent inside the pod's namespace (to 127.0.0.1, as kubectl).
 */
import * as fs from 'node:fs';
import type { Engine } from './engine';
import { AGENT } from './network';
import { Pod } from './pod';
import { targetPortFor } from './services';
import { CGROUP_ROOT, LineClient, spawnReady } from './util';

interface PortForward { id: number; sock: string; pod?: Pod; agent: LineClient }

export class PortForwards {
  private seq = 0;
  private forwards = new Map<number, PortForward>();

  constructor(private readonly eng: Engine) {}

  private async podAgent(pod: Pod): Promise<LineClient> {
    if (pod.agent?.client.connected) return pod.agent.client;
    const { sdir, opts } = this.eng;
    const sock = `${sdir}/pf/agent-${pod.uid.split('-')[0]}.sock`; // short: Unix socket paths are limited to 107 bytes
    const pid = await spawnReady('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', `${CGROUP_ROOT}/${opts.instance}/aux/cgroup.procs`,
      '/usr/bin/nsenter', `--net=/run/netns/${pod.netns}`, '--', process.execPath, AGENT, 'serve', sock], `${sdir}/agent.log`);
    const client = new LineClient(sock);
    await client.connect();
    pod.agent = { pid, client, sock };
    return client;
  }

  /** Start a relay for `target` (pod/NAME or svc/NAME) port `port`; returns the Unix socket to connect to. */
  async open(ns: string, target: string, port: string | number): Promise<{ id: number; sock: string; description: string }> {
    const eng = this.eng;
    const [kind, name] = target.includes('/') ? target.split('/', 2) : ['pod', target];
    const id = ++this.seq;
    const sock = `${eng.sdir}/pf/${id}.sock`;
    if (/^(svc|service|services)$/.test(kind)) {
      const s = eng.store.getObject('Service', ns, name);
      if (!s) throw new Error(`service "${name}" not found in namespace ${ns}`);
      const ip = eng.network.serviceIP(ns, name);
      const sp = (s.spec.ports ?? []).find((x) => String(x.port) === String(port) || x.name === port);
      if (!sp) throw new Error(`service ${name} has no port ${port}`);
      if (ip) {
        // through the Service's virtual address (the runtime's namespace has the same DNAT rules as pods)
        const infra = eng.network.infraAgent!;
        const r = await infra.request({ op: 'relay', sock, host: ip, port: sp.port }, 15000);
        if (!r.ok) throw new Error(r.error);
        this.forwards.set(id, { id, sock, agent: infra });
        return { id, sock, description: `svc/${name} ${ip}:${sp.port}` };
      }
      const eps = eng.network.endpoints(s);
      if (!eps.length) throw new Error(`service ${name} has no endpoints`);
      return this.open(ns, `pod/${eps[0].name}`, targetPortFor(eps[0], sp)!);
    }
    const pod = eng.kubelet.findPod(ns, name);
    let p = Number(port);
    if (!Number.isInteger(p)) {
      for (const c of pod.containers) for (const cp of c.spec.ports ?? []) if (cp.name === port) p = cp.containerPort;
      if (!Number.isInteger(p)) throw new Error(`pod ${name} has no port named ${port}`);
    }
    const agent = await this.podAgent(pod);
    const r = await agent.request({ op: 'relay', sock, host: '127.0.0.1', port: p }, 15000);
    if (!r.ok) throw new Error(r.error);
    this.forwards.set(id, { id, sock, pod, agent });
    return { id, sock, description: `pod/${name} 127.0.0.1:${p} (in the pod's network namespace)` };
  }

  async close(id: number): Promise<void> {
    const pf = this.forwards.get(id);
    if (!pf) return;
    this.forwards.delete(id);
    try { await pf.agent.request({ op: 'unrelay', sock: pf.sock }, 5000); } catch { /* agent gone */ }
  }

  /** A deleted pod's forwards and agent go with it. */
  closePod(pod: Pod): void {
    for (const [id, pf] of this.forwards) if (pf.pod === pod) { pf.agent.close(); this.forwards.delete(id); }
    if (pod.agent) {
      try { process.kill(pod.agent.pid, 'SIGKILL'); } catch { /* */ }
      pod.agent.client.close();
      try { fs.unlinkSync(pod.agent.sock); } catch { /* */ }
    }
  }
}
