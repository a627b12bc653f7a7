/**
 * Every time bound of the cluster tests, in one place. Each is a designed worst case computed
 * from the product's own constants (the example cluster's failover timing, termination grace
 * periods, probe and supervision intervals), times LOAD_FACTOR: how much slower than designed a
 * loaded 2-core CI machine may run. A bound is a limit for a failure, not an expectation: the
 * measured times are printed by each test and are far below.
 *
 *   PGHA_TEST_LOAD_FACTOR=5 sudo npm run test:cluster    # on a machine busier than CI
 */
import { EXAMPLE_CLUSTER_NAME, EXAMPLE_NAMESPACE } from '../../charts/example-cluster';
import { NODE_TERMINATION_GRACE_SECONDS } from '../../lib/constructs/postgres-tier';
import { resolveCluster } from '../../lib/model/resolve-cluster';

/** How much slower than designed the machine may be. The one factor every bound uses. */
export const LOAD_FACTOR = Number(process.env.PGHA_TEST_LOAD_FACTOR ?? '3');

const example = resolveCluster({}, EXAMPLE_CLUSTER_NAME, EXAMPLE_NAMESPACE);
const timing = example.timing;
/** A stopping Pgpool-II pod: leaving the Service, the drain, the fast shutdown, within its grace period. */
const PGPOOL_TERMINATION_GRACE_SECONDS = example.pgpool.terminationGracePeriodSeconds;

// The entrypoints' own intervals (defaults in lib/scripts; not overridden by the constructs).
/** node-entrypoint.sh PGHA_SUPERVISE_INTERVAL: one supervision pass. */
const SUPERVISE_INTERVAL_S = 5;
/** node-entrypoint.sh PGHA_ELECTION_TIMEOUT: a held node waits this long for every member. */
const ELECTION_TIMEOUT_S = 60;
/** pgpool-entrypoint.sh PGHA_PGPOOL_CHECK_INTERVAL: one reconcile pass. */
const PGPOOL_CHECK_INTERVAL_S = 5;
/** pgpool-check-watch.sh PGHA_CHECK_WATCH_TICK: how often the health checks are sampled. */
const CHECK_WATCH_TICK_S = 0.25;
/** pgpool-decide.sh HUNG_CHECK_MARGIN_MS: how far past its longest wait a check counts as hung. */
const HUNG_CHECK_MARGIN_S = 0.5;
/** status-server.pl PGHA_READY_MAX_AGE: a pod turns Ready at most this long after it serves. */
const READY_MAX_AGE_S = 12;
/** The Pgpool-II readiness probe (pgpool-deployment.ts): period 3 s, 2 failures. */
const PGPOOL_READINESS_FAILURE_S = 3 * 2;
/** The runtime's longest restart back-off in the test clusters (harness: backoffMaxSeconds). */
export const BACKOFF_MAX_S = 10;

/**
 * The one design budget that is not a product constant: a clone, rewind or bootstrap of the
 * tests' small databases (a few MB) on a quiet machine, measured at 1-5 s.
 */
const CLONE_OR_REJOIN_S = 30;

/** Pgpool-II detaches a dead backend: one health-check period, then every retry with its timeout. */
const PGPOOL_DETECTION_S = timing.pgpoolDetectionSeconds;

/** A pod's container (re)started and its entrypoint's first decision: back-off, then a pass. */
const POD_START_S = BACKOFF_MAX_S + SUPERVISE_INTERVAL_S;

/**
 * A failover, worst designed path: repmgrd does not promote, the entrypoint's election steps in
 * after the failover wait and promotes within a pass, then Pgpool-II detaches the old primary
 * and a reconcile pass points it at the new one.
 */
const FAILOVER_S = timing.failoverWaitSeconds + SUPERVISE_INTERVAL_S + PGPOOL_DETECTION_S + PGPOOL_CHECK_INTERVAL_S;

const ms = (seconds: number) => Math.round(LOAD_FACTOR * seconds * 1000);

