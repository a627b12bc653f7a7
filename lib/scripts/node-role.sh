#!/bin/bash
# The role decision at every start, per tier: gather the live facts (the primary over libpq,
# the peers' status lines, the local data), ask the rules in node-decide.sh, log the verdict
# and its reason, and join (node-join.sh). Each *_main returns once the node serves; the
# entrypoint then supervises it. Sourced by node-entrypoint.sh; never executed.

# A reason to keep waiting is logged when it changes, and every 30 s while it persists.
LAST_WAIT_MSG='' LAST_WAIT_TS=0
log_wait() {
  # Counters inside the message do not make it a new reason.
  local key=${1//[0-9]/}
  if [[ $key != "$LAST_WAIT_MSG" ]] || ((EPOCHSECONDS - LAST_WAIT_TS >= 30)); then
    log "waiting: $1"
    LAST_WAIT_MSG=$key LAST_WAIT_TS=$EPOCHSECONDS
  fi
}

# The election (decide_election) over every member's published line; $1 = seconds this node
# has waited without a primary. VERDICT and REASON as the rule gives them.
elect() {
  local -a members
  read -r -a members <<<"${PGHA_MEMBER_HOSTS:-}"
  gather_facts "${members[@]}"
  status_get "$OWN_STATUS" sysid
  decide_election "$NODE_ID" "$REPLY" "$1" "$PGHA_ELECTION_TIMEOUT" "$PGHA_FAILOVER_WAIT" "${FACTS[@]}"
}

# Ordinal 0 with an empty data directory: bootstrap only when decide_bootstrap says so.
bootstrap_allowed() {
  local -a others=()
  local h
  for h in ${PGHA_MEMBER_HOSTS:-}; do
    [[ $h == "$SELF_HOST" ]] || others+=("$h")
  done
  gather_facts "${others[@]}"
  decide_bootstrap "${FACTS[@]}"
}

# A member with data and a running primary $1: refuse, re-clone, wait or rejoin (decide_join).
# Status 0 once the node serves, 2 to come back later; exits on a foreign cluster.
join_primary() {
  local prim=$1 mysys psys records ptli
  mysys=$(local_sysid)
  postgres_running && mysys=$(own_field sysid)
  psys=$(peer_sysid "$prim")
  records=$(peer_sql "$prim" "SELECT count(*) FROM repmgr.nodes WHERE node_id = $NODE_ID") || records=
  # pg_rewind reads the source's timeline from its control file, which a just-promoted primary
  # updates only at its next checkpoint: without one, rewind decides nothing diverged and the
  # node cannot start ("requested timeline N does not contain minimum recovery point"). The
  # CHECKPOINT also gives the live timeline.
  ptli=$(peer_sql "$prim" "CHECKPOINT; SELECT timeline_id FROM pg_control_checkpoint()") || ptli=0
  local_timeline
  decide_join "$NODE_ID" "$mysys" "$prim" "$psys" "$records" "$REPLY" "${ptli:-0}"
  case $VERDICT in
    refuse) die "$REASON" ;;
    wait) log_wait "$REASON"; return 2 ;;
    reclone)
      log "role: standby ($REASON): re-cloning from primary $prim"
      reclone_from "$prim" && return 0
      return 2
      ;;
  esac
  log "role: standby (data directory present, $REASON): rejoining"
  rejoin_to "$prim" || die "could not join primary $prim"
}

member_main() {
  local prim rc t_wait_start=$EPOCHSECONDS
  discard_incomplete_clone
  while :; do
    prim=$(find_primary)
    rc=$?
    if ((rc == 2)); then
      log_wait "several members claim to be primary ($prim): not joining any"
    elif has_data; then
      if ((rc == 0)); then
        join_primary "$prim" && return 0
      else
        if ! postgres_running; then
          log "no reachable primary; holding the data (isolated standby) to publish its position"
          start_hold || die "hold start failed"
        else
          refresh_status hold
        fi
        if elect $((EPOCHSECONDS - HOLD_SINCE)); then
          log "role: primary (election: $REASON)"
          promote_from_hold && return 0
          continue
        fi
        log_wait "no primary; not electing this node: $REASON"
      fi
    elif ((rc == 0)); then
      log "role: standby (empty data directory, primary $prim is running)"
      clone_from "$prim" && return 0
    else
      publish_status waiting
      if [[ $ORDINAL != 0 ]]; then
        log_wait "empty data directory and no running primary to clone from ($((EPOCHSECONDS - t_wait_start))s)"
      elif bootstrap_allowed; then
        log "role: primary (ordinal 0, empty data directory, $REASON)"
        bootstrap_primary
        return 0
      else
        log_wait "ordinal 0 with an empty data directory, but cannot tell that no cluster exists: $REASON"
      fi
    fi
    nap "$PGHA_POLL_INTERVAL"
  done
}

# UPSTREAM / UPSTREAM_ID: a first-layer standby to stream from, by decide_upstream, verified
# live over libpq (in recovery and streaming). Status 1 when none qualifies.
UPSTREAM='' UPSTREAM_ID=''
find_upstream() {
  local -a ups picks
  local h r i
  read -r -a ups <<<"${PGHA_UPSTREAM_HOSTS:-}"
  gather_facts "${ups[@]}"
  decide_upstream "$ORDINAL" "${FACTS[@]}" || return 1
  read -r -a picks <<<"$REPLY"
  for h in "${picks[@]}"; do
    r=$(peer_sql "$h" "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')") || continue
    [[ $r == t ]] || continue
    for i in "${!ups[@]}"; do
      [[ ${ups[i]} == "$h" ]] && status_get "${FACTS[i]}" node_id
    done
    UPSTREAM=$h UPSTREAM_ID=$REPLY
    return 0
  done
  return 1
}

cascade_main() {
  local prim psys cur
  discard_incomplete_clone
  while :; do
    if ! prim=$(find_primary); then
      publish_status waiting "$(has_data && local_sysid)"
      log_wait "no running primary among the members"
    elif ! find_upstream; then
      publish_status waiting "$(has_data && local_sysid)"
      log_wait "no streaming first-layer standby among: ${PGHA_UPSTREAM_HOSTS:-none}"
    elif ! has_data; then
      log "role: cascading standby (empty data directory, upstream $UPSTREAM, node $UPSTREAM_ID)"
      clone_from "$UPSTREAM" "$UPSTREAM_ID" && return 0
    else
      psys=$(peer_sysid "$prim")
      decide_same_cluster "$(local_sysid)" "$prim" "$psys" || die "$REASON"
      log "role: cascading standby (data directory present, upstream $UPSTREAM, node $UPSTREAM_ID)"
      ensure_clean_shutdown || die "could not bring the data directory to a clean state"
      touch "$PGDATA/standby.signal"
      pg_start || die "postgres did not start"
      # The configured upstream, not pg_stat_wal_receiver: the receiver may not be up yet.
      cur=$(local_sql "SELECT current_setting('primary_conninfo')" 2>/dev/null)
      [[ " $cur " == *" host=$UPSTREAM "* ]] || follow_node "$UPSTREAM_ID" "upstream was ${cur:-none}"
      register_standby "$UPSTREAM_ID"
      return 0
    fi
    nap "$PGHA_POLL_INTERVAL"
  done
}

witness_main() {
  local prim
  has_data || init_witness
  pg_start || die "witness did not start"
  refresh_status witness
  while ! prim=$(find_primary); do
    log_wait "witness: no running primary to register with"
    nap "$PGHA_POLL_INTERVAL"
  done
  register_witness "$prim"
  log "role: witness (registered with primary $prim)"
}
