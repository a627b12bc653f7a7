/**
 * The cdk8s constructs: every prop's effect on the synthesized objects, the config checksums,
 * the restricted Pod Security Standard, probes, resources and the credentials contract.
 */
import { readdirSync } from 'fs';
import { join } from 'path';
import { Chart, Testing } from 'cdk8s';
import { beforeAll, describe, expect, it } from 'vitest';
import * as kplus from 'cdk8s-plus-27';
import { PostgresCluster } from '../../lib';
import type { PostgresClusterProps } from '../../lib/model/props';
import {
  byKind,
  configMapData,
  envOf,
  find,
  maybeFind,
  parseConf,
  REPO_ROOT,
  selectorMatches,
  synthCluster,
  votingSelector,
  workloads,
  type K8sObject,
} from './helpers';

const WAVE = 'argocd.argoproj.io/sync-wave';
const CHECKSUM = 'pgha.cdk8s.io/config-checksum';

const waveOf = (o: K8sObject): string | undefined => o.metadata.annotations?.[WAVE];
const podSpec = (w: K8sObject): K8sObject => w.spec.template.spec;
const container = (w: K8sObject): K8sObject => podSpec(w).containers[0];
const checksumOf = (w: K8sObject): string => w.spec.template.metadata.annotations[CHECKSUM];

/**
 * Violations of the "restricted" Pod Security Standard (v1.30 policy) by one pod spec, plus
 * the read-only root filesystem this library promises. Empty when the pod is compliant.
 */
export function restrictedViolations(spec: K8sObject): string[] {
  const v: string[] = [];
  const pod = spec.securityContext ?? {};
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[field]) v.push(`pod ${field}`);
  }
  const allowedVolumes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
  for (const volume of spec.volumes ?? []) {
    const types = Object.keys(volume).filter((k) => k !== 'name');
    if (types.length !== 1 || !allowedVolumes.includes(types[0])) v.push(`volume ${volume.name} of type ${types.join(',')}`);
  }
  if (pod.runAsUser === 0) v.push('pod runAsUser 0');
  if (pod.seccompProfile !== undefined && !['RuntimeDefault', 'Localhost'].includes(pod.seccompProfile.type)) v.push('pod seccomp');
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (sc.privileged === true) v.push(`${where} privileged`);
    if (sc.allowPrivilegeEscalation !== false) v.push(`${where} allowPrivilegeEscalation not false`);
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) v.push(`${where} runAsNonRoot not true`);
    const uid = sc.runAsUser ?? pod.runAsUser;
    if (typeof uid !== 'number' || !Number.isInteger(uid) || uid === 0) v.push(`${where} runAsUser ${uid} is not a numeric non-root uid`);
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault') v.push(`${where} seccomp ${seccomp}`);
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) v.push(`${where} does not drop ALL capabilities`);
    for (const cap of sc.capabilities?.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') v.push(`${where} adds ${cap}`);
    }
    if (sc.readOnlyRootFilesystem !== true) v.push(`${where} root filesystem writable`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') v.push(`${where} procMount`);
    for (const port of c.ports ?? []) {
      if (port.hostPort !== undefined && port.hostPort !== 0) v.push(`${where} hostPort`);
    }
  }
  return v;
}

function synth(props: PostgresClusterProps = {}): K8sObject[] {
  return synthCluster(props, { namespace: 'db' });
}

