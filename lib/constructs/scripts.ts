/**
 * The entrypoint and probe scripts shipped in lib/scripts/. They are resolved relative to this
 * module (not the cwd), so they load the same from this repository and from the npm package.
 */
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';

export const SCRIPTS_DIR = join(__dirname, '..', 'scripts');

/** Scripts mounted into every PostgreSQL pod (C-node-scripts). */
export const NODE_SCRIPT_FILES = [
  'lib-base.sh',
  'lib-session.sh',
  'lib-tls.sh',
  'node-decide.sh',
  'node-decide-supervise.sh',
  'node-entrypoint.sh',
  'node-env.sh',
  'node-files.sh',
  'node-follow.sh',
  'node-handoff.sh',
  'node-instance.sh',
  'node-join.sh',
  'node-peers.sh',
  'node-promote.sh',
  'node-role.sh',
  'node-supervise.sh',
  'status-server.pl',
] as const;
/** Scripts mounted into every Pgpool-II pod (C-pgpool-scripts). */
export const PGPOOL_SCRIPT_FILES = [
  'lib-base.sh',
  'lib-session.sh',
  'lib-tls.sh',
  'pgpool-check-watch.sh',
  'pgpool-decide.sh',
  'pgpool-entrypoint.sh',
  'pgpool-failover.sh',
  'pgpool-stop.sh',
  'status-server.pl',
] as const;

/** Reads the named scripts into ConfigMap data (file name -> content). */
export function loadScripts(files: readonly string[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (const file of files) {
    const path = join(SCRIPTS_DIR, file);
    if (!existsSync(path)) {
      throw new Error(`cdk8s-pg-ha: script ${path} is missing from the package; reinstall it`);
    }
    data[file] = readFileSync(path, 'utf8');
  }
  return data;
}
