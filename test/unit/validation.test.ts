/**
 * Validation: every rule of lib/model/resolve-cluster.ts refuses a bad input with a
 * PostgresClusterConfigError that names the prop and says how to fix it; good inputs resolve
 * to the documented defaults and each prop has its effect on the resolved model.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { Chart, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { PostgresCluster } from '../../lib';
import { PostgresClusterConfigError } from '../../lib/model/errors';
import { managedParameterNames, managedParameterReason } from '../../lib/model/managed-parameters';
import type { PostgresClusterProps } from '../../lib/model/props';
import { resolveCluster } from '../../lib/model/resolve-cluster';
import { membersOf, podHost } from '../../lib/model/resolved';
import { renderPoolHbaConf } from '../../lib/render/pool-hba-conf';
import { parseHba, parseQuantity, REPO_ROOT } from './helpers';

const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version;

/** Bad inputs are deliberately outside the prop types. */
function props(value: unknown): PostgresClusterProps {
  return value as PostgresClusterProps;
}

function resolve(p: PostgresClusterProps = {}) {
  return resolveCluster(p, 'c', 'db');
}

/** Runs `fn` and returns the PostgresClusterConfigError it throws; fails the test otherwise. */
function configErrorOf(fn: () => unknown): PostgresClusterConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PostgresClusterConfigError);
    return e as PostgresClusterConfigError;
  }
  throw new Error('expected a PostgresClusterConfigError, but the props were accepted');
}

const long = (n: number, ch = 'a') => ch.repeat(n);

type BadRow = [description: string, input: unknown, prop: string, message: RegExp];

