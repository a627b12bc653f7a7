/**
 * pg_hba.conf: password (SCRAM) authentication over TCP from address ranges only. Host names
 * in pg_hba need reverse DNS to match, which pods do not have, so peers are matched by range.
 */
import type { ResolvedCluster } from '../model/resolved';

export function renderPgHbaConf(cluster: ResolvedCluster): string {
  const { repmgrUser, repmgrDatabase, superuser, appDatabase } = cluster.users;
  const lines = [
    `# pg_hba.conf for cluster "${cluster.name}". Rendered by cdk8s-pg-ha.`,
    '# TYPE  DATABASE        USER            ADDRESS                 METHOD',
    '# The entrypoint and probes run as the image\'s postgres user on the local socket.',
    `local   all             ${superuser.padEnd(15)} peer`,
    // The repmgr role is a superuser for repmgr's own work; it has no business in the
    // application's data, so a leaked repmgr password does not open it.
    `local   ${appDatabase.padEnd(15)} ${repmgrUser.padEnd(15)} reject`,
    'local   all             all                                     scram-sha-256',
    `local   replication     ${repmgrUser.padEnd(15)} scram-sha-256`,
  ];
  // With TLS every network line is hostssl, and a plaintext connection meets an explicit reject
  // (a clear "no encryption" in the client's error) before it can try a password.
  const host = cluster.tls.mode === 'required' ? 'hostssl' : 'host   ';
  for (const cidr of cluster.postgres.allowedCidrs) {
    if (cluster.tls.mode === 'required') {
      lines.push(`hostnossl all           all             ${cidr.padEnd(23)} reject`);
    }
    lines.push(
      `${host} replication     ${repmgrUser.padEnd(15)} ${cidr.padEnd(23)} scram-sha-256`,
      `${host} ${repmgrDatabase.padEnd(15)} ${repmgrUser.padEnd(15)} ${cidr.padEnd(23)} scram-sha-256`,
      // Only the repmgr role may open the repmgr database: it holds cluster metadata.
      `${host} ${repmgrDatabase.padEnd(15)} all             ${cidr.padEnd(23)} reject`,
      `${host} ${appDatabase.padEnd(15)} ${repmgrUser.padEnd(15)} ${cidr.padEnd(23)} reject`,
      `${host} all             all             ${cidr.padEnd(23)} scram-sha-256`,
    );
  }
  return `${lines.join('\n')}\n`;
}
