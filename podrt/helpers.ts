/** Small manifest builders for the runtime's own tests (programs of the test-tools image: sh, bash, python3). */
import { PodRuntime } from './client';
import { SUITES, versionSet } from './image-catalog';

/** The version set of the run (PGHA_VERSION_SET): the runtime's tests share its images with the cluster tests. */
export const VERSION_SET = versionSet();
export const TEST_POSTGRES_IMAGE = `postgres:${SUITES[VERSION_SET].postgresMajor}`;
export const TEST_PGPOOL_IMAGE = `pgpool:${SUITES[VERSION_SET].pgpoolSeries}`;

/** HTTP server on PORT answering its hostname; /ready-file gating lives in probes, not here. */
export const HTTP_SERVER = [
  'python3', '-u', '-c',
  [
    'import http.server, socket, sys',
    'class H(http.server.BaseHTTPRequestHandler):',
    '    def do_GET(self):',
    '        b = socket.gethostname().encode()',
    '        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)',
    '    def log_message(self, *a): pass',
    'http.server.ThreadingHTTPServer(("", int(sys.argv[1])), H).serve_forever()',
  ].join('\n'),
];

export function container(name: string, command: string[], extra: Record<string, unknown> = {}): any {
  return { name, image: 'busybox:1.36', command, ...extra };
}

export function statefulSet(name: string, opts: {
  replicas?: number; serviceName?: string; policy?: 'OrderedReady' | 'Parallel'; containers: any[]; volumes?: any[];
  claims?: string[]; labels?: Record<string, string>; podSpec?: Record<string, unknown>; namespace?: string;
}): any {
  const labels = opts.labels ?? { app: name };
  return {
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name, namespace: opts.namespace },
    spec: {
      replicas: opts.replicas ?? 1, serviceName: opts.serviceName ?? name, podManagementPolicy: opts.policy ?? 'OrderedReady',
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { terminationGracePeriodSeconds: 2, containers: opts.containers, volumes: opts.volumes, ...(opts.podSpec ?? {}) } },
      volumeClaimTemplates: (opts.claims ?? []).map((c) => ({ metadata: { name: c }, spec: { accessModes: ['ReadWriteOnce'] } })),
    },
  };
}

export function deployment(name: string, opts: { replicas?: number; containers: any[]; volumes?: any[]; labels?: Record<string, string>; podSpec?: Record<string, unknown>; strategy?: any; namespace?: string }): any {
  const labels = opts.labels ?? { app: name };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: opts.namespace },
    spec: {
      replicas: opts.replicas ?? 1, selector: { matchLabels: labels }, strategy: opts.strategy,
      template: { metadata: { labels }, spec: { terminationGracePeriodSeconds: 2, containers: opts.containers, volumes: opts.volumes, ...(opts.podSpec ?? {}) } },
    },
  };
}

export function service(name: string, opts: { selector: Record<string, string>; ports: any[]; headless?: boolean; publishNotReady?: boolean; namespace?: string }): any {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: opts.namespace },
    spec: { selector: opts.selector, ports: opts.ports, clusterIP: opts.headless ? 'None' : undefined, publishNotReadyAddresses: opts.publishNotReady },
  };
}

/** A pod that only sleeps: used as the client inside the cluster. */
export function clientDeployment(name = 'client', namespace?: string): any {
  return deployment(name, { namespace, containers: [container('client', ['sleep', 'infinity'])] });
}

export async function clientPod(rt: PodRuntime, name = 'client'): Promise<string> {
  const [p] = await rt.waitReady(`app=${name}`, { timeoutMs: 60000 });
  return p.name;
}

/** Resolve a name inside a pod (getent hosts); returns the addresses (empty when it does not resolve). */
export async function resolve(rt: PodRuntime, pod: string, name: string): Promise<string[]> {
  const r = await rt.exec(pod, undefined, ['getent', 'ahostsv4', name]);
  if (r.code !== 0) return [];
  return [...new Set(r.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0]))];
}

/** HTTP GET from inside a pod; returns the body or an error string. */
export async function httpGet(rt: PodRuntime, pod: string, url: string, timeoutS = 3): Promise<string> {
  const r = await rt.exec(pod, undefined, ['python3', '-c',
    `import urllib.request,sys\ntry:\n  print(urllib.request.urlopen(sys.argv[1], timeout=${timeoutS}).read().decode())\nexcept Exception as e:\n  print("ERROR", type(e).__name__, e)`, url]);
  return r.stdout.trim();
}

/** TCP connect from inside a pod (of `namespace`): "connected", "refused", or "timeout" (with the elapsed ms). */
export async function tcpConnect(rt: PodRuntime, pod: string, host: string, port: number, timeoutS = 3, namespace?: string): Promise<{ result: string; ms: number }> {
  const r = await rt.exec(pod, undefined, ['python3', '-c', [
    'import socket,sys,time',
    't=time.time()',
    'try:',
    `  socket.create_connection((sys.argv[1], int(sys.argv[2])), ${timeoutS}).close(); r="connected"`,
    'except ConnectionRefusedError: r="refused"',
    'except (socket.timeout, TimeoutError): r="timeout"',
    'except OSError as e: r="error:"+str(e)',
    'print(r, int((time.time()-t)*1000))',
  ].join('\n'), host, String(port)], namespace ? { namespace } : {});
  const [result, ms] = r.stdout.trim().split(' ');
  return { result: result ?? `exec failed: ${r.stderr}`, ms: Number(ms) };
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
