#!/bin/bash
# How a Pgpool-II pod stops (a rollout, a drain, a scale-down), or restarts pgpool as the last
# resort of a correction, without cutting sessions that can end by themselves. Kubernetes drops
# a terminating pod from the Service's endpoints when it sends SIGTERM, but every node's
# kube-proxy applies that a moment later; and the sessions open on this pod belong to clients
# that did nothing wrong.
#   1. Leave: the probe endpoint reports "stopping" (not ready) at once, and pgpool keeps
#      accepting for PGHA_LEAVE_SERVICE_SECONDS, for clients the old endpoints still send here.
#   2. Drain: a smart shutdown (SIGTERM to pgpool): idle children exit, a child with a client
#      serves it until the client disconnects. Up to PGHA_DRAIN_SECONDS.
#   3. A fast shutdown closes whatever is still open, logged with the count.
# Synth checks that these, and the time the entrypoint takes to act on SIGTERM, fit in the
# pod's termination grace period.
# Sourced by pgpool-entrypoint.sh; never executed. Uses PGPOOL_PID, NAP_FD, publish_status,
# pgpool_processes, start_pgpool and SERVING from there and lib-base.sh.

: "${PGHA_LEAVE_SERVICE_SECONDS:=3}"
: "${PGHA_DRAIN_SECONDS:=10}"

# Client sessions open on this pod: pgpool children whose title names a client
# ("pgpool: app app 10.244.0.7(51234) idle").
client_sessions() {
  local n=0 _pid _ppid title
  while read -r _pid _ppid title; do
    [[ $title == *'('[0-9]*')'* ]] && n=$((n + 1))
  done < <(pgpool_processes "")
  printf '%s' "$n"
}

# Waits up to $1 seconds for pgpool to exit, without a fork per check. True when it did.
wait_pgpool_exit() {
  local deadline=$((EPOCHSECONDS + $1))
  while kill -0 "$PGPOOL_PID" 2>/dev/null; do
    ((EPOCHSECONDS < deadline)) || return 1
    read -r -t 0.5 -u "$NAP_FD" _
  done
  return 0
}

# Leave, drain, stop: the three steps above, for SIGTERM and for a restart. $1 says why.
drain_and_stop() {
  publish_status stopping
  log "$1: leaving the Service (not ready); new sessions still accepted for ${PGHA_LEAVE_SERVICE_SECONDS}s while the endpoints drop this pod; $(client_sessions) client sessions open"
  # The wake-up line of the SIGTERM (lib-base.sh on_signal) may still be in the nap FIFO:
  # consume it, or the wait below ends at once.
  while read -r -t 0.01 -u "$NAP_FD" _; do :; done
  read -r -t "$PGHA_LEAVE_SERVICE_SECONDS" -u "$NAP_FD" _
  log "drain: smart shutdown of pgpool; the $(client_sessions) open client sessions have ${PGHA_DRAIN_SECONDS}s to end"
  kill -TERM "$PGPOOL_PID" 2>/dev/null
  if wait_pgpool_exit "$PGHA_DRAIN_SECONDS"; then
    log "drain: every client session ended; pgpool stopped"
  else
    log "drain: $(client_sessions) client sessions still open after ${PGHA_DRAIN_SECONDS}s: fast shutdown closes them"
    fast_stop_after_drain
  fi
  wait "$PGPOOL_PID" 2>/dev/null
}

# After a smart shutdown, SIGINT to pgpool's main process alone does nothing: it handles one
# shutdown signal at a time and waits for its children inside the SIGTERM handler, so it never
# passes SIGINT on, and the children keep serving their sessions. Each child acts on SIGINT
# itself (it exits at once, closing its client's session), so every child gets it too. A
# pgpool still there 3 s later gets SIGKILL with its children.
fast_stop_after_drain() {
  local pid ppid _title
  local -a children=()
  while read -r pid ppid _title; do
    [[ $ppid == "$PGPOOL_PID" ]] && children+=("$pid")
  done < <(pgpool_processes "")
  kill -INT "$PGPOOL_PID" "${children[@]}" 2>/dev/null
  wait_pgpool_exit 3 && return 0
  log "drain: pgpool did not exit 3 s after the fast shutdown: SIGKILL to it and its ${#children[@]} children"
  kill -KILL "$PGPOOL_PID" "${children[@]}" 2>/dev/null
}

# The last resort of a correction: pgpool restarted, drained like a stop, with the reason
# logged. The pod is not ready until a client session through the new pgpool works.
restart_pgpool() {
  nap_open
  drain_and_stop "restart: $1"
  # shellcheck disable=SC2034 # pgpool-entrypoint.sh's: not ready until a session works again
  SERVING=0
  start_pgpool
}

on_term() {
  trap - TERM INT
  # shellcheck disable=SC2034 # lib-base.sh's flag: handled now
  TERM_REQUESTED=0
  # No correction while pgpool stops.
  [[ -n ${WATCH_PID:-} ]] && kill -TERM "$WATCH_PID" 2>/dev/null
  nap_open
  drain_and_stop SIGTERM
  exit 0
}
