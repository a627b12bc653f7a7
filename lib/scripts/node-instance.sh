#!/bin/bash
# Instance control: the local PostgreSQL instance's state, its start, stop and hold mode, the
# status line refreshed from it, and the files this node owns (pgpass, repmgr.conf, the
# postgresql.conf include, the standby parameter floor, the log FIFO). Sourced by
# node-entrypoint.sh (and node-promote.sh for its queries) after node-env.sh; never executed.
# SC2034: state variables set here are read by the other sourced files.
# shellcheck disable=SC2034

BINDIR=
PG_MAJOR=
HOLD_SINCE=0

# ---------------------------------------------------------------------------------------
# Queries on the local instance

# psql on the local instance over the socket as the superuser.
local_sql() {
  psql -X -At -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d postgres -c "$*"
}

# The same in the repmgr database (repmgr.nodes, repmgr's SQL functions).
repmgr_sql() {
  psql -X -At -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d "$PGHA_REPMGR_DATABASE" -c "$*"
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

# The same through a session kept open (lib-session.sh), for the supervision loop: rows in
# SESSION_ROWS. One retry on a new session covers a server restarted since the last query.
# The session is on the repmgr database, which every node has once it serves (its instance-wide
# queries work from any database); a node without it falls back to a one-off psql.
local_query() {
  local conninfo="host=$PGHA_SOCKET_DIR port=$PGHA_PORT user=$PGHA_SUPERUSER dbname=$PGHA_REPMGR_DATABASE" out
  session_query local "$PGHA_LOCAL_QUERY_TIMEOUT" "$1" "$conninfo" && return 0
  session_query local "$PGHA_LOCAL_QUERY_TIMEOUT" "$1" "$conninfo" && return 0
  out=$(timeout "$PGHA_LOCAL_QUERY_TIMEOUT" psql -X -At -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d postgres -c "$1" 2>/dev/null) || return 1
  mapfile -t SESSION_ROWS <<<"$out"
}

# ---------------------------------------------------------------------------------------
# The data directory

has_data() { [[ -s $PGDATA/PG_VERSION ]]; }

busy() { printf '%s\n' "$1" >"$BUSY_MARKER"; }
not_busy() { rm -f "$BUSY_MARKER"; }

# PM_PID: the pid in postmaster.pid (no fork: the supervision loop calls it every second).
PM_PID=
read_postmaster_pid() {
  PM_PID=
  [[ -r $PGDATA/postmaster.pid ]] || return 1
  read -r PM_PID <"$PGDATA/postmaster.pid" || return 1
  [[ $PM_PID =~ ^[0-9]+$ ]]
}

# The pid in postmaster.pid must also be a postgres process: after a container restart the
# PID namespace is new and the stale number may belong to any process of ours.
postgres_running() {
  local comm
  read_postmaster_pid || return 1
  kill -0 "$PM_PID" 2>/dev/null || return 1
  [[ -r /proc/$PM_PID/comm ]] || return 0
  read -r comm <"/proc/$PM_PID/comm"
  [[ $comm == postgres || $comm == postmaster ]]
}

controldata_field() {
  pg_controldata "$PGDATA" 2>/dev/null | sed -n "s/^$1:[[:space:]]*//p"
}

local_sysid() { controldata_field 'Database system identifier'; }

# STOP_STATE, STOPPED_AT: the control file's cluster state and last change (epoch s, empty when
# unreadable) as this container found them.
STOP_STATE='' STOPPED_AT=''
read_stop_state() {
  STOP_STATE=$(controldata_field 'Database cluster state')
  STOPPED_AT=$(date -d "$(controldata_field 'pg_control last modified')" +%s 2>/dev/null)
}

# REPLY: the newest timeline this data directory knows: the checkpoint's, or a later one whose
# history file arrived (a standby that followed a promotion, or a promoted node before its
# checkpoint).
history_tli() {
  local f n
  REPLY=0
  for f in "$PGDATA"/pg_wal/*.history; do
    [[ -e $f ]] || continue
    f=${f##*/}
    n=$((16#${f%%.history}))
    ((n > REPLY)) && REPLY=$n
  done
  return 0
}

# REPLY: the newest timeline of the stopped data directory (control file or history files).
local_timeline() {
  local cp
  cp=$(controldata_field "Latest checkpoint's TimeLineID")
  history_tli
  ((${cp:-0} > REPLY)) && REPLY=$cp
  return 0
}

check_major_version() {
  local v
  v=$(<"$PGDATA/PG_VERSION")
  [[ $v == "$PG_MAJOR" ]] ||
    die "data directory is PostgreSQL $v, binaries are $PG_MAJOR: refusing to start (upgrade with pg_upgrade first)"
}

# A clone or bootstrap that died half-way leaves a directory that is neither empty nor
# usable (a bootstrap that never registered holds no data anyone wrote). A re-clone that died
# kept the previous data aside: it is worth more than nothing.
discard_incomplete_clone() {
  local m old
  for m in "$CLONE_MARKER" "$BOOTSTRAP_MARKER"; do
    if [[ -e $m ]]; then
      log "found ${m##*/}: the previous clone or bootstrap did not finish; removing the partial data directory"
      rm -rf "$PGDATA"
      rm -f "$m"
    fi
  done
  for old in "$PGDATA".old-*; do
    if [[ -d $old && ! -e $PGDATA ]]; then
      log "restoring $old, kept by an interrupted re-clone"
      mv "$old" "$PGDATA"
    fi
  done
}

# This container is new, so no postgres of ours runs yet: a postmaster.pid or socket lock
# left by the previous container names a PID that the new PID namespace may have given to
# another process (postgres then refuses to start: "Is another postmaster running?").
clear_stale_locks() {
  local f
  if [[ -e $PGDATA/postmaster.pid ]] && ! postgres_running; then
    log "removing stale postmaster.pid left by the previous container"
    rm -f "$PGDATA/postmaster.pid"
  fi
  for f in "$PGHA_SOCKET_DIR"/.s.PGSQL.*.lock; do
    [[ -e $f ]] && rm -f "$f"
  done
}

# ---------------------------------------------------------------------------------------
# Start, stop, hold

pg_start() {
  write_postgresql_conf
  # Only a standby start needs the primary's parameter floor; a primary start takes the
  # configured values (and records them in WAL for its standbys).
  if [[ -e $PGDATA/standby.signal ]]; then write_param_floor; else rm -f "$PARAM_FLOOR_CONF"; fi
  run_child pg_ctl -D "$PGDATA" -w -t "$PGHA_START_TIMEOUT" -l "$PG_LOG_FIFO" "$@" start >/dev/null
}

pg_stop() {
  postgres_running || return 0
  run_child pg_ctl -D "$PGDATA" -w -t 300 -m fast stop >/dev/null
}

# pg_rewind and repmgr node rejoin need a cleanly stopped data directory. A crashed node is
# brought to a clean state by a hold start (WAL replay as an isolated standby) and a stop;
# single-user mode is not used because it refuses a directory with standby.signal.
ensure_clean_shutdown() {
  local st
  st=$(controldata_field 'Database cluster state')
  case $st in
    'shut down' | 'shut down in recovery') return 0 ;;
  esac
  log "data directory state is '$st': replaying WAL in hold mode to get a clean shutdown"
  start_hold || return 1
  pg_stop
}

# Hold mode: an isolated read-only standby (no network listener, no upstream, no archive)
# that replays its own WAL so the node can publish exactly how far its data goes.
start_hold() {
  postgres_running && return 0
  busy hold
  touch "$PGDATA/standby.signal"
  rm -f "$PGDATA/recovery.signal"
  # Command-line -c outranks postgresql.auto.conf, where repmgr keeps primary_conninfo.
  pg_start -o "-c listen_addresses='' -c primary_conninfo='' -c restore_command=''" ||
    { not_busy; return 1; }
  local prev="" cur _
  # Replay may continue after pg_ctl returns (consistency comes before the end of WAL).
  for _ in $(seq 1 60); do
    cur=$(local_sql "SELECT pg_last_wal_replay_lsn()" 2>/dev/null)
    [[ -n $cur && $cur == "$prev" ]] && break
    prev=$cur
    nap 1
  done
  not_busy
  HOLD_SINCE=$EPOCHSECONDS
  refresh_status hold
  log "hold: data replayed to $(own_field lsn) on timeline $(own_field tli) (isolated, not serving)"
}

# ---------------------------------------------------------------------------------------
# The status line, from the running instance

# "sysid tli lsn streaming recovery" of the running local instance, in SESSION_ROWS[0].
local_live_state() {
  local_query "SELECT (SELECT system_identifier FROM pg_control_system()),
    CASE WHEN pg_is_in_recovery()
      THEN GREATEST((SELECT timeline_id FROM pg_control_checkpoint()),
                    COALESCE((SELECT received_tli FROM pg_stat_wal_receiver), 0))
      ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
    CASE WHEN pg_is_in_recovery()
      THEN COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
      ELSE pg_current_wal_lsn() END,
    COALESCE((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false)::int,
    pg_is_in_recovery()::int"
}

# Refreshes the status line from the running instance ($1: the state, or auto). The supervisor
# calls it every second (a query on the kept-open session, no fork); the line is rewritten (a
# fork of mv) only when the state, timeline or streaming changed, or PGHA_STATUS_REWRITE
# seconds after the last write (the probe endpoint needs a fresh timestamp; the LSN moves on
# every write and is not worth a fork a second).
LAST_STATUS_KEY='' LAST_STATUS_AT=0
refresh_status() {
  local state=$1 sysid tli lsn streaming rec key
  local_live_state || return 1
  [[ -n ${SESSION_ROWS[0]:-} ]] || return 1
  IFS='|' read -r sysid tli lsn streaming rec <<<"${SESSION_ROWS[0]}"
  history_tli
  ((REPLY > tli)) && tli=$REPLY
  if [[ $state == auto ]]; then
    if [[ $PGHA_ROLE_TIER == witness ]]; then state=witness
    elif ((rec)); then state=standby
    else state=primary; fi
  fi
  key="$state $sysid $tli $streaming"
  [[ $key == "$LAST_STATUS_KEY" && $state == "$CURRENT_STATE" ]] && ((EPOCHSECONDS - LAST_STATUS_AT < PGHA_STATUS_REWRITE)) && return 0
  publish_status "$state" "$sysid" "$tli" "$lsn" "$streaming"
  LAST_STATUS_KEY=$key LAST_STATUS_AT=$EPOCHSECONDS
}

# UPSTREAM_HOST: the host this standby's WAL receiver streams from; empty when it does not
# stream. Status 1 when the local instance cannot be asked.
UPSTREAM_HOST=
streaming_upstream_host() {
  UPSTREAM_HOST=
  local_query "SELECT conninfo FROM pg_stat_wal_receiver WHERE status = 'streaming'" || return 1
  conninfo_host "${SESSION_ROWS[0]:-}"
  UPSTREAM_HOST=$REPLY
}