describe('constructs: GIVEN default props WHEN synthesized THEN the documented objects exist', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = synth();
  });

  it('emits exactly the documented kinds and names', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        'ConfigMap/c-node-config',
        'ConfigMap/c-node-scripts',
        'ConfigMap/c-pgpool-config',
        'ConfigMap/c-pgpool-scripts',
        'Deployment/c-pgpool',
        'NetworkPolicy/c-pgpool',
        'NetworkPolicy/c-postgresql',
        'PodDisruptionBudget/c-node',
        'PodDisruptionBudget/c-pgpool',
        'Service/c-node',
        'Service/c-pgpool',
        'ServiceAccount/c-pgha',
        'StatefulSet/c-node',
      ].sort(),
    );
  });

  it('every object is in the chart namespace', () => {
    for (const o of objects) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('db');
  });

  it('GIVEN a chart without namespace THEN objects go to "default"', () => {
    const chart = Testing.chart();
    new PostgresCluster(chart, 'c');
    for (const o of Testing.synth(chart)) expect(o.metadata.namespace).toBe('default');
  });

  it('the members StatefulSet: 3 replicas, Parallel, headless serviceName, retained claims, rolling update', () => {
    const sts = find(objects, 'StatefulSet', 'c-node');
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.serviceName).toBe('c-node');
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    // Claims are retained by the API server's default policy (not emitted: see gitops.test.ts).
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toBeUndefined();
    expect(sts.spec.updateStrategy.type).toBe('RollingUpdate');
  });

  it('the headless Service publishes not-ready addresses and the Pgpool-II Service is ClusterIP on 5432', () => {
    const headless = find(objects, 'Service', 'c-node');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const pgpool = find(objects, 'Service', 'c-pgpool');
    expect(pgpool.spec.type).toBe('ClusterIP');
    expect(pgpool.spec.ports).toEqual([{ name: 'postgresql', port: 5432, targetPort: 'postgresql' }]);
    expect(pgpool.spec.selector).toEqual(find(objects, 'Deployment', 'c-pgpool').spec.selector.matchLabels);
  });

  it('the Pgpool-II Deployment: 2 replicas, surge 1 and never unavailable', () => {
    const d = find(objects, 'Deployment', 'c-pgpool');
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  it('PodDisruptionBudgets allow one pod of a tier (and of Pgpool-II) down at a time', () => {
    for (const pdb of byKind(objects, 'PodDisruptionBudget')) expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('the PostgreSQL container runs the node entrypoint as uid 999 with the documented env', () => {
    const sts = find(objects, 'StatefulSet', 'c-node');
    const c = container(sts);
    expect(c.name).toBe('postgres');
    expect(c.command).toEqual(['/bin/bash', '/opt/pgha/scripts/node-entrypoint.sh']);
    expect(podSpec(sts).securityContext.runAsUser).toBe(999);
    const env = envOf(sts);
    expect(env).toMatchObject({
      PGDATA: '/var/lib/postgresql/data/pgdata',
      PGHA_CLUSTER: 'c',
      PGHA_ROLE_TIER: 'member',
      PGHA_SERVICE: 'c-node',
      PGHA_DOMAIN_SUFFIX: 'db.svc.cluster.local',
      PGHA_NODE_ID_BASE: '1000',
      PGHA_PRIORITIES: '100 100 100',
      PGHA_DEFAULT_PRIORITY: '100',
      PGHA_MEMBER_HOSTS: 'c-node-0.c-node.db.svc.cluster.local c-node-1.c-node.db.svc.cluster.local c-node-2.c-node.db.svc.cluster.local',
      PGHA_SUPERUSER: 'postgres',
      PGHA_REPMGR_USER: 'repmgr',
      PGHA_REPMGR_DATABASE: 'repmgr',
      PGHA_APP_USER: 'app',
      PGHA_APP_DATABASE: 'app',
      PGHA_MONITOR_USER: 'pgpool_monitor',
      PGHA_PORT: '5432',
      PGHA_STATUS_PORT: '8008',
      PGPASSFILE: '/run/pgha/pgpass',
    });
    expect(env).not.toHaveProperty('PGHA_UPSTREAM_HOSTS');
    const downward = Object.fromEntries(c.env.filter((e: K8sObject) => e.valueFrom).map((e: K8sObject) => [e.name, e.valueFrom.fieldRef.fieldPath]));
    expect(downward).toEqual({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', POD_IP: 'status.podIP' });
  });

  it('the Pgpool-II container runs the pgpool entrypoint as uid 1001 with the documented env', () => {
    const d = find(objects, 'Deployment', 'c-pgpool');
    const c = container(d);
    expect(c.name).toBe('pgpool');
    expect(c.command).toEqual(['/bin/bash', '/opt/pgha/scripts/pgpool-entrypoint.sh']);
    expect(podSpec(d).securityContext.runAsUser).toBe(1001);
    expect(envOf(d)).toMatchObject({ PGHA_CLUSTER: 'c', PGHA_APP_USER: 'app', PGHA_MONITOR_USER: 'pgpool_monitor', PGHA_PORT: '5432', PGHA_PCP_PORT: '9898' });
  });

  it('a stopping Pgpool-II pod gets its grace period, and its entrypoint the leave and drain windows that fit in it', () => {
    const d = find(objects, 'Deployment', 'c-pgpool');
    expect(podSpec(d).terminationGracePeriodSeconds).toBe(30);
    expect(envOf(d)).toMatchObject({ PGHA_LEAVE_SERVICE_SECONDS: '3', PGHA_DRAIN_SECONDS: '10' });
    const chart = Testing.chart();
    new PostgresCluster(chart, 'c', { namespace: 'db', pgpool: { drainSeconds: 45, terminationGracePeriodSeconds: 60 } });
    const custom = find(Testing.synth(chart), 'Deployment', 'c-pgpool');
    expect(podSpec(custom).terminationGracePeriodSeconds).toBe(60);
    expect(envOf(custom)).toMatchObject({ PGHA_DRAIN_SECONDS: '45' });
  });

  it("the repmgr host of member i (POD.PGHA_SERVICE.PGHA_DOMAIN_SUFFIX) is pgpool's backend_hostname i", () => {
    const env = envOf(find(objects, 'StatefulSet', 'c-node'));
    const pgpool = parseConf(configMapData(objects, 'c-pgpool-config')['pgpool.conf']);
    for (let i = 0; i < 3; i++) {
      expect(pgpool.get(`backend_hostname${i}`)).toBe(`c-node-${i}.${env.PGHA_SERVICE}.${env.PGHA_DOMAIN_SUFFIX}`);
      expect(pgpool.get(`backend_application_name${i}`)).toBe(`c-node-${i}`);
    }
    expect(env.PGHA_MEMBER_HOSTS!.split(' ')).toEqual([0, 1, 2].map((i) => pgpool.get(`backend_hostname${i}`)));
  });

  it('the tier ConfigMap holds the rendered postgresql.conf, pg_hba.conf and repmgr.conf; pgpool the pgpool.conf and pool_hba.conf', () => {
    expect(Object.keys(configMapData(objects, 'c-node-config')).sort()).toEqual(['pg_hba.conf', 'postgresql.conf', 'repmgr.conf']);
    expect(Object.keys(configMapData(objects, 'c-pgpool-config')).sort()).toEqual(['pgpool.conf', 'pool_hba.conf']);
    expect(parseConf(configMapData(objects, 'c-node-config')['postgresql.conf']).get('wal_level')).toBe('replica');
  });

  it('the scripts ConfigMaps hold the scripts of their workload: every node-* file and what both pods share; pgpool its own', () => {
    const shipped = readdirSync(join(REPO_ROOT, 'lib', 'scripts'));
    const shared = ['lib-base.sh', 'lib-session.sh', 'lib-tls.sh', 'status-server.pl'];
    expect(Object.keys(configMapData(objects, 'c-node-scripts')).sort()).toEqual([...shared, ...shipped.filter((f) => /^node-.*\.sh$/.test(f))].sort());
    expect(Object.keys(configMapData(objects, 'c-pgpool-scripts')).sort()).toEqual([...shared, ...shipped.filter((f) => /^pgpool-.*\.sh$/.test(f))].sort());
  });

  it('the ServiceAccount mounts no token, and neither does any pod', () => {
    const sa = find(objects, 'ServiceAccount', 'c-pgha');
    expect(sa.automountServiceAccountToken).toBe(false);
    for (const w of workloads(objects)) {
      expect(podSpec(w).serviceAccountName).toBe('c-pgha');
      expect(podSpec(w).automountServiceAccountToken).toBe(false);
      expect(podSpec(w).enableServiceLinks).toBe(false);
    }
  });

  it('the endpoint is the Pgpool-II Service DNS name', () => {
    const chart = new Chart(Testing.app(), 't', { namespace: 'db' });
    expect(new PostgresCluster(chart, 'c').endpoint).toBe('c-pgpool.db.svc.cluster.local');
  });
});

describe('constructs: GIVEN a multi-tier cluster WHEN synthesized THEN every pod is safe, probed, sized and credential-free', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = synth({
      members: { replicas: 2, witness: true },
      cascades: [{ name: 'fanout' }, { name: 'reporting', upstream: 'fanout' }],
    });
  });

  it('synthesizes 4 StatefulSets and 1 Deployment', () => {
    expect(workloads(objects).map((w) => `${w.kind}/${w.metadata.name}`).sort()).toEqual([
      'Deployment/c-pgpool',
      'StatefulSet/c-fanout',
      'StatefulSet/c-node',
      'StatefulSet/c-reporting',
      'StatefulSet/c-witness',
    ]);
  });

  it('every pod passes the restricted Pod Security Standard with a read-only root filesystem', () => {
    for (const w of workloads(objects)) {
      expect(restrictedViolations(podSpec(w)), `${w.kind}/${w.metadata.name}`).toEqual([]);
      const sc = podSpec(w).securityContext;
      expect(sc.runAsNonRoot).toBe(true);
      expect(sc.seccompProfile).toEqual({ type: 'RuntimeDefault' });
      for (const c of podSpec(w).containers) {
        expect(c.securityContext).toMatchObject({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(c.securityContext.runAsUser).toBeGreaterThan(0);
      }
    }
  });

  it('the restricted checker itself flags a root, privileged, escalating pod (so the check can fail)', () => {
    const bad = {
      securityContext: { runAsUser: 0 },
      volumes: [{ name: 'h', hostPath: { path: '/' } }],
      containers: [{ name: 'x', securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } } }],
    };
    const violations = restrictedViolations(bad);
    expect(violations).toEqual(
      expect.arrayContaining([
        'pod runAsUser 0',
        'volume h of type hostPath',
        'container x privileged',
        'container x allowPrivilegeEscalation not false',
        'container x runAsNonRoot not true',
        'container x does not drop ALL capabilities',
        'container x adds SYS_ADMIN',
        'container x root filesystem writable',
      ]),
    );
  });

  it('every container has CPU and memory requests, a memory limit, and startup, readiness and liveness probes of its probe endpoint (no exec: a fork per probe)', () => {
    for (const w of workloads(objects)) {
      for (const c of podSpec(w).containers) {
        const where = `${w.metadata.name}/${c.name}`;
        expect(c.resources.requests.cpu, where).toBeDefined();
        expect(c.resources.requests.memory, where).toBeDefined();
        expect(c.resources.limits.memory, where).toBeDefined();
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          expect(c[probe]?.exec, `${where} ${probe}`).toBeUndefined();
          expect(c[probe]?.httpGet?.port, `${where} ${probe}`).toBe('health');
        }
        expect(c.startupProbe.httpGet.path).toBe('/startup');
        expect(c.readinessProbe.httpGet.path).toBe('/ready');
        expect(c.livenessProbe.httpGet.path).toBe('/live');
        expect(c.ports, where).toContainEqual({ name: 'health', containerPort: 8009, protocol: 'TCP' });
        expect(c.env.find((e: K8sObject) => e.name === 'PGHA_HEALTH_PORT')?.value, where).toBe('8009');
      }
    }
  });

  it('every PostgreSQL container exposes postgresql (5432) and the status endpoint (8008), and tells the scripts both', () => {
    for (const sts of byKind(objects, 'StatefulSet')) {
      expect(container(sts).ports, sts.metadata.name).toEqual([
        { name: 'postgresql', containerPort: 5432, protocol: 'TCP' },
        { name: 'status', containerPort: 8008, protocol: 'TCP' },
        { name: 'health', containerPort: 8009, protocol: 'TCP' },
      ]);
      expect(envOf(sts), sts.metadata.name).toMatchObject({ PGHA_PORT: '5432', PGHA_STATUS_PORT: '8008', PGPASSFILE: '/run/pgha/pgpass' });
    }
    const pgpool = find(objects, 'Deployment', 'c-pgpool');
    expect(container(pgpool).ports).toEqual([
      { name: 'postgresql', containerPort: 5432, protocol: 'TCP' },
      { name: 'health', containerPort: 8009, protocol: 'TCP' },
    ]);
    expect(envOf(pgpool)).not.toHaveProperty('PGHA_STATUS_PORT');
  });

  // The probe endpoint answers from a file at once, so every timeout is 2 s and below its period.
  it('probe periods, timeouts and thresholds: PostgreSQL startup 5/2/1440, ready 3/2/2, live 10/2/3; Pgpool-II startup 2/2/150, ready 3/2/2, live 10/2/3', () => {
    const timing = (p: K8sObject) => [p.periodSeconds, p.timeoutSeconds, p.failureThreshold];
    for (const sts of byKind(objects, 'StatefulSet')) {
      const c = container(sts);
      expect([timing(c.startupProbe), timing(c.readinessProbe), timing(c.livenessProbe)], sts.metadata.name).toEqual([
        [5, 2, 1440],
        [3, 2, 2],
        [10, 2, 3],
      ]);
    }
    const p = container(find(objects, 'Deployment', 'c-pgpool'));
    expect([timing(p.startupProbe), timing(p.readinessProbe), timing(p.livenessProbe)]).toEqual([
      [2, 2, 150],
      [3, 2, 2],
      [10, 2, 3],
    ]);
  });

  it('the PostgreSQL startup probe allows 2 hours (a long clone) before liveness applies', () => {
    for (const sts of byKind(objects, 'StatefulSet')) {
      const p = container(sts).startupProbe;
      expect(p.periodSeconds * p.failureThreshold).toBe(7200);
    }
  });

  it('every PostgreSQL pod has a memory-backed emptyDir at /dev/shm sized to its memory limit', () => {
    for (const sts of byKind(objects, 'StatefulSet')) {
      const mount = container(sts).volumeMounts.find((m: K8sObject) => m.mountPath === '/dev/shm');
      expect(mount, sts.metadata.name).toBeDefined();
      const volume = podSpec(sts).volumes.find((v: K8sObject) => v.name === mount.name);
      expect(volume.emptyDir.medium).toBe('Memory');
      expect(volume.emptyDir.sizeLimit).toBe(container(sts).resources.limits.memory);
    }
  });

  it('no Secret is ever emitted; credentials and certificates are only referenced by name', () => {
    expect(byKind(objects, 'Secret')).toEqual([]);
    for (const w of workloads(objects)) {
      const secretVolumes = podSpec(w).volumes.filter((v: K8sObject) => v.secret);
      expect(secretVolumes.map((v: K8sObject) => v.secret.secretName)).toEqual(['c-credentials', 'c-tls']);
      for (const e of container(w).env) {
        expect(e.valueFrom?.secretKeyRef, e.name).toBeUndefined();
        expect(e.name).not.toMatch(/PASSWORD|PASSWD|SECRET|KEY$/);
      }
    }
  });

  it('no password value is written anywhere: every *password* conf key is empty', () => {
    for (const cm of byKind(objects, 'ConfigMap')) {
      for (const [file, text] of Object.entries(cm.data as Record<string, string>)) {
        if (!['postgresql.conf', 'repmgr.conf', 'pgpool.conf'].includes(file)) continue;
        for (const [key, value] of parseConf(text)) {
          if (/password|passwd/i.test(key) && key !== 'password_encryption' && key !== 'pool_passwd') {
            expect(value, `${cm.metadata.name}/${file} ${key}`).toBe('');
          }
        }
      }
    }
  });

  it('the witness pod gets only the superuser and replication passwords; data pods the monitor and app ones too; pgpool app, monitor and key', () => {
    const itemsOf = (w: K8sObject) => podSpec(w).volumes.find((v: K8sObject) => v.secret).secret.items.map((i: K8sObject) => i.key).sort();
    expect(itemsOf(find(objects, 'StatefulSet', 'c-witness'))).toEqual(['replication-password', 'superuser-password']);
    expect(itemsOf(find(objects, 'StatefulSet', 'c-node'))).toEqual(['app-password', 'monitor-password', 'replication-password', 'superuser-password']);
    expect(itemsOf(find(objects, 'StatefulSet', 'c-fanout'))).toEqual(['app-password', 'monitor-password', 'replication-password', 'superuser-password']);
    expect(itemsOf(find(objects, 'Deployment', 'c-pgpool'))).toEqual(['app-password', 'monitor-password', 'pgpool-key']);
  });

  it('secret files are mounted read-only with mode 0440', () => {
    for (const w of workloads(objects)) {
      const volume = podSpec(w).volumes.find((v: K8sObject) => v.secret);
      expect(volume.secret.defaultMode).toBe(0o440);
      const mount = container(w).volumeMounts.find((m: K8sObject) => m.name === volume.name);
      expect(mount).toMatchObject({ mountPath: '/etc/pgha/secrets', readOnly: true });
    }
  });
});

