#!/bin/bash
# Handoff: the primary's graceful stop (pod deleted by a rolling update, a drain, a scale to
# zero) hands the primary role to a standby itself instead of leaving a failure for repmgrd
# to detect. Why: repmgrd needs reconnect_attempts x reconnect_interval (3 s by default) to
# call the primary gone; the handoff promotes the standby about a second after SIGTERM. And
# nothing acknowledged is lost even with asynchronous replication: the target is chosen only
# once it holds the old primary's shutdown checkpoint, i.e. every commit before it.
#   1. Pause repmgrd on every member standby at once (repmgr.repmgrd_pause): otherwise they would
#      start their own election once they notice this node is gone, and could promote a
#      second node. The pause lives in each standby's PostgreSQL (it survives a restart).
#   2. CHECKPOINT while still serving (the shutdown checkpoint then has little to write),
#      stop repmgrd, fast shutdown: PostgreSQL waits until every connected standby has
#      flushed the WAL up to and including the shutdown checkpoint.
#   3. Target: the first candidate (decide_handoff_order) whose received WAL passed that
#      checkpoint (decide_handoff_candidate). pg_promote() on it, then in the same session the
#      other standbys' slots, the repmgr metadata repmgr standby promote would write with a
#      standby_promote event, and the other standbys' upstream in their records.
#   4. Point the other standbys at the target at once: ALTER SYSTEM SET primary_conninfo (only
#      the host changed) and a reload on each. A paused repmgrd ignores
#      repmgr.notify_follow_primary, and under quorum commit the first write on the target waits
#      for a standby that streams from it: left to the entrypoints' pause_check, that took
#      20-30 s on a loaded machine. Their WAL ends at the old primary's shutdown checkpoint,
#      where the target's new timeline starts, so they switch timelines by streaming; one that
#      cannot is followed or rejoined by its entrypoint.
# The pauses are lifted by each standby's own entrypoint (pause_check). Any step failing
# before the promotion lifts the pauses here at once, and repmgrd fails over as after a crash.
# Sourced by node-entrypoint.sh; never executed.
# SC2034: state variables set here are read by the other sourced files.
# shellcheck disable=SC2034