// One row (at least) per check(...) in resolve-cluster.ts, in file order.
const BAD_INPUTS: BadRow[] = [
  // ---- unknown props (checked first, at every level)
  ['replicas at the top level', { replicas: 3 }, 'replicas', /is not a known prop at the top level \(it is a prop of members, cascades\[\], pgpool\).*Known props: clusterName, namespace/],
  ['members.replica (a typo)', { members: { replica: 3 } }, 'members.replica', /is not a known prop \(did you mean replicas\?\).*Known props of members: replicas, witness, priorities, storage, resources/],
  ['pgpool.numinitchildren (case slip)', { pgpool: { numinitchildren: 8 } }, 'pgpool.numinitchildren', /did you mean numInitChildren\?/],
  ['an unknown key in a cascade layer', { cascades: [{ name: 'r', replica: 2 }] }, 'cascades[0].replica', /is not a known prop \(did you mean replicas\?\).*Known props of cascades\[0\]/],
  ['an unknown key in resources', { members: { resources: { memory: '1Gi' } } }, 'members.resources.memory', /is not a known prop.*Known props of members.resources: cpuRequest, cpuLimit, memoryRequest, memoryLimit/],
  ['an unknown key in a toleration', { scheduling: { tolerations: [{ key: 'k', operator: 'Exists', effects: 'NoSchedule' }] } }, 'scheduling.tolerations[0].effects', /did you mean effect\?/],
  ['members given as a number', { members: 3 }, 'members', /must be an object, got 3/],
  ['cascades given as an object', { cascades: { name: 'r' } }, 'cascades', /must be a list of layers/],
  ['replication.standbys with mode async', { replication: { mode: 'async', standbys: 1 } }, 'replication.standbys', /is set with mode 'async', where no commit waits for a standby/],
  // ---- names
  ['clusterName with upper case', { clusterName: 'Orders' }, 'clusterName', /"Orders" is not a valid name.*Set clusterName to something like/],
  ['clusterName starting with a digit', { clusterName: '1orders' }, 'clusterName', /"1orders" is not a valid name \(lower-case letters/],
  ['clusterName ending with -', { clusterName: 'orders-' }, 'clusterName', /not a valid name/],
  ['namespace with an underscore', { namespace: 'my_ns' }, 'namespace', /"my_ns" is not a valid namespace name.*Use up to 63 lower-case/],
  ['namespace of 64 characters', { namespace: long(64) }, 'namespace', /is not a valid namespace name/],
  ['clusterDomain with a space', { clusterDomain: 'cluster local' }, 'clusterDomain', /"cluster local" is not a DNS domain.*cluster's DNS domain/],
  ['imagePullPolicy unknown', { imagePullPolicy: 'Sometimes' }, 'imagePullPolicy', /"Sometimes" is not a pull policy.*Always, IfNotPresent or Never/],
  // ---- postgres
  ['postgres.majorVersion 14', { postgres: { majorVersion: 14 } }, 'postgres.majorVersion', /14 is not supported.*Use one of 15, 16, 17, 18/],
  ['postgres.majorVersion 19 (no repmgr for it)', { postgres: { majorVersion: 19 } }, 'postgres.majorVersion', /19 is not supported: repmgr has no release that builds against PostgreSQL 19.*Use one of 15, 16, 17, 18/],
  ['postgres.image with spaces', { postgres: { image: 'my image' } }, 'postgres.image', /"my image" is not an image reference.*registry\/repository:tag/],
  ['postgres.image with upper case', { postgres: { image: 'Registry/Postgres:17' } }, 'postgres.image', /is not an image reference/],
  ['postgres.image without a tag or digest', { postgres: { image: 'registry.example.com/pg/repmgr' } }, 'postgres.image', /has no tag or digest, so the runtime would pull ':latest'.*Pin it: 'registry.example.com\/pg\/repmgr:<tag>'/],
  ['postgres.image with a registry port but no tag', { postgres: { image: 'localhost:5000/repmgr' } }, 'postgres.image', /has no tag or digest/],
  ['postgres.maxConnections below 20', { postgres: { maxConnections: 10 } }, 'postgres.maxConnections', /must be a whole number from 20 to 10000, got 10.*Set postgres.maxConnections/],
  ['postgres.maxConnections fractional', { postgres: { maxConnections: 250.5 } }, 'postgres.maxConnections', /whole number from 20 to 10000, got 250.5/],
  ['postgres.maxConnections as a string', { postgres: { maxConnections: '250' } }, 'postgres.maxConnections', /whole number.*got "250"/],
  ['parameter name with a dash', { postgres: { parameters: { 'work-mem': '4MB' } } }, 'postgres.parameters.work-mem', /is not a PostgreSQL parameter name.*e\.g\. work_mem/],
  ['managed parameter wal_level', { postgres: { parameters: { wal_level: 'logical' } } }, 'postgres.parameters.wal_level', /cannot be set: it is managed by the cluster.*Remove it from postgres.parameters/],
  ['managed parameter in upper case', { postgres: { parameters: { WAL_LEVEL: 'logical' } } }, 'postgres.parameters.WAL_LEVEL', /cannot be set: it is managed by the cluster/],
  ['max_connections as a parameter', { postgres: { parameters: { max_connections: 100 } } }, 'postgres.parameters.max_connections', /set through `postgres.maxConnections`/],
  ['synchronous_standby_names as a parameter', { postgres: { parameters: { synchronous_standby_names: '*' } } }, 'postgres.parameters.synchronous_standby_names', /set through the `replication` prop/],
  ['an ssl* parameter', { postgres: { parameters: { ssl_cert_file: '/x' } } }, 'postgres.parameters.ssl_cert_file', /reserved for TLS/],
  ['archive_command', { postgres: { parameters: { archive_command: 'cp %p /x' } } }, 'postgres.parameters.archive_command', /reserved for WAL archiving/],
  ['parameter value with a newline', { postgres: { parameters: { work_mem: '4MB\nssl = on' } } }, 'postgres.parameters.work_mem', /must be a single-line string, a number or a boolean/],
  ['parameter value as an object', { postgres: { parameters: { work_mem: { mb: 4 } } } }, 'postgres.parameters.work_mem', /must be a single-line string, a number or a boolean.*as postgresql.conf would take it/],
  ['parameter value Infinity', { postgres: { parameters: { work_mem: Infinity } } }, 'postgres.parameters.work_mem', /must be a finite number.*Give a finite number/],
  ['parameter value NaN', { postgres: { parameters: { random_page_cost: NaN } } }, 'postgres.parameters.random_page_cost', /must be a finite number/],
  // ---- postgres.parameters against PostgreSQL's own catalog (lib/model/parameter-catalog/)
  ['parameter name misspelt', { postgres: { parameters: { shared_bufers: '256MB' } } }, 'postgres.parameters.shared_bufers', /is not a PostgreSQL 18 parameter \(did you mean shared_buffers\?\)/],
  ['memory parameter given a word', { postgres: { parameters: { work_mem: 'lots' } } }, 'postgres.parameters.work_mem', /"lots" is not a number with an optional unit.*in kB without a unit\), or one with a unit like '64MB'/],
  ['memory parameter given a boolean', { postgres: { parameters: { shared_buffers: true } } }, 'postgres.parameters.shared_buffers', /is a boolean, but the parameter takes a number/],
  ['memory parameter with a unit PostgreSQL does not read', { postgres: { parameters: { work_mem: '4MiB' } } }, 'postgres.parameters.work_mem', /has the unit "MiB"; the parameter takes B, kB, MB, GB, TB \(units are case-sensitive\)/],
  ['memory parameter below its minimum', { postgres: { parameters: { work_mem: 32 } } }, 'postgres.parameters.work_mem', /32 is outside its range 64 to 2147483647 \(in kB without a unit\)/],
  ['memory parameter above its maximum with a unit', { postgres: { parameters: { maintenance_work_mem: '4TB' } } }, 'postgres.parameters.maintenance_work_mem', /"4TB" is outside its range/],
  ['time parameter given a word', { postgres: { parameters: { statement_timeout: 'soon' } } }, 'postgres.parameters.statement_timeout', /"soon" is not a number.*\(in ms without a unit\), or one with a unit like '5min'/],
  ['time parameter given a memory unit', { postgres: { parameters: { statement_timeout: '10MB' } } }, 'postgres.parameters.statement_timeout', /has the unit "MB"; the parameter takes us, ms, s, min, h, d/],
  ['unitless parameter given a unit', { postgres: { parameters: { random_page_cost: '1.1s' } } }, 'postgres.parameters.random_page_cost', /has a unit, but the parameter takes a plain number/],
  ['enum parameter given an unknown value', { postgres: { parameters: { log_statement: 'everything' } } }, 'postgres.parameters.log_statement', /"everything" is not one of its values.*none, ddl, mod, all/],
  ['boolean parameter given a word', { postgres: { parameters: { jit: 'maybe' } } }, 'postgres.parameters.jit', /"maybe" is not a boolean/],
  ['a PostgreSQL 18 parameter on PostgreSQL 15', { postgres: { majorVersion: 15, parameters: { io_method: 'worker' } } }, 'postgres.parameters.io_method', /is not a PostgreSQL 15 parameter/],
  ['a parameter PostgreSQL 17 removed, on 18', { postgres: { parameters: { old_snapshot_threshold: -1 } } }, 'postgres.parameters.old_snapshot_threshold', /is not a PostgreSQL 18 parameter/],
  ['allowedCidrs empty', { postgres: { allowedCidrs: [] } }, 'postgres.allowedCidrs', /is empty, so no peer could connect.*List your pod network/],
  ['allowedCidrs without prefix', { postgres: { allowedCidrs: ['10.0.0.0/8', '10.1.2.3'] } }, 'postgres.allowedCidrs[1]', /"10.1.2.3" is not a CIDR.*10.244.0.0\/16/],
  ['allowedCidrs octet over 255', { postgres: { allowedCidrs: ['300.0.0.0/8'] } }, 'postgres.allowedCidrs[0]', /is not a CIDR/],
  ['allowedCidrs prefix over 32', { postgres: { allowedCidrs: ['10.0.0.0/33'] } }, 'postgres.allowedCidrs[0]', /is not a CIDR/],
  ['allowedCidrs IPv6 prefix over 128', { postgres: { allowedCidrs: ['fd00::/129'] } }, 'postgres.allowedCidrs[0]', /is not a CIDR/],
  ['allowedCidrs host name', { postgres: { allowedCidrs: ['pods.example.com/8'] } }, 'postgres.allowedCidrs[0]', /is not a CIDR/],
  ['allowedCidrs IPv6 with a non-hex group', { postgres: { allowedCidrs: ['fd00::g/64'] } }, 'postgres.allowedCidrs[0]', /"fd00::g\/64" is not a CIDR.*Use a range like/],
  ['allowedCidrs IPv6 with two ::', { postgres: { allowedCidrs: ['10.0.0.0/8', '1::2::3/64'] } }, 'postgres.allowedCidrs[1]', /"1::2::3\/64" is not a CIDR/],
  ['allowedCidrs IPv4-mapped IPv6 with an octet over 255', { postgres: { allowedCidrs: ['::ffff:300.0.0.1/128'] } }, 'postgres.allowedCidrs[0]', /is not a CIDR/],
  ['allowedCidrs IPv4 with three octets', { postgres: { allowedCidrs: ['10.0.0/8'] } }, 'postgres.allowedCidrs[0]', /is not a CIDR/],
  // ---- members
  ['members.replicas 1', { members: { replicas: 1 } }, 'members.replicas', /must be a whole number from 2 to 99, got 1/],
  ['members.replicas 100', { members: { replicas: 100 } }, 'members.replicas', /from 2 to 99, got 100/],
  ['members.replicas 2 without witness', { members: { replicas: 2 } }, 'members.replicas', /is 2 without a witness: a two-node cluster cannot hold a majority election.*set members.witness to true/],
  ['members.witness with 3 members', { members: { replicas: 3, witness: true } }, 'members.witness', /only for a two-member tier \(members.replicas is 3\).*Remove members.witness/],
  ['members.priorities longer than replicas', { members: { priorities: [100, 100, 100, 100] } }, 'members.priorities', /has 4 entries for 3 members.*at most one priority per member/],
  ['members.priorities negative', { members: { priorities: [100, -1, 100] } }, 'members.priorities[1]', /whole number from 0 to 1000, got -1/],
  ['members.priorities over 1000', { members: { priorities: [1001] } }, 'members.priorities[0]', /from 0 to 1000, got 1001/],
  ['members.priorities leaving one promotable', { members: { priorities: [100, 0, 0] } }, 'members.priorities', /leaves 1 member\(s\) that may be primary.*at least two members a priority above 0/],
  ['members.storage.size with milli-units', { members: { storage: { size: '100m' } } }, 'members.storage.size', /"100m" is not a byte quantity.*'10Gi'/],
  ['members.storage.size with GB', { members: { storage: { size: '10GB' } } }, 'members.storage.size', /"10GB" is not a byte quantity/],
  ['members.storage.size 0', { members: { storage: { size: '0' } } }, 'members.storage.size', /0 cannot hold the WAL a node keeps/],
  [
    'members.storage.size below the WAL it keeps',
    { members: { storage: { size: '5Gi' } } },
    'members.storage.size',
    /5Gi cannot hold the WAL a node keeps for its peers plus the database \(max_slot_wal_keep_size 4096 MiB \+ wal_keep_size 512 MiB \+ max_wal_size 1024 MiB \+ 1024 MiB headroom for the data = 6656 MiB\).*Use at least 7Gi/,
  ],
  ['members.storage.size below the WAL with a larger max_wal_size', { postgres: { parameters: { max_wal_size: '4GB' } }, members: { storage: { size: '9Gi' } } }, 'members.storage.size', /max_wal_size 4096 MiB.*= 9728 MiB\).*Use at least 10Gi/],
  ['members.storage.storageClassName invalid', { members: { storage: { storageClassName: 'Fast_SSD' } } }, 'members.storage.storageClassName', /"Fast_SSD" is not a valid StorageClass name/],
  ['members.resources.cpuRequest invalid', { members: { resources: { cpuRequest: 'lots' } } }, 'members.resources.cpuRequest', /"lots" is not a Kubernetes quantity.*'500m'/],
  ['members.resources.cpuLimit invalid', { members: { resources: { cpuLimit: '1 core' } } }, 'members.resources.cpuLimit', /"1 core" is not a Kubernetes quantity/],
  ['members.resources.memoryRequest in milli', { members: { resources: { memoryRequest: '512m' } } }, 'members.resources.memoryRequest', /"512m" is not a byte quantity.*'512Mi'/],
  ['members.resources.memoryLimit invalid', { members: { resources: { memoryLimit: '1 GiB' } } }, 'members.resources.memoryLimit', /is not a byte quantity/],
  ['members.resources.cpuRequest 0', { members: { resources: { cpuRequest: '0' } } }, 'members.resources.cpuRequest', /is 0: a container needs some CPU to run/],
  ['members.resources.memoryRequest 0', { members: { resources: { memoryRequest: '0Mi' } } }, 'members.resources.memoryRequest', /is 0Mi: a container needs some memory to run/],
  ['pgpool.resources.cpuLimit 0', { pgpool: { resources: { cpuLimit: '0m' } } }, 'pgpool.resources.cpuLimit', /is 0m: a container needs some CPU/],
  [
    'members.resources.memoryLimit below shared_buffers plus the processes',
    { postgres: { parameters: { shared_buffers: '1GB' } } },
    'members.resources.memoryLimit',
    /1Gi cannot hold shared_buffers 1024 MiB \+ 128 MiB for the server processes, repmgrd and the entrypoint = 1152 MiB.*Use at least 1152Mi, or lower shared_buffers/,
  ],
  ['members.resources.memoryLimit 128Mi with the default shared_buffers', { members: { resources: { memoryRequest: '64Mi', memoryLimit: '128Mi' } } }, 'members.resources.memoryLimit', /128Mi cannot hold shared_buffers 128 MiB/],
  ['shared_buffers as a number of 8kB pages', { postgres: { parameters: { shared_buffers: 131072 } } }, 'members.resources.memoryLimit', /cannot hold shared_buffers 1024 MiB/],
  ['cascade memoryLimit too small', { cascades: [{ name: 'r', resources: { memoryRequest: '64Mi', memoryLimit: '200Mi' } }] }, 'cascades[0].resources.memoryLimit', /200Mi cannot hold shared_buffers 128 MiB/],
  [
    'pgpool.resources.memoryLimit below its shared memory and children',
    { pgpool: { resources: { memoryLimit: '128Mi' } } },
    'pgpool.resources.memoryLimit',
    /128Mi cannot hold Pgpool-II: 131.5 MiB of shared memory \(128.2 MiB \+ 32 children x 2 pooled x 53 KiB\) \+ 32 children x 2 MiB \+ 32 MiB for the other processes = 228 MiB.*Use at least 228Mi, or lower pgpool.numInitChildren/,
  ],
  ['members.resources.memoryRequest above memoryLimit', { members: { resources: { memoryRequest: '2Gi', memoryLimit: '1Gi' } } }, 'members.resources.memoryRequest', /2Gi is above the memory limit 1Gi.*Raise members.resources.memoryLimit to at least the request/],
  ['members.resources.memoryRequest above the default limit (1Gi)', { members: { resources: { memoryRequest: '1025Mi' } } }, 'members.resources.memoryRequest', /1025Mi is above the memory limit 1Gi/],
  ['members.resources.cpuRequest above cpuLimit', { members: { resources: { cpuRequest: '2', cpuLimit: '1500m' } } }, 'members.resources.cpuRequest', /2 is above the CPU limit 1500m.*Raise members.resources.cpuLimit to at least the request/],
  // ---- sync waves
  ['argoSyncWaveBase fractional', { argoSyncWaveBase: 1.5 }, 'argoSyncWaveBase', /whole number from -1000 to 1000, got 1.5.*or false to omit sync waves/],
  ['argoSyncWaveBase too large', { argoSyncWaveBase: 5000 }, 'argoSyncWaveBase', /from -1000 to 1000, got 5000/],
  ['argoSyncWaveBase true', { argoSyncWaveBase: true }, 'argoSyncWaveBase', /whole number.*got true/],
  // ---- cascades
  ['cascade name with upper case', { cascades: [{ name: 'Replica' }] }, 'cascades[0].name', /"Replica" is not a valid layer name.*e\.g\. 'replica'/],
  ['cascade name missing', { cascades: [{}] }, 'cascades[0].name', /is not a valid layer name/],
  ['cascade name reserved (node)', { cascades: [{ name: 'node' }] }, 'cascades[0].name', /"node" collides with a name the cluster derives itself.*Avoid node, witness, pgpool/],
  ['cascade name reserved (pgpool)', { cascades: [{ name: 'pgpool' }] }, 'cascades[0].name', /collides with a name the cluster derives/],
  ['cascade name ending in -ro', { cascades: [{ name: 'a' }, { name: 'fast-ro' }] }, 'cascades[1].name', /"fast-ro" collides.*names ending in -ro, -config, -scripts/],
  ['cascade name ending in -config', { cascades: [{ name: 'x-config' }] }, 'cascades[0].name', /collides with a name/],
  ['cascade name used twice', { cascades: [{ name: 'r' }, { name: 'r' }] }, 'cascades[1].name', /"r" is used by two layers.*its own name/],
  ['cascade replicas 0', { cascades: [{ name: 'r', replicas: 0 }] }, 'cascades[0].replicas', /whole number from 1 to 99, got 0/],
  ['cascade replicas 100', { cascades: [{ name: 'r', replicas: 100 }] }, 'cascades[0].replicas', /from 1 to 99, got 100/],
  ['cascade upstream unknown', { cascades: [{ name: 'r', upstream: 'nope' }] }, 'cascades[0].upstream', /"nope" is neither 'members' nor a layer declared before this one.*earlier cascading layer/],
  ['cascade upstream declared later', { cascades: [{ name: 'a', upstream: 'b' }, { name: 'b' }] }, 'cascades[0].upstream', /"b" is neither 'members' nor a layer declared before/],
  ['cascade upstream itself', { cascades: [{ name: 'a', upstream: 'a' }] }, 'cascades[0].upstream', /"a" is neither/],
  ['cascade nodeIdBase below 2000', { cascades: [{ name: 'r', nodeIdBase: 1500 }] }, 'cascades[0].nodeIdBase', /whole number from 2000 to 8900, got 1500/],
  ['cascade nodeIdBase at the witness id', { cascades: [{ name: 'r', nodeIdBase: 9000 }] }, 'cascades[0].nodeIdBase', /from 2000 to 8900, got 9000/],
  ['cascade nodeIdBase overlapping another layer', { cascades: [{ name: 'a' }, { name: 'b', nodeIdBase: 2050 }] }, 'cascades[1].nodeIdBase', /2050 overlaps the node ids of cascades\[0\].*at least 100 apart/],
  ['cascade storage invalid', { cascades: [{ name: 'r', storage: { size: 'big' } }] }, 'cascades[0].storage.size', /"big" is not a byte quantity/],
  ['cascade storage below the WAL it keeps', { cascades: [{ name: 'r', storage: { size: '4Gi' } }] }, 'cascades[0].storage.size', /4Gi cannot hold the WAL/],
  ['cascade resources invalid', { cascades: [{ name: 'r', resources: { cpuRequest: 'x' } }] }, 'cascades[0].resources.cpuRequest', /"x" is not a Kubernetes quantity/],
  ['cascade memoryRequest above the limit it inherits', { members: { resources: { memoryLimit: '2Gi' } }, cascades: [{ name: 'r', resources: { memoryRequest: '3Gi' } }] }, 'cascades[0].resources.memoryRequest', /3Gi is above the memory limit 2Gi/],
  ['cascade cpuRequest above its cpuLimit', { cascades: [{ name: 'r', resources: { cpuRequest: '1', cpuLimit: '999m' } }] }, 'cascades[0].resources.cpuRequest', /1 is above the CPU limit 999m/],
  // ---- derived name lengths
  ['clusterName making the StatefulSet name 53 characters', { clusterName: long(48) }, 'clusterName', /makes the StatefulSet name "a{48}-node" 53 characters long, over the 52.*Shorten the cluster name/],
  ['clusterName making the witness StatefulSet too long', { clusterName: long(45), members: { replicas: 2, witness: true } }, 'clusterName', /StatefulSet name "a{45}-witness" 53 characters long/],
  ['cascade name making its StatefulSet too long', { cascades: [{ name: long(51, 'r') }] }, 'cascades[].name', /StatefulSet name "c-r{51}" 53 characters long.*Shorten the cluster name or the layer name/],
  // ---- replication
  ['replication mode unknown', { replication: { mode: 'sync' } }, 'replication.mode', /"sync" is not a replication mode.*mode: 'quorum', standbys: 1/],
  [
    'quorum with 2 members and a witness',
    { members: { replicas: 2, witness: true }, replication: { mode: 'quorum' } },
    'replication.mode',
    /is 'quorum' with 2 members: with one standby, every commit would stop while it is down.*Use 3 or more members for quorum commit, or \{ mode: 'async' \}/,
  ],
  ['quorum of 0 standbys', { replication: { mode: 'quorum', standbys: 0 } }, 'replication.standbys', /whole number from 1 to \d+, got 0/],
  ['quorum of as many standbys as members', { replication: { mode: 'quorum', standbys: 3 } }, 'replication.standbys', /whole number from 1 to 1, got 3\. Use at most members.replicas - 2 \(1\) so a commit can still succeed while a standby is down/],
  ['quorum of every standby (5 members, 4 standbys)', { members: { replicas: 5 }, replication: { mode: 'quorum', standbys: 4 } }, 'replication.standbys', /whole number from 1 to 3, got 4\. Use at most members.replicas - 2 \(3\)/],
  // ---- failover timing
  ['monitorIntervalSeconds 0', { failover: { monitorIntervalSeconds: 0 } }, 'failover.monitorIntervalSeconds', /whole number from 1 to 60, got 0/],
  ['reconnectAttempts 61', { failover: { reconnectAttempts: 61 } }, 'failover.reconnectAttempts', /from 1 to 60, got 61/],
  ['reconnectIntervalSeconds fractional', { failover: { reconnectIntervalSeconds: 0.5 } }, 'failover.reconnectIntervalSeconds', /from 1 to 60, got 0.5/],
  [
    'reconnectAttempts 2 (1 s of reconnection, inside the 2 s visibility window)',
    { failover: { reconnectAttempts: 2 } },
    'failover.reconnectAttempts',
    /gives 1s of reconnection.*shorter than repmgrd's 2s primary-visibility window.*Use reconnectAttempts of at least 3 or a longer reconnectIntervalSeconds/,
  ],
  [
    'monitorIntervalSeconds 3 with the default reconnection (2 s < 6 s window)',
    { failover: { monitorIntervalSeconds: 3 } },
    'failover.reconnectAttempts',
    /gives 2s of reconnection.*6s primary-visibility window \(2 x monitorIntervalSeconds\).*at least 7/,
  ],
  ['reconnectAttempts 1', { failover: { reconnectAttempts: 1 } }, 'failover.reconnectAttempts', /gives 0s of reconnection/],
  ['connectTimeoutSeconds 1', { failover: { connectTimeoutSeconds: 1 } }, 'failover.connectTimeoutSeconds', /from 2 to 60, got 1.*libpq treats a connect_timeout below 2 as 2/],
  // ---- users and credentials
  ['appUser not an identifier', { users: { appUser: 'app-user' } }, 'users.appUser', /"app-user" is not a plain SQL identifier.*lower-case letters, digits and _/],
  ['appUser with upper case', { users: { appUser: 'App' } }, 'users.appUser', /not a plain SQL identifier/],
  ['appUser of 64 characters', { users: { appUser: long(64) } }, 'users.appUser', /not a plain SQL identifier/],
  ['monitorUser not an identifier', { users: { monitorUser: '1mon' } }, 'users.monitorUser', /"1mon" is not a plain SQL identifier/],
  ['appUser postgres', { users: { appUser: 'postgres' } }, 'users.appUser', /"postgres" is a role the cluster reserves.*Pick another name/],
  ['appUser with pg_ prefix', { users: { appUser: 'pg_app' } }, 'users.appUser', /"pg_app" is a role the cluster reserves/],
  ['monitorUser repmgr', { users: { monitorUser: 'repmgr' } }, 'users.monitorUser', /"repmgr" is a role the cluster reserves/],
  // Keywords of pg_hba.conf / pool_hba.conf in the user column: a role with that name would
  // turn e.g. `local all <monitorUser> trust` into a line for every role.
  ...(['all', 'replication', 'sameuser', 'samerole', 'samegroup'] as const).flatMap((name): BadRow[] => [
    [`appUser ${name} (an hba keyword)`, { users: { appUser: name } }, 'users.appUser', new RegExp(`"${name}" is a role the cluster reserves.*Pick another name`)],
    [`monitorUser ${name} (an hba keyword)`, { users: { monitorUser: name } }, 'users.monitorUser', new RegExp(`"${name}" is a role the cluster reserves`)],
  ]),
  ['monitorUser equal to appUser', { users: { appUser: 'shop', monitorUser: 'shop' } }, 'users.monitorUser', /is the same role as users.appUser.*separate role for monitoring/],
  ['appDatabase not an identifier', { users: { appDatabase: 'my-db' } }, 'users.appDatabase', /"my-db" is not a plain SQL identifier/],
  ['appDatabase template1', { users: { appDatabase: 'template1' } }, 'users.appDatabase', /"template1" is a database the cluster reserves/],
  ['appDatabase repmgr', { users: { appDatabase: 'repmgr' } }, 'users.appDatabase', /"repmgr" is a database the cluster reserves/],
  ['credentials.secretName invalid', { credentials: { secretName: 'My_Secret' } }, 'credentials.secretName', /"My_Secret" is not a valid Secret name.*lower-case letters, digits, - and \./],
  ['externalSecret without storeName', { credentials: { externalSecret: { remoteKey: 'db/orders' } } }, 'credentials.externalSecret.storeName', /undefined is not a valid store name.*Name your SecretStore or ClusterSecretStore/],
  ['externalSecret storeName invalid', { credentials: { externalSecret: { storeName: 'Vault_Store', remoteKey: 'db/orders' } } }, 'credentials.externalSecret.storeName', /"Vault_Store" is not a valid store name/],
  ['externalSecret storeKind unknown', { credentials: { externalSecret: { storeName: 'vault', storeKind: 'ClusterStore', remoteKey: 'db/orders' } } }, 'credentials.externalSecret.storeKind', /"ClusterStore" is not a store kind.*'SecretStore' or 'ClusterSecretStore'/],
  ['externalSecret remoteKey empty', { credentials: { externalSecret: { storeName: 'vault', remoteKey: ' ' } } }, 'credentials.externalSecret.remoteKey', /is empty.*remote secret's key/],
  ['tls.plaintextReason empty: plaintext needs a reason', { tls: { plaintextReason: '' } }, 'tls.plaintextReason', /does not say, in one line, why the cluster may run without TLS.*Write the reason/],
  ['tls.plaintextReason too short to be a reason', { tls: { plaintextReason: 'no' } }, 'tls.plaintextReason', /does not say, in one line, why/],
  ['tls.plaintextReason on two lines', { tls: { plaintextReason: 'the mesh\nencrypts it' } }, 'tls.plaintextReason', /in one line/],
  ['tls.plaintextReason with a certificate Secret', { tls: { plaintextReason: 'the mesh encrypts pod traffic', secretName: 'x-tls' } }, 'tls.plaintextReason', /together with certificate settings/],
  ['tls.secretName not a valid name', { tls: { secretName: 'My_Certs' } }, 'tls.secretName', /"My_Certs" is not a valid Secret name/],
  ['tls.secretName empty: no certificate source', { tls: { secretName: '' } }, 'tls.secretName', /"" is not a valid Secret name/],
  ['tls.secretName the credentials Secret', { tls: { secretName: 'c-credentials' } }, 'tls.secretName', /is the credentials Secret "c-credentials".*Secret of its own/],
  ['tls.certManagerIssuer without a valid name', { tls: { certManagerIssuer: { name: 'Bad Name' } } }, 'tls.certManagerIssuer.name', /is not a valid issuer name/],
  ['tls.certManagerIssuer of an unknown kind', { tls: { certManagerIssuer: { name: 'ca', kind: 'Vault' as never } } }, 'tls.certManagerIssuer.kind', /"Vault" is not a cert-manager issuer kind/],
  ['tls null', { tls: null as never }, 'tls', /is not an object/],
  ['tls with an unknown key', { tls: { plaintextreason: 'the mesh encrypts pod traffic' } as never }, 'tls.plaintextreason', /is not a known prop \(did you mean plaintextReason\?\)/],
  ['network.pgpoolClients empty: no client could reach Pgpool-II', { network: { pgpoolClients: [] } }, 'network.pgpoolClients', /is empty: the NetworkPolicy would let no client reach Pgpool-II.*Name your applications/],
  ['network.pgpoolClients peer naming nothing', { network: { pgpoolClients: [{}] } }, 'network.pgpoolClients[0]', /names no namespace, pod label or address range.*Give namespaces/],
  ['network.pgpoolClients peer with no namespace', { network: { pgpoolClients: [{ namespaces: [] }] } }, 'network.pgpoolClients[0].namespaces', /is empty: the peer would match no namespace/],
  ['network.pgpoolClients invalid namespace', { network: { pgpoolClients: [{ namespaces: ['Shop_1'] }] } }, 'network.pgpoolClients[0].namespaces[0]', /"Shop_1" is not a valid namespace name/],
  ['network.pgpoolClients invalid pod label', { network: { pgpoolClients: [{ podLabels: { app: 'shop front' } }] } }, 'network.pgpoolClients[0].podLabels["app"]', /is not a valid label value/],
  ['network.pgpoolClients cidr with selectors', { network: { pgpoolClients: [{ cidr: '10.0.0.0/8', podLabels: { app: 'shop' } }] } }, 'network.pgpoolClients[0]', /combines cidr with namespaces or podLabels, which Kubernetes rejects/],
  ['network.pgpoolClients bad cidr', { network: { pgpoolClients: [{ cidr: '10.0.0.0/40' }] } }, 'network.pgpoolClients[0].cidr', /"10.0.0.0\/40" is not a CIDR/],
  ['network.pgpoolClients unknown key', { network: { pgpoolClients: [{ namespace: 'shop' }] } }, 'network.pgpoolClients[0].namespace', /is not a known prop \(did you mean namespaces\?\)/],
  ['network.policies null', { network: { policies: null as unknown as boolean } }, 'network.policies', /null is not true or false/],
  ['network.pgpoolClients namespaces not a list', { network: { pgpoolClients: [{ namespaces: 'shop' as unknown as string[] }] } }, 'network.pgpoolClients[0].namespaces', /must be a list of namespace names, got "shop"/],
  ['network.pgpoolClients podLabels not an object', { network: { pgpoolClients: [{ podLabels: 'web' as unknown as Record<string, string> }] } }, 'network.pgpoolClients[0].podLabels', /must be an object of labels, got "web"/],
  ['network.pgpoolClients with the policies off', { network: { policies: false, pgpoolClients: [{ namespaces: ['shop'] }] } }, 'network.pgpoolClients', /is set while network.policies is false: no NetworkPolicy would enforce it/],
  ['externalSecret refreshInterval not a duration', { credentials: { externalSecret: { storeName: 'vault', remoteKey: 'db/orders', refreshInterval: '1 hour' } } }, 'credentials.externalSecret.refreshInterval', /"1 hour" is not a duration.*Go duration like '1h'/],
  ['externalSecret misspelt key', { credentials: { externalSecret: { storeName: 'vault', remotekey: 'db/orders' } } }, 'credentials.externalSecret.remotekey', /did you mean remoteKey/],
  // ---- pgpool
  ['pgpool.version 4.2', { pgpool: { version: '4.2' } }, 'pgpool.version', /"4.2" is not supported.*Use one of 4.3, 4.4, 4.5, 4.6/],
  ['pgpool.version with a patch level', { pgpool: { version: '4.5.1' } }, 'pgpool.version', /"4.5.1" is not supported/],
  ['pgpool.image invalid', { pgpool: { image: 'pgpool:' } }, 'pgpool.image', /"pgpool:" is not an image reference/],
  ['pgpool.image without a tag', { pgpool: { image: 'ghcr.io/me/pgpool' } }, 'pgpool.image', /has no tag or digest/],
  ['pgpool.replicas 0', { pgpool: { replicas: 0 } }, 'pgpool.replicas', /whole number from 1 to 20, got 0/],
  ['pgpool.replicas 21', { pgpool: { replicas: 21 } }, 'pgpool.replicas', /from 1 to 20, got 21/],
  ['pgpool.replicas 1 without allowSinglePgpool', { pgpool: { replicas: 1 } }, 'pgpool.replicas', /is 1, which makes Pgpool-II a single point of failure.*pgpool.allowSinglePgpool/],
  ['pgpool.numInitChildren 0', { pgpool: { numInitChildren: 0 } }, 'pgpool.numInitChildren', /from 1 to 2000, got 0/],
  ['pgpool.maxPool 65', { pgpool: { maxPool: 65 } }, 'pgpool.maxPool', /from 1 to 64, got 65/],
  ['pgpool.maxReplicationDelayBytes negative', { pgpool: { maxReplicationDelayBytes: -1 } }, 'pgpool.maxReplicationDelayBytes', /from 0 to \d+, got -1/],
  ['pgpool.drainSeconds negative', { pgpool: { drainSeconds: -1 } }, 'pgpool.drainSeconds', /from 0 to 3600, got -1/],
  ['pgpool.terminationGracePeriodSeconds 0', { pgpool: { terminationGracePeriodSeconds: 0 } }, 'pgpool.terminationGracePeriodSeconds', /from 1 to 86400, got 0/],
  ['pgpool.drainSeconds longer than the grace period', { pgpool: { drainSeconds: 40 } }, 'pgpool.drainSeconds', /5 s to act on SIGTERM \+ 3 s to leave the Service \+ 40 s of drain \+ 5 s for the fast shutdown = 53 s, more than pgpool.terminationGracePeriodSeconds \(30 s\).*Lower pgpool.drainSeconds to 17 or less, or raise pgpool.terminationGracePeriodSeconds to 53/],
  ['pgpool.drainSeconds within, grace period lowered below it', { pgpool: { terminationGracePeriodSeconds: 20 } }, 'pgpool.drainSeconds', /= 23 s, more than pgpool.terminationGracePeriodSeconds \(20 s\).*Lower pgpool.drainSeconds to 7 or less/],
  [
    'pgpool connection budget over max_connections',
    { pgpool: { numInitChildren: 100 } },
    'pgpool',
    // (2 + 1 surge) pods x 100 x 2 = 600, + 9 checks + (3 nodes + 5 spare) = 617 > 250 - 3.
    /needs up to 617 connections per PostgreSQL node \(3 Pgpool-II pods incl\. rollout surge x 100 children x 2 pooled = 600, \+ 9 health\/sr checks \+ 8 repmgr and spare\), but max_connections 250 leaves 247.*Lower pgpool.numInitChildren/,
  ],
  // ---- scheduling, labels, annotations
  ['spreadAcrossHosts unknown', { scheduling: { spreadAcrossHosts: 'always' } }, 'scheduling.spreadAcrossHosts', /"always" is not a spread mode.*'required', 'preferred' or 'off'/],
  ['spreadAcrossZones unknown', { scheduling: { spreadAcrossZones: 'yes' } }, 'scheduling.spreadAcrossZones', /"yes" is not a spread mode/],
  ['toleration Exists with a value', { scheduling: { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] } }, 'scheduling.tolerations[0]', /has a value with operator Exists.*Drop the value/],
  ['toleration without key', { scheduling: { tolerations: [{ key: 'ok', operator: 'Exists' }, { operator: 'Equal', value: 'v' }] } }, 'scheduling.tolerations[1]', /has no key.*operator Exists to tolerate every taint/],
  ['tolerationSeconds without NoExecute', { scheduling: { tolerations: [{ key: 'k', effect: 'NoSchedule', tolerationSeconds: 30 }] } }, 'scheduling.tolerations[0]', /sets tolerationSeconds without effect NoExecute/],
  ['nodeSelector key invalid', { scheduling: { nodeSelector: { 'bad key': 'x' } } }, 'scheduling.nodeSelector["bad key"]', /is not a valid key.*\[prefix\/\]name/],
  ['nodeSelector value invalid', { scheduling: { nodeSelector: { disk: 'fast ssd' } } }, 'scheduling.nodeSelector["disk"]', /value "fast ssd" is not a valid label value.*Use up to 63/],
  ['nodeAffinity with an empty required term', { scheduling: { nodeAffinity: { required: [[]] } } }, 'scheduling.nodeAffinity.required[0]', /is not a non-empty list of requirements \(an empty term matches no node\)/],
  ['nodeAffinity operator unknown', { scheduling: { nodeAffinity: { required: [[{ key: 'disk', operator: 'Equals', values: ['ssd'] }]] } } }, 'scheduling.nodeAffinity.required[0][0].operator', /"Equals" is not a node selector operator.*In, NotIn, Exists, DoesNotExist, Gt, Lt/],
  ['nodeAffinity In without values', { scheduling: { nodeAffinity: { required: [[{ key: 'disk', operator: 'In' }]] } } }, 'scheduling.nodeAffinity.required[0][0].values', /must not be empty with operator In/],
  ['nodeAffinity Exists with values', { scheduling: { nodeAffinity: { required: [[{ key: 'disk', operator: 'Exists', values: ['x'] }]] } } }, 'scheduling.nodeAffinity.required[0][0].values', /must be empty with operator Exists/],
  ['nodeAffinity Gt with a word', { scheduling: { nodeAffinity: { required: [[{ key: 'cpus', operator: 'Gt', values: ['many'] }]] } } }, 'scheduling.nodeAffinity.required[0][0].values', /must be one integer with operator Gt/],
  ['nodeAffinity preferred weight 0', { scheduling: { nodeAffinity: { preferred: [{ weight: 0, requirements: [{ key: 'disk', operator: 'Exists' }] }] } } }, 'scheduling.nodeAffinity.preferred[0].weight', /whole number from 1 to 100, got 0/],
  ['nodeAffinity requirement with a typo', { scheduling: { nodeAffinity: { required: [[{ key: 'disk', operator: 'In', value: ['ssd'] }]] } } }, 'scheduling.nodeAffinity.required[0][0].value', /is not a known prop \(did you mean values\?\)/],
  ['priorityClassName with upper case', { scheduling: { priorityClassName: 'Critical' } }, 'scheduling.priorityClassName', /"Critical" is not a valid PriorityClass name/],
  ['label key with bad prefix', { labels: { 'Example.com/team': 'a' } }, 'labels["Example.com/team"]', /is not a valid key/],
  ['label value of 64 characters', { labels: { team: long(64) } }, 'labels["team"]', /is not a valid label value/],
  ['label overriding app.kubernetes.io/name', { labels: { 'app.kubernetes.io/name': 'x' } }, 'labels["app.kubernetes.io/name"]', /is a label the library selects on.*Use another key; the library sets app.kubernetes.io\/name, app.kubernetes.io\/instance/],
  ['label pgha.cdk8s.io/tier', { labels: { 'pgha.cdk8s.io/tier': 'x' } }, 'labels["pgha.cdk8s.io/tier"]', /is a label the library selects on/],
  ['label app.kubernetes.io/managed-by', { labels: { 'app.kubernetes.io/managed-by': 'helm' } }, 'labels["app.kubernetes.io/managed-by"]', /is set by the library on every object.*app.kubernetes.io\/version, for example, is yours/],
  ['label in the pgha.cdk8s.io/ prefix', { labels: { 'pgha.cdk8s.io/team': 'x' } }, 'labels["pgha.cdk8s.io/team"]', /uses the library's own prefix pgha.cdk8s.io\//],
  ['annotation key invalid', { annotations: { 'a/b/c': 'x' } }, 'annotations["a/b/c"]', /is not a valid key/],
  ['annotation key name over 63', { annotations: { [long(64)]: 'x' } }, `annotations["${long(64)}"]`, /is not a valid key/],
  [
    'annotation argocd.argoproj.io/sync-wave with waves on',
    { annotations: { 'argocd.argoproj.io/sync-wave': '5' } },
    'annotations["argocd.argoproj.io/sync-wave"]',
    /would be replaced on every object by the sync wave the library sets.*Shift the waves with argoSyncWaveBase \(now 0\), or set argoSyncWaveBase: false/,
  ],
  ['annotation in the pgha.cdk8s.io/ prefix', { annotations: { 'pgha.cdk8s.io/config-checksum': 'x' } }, 'annotations["pgha.cdk8s.io/config-checksum"]', /uses the library's own prefix/],
];

describe('validation: GIVEN a bad prop WHEN the cluster is resolved THEN a PostgresClusterConfigError names the prop and the fix', () => {
  it('covers at least 30 bad inputs', () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(BAD_INPUTS)('%s', (_description, input, prop, message) => {
    const error = configErrorOf(() => resolve(props(input)));
    expect(error.name).toBe('PostgresClusterConfigError');
    expect(error.prop).toBe(prop);
    expect(error.message.startsWith(`${prop}: `)).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('GIVEN a bad prop WHEN a PostgresCluster is constructed THEN the construct throws the same error (nothing is synthesized)', () => {
    const chart = Testing.chart();
    const error = configErrorOf(() => new PostgresCluster(chart, 'c', { members: { replicas: 2 } }));
    expect(error.prop).toBe('members.replicas');
  });

  it('GIVEN two clusters named orders in one namespace of one App THEN the second is refused, naming both and the object', () => {
    const app = Testing.app();
    new PostgresCluster(new Chart(app, 'one', { namespace: 'db' }), 'orders');
    const error = configErrorOf(() => new PostgresCluster(new Chart(app, 'two', { namespace: 'db' }), 'orders'));
    expect(error.prop).toBe('clusterName');
    expect(error.message).toMatch(/the cluster at two\/orders emits \w+ db\/orders-[a-z-]+, which the cluster at one\/orders in the same App emits too.*its own clusterName or namespace/);
  });

  it("GIVEN a cluster whose layer name turns <cluster>-<layer> into another cluster's objects THEN it is refused", () => {
    const app = Testing.app();
    const chart = new Chart(app, 'c', { namespace: 'db' });
    new PostgresCluster(chart, 'a-b');
    const error = configErrorOf(() => new PostgresCluster(chart, 'a', { cascades: [{ name: 'b-node' }] }));
    expect(error.prop).toBe('clusterName');
    expect(error.message).toMatch(/emits \w+ db\/a-b-node[a-z-]*, which the cluster at c\/a-b in the same App/);
  });

  it('GIVEN the same cluster name in two namespaces, or two names in one namespace THEN both are accepted', () => {
    const app = Testing.app();
    new PostgresCluster(new Chart(app, 'one', { namespace: 'db1' }), 'orders');
    new PostgresCluster(new Chart(app, 'two', { namespace: 'db2' }), 'orders');
    const chart = new Chart(app, 'three', { namespace: 'db1' });
    expect(() => new PostgresCluster(chart, 'billing')).not.toThrow();
  });

  it('GIVEN a construct id that is not a valid name and no clusterName THEN the id is rejected as clusterName', () => {
    const chart = Testing.chart();
    const error = configErrorOf(() => new PostgresCluster(chart, 'Orders'));
    expect(error.prop).toBe('clusterName');
    expect(error.message).toMatch(/"Orders"/);
  });

  it.each(managedParameterNames())('GIVEN managed parameter %s in postgres.parameters THEN it is refused with its reason', (name) => {
    const error = configErrorOf(() => resolve({ postgres: { parameters: { [name]: 'x' } } }));
    expect(error.prop).toBe(`postgres.parameters.${name}`);
    expect(error.message).toContain(`cannot be set: it is ${managedParameterReason(name)}`);
  });
});

describe("validation: GIVEN parameters PostgreSQL takes THEN they pass its catalog's checks", () => {
  it.each([
    ['work_mem', '64MB'],
    ['work_mem', 65536],
    ['shared_buffers', '512MB'],
    ['statement_timeout', '5min'],
    ['statement_timeout', 0],
    ['log_min_duration_statement', -1],
    ['random_page_cost', 1.1],
    ['jit', false],
    ['jit', 'off'],
    ['huge_pages', 'try'],
    ['log_statement', 'ddl'],
    ['search_path', '"$user", public'],
    ['Work_Mem', '8MB'],
    ['pg_stat_statements.max', 5000],
  ] as const)('GIVEN %s = %s THEN it is accepted', (name, value) => {
    expect(resolve({ postgres: { parameters: { [name]: value } } }).postgres.parameters[name]).toBe(value);
  });

  it("GIVEN a parameter of one major only THEN that major's catalog decides", () => {
    expect(resolve({ postgres: { majorVersion: 15, parameters: { old_snapshot_threshold: -1 } } }).postgres.parameters.old_snapshot_threshold).toBe(-1);
    expect(resolve({ postgres: { majorVersion: 18, parameters: { io_method: 'worker' } } }).postgres.parameters.io_method).toBe('worker');
  });
});

describe('validation: GIVEN props that synthesize but break the running cluster THEN they are refused at synth time', () => {
  // pg_hba.conf is parsed at server start; a malformed range makes every node refuse to start.
  it.each(['fd00:1/64', ':/0', 'fd00:::1/64', '12345::/16', '1:2:3:4:5:6:7:8:9/64'])('GIVEN the malformed IPv6 range %s THEN postgres.allowedCidrs[0] is refused', (cidr) => {
    const error = configErrorOf(() => resolve({ postgres: { allowedCidrs: [cidr] } }));
    expect(error.prop).toBe('postgres.allowedCidrs[0]');
    expect(error.message).toMatch(/is not a CIDR/);
  });

  // A quorum of ANY n over the members never counts the primary itself, so it has
  // replicas - 1 candidates. With n = replicas - 1 every standby must confirm, and one standby
  // down blocks every commit: one standby must always be spare, n <= replicas - 2.
  it('GIVEN 3 members and a quorum of 2 standbys WHEN resolved THEN it is refused (one standby down would block every commit)', () => {
    const error = configErrorOf(() => resolve({ replication: { mode: 'quorum', standbys: 2 } }));
    expect(error.prop).toBe('replication.standbys');
    expect(error.message).toMatch(/Use at most members.replicas - 2 \(1\) so a commit can still succeed while a standby is down/);
  });

  // With 2 members there is one standby: ANY 1 of it stops every commit while it is down.
  it('GIVEN 2 members (with the witness) and quorum commit WHEN resolved THEN replication.mode is refused, whatever the quorum size', () => {
    for (const standbys of [undefined, 1]) {
      const error = configErrorOf(() => resolve({ members: { replicas: 2, witness: true }, replication: { mode: 'quorum', ...(standbys === undefined ? {} : { standbys }) } }));
      expect(error.prop).toBe('replication.mode');
      expect(error.message).toMatch(/every commit would stop while it is down/);
    }
    expect(resolve({ members: { replicas: 2, witness: true }, replication: { mode: 'async' } }).synchronousQuorum).toBe(0);
  });

  it('GIVEN quorum commit THEN the largest quorum is members - 2 (3 members: 1; 4: 2; 5: 3)', () => {
    for (const replicas of [3, 4, 5]) {
      expect(resolve({ members: { replicas }, replication: { mode: 'quorum', standbys: replicas - 2 } }).synchronousQuorum).toBe(replicas - 2);
      expect(configErrorOf(() => resolve({ members: { replicas }, replication: { mode: 'quorum', standbys: replicas - 1 } })).prop).toBe('replication.standbys');
    }
  });

  // pool_hba.conf renders `local all <monitorUser> trust`; a monitor user named `all` (a plain
  // SQL identifier, not reserved) turns it into `local all all trust`: every role without password.
  it('GIVEN users.monitorUser "all" THEN it is refused (so pool_hba never trusts every user)', () => {
    const error = configErrorOf(() => resolve({ users: { monitorUser: 'all' } }));
    expect(error.prop).toBe('users.monitorUser');
    expect(error.message).toMatch(/"all" is a role the cluster reserves/);
    // With an accepted monitor user, the one trust line names exactly that role.
    const trusted = parseHba(renderPoolHbaConf(resolve({ users: { monitorUser: 'all_monitor' } }))).filter((row) => row[row.length - 1] === 'trust');
    expect(trusted).toEqual([['local', 'all', 'all_monitor', 'trust']]);
  });

  it('GIVEN a role name that merely contains an hba keyword THEN it is accepted', () => {
    const c = resolve({ users: { appUser: 'replication_app', monitorUser: 'all_monitor' } });
    expect([c.users.appUser, c.users.monitorUser]).toEqual(['replication_app', 'all_monitor']);
  });

  // Kubernetes refuses a container whose request exceeds its limit; the default memory limit
  // (1Gi) with a larger request passes synth and then fails at kubectl apply.
  it('GIVEN members.resources.memoryRequest above the default memory limit THEN it is refused (the default limit does not rise)', () => {
    const error = configErrorOf(() => resolve({ members: { resources: { memoryRequest: '2Gi' } } }));
    expect(error.prop).toBe('members.resources.memoryRequest');
    expect(error.message).toMatch(/2Gi is above the memory limit 1Gi/);
  });

  it('GIVEN an explicit memoryRequest above an explicit memoryLimit THEN it is refused', () => {
    const error = configErrorOf(() => resolve({ members: { resources: { memoryRequest: '4Gi', memoryLimit: '2Gi' } } }));
    expect(error.prop).toBe('members.resources.memoryRequest');
    expect(error.message).toMatch(/Raise members.resources.memoryLimit to at least the request, or lower the request/);
  });

  it('GIVEN pgpool.resources.cpuRequest above cpuLimit, or a memory request above its default limit (512Mi) THEN it is refused', () => {
    const error = configErrorOf(() => resolve({ pgpool: { resources: { cpuRequest: '2', cpuLimit: '500m' } } }));
    expect(error.prop).toBe('pgpool.resources.cpuRequest');
    expect(error.message).toMatch(/2 is above the CPU limit 500m/);
    expect(configErrorOf(() => resolve({ pgpool: { resources: { memoryRequest: '1Gi' } } })).prop).toBe('pgpool.resources.memoryRequest');
  });

  it('GIVEN reconnection exactly as long as the visibility window (2 attempts 2 s apart; 5 attempts at a 2 s monitor interval) THEN it is accepted, one attempt fewer is not', () => {
    expect(resolve({ failover: { reconnectAttempts: 2, reconnectIntervalSeconds: 2 } }).timing.reconnectAttempts).toBe(2);
    expect(resolve({ failover: { monitorIntervalSeconds: 2, reconnectAttempts: 5 } }).timing.reconnectAttempts).toBe(5);
    expect(configErrorOf(() => resolve({ failover: { monitorIntervalSeconds: 2, reconnectAttempts: 4 } })).prop).toBe('failover.reconnectAttempts');
  });

  it('GIVEN requests equal to the limits in other units, or no CPU limit THEN they are accepted', () => {
    const c = resolve({
      members: { resources: { cpuRequest: '1000m', cpuLimit: '1', memoryRequest: '1024Mi', memoryLimit: '1Gi' } },
      cascades: [{ name: 'r', resources: { cpuRequest: '64' } }],
      pgpool: { resources: { cpuRequest: '0.5', cpuLimit: '500m', memoryRequest: '512Mi' } },
    });
    expect(membersOf(c).resources).toEqual({ requests: { cpu: '1000m', memory: '1024Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    expect(c.tiers[1].resources).toEqual({ requests: { cpu: '64', memory: '1024Mi' }, limits: { memory: '1Gi' } });
    expect(c.pgpool.resources).toEqual({ requests: { cpu: '0.5', memory: '512Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
  });

  it('the quantity parser used above compares units correctly', () => {
    expect(parseQuantity('1Gi')).toBe(1024 ** 3);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('2')).toBeGreaterThan(parseQuantity('500m'));
    expect(parseQuantity('1G')).toBeLessThan(parseQuantity('1Gi'));
  });
});

describe('validation: GIVEN no props WHEN resolved THEN the documented defaults apply', () => {
  const c = resolve();
  const members = membersOf(c);

  it('3 failover-eligible members named <cluster>-node with node ids from 1000 and priority 100', () => {
    expect(c.tiers).toHaveLength(1);
    expect(members).toMatchObject({ kind: 'member', statefulSetName: 'c-node', component: 'member', replicas: 3, nodeIdBase: 1000 });
    expect(members.priorities).toEqual([100, 100, 100]);
    expect(members.defaultPriority).toBe(100);
  });

  it('2 Pgpool-II replicas, 32 children, max_pool 2, load balancing on, per session, 10 MiB delay, 10 s drain in a 30 s grace period', () => {
    expect(c.pgpool).toMatchObject({
      replicas: 2,
      maxSurge: 1,
      numInitChildren: 32,
      maxPool: 2,
      loadBalancing: true,
      statementLevelLoadBalancing: false,
      maxReplicationDelayBytes: 10 * 1024 * 1024,
      leaveServiceSeconds: 3,
      drainSeconds: 10,
      terminationGracePeriodSeconds: 30,
      port: 5432,
      pcpPort: 9898,
    });
  });

  it('asynchronous replication', () => {
    expect(c.synchronousQuorum).toBe(0);
  });

  it('PostgreSQL 18 and Pgpool-II 4.7 (what the default images carry), with images tagged with the package version', () => {
    expect(c.postgres.majorVersion).toBe(18);
    expect(c.pgpool.version).toBe('4.7');
    expect(c.postgres.image).toBe(`ghcr.io/cdk8s-pg-ha/postgres-repmgr:${PACKAGE_VERSION}-pg18`);
    expect(c.pgpool.image).toBe(`ghcr.io/cdk8s-pg-ha/pgpool:${PACKAGE_VERSION}-pgpool4.7`);
  });

  it('credentials Secret <cluster>-credentials, users app/app/pgpool_monitor', () => {
    expect(c.credentialsSecretName).toBe('c-credentials');
    expect(c.users).toEqual({
      superuser: 'postgres',
      repmgrUser: 'repmgr',
      repmgrDatabase: 'repmgr',
      appUser: 'app',
      appDatabase: 'app',
      monitorUser: 'pgpool_monitor',
    });
  });

  it('namespace from the chart (the defaultNamespace argument), else "default"', () => {
    expect(c.namespace).toBe('db');
    expect(resolveCluster({}, 'c').namespace).toBe('default');
  });

  it('cluster.local, IfNotPresent, 250 connections, open CIDRs, 10 WAL senders', () => {
    expect(c.clusterDomain).toBe('cluster.local');
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.postgres.maxConnections).toBe(250);
    expect(c.postgres.port).toBe(5432);
    expect(c.postgres.allowedCidrs).toEqual(['0.0.0.0/0', '::/0']);
    expect(c.postgres.parameters).toEqual({});
    expect(c.postgres.maxWalSenders).toBe(10);
  });

  it('10Gi on the default StorageClass, 250m/512Mi requested and 1Gi limit for PostgreSQL; 100m/128Mi/512Mi for Pgpool-II', () => {
    expect(members.storage).toEqual({ size: '10Gi' });
    expect(members.resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } });
    expect(c.pgpool.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  });

  it('failover timing 1 s / 3 attempts / 1 s / 2 s: repmgrd detects a silent primary within 10 s, Pgpool-II within 10 s, the entrypoint elects after 50 s', () => {
    expect(c.timing).toEqual({
      monitorIntervalSeconds: 1,
      reconnectAttempts: 3,
      reconnectIntervalSeconds: 1,
      connectTimeoutSeconds: 2,
      failureDetectionSeconds: 10,
      pgpoolDetectionSeconds: 10,
      failoverWaitSeconds: 50,
    });
  });

  it('spreading preferred across hosts and zones, no tolerations, no node selector, no labels or annotations', () => {
    expect(c.scheduling).toEqual({ spreadAcrossHosts: 'preferred', spreadAcrossZones: 'preferred', tolerations: [], nodeSelector: {} });
    expect(c.labels).toEqual({});
    expect(c.annotations).toEqual({});
  });

  it('Argo CD sync waves from 0: config 0, members 1, pgpool 2', () => {
    expect(c.configSyncWave).toBe(0);
    expect(members.syncWave).toBe(1);
    expect(c.pgpool.syncWave).toBe(2);
  });

  it('one Pgpool-II backend per member, by the exact host name repmgr uses', () => {
    expect(c.pgpool.backends).toEqual([0, 1, 2].map((i) => ({
      index: i,
      host: `c-node-${i}.c-node.db.svc.cluster.local`,
      port: 5432,
      nodeName: `c-node-${i}`,
    })));
    c.pgpool.backends.forEach((b, i) => expect(b.host).toBe(podHost(c, members, i)));
  });

  it('a connection budget that fits under max_connections', () => {
    expect(c.pgpool.connectionBudget).toEqual({
      pgpoolPods: 3,
      pooledConnections: 192,
      checkConnections: 9,
      repmgrConnections: 8,
      total: 209,
      available: 247,
    });
  });
});

describe('validation: GIVEN a prop WHEN resolved THEN it has its effect on the model', () => {
  it('clusterName overrides the construct id in every derived name', () => {
    const c = resolve({ clusterName: 'orders', cascades: [{ name: 'r' }] });
    expect(c.name).toBe('orders');
    expect(c.tiers.map((t) => t.statefulSetName)).toEqual(['orders-node', 'orders-r']);
    expect(c.credentialsSecretName).toBe('orders-credentials');
  });

  it('the longest accepted clusterName (47 characters) is accepted', () => {
    expect(resolve({ clusterName: long(47) }).tiers[0].statefulSetName).toHaveLength(52);
  });

  it('namespace and clusterDomain go into every backend host', () => {
    const c = resolve({ namespace: 'shop', clusterDomain: 'k8s.example.com' });
    expect(c.namespace).toBe('shop');
    expect(c.pgpool.backends[2].host).toBe('c-node-2.c-node.shop.svc.k8s.example.com');
  });

  it.each(['Always', 'IfNotPresent', 'Never'] as const)('imagePullPolicy %s is kept', (policy) => {
    expect(resolve({ imagePullPolicy: policy }).imagePullPolicy).toBe(policy);
  });

  it.each([15, 16, 17, 18] as const)('postgres.majorVersion %s selects the matching default image', (major) => {
    const c = resolve({ postgres: { majorVersion: major } });
    expect(c.postgres.majorVersion).toBe(major);
    expect(c.postgres.image).toBe(`ghcr.io/cdk8s-pg-ha/postgres-repmgr:${PACKAGE_VERSION}-pg${major}`);
  });

  it('postgres.image and pgpool.image override the defaults (registry with port and digest accepted)', () => {
    const digest = `@sha256:${'a'.repeat(64)}`;
    const c = resolve({ postgres: { image: 'localhost:5000/pg/repmgr:17' }, pgpool: { image: `registry.example.com/pgpool:4.5${digest}` } });
    expect(c.postgres.image).toBe('localhost:5000/pg/repmgr:17');
    expect(c.pgpool.image).toBe(`registry.example.com/pgpool:4.5${digest}`);
  });

  it('postgres.maxConnections and parameters are kept; an unmanaged dotted parameter is accepted', () => {
    const parameters = { work_mem: '16MB', 'auto_explain.log_min_duration': 250, jit: false };
    const c = resolve({ postgres: { maxConnections: 500, parameters } });
    expect(c.postgres.maxConnections).toBe(500);
    expect(c.postgres.parameters).toEqual(parameters);
    expect(c.pgpool.connectionBudget.available).toBe(497);
  });

  it('postgres.allowedCidrs accepts IPv4 and IPv6 ranges', () => {
    const c = resolve({ postgres: { allowedCidrs: ['10.244.0.0/16', 'fd00::/8'] } });
    expect(c.postgres.allowedCidrs).toEqual(['10.244.0.0/16', 'fd00::/8']);
    const forms = ['::/0', '2001:db8::/32', 'fe80::1/128', '::ffff:10.0.0.0/104', '2001:db8:0:0:0:0:0:1/128', '0.0.0.0/0', '255.255.255.255/32'];
    expect(resolve({ postgres: { allowedCidrs: forms } }).postgres.allowedCidrs).toEqual(forms);
  });

  it('members.replicas sets the member count, the backends and the WAL senders', () => {
    const c = resolve({ members: { replicas: 9 }, postgres: { maxConnections: 400 } });
    expect(membersOf(c).replicas).toBe(9);
    expect(c.pgpool.backends).toHaveLength(9);
    expect(c.postgres.maxWalSenders).toBe(13);
  });

  it('members.witness with 2 members adds a witness tier with node id 9000, priority 0, 1Gi on the members class', () => {
    const c = resolve({ members: { replicas: 2, witness: true, storage: { storageClassName: 'fast' } } });
    expect(c.tiers.map((t) => t.kind)).toEqual(['member', 'witness']);
    const witness = c.tiers[1];
    expect(witness).toMatchObject({
      statefulSetName: 'c-witness',
      component: 'witness',
      replicas: 1,
      nodeIdBase: 9000,
      priorities: [0],
      defaultPriority: 0,
      storage: { size: '1Gi', storageClassName: 'fast' },
      syncWave: 1,
    });
    // The witness is no Pgpool-II backend.
    expect(c.pgpool.backends.map((b) => b.nodeName)).toEqual(['c-node-0', 'c-node-1']);
  });

  it('members.priorities apply per ordinal, missing ordinals get 100', () => {
    expect(membersOf(resolve({ members: { replicas: 5, priorities: [100, 50, 0] } })).priorities).toEqual([100, 50, 0, 100, 100]);
  });

  it('members.storage and members.resources are used by the members and inherited by cascades', () => {
    const c = resolve({
      members: { storage: { size: '100Gi', storageClassName: 'fast-ssd' }, resources: { cpuRequest: '2', cpuLimit: '4', memoryRequest: '4Gi', memoryLimit: '8Gi' } },
      cascades: [{ name: 'r' }, { name: 's', storage: { size: '20Gi' }, resources: { cpuRequest: '1' } }],
    });
    const expectedResources = { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '4', memory: '8Gi' } };
    expect(c.tiers[0].storage).toEqual({ size: '100Gi', storageClassName: 'fast-ssd' });
    expect(c.tiers[0].resources).toEqual(expectedResources);
    expect(c.tiers[1].storage).toEqual({ size: '100Gi', storageClassName: 'fast-ssd' });
    expect(c.tiers[1].resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '8Gi' } });
    expect(c.tiers[2].storage).toEqual({ size: '20Gi', storageClassName: 'fast-ssd' });
    expect(c.tiers[2].resources.requests).toEqual({ cpu: '1', memory: '4Gi' });
  });

  it('cascades: names, replicas (default 2), upstream, node ids 2000 + 1000k, priority 0 unless promotable, waves after pgpool', () => {
    const c = resolve({
      cascades: [{ name: 'fanout' }, { name: 'reporting', replicas: 3, upstream: 'fanout', promotable: true }, { name: 'dr', nodeIdBase: 7000 }],
    });
    expect(c.tiers.map((t) => [t.kind, t.statefulSetName, t.component, t.replicas, t.nodeIdBase, t.defaultPriority, t.upstreamStatefulSetName, t.syncWave])).toEqual([
      ['member', 'c-node', 'member', 3, 1000, 100, undefined, 1],
      ['cascade', 'c-fanout', 'cascade-fanout', 2, 2000, 0, 'c-node', 3],
      ['cascade', 'c-reporting', 'cascade-reporting', 3, 3000, 50, 'c-fanout', 4],
      ['cascade', 'c-dr', 'cascade-dr', 2, 7000, 0, 'c-node', 5],
    ]);
    // Only the promotable layer (reporting) adds Pgpool-II backends, after the members; every
    // cascade counts for WAL senders and the repmgr budget.
    expect(c.pgpool.backends.map((b) => [b.index, b.nodeName])).toEqual([
      [0, 'c-node-0'],
      [1, 'c-node-1'],
      [2, 'c-node-2'],
      [3, 'c-reporting-0'],
      [4, 'c-reporting-1'],
      [5, 'c-reporting-2'],
    ]);
    expect(c.pgpool.backends[4].host).toBe(podHost(c, c.tiers[2], 1));
    expect(c.postgres.maxWalSenders).toBe(Math.max(10, 3 + 2 + 3 + 2 + 4));
    expect(c.pgpool.connectionBudget.repmgrConnections).toBe(3 + 2 + 3 + 2 + 5);
  });

  it('Pgpool-II backends: members first (index = ordinal), then the pods of promotable layers in declaration order; non-promotable layers and the witness add none', () => {
    const none = resolve({ cascades: [{ name: 'a', replicas: 3 }, { name: 'b', upstream: 'a' }] });
    expect(none.pgpool.backends).toEqual(resolve().pgpool.backends);
    const c = resolve({
      namespace: 'shop',
      clusterDomain: 'k8s.internal',
      members: { replicas: 2, witness: true },
      cascades: [{ name: 'dr', replicas: 2, promotable: true }, { name: 'ro', replicas: 4 }, { name: 'dr2', replicas: 1, upstream: 'ro', promotable: true }],
    });
    expect(c.pgpool.backends).toEqual(
      ['c-node-0', 'c-node-1', 'c-dr-0', 'c-dr-1', 'c-dr2-0'].map((pod, index) => {
        const sts = pod.replace(/-\d+$/, '');
        return { index, host: `${pod}.${sts}.shop.svc.k8s.internal`, port: 5432, nodeName: pod };
      }),
    );
  });

  it('a cascade nodeIdBase exactly 100 from another tier is accepted', () => {
    const c = resolve({ cascades: [{ name: 'a' }, { name: 'b', nodeIdBase: 2100 }] });
    expect(c.tiers[2].nodeIdBase).toBe(2100);
  });

  it('replication quorum sets the quorum size (default 1)', () => {
    expect(resolve({ replication: { mode: 'quorum' } }).synchronousQuorum).toBe(1);
    expect(resolve({ members: { replicas: 5 }, replication: { mode: 'quorum', standbys: 2 } }).synchronousQuorum).toBe(2);
    expect(resolve({ replication: { mode: 'async' } }).synchronousQuorum).toBe(0);
  });

  it('failover timing is kept', () => {
    const timing = { monitorIntervalSeconds: 2, reconnectAttempts: 3, reconnectIntervalSeconds: 4, connectTimeoutSeconds: 5 };
    // Detection: 2 + 3 x (4 + 5) = 29 s; the entrypoint's failover wait: 2 x 29 + 30.
    expect(resolve({ failover: timing }).timing).toEqual({ ...timing, failureDetectionSeconds: 29, pgpoolDetectionSeconds: 28, failoverWaitSeconds: 88 });
  });

  it.each(['4.3', '4.4', '4.5', '4.6'] as const)('pgpool.version %s selects the matching default image', (version) => {
    const c = resolve({ pgpool: { version } });
    expect(c.pgpool.version).toBe(version);
    expect(c.pgpool.image).toBe(`ghcr.io/cdk8s-pg-ha/pgpool:${PACKAGE_VERSION}-pgpool${version}`);
  });

  it('pgpool sizing, load balancing and resources are kept', () => {
    const c = resolve({
      postgres: { maxConnections: 400 },
      pgpool: {
        replicas: 3,
        numInitChildren: 20,
        maxPool: 3,
        loadBalancing: false,
        statementLevelLoadBalancing: true,
        maxReplicationDelayBytes: 0,
        resources: { cpuRequest: '200m', memoryRequest: '256Mi', memoryLimit: '1Gi' },
      },
    });
    expect(c.pgpool).toMatchObject({
      replicas: 3,
      numInitChildren: 20,
      maxPool: 3,
      loadBalancing: false,
      statementLevelLoadBalancing: true,
      maxReplicationDelayBytes: 0,
      resources: { requests: { cpu: '200m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    });
    expect(c.pgpool.connectionBudget).toMatchObject({ pgpoolPods: 4, pooledConnections: 240, checkConnections: 12 });
  });

  it('pgpool.drainSeconds and terminationGracePeriodSeconds are kept when they fit', () => {
    expect(resolve({ pgpool: { drainSeconds: 47, terminationGracePeriodSeconds: 60 } }).pgpool).toMatchObject({ drainSeconds: 47, terminationGracePeriodSeconds: 60 });
    expect(resolve({ pgpool: { drainSeconds: 0, terminationGracePeriodSeconds: 13 } }).pgpool).toMatchObject({ drainSeconds: 0, terminationGracePeriodSeconds: 13 });
  });

  it('pgpool.allowSinglePgpool allows 1 replica', () => {
    expect(resolve({ pgpool: { replicas: 1, allowSinglePgpool: true } }).pgpool.replicas).toBe(1);
  });

  it('a budget exactly at max_connections - 3 is accepted, one more connection is not', () => {
    // 3 pods x 37 x 2 = 222 + 9 + 8 = 239; 242 - 3 = 239.
    expect(resolve({ pgpool: { numInitChildren: 37 }, postgres: { maxConnections: 242 } }).pgpool.connectionBudget.total).toBe(239);
    expect(configErrorOf(() => resolve({ pgpool: { numInitChildren: 37 }, postgres: { maxConnections: 241 } })).prop).toBe('pgpool');
  });

  it('credentials.secretName and users are kept; appDatabase defaults to appUser', () => {
    const c = resolve({ credentials: { secretName: 'shop.db-creds' }, users: { appUser: 'shop', monitorUser: 'mon' } });
    expect(c.credentialsSecretName).toBe('shop.db-creds');
    expect(c.users).toMatchObject({ appUser: 'shop', appDatabase: 'shop', monitorUser: 'mon' });
    expect(resolve({ users: { appUser: 'shop', appDatabase: 'orders' } }).users.appDatabase).toBe('orders');
  });

  it('credentials.externalSecret: off by default; when set, kept with SecretStore and 1h as defaults', () => {
    expect(resolve().externalSecret).toBeUndefined();
    expect(resolve({ credentials: { externalSecret: { storeName: 'vault', remoteKey: 'db/orders' } } }).externalSecret).toEqual({
      storeName: 'vault',
      storeKind: 'SecretStore',
      remoteKey: 'db/orders',
      refreshInterval: '1h',
    });
    expect(
      resolve({ credentials: { externalSecret: { storeName: 'vault', storeKind: 'ClusterSecretStore', remoteKey: 'db/orders', refreshInterval: '1h30m' } } }).externalSecret,
    ).toMatchObject({ storeKind: 'ClusterSecretStore', refreshInterval: '1h30m' });
    expect(resolve({ credentials: { externalSecret: { storeName: 'vault', remoteKey: 'k', refreshInterval: '0' } } }).externalSecret?.refreshInterval).toBe('0');
  });

  it('scheduling is kept', () => {
    const scheduling: NonNullable<PostgresClusterProps['scheduling']> = {
      spreadAcrossHosts: 'required',
      spreadAcrossZones: 'off',
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoExecute', tolerationSeconds: 60 }, { operator: 'Exists' }],
      nodeSelector: { 'node-role.example.com/db': 'true' },
    };
    expect(resolve({ scheduling }).scheduling).toEqual(scheduling);
  });

  it('labels and annotations are kept (annotation values are free text)', () => {
    const c = resolve({ labels: { team: 'shop', 'example.com/tier': 'gold' }, annotations: { 'example.com/owner': 'Data Platform, team #3' } });
    expect(c.labels).toEqual({ team: 'shop', 'example.com/tier': 'gold' });
    expect(c.annotations).toEqual({ 'example.com/owner': 'Data Platform, team #3' });
  });

  it('argoSyncWaveBase shifts every wave; false removes them', () => {
    const c = resolve({ argoSyncWaveBase: 10, cascades: [{ name: 'r' }] });
    expect([c.configSyncWave, c.tiers[0].syncWave, c.pgpool.syncWave, c.tiers[1].syncWave]).toEqual([10, 11, 12, 13]);
    const negative = resolve({ argoSyncWaveBase: -5 });
    expect(negative.configSyncWave).toBe(-5);
    const off = resolve({ argoSyncWaveBase: false, cascades: [{ name: 'r' }], members: { replicas: 2, witness: true } });
    expect(off.configSyncWave).toBeUndefined();
    expect(off.pgpool.syncWave).toBeUndefined();
    expect(off.tiers.map((t) => t.syncWave)).toEqual([undefined, undefined, undefined]);
  });

  it('the resolved model is a pure function of the props (resolving twice gives equal models)', () => {
    const p: PostgresClusterProps = { cascades: [{ name: 'r' }], replication: { mode: 'quorum' } };
    expect(resolve(p)).toEqual(resolve(p));
  });

  it('a chart namespace reaches the model through the construct', () => {
    const chart = new Chart(Testing.app(), 'x', { namespace: 'payments' });
    const cluster = new PostgresCluster(chart, 'ledger');
    expect(cluster.spec.namespace).toBe('payments');
    expect(cluster.endpoint).toBe('ledger-pgpool.payments.svc.cluster.local');
    const explicit = new PostgresCluster(chart, 'other', { namespace: 'elsewhere' });
    expect(explicit.spec.namespace).toBe('elsewhere');
  });
});
