import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRuntime, SUITES } from './index';
import { TEST_PGPOOL_IMAGE, TEST_POSTGRES_IMAGE, VERSION_SET, statefulSet } from './helpers';

/** A file the test puts into the host's /usr/local/bin: no pod may see it. */
const HOST_MARKER = `/usr/local/bin/podrt-host-marker-${process.pid}`;

const secure = {
  runAsUser: 999, runAsGroup: 999, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' }, privileged: false,
};

const objects = [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { 'app.conf': 'port=5432\n', 'run.sh': '#!/bin/sh\necho hi\n', greeting: 'hello' } },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, type: 'Opaque', data: { password: Buffer.from('s3cret').toString('base64') }, stringData: { key: 'k3y' } },
  {
    ...statefulSet('pg', {
      claims: ['data'],
      podSpec: { securityContext: { fsGroup: 999, runAsNonRoot: true }, tolerations: [{ key: 'dedicated', operator: 'Exists' }], topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'x', whenUnsatisfiable: 'DoNotSchedule' }] },
      containers: [{
        name: 'postgres', image: TEST_POSTGRES_IMAGE, command: ['sleep', 'infinity'], securityContext: secure,
        resources: { requests: { cpu: '100m' } },
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
          { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'greeting' } } },
          { name: 'MISSING', valueFrom: { configMapKeyRef: { name: 'nope', key: 'x', optional: true } } },
          { name: 'MISSING_KEY', valueFrom: { secretKeyRef: { name: 'creds', key: 'nokey', optional: true } } },
          { name: 'HOST', value: '$(POD_NAME).pg.$(POD_NAMESPACE)' },
          { name: 'LATER', value: '$(DEFINED_AFTER)-$$(POD_NAME)' },
          { name: 'DEFINED_AFTER', value: 'x' },
          { name: 'greeting', value: 'from env wins over envFrom' },
        ],
        envFrom: [{ configMapRef: { name: 'cfg' } }, { secretRef: { name: 'creds' }, prefix: 'S_' }, { configMapRef: { name: 'absent', optional: true } }],
        args: [],
        volumeMounts: [
          { name: 'data', mountPath: '/var/lib/postgresql/data' },
          { name: 'config', mountPath: '/etc/pgha/config' },
          { name: 'scripts', mountPath: '/opt/pgha/scripts' },
          { name: 'secrets', mountPath: '/etc/pgha/secrets' },
          { name: 'config', mountPath: '/etc/app.conf', subPath: 'app.conf' },
          { name: 'run', mountPath: '/var/run/postgresql' },
          { name: 'shm', mountPath: '/dev/shm' },
        ],
      }],
      volumes: [
        { name: 'config', configMap: { name: 'cfg', items: [{ key: 'app.conf', path: 'app.conf' }, { key: 'greeting', path: 'sub/greeting.txt', mode: 0o600 }] } },
        { name: 'scripts', configMap: { name: 'cfg', defaultMode: 0o555 } },
        { name: 'secrets', secret: { secretName: 'creds', defaultMode: 0o400 } },
        { name: 'run', emptyDir: {} },
        { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
      ],
    }),
  },
  {
    ...statefulSet('pool', {
      containers: [{ name: 'pgpool', image: TEST_PGPOOL_IMAGE, command: ['sleep', 'infinity'], securityContext: { runAsUser: 1001, runAsGroup: 1001, readOnlyRootFilesystem: true } }],
    }),
  },
  {
    ...statefulSet('rootful', {
      containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'exec sleep infinity'], args: ['$(X)'], env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'absent', key: 'k' } } }] }],
    }),
  },
  {
    ...statefulSet('plain', {
      containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'echo "$0 $1"; exec sleep infinity', '$(A)', '$(UNDEFINED)'], env: [{ name: 'A', value: 'alpha' }] }],
    }),
  },
  {
    ...statefulSet('unknown', {
      containers: [{ name: 'main', image: 'registry.example.com/team/tool:1', command: ['sleep', 'infinity'] }],
    }),
  },
];

