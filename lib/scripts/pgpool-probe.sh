#!/bin/bash
# Exec probe of the Pgpool-II container: pgpool-probe.sh startup|ready|live.
#   startup: pgpool answers PCP and accepts a client session.
#   ready:   pgpool answers PCP (not "has a primary": see the ready case below).
#   live:    fails only when pgpool is wedged: PCP gives no answer within
#            PGHA_PGPOOL_LIVE_TIMEOUT seconds. A missing primary during a failover is not a
#            reason to restart pgpool (its pods stay in their Service and recover by
#            themselves once the entrypoint's reconcile loop or the health check sees the new
#            primary).
set -uo pipefail

: "${PGHA_PORT:=5432}"
: "${PGHA_PCP_PORT:=9898}"
: "${PGHA_MONITOR_USER:=monitor}"
: "${PGHA_PGPOOL_RUN_DIR:=/run/pgpool}"
: "${PGHA_PGPOOL_LIVE_TIMEOUT:=10}"
export PCPPASSFILE=$PGHA_PGPOOL_RUN_DIR/.pcppass
export PGPASSFILE=$PGHA_PGPOOL_RUN_DIR/.pgpass

pcp_answers() {
  timeout "$1" pcp_node_count -h "$PGHA_PGPOOL_RUN_DIR" -p "$PGHA_PCP_PORT" -U "$PGHA_MONITOR_USER" -w >/dev/null 2>&1
}

session_works() {
  timeout 5 psql -X -At -q -h "$PGHA_PGPOOL_RUN_DIR" -p "$PGHA_PORT" -U "$PGHA_MONITOR_USER" -d postgres \
    -c 'SELECT 1' >/dev/null 2>&1
}

case ${1:-} in
  startup)
    pcp_answers 5 || { echo "pgpool does not answer PCP"; exit 1; }
    session_works || { echo "no session through pgpool"; exit 1; }
    ;;
  ready)
    # Only "Pgpool-II answers": during a failover there is briefly no primary, and a pod that
    # left the Service then would turn the client's short wait into "no endpoints" on every
    # replica at once. Writes wait inside Pgpool-II until the new primary is found instead.
    pcp_answers 5 || { echo "pgpool does not answer PCP"; exit 1; }
    ;;
  live)
    pcp_answers "$PGHA_PGPOOL_LIVE_TIMEOUT" || { echo "pgpool gave no PCP answer in ${PGHA_PGPOOL_LIVE_TIMEOUT}s"; exit 1; }
    ;;
  *)
    echo "usage: $0 startup|ready|live" >&2
    exit 2
    ;;
esac