describe('constructs: GIVEN witness / cascades WHEN synthesized THEN tiers, read Services and upstreams follow', () => {
  it('GIVEN 3 members THEN there is no witness; GIVEN 2 members with witness THEN a 1-pod witness StatefulSet with node id 9000', () => {
    expect(maybeFind(synth(), 'StatefulSet', 'c-witness')).toBeUndefined();
    const objects = synth({ members: { replicas: 2, witness: true } });
    const witness = find(objects, 'StatefulSet', 'c-witness');
    expect(witness.spec.replicas).toBe(1);
    expect(envOf(witness)).toMatchObject({ PGHA_ROLE_TIER: 'witness', PGHA_NODE_ID_BASE: '9000', PGHA_PRIORITIES: '0', PGHA_DEFAULT_PRIORITY: '0', PGHA_SERVICE: 'c-witness' });
    expect(witness.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('1Gi');
    expect(find(objects, 'Service', 'c-witness').spec.clusterIP).toBe('None');
    expect(find(objects, 'ConfigMap', 'c-witness-config')).toBeDefined();
    expect(find(objects, 'StatefulSet', 'c-node').spec.replicas).toBe(2);
    // No read Service for the witness or the members.
    expect(byKind(objects, 'Service').map((s) => s.metadata.name).sort()).toEqual(['c-node', 'c-pgpool', 'c-witness']);
  });

  it('GIVEN cascades THEN each layer has a StatefulSet, a headless Service and a ClusterIP read Service <c>-<layer>-ro selecting only its pods', () => {
    const objects = synth({ cascades: [{ name: 'fanout', replicas: 2 }, { name: 'reporting', replicas: 3, upstream: 'fanout' }] });
    for (const [layer, replicas] of [['fanout', 2], ['reporting', 3]] as const) {
      const sts = find(objects, 'StatefulSet', `c-${layer}`);
      expect(sts.spec.replicas).toBe(replicas);
      expect(sts.spec.serviceName).toBe(`c-${layer}`);
      const ro = find(objects, 'Service', `c-${layer}-ro`);
      expect(ro.spec.type).toBe('ClusterIP');
      expect(ro.spec.clusterIP).toBeUndefined();
      expect(ro.spec.selector).toEqual(sts.spec.selector.matchLabels);
      expect(ro.spec.selector['app.kubernetes.io/component']).toBe(`cascade-${layer}`);
      expect(ro.spec.ports[0]).toMatchObject({ port: 5432, targetPort: 'postgresql' });
      expect(find(objects, 'Service', `c-${layer}`).spec.clusterIP).toBe('None');
    }
  });

  it("GIVEN a cascade on the members THEN PGHA_UPSTREAM_HOSTS lists the members' pods; on another layer, that layer's pods", () => {
    const objects = synth({ cascades: [{ name: 'fanout', replicas: 2 }, { name: 'reporting', replicas: 3, upstream: 'fanout' }, { name: 'dr', replicas: 1, upstream: 'members' }] });
    const env = (name: string) => envOf(find(objects, 'StatefulSet', name));
    const members = 'c-node-0.c-node.db.svc.cluster.local c-node-1.c-node.db.svc.cluster.local c-node-2.c-node.db.svc.cluster.local';
    expect(env('c-fanout').PGHA_UPSTREAM_HOSTS).toBe(members);
    expect(env('c-dr').PGHA_UPSTREAM_HOSTS).toBe(members);
    expect(env('c-reporting').PGHA_UPSTREAM_HOSTS).toBe('c-fanout-0.c-fanout.db.svc.cluster.local c-fanout-1.c-fanout.db.svc.cluster.local');
    for (const name of ['c-fanout', 'c-reporting', 'c-dr']) {
      expect(env(name).PGHA_ROLE_TIER).toBe('cascade');
      expect(env(name).PGHA_MEMBER_HOSTS).toBe(members);
      expect(env(name).PGHA_SERVICE).toBe(name);
    }
    expect(env('c-fanout').PGHA_NODE_ID_BASE).toBe('2000');
    expect(env('c-reporting').PGHA_NODE_ID_BASE).toBe('3000');
    expect(env('c-dr').PGHA_NODE_ID_BASE).toBe('4000');
  });

  it('GIVEN a promotable cascade THEN its default priority is 50, else 0', () => {
    const objects = synth({ cascades: [{ name: 'a', promotable: true }, { name: 'b' }] });
    expect(envOf(find(objects, 'StatefulSet', 'c-a')).PGHA_DEFAULT_PRIORITY).toBe('50');
    expect(envOf(find(objects, 'StatefulSet', 'c-b')).PGHA_DEFAULT_PRIORITY).toBe('0');
  });

  it('GIVEN member priorities THEN PGHA_PRIORITIES lists one per ordinal', () => {
    const objects = synth({ members: { replicas: 5, priorities: [100, 100, 100, 10, 0] } });
    expect(envOf(find(objects, 'StatefulSet', 'c-node')).PGHA_PRIORITIES).toBe('100 100 100 10 0');
  });
});

describe('constructs: GIVEN labels, annotations and sync waves WHEN synthesized THEN metadata follows', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = synth({
      labels: { team: 'shop' },
      annotations: { 'example.com/owner': 'platform' },
      members: { replicas: 2, witness: true },
      cascades: [{ name: 'a' }, { name: 'b', upstream: 'a' }],
    });
  });

  it('every object carries the recommended labels and the user labels', () => {
    for (const o of objects) {
      const where = `${o.kind}/${o.metadata.name}`;
      expect(o.metadata.labels, where).toMatchObject({
        team: 'shop',
        'app.kubernetes.io/instance': 'c',
        'app.kubernetes.io/part-of': 'postgresql-ha',
        'app.kubernetes.io/managed-by': 'cdk8s-pg-ha',
      });
      expect(['postgresql', 'pgpool']).toContain(o.metadata.labels['app.kubernetes.io/name']);
    }
  });

  it('user labels reach pod templates but never a selector', () => {
    for (const w of workloads(objects)) {
      expect(w.spec.template.metadata.labels.team).toBe('shop');
      expect(Object.keys(w.spec.selector.matchLabels).sort()).toEqual(['app.kubernetes.io/component', 'app.kubernetes.io/instance', 'app.kubernetes.io/name']);
    }
    for (const s of byKind(objects, 'Service')) expect(s.spec.selector.team).toBeUndefined();
    for (const p of byKind(objects, 'PodDisruptionBudget')) expect(p.spec.selector.matchLabels.team).toBeUndefined();
  });

  it('PostgreSQL pods carry their tier label', () => {
    for (const sts of byKind(objects, 'StatefulSet')) {
      expect(sts.spec.template.metadata.labels['pgha.cdk8s.io/tier']).toBe(sts.metadata.name);
    }
  });

  it('every object carries the user annotations', () => {
    for (const o of objects) expect(o.metadata.annotations?.['example.com/owner'], `${o.kind}/${o.metadata.name}`).toBe('platform');
  });

  it('Argo CD sync waves order config (0) < members and witness (1) < pgpool (2) < cascades (3, 4)', () => {
    const expected: Record<string, string> = {
      'ServiceAccount/c-pgha': '0',
      'ConfigMap/c-node-scripts': '0',
      'ConfigMap/c-pgpool-scripts': '0',
      'ConfigMap/c-node-config': '0',
      'ConfigMap/c-a-config': '0',
      'ConfigMap/c-b-config': '0',
      'ConfigMap/c-witness-config': '0',
      'ConfigMap/c-pgpool-config': '0',
      'Service/c-node': '0',
      'Service/c-a': '0',
      'Service/c-a-ro': '0',
      'Service/c-b': '0',
      'Service/c-b-ro': '0',
      'Service/c-witness': '0',
      'Service/c-pgpool': '0',
      'NetworkPolicy/c-postgresql': '0',
      'NetworkPolicy/c-pgpool': '0',
      'NetworkPolicy/c-cascade-reads': '0',
      'StatefulSet/c-node': '1',
      'StatefulSet/c-witness': '1',
      'Deployment/c-pgpool': '2',
      'StatefulSet/c-a': '3',
      'StatefulSet/c-b': '4',
    };
    const actual = Object.fromEntries(objects.filter((o) => o.kind !== 'PodDisruptionBudget').map((o) => [`${o.kind}/${o.metadata.name}`, waveOf(o)]));
    expect(actual).toEqual(expected);
    // A PodDisruptionBudget goes in the wave of the workloads it covers.
    for (const pdb of byKind(objects, 'PodDisruptionBudget')) {
      const covered = workloads(objects).filter((w) => selectorMatches(pdb.spec.selector, w.spec.template.metadata.labels));
      expect(covered.length, pdb.metadata.name).toBeGreaterThan(0);
      expect(new Set(covered.map(waveOf)), pdb.metadata.name).toEqual(new Set([waveOf(pdb)]));
    }
    // The members' budget covers the witness too (same wave 1); the witness has none of its own.
    const memberPdb = find(objects, 'PodDisruptionBudget', 'c-node');
    expect(workloads(objects).filter((w) => selectorMatches(memberPdb.spec.selector, w.spec.template.metadata.labels)).map((w) => w.metadata.name).sort()).toEqual(['c-node', 'c-witness']);
    expect(maybeFind(objects, 'PodDisruptionBudget', 'c-witness')).toBeUndefined();
    const wave = (k: string) => Number(actual[k]);
    expect(wave('ConfigMap/c-node-config')).toBeLessThan(wave('StatefulSet/c-node'));
    expect(wave('StatefulSet/c-node')).toBeLessThan(wave('Deployment/c-pgpool'));
    expect(wave('Deployment/c-pgpool')).toBeLessThan(wave('StatefulSet/c-a'));
    expect(wave('StatefulSet/c-a')).toBeLessThan(wave('StatefulSet/c-b'));
  });

  it('GIVEN argoSyncWaveBase 10 THEN every wave shifts by 10', () => {
    const shifted = synth({ argoSyncWaveBase: 10, cascades: [{ name: 'a' }] });
    expect(waveOf(find(shifted, 'ConfigMap', 'c-node-config'))).toBe('10');
    expect(waveOf(find(shifted, 'StatefulSet', 'c-node'))).toBe('11');
    expect(waveOf(find(shifted, 'Deployment', 'c-pgpool'))).toBe('12');
    expect(waveOf(find(shifted, 'StatefulSet', 'c-a'))).toBe('13');
  });

  it('GIVEN argoSyncWaveBase false THEN no object has a sync-wave annotation (and none has an empty annotations map)', () => {
    const off = synth({ argoSyncWaveBase: false, cascades: [{ name: 'a' }], members: { replicas: 2, witness: true } });
    // The workloads keep the names their certificate needs (credentials CLI), nothing else.
    const withoutTlsNames = (o: K8sObject) => {
      const { 'pgha.cdk8s.io/tls-dns-names': names, ...rest } = o.metadata.annotations ?? {};
      if (o.kind === 'StatefulSet' || o.kind === 'Deployment') expect(names, `${o.kind}/${o.metadata.name}`).toMatch(/^c-pgpool,/);
      return Object.keys(rest).length ? rest : undefined;
    };
    for (const o of off) {
      expect(waveOf(o), `${o.kind}/${o.metadata.name}`).toBeUndefined();
      expect(withoutTlsNames(o)).toBeUndefined();
    }
    const offWithUser = synth({ argoSyncWaveBase: false, annotations: { 'example.com/x': 'y' } });
    for (const o of offWithUser) expect(withoutTlsNames(o)).toEqual({ 'example.com/x': 'y' });
  });

  it("GIVEN argoSyncWaveBase false and the user's own argocd.argoproj.io/sync-wave THEN every object carries the user's wave", () => {
    for (const o of synth({ argoSyncWaveBase: false, annotations: { 'argocd.argoproj.io/sync-wave': '7' } })) expect(waveOf(o), `${o.kind}/${o.metadata.name}`).toBe('7');
  });

  it('GIVEN the label app.kubernetes.io/version THEN every object and pod template carries it, and no selector does', () => {
    const objects = synth({ labels: { 'app.kubernetes.io/version': '2.3.0' } });
    for (const o of objects) expect(o.metadata.labels['app.kubernetes.io/version'], `${o.kind}/${o.metadata.name}`).toBe('2.3.0');
    for (const w of workloads(objects)) {
      expect(w.spec.template.metadata.labels['app.kubernetes.io/version']).toBe('2.3.0');
      expect(w.spec.selector.matchLabels['app.kubernetes.io/version']).toBeUndefined();
    }
  });
});

