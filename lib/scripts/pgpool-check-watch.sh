#!/bin/bash
# The watch over Pgpool-II's health-check processes: one that hangs (decide_health_check in
# pgpool-decide.sh says how) leaves a silent standby attached, and every session that uses it
# waits for as long as the hang lasts. The entrypoint runs watch_health_checks once, as a
# background subshell. It samples each check process's scheduling count four times a second with
# builtins only (no fork per sample: fork is slow on a small node), and forks only to act: a PCP
# detach of the standby, and SIGTERM to the hung check (it exits, and pgpool's main process forks
# a new one at once, or after the failover under way).
# Sourced by pgpool-entrypoint.sh; never executed. Uses RUN_DIR, CONF, FAILOVER_WAITING,
# PGHA_STANDBY_HEALTH_CHECK, conf_value, pcp and log from there and lib-base.sh, and
# decide_health_check, parse_node_info and confirm_standby_detach from pgpool-decide.sh.

: "${PGHA_CHECK_WATCH_TICK:=0.25}"
# Where process titles and scheduling counts are read (a test points it at a fixture tree).
: "${PGHA_PROC_DIR:=/proc}"
# pgpool's primary while it is the live one and the standbys' health-check settings are in
# effect for it; empty otherwise. Emptied at start, written by each reconcile pass that hears
# from PCP, emptied by pgpool-failover.sh when pgpool detaches its primary (the name is repeated
# there). A hint only: a detach is confirmed with pgpool first (correct_hung_check).
KNOWN_PRIMARY_FILE=$RUN_DIR/known-primary
WATCH_FIFO=$RUN_DIR/check-watch-nap
WATCH_PID=

