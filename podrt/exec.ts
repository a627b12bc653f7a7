/** Running a command inside a running container (exec, exec probes, lifecycle hooks). */
import { spawn } from 'node:child_process';
import { Container, Pod } from './pod';

export interface ExecOutcome { code: number; stdout: string; stderr: string; timedOut: boolean }

/** argv that runs a command inside a running container: its namespaces, root, uid, env. */
export function execArgv(pod: Pod, c: Container, cmd: string[]): string[] {
  if (!c.pid1) throw new Error(`container ${c.name} of pod ${pod.key} is not running`);
  const envArgs = Object.entries(c.env).map(([k, v]) => `${k}=${v}`);
  return ['/usr/bin/nsenter', '-t', String(c.pid1), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--',
    '/usr/bin/env', '-i', '-C', c.workingDir, ...envArgs, '/usr/bin/setpriv', ...c.privArgs, '--', ...cmd];
}

export function execIn(pod: Pod, c: Container, cmd: string[], timeoutMs: number): Promise<ExecOutcome> {
  return new Promise((resolve) => {
    let argv: string[];
    try { argv = execArgv(pod, c, cmd); } catch (e) { resolve({ code: 126, stdout: '', stderr: (e as Error).message, timedOut: false }); return; }
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {} });
    let out = ''; let err = ''; let timedOut = false;
    p.stdout!.on('data', (d) => { if (out.length < 1e6) out += d; });
    p.stderr!.on('data', (d) => { if (err.length < 1e6) err += d; });
    const t = setTimeout(() => {
      timedOut = true;
      try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
      resolve({ code: 124, stdout: out, stderr: err, timedOut });
    }, timeoutMs);
    p.once('close', (code, sig) => { clearTimeout(t); if (!timedOut) resolve({ code: code ?? (sig === 'SIGKILL' ? 137 : 1), stdout: out, stderr: err, timedOut }); });
    p.once('error', (e) => { clearTimeout(t); resolve({ code: 127, stdout: out, stderr: String(e), timedOut }); });
  });
}
