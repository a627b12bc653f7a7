/**
 * podrt: command line of the local pod runtime.  npx tsx podrt/cli.ts <verb> ...
 * (wired as `npm run podrt -- <verb>`). Run `podrt help` for the verbs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { PodRuntime, loadManifests } from './client';
import { cleanupInstance, leftovers, listInstances } from './cleanup';
import { ensureImage } from './image-build';
import { resolveImage } from './image-catalog';
import { assertRoot, sleep, stateDir } from './util';

const HELP = `podrt - run synthesized Kubernetes manifests as real processes on this host (needs root)

usage: podrt [--instance NAME] [-n NAMESPACE] <verb> ...
  up [--backoff-base S]            start the runtime daemon (clears leftovers of an earlier run)
  apply -f FILE|DIR [-f ...]       apply manifests (starts the daemon if needed); prints warnings
  delete KIND NAME [--grace S]     delete an object (pod: graceful, with preStop; pvc: claim)
  delete -f FILE|DIR               delete the objects of manifests
  get KIND [-A] [-o json|wide]     pods|svc|sts|deploy|pvc|cm|secret|pdb|ns|events
  wait POD | -l SELECTOR [--count N] [--timeout S]    wait until Ready
  logs POD [-c C] [-p] [-f]        container log (-p previous instance, -f follow)
  exec POD [-c C] -- CMD ...       run a command in a container
  port-forward svc/NAME|pod/NAME LOCAL:REMOTE   forward 127.0.0.1:LOCAL (0 = any)
  scale KIND NAME --replicas N     scale a StatefulSet or Deployment
  rollout restart KIND NAME        rolling restart (template annotation, like kubectl)
  hosts POD                        the hosts file (DNS view) of a pod
  describe POD | describe KIND NAME   full status (containers, restarts, probe failures) as JSON
  events                           the runtime's event log
  build-image REF ...              build (or find in the cache) the root filesystem of each image
 faults:
  crash POD [-c C]                 SIGKILL a container; restarted in place
  kill POD                         SIGKILL the whole pod and delete it; the controller replaces it
  evict POD [--grace S]            voluntary eviction, refused when it would break a PDB
  partition POD | heal [POD]       drop every packet of a pod silently / heal one or all
  cut FROM TO | uncut FROM TO      drop packets from FROM to TO (one way)
  freeze POD | thaw POD            stop / resume every process of a pod (cgroup freezer)
  down [--all]                     stop everything and remove every trace
env: PODRT_INSTANCE (default "default")`;

function fail(msg: string): never {
  process.stderr.write(`podrt: ${msg}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dd = argv.indexOf('--');
  const rest = dd >= 0 ? argv.slice(dd + 1) : [];
  const args = dd >= 0 ? argv.slice(0, dd) : argv;
  const flags: Record<string, string[]> = {};
  const pos: string[] = [];
  const boolFlags = new Set(['-f:follow', '-A', '-p', '--all', '-h', '--help', '--no-pvc-fsgroup']);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('-') && a.length > 1) {
      const key = a;
      if (boolFlags.has(a) || (a === '-f' && pos[0] === 'logs')) { (flags[key] ??= []).push('true'); continue; }
      if (a.includes('=')) { const [k, v] = a.split('=', 2); (flags[k] ??= []).push(v); continue; }
      (flags[key] ??= []).push(args[++i]);
    } else pos.push(a);
  }
  const verb = pos[0];
  if (!verb || verb === 'help' || flags['-h'] || flags['--help']) { process.stdout.write(HELP + '\n'); return; }
  try { assertRoot(); } catch (e) { fail((e as Error).message); }
  const instance = (flags['--instance'] ?? flags['-i'])?.[0] ?? process.env.PODRT_INSTANCE ?? 'default';
  const namespace = (flags['-n'] ?? flags['--namespace'])?.[0] ?? 'default';

  const connect = () => PodRuntime.connect({ instance, namespace });
  const startIfNeeded = async () => {
    if (await PodRuntime.running(instance)) return connect();
    const rt = await PodRuntime.start({
      instance, namespace, ownerPid: false,
      backoffBaseSeconds: flags['--backoff-base'] ? Number(flags['--backoff-base'][0]) : undefined,
      pvcFsGroup: flags['--no-pvc-fsgroup'] ? false : undefined,
    });
    process.stderr.write(`podrt: started instance ${instance} (state ${stateDir(instance)})\n`);
    return rt;
  };
  const out = (s: unknown) => process.stdout.write((typeof s === 'string' ? s : JSON.stringify(s, null, 2)) + '\n');

  switch (verb) {
    case 'up': { const rt = await startIfNeeded(); rt.close(); out(`instance ${instance} running`); return; }
    case 'down': {
      const names = flags['--all'] ? listInstances() : [instance];
      for (const n of names) {
        if (await PodRuntime.running(n)) { const rt = await PodRuntime.connect({ instance: n }); await rt.down(); }
        const removed = await cleanupInstance(n);
        const left = leftovers(n);
        out(`instance ${n} down${removed.length ? ` (removed leftovers: ${removed.join(', ')})` : ''}${left.length ? `; STILL LEFT: ${left.join(', ')}` : ''}`);
      }
      return;
    }
    case 'apply': {
      const files = flags['-f'] ?? fail('apply needs -f FILE|DIR');
      const objects = files.flatMap((f) => loadManifests(f));
      const rt = await startIfNeeded();
      const r = await rt.apply(objects, { allowErrors: true });
      for (const a of r.applied) out(a);
      for (const w of r.warnings) process.stderr.write(`Warning: ${w.object}: ${w.message}\n`);
      for (const e of r.errors) process.stderr.write(`Error from server (NotFound): ${e}\n`);
      rt.close();
      if (r.errors.length) process.exit(1);
      return;
    }
    case 'delete': {
      const rt = await connect();
      const grace = flags['--grace'] ? Number(flags['--grace'][0]) : undefined;
      if (flags['-f']) {
        for (const o of flags['-f'].flatMap((f) => loadManifests(f)).reverse()) {
          try { out(await rt.delete(o.kind, o.metadata.name, { namespace: o.metadata.namespace ?? namespace, graceSeconds: grace })); } catch (e) { process.stderr.write(`${(e as Error).message}\n`); }
        }
      } else {
        const [kind, name] = pos[1]?.includes('/') ? pos[1].split('/') : [pos[1], pos[2]];
        if (!kind || !name) fail('delete KIND NAME');
        if (/^(po|pod|pods)$/.test(kind)) out(await rt.deletePod(name, { graceSeconds: grace }));
        else if (/^(pvc|persistentvolumeclaims?)$/.test(kind)) out(await rt.deleteClaim(name));
        else out(await rt.delete(kind, name, { graceSeconds: grace }));
      }
      rt.close();
      return;
    }
    case 'get': {
      const rt = await connect();
      const kind = pos[1] ?? fail('get KIND');
      const items = await rt.get(kind, { allNamespaces: !!flags['-A'] });
      const fmt = flags['-o']?.[0];
      if (fmt === 'json') out(items);
      else out(table(kind, items, fmt === 'wide'));
      rt.close();
      return;
    }
    case 'wait': {
      const rt = await connect();
      const target = flags['-l']?.[0] ?? pos[1] ?? fail('wait POD | -l SELECTOR');
      const ps = await rt.waitReady(target, { count: flags['--count'] ? Number(flags['--count'][0]) : undefined, timeoutMs: (flags['--timeout'] ? Number(flags['--timeout'][0]) : 300) * 1000 });
      out(ps.map((p) => `pod/${p.name} condition met`).join('\n'));
      rt.close();
      return;
    }
    case 'logs': {
      const rt = await connect();
      const pod = pos[1] ?? fail('logs POD');
      const file = await rt.logFile(pod, { container: flags['-c']?.[0], previous: !!flags['-p'] });
      rt.close();
      if (!flags['-f']) { try { process.stdout.write(fs.readFileSync(file)); } catch { fail(`no log at ${file}`); } return; }
      let pos0 = 0;
      for (;;) {
        try {
          const st = fs.statSync(file);
          if (st.size < pos0) pos0 = 0;
          if (st.size > pos0) {
            const fd = fs.openSync(file, 'r');
            const buf = Buffer.alloc(st.size - pos0);
            fs.readSync(fd, buf, 0, buf.length, pos0);
            fs.closeSync(fd);
            process.stdout.write(buf);
            pos0 = st.size;
          }
        } catch { return; }
        await sleep(300);
      }
    }
    case 'exec': {
      const rt = await connect();
      const pod = pos[1] ?? fail('exec POD -- CMD');
      if (!rest.length) fail('exec POD [-c C] -- CMD ...');
      const a = await rt.execArgv(pod, flags['-c']?.[0], rest);
      rt.close();
      const p = spawn(a[0], a.slice(1), { stdio: 'inherit', env: {} });
      p.on('exit', (code, sig) => process.exit(code ?? (sig ? 137 : 1)));
      return;
    }
    case 'port-forward': {
      const rt = await connect();
      const target = pos[1] ?? fail('port-forward svc/NAME|pod/NAME LOCAL:REMOTE');
      const spec = pos[2] ?? fail('port-forward needs LOCAL:REMOTE');
      const [l, r] = spec.includes(':') ? spec.split(':') : [spec, spec];
      const pf = await rt.portForward(target, /^\d+$/.test(r) ? Number(r) : r, { localPort: Number(l || 0) });
      out(`Forwarding from ${pf.host}:${pf.port} -> ${target}:${r}`);
      const stop = async () => { await pf.close(); rt.close(); process.exit(0); };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
      await new Promise(() => { /* until interrupted */ });
      return;
    }
    case 'describe': {
      const rt = await connect();
      const [kind, name] = pos[1]?.includes('/') ? pos[1].split('/') : pos[2] ? [pos[1], pos[2]] : ['pod', pos[1]];
      if (!name) fail('describe POD | describe KIND NAME');
      if (/^(po|pod|pods)$/.test(kind)) out(await rt.pod(name));
      else out((await rt.get(kind)).find((o) => o.name === name) ?? fail(`${kind} ${name} not found`));
      rt.close();
      return;
    }
    case 'scale': {
      const rt = await connect();
      const [kind, name] = pos[1]?.includes('/') ? pos[1].split('/') : [pos[1], pos[2]];
      const n = flags['--replicas']?.[0] ?? fail('scale KIND NAME --replicas N');
      out(await rt.scale(kind, name, Number(n)));
      rt.close();
      return;
    }
    case 'rollout': {
      const rt = await connect();
      if (pos[1] !== 'restart') fail('rollout restart KIND NAME');
      const [kind, name] = pos[2]?.includes('/') ? pos[2].split('/') : [pos[2], pos[3]];
      out(await rt.rolloutRestart(kind, name));
      rt.close();
      return;
    }
    case 'build-image': {
      assertRoot();
      for (const ref of pos.slice(1)) {
        const resolved = resolveImage(ref);
        if ('reason' in resolved) fail(resolved.reason);
        const img = await ensureImage(resolved.source, (msg) => out(`${ref}: ${msg}`)).catch((e: Error) => fail(e.message));
        out(`${ref}: ${img.source.recipe} on Debian ${img.source.suite}, ${img.packages.join(', ')}; built in ${img.buildSeconds} s; ${img.rootfs}`);
      }
      return;
    }
    case 'hosts': { const rt = await connect(); out(await rt.hosts(pos[1] ?? fail('hosts POD'))); rt.close(); return; }
    case 'events': { const rt = await connect(); out((await rt.get('events')).map((e) => e.event).join('\n')); rt.close(); return; }
    case 'crash': { const rt = await connect(); out(await rt.crash(pos[1] ?? fail('crash POD'), flags['-c']?.[0])); rt.close(); return; }
    case 'kill': { const rt = await connect(); out(await rt.killPod(pos[1] ?? fail('kill POD'))); rt.close(); return; }
    case 'evict': { const rt = await connect(); out(await rt.evict(pos[1] ?? fail('evict POD'), { graceSeconds: flags['--grace'] ? Number(flags['--grace'][0]) : undefined })); rt.close(); return; }
    case 'partition': { const rt = await connect(); out(await rt.partition(pos[1] ?? fail('partition POD'))); rt.close(); return; }
    case 'heal': { const rt = await connect(); out(await rt.heal(pos[1])); rt.close(); return; }
    case 'cut': { const rt = await connect(); out(await rt.cut(pos[1] ?? fail('cut FROM TO'), pos[2] ?? fail('cut FROM TO'))); rt.close(); return; }
    case 'uncut': { const rt = await connect(); out(await rt.uncut(pos[1] ?? fail('uncut FROM TO'), pos[2] ?? fail('uncut FROM TO'))); rt.close(); return; }
    case 'freeze': { const rt = await connect(); out(await rt.freeze(pos[1] ?? fail('freeze POD'))); rt.close(); return; }
    case 'thaw': { const rt = await connect(); out(await rt.thaw(pos[1] ?? fail('thaw POD'))); rt.close(); return; }
    default: fail(`unknown verb ${verb}; see podrt help`);
  }
}

