/**
 * pool_hba.conf: clients authenticate to Pgpool-II with SCRAM; Pgpool-II then logs in to the
 * backends with the password from its encrypted pool_passwd. The local socket is only reachable
 * inside the pod (probes), where the monitor user logs in without a password.
 */
import type { ResolvedCluster } from '../model/resolved';

export function renderPoolHbaConf(cluster: ResolvedCluster): string {
  const lines = [
    `# pool_hba.conf for cluster "${cluster.name}". Rendered by cdk8s-pg-ha.`,
    '# TYPE  DATABASE        USER            ADDRESS                 METHOD',
    `local   all             ${cluster.users.monitorUser.padEnd(15)} trust`,
  ];
  // With TLS every network line is hostssl, and plaintext meets an explicit reject first.
  const host = cluster.tls.mode === 'required' ? 'hostssl' : 'host   ';
  for (const cidr of cluster.postgres.allowedCidrs) {
    if (cluster.tls.mode === 'required') {
      lines.push(`hostnossl all           all             ${cidr.padEnd(23)} reject`);
    }
    lines.push(
      // The repmgr metadata database is not for applications, even with a valid password.
      `${host} ${cluster.users.repmgrDatabase.padEnd(15)} all             ${cidr.padEnd(23)} reject`,
      // Nor is the application database for the repmgr role (it is not in pool_passwd either).
      `${host} ${cluster.users.appDatabase.padEnd(15)} ${cluster.users.repmgrUser.padEnd(15)} ${cidr.padEnd(23)} reject`,
      `${host} all             all             ${cidr.padEnd(23)} scram-sha-256`,
    );
  }
  return `${lines.join('\n')}\n`;
}
