/**
 * NetworkPolicy ingress enforced for real in each pod's network namespace (network-policy.ts,
 * applied by the network sync): an allowed peer connects, a pod the policy does not name times
 * out (dropped, as the common CNIs do), a pod of a namespace the policy selects by label connects,
 * the kubelet's probes still pass, and deleting the policy opens the pod again. The table of
 * selector, port and policyTypes cases is test/unit/network-policy.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime } from './index';
import { HTTP_SERVER, container, deployment, statefulSet, tcpConnect } from './helpers';

const DB_POLICY = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'db-ingress' },
  spec: {
    podSelector: { matchLabels: { app: 'db' } },
    policyTypes: ['Ingress'],
    ingress: [
      { from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 'http' }] },
      { from: [{ namespaceSelector: { matchLabels: { team: 'shop' } } }], ports: [{ protocol: 'TCP', port: 8080 }] },
    ],
  },
};

describe('GIVEN a NetworkPolicy that lets app=client and namespaces labelled team=shop reach app=db on its http port', () => {
  let rt: PodRuntime;
  let dbIp: string;
  beforeAll(async () => {
    rt = await PodRuntime.start({ instance: 'rt-netpol', backoffBaseSeconds: 1 });
    await rt.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'shop' } } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } },
      statefulSet('db', {
        containers: [container('http', [...HTTP_SERVER, '8080'], { ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, timeoutSeconds: 10 } })],
      }),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 8080 }] } },
      deployment('client', { containers: [container('main', ['sleep', 'infinity'])] }),
      deployment('stranger', { containers: [container('main', ['sleep', 'infinity'])] }),
      deployment('web', { namespace: 'shop', containers: [container('main', ['sleep', 'infinity'])] }),
      deployment('web', { namespace: 'other', containers: [container('main', ['sleep', 'infinity'])] }),
      DB_POLICY,
    ]);
    await rt.waitReady('db-0');
    for (const [app, namespace] of [['client', 'default'], ['stranger', 'default'], ['web', 'shop'], ['web', 'other']]) await rt.waitReady(`app=${app}`, { namespace });
    dbIp = (await rt.pod('db-0')).ip;
  });
  afterAll(async () => {
    expect(await rt?.down()).toEqual([]);
  });

  const podOf = async (app: string, namespace = 'default') => (await rt.pods({ app }, namespace))[0].name;

  it('WHEN the allowed pod connects THEN it gets through; the pod of the selected namespace too', async () => {
    expect((await tcpConnect(rt, await podOf('client'), dbIp, 8080)).result).toBe('connected');
    expect((await tcpConnect(rt, await podOf('web', 'shop'), dbIp, 8080, 3, 'shop')).result).toBe('connected');
  });

  it('WHEN a pod the policy does not name connects THEN the packets are dropped (a timeout, not a refusal), in its namespace or another', async () => {
    expect((await tcpConnect(rt, await podOf('stranger'), dbIp, 8080)).result).toBe('timeout');
    expect((await tcpConnect(rt, await podOf('web', 'other'), dbIp, 8080, 3, 'other')).result).toBe('timeout');
  });

  it("THEN the kubelet's probes still reach the isolated pod: it stays Ready", async () => {
    expect((await rt.pod('db-0')).ready).toBe(true);
  });

  it('WHEN the policy is deleted THEN every pod reaches it again', async () => {
    await rt.delete('networkpolicy', 'db-ingress');
    await rt.waitFor(async () => ((await tcpConnect(rt, await podOf('stranger'), dbIp, 8080, 1)).result === 'connected' ? true : undefined), { timeoutMs: 30_000, what: 'the stranger connects once the policy is gone' });
  });
});