export const BOUNDS = {
  /** Apply -> every pod Ready: ordinal 0 bootstraps, the standbys clone, the cascades clone from them. */
  allReadyMs: ms(POD_START_S + 2 * CLONE_OR_REJOIN_S + READY_MAX_AGE_S),
  /** Ready -> replication and Pgpool-II converged: Pgpool-II's auto failback (5 s) and two reconcile passes. */
  convergedMs: ms(PGPOOL_DETECTION_S + 2 * PGPOOL_CHECK_INTERVAL_S + 5),
  /** Fault -> first write acknowledged on a new timeline (primary killed, crashed, partitioned). */
  failoverMs: ms(FAILOVER_S),
  /** A frozen primary: repmgrd may block on it, so the held election also waits its timeout. */
  frozenFailoverMs: ms(ELECTION_TIMEOUT_S + FAILOVER_S),
  /** Fault -> the old primary streams again: the failover, its restart, hold, rewind or re-clone. */
  rejoinMs: ms(FAILOVER_S + POD_START_S + CLONE_OR_REJOIN_S),
  /** A PostgreSQL pod's replacement: grace, start, rejoin (the roll bound is the sum over pods). */
  nodeReplacementMs: ms(NODE_TERMINATION_GRACE_SECONDS + POD_START_S + CLONE_OR_REJOIN_S),
  /** A Pgpool-II pod's replacement: grace, start, first session through it, Ready. */
  pgpoolReplacementMs: ms(PGPOOL_TERMINATION_GRACE_SECONDS + POD_START_S + PGPOOL_CHECK_INTERVAL_S + READY_MAX_AGE_S),
  /**
   * A Pgpool-II pod that cannot reach the primary leaves the Service: a reconcile pass marks it
   * cut, or, when PCP blocks on the unreachable backend meanwhile, its status goes stale
   * (READY_MAX_AGE); then the readiness probe fails twice.
   */
  pgpoolLeavesServiceMs: ms(PGPOOL_CHECK_INTERVAL_S + READY_MAX_AGE_S + PGPOOL_READINESS_FAILURE_S),
  /**
   * The longest write gap while a member standby is cut off: Pgpool-II waits for every backend
   * it holds a connection to at each extended-protocol Sync (node-postgres sends one per
   * parameterized query; simple-protocol queries do not wait), so every session stalls until the
   * standbys' health check (faster than the primary's) detaches the silent standby, which
   * restarts the children: one period, one 1 s attempt, then a reconnect.
   */
  standbyLossWriteGapMs: ms(example.pgpool.standbyHealthCheck.detectionSeconds),
  /**
   * The same when the standby's health check hangs instead of failing: the standby is frozen
   * (its kernel completes the handshake, nobody answers the login), or a cut fell between the
   * handshake and the login's answer. Pgpool-II's timeout does not end that read; the
   * entrypoint's watch sees the check unscheduled past its wait (the timeout that did not end
   * it, then its longest wait plus the margin) and detaches the standby; sampling costs up to
   * two ticks (one to see the last run, one to see the bound passed).
   */
  standbyHungCheckWriteGapMs: ms(
    example.pgpool.standbyHealthCheck.detectionSeconds + example.pgpool.standbyHealthCheck.timeoutSeconds + HUNG_CHECK_MARGIN_S + 2 * CHECK_WATCH_TICK_S,
  ),
  /** A write acknowledged by a cluster that is not failing over (before a fault, after a roll). */
  steadyWriteMs: ms(PGPOOL_DETECTION_S + PGPOOL_CHECK_INTERVAL_S),
};

/** A roll of `pods` PostgreSQL pods, one after another (a StatefulSet rolling update). */
export function rollMs(pods: number): number {
  return pods * BOUNDS.nodeReplacementMs;
}

export function describeBounds(): string {
  return `load factor ${LOAD_FACTOR}: ${Object.entries(BOUNDS)
    .map(([k, v]) => `${k} ${(v / 1000).toFixed(0)} s`)
    .join(', ')}`;
}
