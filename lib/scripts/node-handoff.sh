#!/bin/bash
# Handoff: the primary's graceful stop (pod deleted by a rolling update, a drain, a scale to
# zero) hands the primary role to a standby itself instead of leaving a failure for repmgrd
# to detect. Why: repmgrd needs reconnect_attempts x reconnect_interval (3 s by default) to
# call the primary gone; the handoff promotes the standby about a second after SIGTERM. And
# nothing acknowledged is lost even with asynchronous replication: the target is chosen only
# once it holds the old primary's shutdown checkpoint, i.e. every commit before it.
#   1. Pause repmgrd on every member standby (repmgr.repmgrd_pause): otherwise they would
#      start their own election once they notice this node is gone, and could promote a
#      second node. The pause lives in each standby's PostgreSQL (it survives a restart).
#   2. CHECKPOINT while still serving (the shutdown checkpoint then has little to write),
#      stop repmgrd, fast shutdown: PostgreSQL waits until every connected standby has
#      flushed the WAL up to and including the shutdown checkpoint.
#   3. Target: the first candidate (decide_handoff_order) whose received WAL passed that
#      checkpoint (decide_handoff_candidate). pg_promote() on it, then the repmgr metadata
#      repmgr standby promote would write and a standby_promote event.
#   4. Tell the other standbys' repmgrd to follow the target (repmgr.notify_follow_primary:
#      repmgrd reads it while it retries the old primary).
# The pauses are lifted by each standby's own entrypoint (pause_check). Any step failing
# before the promotion lifts the pauses here at once, and repmgrd fails over as after a crash.
# Sourced by node-entrypoint.sh; never executed.
# SC2034: state variables set here are read by the other sourced files.
# shellcheck disable=SC2034