HANDOFF_WHY=
handoff() {
  local -a hosts standbys=() cands paused=()
  local -A conninfo_of=()
  local h state ckpt lsn row target='' tid t0=${EPOCHREALTIME/./}
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
  # Every standby at once (a psql and a login each: seconds on a loaded machine when done one
  # after the other): paused, and the primary_conninfo it streams with (step 4 points it at the
  # target). Each answer into its own file, "paused" last when it worked.
  local dir=$RUN_DIR/handoff failed=''
  local -a jobs=() lines
  mkdir -p "$dir"
  for h in "${standbys[@]}"; do
    { psql -X -At -q -v ON_ERROR_STOP=1 -d "$(peer_conninfo "$h")" -c "SELECT repmgr.repmgrd_pause(true)" \
      -c "SELECT 'conninfo=' || current_setting('primary_conninfo')" && echo paused; } >"$dir/${h%%.*}" 2>/dev/null &
    jobs+=("$!")
  done
  ((${#jobs[@]} == 0)) || wait "${jobs[@]}"
  for h in "${standbys[@]}"; do
    mapfile -t lines <"$dir/${h%%.*}"
    if [[ ${lines[*]: -1} != paused ]]; then
      failed+=" ${h%%.*}"
      continue
    fi
    paused+=("$h")
    for row in "${lines[@]}"; do
      [[ $row == conninfo=*"host='"*"'"* ]] && conninfo_of[$h]=${row#conninfo=}
    done
  done
  if [[ -n $failed ]]; then
    HANDOFF_WHY="cannot pause repmgrd on${failed}"
    handoff_unpause "${paused[@]}"
    return 1
  fi
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
  # Between the shutdown and pg_promote() every process start counts (about a second each on
  # a loaded machine): node ids without a fork (node_id_reply).
  node_id_reply "$target"
  tid=$REPLY
  local -a followers=()
  local slots='' ids=''
  for h in "${paused[@]}"; do
    [[ $h == "$target" || -z ${conninfo_of[$h]:-} ]] && continue
    followers+=("$h")
    node_id_reply "$h"
    slots+="${slots:+,}'repmgr_slot_$REPLY'"
    ids+="${ids:+,}$REPLY"
  done
  # One session on the target: pg_promote() (it waits for the promotion), then the followers'
  # slots, the metadata `repmgr standby promote` writes, and the followers' upstream. Local
  # commits: under quorum commit the target has no standby yet to confirm them.
  row=$(psql -X -At -q -v ON_ERROR_STOP=1 -d "$(peer_conninfo "$target")" -c "SELECT pg_promote(true, 60)" \
    -c "SET synchronous_commit = local" \
    -c "SELECT count(pg_create_physical_replication_slot(s)) FROM unnest(ARRAY[${slots:-NULL}]::text[]) AS s
        WHERE s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = s)" \
    -c "$(primary_record_sql "$tid" "promoted by the handoff of $POD_NAME (graceful stop, shutdown checkpoint $ckpt)")" \
    -c "UPDATE repmgr.nodes SET upstream_node_id = $tid WHERE node_id IN (${ids:-NULL}) AND type = 'standby'" 2>/dev/null)
  local written=$?
  if [[ ${row%%$'\n'*} != t ]]; then
    HANDOFF_WHY="pg_promote() on ${target%%.*} failed"
    handoff_unpause "${paused[@]}"
    return 1
  fi
  log "handoff: ${target%%.*} promoted $(((${EPOCHREALTIME/./} - t0) / 1000)) ms after SIGTERM ($REASON)"
  ((written == 0)) ||
    log "WARNING: handoff: could not write the repmgr metadata and slots on ${target%%.*}; its entrypoint writes its record, the standbys follow through repmgr"
  handoff_point_followers "$target" "${followers[@]}"
  # A standby that could not be pointed (no primary_conninfo read) is told through repmgr; its
  # entrypoint follows if its repmgrd does not.
  for h in "${paused[@]}"; do
    [[ $h == "$target" || -n ${conninfo_of[$h]:-} ]] && continue
    peer_sql "$h" "SELECT repmgr.notify_follow_primary($tid)" >/dev/null ||
      log "WARNING: handoff: could not notify ${h%%.*}; its entrypoint resumes repmgrd, which then finds the new primary"
  done
  log "handoff: done in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms; ${#followers[@]} standby(s) pointed at ${target%%.*}; ${paused[*]%%.*} resume repmgrd once they see the new primary"
  return 0
}

# Step 4: each follower ($2...) streams from the target $1 from now on: its primary_conninfo with
# only the host changed, then a reload (primary_conninfo is reloadable since PostgreSQL 13: the
# WAL receiver restarts with it). All at once, each bounded by the connect timeout.
handoff_point_followers() {
  local target=$1 h
  local -a jobs=()
  shift
  for h in "$@"; do
    conninfo_pointed_at "${conninfo_of[$h]}" "$target"
    psql -X -At -q -v ON_ERROR_STOP=1 -d "$(peer_conninfo "$h")" \
      -c "ALTER SYSTEM SET primary_conninfo = '${REPLY//\'/\'\'}'" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 &
    jobs+=("$!")
  done
  ((${#jobs[@]} == 0)) || wait "${jobs[@]}"
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

# A member standby's graceful stop (called for one only): its repmgr record is marked inactive on the primary it
# streams from, as repmgrd itself does when it sees its standby shut down (repmgrd is stopped
# first here, so it never sees it; it marks the record active again when it starts). Why: the
# primary's fence and repmgrd's elections count only members whose record is active. Without
# it, the members a scale-down removed stay active for the primary of the old member list, and
# when one more member restarts in the roll that primary sees a minority of that list and
# fences itself (5 -> 3: 2 of 5 reachable). Best effort, bounded by the connect timeout; a local
# commit (under quorum commit the primary may be waiting for this very standby).
announce_departure() {
  [[ $PGHA_ROLE_TIER == member ]] || return 0
  streaming_upstream_host || return 0
  [[ -n $UPSTREAM_HOST ]] || return 0
  peer_sql "$UPSTREAM_HOST" "BEGIN; SET LOCAL synchronous_commit = local;
    UPDATE repmgr.nodes SET active = false WHERE node_id = $NODE_ID AND type = 'standby' AND active; COMMIT" >/dev/null ||
    log "WARNING: could not mark this node's repmgr record inactive on ${UPSTREAM_HOST%%.*}"
}
