/**
 * Cross-object checks the OpenAPI schema cannot see, over every synthesized object of the
 * example chart and of every program in examples/: selectors, volume and ConfigMap references,
 * secret keys, name limits, headless Services and script references.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { isDeepStrictEqual } from 'util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DNS_1035_LABEL, DNS_1123_LABEL } from '../../lib/model/names';
import {
  allSynthesizedSets,
  examplePrograms,
  isVotingWorkload,
  parseConf,
  REPO_ROOT,
  selectorIsEmpty,
  selectorMatches,
  synthCluster,
  synthExampleChart,
  type K8sObject,
} from './helpers';

const SCRIPTS_MOUNT = '/opt/pgha/scripts';

/** The credentials Secret keys listed in docs/pod-contract.md ("Secret keys ..." paragraph). */
function documentedSecretKeys(): string[] {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'pod-contract.md'), 'utf8');
  const start = doc.indexOf('Secret keys');
  if (start < 0) throw new Error('docs/pod-contract.md has no "Secret keys" paragraph');
  const paragraph = doc.slice(start, doc.indexOf('\n\n', start));
  return [...paragraph.matchAll(/`([a-z][a-z-]*)`/g)].map((m) => m[1]);
}

/** The TLS Secret's keys as docs/pod-contract.md lists them ("TLS Secret keys" paragraph). */
function documentedTlsKeys(): string[] {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'pod-contract.md'), 'utf8');
  const start = doc.indexOf('TLS Secret keys');
  if (start < 0) throw new Error('docs/pod-contract.md has no "TLS Secret keys" paragraph');
  const paragraph = doc.slice(start, doc.indexOf('\n\n', start));
  return [...paragraph.matchAll(/`([a-z]+\.[a-z]+)`/g)].map((m) => m[1]);
}

const isWorkload = (o: K8sObject) => o.kind === 'StatefulSet' || o.kind === 'Deployment';
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const id = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

