#!/bin/bash
# The rules of the PostgreSQL pods as pure functions: status lines and numbers in, a verdict and
# a reason out. No I/O, no commands, no globals read: the callers gather the facts (node-*.sh,
# node-promote.sh), call one of these, log the verdict and reason, and act. Each rule is in the
# table of README.md; test/unit/node-decide.test.ts feeds them fixture lines, and inverts every
# comparison in this file one at a time to show that a test then fails. Sourced, never executed.
#
# Conventions:
#   - a status line is what a node publishes (node-peers.sh, publish_status), with the fields a
#     rule needs about the member prepended by the caller (host=, priority=, ordinal=); a line
#     without state= is a member that did not answer;
#   - out: VERDICT (one word), REASON (a sentence for the log), REPLY (a value the caller keeps:
#     a counter, a time, a list); status 0 when the verdict is to act.
# SC2034: VERDICT and REASON are read by the callers.
# shellcheck disable=SC2034

# REPLY: field $2 of status line $1; status 1 (REPLY empty) when the line has no such field.
status_get() {
  local kv
  REPLY=
  for kv in $1; do
    [[ ${kv%%=*} == "$2" ]] && { REPLY=${kv#*=}; return 0; }
  done
  return 1
}

# REPLY: WAL position "X/Y" as an integer (0 when it is not one), for comparisons.
lsn_num() {
  REPLY=0
  [[ ${1:-} =~ ^[0-9A-Fa-f]+/[0-9A-Fa-f]+$ ]] || return 0
  REPLY=$(((16#${1%%/*} << 32) + 16#${1##*/}))
}

# The end of a rule that picks hosts: REPLY the hosts ($4...), space-separated, best first;
# VERDICT $1 with REASON $2 when there is one, else VERDICT none with REASON $3.
picked() {
  local verdict=$1 found=$2 none=$3
  shift 3
  REPLY=$*
  if (($# == 0)); then
    VERDICT=none REASON=$none
    return 1
  fi
  VERDICT=$verdict REASON=$found
}

# Bootstrap: ordinal 0 with an empty data directory creates the cluster only when every other
# member answers and has an empty one too; a member that does not answer may hold the cluster.
# $@: the other members' lines (host=). VERDICT bootstrap | wait.
decide_bootstrap() {
  local line host state n=0
  VERDICT='wait'
  for line in "$@"; do
    n=$((n + 1))
    status_get "$line" host
    host=$REPLY
    if ! status_get "$line" state; then
      REASON="$host does not answer"
      return 1
    fi
    state=$REPLY
    status_get "$line" sysid
    if [[ $REPLY != - || $state != waiting ]]; then
      REASON="$host has state $state (system identifier $REPLY)"
      return 1
    fi
  done
  VERDICT=bootstrap REASON="all $n other members answer with empty data directories"
  return 0
}

# Election among members when no primary runs. $1 this node's id, $2 its system identifier,
# $3 seconds it has waited without a primary, $4 PGHA_ELECTION_TIMEOUT, $5 the failover wait,
# then one line per member (this node's own included; host=, priority=).
# VERDICT promote | wait. Deterministic: every member computes the same winner from the same
# published numbers (hold positions do not move).
decide_election() {
  local self=$1 mysysid=$2 waited=$3 timeout=$4 fw=$5
  shift 5
  local n=$# line host state tli lsn nid key majority responders=0 final=0 streaming=0 running=0 ncand=0
  local best_key='' best_id='' best='' foreign=''
  majority=$((n / 2 + 1))
  for line in "$@"; do
    status_get "$line" host
    host=$REPLY
    status_get "$line" state || continue
    state=$REPLY
    responders=$((responders + 1))
    if [[ $state == primary ]]; then
      VERDICT=wait REASON="$host reports state primary"
      return 1
    fi
    if [[ $state == standby ]]; then
      running=$((running + 1))
      status_get "$line" streaming
      [[ $REPLY == 1 ]] && streaming=$((streaming + 1))
    fi
    case $state in hold | standby | waiting) final=$((final + 1)) ;; esac
    [[ $state == hold || $state == standby ]] || continue
    status_get "$line" sysid
    if [[ $REPLY != "$mysysid" ]]; then
      foreign+=" $host ($REPLY)"
      continue
    fi
    ncand=$((ncand + 1))
    status_get "$line" priority
    ((REPLY > 0)) || continue
    status_get "$line" tli
    tli=$REPLY
    status_get "$line" node_id
    nid=$REPLY
    status_get "$line" lsn
    lsn=$REPLY
    lsn_num "$lsn"
    # Timeline first, then the WAL position, then the lower node id.
    printf -v key '%010d%020d%010d' "$tli" "$REPLY" $((999999999 - nid))
    if [[ $key > $best_key ]]; then
      best_key=$key best_id=$nid best="$host (timeline $tli, lsn $lsn)"
    fi
  done
  VERDICT='wait'
  if ((streaming > 0)); then
    REASON="a member still streams from a primary this node cannot reach"
    return 1
  fi
  if ((ncand < majority)); then
    REASON="only $ncand of $n members publish data of this cluster (need $majority)${foreign:+; another system identifier on$foreign}"
    return 1
  fi
  if ((final < n && waited < timeout)); then
    REASON="$final of $n members have published a final state (${waited}s of ${timeout}s before electing with a majority)"
    return 1
  fi
  if ((running > 0 && waited < fw)); then
    REASON="$running standby(s) run repmgrd: leaving the failover to repmgrd (${waited}s of ${fw}s)"
    return 1
  fi
  if [[ -z $best_id ]]; then
    REASON="no candidate with priority > 0"
    return 1
  fi
  if [[ $best_id != "$self" ]]; then
    REASON="most advanced candidate is $best"
    return 1
  fi
  VERDICT=promote REASON="this node is the most advanced of $ncand candidates ($responders of $n members answered): $best"
  return 0
}

# Another cluster's data is never touched. $1 this node's system identifier, $2 the primary's
# host, $3 its system identifier (either empty: unknown). VERDICT same | refuse.
decide_same_cluster() {
  if [[ -n $1 && -n $3 && $1 != "$3" ]]; then
    VERDICT=refuse REASON="data directory belongs to another cluster (system identifier $1, primary $2 has $3): refusing to touch it"
    return 1
  fi
  VERDICT=same REASON="system identifier ${1:-unknown}, the primary's ${3:-unknown}"
  return 0
}

# A former primary stays off the network long enough for every Pgpool-II pod to detach it. $1
# the control file's cluster state when this container started (before anything ran postgres),
# $2 when the control file last changed (epoch s), $3 now, $4 Pgpool-II's failure detection (s).
# A primary leaves "shut down" (stopped) or "in production" (crashed); a standby "... in
# recovery". A Pgpool-II pod whose health check never failed on the old primary (it came back
# within the retries) keeps it as its primary and sends writes to it once it serves as a
# standby: SQLSTATE 25006 until that pod's next reconcile pass. VERDICT keep-off (REPLY: the
# seconds still to wait) | ok.
decide_former_primary_wait() {
  REPLY=0
  case $1 in
    'shut down' | 'in production') ;;
    *)
      VERDICT=ok REASON="the data directory was a standby's ('${1:-unknown}')"
      return 1
      ;;
  esac
  if [[ ! $2 =~ ^[0-9]+$ ]]; then
    VERDICT=ok REASON="the control file's last change is unknown"
    return 1
  fi
  REPLY=$(($2 + $4 - $3))
  if ((REPLY > 0)); then
    VERDICT=keep-off REASON="this node was a primary until $(($3 - $2))s ago ('$1'): ${REPLY}s more before it serves as a standby, so that every Pgpool-II pod has detached it as its primary (its health check needs ${4}s)"
    return 0
  fi
  REPLY=0
  VERDICT=ok REASON="this node stopped being a primary $(($3 - $2))s ago, longer than Pgpool-II's ${4}s detection"
  return 1
}

# Joining the running primary with a data directory. $1 this node's id, $2 its system
# identifier, $3 the primary's host, $4 its system identifier (empty: unknown), $5 how many
# repmgr records of this node it has (empty: it could not be asked), $6 this node's newest
# timeline, $7 the primary's (0: unknown). VERDICT refuse (another cluster's data) | reclone (a
# stale claim: scaled away and unregistered, so no WAL was kept for it and repmgr node rejoin
# refuses it) | wait (never rewind onto an older timeline) | rejoin.
decide_join() {
  local id=$1 mine=$2 prim=$3 theirs=$4 records=$5 mytli=$6 ptli=$7
  decide_same_cluster "$mine" "$prim" "$theirs" || return 1
  if [[ $records == 0 ]]; then
    VERDICT=reclone REASON="stale data on a reused claim: primary $prim has no repmgr record of node $id (scaled away and unregistered, or never registered); local timeline $mytli, the primary's $ptli"
    return 0
  fi
  if ((ptli > 0 && mytli > ptli)); then
    VERDICT=wait REASON="local timeline $mytli is newer than primary $prim's timeline $ptli: refusing to rewind onto an older timeline"
    return 1
  fi
  VERDICT=rejoin REASON="primary $prim is running; local timeline $mytli, the primary's $ptli"
  return 0
}

# Cascade upstream: the first-layer standbys that stream, walked from position (ordinal mod
# count) so cascades spread over them. $1 the cascade's ordinal, then the lines of
# PGHA_UPSTREAM_HOSTS in order (host=). REPLY: the hosts to try, in order. VERDICT upstream | none.
decide_upstream() {
  local ord=$1 n i line
  shift
  n=$#
  local -a lines=("$@") picks=()
  for ((i = 0; i < n; i++)); do
    line=${lines[(ord + i) % n]}
    status_get "$line" state
    [[ $REPLY == standby ]] || continue
    status_get "$line" streaming
    [[ $REPLY == 1 ]] || continue
    status_get "$line" host
    picks+=("$REPLY")
  done
  picked upstream "streaming first-layer standbys from position $((ord % n)): ${picks[*]%%.*}" \
    "no streaming first-layer standby" "${picks[@]}"
}

# The promotion guard (node-promote.sh). $1 this node is in recovery (1/0), $2 the WAL it
# holds, $3 its priority, $4 its node id, then one line per sibling member asked (host=,
# recovery=, lsn=, priority=, id=; no recovery= when it did not answer: unreachable siblings are
# left to repmgrd's majority rule). A sibling out of recovery is a live primary; a sibling
# holding more WAL may hold acknowledged writes. A sibling holding as much wins by repmgrd's own
# tie-break (higher priority, then lower node id): two elections that each saw no other
# candidate (a stale upstream in a repmgr record hides a sibling) then still promote one node.
# VERDICT promote | refuse.
decide_promotion() {
  local rec=$1 own=$2 own_prio=$3 own_id=$4 line lsn ownv prio id
  shift 4
  VERDICT=refuse
  if ((rec != 1)); then
    REASON="this node is not in recovery; nothing to promote"
    return 1
  fi
  lsn_num "$own"
  ownv=$REPLY
  for line in "$@"; do
    status_get "$line" recovery || continue
    if ((REPLY != 1)); then
      status_get "$line" host
      REASON="$REPLY is out of recovery (a primary is alive); repmgrd will follow it"
      return 1
    fi
    status_get "$line" lsn
    lsn=$REPLY
    lsn_num "$lsn"
    if ((REPLY > ownv)); then
      status_get "$line" host
      REASON="$REPLY holds WAL up to $lsn, this node only up to $own (it may hold acknowledged writes); the next election must pick it"
      return 1
    fi
    ((REPLY == ownv)) || continue
    status_get "$line" priority || continue
    prio=$REPLY
    status_get "$line" id || continue
    id=$REPLY
    if ((prio > 0 && (prio > own_prio || (prio == own_prio && id < own_id)))); then
      status_get "$line" host
      REASON="$REPLY holds as much WAL ($lsn) and wins repmgrd's tie-break (priority $prio, node $id; this node priority $own_prio, node $own_id); the next election must pick it"
      return 1
    fi
  done
  VERDICT=promote REASON="no reachable sibling is ahead of $own or ahead in the tie-break"
  return 0
}
