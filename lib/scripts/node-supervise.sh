#!/bin/bash
# Supervision of a serving node: postgres and repmgrd kept running, the status line kept fresh,
# and the checks that talk to peers (fencing, cascades back on a first-layer standby, scale-down
# bookkeeping, handoff pauses, standbys back on the primary, the orphan election). Each check
# gathers its facts, asks its rule in node-decide-supervise.sh and acts on the verdict.
# Sourced by node-entrypoint.sh; never executed.
# SC2034: state variables set here are read by the other sourced files.
# shellcheck disable=SC2034

REPMGRD_PID=

start_repmgrd() {
  # /tmp survives a container restart (emptyDir) while PIDs restart low in the new PID
  # namespace: a stale pid file would look alive and stop repmgrd from starting.
  rm -f "$RUN_DIR/repmgrd.pid"
  repmgrd -f "$REPMGR_CONF" -p "$RUN_DIR/repmgrd.pid" --daemonize=false &
  REPMGRD_PID=$!
}

stop_repmgrd() {
  [[ -n $REPMGRD_PID ]] && kill -TERM "$REPMGRD_PID" 2>/dev/null && wait "$REPMGRD_PID" 2>/dev/null
  REPMGRD_PID=
}

resume_repmgrd() {
  repmgr_sql "SELECT repmgr.repmgrd_pause(false)" >/dev/null 2>&1 ||
    { log "WARNING: could not resume repmgrd (repmgr.repmgrd_pause(false))"; return 1; }
  PAUSED_SINCE=0 FOLLOW_PASSES=0
}

restart_repmgrd_unpaused() {
  stop_repmgrd
  resume_repmgrd
  start_repmgrd
}

# A primary stops serving at once when decide_fence says so: postgres stopped (immediate), the
# container exits and starts over through the role decision (hold, then rejoin). Its own clients
# may still reach it; it must not take another write.
ISOLATED_CHECKS=0
fence_check() {
  [[ $PGHA_ROLE_TIER == member && $CURRENT_STATE == primary ]] || { ISOLATED_CHECKS=0; return 0; }
  local -a members others=()
  local h sysid inactive=''
  read -r -a members <<<"${PGHA_MEMBER_HOSTS:-}"
  for h in "${members[@]}"; do
    [[ $h == "$SELF_HOST" ]] || others+=("$h")
  done
  # The members whose record is inactive here (none when the query fails: all count).
  if local_query "SELECT node_id FROM repmgr.nodes WHERE NOT active AND type = 'standby'"; then
    for h in "${others[@]}"; do
      node_id_reply "$h"
      [[ " ${SESSION_ROWS[*]} " == *" $REPLY "* ]] && inactive+=" $h"
    done
  fi
  gather_facts "${others[@]}"
  status_get "$OWN_STATUS" sysid
  sysid=$REPLY
  status_get "$OWN_STATUS" tli
  decide_fence "${#members[@]}" "$sysid" "$REPLY" "$ISOLATED_CHECKS" "$PGHA_FENCE_CHECKS" "$inactive" "${FACTS[@]}" && fence "$REASON"
  ISOLATED_CHECKS=$REPLY
  [[ $VERDICT == isolated ]] && log "fence: $REASON"
  return 0
}

fence() {
  log "fence: $1: stopping postgres now (immediate) and restarting the container, which rejoins as a standby"
  publish_status stopping "$(own_field sysid)"
  pg_ctl -D "$PGDATA" -w -t 60 -m immediate stop >/dev/null 2>&1
  [[ -n $REPMGRD_PID ]] && kill -KILL "$REPMGRD_PID" 2>/dev/null
  exit 1
}

# A cascading standby: back on a first-layer standby when decide_cascade_follow says so.
CASCADE_CHECKS="0 0" CASCADE_UPSTREAM_SESSION=
cascade_check() {
  [[ $PGHA_ROLE_TIER == cascade && $CURRENT_STATE == standby ]] || return 0
  local streams=0 on_primary=0 host
  streaming_upstream_host || return 0
  host=$UPSTREAM_HOST
  if [[ -n $host ]]; then
    streams=1
    # A session kept open to the upstream (re-opened when the upstream changes).
    [[ $host == "$CASCADE_UPSTREAM_SESSION" ]] || session_close upstream
    CASCADE_UPSTREAM_SESSION=$host
    session_query upstream 10 "SELECT pg_is_in_recovery()" "$(peer_conninfo "$host")" &&
      [[ ${SESSION_ROWS[0]:-} == f ]] && on_primary=1
  fi
  local -a checks
  read -r -a checks <<<"$CASCADE_CHECKS"
  decide_cascade_follow "$streams" "$on_primary" "${checks[0]}" "${checks[1]}"
  CASCADE_CHECKS=$REPLY
  [[ $VERDICT == follow ]] || return 0
  find_upstream || return 0
  follow_node "$UPSTREAM_ID" "$REASON (to $UPSTREAM)"
  CASCADE_CHECKS="0 0"
}