/** Every problem found in one set of objects; an empty list means the set is consistent. */
function crossObjectProblems(objects: K8sObject[], secretKeys: string[]): string[] {
  const problems: string[] = [];
  const workloads = objects.filter(isWorkload);
  const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o]));
  const services = new Map(objects.filter((o) => o.kind === 'Service').map((o) => [o.metadata.name, o]));
  const serviceAccounts = new Set(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name));
  const podLabels = (w: K8sObject) => w.spec.template.metadata?.labels ?? {};

  // Unique kind/name per namespace.
  const seen = new Set<string>();
  for (const o of objects) {
    const key = `${o.metadata.namespace}/${id(o)}`;
    if (seen.has(key)) problems.push(`${key} emitted twice`);
    seen.add(key);
  }

  for (const w of workloads) {
    const selector = w.spec.selector?.matchLabels ?? {};
    if (Object.keys(selector).length === 0) problems.push(`${id(w)} has an empty selector`);
    if (!matches(selector, podLabels(w))) problems.push(`${id(w)} selector does not match its pod template labels`);
    for (const other of workloads) {
      if (other !== w && matches(selector, podLabels(other))) problems.push(`${id(w)} selector also matches the pods of ${id(other)}`);
    }
  }

  for (const s of objects.filter((o) => o.kind === 'Service')) {
    const selector = s.spec.selector ?? {};
    const selected = workloads.filter((w) => Object.keys(selector).length > 0 && matches(selector, podLabels(w)));
    if (selected.length === 0) problems.push(`${id(s)} selects no workload`);
    for (const port of s.spec.ports ?? []) {
      if (typeof port.targetPort === 'string') {
        for (const w of selected) {
          const named = w.spec.template.spec.containers.some((c: K8sObject) => (c.ports ?? []).some((p: K8sObject) => p.name === port.targetPort));
          if (!named) problems.push(`${id(s)} targetPort ${port.targetPort} is no container port of ${id(w)}`);
        }
      }
    }
  }

  // PDB selectors are evaluated in full (matchLabels and matchExpressions), as the API server does.
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  const voting = workloads.filter(isVotingWorkload);
  for (const pdb of pdbs) {
    const selector = pdb.spec.selector;
    if (selectorIsEmpty(selector)) problems.push(`${id(pdb)} has an empty selector`);
    const covered = workloads.filter((w) => selectorMatches(selector, podLabels(w)));
    if (covered.length === 0) problems.push(`${id(pdb)} selects no workload`);
    else if (covered.some(isVotingWorkload)) {
      // Members and witness vote together: one budget over exactly those pods, so a drain never
      // takes two votes at once.
      for (const w of voting) if (!covered.includes(w)) problems.push(`${id(pdb)} covers the voting pods but not ${id(w)}`);
      for (const w of covered) if (!isVotingWorkload(w)) problems.push(`${id(pdb)} covers the voting pods and also ${id(w)}`);
    } else {
      // Any other budget covers exactly one workload, by that workload's own selector.
      if (covered.length !== 1) problems.push(`${id(pdb)} covers ${covered.length} workloads: ${covered.map(id).join(', ')}`);
      else if (!isDeepStrictEqual(selector, { matchLabels: covered[0].spec.selector?.matchLabels })) {
        problems.push(`${id(pdb)} selector is not the selector of ${id(covered[0])}`);
      }
    }
  }
  // The eviction API refuses to evict a pod matched by more than one PDB, which blocks drains.
  for (const w of workloads) {
    const covering = pdbs.filter((pdb) => selectorMatches(pdb.spec.selector, podLabels(w)));
    if (covering.length !== 1) problems.push(`${id(w)} pods are covered by ${covering.length} PodDisruptionBudgets, expected exactly 1`);
  }

  for (const w of workloads) {
    const spec = w.spec.template.spec;
    const volumes = new Map<string, K8sObject>((spec.volumes ?? []).map((v: K8sObject) => [v.name, v]));
    const claimNames = new Set<string>((w.kind === 'StatefulSet' ? w.spec.volumeClaimTemplates ?? [] : []).map((t: K8sObject) => t.metadata.name));
    for (const name of claimNames) {
      if (volumes.has(name)) problems.push(`${id(w)} claim template ${name} shadows a pod volume`);
    }
    if (spec.serviceAccountName !== undefined && !serviceAccounts.has(spec.serviceAccountName)) {
      problems.push(`${id(w)} uses ServiceAccount ${spec.serviceAccountName}, which is not emitted`);
    }

    for (const v of volumes.values()) {
      if (v.configMap) {
        const cm = configMaps.get(v.configMap.name);
        if (!cm) {
          problems.push(`${id(w)} volume ${v.name} names ConfigMap ${v.configMap.name}, which is not emitted`);
          continue;
        }
        for (const item of v.configMap.items ?? []) {
          if (!(item.key in (cm.data ?? {}))) problems.push(`${id(w)} volume ${v.name} item ${item.key} is not a key of ${v.configMap.name}`);
        }
      }
      if (v.secret) {
        const documented = v.name === 'tls' ? documentedTlsKeys() : secretKeys;
        for (const item of v.secret.items ?? []) {
          if (!documented.includes(item.key)) problems.push(`${id(w)} secret item ${item.key} is not documented in docs/pod-contract.md`);
        }
      }
    }

    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      for (const m of c.volumeMounts ?? []) {
        if (!volumes.has(m.name) && !claimNames.has(m.name)) problems.push(`${id(w)}/${c.name} mounts ${m.name}, which is no volume`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.configMapKeyRef;
        if (ref && !(configMaps.get(ref.name)?.data ?? {})[ref.key]) problems.push(`${id(w)}/${c.name} env ${e.name} refers to missing ${ref.name}/${ref.key}`);
      }

      // Scripts run by the command or an exec probe must be keys of the ConfigMap at /opt/pgha/scripts.
      const scriptMount = (c.volumeMounts ?? []).find((m: K8sObject) => m.mountPath === SCRIPTS_MOUNT);
      const scriptVolume = scriptMount ? volumes.get(scriptMount.name) : undefined;
      const scriptData: Record<string, string> = scriptVolume?.configMap ? configMaps.get(scriptVolume.configMap.name)?.data ?? {} : {};
      const commands = [c.command ?? [], c.args ?? [], ...['startupProbe', 'readinessProbe', 'livenessProbe'].map((p) => c[p]?.exec?.command ?? [])];
      const referenced = commands.flat().filter((arg: string) => arg.startsWith(`${SCRIPTS_MOUNT}/`));
      if (referenced.length === 0) problems.push(`${id(w)}/${c.name} runs no script from ${SCRIPTS_MOUNT}`);
      for (const path of referenced) {
        const file = path.slice(SCRIPTS_MOUNT.length + 1);
        if (!scriptMount) problems.push(`${id(w)}/${c.name} runs ${path} but mounts nothing at ${SCRIPTS_MOUNT}`);
        else if (!scriptVolume?.configMap) problems.push(`${id(w)}/${c.name} ${SCRIPTS_MOUNT} is not a ConfigMap volume`);
        else if (!(file in scriptData)) problems.push(`${id(w)}/${c.name} runs ${file}, which is not a key of ${scriptVolume.configMap.name}`);
      }
      // Files those scripts source or run from their own folder must be in the same ConfigMap.
      for (const [file, text] of Object.entries(scriptData)) {
        for (const m of text.matchAll(/(?:\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)|\$SCRIPTS_DIR)\/([\w.-]+)/g)) {
          if (!(m[1] in scriptData)) problems.push(`${file} uses ${m[1]}, which is not in the same scripts ConfigMap`);
        }
      }
    }

    // Absolute paths in the rendered config files must exist in this pod: a config file path is
    // a key of the ConfigMap mounted there; a socket, pid or runtime path is on a writable mount.
    const main = spec.containers[0];
    const mounts: K8sObject[] = [...(main.volumeMounts ?? [])].sort((a: K8sObject, b: K8sObject) => b.mountPath.length - a.mountPath.length);
    const mountOf = (path: string) => mounts.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
    const configMount = mounts.find((m) => m.mountPath === '/etc/pgha/config' || m.mountPath === '/etc/pgha/pgpool');
    const configVolume = configMount ? volumes.get(configMount.name) : undefined;
    const configData: Record<string, string> = configVolume?.configMap ? configMaps.get(configVolume.configMap.name)?.data ?? {} : {};
    if (!configMount) problems.push(`${id(w)} mounts no config at /etc/pgha/config or /etc/pgha/pgpool`);
    const WRITABLE = ['unix_socket_directories', 'socket_dir', 'pcp_socket_dir', 'pcp_unix_socket_directories', 'pid_file_name', 'logdir', 'pool_passwd', 'passfile', 'data_directory'];
    for (const [file, text] of Object.entries(configData)) {
      if (!/^(postgresql|repmgr|pgpool)\.conf$/.test(file)) continue;
      for (const [key, value] of parseConf(text)) {
        if (key.startsWith('backend_') || !value.startsWith('/') || /\s/.test(value)) continue;
        const mount = mountOf(value);
        const where = `${id(w)} ${file} ${key} = ${value}`;
        if (!mount) {
          problems.push(`${where}: not under any mount of the container`);
          continue;
        }
        const volume = volumes.get(mount.name);
        if (volume?.configMap) {
          const cmKey = value.slice(mount.mountPath.length + 1);
          if (!(cmKey in (configMaps.get(volume.configMap.name)?.data ?? {}))) problems.push(`${where}: ${cmKey} is not a key of ${volume.configMap.name}`);
        }
        if (WRITABLE.includes(key) && (mount.readOnly || volume?.configMap || volume?.secret)) problems.push(`${where}: must be writable, but ${mount.mountPath} is read-only`);
      }
    }

    if (w.kind === 'StatefulSet') {
      const svc = services.get(w.spec.serviceName);
      if (!svc) problems.push(`${id(w)} serviceName ${w.spec.serviceName} is not an emitted Service`);
      else {
        if (svc.spec.clusterIP !== 'None') problems.push(`${id(w)} serviceName ${svc.metadata.name} is not headless`);
        if (svc.spec.publishNotReadyAddresses !== true) problems.push(`${id(w)} headless Service does not publish not-ready addresses`);
        if (!matches(svc.spec.selector ?? {}, podLabels(w))) problems.push(`${id(w)} headless Service does not select its pods`);
      }
      if (w.spec.podManagementPolicy !== 'Parallel') problems.push(`${id(w)} podManagementPolicy is ${w.spec.podManagementPolicy}`);
      if (w.metadata.name.length > 52) problems.push(`${id(w)} name is ${w.metadata.name.length} > 52 characters`);
    }
  }

  // An ExternalSecret writes a Secret some workload mounts, with every key each workload mounts
  // from it, in the workloads' namespace.
  for (const es of objects.filter((o) => o.kind === 'ExternalSecret')) {
    const target: string = es.spec.target?.name ?? es.metadata.name;
    const written = new Set<string>((es.spec.data ?? []).map((d: { secretKey: string }) => d.secretKey));
    const mounting = workloads.filter((w) => (w.spec.template.spec.volumes ?? []).some((v: { secret?: { secretName: string } }) => v.secret?.secretName === target));
    if (mounting.length === 0) problems.push(`${id(es)} writes Secret ${target}, which no workload mounts`);
    for (const w of mounting) {
      if (w.metadata.namespace !== es.metadata.namespace) problems.push(`${id(es)} is in namespace ${es.metadata.namespace}, ${id(w)} in ${w.metadata.namespace}`);
      for (const v of w.spec.template.spec.volumes ?? []) {
        if (v.secret?.secretName !== target) continue;
        for (const item of v.secret.items ?? []) {
          if (!written.has(item.key)) problems.push(`${id(w)} mounts key ${item.key} of ${target}, which ${id(es)} does not write`);
        }
      }
    }
  }

  for (const o of objects) {
    const name: string = o.metadata.name;
    if (o.kind === 'Service' && !(DNS_1035_LABEL.test(name) && name.length <= 63)) problems.push(`${id(o)} is not a DNS-1035 label of at most 63 characters`);
    if (['StatefulSet', 'Deployment', 'Namespace'].includes(o.kind) && !(DNS_1123_LABEL.test(name) && name.length <= 63)) problems.push(`${id(o)} is not a DNS-1123 label`);
    if (name.length > 253) problems.push(`${id(o)} name over 253 characters`);
    const labelSets: Array<Record<string, string>> = [o.metadata.labels ?? {}];
    if (isWorkload(o)) labelSets.push(o.spec.template.metadata?.labels ?? {});
    for (const labels of labelSets) {
      for (const [k, v] of Object.entries(labels)) {
        if (v.length > 63) problems.push(`${id(o)} label ${k} value longer than 63`);
        if (k.split('/').pop()!.length > 63) problems.push(`${id(o)} label key ${k} name longer than 63`);
      }
    }
  }
  return problems;
}