describe('constructs: GIVEN scheduling props WHEN synthesized THEN every pod spec follows', () => {
  it('GIVEN nodeAffinity and priorityClassName THEN every workload carries them beside its spread rules', () => {
    const objects = synth({
      members: { replicas: 2, witness: true },
      cascades: [{ name: 'r' }],
      scheduling: {
        spreadAcrossHosts: 'required',
        priorityClassName: 'database-critical',
        nodeAffinity: {
          required: [[{ key: 'node.kubernetes.io/pool', operator: 'In', values: ['db'] }]],
          preferred: [{ weight: 50, requirements: [{ key: 'disktype', operator: 'Exists' }] }],
        },
      },
    });
    expect(workloads(objects).length).toBe(4);
    for (const w of workloads(objects)) {
      const pod = podSpec(w);
      expect(pod.priorityClassName, w.metadata.name).toBe('database-critical');
      expect(pod.affinity.nodeAffinity, w.metadata.name).toEqual({
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'node.kubernetes.io/pool', operator: 'In', values: ['db'] }] }] },
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [{ key: 'disktype', operator: 'Exists' }] } }],
      });
      // The host anti-affinity of 'required' is kept next to it.
      expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, w.metadata.name).toBe('kubernetes.io/hostname');
    }
  });

  it('GIVEN no nodeAffinity and no priorityClassName THEN no pod spec has them', () => {
    for (const w of workloads(synth({}))) {
      expect(podSpec(w).priorityClassName).toBeUndefined();
      expect(podSpec(w).affinity?.nodeAffinity).toBeUndefined();
    }
  });

  const spread = (props: PostgresClusterProps) => workloads(synth(props)).map((w) => [w.metadata.name, podSpec(w).topologySpreadConstraints ?? []] as const);
  const hostAntiAffinity = (w: K8sObject): K8sObject[] => podSpec(w).affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  /** The selector a workload spreads by: the voting group for members and witness, else its own selector. */
  const expectedSpreadSelector = (w: K8sObject) => {
    const component = w.spec.selector.matchLabels['app.kubernetes.io/component'];
    return component === 'member' || component === 'witness' ? votingSelector('c') : { matchLabels: w.spec.selector.matchLabels };
  };

  it('GIVEN required hosts and preferred zones THEN a required hostname anti-affinity (no hostname spread) and ScheduleAnyway on zone, by the same selector', () => {
    const objects = synth({ scheduling: { spreadAcrossHosts: 'required', spreadAcrossZones: 'preferred' }, members: { replicas: 2, witness: true }, cascades: [{ name: 'r' }] });
    expect(workloads(objects)).toHaveLength(4);
    for (const w of workloads(objects)) {
      const name = w.metadata.name;
      const spec = podSpec(w);
      expect(spec.topologySpreadConstraints.map((c: K8sObject) => [c.topologyKey, c.whenUnsatisfiable, c.maxSkew]), name).toEqual([
        ['topology.kubernetes.io/zone', 'ScheduleAnyway', 1],
      ]);
      expect(spec.affinity, name).toEqual({
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: expectedSpreadSelector(w) }],
        },
      });
      expect(spec.topologySpreadConstraints[0].labelSelector, name).toEqual(expectedSpreadSelector(w));
      // The selector always takes in the workload's own pods.
      expect(selectorMatches(hostAntiAffinity(w)[0].labelSelector, w.spec.template.metadata.labels), name).toBe(true);
    }
    // Cascades and Pgpool-II select exactly their workload, by plain matchLabels.
    for (const name of ['c-r', 'c-pgpool']) {
      const w = workloads(objects).find((x) => x.metadata.name === name)!;
      expect(hostAntiAffinity(w)[0].labelSelector).toEqual({ matchLabels: w.spec.selector.matchLabels });
    }
  });

  // maxSkew 1 with DoNotSchedule still places 3 members on 2 hosts ([2, 1] has skew 1), so
  // losing one host can take a majority. 'required' refuses to schedule instead: a required pod
  // anti-affinity on the hostname.
  it('GIVEN spreadAcrossHosts required THEN two members can never share a host (the scheduler refuses instead)', () => {
    const objects = synth({ scheduling: { spreadAcrossHosts: 'required' } });
    const sts = find(objects, 'StatefulSet', 'c-node');
    const spec = podSpec(sts);
    const terms = hostAntiAffinity(sts);
    expect(terms).toEqual([{ topologyKey: 'kubernetes.io/hostname', labelSelector: votingSelector('c') }]);
    expect(selectorMatches(terms[0].labelSelector, sts.spec.template.metadata.labels)).toBe(true);
    expect(spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    // No hostname spread next to it (it would be redundant); the zone spread stays preferred.
    expect((spec.topologySpreadConstraints ?? []).filter((c: K8sObject) => c.topologyKey === 'kubernetes.io/hostname')).toEqual([]);
    expect(spec.topologySpreadConstraints.map((c: K8sObject) => [c.topologyKey, c.whenUnsatisfiable])).toEqual([['topology.kubernetes.io/zone', 'ScheduleAnyway']]);
  });

  it('GIVEN defaults THEN both spreads are preferred (ScheduleAnyway) and there is no anti-affinity', () => {
    for (const [, constraints] of spread({})) {
      expect(constraints.map((c: K8sObject) => [c.topologyKey, c.whenUnsatisfiable, c.maxSkew])).toEqual([
        ['kubernetes.io/hostname', 'ScheduleAnyway', 1],
        ['topology.kubernetes.io/zone', 'ScheduleAnyway', 1],
      ]);
    }
    for (const w of workloads(synth())) expect(podSpec(w).affinity, w.metadata.name).toBeUndefined();
  });

  it('GIVEN preferred hosts and required zones THEN hostname ScheduleAnyway and zone DoNotSchedule, by the spread selector, and no anti-affinity', () => {
    const objects = synth({ scheduling: { spreadAcrossHosts: 'preferred', spreadAcrossZones: 'required' }, members: { replicas: 2, witness: true }, cascades: [{ name: 'r' }] });
    for (const w of workloads(objects)) {
      const spec = podSpec(w);
      expect(spec.topologySpreadConstraints, w.metadata.name).toEqual([
        { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: expectedSpreadSelector(w) },
        { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: expectedSpreadSelector(w) },
      ]);
      expect(spec.affinity, w.metadata.name).toBeUndefined();
    }
  });

  it('GIVEN off THEN that spread is absent; both off THEN no constraint and no anti-affinity', () => {
    for (const [, constraints] of spread({ scheduling: { spreadAcrossHosts: 'off', spreadAcrossZones: 'required' } })) {
      expect(constraints.map((c: K8sObject) => [c.topologyKey, c.whenUnsatisfiable])).toEqual([['topology.kubernetes.io/zone', 'DoNotSchedule']]);
    }
    for (const [, constraints] of spread({ scheduling: { spreadAcrossHosts: 'off', spreadAcrossZones: 'off' } })) {
      expect(constraints).toEqual([]);
    }
    for (const w of workloads(synth({ scheduling: { spreadAcrossHosts: 'off', spreadAcrossZones: 'off' }, cascades: [{ name: 'r' }] }))) {
      expect(podSpec(w).topologySpreadConstraints, w.metadata.name).toBeUndefined();
      expect(podSpec(w).affinity, w.metadata.name).toBeUndefined();
    }
  });

  it('GIVEN required hosts and required zones THEN the anti-affinity on hostname and a DoNotSchedule zone spread', () => {
    const objects = synth({ scheduling: { spreadAcrossHosts: 'required', spreadAcrossZones: 'required' } });
    for (const w of workloads(objects)) {
      expect(podSpec(w).topologySpreadConstraints.map((c: K8sObject) => [c.topologyKey, c.whenUnsatisfiable]), w.metadata.name).toEqual([['topology.kubernetes.io/zone', 'DoNotSchedule']]);
      expect(hostAntiAffinity(w).map((t: K8sObject) => t.topologyKey), w.metadata.name).toEqual(['kubernetes.io/hostname']);
    }
  });

  it('GIVEN tolerations and a node selector THEN every pod spec has them; by default none', () => {
    const tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'database', effect: 'NoSchedule' }] as const;
    const objects = synth({ scheduling: { tolerations: [...tolerations], nodeSelector: { 'node-role.example.com/database': 'true' } }, cascades: [{ name: 'r' }] });
    for (const w of workloads(objects)) {
      expect(podSpec(w).tolerations, w.metadata.name).toEqual(tolerations);
      expect(podSpec(w).nodeSelector, w.metadata.name).toEqual({ 'node-role.example.com/database': 'true' });
    }
    for (const w of workloads(synth())) {
      expect(podSpec(w).tolerations).toBeUndefined();
      expect(podSpec(w).nodeSelector).toBeUndefined();
    }
  });
});

