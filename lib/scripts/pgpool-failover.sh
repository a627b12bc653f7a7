#!/bin/bash
# Pgpool-II's failover_command: run by pgpool's main process, synchronously, each time it
# detaches a backend; pgpool looks for the new primary only after this returns.
#   pgpool-failover.sh FAILED_ID OLD_PRIMARY_ID WAIT_SECONDS
# Why it exists: with no primary, Pgpool-II sends writes to its first backend that is up, a
# standby, and clients get "cannot execute INSERT in a read-only transaction" (SQLSTATE 25006),
# which many applications treat as permanent. While this runs, pgpool is "switching": it has
# no children to accept new sessions (the kernel queues them) and 4.5+ children wait for the
# switch to end, so clients wait instead of failing. So when the primary was detached:
#   1. wait up to WAIT_SECONDS (repmgr's failure detection plus a promotion, rendered from the
#      cluster's timing) for another backend to answer as the primary: pgpool's search then
#      finds it, and no write ever reaches a standby;
#   2. if none does, or as soon as a backend that pgpool has up stops answering, detach every
#      other backend, so that pgpool refuses new sessions ("all
#      backend nodes are down", SQLSTATE 08S01) instead of routing writes to a standby. The
#      entrypoint's reconcile pass attaches the primary as soon as it answers, then the
#      standbys. The two cases are logged apart: this pod cut off from a primary that still
#      feeds the standbys, or no primary anywhere (a failover still under way).
# Why a silent backend ends the wait: pgpool's health check of a backend it has up queues a
# detach request at every failed cycle (about once a second for a standby) while this
# failover holds the queue, which has 10 entries and drops what does not fit without an error
# (pcp_detach_node still reports success). Waiting on would let those requests crowd out the
# detaches of step 2, and the switch would end with a standby as the write target.
# A standby's detach returns at once: pgpool keeps its primary.
set -uo pipefail

: "${PGHA_PGPOOL_RUN_DIR:=/run/pgpool}"
: "${PGHA_PCP_PORT:=9898}"
: "${PGHA_MONITOR_USER:=monitor}"
# pgpool-entrypoint.sh's pod-local PCP user (pgpool passes its environment on).
: "${PGHA_PCP_USER:=pcp}"
: "${PGHA_CONNECT_TIMEOUT:=2}"
# A walsender sends a keepalive at least every wal_sender_timeout / 2 (5 s here); a standby
# that heard from its upstream more recently than this proves a live primary.
: "${PGHA_FRESH_WAL_SECONDS:=7}"
SCRIPTS_DIR=$(dirname "${BASH_SOURCE[0]}")
LOG_TAG=pgpool-failover
# shellcheck source=lib-base.sh
source "$SCRIPTS_DIR/lib-base.sh"
# shellcheck source=pgpool-decide.sh
source "$SCRIPTS_DIR/pgpool-decide.sh"

failed=${1:?failed node id}
old_primary=${2:-}
wait_seconds=${3:?seconds to wait for a new primary}
BACKENDS_FILE=$PGHA_PGPOOL_RUN_DIR/backends

if [[ $failed != "$old_primary" ]]; then
  if [[ $old_primary == -1 || -z $old_primary ]]; then
    log "backend $failed detached; pgpool had no primary (its search runs next)"
  else
    log "backend $failed (a standby) detached; pgpool keeps primary $old_primary"
  fi
  exit 0
fi
# The primary is being detached: the entrypoint's health-check watch must not take any backend
# for a standby until a reconcile pass has seen the new primary (pgpool-check-watch.sh).
: >"$PGHA_PGPOOL_RUN_DIR/known-primary"

