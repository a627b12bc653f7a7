/**
 * A read-heavy cluster with every knob shown once: two cascading layers (the second streams
 * from the first, taking WAL-sender load off the members), PostgreSQL parameters, Pgpool-II
 * sizing checked against max_connections at synth time, a faster failover profile, spreading
 * that refuses to co-locate members, tolerations, a node selector, an existing credentials
 * Secret, extra labels and annotations, and Argo CD sync waves starting at 10.
 */
import { App, Chart } from 'cdk8s';
import { PostgresCluster } from '../lib';

const app = new App();
const chart = new Chart(app, 'analytics', { namespace: 'analytics' });
new PostgresCluster(chart, 'events', {
  clusterName: 'events',
  imagePullPolicy: 'Always',
  postgres: {
    majorVersion: 17,
    maxConnections: 500,
    parameters: { work_mem: '16MB', shared_buffers: '512MB', log_min_duration_statement: 500 },
    allowedCidrs: ['10.244.0.0/16'],
  },
  members: {
    replicas: 3,
    storage: { size: '100Gi', storageClassName: 'fast-ssd' },
    resources: { cpuRequest: '2', memoryRequest: '4Gi', memoryLimit: '4Gi' },
  },
  cascades: [
    { name: 'fanout', replicas: 2 },
    { name: 'reporting', replicas: 3, upstream: 'fanout', storage: { size: '100Gi' } },
  ],
  failover: { monitorIntervalSeconds: 1, reconnectAttempts: 3, reconnectIntervalSeconds: 1, connectTimeoutSeconds: 2 },
  pgpool: { replicas: 3, numInitChildren: 50, maxPool: 2, statementLevelLoadBalancing: true, maxReplicationDelayBytes: 1048576 },
  credentials: { secretName: 'events-db-credentials' },
  users: { appUser: 'events_app', appDatabase: 'events', monitorUser: 'events_monitor' },
  scheduling: {
    spreadAcrossHosts: 'required',
    spreadAcrossZones: 'preferred',
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'database', effect: 'NoSchedule' }],
    nodeSelector: { 'node-role.example.com/database': 'true' },
  },
  labels: { team: 'analytics' },
  annotations: { 'example.com/owner': 'data-platform' },
  argoSyncWaveBase: 10,
});
app.synth();