describe('constructs: GIVEN resources, storage, images and pull policy WHEN synthesized THEN the containers and claims follow', () => {
  it('GIVEN defaults THEN PostgreSQL 250m/512Mi/1Gi, Pgpool-II 100m/128Mi/512Mi, no CPU limit, 10Gi claims on the default class', () => {
    const objects = synth();
    expect(container(find(objects, 'StatefulSet', 'c-node')).resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } });
    expect(container(find(objects, 'Deployment', 'c-pgpool')).resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    const vct = find(objects, 'StatefulSet', 'c-node').spec.volumeClaimTemplates;
    expect(vct).toHaveLength(1);
    expect(vct[0].metadata.name).toBe('data');
    expect(vct[0].spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } });
  });

  it('GIVEN member, cascade and pgpool resources THEN each container gets its own', () => {
    const objects = synth({
      members: { resources: { cpuRequest: '2', cpuLimit: '4', memoryRequest: '4Gi', memoryLimit: '8Gi' } },
      cascades: [{ name: 'r', resources: { cpuRequest: '1', memoryRequest: '2Gi', memoryLimit: '2Gi' } }, { name: 's' }],
      pgpool: { resources: { cpuRequest: '300m', memoryRequest: '256Mi', memoryLimit: '1Gi', cpuLimit: '1' } },
    });
    expect(container(find(objects, 'StatefulSet', 'c-node')).resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '4', memory: '8Gi' } });
    expect(container(find(objects, 'StatefulSet', 'c-r')).resources).toEqual({ requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '2Gi' } });
    expect(container(find(objects, 'StatefulSet', 'c-s')).resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '8Gi' } });
    expect(container(find(objects, 'Deployment', 'c-pgpool')).resources).toEqual({ requests: { cpu: '300m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } });
  });

  it('GIVEN storage size and class THEN the members and (by inheritance) the cascades claim it; a layer may override the size', () => {
    const objects = synth({ members: { storage: { size: '100Gi', storageClassName: 'fast-ssd' } }, cascades: [{ name: 'r' }, { name: 's', storage: { size: '20Gi' } }] });
    const claim = (name: string) => find(objects, 'StatefulSet', name).spec.volumeClaimTemplates[0].spec;
    expect(claim('c-node')).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '100Gi' } } });
    expect(claim('c-r')).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '100Gi' } } });
    expect(claim('c-s')).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '20Gi' } } });
  });

  it('GIVEN images and a pull policy THEN every container uses them', () => {
    const objects = synth({
      imagePullPolicy: 'Always',
      postgres: { image: 'registry.example.com/pg:17-custom' },
      pgpool: { image: 'registry.example.com/pgpool:4.5-custom' },
      cascades: [{ name: 'r' }],
      members: { replicas: 2, witness: true },
    });
    for (const sts of byKind(objects, 'StatefulSet')) {
      expect(container(sts).image).toBe('registry.example.com/pg:17-custom');
      expect(container(sts).imagePullPolicy).toBe('Always');
    }
    expect(container(find(objects, 'Deployment', 'c-pgpool')).image).toBe('registry.example.com/pgpool:4.5-custom');
    expect(container(find(objects, 'Deployment', 'c-pgpool')).imagePullPolicy).toBe('Always');
  });

  it('GIVEN defaults THEN the default images and IfNotPresent', () => {
    const objects = synth();
    expect(container(find(objects, 'StatefulSet', 'c-node')).image).toMatch(/^ghcr\.io\/cdk8s-pg-ha\/postgres-repmgr:.+-pg18$/);
    expect(container(find(objects, 'Deployment', 'c-pgpool')).image).toMatch(/^ghcr\.io\/cdk8s-pg-ha\/pgpool:.+-pgpool4\.7$/);
    for (const w of workloads(objects)) expect(container(w).imagePullPolicy).toBe('IfNotPresent');
  });

  it('GIVEN pgpool replicas and credentials / users props THEN the Deployment and every secret volume follow', () => {
    const objects = synth({ pgpool: { replicas: 3 }, postgres: { maxConnections: 400 }, credentials: { secretName: 'my-creds' }, users: { appUser: 'shop', appDatabase: 'orders', monitorUser: 'mon' } });
    const d = find(objects, 'Deployment', 'c-pgpool');
    expect(d.spec.replicas).toBe(3);
    for (const w of workloads(objects)) {
      expect(podSpec(w).volumes.find((v: K8sObject) => v.secret).secret.secretName).toBe('my-creds');
    }
    expect(envOf(find(objects, 'StatefulSet', 'c-node'))).toMatchObject({ PGHA_APP_USER: 'shop', PGHA_APP_DATABASE: 'orders', PGHA_MONITOR_USER: 'mon' });
    expect(envOf(d)).toMatchObject({ PGHA_APP_USER: 'shop', PGHA_MONITOR_USER: 'mon' });
  });

  it('GIVEN a namespace, cluster domain and connect timeout THEN the pods get them', () => {
    const objects = synthCluster({ namespace: 'shop', clusterDomain: 'k8s.internal', failover: { connectTimeoutSeconds: 5 } }, { namespace: 'db' });
    for (const o of objects) expect(o.metadata.namespace).toBe('shop');
    const env = envOf(find(objects, 'StatefulSet', 'c-node'));
    expect(env.PGHA_DOMAIN_SUFFIX).toBe('shop.svc.k8s.internal');
    expect(env.PGHA_CONNECT_TIMEOUT).toBe('5');
    expect(envOf(find(objects, 'Deployment', 'c-pgpool')).PGHA_CONNECT_TIMEOUT).toBe('5');
    // The entrypoint's failover wait comes from the timing, not from reading repmgr.conf back:
    // 2 x (1 + 3 x (1 + 5)) + 30.
    expect(env.PGHA_FAILOVER_WAIT).toBe('68');
  });
});