# "ID|RECOVERY|WALRECEIVER|AGE" of backend $1 at $2:$3 (pgpool-decide.sh), "ID|" when it does
# not answer within the connect timeout plus a second.
probe() {
  local out
  out=$(timeout $((PGHA_CONNECT_TIMEOUT + 1)) psql -X -At -q -F '|' \
    "host=$2 port=$3 user=$PGHA_MONITOR_USER dbname=postgres connect_timeout=$PGHA_CONNECT_TIMEOUT" \
    -c "SELECT pg_is_in_recovery()::text, coalesce(r.status, 'none'), coalesce(extract(epoch FROM now() - r.last_msg_receipt_time)::int, -1)
        FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver r ON true" 2>/dev/null)
  printf '%s|%s' "$1" "$out"
}

declare -a ids=() hosts=() ports=()
while read -r id host port; do
  [[ $id == "$failed" ]] && continue
  ids+=("$id") hosts+=("$host") ports+=("$port")
done <"$BACKENDS_FILE" || { log "cannot read $BACKENDS_FILE: pgpool looks for the primary at once"; exit 0; }

# pgpool's status of backend $1 (1 or 2: up, 3: down), empty when PCP does not answer.
pgpool_status() {
  timeout 5 pcp_node_info -h "$PGHA_PGPOOL_RUN_DIR" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w -v -n "$1" 2>/dev/null |
    sed -n 's/^Status[[:space:]]*:[[:space:]]*\([0-9]\).*/\1/p'
}

# Tells the entrypoint's reconcile loop that this failover is held on purpose, not stuck.
WAITING=$PGHA_PGPOOL_RUN_DIR/failover-waiting
: >"$WAITING"
trap 'rm -f "$WAITING"' EXIT
log "backend $failed, the primary, detached: waiting up to ${wait_seconds}s for another backend to answer as the primary (new sessions wait meanwhile)"
deadline=$((EPOCHSECONDS + wait_seconds))
silent=
while :; do
  lines=()
  for i in "${!ids[@]}"; do
    lines+=("$(probe "${ids[i]}" "${hosts[i]}" "${ports[i]}")")
  done
  decide_primary_seen "$PGHA_FRESH_WAL_SECONDS" "${lines[@]}"
  if [[ $VERDICT == primary ]]; then
    log "$REASON: pgpool's search finds it (waited $((EPOCHSECONDS + wait_seconds - deadline))s)"
    exit 0
  fi
  for line in "${lines[@]}"; do
    [[ $line == *\| ]] || continue
    status=$(pgpool_status "${line%%|*}")
    [[ $status == [12] ]] && silent=${line%%|*} && break 2
  done
  ((EPOCHSECONDS < deadline)) || break
  sleep 1
done

if [[ -n $silent ]]; then
  log "no primary yet ($REASON), and backend $silent does not answer while pgpool has it up: its health check would crowd this failover's detaches out of pgpool's request queue; detaching backends ${ids[*]} now so that this pod refuses new sessions instead of sending writes to a standby; the reconcile loop attaches them again once a primary answers"
else
  log "no primary after ${wait_seconds}s ($REASON): detaching backends ${ids[*]} so that this pod refuses new sessions instead of sending writes to a standby; the reconcile loop attaches them again once a primary answers"
fi
detach() {
  timeout 10 pcp_detach_node -h "$PGHA_PGPOOL_RUN_DIR" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w -n "$1" >/dev/null 2>&1
}
for id in "${ids[@]}"; do
  # Queued behind this failover: pgpool handles them before it ends the switch.
  detach "$id" &
done

# The detaches above may not take: pgpool's queue drops what does not fit, and its later rounds
# (one search for the primary per queued request, up to search_primary_node_timeout each) may
# end with a standby still up and no primary, the write target. A watcher outlives this script
# and, for WATCH_SECONDS, detaches any backend pgpool has up while it has no primary
# (decide_orphan_backends), every WATCH_INTERVAL: while pgpool still switches, its request
# joins the same switch, so no session sees the standby. The reconcile loop has the same rule
# at its own pace, and attaches standbys only once pgpool has the live primary, so the two
# never fight.
: "${PGHA_FAILOVER_WATCH_SECONDS:=15}"
: "${PGHA_FAILOVER_WATCH_INTERVAL:=0.3}"
watch_orphans() {
  local deadline=$((EPOCHSECONDS + PGHA_FAILOVER_WATCH_SECONDS)) info id pool_primary
  while ((EPOCHSECONDS < deadline)); do
    sleep "$PGHA_FAILOVER_WATCH_INTERVAL"
    info=$(timeout 5 pcp_node_info -h "$PGHA_PGPOOL_RUN_DIR" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w -a -v 2>/dev/null) || continue
    parse_node_info "$info"
    pool_primary=''
    for ((id = 0; id < NODE_COUNT; id++)); do
      [[ ${NODE_ROLES[id]:-} == primary ]] && pool_primary=$id
    done
    decide_orphan_backends "$pool_primary" "" "${NODE_STATUSES[@]}"
    [[ $VERDICT == detach ]] || continue
    log "$REASON: pcp_detach_node $REPLY"
    for id in $REPLY; do detach "$id"; done
  done
}
watch_orphans </dev/null &
exit 0