# Milliseconds since boot, in MS_NOW (no command substitution: that would fork). A monotonic
# clock: a wall-clock step (NTP, a resumed VM) must not make every check look hung at once.
MS_NOW=0
ms_now() {
  local up _idle
  read -r up _idle </proc/uptime
  MS_NOW=$((10#${up/./} * 10))
}

# How many times process $1 has been scheduled, in SCHED_COUNT; false when it is gone. The
# third field of schedstat; the context-switch counts of status where the kernel has no
# schedstat.
SCHED_COUNT=
sched_count() {
  local _run _wait slices key value total=0
  # A kernel without schedule statistics prints zeros there, which never move.
  if { read -r _run _wait slices <"$PGHA_PROC_DIR/$1/schedstat"; } 2>/dev/null && [[ $slices != 0 ]]; then
    SCHED_COUNT=$slices
    return 0
  fi
  [[ -r $PGHA_PROC_DIR/$1/status ]] || return 1
  while IFS=$':\t ' read -r key value; do
    [[ $key == *ctxt_switches ]] && total=$((total + value))
  done <"$PGHA_PROC_DIR/$1/status" 2>/dev/null
  SCHED_COUNT=$total
}

# The backend id of pid $1 if it is pgpool's "health check process(ID)", in CHECK_ID; false
# otherwise. Read with builtins (pgpool writes its titles over argv[0]).
CHECK_ID=
check_process_id() {
  local cmd=
  { IFS= read -r -d '' cmd <"$PGHA_PROC_DIR/$1/cmdline"; } 2>/dev/null
  [[ $cmd == "pgpool: health check process("* ]] || return 1
  CHECK_ID=${cmd#*\(}
  CHECK_ID=${CHECK_ID%%\)*}
  [[ $CHECK_ID =~ ^[0-9]+$ ]]
}

# CHECK_PIDS[backend id] = pid of its health check. A container has pgpool's processes only.
# A check this watch signalled that is not reaped yet ($@: those pids) is left out: its
# successor is the one to watch.
CHECK_PIDS=()
find_check_processes() {
  local d pid
  CHECK_PIDS=()
  for d in "$PGHA_PROC_DIR"/[0-9]*; do
    pid=${d##*/}
    [[ " $* " == *" $pid "* ]] && continue
    check_process_id "$pid" && CHECK_PIDS[CHECK_ID]=$pid
  done
}

# The longest single wait of a working check, in ms: the period, the timeout (its alarm also
# ends the connect), the retry delay. The globals are the primary's; the standbys get their own
# numbers (tune_health_checks) once a primary is known.
GLOBAL_CHECK_WAIT_MS=0
STANDBY_CHECK_WAIT_MS=0
check_waits() {
  local max=0 v period timeout _retries delay
  period=$(conf_value health_check_period)
  [[ $period =~ ^[0-9]+$ ]] || period=1
  for v in "$period" "$(conf_value health_check_timeout)" "$(conf_value health_check_retry_delay)"; do
    [[ $v =~ ^[0-9]+$ ]] && ((v > max)) && max=$v
  done
  v=$(conf_value connect_timeout)
  GLOBAL_CHECK_WAIT_MS=$((max * 1000))
  [[ $v =~ ^[0-9]+$ ]] && ((v > GLOBAL_CHECK_WAIT_MS)) && GLOBAL_CHECK_WAIT_MS=$v
  STANDBY_CHECK_WAIT_MS=$GLOBAL_CHECK_WAIT_MS
  [[ -n $PGHA_STANDBY_HEALTH_CHECK ]] || return 0
  read -r timeout _retries delay <<<"$PGHA_STANDBY_HEALTH_CHECK"
  max=$period
  ((timeout > max)) && max=$timeout
  ((delay > max)) && max=$delay
  STANDBY_CHECK_WAIT_MS=$((max * 1000))
}

# Acts on one hung check: $1 backend id, $2 its pid, $3 the known primary (VERDICT and REASON
# from decide_health_check). A detach goes ahead only if pgpool, asked now, still has $3 as its
# up primary and $1 as an up standby, and no failover waits (confirm_standby_detach).
correct_hung_check() {
  local id=$1 pid=$2 primary=$3 reason=$REASON info waiting=0
  # The pid may have ended and been reused since the sample.
  check_process_id "$pid" && [[ $CHECK_ID == "$id" ]] || return 0
  if [[ $VERDICT == detach ]]; then
    [[ -e $FAILOVER_WAITING ]] && waiting=1
    if info=$(pcp pcp_node_info -a -v 2>/dev/null); then
      parse_node_info "$info"
      confirm_standby_detach "$primary" "$id" "$waiting"
    else
      VERDICT=restart REASON="PCP does not answer: no detach"
    fi
    if [[ $VERDICT == detach ]]; then
      log "correction: $reason: pcp_detach_node $id and a new health check (SIGTERM to pid $pid)"
      pcp pcp_detach_node -n "$id" >/dev/null 2>&1 || log "pcp_detach_node $id failed"
    else
      log "correction: $reason; but $REASON: a new health check only (SIGTERM to pid $pid)"
    fi
  else
    log "correction: $reason: a new health check (SIGTERM to pid $pid)"
  fi
  kill -TERM "$pid" 2>/dev/null || log "kill -TERM $pid failed (the check has ended by itself)"
}

# The loop, until the entrypoint ($1, its pid) is gone.
watch_health_checks() {
  local entrypoint=$1 fd id pid primary wait wchan next_scan=0
  local -a seen_pid=() seen_count=() since=() signalled=()
  rm -f "$WATCH_FIFO"
  if ! mkfifo -m 0600 "$WATCH_FIFO" || ! exec {fd}<>"$WATCH_FIFO"; then
    log "cannot create $WATCH_FIFO: hung health checks go unnoticed"
    return 0
  fi
  check_waits
  while [[ -d /proc/$entrypoint ]]; do
    read -r -t "$PGHA_CHECK_WATCH_TICK" -u "$fd" _
    ms_now
    # New pids after pgpool forked a check anew (after a failover, a restart, a correction).
    if ((MS_NOW >= next_scan)); then
      find_check_processes "${signalled[@]}"
      next_scan=$((MS_NOW + 5000))
    fi
    for id in "${!CHECK_PIDS[@]}"; do
      pid=${CHECK_PIDS[id]}
      # Signalled already, and not yet reaped: its successor is what counts.
      [[ $pid == "${signalled[id]:-}" ]] && continue
      if ! sched_count "$pid"; then
        unset "CHECK_PIDS[id]"
        next_scan=0
        continue
      fi
      if [[ $pid != "${seen_pid[id]:-}" || $SCHED_COUNT != "${seen_count[id]:-}" ]]; then
        seen_pid[id]=$pid seen_count[id]=$SCHED_COUNT since[id]=$MS_NOW
        continue
      fi
      primary=
      { read -r primary <"$KNOWN_PRIMARY_FILE"; } 2>/dev/null
      wait=$GLOBAL_CHECK_WAIT_MS
      [[ -n $primary && $primary != "$id" ]] && wait=$STANDBY_CHECK_WAIT_MS
      wchan=
      { read -r wchan || :; } <"$PGHA_PROC_DIR/$pid/wchan" 2>/dev/null
      decide_health_check "$id" "$primary" $((MS_NOW - since[id])) "$wait" "$wchan"
      [[ $VERDICT == ok ]] && continue
      correct_hung_check "$id" "$pid" "$primary"
      signalled[id]=$pid
      unset "CHECK_PIDS[id]"
      # pgpool forks the new check at once (or after the failover a detach starts).
      next_scan=$((MS_NOW + 1000))
    done
  done
}

start_check_watch() {
  watch_health_checks "$$" &
  # shellcheck disable=SC2034 # read by pgpool-stop.sh's on_term
  WATCH_PID=$!
}
