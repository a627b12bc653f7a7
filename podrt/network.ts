/**
 * The network: the runtime's own namespace with the bridge, a namespace and address per pod,
 * Service addresses, and keeping every namespace's Service rules and hosts file current.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Engine } from './engine';
import { netnsPrefix } from './cleanup';
import { hostsFile, resolvConf } from './dns';
import { Service } from './k8s-types';
import { Pod } from './pod';
import { ingressFor, policyRuleset, type NetworkPolicy, type PolicyPod } from './network-policy';
import { endpoints, serviceRuleset } from './services';
import { CGROUP_ROOT, LineClient, mkdirp, must, rmrf, run, spawnReady } from './util';

const CLUSTER_CIDR_PREFIX = '10.244';
const SERVICE_CIDR_PREFIX = '10.96';
export const BRIDGE_IP = '10.244.0.1';
/** the kubelet's probes come from this address of the node */
export const PROBE_IP = '10.244.0.2';
export const AGENT = path.join(__dirname, 'agent.cjs');

export class Network {
  /** set when endpoints or names may have changed: the next reconcile syncs the network */
  dirty = true;
  /** the agent in the runtime's namespace: tcpSocket/httpGet probes, Service port-forwards */
  infraAgent?: LineClient;
  readonly infraNs: string;
  private serviceIPs = new Map<string, string>(); // ns/name -> ip
  private ipSeq = 10;
  private svcSeq = 10;
  private syncing?: Promise<void>;
  private nftApplied = new Map<string, string>(); // "netns table" -> ruleset
  private hostsWritten = new Map<string, string>(); // file -> content
  private hostsPending = new Map<string, string>(); // file -> content scheduled (dnsLagMs)

  constructor(private readonly eng: Engine) {
    this.infraNs = `${netnsPrefix(eng.opts.instance)}infra`;
  }