describe('constructs: GIVEN config props WHEN synthesized THEN the mounted ConfigMaps and images carry them', () => {
  it('GIVEN clusterName THEN it (not the construct id) prefixes every object name', () => {
    const objects = synthCluster({ clusterName: 'orders' }, { id: 'SomeConstructId', namespace: 'db' });
    for (const o of objects) expect(o.metadata.name, `${o.kind}/${o.metadata.name}`).toMatch(/^orders-/);
    expect(find(objects, 'StatefulSet', 'orders-node').spec.template.metadata.labels['app.kubernetes.io/instance']).toBe('orders');
  });

  it('GIVEN postgres props, replication and failover THEN the tier ConfigMap and the image follow', () => {
    const objects = synth({
      postgres: { majorVersion: 15, maxConnections: 300, allowedCidrs: ['10.244.0.0/16'], parameters: { work_mem: '8MB' } },
      replication: { mode: 'quorum', standbys: 1 },
      failover: { monitorIntervalSeconds: 2, reconnectAttempts: 5 },
    });
    const data = configMapData(objects, 'c-node-config');
    const pg = parseConf(data['postgresql.conf']);
    expect(pg.get('max_connections')).toBe('300');
    expect(pg.get('work_mem')).toBe('8MB');
    expect(pg.get('synchronous_standby_names')).toBe('ANY 1 ("c-node-0", "c-node-1", "c-node-2")');
    expect(data['postgresql.conf']).toMatch(/PostgreSQL 15\./);
    expect(data['pg_hba.conf']).toContain('10.244.0.0/16');
    expect(data['pg_hba.conf']).not.toContain('0.0.0.0/0');
    const repmgr = parseConf(data['repmgr.conf']);
    expect([repmgr.get('monitor_interval_secs'), repmgr.get('reconnect_attempts')]).toEqual(['2', '5']);
    expect(container(find(objects, 'StatefulSet', 'c-node')).image).toMatch(/-pg15$/);
    const poolHba = configMapData(objects, 'c-pgpool-config')['pool_hba.conf'];
    expect(poolHba).toContain('10.244.0.0/16');
    expect(poolHba).not.toContain('0.0.0.0/0');
  });

  it('GIVEN pgpool.version 4.3 THEN pgpool.conf uses socket_dir and the image is the 4.3 one', () => {
    const objects = synth({ pgpool: { version: '4.3' } });
    const conf = parseConf(configMapData(objects, 'c-pgpool-config')['pgpool.conf']);
    expect(conf.get('socket_dir')).toBe('/run/pgpool');
    expect(conf.has('unix_socket_directories')).toBe(false);
    expect(container(find(objects, 'Deployment', 'c-pgpool')).image).toMatch(/-pgpool4\.3$/);
  });

  it('GIVEN allowSinglePgpool with 1 replica THEN the Deployment has 1 replica', () => {
    expect(find(synth({ pgpool: { replicas: 1, allowSinglePgpool: true } }), 'Deployment', 'c-pgpool').spec.replicas).toBe(1);
  });

  it('every tier of a cluster mounts its own config ConfigMap and the shared node scripts', () => {
    const objects = synth({ cascades: [{ name: 'r' }], members: { replicas: 2, witness: true } });
    for (const sts of byKind(objects, 'StatefulSet')) {
      const volumes = podSpec(sts).volumes;
      expect(volumes.find((v: K8sObject) => v.name === 'config').configMap.name).toBe(`${sts.metadata.name}-config`);
      expect(volumes.find((v: K8sObject) => v.name === 'scripts').configMap.name).toBe('c-node-scripts');
    }
    const pgpoolVolumes = podSpec(find(objects, 'Deployment', 'c-pgpool')).volumes;
    expect(pgpoolVolumes.find((v: K8sObject) => v.name === 'config').configMap.name).toBe('c-pgpool-config');
    expect(pgpoolVolumes.find((v: K8sObject) => v.name === 'scripts').configMap.name).toBe('c-pgpool-scripts');
  });
});

