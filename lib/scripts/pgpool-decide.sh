#!/bin/bash
# The rules of the Pgpool-II pods as pure functions: what the backends answered in, a verdict and
# a reason out. No I/O, no commands, no globals read: pgpool-failover.sh and
# pgpool-entrypoint.sh probe the backends, call these, log and act.
# test/unit/pgpool-decide.test.ts feeds them fixture lines. Sourced, never executed.
#
# A backend line is "ID|RECOVERY|WALRECEIVER|AGE": RECOVERY is pg_is_in_recovery() (true or
# false), WALRECEIVER the standby's pg_stat_wal_receiver status (streaming, none...), AGE the
# seconds since its walreceiver last heard from its upstream (-1 when it has none). A backend
# that did not answer is "ID|" (or just "ID").
# Out: VERDICT (one word), REASON (a sentence for the log), REPLY (the backend id it is about).
# SC2034: VERDICT, REASON and REPLY are read by the callers.
# shellcheck disable=SC2034

# Is there a primary, seen from this pod? $1: the longest AGE (seconds) that still proves the
# standby's upstream is alive: a walsender sends at least a keepalive every
# wal_sender_timeout / 2, so a fresher message means a live, unfrozen primary fed it.
# The other arguments: backend lines.
#   primary ID  backend ID answers as a primary;
#   cut ID      none answers as a primary, but standby ID streams and heard from its upstream
#               within $1 s: a primary is alive and this pod cannot reach it (a partition
#               between this pod and the primary, not a failover);
#   none        no primary answers and no standby has heard from one lately: the primary is
#               gone for everyone this pod can see (a failover is due or under way).
# A cascading standby streams from a standby, not the primary, but its upstream only streams
# while the primary feeds it, so its fresh message is evidence too (one hop later).
decide_primary_seen() {
  local fresh=$1 line id recovery receiver age
  shift
  VERDICT=none REPLY='' REASON="no backend answers as a primary and no standby heard from one within ${fresh}s"
  for line in "$@"; do
    IFS='|' read -r id recovery _ <<<"$line"
    if [[ $recovery == false ]]; then
      VERDICT=primary REPLY=$id REASON="backend $id answers as the primary"
      return 0
    fi
  done
  for line in "$@"; do
    IFS='|' read -r id recovery receiver age <<<"$line"
    [[ $recovery == true && $receiver == streaming && $age =~ ^[0-9]+$ ]] || continue
    if ((age <= fresh)); then
      VERDICT=cut REPLY=$id
      REASON="no backend this pod reaches answers as a primary, but backend $id streams and heard from its upstream ${age}s ago: a live primary exists that this pod cannot reach"
      return 0
    fi
  done
  return 0
}

# The per-node health-check settings that give every backend but the primary a faster
# detection than the global (failover) settings, which stay the primary's. A silent standby
# stalls every extended-protocol query at its Sync until Pgpool-II detaches it; a falsely
# detached primary costs a held failover. $1: the primary's backend id; $2: the number of
# backends; $3 $4 $5: the standbys' timeout, max retries and retry delay (seconds).
# Out: HEALTH_CHECK_LINES, pgpool.conf lines (the last occurrence of a key wins).
HEALTH_CHECK_LINES=()
health_check_overrides() {
  local primary=$1 n=$2 timeout=$3 retries=$4 delay=$5 id
  HEALTH_CHECK_LINES=("# Per-node health checks for primary = backend $primary (pgpool-entrypoint.sh)")
  for ((id = 0; id < n; id++)); do
    ((id == primary)) && continue
    HEALTH_CHECK_LINES+=(
      "health_check_timeout$id = $timeout"
      "health_check_max_retries$id = $retries"
      "health_check_retry_delay$id = $delay"
    )
  done
}

# Does pgpool route writes to a standby? $1: pgpool's primary (empty: none); $2: the backends
# that answer as a primary (comma-separated, empty: none); then pgpool's status of each backend
# in id order (1 or 2: up, 3: down).
#   detach IDS  pgpool has no primary, none answers as one, and pgpool has IDS up: it would
#               send writes to one of them, a standby (SQLSTATE 25006);
#   ok          pgpool has a primary, or a primary answers (the other rules align pgpool with
#               it), or pgpool has nothing up.
decide_orphan_backends() {
  local pool_primary=$1 live_primaries=$2 id=0 status
  local -a up=()
  shift 2
  VERDICT=ok REPLY='' REASON="pgpool has a primary, or a backend answers as one, or pgpool has no backend up"
  [[ -z $pool_primary && -z $live_primaries ]] || return 0
  for status in "$@"; do
    [[ $status == 3 ]] || up+=("$id")
    id=$((id + 1))
  done
  ((${#up[@]})) || return 0
  VERDICT=detach REPLY="${up[*]}"
  REASON="pgpool has no primary, no backend answers as one, and pgpool has backends ${up[*]} up (writes would reach a standby)"
}

# pcp_node_info -a -v output ($1: verbose "Key : value" lines, one block per backend starting
# with Hostname; the terse format gained columns between versions) as arrays indexed by backend
# id: NODE_HOSTS, NODE_PORTS, NODE_STATUSES (1 or 2: up, 3: down), NODE_ROLES; NODE_COUNT.
NODE_HOSTS=() NODE_PORTS=() NODE_STATUSES=() NODE_ROLES=() NODE_COUNT=0
parse_node_info() {
  local key value id=-1
  NODE_HOSTS=() NODE_PORTS=() NODE_STATUSES=() NODE_ROLES=()
  while IFS=: read -r key value; do
    key=${key%"${key##*[![:space:]]}"} value=${value# }
    case $key in
      Hostname) id=$((id + 1)) NODE_HOSTS[id]=$value ;;
      Port) NODE_PORTS[id]=$value ;;
      Status) NODE_STATUSES[id]=$value ;;
      Role) NODE_ROLES[id]=$value ;;
    esac
  done <<<"$1"
  NODE_COUNT=$((id + 1))
}