# Scale-down bookkeeping (member primary): the records and slots of members beyond
# PGHA_MEMBER_HOSTS, unregistered and dropped when decide_scaledown says so. Kubernetes deletes
# the pods of a scaled-down StatefulSet and keeps their claims; nothing tells repmgr.
declare -A GONE_SINCE=()
scaledown_check() {
  [[ $PGHA_ROLE_TIER == member && $CURRENT_STATE == primary ]] || return 0
  local -a members
  local n row id type slot active host live answers
  read -r -a members <<<"${PGHA_MEMBER_HOSTS:-}"
  n=${#members[@]}
  ((n > 0)) || return 0
  local_query "
    SELECT COALESCE(n.node_id, s.id) || ' ' || COALESCE(n.type, '-') || ' ' || COALESCE(s.slot_name, '-') || ' ' || COALESCE(s.active::text, '-')
    FROM repmgr.nodes n FULL JOIN (
      SELECT slot_name, active, CASE WHEN slot_name ~ '^repmgr_slot_[0-9]{1,9}\$' THEN substr(slot_name, 13)::int END AS id
      FROM pg_replication_slots) s ON s.id = n.node_id
    WHERE COALESCE(n.node_id, s.id) >= $((PGHA_NODE_ID_BASE + n)) AND COALESCE(n.node_id, s.id) < $((PGHA_NODE_ID_BASE + 1000))" || return 0
  local -A seen=()
  for row in "${SESSION_ROWS[@]}"; do
    read -r id type slot active <<<"$row"
    [[ $id =~ ^[0-9]+$ ]] || continue
    seen[$id]=1
    host="${POD_NAME%-*}-$((id - PGHA_NODE_ID_BASE)).$PGHA_SERVICE.$PGHA_DOMAIN_SUFFIX"
    live=0 answers=0
    if [[ $active == true ]]; then
      live=1
    else
      read_peer_statuses "$host"
      [[ -n ${PEER_STATUS[$host]} ]] && answers=1
    fi
    decide_scaledown "$id" "$n" "$PGHA_NODE_ID_BASE" "$live" "$answers" "${GONE_SINCE[$id]:-}" "$EPOCHSECONDS" "$PGHA_SCALEDOWN_GRACE"
    if [[ -n $REPLY ]]; then GONE_SINCE[$id]=$REPLY; else unset 'GONE_SINCE[$id]'; fi
    [[ $VERDICT == unregister ]] || continue
    log "scale-down: $REASON (${host%%.*}): unregistering it and dropping its replication slot"
    case $type in
      standby | primary) repmgr -f "$REPMGR_CONF" "$type" unregister --node-id="$id" >/dev/null 2>&1 || log "WARNING: $type unregister of node $id failed" ;;
    esac
    [[ $slot != - ]] && { local_sql "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots WHERE slot_name = '$slot' AND NOT active" >/dev/null 2>&1 || log "WARNING: could not drop replication slot $slot"; }
    unset 'GONE_SINCE[$id]'
  done
  # Forget nodes that came back or were cleaned up by someone else.
  for id in "${!GONE_SINCE[@]}"; do
    [[ -n ${seen[$id]:-} ]] || unset 'GONE_SINCE[$id]'
  done
  return 0
}

# A member standby that does not stream while a live primary serves follows it when
# decide_member_stream says so (repmgrd does not always get there: after a switchover it can
# resume monitoring the old primary's new pod, a standby by then). Not while a handoff pause
# lasts (pause_check acts).
UNSTREAMED_PASSES=0
member_stream_check() {
  [[ $PGHA_ROLE_TIER == member && $CURRENT_STATE == standby ]] || { UNSTREAMED_PASSES=0; return 0; }
  ((PAUSED_SINCE == 0)) || return 0
  local prim='' streams=1 primary=0
  streaming_upstream_host || return 0
  if [[ -z $UPSTREAM_HOST ]]; then
    streams=0
    prim=$(find_primary) && primary=1
  fi
  decide_member_stream "$streams" "$primary" "$UNSTREAMED_PASSES" "$PGHA_UNSTREAMED_PASSES"
  UNSTREAMED_PASSES=$REPLY
  [[ $VERDICT == follow ]] || return 0
  stop_repmgrd
  follow_node "$(node_id_of_host "$prim")" "$REASON (${prim%%.*})"
  start_repmgrd
  UNSTREAMED_PASSES=0
}