HANDOFF_WHY=
handoff() {
  local -a hosts standbys=() cands paused=()
  local h state ckpt lsn target='' tid t0=${EPOCHREALTIME/./}
  # The member list of this pod's environment can be older than the cluster: during the
  # rolling update of a scale-up the new members are registered but not in it. Members the
  # metadata knows are paused and told too; a standby left out keeps repmgrd running, which
  # would elect on its own, or resume monitoring the old primary's new pod.
  mapfile -t hosts < <(known_member_hosts)
  for h in "${hosts[@]}"; do
    [[ $h == "$SELF_HOST" ]] || standbys+=("$h")
  done
  gather_facts "${standbys[@]}"
  standbys=()
  for h in "${FACTS[@]}"; do
    status_get "$h" state
    [[ $REPLY == standby ]] || continue
    status_get "$h" host
    standbys+=("$REPLY")
  done
  decide_handoff_order "$POD_SPEC" "${FACTS[@]}" || { HANDOFF_WHY=$REASON; return 1; }
  read -r -a cands <<<"$REPLY"
  log "handoff: graceful stop of the primary; $REASON; pausing repmgrd on ${standbys[*]%%.*}"
  for h in "${standbys[@]}"; do
    if peer_sql "$h" "SELECT repmgr.repmgrd_pause(true)" >/dev/null; then
      paused+=("$h")
    else
      HANDOFF_WHY="cannot pause repmgrd on ${h%%.*}"
      handoff_unpause "${paused[@]}"
      return 1
    fi
  done
  timeout 30 psql -X -q -U "$PGHA_SUPERUSER" -d postgres -c CHECKPOINT >/dev/null 2>&1 ||
    log "handoff: CHECKPOINT failed or took over 30 s; the shutdown checkpoint does the work"
  stop_repmgrd
  if ! pg_ctl -D "$PGDATA" -w -t 300 -m fast stop >/dev/null; then
    HANDOFF_WHY="fast shutdown failed"
    handoff_unpause "${paused[@]}"
    return 1
  fi
  state=$(controldata_field 'Database cluster state')
  ckpt=$(controldata_field 'Latest checkpoint location')
  if [[ $state != 'shut down' || $ckpt != */* ]]; then
    HANDOFF_WHY="pg_controldata after the shutdown: state '$state', checkpoint '$ckpt'"
    handoff_unpause "${paused[@]}"
    return 1
  fi
  for h in "${cands[@]}"; do
    lsn=$(peer_sql "$h" "SELECT pg_last_wal_receive_lsn()") || continue
    decide_handoff_candidate "$ckpt" "$lsn" && { target=$h; break; }
    log "handoff: ${h%%.*}: $REASON"
  done
  if [[ -z $target ]]; then
    HANDOFF_WHY="no candidate received the shutdown checkpoint $ckpt"
    handoff_unpause "${paused[@]}"
    return 1
  fi
  tid=$(node_id_of_host "$target")
  if [[ $(peer_sql "$target" "SELECT pg_promote(true, 60)") != t ]]; then
    HANDOFF_WHY="pg_promote() on ${target%%.*} failed"
    handoff_unpause "${paused[@]}"
    return 1
  fi
  log "handoff: ${target%%.*} promoted $(((${EPOCHREALTIME/./} - t0) / 1000)) ms after SIGTERM ($REASON)"
  peer_sql "$target" "$(primary_record_sql "$tid" "promoted by the handoff of $POD_NAME (graceful stop, shutdown checkpoint $ckpt)")" >/dev/null ||
    log "WARNING: handoff: could not update the repmgr metadata on ${target%%.*}; its entrypoint writes it"
  for h in "${paused[@]}"; do
    [[ $h == "$target" ]] && continue
    peer_sql "$h" "SELECT repmgr.notify_follow_primary($tid)" >/dev/null ||
      log "WARNING: handoff: could not notify ${h%%.*}; its entrypoint resumes repmgrd, which then finds the new primary"
  done
  log "handoff: done in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms; ${paused[*]%%.*} resume repmgrd once they see the new primary"
  return 0
}

# The metadata `repmgr standby promote` writes after a promotion, for node $1 (run on it):
# the old primary's record inactive, this one primary without upstream, a standby_promote
# event with details $2. synchronous_commit local: under quorum commit the new primary has
# no standby yet, and the commit would wait for one.
primary_record_sql() {
  printf "BEGIN; SET LOCAL synchronous_commit = local;
    UPDATE repmgr.nodes SET active = false WHERE type = 'primary' AND node_id <> %s;
    UPDATE repmgr.nodes SET type = 'primary', upstream_node_id = NULL, active = true WHERE node_id = %s;
    INSERT INTO repmgr.events (node_id, event, successful, details) VALUES (%s, 'standby_promote', true, '%s');
    COMMIT" "$1" "$1" "$1" "${2//\'/}"
}

handoff_unpause() {
  local h
  for h in "$@"; do
    peer_sql "$h" "SELECT repmgr.repmgrd_pause(false)" >/dev/null ||
      log "WARNING: handoff: could not resume repmgrd on ${h%%.*}; its entrypoint does after ${PGHA_HANDOFF_PAUSE_MAX}s"
  done
}

# Lifts the repmgrd pause a primary's handoff left on this member (decide_pause), on every
# supervision pass while it lasts: the target restarts its repmgrd (it would otherwise start
# an election of its own once unpaused), after writing its own primary record if the old
# primary stopped before it could; a standby resumes once it streams from a primary that is
# not stopping, follows it itself after two passes, or resumes anyway after
# PGHA_HANDOFF_PAUSE_MAX seconds (the old primary died mid-handoff). An operator's
# `repmgr service pause` is lifted by the same rules: pausing is no maintenance switch here.
PAUSED_SINCE=0 FOLLOW_PASSES=0
pause_check() {
  [[ $PGHA_ROLE_TIER == member ]] || return 0
  local primary=0 record=1 prim='' up=''
  local_query "SELECT repmgr.repmgrd_is_paused()" || return 0
  [[ ${SESSION_ROWS[0]:-} == t ]] || { PAUSED_SINCE=0 FOLLOW_PASSES=0; return 0; }
  ((PAUSED_SINCE == 0)) && PAUSED_SINCE=$EPOCHSECONDS
  if [[ $CURRENT_STATE == primary ]]; then
    primary=1
    [[ $(repmgr_sql "SELECT type FROM repmgr.nodes WHERE node_id = $NODE_ID" 2>/dev/null) == primary ]] || record=0
  elif prim=$(find_primary) && [[ $(read_peer_status "$prim") != *state=stopping* ]]; then
    streaming_upstream_host
    up=$UPSTREAM_HOST
  else
    prim=
  fi
  decide_pause "$primary" "$record" "$prim" "$up" "$FOLLOW_PASSES" $((EPOCHSECONDS - PAUSED_SINCE)) "$PGHA_HANDOFF_PAUSE_MAX"
  FOLLOW_PASSES=$REPLY
  case $VERDICT in
    record)
      log "handoff: $REASON"
      repmgr_sql "$(primary_record_sql "$NODE_ID" "record completed by $POD_NAME after a handoff")" >/dev/null 2>&1 ||
        { log_wait "handoff: cannot write the repmgr record of this primary; repmgrd stays paused"; return 0; }
      restart_repmgrd_unpaused
      ;;
    restart)
      log "handoff: $REASON"
      restart_repmgrd_unpaused
      ;;
    follow)
      stop_repmgrd
      follow_node "$(node_id_of_host "$prim")" "$REASON"
      restart_repmgrd_unpaused
      ;;
    resume)
      log "handoff: $REASON"
      resume_repmgrd
      ;;
  esac
  return 0
}