  /** The runtime's own namespace holds the bridge; the host namespace gets no address, route or rule. */
  async start(): Promise<void> {
    const { opts, sdir } = this.eng;
    const ns = this.infraNs;
    await must('ip', ['netns', 'add', ns]);
    await must('ip', ['-n', ns, '-batch', '-'], {
      input: [
        'link set lo up',
        'link add br0 type bridge',
        `addr add ${BRIDGE_IP}/16 dev br0`,
        `addr add ${PROBE_IP}/16 dev br0`,
        'link set br0 up',
        `route add ${SERVICE_CIDR_PREFIX}.0.0/16 dev br0`,
      ].join('\n') + '\n',
    });
    await this.applyNft(ns, this.serviceRuleset());
    const sock = `${sdir}/agent.sock`;
    await spawnReady('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', `${CGROUP_ROOT}/${opts.instance}/aux/cgroup.procs`,
      '/usr/bin/nsenter', `--net=/run/netns/${ns}`, '--', process.execPath, AGENT, 'serve', sock, PROBE_IP], `${sdir}/agent.log`);
    this.infraAgent = new LineClient(sock);
    await this.infraAgent.connect();
  }

  stop(): void {
    this.infraAgent?.close();
  }

  // ---------------------------------------------------------------- addresses
  private allocPodIP(): string {
    for (;;) {
      const n = this.ipSeq++;
      const a = (n >> 8) & 0xff; const b = n & 0xff;
      if (b === 0 || b === 255 || (a === 0 && b < 10)) continue;
      if (a > 254) throw new Error('pod address range exhausted');
      return `${CLUSTER_CIDR_PREFIX}.${a}.${b}`;
    }
  }

  private allocServiceIP(): string {
    for (;;) {
      const n = this.svcSeq++;
      const a = (n >> 8) & 0xff; const b = n & 0xff;
      if (b === 0 || b === 255) continue;
      return `${SERVICE_CIDR_PREFIX}.${a}.${b}`;
    }
  }

  /** A ClusterIP Service keeps its address across re-applies. */
  ensureServiceIP(key: string): void {
    if (!this.serviceIPs.has(key)) this.serviceIPs.set(key, this.allocServiceIP());
  }

  releaseServiceIP(key: string): void {
    this.serviceIPs.delete(key);
  }

  /** The ClusterIP of a Service, undefined for a headless one. */
  serviceIP(ns: string, name: string): string | undefined {
    return this.serviceIPs.get(`${ns}/${name}`);
  }

  // ---------------------------------------------------------------- pods
  /** The pod's own namespace with an address on the bridge and no default route, its hosts file and resolv.conf. */
  async setupPod(pod: Pod): Promise<void> {
    const { opts } = this.eng;
    pod.ip = this.allocPodIP();
    const seq = Number(pod.uid.split('-')[0]);
    const ns = `${netnsPrefix(opts.instance)}${seq}`;
    const veth = `v${seq}`;
    await must('ip', ['netns', 'add', ns]);
    pod.netns = ns;
    // one `ip -batch` per namespace (fork is slow here)
    await must('ip', ['-n', ns, '-batch', '-'], {
      input: [
        `link add eth0 type veth peer name ${veth} netns ${this.infraNs}`,
        `addr add ${pod.ip}/16 dev eth0`,
        'link set eth0 up',
        'link set lo up',
        `route add ${SERVICE_CIDR_PREFIX}.0.0/16 dev eth0`,
      ].join('\n') + '\n',
    });
    await must('ip', ['-n', this.infraNs, 'link', 'set', veth, 'master', 'br0', 'up']);
    await this.applyNft(ns, this.serviceRuleset());
    mkdirp(`/etc/netns/${ns}`);
    this.writeInPlace(`/etc/netns/${ns}/hosts`, this.hostsFor(pod));
    fs.writeFileSync(`/etc/netns/${ns}/resolv.conf`, resolvConf(pod.namespace, opts.clusterDomain));
    fs.writeFileSync(`/etc/netns/${ns}/hostname`, `${pod.hostname}\n`);
    this.dirty = true;
  }

  async teardownPod(pod: Pod): Promise<void> {
    if (!pod.netns) return;
    await run('ip', ['netns', 'del', pod.netns]);
    for (const key of [...this.nftApplied.keys()]) if (key.startsWith(`${pod.netns} `)) this.nftApplied.delete(key);
    rmrf(`/etc/netns/${pod.netns}`);
    this.hostsWritten.delete(`/etc/netns/${pod.netns}/hosts`);
  }

  // ---------------------------------------------------------------- services, DNS
  endpoints(svc: Service): Pod[] {
    return endpoints(svc, this.eng.pods.values());
  }

  private ipOf = (s: Service): string | undefined => this.serviceIP(s.metadata.namespace, s.metadata.name);
  private endpointsOf = (s: Service): Pod[] => this.endpoints(s);

  serviceRuleset(): string {
    return serviceRuleset(this.eng.store.list('Service'), this.ipOf, this.endpointsOf);
  }

  hostsFor(pod: Pod): string {
    return hostsFile(pod, this.eng.opts.clusterDomain, this.eng.store.list('Service'), this.ipOf, this.endpointsOf);
  }

  /** Loads `ruleset` into `netns` unless it is the one last loaded there for `table`. */
  private async applyNft(netns: string, ruleset: string, table = 'services'): Promise<void> {
    const key = `${netns} ${table}`;
    if (this.nftApplied.get(key) === ruleset) return;
    await must('/usr/bin/nsenter', [`--net=/run/netns/${netns}`, '/usr/sbin/nft', '-f', '-'], { input: ruleset });
    this.nftApplied.set(key, ruleset);
  }

  /**
   * Each pod's NetworkPolicy ingress table (network-policy.ts), from the policies, pods and
   * namespace labels of now. The node's addresses (probes, port-forwards) always pass, as the
   * kubelet's do with the common CNIs. The apply is skipped when a pod's table is unchanged.
   */
  private async applyPolicies(): Promise<void> {
    const eng = this.eng;
    const policies = eng.store.list('NetworkPolicy') as unknown as NetworkPolicy[];
    const live = [...eng.pods.values()].filter((p) => p.netns && !p.gone);
    const policyPods: PolicyPod[] = live.map((p) => ({ namespace: p.namespace, name: p.name, labels: p.labels, ip: p.ip, namedPorts: namedPorts(p) }));
    const namespaceLabels = (ns: string): Record<string, string> => ({
      ...(eng.store.getObject('Namespace', '', ns)?.metadata.labels ?? {}),
      // set by the API server on every namespace (Kubernetes 1.22+)
      'kubernetes.io/metadata.name': ns,
    });
    for (let i = 0; i < live.length; i += 4) {
      await Promise.all(
        live.slice(i, i + 4).map((p, j) =>
          this.applyNft(p.netns!, policyRuleset(ingressFor(policyPods[i + j], policies, policyPods, namespaceLabels), [BRIDGE_IP, PROBE_IP]), 'policy').catch(() => undefined),
        ),
      );
    }
  }

  /** Rewrite in place (truncate + write on the same inode): bind mounts pin the inode. */
  private writeInPlace(file: string, content: string): void {
    if (this.hostsWritten.get(file) === content) return;
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
    const buf = Buffer.from(content);
    // write first, then cut the tail: a concurrent reader never sees an empty file
    fs.writeSync(fd, buf, 0, buf.length, 0);
    fs.ftruncateSync(fd, buf.length);
    fs.closeSync(fd);
    this.hostsWritten.set(file, content);
  }

  /** Bring every namespace's Service rules, hosts file and cuts up to date; one sync at a time, rerun while dirty. */
  async syncNetwork(): Promise<void> {
    if (this.syncing) { this.dirty = true; return this.syncing; }
    const eng = this.eng;
    this.syncing = (async () => {
      try {
        while (this.dirty && !eng.stopping) {
          this.dirty = false;
          const rs = this.serviceRuleset();
          const targets: string[] = [this.infraNs];
          for (const p of eng.pods.values()) {
            if (!p.netns || p.gone) continue;
            const file = `/etc/netns/${p.netns}/hosts`;
            const content = this.hostsFor(p);
            if (eng.opts.dnsLagMs > 0 && this.hostsWritten.has(file)) {
              // cluster DNS answers are cached for a few seconds: changes reach the pod late
              if (this.hostsPending.get(file) !== content) {
                this.hostsPending.set(file, content);
                setTimeout(() => { if (!p.gone) { try { this.writeInPlace(file, content); } catch { /* torn down */ } } }, eng.opts.dnsLagMs);
              }
            } else {
              try { this.writeInPlace(file, content); } catch { /* torn down */ }
            }
            targets.push(p.netns);
          }
          // a few in parallel
          for (let i = 0; i < targets.length; i += 4) {
            await Promise.all(targets.slice(i, i + 4).map((ns) => this.applyNft(ns, rs).catch(() => undefined)));
          }
          await this.applyPolicies();
          for (const p of eng.pods.values()) if (p.cutsFrom.size && p.netns) await eng.faults.applyPartition(p).catch(() => undefined);
        }
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }
}

/** A pod's container port names (NetworkPolicy ports may name them). */
function namedPorts(pod: Pod): PolicyPod['namedPorts'] {
  const out: PolicyPod['namedPorts'] = {};
  for (const c of pod.obj.spec.containers ?? []) {
    for (const cp of c.ports ?? []) if (cp.name) out[cp.name] = { port: cp.containerPort, protocol: cp.protocol ?? 'TCP' };
  }
  return out;
}