function age(ms: number): string {
  const s = Math.floor((Date.now() - ms) / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

function table(kind: string, items: any[], wide: boolean): string {
  const rows: string[][] = [];
  const k = kind.toLowerCase();
  if (/^(po|pod|pods)$/.test(k)) {
    rows.push(['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', ...(wide ? ['NETNS', 'FAULTS'] : [])]);
    for (const p of items) {
      const status = p.deleting ? 'Terminating' : !p.containers.every((c: any) => c.state === 'running') ? (p.containers.find((c: any) => c.state !== 'running')?.reason || p.phase) : p.phase;
      const faults = [p.partitioned && 'partitioned', p.frozen && 'frozen', p.cutsFrom.length && `cut-from:${p.cutsFrom.join(',')}`].filter(Boolean).join(' ');
      rows.push([p.namespace, p.name, `${p.containers.filter((c: any) => c.ready).length}/${p.containers.length}`, status, String(p.restarts), age(p.createdAt), p.ip ?? '<none>', ...(wide ? [p.netns ?? '', faults || '-'] : [])]);
    }
  } else if (/^(svc|service|services)$/.test(k)) {
    rows.push(['NAMESPACE', 'NAME', 'CLUSTER-IP', 'PORTS', 'ENDPOINTS']);
    for (const s of items) rows.push([s.namespace, s.name, s.clusterIP, s.ports.map((p: any) => `${p.port}/${p.protocol ?? 'TCP'}`).join(','), s.endpoints.map((e: any) => e.ip).join(',') || '<none>']);
  } else if (/^(pvc|persistentvolumeclaims?)$/.test(k)) {
    rows.push(['NAMESPACE', 'NAME', 'STATUS', 'IN-USE', 'PATH']);
    for (const c of items) rows.push([c.namespace, c.name, c.deleting ? 'Terminating' : 'Bound', String(c.inUse), c.dir]);
  } else if (/^(sts|statefulsets?|deploy|deployments?)$/.test(k)) {
    rows.push(['NAMESPACE', 'NAME', 'READY', 'UP-TO-DATE']);
    for (const s of items) rows.push([s.namespace, s.name, `${s.ready}/${s.replicas}`, String(s.updated)]);
  } else if (/^(ev|events?)$/.test(k)) {
    return items.map((e) => e.event).join('\n');
  } else {
    rows.push(['NAMESPACE', 'NAME']);
    for (const o of items) rows.push([o.namespace ?? '', o.name]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (c ?? '').padEnd(w[i])).join('  ').trimEnd()).join('\n');
}


main().catch((e) => fail((e as Error).message));