describe('cross-object: GIVEN the example chart and every example program WHEN synthesized THEN the objects fit together', () => {
  let sets: Array<{ source: string; objects: K8sObject[] }>;
  const secretKeys = documentedSecretKeys();

  beforeAll(async () => {
    sets = await allSynthesizedSets();
  }, 60_000);

  it('the pod contract documents the five credentials keys', () => {
    expect(secretKeys.sort()).toEqual(['app-password', 'monitor-password', 'pgpool-key', 'replication-password', 'superuser-password']);
  });

  it('synthesizes the example chart and every program in examples/, each to a non-empty set', () => {
    expect(sets.map((s) => s.source)).toEqual(['charts/example-cluster.ts', ...examplePrograms()]);
    expect(examplePrograms().length).toBeGreaterThanOrEqual(4);
    for (const s of sets) expect(s.objects.length, s.source).toBeGreaterThan(5);
  });

  it('no cross-object problem in any set (the problems are listed per source)', () => {
    const problems = Object.fromEntries(sets.map((set) => [set.source, crossObjectProblems(set.objects, secretKeys)]));
    expect(problems).toEqual(Object.fromEntries(sets.map((set) => [set.source, []])));
  });

  it('no set contains a Secret', () => {
    for (const set of sets) expect(set.objects.filter((o) => o.kind === 'Secret'), set.source).toEqual([]);
  });

  it('every workload of every set mounts the scripts ConfigMap at /opt/pgha/scripts with mode 0555, read-only', () => {
    for (const set of sets) {
      for (const w of set.objects.filter(isWorkload)) {
        const c = w.spec.template.spec.containers[0];
        const mount = c.volumeMounts.find((m: K8sObject) => m.mountPath === SCRIPTS_MOUNT);
        expect(mount?.readOnly, `${set.source} ${id(w)}`).toBe(true);
        const volume = w.spec.template.spec.volumes.find((v: K8sObject) => v.name === mount.name);
        expect(volume.configMap.defaultMode).toBe(0o555);
      }
    }
  });
});