# Is a health-check process hung? pgpool arms an alarm of health_check_timeout around each
# check, but installs SIGALRM with SA_RESTART, and reads the login's answer with a plain
# read() on a blocking socket: once the TCP handshake is done, the alarm fires, read() is
# restarted, and the check blocks until TCP gives up, minutes later. That happens when a node
# freezes (its kernel still completes handshakes) or when a cut falls between the handshake
# and the login's answer. pgpool then never detaches that backend, and every session that
# uses it waits. A working check waits in one stretch at most its longest single wait (the
# period, the timeout or the retry delay) before it is scheduled again.
# $1: backend id; $2: pgpool's primary when it is the live one (empty: unknown); $3: ms the
# check process has gone without being scheduled; $4: ms of the longest single wait of a
# working check of that backend; $5: its kernel wait channel (/proc/PID/wchan; empty or 0 when
# the kernel does not say).
#   ok       scheduled within that wait plus HUNG_CHECK_MARGIN_MS (a loaded machine may run a
#            woken process late), or waiting on something other than a socket (a lock, a
#            sleep, a poll: not a login answer that never comes, and nothing a new check fixes);
#   detach   hung on a standby while the primary is known: detach the backend (what the
#            check would have done, had its timeout worked) and start a new check;
#   restart  hung on the primary, or while no primary is known: a new check only; its connect
#            and login get a timeout again, so if the backend is gone the check fails in time
#            and pgpool's own failover handling follows (never a detach of the primary here).
HUNG_CHECK_MARGIN_MS=500
decide_health_check() {
  local id=$1 primary=$2 unscheduled=$3 wait=$4 wchan=${5:-}
  local bound=$((wait + HUNG_CHECK_MARGIN_MS))
  VERDICT=ok REPLY=$id REASON="the health check of backend $id was scheduled within ${bound} ms"
  ((unscheduled > bound)) || return 0
  case $wchan in
    futex* | *semtimedop* | *nanosleep* | poll_schedule_timeout | do_select | do_sys_poll | ep_poll)
      REASON="the health check of backend $id has not run for ${unscheduled} ms but waits in $wchan, not on a backend's answer"
      return 0
      ;;
  esac
  REASON="the health check of backend $id has not run for ${unscheduled} ms (kernel wait: ${wchan:-unknown}), longer than any of its waits (${wait} ms) allows: it is blocked reading a login answer that never comes (pgpool's timeout does not interrupt that read)"
  if [[ -n $primary && $primary != "$id" ]]; then
    VERDICT=detach
    REASON+="; backend $id is a standby and backend $primary the primary"
  else
    VERDICT=restart
    if [[ -n $primary ]]; then
      REASON+="; backend $id is the primary"
    else
      REASON+="; backend $id is not known to be a standby (no primary known)"
    fi
  fi
}

# Does pgpool, right now, have primary $1 up and backend $2 as an up standby? The watch's word
# for "the primary is known" can be a moment old (a failover may have begun since); a detach of
# what is in fact pgpool's primary would hold a failover. $1 $2: backend ids; $3: 1 while a
# failover waits for a new primary; NODE_* from parse_node_info.
#   detach   both hold: the detach goes ahead;
#   restart  anything else: only the check is restarted.
confirm_standby_detach() {
  local primary=$1 id=$2 waiting=$3
  VERDICT=detach REPLY=$id REASON="pgpool has backend $primary as its primary, up, and backend $id as an up standby"
  if ((waiting)) || ((id >= NODE_COUNT || primary >= NODE_COUNT)) ||
    [[ ${NODE_ROLES[primary]:-} != primary || ${NODE_STATUSES[primary]:-} == 3 ||
      ${NODE_ROLES[id]:-} != standby || ${NODE_STATUSES[id]:-} == 3 ]]; then
    VERDICT=restart
    REASON="pgpool's view changed (a failover waits: $waiting; backend $primary ${NODE_ROLES[primary]:-unknown} status ${NODE_STATUSES[primary]:-unknown}; backend $id ${NODE_ROLES[id]:-unknown} status ${NODE_STATUSES[id]:-unknown}): no detach"
  fi
}