# A member standby without a primary that repmgrd did not promote within the failover wait takes
# part in the election of held nodes (decide_orphan, then decide_election): repmgrd cancels its
# election when it cannot see a majority (e.g. the other members restart in hold mode).
ORPHAN_SINCE=0
orphan_check() {
  [[ $PGHA_ROLE_TIER == member && $CURRENT_STATE == standby ]] || { ORPHAN_SINCE=0; return; }
  local streams=0 primary=0 waited
  read_own_status
  status_get "$OWN_STATUS" streaming && [[ $REPLY == 1 ]] && streams=1
  ((streams)) || { find_primary >/dev/null && primary=1; }
  decide_orphan "$streams" "$primary" "$ORPHAN_SINCE" "$EPOCHSECONDS" "$PGHA_FAILOVER_WAIT"
  ORPHAN_SINCE=$REPLY
  [[ $VERDICT == elect ]] || return 0
  waited=$((EPOCHSECONDS - ORPHAN_SINCE))
  if elect "$waited"; then
    log "role: primary (standby without primary for ${waited}s, repmgrd did not promote; election: $REASON)"
    run_child repmgr -f "$REPMGR_CONF" standby promote || log "WARNING: standby promote failed"
  else
    log_wait "standby without primary for ${waited}s: $REASON"
  fi
}

# A renewed TLS Secret reaches PostgreSQL by a reload, which re-reads the certificate and key
# (PostgreSQL 10 and later): no restart, no failover; open sessions keep their TLS session, new
# ones get the new certificate. A Secret that would fail the start checks is not loaded:
# PostgreSQL keeps the certificate it has, and the log says why, once per renewal.
tls_renewal_check() {
  tls_renewed || return 0
  : >"$TLS_CHECKED_MARKER"
  if ! tls_files_problem "$SELF_HOST"; then
    log "TLS: the Secret was renewed, but it is not loaded (PostgreSQL keeps its certificate): $REPLY"
  elif local_sql "SELECT pg_reload_conf()" >/dev/null; then
    log "TLS: the Secret was renewed; the new certificate is loaded (configuration reload, no restart)"
  else
    # Checked again at the next pass.
    rm -f "$TLS_CHECKED_MARKER"
    log "TLS: the Secret was renewed, but the reload failed: retrying"
  fi
}

# Every second: the status line from the running instance (so a promotion, a lost or regained
# upstream shows to peers and probes within a second), repmgrd's and postgres' liveness. Every
# PGHA_SUPERVISE_INTERVAL seconds, or every second while a primary looks cut off or a handoff
# pause lasts, or at once after a tick that came late (the pod was frozen or starved, and a
# primary must learn first of all whether another member was promoted meanwhile): the checks
# that talk to peers.
supervise() {
  local down_since=0 restarts=0 tick=0 last_tick=$EPOCHSECONDS late rc
  refresh_status auto || true
  read_postmaster_pid
  log "supervising: postgres (pid $PM_PID) and repmgrd; state $CURRENT_STATE"
  start_repmgrd
  while :; do
    nap 1
    tick=$((tick + 1))
    late=$((EPOCHSECONDS - last_tick > 3)) last_tick=$EPOCHSECONDS
    # A primary back from a freeze fences itself before it publishes anything.
    ((late)) && postgres_running && fence_check
    if postgres_running; then
      down_since=0
      refresh_status auto || true
    else
      ((down_since == 0)) && down_since=$EPOCHSECONDS && log "postgres is not running (repmgr may be restarting it)"
      if ((EPOCHSECONDS - down_since >= PGHA_PG_DOWN_GRACE)); then
        log "postgres has been down for ${PGHA_PG_DOWN_GRACE}s: exiting so the container restarts"
        [[ -n $REPMGRD_PID ]] && kill -TERM "$REPMGRD_PID" 2>/dev/null
        exit 1
      fi
    fi
    if ! kill -0 "$REPMGRD_PID" 2>/dev/null; then
      wait "$REPMGRD_PID" 2>/dev/null
      rc=$?
      restarts=$((restarts + 1))
      log "repmgrd exited (exit $rc): restarting it (restart #$restarts)"
      start_repmgrd
    fi
    ((late || ISOLATED_CHECKS > 0 || PAUSED_SINCE > 0 || tick % PGHA_SUPERVISE_INTERVAL == 0)) || continue
    postgres_running && fence_check
    postgres_running && cascade_check
    postgres_running && scaledown_check
    postgres_running && pause_check
    postgres_running && member_stream_check
    postgres_running && tls_renewal_check
    orphan_check
  done
}