describe('cross-object: GIVEN broken objects THEN the checker reports them (so the checks above can fail)', () => {
  let base: K8sObject[];
  beforeAll(() => {
    base = synthExampleChart();
  });
  const clone = () => JSON.parse(JSON.stringify(base)) as K8sObject[];
  const keys = documentedSecretKeys();
  const sts = (objects: K8sObject[]) => objects.find((o) => o.kind === 'StatefulSet')!;

  it('a mount of a missing volume, a missing ConfigMap, an unknown secret key and a missing script', () => {
    const objects = clone();
    const spec = sts(objects).spec.template.spec;
    spec.containers[0].volumeMounts.push({ name: 'nope', mountPath: '/nope' });
    spec.volumes.find((v: K8sObject) => v.name === 'config').configMap.name = 'missing-config';
    spec.volumes.find((v: K8sObject) => v.secret).secret.items.push({ key: 'tls-key', path: 'tls-key' });
    spec.containers[0].command = ['/bin/bash', '/opt/pgha/scripts/missing.sh'];
    const problems = crossObjectProblems(objects, keys);
    expect(problems.some((p) => p.includes('mounts nope'))).toBe(true);
    expect(problems.some((p) => p.includes('missing-config, which is not emitted'))).toBe(true);
    expect(problems.some((p) => p.includes('tls-key is not documented'))).toBe(true);
    expect(problems.some((p) => p.includes('runs missing.sh'))).toBe(true);
  });

  it('an ExternalSecret that leaves out a key the pods mount, and one whose Secret no pod mounts', () => {
    const objects = synthCluster({ credentials: { externalSecret: { storeName: 'vault', remoteKey: 'db/orders' } } }, { namespace: 'db' });
    expect(crossObjectProblems(objects, keys)).toEqual([]);
    const es = objects.find((o) => o.kind === 'ExternalSecret')!;
    es.spec.data = es.spec.data.filter((d: { secretKey: string }) => d.secretKey !== 'pgpool-key');
    const stray = { ...JSON.parse(JSON.stringify(es)), metadata: { ...es.metadata, name: 'stray' }, spec: { ...es.spec, target: { name: 'stray' } } };
    const problems = crossObjectProblems([...objects, stray], keys);
    expect(problems).toContain('Deployment/c-pgpool mounts key pgpool-key of c-credentials, which ExternalSecret/c-credentials does not write');
    expect(problems).toContain('ExternalSecret/stray writes Secret stray, which no workload mounts');
  });

  it('a config path outside the mounts and a socket directory on a read-only mount', () => {
    const objects = clone();
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'orders-node-config')!;
    cm.data['postgresql.conf'] = cm.data['postgresql.conf']
      .replace("hba_file = '/etc/pgha/config/pg_hba.conf'", "hba_file = '/etc/pgha/config/hba.conf'")
      .replace("unix_socket_directories = '/var/run/postgresql'", "unix_socket_directories = '/opt/pgha/scripts'");
    const problems = crossObjectProblems(objects, keys);
    expect(problems.some((p) => p.includes('hba.conf is not a key of orders-node-config'))).toBe(true);
    expect(problems.some((p) => p.includes('unix_socket_directories = /opt/pgha/scripts: must be writable'))).toBe(true);
  });

  it('a pod covered by two PodDisruptionBudgets (evictions would fail) and a Service selecting nothing', () => {
    const objects = clone();
    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget')!;
    objects.push({ ...JSON.parse(JSON.stringify(pdb)), metadata: { ...pdb.metadata, name: 'extra' } });
    objects.find((o) => o.kind === 'Service')!.spec.selector = { 'app.kubernetes.io/name': 'nothing' };
    const problems = crossObjectProblems(objects, keys);
    expect(problems.some((p) => p.includes('covered by 2 PodDisruptionBudgets'))).toBe(true);
    expect(problems.some((p) => p.includes('selects no workload'))).toBe(true);
  });

  it('a member PodDisruptionBudget reduced to its matchLabels (it then covers the cascade too, which is under 2 budgets)', () => {
    const objects = clone();
    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'orders-node')!;
    expect(pdb.spec.selector.matchExpressions).toBeDefined();
    delete pdb.spec.selector.matchExpressions;
    const problems = crossObjectProblems(objects, keys);
    expect(problems).toContain('PodDisruptionBudget/orders-node covers the voting pods and also StatefulSet/orders-replica');
    expect(problems).toContain('StatefulSet/orders-replica pods are covered by 2 PodDisruptionBudgets, expected exactly 1');
    // app.kubernetes.io/name still keeps Pgpool-II out.
    expect(problems.filter((p) => p.includes('orders-pgpool'))).toEqual([]);
  });

  it('a member PodDisruptionBudget that leaves out the witness, and a cascade budget on another selector', () => {
    const objects = JSON.parse(JSON.stringify(synthCluster({ members: { replicas: 2, witness: true }, cascades: [{ name: 'r' }] }, { namespace: 'db' }))) as K8sObject[];
    expect(crossObjectProblems(objects, keys)).toEqual([]);
    const memberPdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'c-node')!;
    memberPdb.spec.selector.matchExpressions[0].values = ['member'];
    const cascadePdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'c-r')!;
    cascadePdb.spec.selector = { matchLabels: { ...cascadePdb.spec.selector.matchLabels }, matchExpressions: [{ key: 'pgha.cdk8s.io/tier', operator: 'Exists' }] };
    const problems = crossObjectProblems(objects, keys);
    expect(problems).toContain('PodDisruptionBudget/c-node covers the voting pods but not StatefulSet/c-witness');
    expect(problems).toContain('StatefulSet/c-witness pods are covered by 0 PodDisruptionBudgets, expected exactly 1');
    expect(problems).toContain('PodDisruptionBudget/c-r selector is not the selector of StatefulSet/c-r');
  });

  it('a selector that does not match, a non-headless serviceName and OrderedReady', () => {
    const objects = clone();
    const s = sts(objects);
    s.spec.selector.matchLabels['app.kubernetes.io/component'] = 'other';
    s.spec.podManagementPolicy = 'OrderedReady';
    objects.find((o) => o.kind === 'Service' && o.metadata.name === s.spec.serviceName)!.spec.publishNotReadyAddresses = false;
    const problems = crossObjectProblems(objects, keys);
    expect(problems.some((p) => p.includes('selector does not match its pod template labels'))).toBe(true);
    expect(problems.some((p) => p.includes('podManagementPolicy is OrderedReady'))).toBe(true);
    expect(problems.some((p) => p.includes('does not publish not-ready addresses'))).toBe(true);
  });
});