describe('users, files and isolation for real', () => {
  let rt: PodRuntime;
  let warnings: { object: string; message: string }[];
  beforeAll(async () => {
    writeFileSync(HOST_MARKER, '#!/bin/sh\necho host\n', { mode: 0o755 });
    rt = await PodRuntime.start({ instance: 'rt-sec', backoffBaseSeconds: 1 });
    warnings = (await rt.apply(objects as any)).warnings;
    await rt.waitReady('pg-0', { timeoutMs: 60000 });
    await rt.waitReady('pool-0', { timeoutMs: 60000 });
    await rt.waitReady('plain-0', { timeoutMs: 60000 });

  });
  afterAll(async () => {
    rmSync(HOST_MARKER, { force: true });
    expect(await rt?.down()).toEqual([]);
  });

  const sh = async (pod: string, script: string) => rt.exec(pod, undefined, ['sh', '-c', script]);

  it('GIVEN fields the runtime does not act on THEN apply reports each of them by name', () => {
    const msgs = warnings.map((w) => `${w.object}: ${w.message}`);
    expect(msgs).toContain('StatefulSet/pg: field spec.template.spec.tolerations is not implemented (ignored)');
    expect(msgs).toContain('StatefulSet/pg: field spec.template.spec.topologySpreadConstraints is not implemented (ignored)');
    expect(msgs).toContain('StatefulSet/pg: field spec.template.spec.containers[].resources is not implemented (ignored)');
    expect(msgs.some((m) => /seccomp/.test(m))).toBe(false); // RuntimeDefault is accepted
    expect(msgs.some((m) => /privileged/.test(m))).toBe(false); // privileged: false is what the runtime does
    expect(msgs).toContain('StatefulSet/unknown: container main: image registry.example.com/team/tool:1: no recipe builds it (the runtime builds postgres, pgpool and test-tools images from images/*/recipe.sh, and pulls nothing); its pods wait in ErrImagePull');
    expect(msgs.filter((m) => /ErrImagePull/.test(m))).toHaveLength(1);
  });

  it('GIVEN an image no recipe builds THEN its pod waits in ErrImagePull / ImagePullBackOff naming the image, and never starts on the host\'s binaries', async () => {
    const p = await rt.waitFor(async () => { const x = await rt.pod('unknown-0'); return x.containers[0].reason === 'ImagePullBackOff' ? x : undefined; }, { timeoutMs: 20000, what: 'ImagePullBackOff' });
    expect(p.ready).toBe(false);
    expect(p.containers[0].state).toBe('waiting');
    expect(p.containers[0].message).toMatch(/image registry\.example\.com\/team\/tool:1: no recipe builds it/);
    expect(p.events.join('\n')).toMatch(/Failed to pull image "registry\.example\.com\/team\/tool:1"/);
  });

  it('GIVEN a file in the host\'s /usr/local/bin THEN no pod sees it: every container runs in its image\'s root filesystem', async () => {
    expect(existsSync(HOST_MARKER)).toBe(true);
    for (const pod of ['pg-0', 'pool-0', 'plain-0']) {
      expect((await sh(pod, `test -e ${HOST_MARKER} && echo visible || echo absent`)).stdout, pod).toBe('absent\n');
    }
  });

  it('GIVEN runAsUser 999 THEN the process runs as the real uid 999 on the host, named postgres in the container, with fsGroup as supplementary group', async () => {
    const r = await sh('pg-0', 'id; cat /proc/self/uid_map');
    expect(r.stdout).toContain('uid=999(postgres) gid=999(postgres) groups=999(postgres)');
    expect(r.stdout).toMatch(/^\s*0\s+0\s+4294967295/m); // no user namespace
    const pid = (await rt.pod('pg-0')).containers[0].pid;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+999\s+999\s+999\s+999$/m);
    expect(status).toMatch(/^Gid:\s+999\s+999\s+999\s+999$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^CapBnd:\s+0+$/m);
    expect((await sh('pg-0', 'echo $$')).stdout).not.toBe('1\n'); // exec'd processes are not PID 1
    expect((await sh('pg-0', 'cat /proc/1/cmdline | tr "\\0" " "')).stdout).toBe('sleep infinity ');
  });

  it('GIVEN readOnlyRootFilesystem THEN the container cannot write outside its volumes nor read root-only files', async () => {
    for (const p of ['/x', '/etc/x', '/usr/bin/x', '/tmp/x', '/var/lib/postgresql/x']) {
      const r = await sh('pg-0', `touch ${p}`);
      expect(r.code, p).not.toBe(0);
      expect(r.stderr, p).toMatch(/Read-only file system|Permission denied/);
    }
    const shadow = await sh('pg-0', 'ls -l /etc/shadow; cat /etc/shadow');
    expect(shadow.stdout).toMatch(/^-rw-r----- 1 root shadow/);
    expect(shadow.stderr).toMatch(/Permission denied/);
    expect(shadow.code).not.toBe(0);
    const w = await sh('pg-0', 'touch /var/lib/postgresql/data/ok /var/run/postgresql/ok /dev/shm/ok && echo written');
    expect(w.stdout).toBe('written\n');
    // host root-only files are not reachable at all
    expect((await sh('pg-0', 'cat /root/.bashrc /proc/1/root/etc/shadow 2>&1; true')).stdout).toMatch(/No such file|Permission denied/);
  });

  it('GIVEN the postgres image of the version set THEN its own PostgreSQL major runs, its bin dir first on PATH, PGDATA set', async () => {
    const major = SUITES[VERSION_SET].postgresMajor;
    const r = await sh('pg-0', 'echo $PATH; echo $PGDATA; for c in postgres initdb pg_ctl psql repmgr; do command -v $c; done; postgres --version');
    expect(r.stdout.split('\n')[0].split(':')[0]).toBe(`/usr/lib/postgresql/${major}/bin`);
    expect(r.stdout).toContain('/var/lib/postgresql/data/pgdata\n');
    expect(r.stdout).toContain(`/usr/lib/postgresql/${major}/bin/postgres\n`);
    expect(r.stdout).toMatch(new RegExp(`postgres \\(PostgreSQL\\) ${major}\\.`));
  });

  it('GIVEN the pgpool image of the version set THEN user pgpool (1001), its Pgpool-II series, pcp tools and psql are there', async () => {
    const r = await sh('pool-0', 'id; for c in pgpool pcp_attach_node psql; do command -v $c; done; pgpool --version 2>&1');
    expect(r.stdout).toContain('uid=1001(pgpool) gid=1001(pgpool)');
    expect(r.stdout).toContain('/usr/sbin/pgpool\n');
    expect(r.stdout).toContain('/usr/sbin/pcp_attach_node\n');
    expect(r.stdout).toContain('/usr/local/bin/psql\n');
    expect(r.stdout).toMatch(new RegExp(`pgpool-II version ${SUITES[VERSION_SET].pgpoolSeries.replace('.', '\\.')}\\.`));
  });

  it('GIVEN secret and configMap volumes THEN files have the kubelet modes and owners (root, group fsGroup for the read-only volume)', async () => {
    const r = await sh('pg-0', [
      'stat -L -c "%n %a %U %G" /etc/pgha/secrets/password /etc/pgha/secrets/key /opt/pgha/scripts/run.sh /etc/pgha/config/app.conf /etc/pgha/config/sub/greeting.txt',
      'cat /etc/pgha/secrets/password; echo; cat /etc/pgha/secrets/key; echo',
      'readlink /etc/pgha/secrets/password',
      'ls /etc/pgha/config',
      'cat /etc/app.conf',
      'touch /etc/pgha/secrets/new 2>&1 | grep -c "Read-only"',
    ].join('; '));
    expect(r.stdout.split('\n')).toEqual([
      '/etc/pgha/secrets/password 440 root postgres',
      '/etc/pgha/secrets/key 440 root postgres',
      '/opt/pgha/scripts/run.sh 555 root postgres',
      '/etc/pgha/config/app.conf 644 root postgres',
      '/etc/pgha/config/sub/greeting.txt 640 root postgres',
      's3cret', 'k3y',
      '..data/password',
      'app.conf', 'sub',
      'port=5432',
      '1', '',
    ]);
  });

  it('GIVEN fsGroup THEN emptyDirs and claims belong to group fsGroup with setgid, and medium Memory is a tmpfs of sizeLimit', async () => {
    const r = await sh('pg-0', 'stat -c "%a %G" /var/run/postgresql /var/lib/postgresql/data; df -k /dev/shm | tail -1');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('2777 postgres');
    expect(lines[1]).toMatch(/^27[57]5 postgres$/);
    expect(lines[2]).toMatch(/^podrt-shm\s+65536\s/);
  });

  it('GIVEN env from fieldRef, configMapKeyRef, secretKeyRef and $(VAR) THEN values are resolved as Kubernetes does', async () => {
    const pod = await rt.pod('pg-0');
    const r = await rt.exec('pg-0', 'postgres', ['env']);
    const env = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(env.POD_NAME).toBe('pg-0');
    expect(env.POD_NAMESPACE).toBe('default');
    expect(env.POD_IP).toBe(pod.ip);
    expect(env.PASSWORD).toBe('s3cret');
    expect(env.GREETING).toBe('hello');
    expect('MISSING' in env).toBe(false);
    expect('MISSING_KEY' in env).toBe(false);
    expect(env.HOST).toBe('pg-0.pg.default');
    expect(env.LATER).toBe('$(DEFINED_AFTER)-$(POD_NAME)'); // only earlier variables expand; $$ escapes
    expect(env.HOSTNAME).toBe('pg-0');
    // envFrom: valid keys only ("app.conf" and "run.sh" are skipped), secrets decoded, prefix, env wins
    expect(env.greeting).toBe('from env wins over envFrom');
    expect(env.S_password).toBe('s3cret');
    expect(env.S_key).toBe('k3y');
    expect(await rt.logs('plain-0')).toBe('alpha $(UNDEFINED)\n');
  });

  it('GIVEN fsGroup on a claim THEN each pod start applies it recursively like the kubelet (0700 -> 2770), unless fsGroupChangePolicy OnRootMismatch finds the root already right', async () => {
    const mk = (name: string, policy?: string) => statefulSet(name, {
      claims: ['data'], podSpec: { securityContext: { fsGroup: 999, runAsUser: 999, runAsGroup: 999, fsGroupChangePolicy: policy } },
      containers: [{ name: 'main', image: TEST_POSTGRES_IMAGE, command: ['sleep', 'infinity'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
    });
    await rt.apply([mk('always'), mk('onroot', 'OnRootMismatch')]);
    for (const n of ['always', 'onroot']) {
      await rt.waitReady(`${n}-0`, { timeoutMs: 30000 });
      await rt.exec(`${n}-0`, 'main', ['sh', '-c', 'mkdir /data/pgdata && chmod 0700 /data/pgdata']);
      await rt.deletePod(`${n}-0`, { graceSeconds: 0 });
      await rt.waitFor(async () => (await rt.pod(`${n}-0`).catch(() => undefined))?.ready, { timeoutMs: 30000, what: `${n}-0 back` });
    }
    expect((await rt.exec('always-0', 'main', ['stat', '-c', '%a %G', '/data/pgdata'])).stdout).toBe('2770 postgres\n');
    // (GNU chmod keeps a directory's setgid bit, so the directory is 2700 rather than 700)
    expect((await rt.exec('onroot-0', 'main', ['stat', '-c', '%a %G', '/data/pgdata'])).stdout).toBe('2700 postgres\n');
  });

  it('GIVEN a ConfigMap volume whose ConfigMap does not exist yet THEN the pod waits in ContainerCreating (FailedMount) and starts once it is applied', async () => {
    await rt.apply(statefulSet('late', {
      containers: [{ name: 'main', image: 'busybox', command: ['sleep', 'infinity'], volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] }],
      volumes: [{ name: 'cfg', configMap: { name: 'late-cfg' } }],
    }));
    const p = await rt.waitFor(async () => { const x = await rt.pod('late-0').catch(() => undefined); return x?.events.some((e: string) => /FailedMount: configmap "late-cfg" not found/.test(e)) ? x : undefined; }, { timeoutMs: 20000, what: 'FailedMount' });
    expect(p.phase).toBe('Pending');
    expect(p.containers[0].reason).toBe('ContainerCreating');
    await rt.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late-cfg' }, data: { a: '1' } });
    await rt.waitReady('late-0', { timeoutMs: 20000 });
    expect((await rt.exec('late-0', 'main', ['cat', '/cfg/a'])).stdout).toBe('1');
    // and a ConfigMap update reaches the mounted volume (not subPath mounts)
    await rt.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late-cfg' }, data: { a: '2', b: 'x' } });
    expect((await rt.exec('late-0', 'main', ['sh', '-c', 'cat /cfg/a; cat /cfg/b'])).stdout).toBe('2x');
  });

  it('GIVEN an object in a namespace that does not exist THEN apply fails for it, as the API server would', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'missing' }, data: {} };
    await expect(rt.apply(cm)).rejects.toThrow(/ConfigMap\/x: namespaces "missing" not found/);
    const r = await rt.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'missing' } }, cm]);
    expect(r.errors).toEqual([]);
    expect(r.applied).toContain('configmap/x (missing) created');
  });

  it('GIVEN a required secret key that does not exist THEN the container does not start (CreateContainerConfigError)', async () => {
    const p = await rt.waitFor(async () => { const x = await rt.pod('rootful-0'); return x.containers[0].reason === 'CreateContainerConfigError' ? x : undefined; }, { timeoutMs: 20000, what: 'config error' });
    expect(p.ready).toBe(false);
    expect(p.events.join('\n')).toMatch(/secret "absent" not found/);
  });
});