describe('constructs: GIVEN a config change WHEN synthesized THEN only the pods consuming it get a new checksum', () => {
  const checksums = (props: PostgresClusterProps) => {
    const objects = synth({ cascades: [{ name: 'r' }], ...props });
    return {
      node: checksumOf(find(objects, 'StatefulSet', 'c-node')),
      cascade: checksumOf(find(objects, 'StatefulSet', 'c-r')),
      pgpool: checksumOf(find(objects, 'Deployment', 'c-pgpool')),
    };
  };
  let base: ReturnType<typeof checksums>;
  beforeAll(() => {
    base = checksums({});
  });

  it('every pod template carries a sha256 checksum', () => {
    for (const value of Object.values(base)) expect(value).toMatch(/^[0-9a-f]{64}$/);
  });

  it('GIVEN the same props THEN the same checksums', () => {
    expect(checksums({})).toEqual(base);
  });

  it('GIVEN a pgpool-only change (numInitChildren) THEN the pgpool checksum changes and no StatefulSet checksum does', () => {
    const changed = checksums({ pgpool: { numInitChildren: 20 } });
    expect(changed.pgpool).not.toBe(base.pgpool);
    expect(changed.node).toBe(base.node);
    expect(changed.cascade).toBe(base.cascade);
  });

  it('GIVEN pgpool load balancing changes THEN only pgpool rolls', () => {
    const changed = checksums({ pgpool: { statementLevelLoadBalancing: true } });
    expect(changed.pgpool).not.toBe(base.pgpool);
    expect([changed.node, changed.cascade]).toEqual([base.node, base.cascade]);
  });

  it('GIVEN a PostgreSQL parameter change THEN the StatefulSets roll and pgpool does not', () => {
    const changed = checksums({ postgres: { parameters: { work_mem: '64MB' } } });
    expect(changed.node).not.toBe(base.node);
    expect(changed.cascade).not.toBe(base.cascade);
    expect(changed.pgpool).toBe(base.pgpool);
  });

  it('GIVEN a repmgr timing change THEN the StatefulSets roll', () => {
    const changed = checksums({ failover: { monitorIntervalSeconds: 2, reconnectAttempts: 5 } });
    expect(changed.node).not.toBe(base.node);
    expect(changed.cascade).not.toBe(base.cascade);
  });

  it('GIVEN a pgpool replica count change THEN no checksum changes (scaling is no config change)', () => {
    // (max_connections raised for both so the third replica fits the connection budget)
    const reference = checksums({ postgres: { maxConnections: 400 } });
    expect(checksums({ pgpool: { replicas: 3 }, postgres: { maxConnections: 400 } })).toEqual(reference);
  });

  it('the checksum covers the ConfigMaps the pod mounts: pgpool scripts do not roll PostgreSQL pods', () => {
    // Two tiers of one cluster share the node scripts but have their own config.
    expect(base.node).not.toBe(base.cascade);
  });
});

describe('constructs: GIVEN 2 members and a witness THEN no single host or drain takes 2 of the 3 votes', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = synth({ members: { replicas: 2, witness: true }, scheduling: { spreadAcrossHosts: 'required' }, cascades: [{ name: 'r' }] });
  });
  const labelsOf = (name: string) => find(objects, 'StatefulSet', name).spec.template.metadata.labels as Record<string, string>;

  // The members' PDB allows one member down and the witness' PDB one witness down, so a drain
  // may evict a member and the witness at once: the remaining member sees no majority and the
  // cluster cannot fail over. (Two PDBs on one pod would block evictions, so it must be one PDB.)
  it('one PodDisruptionBudget with maxUnavailable 1 covers both members and the witness (and nothing else); the witness has none of its own', () => {
    const members = labelsOf('c-node');
    const witness = labelsOf('c-witness');
    const covering = byKind(objects, 'PodDisruptionBudget').filter((p) => selectorMatches(p.spec.selector, witness));
    expect(covering.map((p) => p.metadata.name)).toEqual(['c-node']);
    expect(selectorMatches(covering[0].spec.selector, members)).toBe(true);
    expect(covering[0].spec.selector).toEqual(votingSelector('c'));
    expect(covering[0].spec.maxUnavailable).toBe(1);
    expect(selectorMatches(covering[0].spec.selector, labelsOf('c-r'))).toBe(false);
    expect(selectorMatches(covering[0].spec.selector, find(objects, 'Deployment', 'c-pgpool').spec.template.metadata.labels)).toBe(false);
    expect(maybeFind(objects, 'PodDisruptionBudget', 'c-witness')).toBeUndefined();
    expect(byKind(objects, 'PodDisruptionBudget').map((p) => p.metadata.name).sort()).toEqual(['c-node', 'c-pgpool', 'c-r']);
  });

  // The witness spreads only against itself, so the scheduler may put it on a member's host;
  // losing that host then loses 2 of the 3 votes.
  it('with spreadAcrossHosts required, members and the witness keep off each other\'s hosts as one group of voters', () => {
    const voters = [labelsOf('c-node'), labelsOf('c-witness')];
    for (const name of ['c-node', 'c-witness']) {
      const spec = podSpec(find(objects, 'StatefulSet', name));
      const antiAffinity = (spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).filter(
        (t: K8sObject) => t.topologyKey === 'kubernetes.io/hostname' && voters.every((l) => selectorMatches(t.labelSelector, l)),
      );
      expect(antiAffinity, name).toHaveLength(1);
      expect(antiAffinity[0].labelSelector, name).toEqual(votingSelector('c'));
      // The group is the voters only: a cascade may share a host with a member.
      expect(selectorMatches(antiAffinity[0].labelSelector, labelsOf('c-r')), name).toBe(false);
    }
  });
});