describe('cross-object: GIVEN a label selector THEN selectorMatches evaluates it as the API server does', () => {
  const labels = { app: 'pg', component: 'witness', tier: 'c-witness' };

  it('matchLabels must all hold', () => {
    expect(selectorMatches({ matchLabels: { app: 'pg', component: 'witness' } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'pg', component: 'member' } }, labels)).toBe(false);
  });

  it('In, NotIn, Exists and DoesNotExist, combined with matchLabels', () => {
    const expr = (operator: string, values?: string[], key = 'component') => ({ matchLabels: { app: 'pg' }, matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });
    expect(selectorMatches(expr('In', ['member', 'witness']), labels)).toBe(true);
    expect(selectorMatches(expr('In', ['member']), labels)).toBe(false);
    expect(selectorMatches(expr('In', ['witness'], 'missing'), labels)).toBe(false);
    expect(selectorMatches(expr('NotIn', ['member']), labels)).toBe(true);
    expect(selectorMatches(expr('NotIn', ['witness']), labels)).toBe(false);
    expect(selectorMatches(expr('NotIn', ['witness'], 'missing'), labels)).toBe(true);
    expect(selectorMatches(expr('Exists', undefined, 'tier'), labels)).toBe(true);
    expect(selectorMatches(expr('Exists', undefined, 'missing'), labels)).toBe(false);
    expect(selectorMatches(expr('DoesNotExist', undefined, 'missing'), labels)).toBe(true);
    expect(selectorMatches(expr('DoesNotExist', undefined, 'tier'), labels)).toBe(false);
    // matchLabels still apply next to the expressions.
    expect(selectorMatches({ matchLabels: { app: 'other' }, matchExpressions: [{ key: 'component', operator: 'In', values: ['witness'] }] }, labels)).toBe(false);
  });

  it('an empty selector matches every pod; an unknown operator or a malformed requirement throws', () => {
    expect(selectorIsEmpty({})).toBe(true);
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorIsEmpty({ matchExpressions: [{ key: 'x', operator: 'Exists' }] })).toBe(false);
    expect(() => selectorMatches({ matchExpressions: [{ key: 'component', operator: 'Equals', values: ['witness'] }] }, labels)).toThrow(/unknown/);
    expect(() => selectorMatches({ matchExpressions: [{ key: 'component', operator: 'In', values: [] }] }, labels)).toThrow(/needs values/);
    expect(() => selectorMatches({ matchExpressions: [{ key: 'component', operator: 'Exists', values: ['x'] }] }, labels)).toThrow(/takes no values/);
  });
});
