/**
 * Faults, each as it happens in a real cluster: a container crash, a pod killed without grace,
 * a frozen pod, an eviction that honours PodDisruptionBudgets, a network partition or a one-way
 * cut between two pods.
 */
import type { Engine } from './engine';
import { Labels, intOrPercent, matches } from './k8s-types';
import { PROBE_IP } from './network';
import { Pod } from './pod';
import { cgroupPids, cgroupSetFrozen, must } from './util';

export class Faults {
  constructor(private readonly eng: Engine) {}

  crash(ns: string, name: string, container?: string): string {
    const pod = this.eng.kubelet.findPod(ns, name);
    const c = pod.container(container);
    if (!c.pid1) throw new Error(`container ${c.name} of pod ${pod.key} is not running`);
    this.eng.event(`fault: crash ${pod.key}/${c.name} (SIGKILL pid ${c.pid1})`);
    if (pod.frozen) { cgroupSetFrozen(pod.cgroup, false); pod.frozen = false; }
    process.kill(c.pid1, 'SIGKILL');
    return `container ${c.name} of pod ${name} killed`;
  }

  async killPod(ns: string, name: string): Promise<string> {
    this.eng.event(`fault: kill pod ${ns}/${name}`);
    await this.eng.kubelet.deletePod(ns, name, { kill: true });
    return `pod ${name} killed`;
  }

  freeze(ns: string, name: string, frozen: boolean): string {
    const pod = this.eng.kubelet.findPod(ns, name);
    cgroupSetFrozen(pod.cgroup, frozen);
    pod.frozen = frozen;
    this.eng.event(`fault: ${frozen ? 'freeze' : 'thaw'} ${pod.key}`);
    return `pod ${name} ${frozen ? 'frozen' : 'thawed'} (${cgroupPids(pod.cgroup).length} processes)`;
  }

  async evict(ns: string, name: string, graceSeconds?: number): Promise<string> {
    const eng = this.eng;
    const pod = eng.kubelet.findPod(ns, name);
    if (pod.deleting) return `pod ${name} is already terminating`;
    for (const pdb of eng.store.list('PodDisruptionBudget', ns)) {
      const sel = pdb.spec?.selector?.matchLabels;
      if (!matches(sel, pod.labels)) continue;
      const covered = [...eng.pods.values()].filter((p) => p.namespace === ns && matches(sel, p.labels));
      const healthy = covered.filter((p) => p.ready).length;
      const expected = this.expectedPods(ns, sel) ?? covered.filter((p) => !p.deleting).length;
      let desired: number;
      if (pdb.spec.minAvailable !== undefined) desired = intOrPercent(pdb.spec.minAvailable, expected, true, '0');
      else desired = expected - intOrPercent(pdb.spec.maxUnavailable ?? 0, expected, true, '0');
      const allowed = healthy - desired;
      if (pod.ready ? allowed <= 0 : healthy < desired) {
        throw new Error(`Cannot evict pod as it would violate the pod's disruption budget. (PodDisruptionBudget ${ns}/${pdb.metadata.name}: ${healthy} healthy, ${desired} required, disruptionsAllowed ${Math.max(allowed, 0)})`);
      }
    }
    eng.event(`evict ${ns}/${name}`);
    void eng.kubelet.deletePod(ns, name, { graceSeconds });
    return `pod/${name} evicted`;
  }

  /** The replicas the workloads whose template the selector matches want: the PDB's expected count. */
  private expectedPods(ns: string, sel: Labels | undefined): number | undefined {
    let n: number | undefined;
    for (const kind of ['StatefulSet', 'Deployment'] as const) {
      for (const o of this.eng.store.list(kind, ns)) {
        const tl = o.spec?.template?.metadata?.labels ?? {};
        if (matches(sel, tl)) n = (n ?? 0) + (o.spec.replicas ?? 1);
      }
    }
    return n;
  }

  async partition(ns: string, name: string, on: boolean): Promise<string> {
    const pod = this.eng.kubelet.findPod(ns, name);
    pod.partitioned = on;
    if (!on) pod.cutsFrom.clear();
    await this.applyPartition(pod);
    this.eng.event(`fault: ${on ? 'partition' : 'heal'} ${pod.key}`);
    return `pod ${name} ${on ? 'partitioned' : 'healed'}`;
  }

  async cut(ns: string, from: string, to: string, on: boolean): Promise<string> {
    const a = this.eng.kubelet.findPod(ns, from); const b = this.eng.kubelet.findPod(ns, to);
    if (on) b.cutsFrom.add(a.key); else b.cutsFrom.delete(a.key);
    await this.applyPartition(b);
    this.eng.event(`fault: ${on ? 'cut' : 'uncut'} ${a.key} -> ${b.key}`);
    return `packets from ${from} to ${to} are ${on ? 'dropped' : 'delivered'}`;
  }

  async healAll(): Promise<string> {
    for (const p of this.eng.pods.values()) {
      if (p.partitioned || p.cutsFrom.size) { p.partitioned = false; p.cutsFrom.clear(); await this.applyPartition(p); }
      if (p.frozen) this.freeze(p.namespace, p.name, false);
    }
    this.eng.event('fault: heal all');
    return 'all partitions and cuts healed, all pods thawed';
  }

  /** The pod's partition and cuts as an nftables table of its namespace. */
  async applyPartition(pod: Pod): Promise<void> {
    if (!pod.netns) throw new Error(`pod ${pod.key} has no network yet`);
    const rules: string[] = [];
    const inRules: string[] = []; const outRules: string[] = [];
    if (pod.partitioned) {
      // silent drop of everything but loopback and the kubelet's probes (they come from the node)
      inRules.push('iif "lo" accept', `ip saddr ${PROBE_IP} accept`, 'drop');
      outRules.push('oif "lo" accept', `ip daddr ${PROBE_IP} accept`, 'drop');
    } else {
      for (const k of pod.cutsFrom) {
        const src = this.eng.pods.get(k);
        if (src?.ip) inRules.push(`ip saddr ${src.ip} drop`);
      }
    }
    rules.push('table inet prt_part { }', 'delete table inet prt_part');
    if (inRules.length || outRules.length) {
      rules.push('table inet prt_part {',
        '  chain part_in {', '    type filter hook input priority -300; policy accept;', ...inRules.map((r) => `    ${r}`), '  }',
        '  chain part_out {', '    type filter hook output priority -300; policy accept;', ...outRules.map((r) => `    ${r}`), '  }',
        '}');
    }
    await must('/usr/bin/nsenter', [`--net=/run/netns/${pod.netns}`, '/usr/sbin/nft', '-f', '-'], { input: rules.join('\n') + '\n' });
  }
}