describe('constructs: GIVEN the replication topology THEN every node can do its job', () => {
  // The witness is a standalone PostgreSQL (no standby ever streams from it). With quorum commit
  // its postgresql.conf would carry the members' `ANY n (...)`, so every commit on the witness
  // (its role creation, `repmgr witness register`, repmgrd's metadata sync) waits forever.
  it('GIVEN 2 members, a witness and quorum commit THEN it is refused (quorum commit needs 3 members)', () => {
    let error: unknown;
    try {
      synth({ members: { replicas: 2, witness: true }, replication: { mode: 'quorum', standbys: 1 } });
    } catch (e) {
      error = e;
    }
    expect((error as Error | undefined)?.name).toBe('PostgresClusterConfigError');
    expect((error as { prop?: string }).prop).toBe('replication.mode');
  });

  it('GIVEN quorum commit THEN the members and cascades wait for ANY n of the members; GIVEN a witness (async) THEN its postgresql.conf waits for none', () => {
    const quorum = synth({ replication: { mode: 'quorum' }, cascades: [{ name: 'r' }] });
    for (const tier of ['c-node', 'c-r']) {
      expect(parseConf(configMapData(quorum, `${tier}-config`)['postgresql.conf']).get('synchronous_standby_names'), tier).toBe('ANY 1 ("c-node-0", "c-node-1", "c-node-2")');
    }
    const witness = synth({ members: { replicas: 2, witness: true } });
    expect(parseConf(configMapData(witness, 'c-witness-config')['postgresql.conf']).get('synchronous_standby_names')).toBe('');
  });

  // repmgr may promote a node with a priority above 0. Pgpool-II sends writes only to its
  // backends, and keeps searching for a primary among them forever: a promoted node that is
  // no backend means no writes at all through the client Service.
  it('GIVEN a promotable cascade THEN every node repmgr may promote is a Pgpool-II backend', () => {
    const objects = synth({ cascades: [{ name: 'dr', replicas: 2, promotable: true }] });
    const pgpool = parseConf(configMapData(objects, 'c-pgpool-config')['pgpool.conf']);
    const backendHosts = [...pgpool].filter(([k]) => k.startsWith('backend_hostname')).map(([, v]) => v);
    for (const sts of byKind(objects, 'StatefulSet')) {
      const env = envOf(sts);
      const priorities = (env.PGHA_PRIORITIES ?? '').split(' ').filter(Boolean).map(Number);
      for (let i = 0; i < sts.spec.replicas; i++) {
        const priority = priorities[i] ?? Number(env.PGHA_DEFAULT_PRIORITY);
        if (priority > 0) {
          expect(backendHosts, `${sts.metadata.name}-${i} (priority ${priority})`).toContain(`${sts.metadata.name}-${i}.${env.PGHA_SERVICE}.${env.PGHA_DOMAIN_SUFFIX}`);
        }
      }
    }
  });

  it('GIVEN promotable and non-promotable cascades THEN the promotable pods follow the members as backends, in declaration order', () => {
    const objects = synth({ cascades: [{ name: 'ro', replicas: 2 }, { name: 'dr', replicas: 2, promotable: true }, { name: 'dr2', replicas: 1, upstream: 'dr', promotable: true }] });
    const pgpool = parseConf(configMapData(objects, 'c-pgpool-config')['pgpool.conf']);
    const hosts = [...pgpool].filter(([k]) => k.startsWith('backend_hostname')).map(([k, v]) => [Number(k.slice('backend_hostname'.length)), v]);
    const pods = ['c-node-0', 'c-node-1', 'c-node-2', 'c-dr-0', 'c-dr-1', 'c-dr2-0'];
    expect(hosts).toEqual(pods.map((pod, i) => [i, `${pod}.${pod.replace(/-\d+$/, '')}.db.svc.cluster.local`]));
    pods.forEach((pod, i) => expect(pgpool.get(`backend_application_name${i}`)).toBe(pod));
    // The pod's own repmgr host (POD.PGHA_SERVICE.PGHA_DOMAIN_SUFFIX) is the backend host.
    const dr = envOf(find(objects, 'StatefulSet', 'c-dr'));
    expect(pgpool.get('backend_hostname4')).toBe(`c-dr-1.${dr.PGHA_SERVICE}.${dr.PGHA_DOMAIN_SUFFIX}`);
    expect([...pgpool.values()].some((v) => v.includes('c-ro-'))).toBe(false);
  });

  it('GIVEN members with priority 0 THEN they remain Pgpool-II backends (they serve reads)', () => {
    const objects = synth({ members: { replicas: 4, priorities: [100, 100, 0, 0] } });
    const pgpool = parseConf(configMapData(objects, 'c-pgpool-config')['pgpool.conf']);
    expect([...pgpool.keys()].filter((k) => k.startsWith('backend_hostname'))).toEqual(['backend_hostname0', 'backend_hostname1', 'backend_hostname2', 'backend_hostname3']);
  });
});

describe('constructs: GIVEN an application chart next to a cluster WHEN it wires itself to the cluster THEN it needs nothing from the resolved model', () => {
  const build = () => {
    const chart = Testing.chart();
    const cluster = new PostgresCluster(chart, 'orders', { namespace: 'shop', cascades: [{ name: 'replica' }], users: { appUser: 'shop', appDatabase: 'shopdb' } });
    return { chart, cluster };
  };

  it('THEN the Pgpool-II Service, the credentials Secret and the application user are plain, named values', () => {
    const { cluster } = build();
    expect(cluster.service).toEqual({ name: 'orders-pgpool', namespace: 'shop', port: 5432, host: 'orders-pgpool.shop.svc.cluster.local' });
    expect(cluster.endpoint).toBe(cluster.service.host);
    expect(cluster.credentials.secretName).toBe('orders-credentials');
    expect(cluster.credentials.secret.name).toBe('orders-credentials');
    expect(cluster.credentials.keys.appPassword).toBe('app-password');
    expect(cluster.app).toEqual({ user: 'shop', database: 'shopdb', passwordKey: 'app-password' });
  });

  it("THEN a layer's read Service is found by the layer's name, and an unknown layer is refused with the list", () => {
    const { cluster } = build();
    expect(cluster.readService('replica')).toEqual({ name: 'orders-replica-ro', namespace: 'shop', port: 5432, host: 'orders-replica-ro.shop.svc.cluster.local' });
    expect(() => cluster.readService('reporting')).toThrow(/no cascading layer "reporting"; the layers are: replica/);
  });

  it("WHEN an application Deployment takes connectionEnv() THEN its container gets the libpq variables, the password as a reference to the cluster's Secret", () => {
    const { chart, cluster } = build();
    const web = new kplus.Deployment(chart, 'web', { containers: [{ image: 'web:1.0', securityContext: { ensureNonRoot: false } }] });
    for (const [name, value] of Object.entries(cluster.connectionEnv())) web.containers[0].env.addVariable(name, value);
    const deployment = Testing.synth(chart).find((o) => o.kind === 'Deployment' && o.metadata.name !== 'orders-pgpool')!;
    const env = Object.fromEntries(deployment.spec.template.spec.containers[0].env.map((e: { name: string }) => [e.name, e]));
    expect(env.PGHOST.value).toBe('orders-pgpool.shop.svc.cluster.local');
    expect(env.PGPORT.value).toBe('5432');
    expect(env.PGUSER.value).toBe('shop');
    expect(env.PGDATABASE.value).toBe('shopdb');
    expect(env.PGPASSWORD.valueFrom).toEqual({ secretKeyRef: { name: 'orders-credentials', key: 'app-password' } });
    // The Secret is a reference: nothing of it is synthesized.
    expect(Testing.synth(chart).filter((o) => o.kind === 'Secret')).toEqual([]);
  });
});

describe('constructs: GIVEN credentials.externalSecret WHEN synthesized THEN an ExternalSecret writes the credentials Secret, and no Secret is emitted', () => {
  const objects = synthCluster(
    { credentials: { externalSecret: { storeName: 'vault', storeKind: 'ClusterSecretStore', remoteKey: 'databases/orders', refreshInterval: '15m' } } },
    { id: 'orders', namespace: 'shop' },
  );
  const es = objects.find((o) => o.kind === 'ExternalSecret')!;

  it('one ExternalSecret named after the Secret, in the cluster namespace, before the workloads (config sync wave)', () => {
    expect(objects.filter((o) => o.kind === 'ExternalSecret')).toHaveLength(1);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(es.apiVersion).toBe('external-secrets.io/v1');
    expect(es.metadata).toMatchObject({ name: 'orders-credentials', namespace: 'shop' });
    const configMapWave = objects.find((o) => o.kind === 'ConfigMap')!.metadata.annotations['argocd.argoproj.io/sync-wave'];
    expect(es.metadata.annotations['argocd.argoproj.io/sync-wave']).toBe(configMapWave);
  });

  it('reads each of the five keys from the property of the same name of the one remote secret, from the named store', () => {
    expect(es.spec.secretStoreRef).toEqual({ name: 'vault', kind: 'ClusterSecretStore' });
    expect(es.spec.refreshInterval).toBe('15m');
    expect(es.spec.data).toEqual(
      ['superuser-password', 'replication-password', 'app-password', 'monitor-password', 'pgpool-key'].map((key) => ({ secretKey: key, remoteRef: { key: 'databases/orders', property: key } })),
    );
  });

  it('keeps the Secret when the ExternalSecret is pruned or the store loses the remote secret (the pods need it to restart)', () => {
    expect(es.spec.target).toEqual({ name: 'orders-credentials', creationPolicy: 'Orphan', deletionPolicy: 'Retain' });
  });

  it('without the prop, no ExternalSecret', () => {
    expect(synthCluster({}, { namespace: 'shop' }).filter((o) => o.kind === 'ExternalSecret')).toEqual([]);
  });
});
