#!/bin/bash
# PID 1 of every PostgreSQL container (member, cascade and witness tiers).
# Decides the node's role from the live state of its peers at every start, then supervises
# postgres (started with pg_ctl, so repmgr can restart/promote it) and repmgrd (foreground
# child). The rules are explained in README.md next to this file.
set -uo pipefail

LOG_TAG=entrypoint
# shellcheck source=lib-base.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-base.sh"
# shellcheck source=lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"
# shellcheck source=lib-session.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-session.sh"

# Seconds; overridable so tests and small clusters can shorten them.
: "${PGHA_ELECTION_TIMEOUT:=60}"     # wait for every member before electing with a majority
: "${PGHA_PG_DOWN_GRACE:=60}"        # postgres may be down this long (repmgr restart/follow)
: "${PGHA_START_TIMEOUT:=86400}"     # pg_ctl -w budget: crash recovery can be long
: "${PGHA_POLL_INTERVAL:=2}"
: "${PGHA_SUPERVISE_INTERVAL:=5}"
: "${PGHA_HANDOFF_PAUSE_MAX:=30}"    # a paused repmgrd (handoff) resumes by itself after this

VOLUME_DIR=$(dirname "$PGDATA")
CLONE_MARKER=$VOLUME_DIR/.pgha-clone-incomplete
BOOTSTRAP_MARKER=$VOLUME_DIR/.pgha-bootstrap-incomplete
REPMGRD_PID=
STATUS_SERVER_PID=
CURRENT_STATE=starting
LAST_WAIT_MSG=
LAST_WAIT_TS=0

# ---------------------------------------------------------------------------------------
# Process handling

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

# SIGTERM (lib-base.sh: on_signal records it; this runs at the next nap or child exit).
on_term() {
  trap - TERM INT
  TERM_REQUESTED=0
  log "SIGTERM: stopping repmgrd and postgres (fast)"
  local was=$CURRENT_STATE
  publish_status stopping "$(status_field "$(<"$STATUS_FILE")" sysid)"
  [[ -n $CHILD_PID ]] && kill -TERM "$CHILD_PID" 2>/dev/null
  if [[ $PGHA_ROLE_TIER == member && $was == primary ]] && postgres_running; then
    handoff || log "handoff: not done ($HANDOFF_WHY); the standbys' repmgrd fails over as after a crash"
  fi
  [[ -n $REPMGRD_PID ]] && kill -TERM "$REPMGRD_PID" 2>/dev/null
  [[ -n $REPMGRD_PID ]] && wait "$REPMGRD_PID" 2>/dev/null
  if postgres_running; then
    pg_ctl -D "$PGDATA" -w -t 300 -m fast stop >/dev/null
  fi
  [[ -n $STATUS_SERVER_PID ]] && kill "$STATUS_SERVER_PID" 2>/dev/null
  log "stopped"
  exit 0
}

# ---------------------------------------------------------------------------------------
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
#   3. Target: the standby with the best priority whose received WAL passed that checkpoint.
#      pg_promote() on it, then the repmgr metadata repmgr standby promote would write
#      (this node inactive, the target primary) and a standby_promote event.
#   4. Tell the other standbys' repmgrd to follow the target (repmgr.notify_follow_primary:
#      repmgrd reads it while it retries the old primary).
# The pauses are lifted by each standby's own entrypoint (pause_check): the target restarts
# its repmgrd as the primary's; the others resume once a primary that is not stopping
# serves. Any step failing before the promotion lifts the pauses here at once, and
# repmgrd fails over as after a crash (it compares WAL positions itself).
HANDOFF_WHY=
handoff() {
  local -a hosts standbys=() cands=() paused=()
  local h line prio state ckpt lsn target='' tid t0 ord rolled
  t0=$(date +%s%3N)
  # The member list of this pod's environment can be older than the cluster: during the
  # rolling update of a scale-up the new members are registered but not in it. Members the
  # metadata knows are paused and told too; a standby left out keeps repmgrd running, which
  # would elect on its own, or resume monitoring the old primary's new pod.
  mapfile -t hosts < <(known_member_hosts)
  for h in "${hosts[@]}"; do
    [[ $h == "$SELF_HOST" ]] && continue
    line=$(read_peer_status "$h")
    [[ $(status_field "$line" state) == standby ]] || continue
    standbys+=("$h")
    ord=$(ordinal_of "${h%%.*}")
    prio=$(priority_of "$ord")
    # Best priority first. Then the rolled members, whose pod template differs from this
    # one's (a rolling update is under way and this pod is one of the old ones): the highest
    # ordinal of them; else the lowest ordinal. A StatefulSet rolls from the highest ordinal
    # down, so either choice is a member the roll has passed or reaches last, and a roll
    # moves the primary once, instead of to a member the roll then deletes right after its
    # promotion.
    rolled=0
    [[ $(status_field "$line" spec) != "$POD_SPEC" ]] && rolled=1
    ((rolled)) || ord=$((100000 - ord))
    [[ $(status_field "$line" streaming) == 1 ]] && ((prio > 0)) && cands+=("$rolled $prio $ord $h")
  done
  ((${#cands[@]} > 0)) || { HANDOFF_WHY="no member standby streams from this node"; return 1; }
  mapfile -t cands < <(printf '%s\n' "${cands[@]}" | sort -k2,2nr -k1,1nr -k3,3nr | cut -d' ' -f4)
  log "handoff: graceful stop of the primary; candidates ${cands[*]%%.*}; pausing repmgrd on ${standbys[*]%%.*}"
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
    if (($(lsn_to_int "$lsn") > $(lsn_to_int "$ckpt"))); then
      target=$h
      break
    fi
    log "handoff: ${h%%.*} received WAL up to ${lsn:-nothing}, not past the shutdown checkpoint $ckpt"
  done
  if [[ -z $target ]]; then
    HANDOFF_WHY="no candidate received the shutdown checkpoint $ckpt"
    handoff_unpause "${paused[@]}"
    return 1
  fi
  tid=$(node_id_of_host "$target" "$PGHA_NODE_ID_BASE")
  if [[ $(peer_sql "$target" "SELECT pg_promote(true, 60)") != t ]]; then
    HANDOFF_WHY="pg_promote() on ${target%%.*} failed"
    handoff_unpause "${paused[@]}"
    return 1
  fi
  log "handoff: ${target%%.*} promoted $(($(date +%s%3N) - t0)) ms after SIGTERM (it holds the shutdown checkpoint $ckpt)"
  peer_sql "$target" "$(primary_record_sql "$tid" "promoted by the handoff of $POD_NAME (graceful stop, shutdown checkpoint $ckpt)")" >/dev/null ||
    log "WARNING: handoff: could not update the repmgr metadata on ${target%%.*}; its entrypoint writes it"
  for h in "${paused[@]}"; do
    [[ $h == "$target" ]] && continue
    peer_sql "$h" "SELECT repmgr.notify_follow_primary($tid)" >/dev/null ||
      log "WARNING: handoff: could not notify ${h%%.*}; its entrypoint resumes repmgrd, which then finds the new primary"
  done
  log "handoff: done in $(($(date +%s%3N) - t0)) ms; ${paused[*]%%.*} resume repmgrd once they see the new primary"
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

# A reason to keep waiting is logged when it changes, and every 30 s while it persists.
log_wait() {
  local now=$EPOCHSECONDS
  # Counters inside the message do not make it a new reason.
  local key=${1//[0-9]/}
  if [[ $key != "$LAST_WAIT_MSG" ]] || ((now - LAST_WAIT_TS >= 30)); then
    log "waiting: $1"
    LAST_WAIT_MSG=$key
    LAST_WAIT_TS=$now
  fi
}

NAP_FIFO=$RUN_DIR/nap

# ---------------------------------------------------------------------------------------
# Files this node owns

# PGDATA's postgresql.conf only includes the ConfigMap's file. Rewritten before every start
# because clone and rewind copy the peer's copy.
write_postgresql_conf() {
  [[ -d $PGDATA ]] || return 0
  printf "include '%s/postgresql.conf'\ninclude_if_exists '%s'\n" "$PGHA_CONFIG_DIR" "$PARAM_FLOOR_CONF" >"$PGDATA/postgresql.conf"
}

# A standby refuses to start recovery when one of these is lower than on its primary
# ("recovery aborted because of insufficient parameter settings"). They follow the topology
# (max_wal_senders grows with the number of standbys), so after a scale-down every restarted
# standby gets the new, lower value while the primary keeps the old one until its own
# restart: without a floor the rolling update stalls on the first standby. The control file
# holds the primary's values as of the last WAL replayed (pg_rewind and clones copy the
# primary's); $1, when given, is the primary to ask for its live values too. The floor is a
# file outside PGDATA, included last, so repmgr's own restarts (rejoin, follow) use it too.
PARAM_FLOOR_CONF=$RUN_DIR/param-floor.conf
declare -A FLOOR_CONTROL_LABEL=(
  [max_connections]='max_connections setting'
  [max_worker_processes]='max_worker_processes setting'
  [max_wal_senders]='max_wal_senders setting'
  [max_prepared_transactions]='max_prepared_xacts setting'
  [max_locks_per_transaction]='max_locks_per_xact setting'
)
write_param_floor() {
  local peer=${1:-} control p want mine tmp out=""
  local -A live=()
  rm -f "$PARAM_FLOOR_CONF"
  control=$(pg_controldata "$PGDATA" 2>/dev/null) || return 0
  if [[ -n $peer ]]; then
    local name value
    while IFS='|' read -r name value; do
      [[ -n $name ]] && live[$name]=$value
    done < <(peer_sql "$peer" "SELECT name || '|' || setting FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')")
  fi
  for p in "${!FLOOR_CONTROL_LABEL[@]}"; do
    want=$(sed -n "s/^${FLOOR_CONTROL_LABEL[$p]}:[[:space:]]*//p" <<<"$control")
    [[ ${live[$p]:-} =~ ^[0-9]+$ && ( -z $want || ${live[$p]} -gt $want ) ]] && want=${live[$p]}
    [[ $want =~ ^[0-9]+$ ]] || continue
    # The configured value (the floor file is gone, so this reads the ConfigMap's).
    mine=$(postgres -D "$PGDATA" -C "$p" 2>/dev/null)
    [[ $mine =~ ^[0-9]+$ ]] || continue
    if ((want > mine)); then
      out+="$p = $want"$'\n'
      log "standby start: $p = $want (primary's value) instead of the configured $mine until the primary restarts with the new value"
    fi
  done
  [[ -n $out ]] || return 0
  tmp=$(mktemp "$RUN_DIR/.floor.XXXXXX")
  printf '# written by node-entrypoint.sh: parameters a standby must not set lower than its primary\n%s' "$out" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$PARAM_FLOOR_CONF"
}

write_repmgr_conf() {
  local common=$PGHA_CONFIG_DIR/repmgr.conf tmp prio
  [[ -r $common ]] || die "missing $common"
  if [[ $PGHA_ROLE_TIER == member ]]; then prio=$(priority_of "$ORDINAL"); else prio=$(priority_of "$ORDINAL"); fi
  [[ $PGHA_ROLE_TIER == witness ]] && prio=0
  tmp=$(mktemp "$RUN_DIR/.repmgr.XXXXXX")
  {
    cat "$common"
    printf '\n# per-node part written by node-entrypoint.sh\n'
    printf 'node_id=%s\n' "$NODE_ID"
    printf "node_name='%s'\n" "$POD_NAME"
    printf "conninfo='host=%s user=%s dbname=%s %s'\n" "$SELF_HOST" "$PGHA_REPMGR_USER" "$PGHA_REPMGR_DATABASE" "$PEER_CONN_OPTS"
    printf 'priority=%s\n' "$prio"
    printf "pg_bindir='%s'\n" "$BINDIR"
    printf "location='default'\n"
    # The scripts rely on these; add them only when the rendered common part lacks them.
    grep -q '^[[:space:]]*data_directory' "$common" || printf "data_directory='%s'\n" "$PGDATA"
    grep -q '^[[:space:]]*passfile' "$common" || printf "passfile='%s'\n" "$PGPASSFILE"
  } >"$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$REPMGR_CONF"
}

# Postgres logs go to the container's stdout through a FIFO drained by a cat loop: pg_ctl
# needs a -l target when the caller (repmgr) does not keep its stdout open.
setup_log_fifo() {
  rm -f "$PG_LOG_FIFO"
  mkfifo -m 0600 "$PG_LOG_FIFO"
  # Keep a read-write descriptor so writers never block or get SIGPIPE while cat restarts.
  exec 9<>"$PG_LOG_FIFO"
  (
    trap - TERM INT
    while :; do cat "$PG_LOG_FIFO"; done
  ) &
}

# ---------------------------------------------------------------------------------------
# Local state

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

# Refreshes the status line from the running instance. The supervisor calls it every second
# (a query on the kept-open session, no fork); the line is rewritten (a fork of mv) only when
# the state, timeline or streaming changed, or PGHA_STATUS_REWRITE seconds after the last write
# (the probe endpoint needs a fresh timestamp; the LSN moves on every write and is not worth a
# fork a second).
: "${PGHA_STATUS_REWRITE:=5}"
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

check_major_version() {
  local v
  v=$(<"$PGDATA/PG_VERSION")
  [[ $v == "$PG_MAJOR" ]] ||
    die "data directory is PostgreSQL $v, binaries are $PG_MAJOR: refusing to start (upgrade with pg_upgrade first)"
}

# A clone or bootstrap that died half-way leaves a directory that is neither empty nor
# usable (a bootstrap that never registered holds no data anyone wrote).
discard_incomplete_clone() {
  local m
  for m in "$CLONE_MARKER" "$BOOTSTRAP_MARKER"; do
    if [[ -e $m ]]; then
      log "found ${m##*/}: the previous clone or bootstrap did not finish; removing the partial data directory"
      rm -rf "$PGDATA"
      rm -f "$m"
    fi
  done
  # A re-clone that died keeps the previous data aside: it is worth more than nothing.
  local old
  for old in "$PGDATA".old-*; do
    if [[ -d $old && ! -e $PGDATA ]]; then
      log "restoring $old, kept by an interrupted re-clone"
      mv "$old" "$PGDATA"
    fi
  done
}

local_sysid() { controldata_field 'Database system identifier'; }

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

# ---------------------------------------------------------------------------------------
# Hold mode: an isolated read-only standby (no network listener, no upstream, no archive)
# that replays its own WAL so the node can publish exactly how far its data goes.

HOLD_SINCE=0
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
  log "hold: data replayed to $(status_field "$(<"$STATUS_FILE")" lsn) on timeline $(status_field "$(<"$STATUS_FILE")" tli) (isolated, not serving)"
}

# ---------------------------------------------------------------------------------------
# Election among members when no primary runs (whole-cluster restart, or a failover repmgrd
# could not complete). Deterministic: highest timeline, then highest LSN, then lowest node id,
# among nodes with promotion priority > 0. Prints the reason when this node must not promote.

# Seconds repmgrd gets before the entrypoint's own election steps in: twice repmgrd's failure
# detection plus margin, derived by the constructs from the failover timing
# (ResolvedTiming.failoverWaitSeconds) and passed as PGHA_FAILOVER_WAIT. The default is the
# one of the default timing.
: "${PGHA_FAILOVER_WAIT:=50}"
failover_wait() {
  printf '%s' "$PGHA_FAILOVER_WAIT"
}

# $1 = seconds this node has been waiting without a primary.
ELECTION_REASON=
elect() {
  local waited=$1 hosts n majority h line state sysid tli lsn nid pri ord
  local mysysid responders=0 final=0 streaming=0 running=0 ncand=0
  local best_key="" best_id="" best_host="" key
  read -r -a hosts <<<"${PGHA_MEMBER_HOSTS:-}"
  n=${#hosts[@]}
  majority=$((n / 2 + 1))
  mysysid=$(status_field "$(<"$STATUS_FILE")" sysid)
  for ord in "${!hosts[@]}"; do
    h=${hosts[$ord]}
    if [[ $h == "$SELF_HOST" ]]; then line=$(<"$STATUS_FILE"); else line=$(read_peer_status "$h"); fi
    [[ -n $line ]] || continue
    responders=$((responders + 1))
    state=$(status_field "$line" state)
    sysid=$(status_field "$line" sysid)
    case $state in
      primary)
        ELECTION_REASON="$h reports state primary"
        return 1
        ;;
      standby)
        running=$((running + 1))
        [[ $(status_field "$line" streaming) == 1 ]] && streaming=$((streaming + 1))
        ;;
    esac
    case $state in hold | standby | waiting) final=$((final + 1)) ;; esac
    [[ $state == hold || $state == standby ]] || continue
    if [[ $sysid != "$mysysid" ]]; then
      log "election: $h has system identifier $sysid, not $mysysid: ignored"
      continue
    fi
    ncand=$((ncand + 1))
    pri=$(priority_of "$ord")
    ((pri > 0)) || continue
    tli=$(status_field "$line" tli)
    lsn=$(status_field "$line" lsn)
    nid=$(status_field "$line" node_id)
    # Sort key: timeline, LSN, then the lower node id wins.
    printf -v key '%010d%020d%010d' "$tli" "$(lsn_to_int "$lsn")" $((999999999 - nid))
    if [[ -z $best_key || $key > $best_key ]]; then
      best_key=$key best_id=$nid best_host="$h (timeline $tli, lsn $lsn)"
    fi
  done
  if ((streaming > 0)); then
    ELECTION_REASON="a member still streams from a primary this node cannot reach"
    return 1
  fi
  if ((ncand < majority)); then
    ELECTION_REASON="only $ncand of $n members publish data of this cluster (need $majority)"
    return 1
  fi
  if ((final < n && waited < PGHA_ELECTION_TIMEOUT)); then
    ELECTION_REASON="$final of $n members have published a final state (${waited}s of ${PGHA_ELECTION_TIMEOUT}s before electing with a majority)"
    return 1
  fi
  local fw
  fw=$(failover_wait)
  if ((running > 0 && waited < fw)); then
    ELECTION_REASON="$running standby(s) run repmgrd: leaving the failover to repmgrd (${waited}s of ${fw}s)"
    return 1
  fi
  if [[ -z $best_id ]]; then
    ELECTION_REASON="no candidate with priority > 0"
    return 1
  fi
  if [[ $best_id != "$NODE_ID" ]]; then
    ELECTION_REASON="most advanced candidate is $best_host"
    return 1
  fi
  ELECTION_REASON="this node is the most advanced of $ncand candidates ($responders of $n members answered): $best_host"
  return 0
}

# The winner of an election promotes its hold instance (a new timeline, so a node that
# diverged on the old one is detected and rewound later) and restarts it listening.
promote_from_hold() {
  busy promoting
  publish_status promoting "$(local_sysid)"
  local p
  if p=$(find_primary); then
    log "election aborted: $p became primary meanwhile"
    not_busy
    return 1
  fi
  log "promote: pg_ctl promote of the hold instance"
  run_child pg_ctl -D "$PGDATA" -w -t 300 promote >/dev/null || { not_busy; return 1; }
  pg_stop
  pg_start || die "postgres did not start after promotion"
  log "register: repmgr primary register --force"
  run_child repmgr -f "$REPMGR_CONF" primary register --force || log "WARNING: primary register failed"
  not_busy
  refresh_status primary
}

# ---------------------------------------------------------------------------------------
# Bootstrap, clone, rejoin

bootstrap_primary() {
  busy bootstrapping
  publish_status bootstrapping
  local pwfile su rep app mon
  su=$(read_secret superuser-password)
  rep=$(read_secret replication-password)
  app=$(read_secret app-password)
  mon=$(read_secret monitor-password)
  pwfile=$(mktemp "$RUN_DIR/.pw.XXXXXX")
  printf '%s\n' "$su" >"$pwfile"
  touch "$BOOTSTRAP_MARKER"
  log "initdb: new cluster (data checksums, scram-sha-256)"
  run_child initdb -D "$PGDATA" -U "$PGHA_SUPERUSER" --pwfile="$pwfile" --data-checksums \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null ||
    { rm -f "$pwfile"; rm -rf "$PGDATA"; die "initdb failed"; }
  rm -f "$pwfile"
  # Roles are created before the node listens, so no peer ever sees a primary without them.
  # No standby exists yet: with quorum commit (synchronous_standby_names) every commit here
  # would wait forever, so this private start has none.
  pg_start -o "-c listen_addresses='' -c synchronous_standby_names=''" || die "postgres did not start after initdb"
  log "bootstrap: creating roles $PGHA_REPMGR_USER (superuser, replication: needed by repmgr and pg_rewind), ${PGHA_APP_USER:-app}, ${PGHA_MONITOR_USER:-monitor} (pg_monitor)"
  psql -X -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d postgres \
    -v repuser="$PGHA_REPMGR_USER" -v repdb="$PGHA_REPMGR_DATABASE" -v reppw="$rep" \
    -v appuser="${PGHA_APP_USER:-app}" -v appdb="${PGHA_APP_DATABASE:-app}" -v apppw="$app" \
    -v monuser="${PGHA_MONITOR_USER:-monitor}" -v monpw="$mon" >/dev/null <<'SQL' || die "role creation failed"
SET log_statement = 'none';
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"repuser" LOGIN SUPERUSER REPLICATION PASSWORD :'reppw';
-- repmgr's metadata writes (register, events, monitoring) must not wait for a synchronous
-- standby: the first registration happens before any standby exists, and a primary whose
-- standbys are gone must still be able to record events.
ALTER ROLE :"repuser" SET synchronous_commit = 'local';
CREATE DATABASE :"repdb" OWNER :"repuser";
CREATE ROLE :"appuser" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'apppw';
CREATE DATABASE :"appdb" OWNER :"appuser";
REVOKE ALL ON DATABASE :"repdb" FROM PUBLIC;
CREATE ROLE :"monuser" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'monpw';
GRANT pg_monitor TO :"monuser";
SQL
  # repmgr connects through its TCP conninfo, so the node listens from here on; peers still
  # do not treat it as a primary until its repmgr record exists (see peer_role).
  pg_stop
  pg_start || die "postgres did not start"
  log "register: repmgr primary register"
  run_child repmgr -f "$REPMGR_CONF" primary register || die "repmgr primary register failed"
  rm -f "$BOOTSTRAP_MARKER"
  not_busy
  refresh_status primary
  log "role: primary (bootstrapped a new cluster)"
}

# $1 = source host; $2 = upstream node id for a cascade (empty for members).
clone_from() {
  local src=$1 upid=${2:-} t0 args=()
  busy cloning
  publish_status cloning
  touch "$CLONE_MARKER"
  rm -rf "$PGDATA"
  [[ -n $upid ]] && args+=(--upstream-node-id="$upid")
  log "clone: repmgr standby clone from $src ${upid:+(upstream node $upid)}"
  t0=$EPOCHSECONDS
  run_child repmgr -f "$REPMGR_CONF" -d "$(peer_conninfo "$src")" standby clone --fast-checkpoint "${args[@]}" ||
    { log "clone from $src failed"; not_busy; return 1; }
  rm -f "$CLONE_MARKER"
  log "clone: done in $((EPOCHSECONDS - t0))s"
  pg_start || die "postgres did not start after clone"
  not_busy
  register_standby "$src" "$upid"
}

register_standby() {
  local src=$1 upid=${2:-} args=(--force)
  # --force replaces this node's existing record (re-clone, new claim); it is harmless for
  # a first registration.
  [[ -n $upid ]] && args+=(--upstream-node-id="$upid")
  log "register: repmgr standby register ${args[*]}"
  run_child repmgr -f "$REPMGR_CONF" standby register "${args[@]}" || log "WARNING: standby register failed"
  wait_own_record
}

# repmgrd exits when its node has no record in the local copy of repmgr.nodes; the record is
# written on the primary and reaches this standby by replication a moment later.
wait_own_record() {
  local _
  for _ in $(seq 1 60); do
    [[ $(repmgr_sql "SELECT count(*) FROM repmgr.nodes WHERE node_id = $NODE_ID" 2>/dev/null) == 1 ]] && return 0
    nap 1
  done
  log "WARNING: own repmgr record not visible locally after 60s"
}

# Moves the data directory aside (kept until the clone succeeded) and clones afresh.
reclone_from() {
  local src=$1 upid=${2:-} used avail old
  used=$(du -sk "$PGDATA" | cut -f1)
  avail=$(df -Pk "$VOLUME_DIR" | awk 'NR==2 {print $4}')
  printf -v old '%s.old-%(%Y%m%d%H%M%S)T' "$PGDATA" -1
  if ((avail > used + used / 10)); then
    log "re-clone: keeping the old data directory as $old until the clone succeeded"
    mv "$PGDATA" "$old"
    if clone_from "$src" "$upid"; then
      rm -rf "$old"
      return 0
    fi
    log "re-clone failed: restoring the old data directory"
    rm -rf "$PGDATA"
    mv "$old" "$PGDATA"
    return 1
  fi
  if [[ ${PGHA_RECLONE_DISCARD:-false} == true ]]; then
    log "re-clone: not enough space to keep the old data (${used}k used, ${avail}k free): discarding it (PGHA_RECLONE_DISCARD=true)"
    rm -rf "$PGDATA"
    clone_from "$src" "$upid"
    return
  fi
  die "re-clone needed but the volume cannot hold a second copy (${used}k used, ${avail}k free); set PGHA_RECLONE_DISCARD=true or grow the volume"
}

# Joins an existing data directory to the running primary: rewind when the timelines
# diverged (repmgr decides), plain restart as standby otherwise; re-clone when that fails.
rejoin_to() {
  local prim=$1 ptli mytli
  # pg_rewind reads the source's timeline from its control file, which a just-promoted
  # primary updates only at its next checkpoint: without one, rewind decides nothing
  # diverged and the node cannot start ("requested timeline N does not contain minimum
  # recovery point"). The CHECKPOINT also gives the live timeline.
  ptli=$(peer_sql "$prim" "CHECKPOINT; SELECT timeline_id FROM pg_control_checkpoint()") || ptli=0
  mytli=$(controldata_field "Latest checkpoint's TimeLineID")
  local h
  history_tli
  h=$REPLY
  ((h > mytli)) && mytli=$h
  if ((ptli > 0 && mytli > ptli)); then
    log_wait "local timeline $mytli is newer than primary $prim's timeline $ptli: refusing to rewind onto an older timeline"
    return 2
  fi
  pg_stop
  ensure_clean_shutdown || return 1
  busy rejoining
  publish_status rejoining "$(local_sysid)"
  write_postgresql_conf
  # repmgr starts the rewound node itself, with the primary's control file: floor first.
  write_param_floor "$prim"
  log "rejoin: repmgr node rejoin --force-rewind to primary $prim (local timeline $mytli, primary's $ptli)"
  local t0
  t0=$EPOCHSECONDS
  # pg_rewind copies the primary's postgresql.conf: the same include line, rewritten anyway.
  if run_child repmgr -f "$REPMGR_CONF" -d "$(peer_conninfo "$prim")" node rejoin --force-rewind --verbose; then
    write_postgresql_conf
    not_busy
    log "rejoin: done in $((EPOCHSECONDS - t0))s"
    return 0
  fi
  not_busy
  log "rejoin failed: falling back to a re-clone from $prim"
  pg_stop
  reclone_from "$prim"
}

# ---------------------------------------------------------------------------------------
# Tiers

member_main() {
  local prim rc mysys psys t_wait_start
  t_wait_start=$EPOCHSECONDS
  discard_incomplete_clone
  while :; do
    prim=$(find_primary)
    rc=$?
    if ((rc == 2)); then
      log_wait "several members claim to be primary ($prim): not joining any"
      nap "$PGHA_POLL_INTERVAL"
      continue
    fi
    if has_data; then
      check_major_version
      if ((rc == 0)); then
        mysys=$(local_sysid)
        postgres_running && mysys=$(status_field "$(<"$STATUS_FILE")" sysid)
        psys=$(peer_sysid "$prim")
        if [[ -n $psys && -n $mysys && $psys != "$mysys" ]]; then
          die "data directory belongs to another cluster (system identifier $mysys, primary $prim has $psys): refusing to touch it"
        fi
        if stale_claim "$prim"; then
          # repmgr node rejoin refuses a node without a record, and the primary kept no WAL
          # for it since its slot was dropped: a fresh copy is the only sound start.
          log "role: standby (stale data on a reused claim: $STALE_REASON): re-cloning from primary $prim"
          reclone_from "$prim" && return 0
          nap "$PGHA_POLL_INTERVAL"
          continue
        fi
        log "role: standby (data directory present, primary $prim is running)"
        rejoin_to "$prim"
        case $? in
          0) return 0 ;;
          2) nap "$PGHA_POLL_INTERVAL"; continue ;;
          *) die "could not join primary $prim" ;;
        esac
      fi
      if ! postgres_running; then
        log "no reachable primary; holding the data (isolated standby) to publish its position"
        start_hold || die "hold start failed"
      else
        refresh_status hold
      fi
      if elect $((EPOCHSECONDS - HOLD_SINCE)); then
        log "role: primary (election: $ELECTION_REASON)"
        promote_from_hold && return 0
        continue
      fi
      log_wait "no primary; not electing this node: $ELECTION_REASON"
    else
      if ((rc == 0)); then
        log "role: standby (empty data directory, primary $prim is running)"
        clone_from "$prim" && return 0
        nap "$PGHA_POLL_INTERVAL"
        continue
      fi
      publish_status waiting
      if [[ $ORDINAL == 0 ]]; then
        local why
        if why=$(cluster_absent); then
          log "role: primary (ordinal 0, empty data directory, $why)"
          bootstrap_primary
          return 0
        fi
        log_wait "ordinal 0 with an empty data directory, but cannot tell that no cluster exists: $why"
      else
        log_wait "empty data directory and no running primary to clone from ($((EPOCHSECONDS - t_wait_start))s)"
      fi
    fi
    nap "$PGHA_POLL_INTERVAL"
  done
}

# A claim left behind by a scale-down and reused by a scale-up: the primary has no repmgr
# record of this node (the primary unregistered it, see scaledown_check), so the data is
# from before the node left, however long ago. Fails when the record exists or the primary
# cannot be asked (then the usual rejoin decides).
STALE_REASON=
stale_claim() {
  local prim=$1 rec line ptli plsn
  rec=$(peer_sql "$prim" "SELECT count(*) FROM repmgr.nodes WHERE node_id = $NODE_ID") || return 1
  [[ $rec == 0 ]] || return 1
  # The primary's position as its status endpoint publishes it (for the log line only).
  line=$(read_peer_status "$prim")
  ptli=$(status_field "$line" tli) plsn=$(status_field "$line" lsn)
  STALE_REASON="primary $prim has no repmgr record of node $NODE_ID (scaled away and unregistered, or never registered); local data ends at timeline $(controldata_field "Latest checkpoint's TimeLineID") checkpoint $(controldata_field 'Latest checkpoint location'), primary is at timeline ${ptli:-?} lsn ${plsn:-?}"
  return 0
}

# Succeeds (printing why) only when every other member answers on its status endpoint and
# none of them has data: an unreachable member may hold the cluster.
cluster_absent() {
  local h line state sysid n=0
  for h in ${PGHA_MEMBER_HOSTS:-}; do
    [[ $h == "$SELF_HOST" ]] && continue
    n=$((n + 1))
    line=$(read_peer_status "$h")
    if [[ -z $line ]]; then
      printf '%s does not answer' "$h"
      return 1
    fi
    state=$(status_field "$line" state)
    sysid=$(status_field "$line" sysid)
    if [[ $sysid != - || $state != waiting ]]; then
      printf '%s has state %s (system identifier %s)' "$h" "$state" "$sysid"
      return 1
    fi
  done
  printf 'all %d other members answer with empty data directories' "$n"
}

# A Ready first-layer standby to stream from: state standby and streaming, verified live.
# The list is walked from position (ordinal mod length) so cascades spread over the
# first-layer standbys instead of all streaming from the first one.
find_upstream() {
  local h line r i n
  local -a ups
  read -r -a ups <<<"${PGHA_UPSTREAM_HOSTS:-}"
  n=${#ups[@]}
  for ((i = 0; i < n; i++)); do
    h=${ups[(ORDINAL + i) % n]}
    line=$(read_peer_status "$h")
    [[ $(status_field "$line" state) == standby && $(status_field "$line" streaming) == 1 ]] || continue
    r=$(peer_sql "$h" "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')") || continue
    [[ $r == t ]] || continue
    printf '%s %s\n' "$h" "$(status_field "$line" node_id)"
    return 0
  done
  return 1
}

cascade_main() {
  local prim up upid mysys psys cur
  discard_incomplete_clone
  while :; do
    if ! prim=$(find_primary); then
      publish_status waiting "$(has_data && local_sysid)"
      log_wait "no running primary among the members"
      nap "$PGHA_POLL_INTERVAL"
      continue
    fi
    if ! read -r up upid < <(find_upstream); then
      publish_status waiting "$(has_data && local_sysid)"
      log_wait "no streaming first-layer standby among: ${PGHA_UPSTREAM_HOSTS:-none}"
      nap "$PGHA_POLL_INTERVAL"
      continue
    fi
    if ! has_data; then
      log "role: cascading standby (empty data directory, upstream $up, node $upid)"
      clone_from "$up" "$upid" && return 0
      nap "$PGHA_POLL_INTERVAL"
      continue
    fi
    check_major_version
    mysys=$(local_sysid)
    psys=$(peer_sysid "$prim")
    [[ -n $psys && $psys != "$mysys" ]] &&
      die "data directory belongs to another cluster (system identifier $mysys, primary has $psys)"
    log "role: cascading standby (data directory present, upstream $up, node $upid)"
    ensure_clean_shutdown || die "could not bring the data directory to a clean state"
    touch "$PGDATA/standby.signal"
    pg_start || die "postgres did not start"
    # The configured upstream, not pg_stat_wal_receiver: the receiver may not be up yet.
    cur=$(local_sql "SELECT current_setting('primary_conninfo')" 2>/dev/null)
    if [[ " $cur " != *" host=$up "* ]]; then
      log "follow: repmgr standby follow --upstream-node-id=$upid (was: ${cur:-no upstream})"
      run_child repmgr -f "$REPMGR_CONF" standby follow --upstream-node-id="$upid" -W ||
        log "WARNING: standby follow failed"
    fi
    register_standby "$up" "$upid"
    return 0
  done
}

witness_main() {
  local prim su rep pwfile
  if ! has_data; then
    su=$(read_secret superuser-password)
    pwfile=$(mktemp "$RUN_DIR/.pw.XXXXXX")
    printf '%s\n' "$su" >"$pwfile"
    log "initdb: witness instance"
    run_child initdb -D "$PGDATA" -U "$PGHA_SUPERUSER" --pwfile="$pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null || { rm -f "$pwfile"; rm -rf "$PGDATA"; die "initdb failed"; }
    rm -f "$pwfile"
    pg_start -o "-c listen_addresses=''" || die "witness did not start"
    rep=$(read_secret replication-password)
    psql -X -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d postgres -v repuser="$PGHA_REPMGR_USER" \
      -v repdb="$PGHA_REPMGR_DATABASE" -v reppw="$rep" >/dev/null <<'SQL' || die "witness role creation failed"
SET log_statement = 'none';
CREATE ROLE :"repuser" LOGIN SUPERUSER REPLICATION PASSWORD :'reppw';
CREATE DATABASE :"repdb" OWNER :"repuser";
SQL
    pg_stop
  fi
  pg_start || die "witness did not start"
  refresh_status witness
  while ! prim=$(find_primary); do
    log_wait "witness: no running primary to register with"
    nap "$PGHA_POLL_INTERVAL"
  done
  log "register: repmgr witness register -h $prim --force"
  run_child repmgr -f "$REPMGR_CONF" -h "$prim" -p "$PGHA_PORT" -U "$PGHA_REPMGR_USER" \
    -d "$PGHA_REPMGR_DATABASE" witness register --force || die "witness register failed"
  log "role: witness (registered with primary $prim)"
}

# ---------------------------------------------------------------------------------------
# Supervision

start_repmgrd() {
  # /tmp survives a container restart (emptyDir) while PIDs restart low in the new PID
  # namespace: a stale pid file would look alive and stop repmgrd from starting.
  rm -f "$RUN_DIR/repmgrd.pid"
  repmgrd -f "$REPMGR_CONF" -p "$RUN_DIR/repmgrd.pid" --daemonize=false &
  REPMGRD_PID=$!
}

# A member standby whose primary vanished and that repmgrd did not promote within the
# failover wait takes part in the same deterministic election as held nodes (e.g. repmgrd
# could not see a majority because the other members were restarting in hold mode).
ORPHAN_SINCE=0
orphan_check() {
  [[ $PGHA_ROLE_TIER == member && $CURRENT_STATE == standby ]] || { ORPHAN_SINCE=0; return; }
  read_own_status
  if { status_get "$OWN_STATUS" streaming && [[ $REPLY == 1 ]]; } || find_primary >/dev/null; then
    ORPHAN_SINCE=0
    return
  fi
  ((ORPHAN_SINCE == 0)) && ORPHAN_SINCE=$EPOCHSECONDS
  local waited=$((EPOCHSECONDS - ORPHAN_SINCE)) fw
  fw=$(failover_wait)
  ((waited >= fw)) || return
  if elect "$waited"; then
    log "role: primary (standby without primary for ${waited}s, repmgrd did not promote; election: $ELECTION_REASON)"
    run_child repmgr -f "$REPMGR_CONF" standby promote || log "WARNING: standby promote failed"
  else
    log_wait "standby without primary for ${waited}s: $ELECTION_REASON"
  fi
}

# Lifts the repmgrd pause a primary's handoff left on this member (see handoff), on every
# supervision pass:
#  - promoted by the handoff: repmgrd still monitors the old primary as a standby's does, and
#    would start an election of its own once unpaused. It is restarted instead (it then reads
#    this node's record, primary, and monitors as the primary), then unpaused;
#  - a standby: resumes once a primary that is not stopping serves (repmgrd then follows it
#    if the handoff's notification came too late);
#  - paused for PGHA_HANDOFF_PAUSE_MAX seconds without either (the old primary died during its
#    handoff): resumes anyway, so failover works again. An operator's `repmgr service pause`
#    is lifted by the same rules: pausing is not a maintenance switch in this cluster.
PAUSED_SINCE=0
FOLLOW_PASSES=0
pause_check() {
  [[ $PGHA_ROLE_TIER == member ]] || return 0
  local prim
  local_query "SELECT repmgr.repmgrd_is_paused()" || return 0
  [[ ${SESSION_ROWS[0]:-} == t ]] || { PAUSED_SINCE=0 FOLLOW_PASSES=0; return 0; }
  ((PAUSED_SINCE == 0)) && PAUSED_SINCE=$EPOCHSECONDS
  if [[ $CURRENT_STATE == primary ]]; then
    if [[ $(repmgr_sql "SELECT type FROM repmgr.nodes WHERE node_id = $NODE_ID" 2>/dev/null) != primary ]]; then
      # The old primary stopped between pg_promote() and its metadata update.
      log "handoff: promoted, but the repmgr record of this node is not primary: writing it"
      repmgr_sql "$(primary_record_sql "$NODE_ID" "record completed by $POD_NAME after a handoff")" >/dev/null 2>&1 ||
        { log_wait "handoff: cannot write the repmgr record of this primary; repmgrd stays paused"; return 0; }
    fi
    log "handoff: this node is the primary now: restarting repmgrd to monitor it as the primary, unpaused"
    restart_repmgrd_unpaused
    return 0
  fi
  if prim=$(find_primary) && [[ $(status_field "$(read_peer_status "$prim")" state) != stopping ]]; then
    streaming_upstream_host
    if [[ $UPSTREAM_HOST == "$prim" ]]; then
      log "handoff: streaming from the new primary ${prim%%.*}: resuming repmgrd (restarted, to monitor that upstream)"
      restart_repmgrd_unpaused
    elif ((FOLLOW_PASSES++ >= 2)); then
      # repmgrd follows on the handoff's notification only if it reads it while retrying the
      # old primary; when the old primary's new pod answers first, repmgrd resumes monitoring
      # it (a standby now) and never follows. Two passes are left to repmgrd.
      follow_primary "$prim" "handoff: not streaming from the new primary ${prim%%.*}"
      restart_repmgrd_unpaused
    fi
  elif ((EPOCHSECONDS - PAUSED_SINCE >= PGHA_HANDOFF_PAUSE_MAX)); then
    log "handoff: repmgrd paused for $((EPOCHSECONDS - PAUSED_SINCE))s and no new primary: resuming it, so failover works again"
    resume_repmgrd
  fi
  return 0
}

# $1 = the live primary's host, $2 = why (logged). A member standby follows it: repmgrd is
# stopped first (it would act on the restart); the caller starts it again.
follow_primary() {
  local id
  id=$(node_id_of_host "$1" "$PGHA_NODE_ID_BASE")
  log "$2; repmgr standby follow --upstream-node-id=$id"
  stop_repmgrd
  busy following
  run_child repmgr -f "$REPMGR_CONF" standby follow --upstream-node-id="$id" -W ||
    log "WARNING: standby follow failed"
  not_busy
}

stop_repmgrd() {
  [[ -n $REPMGRD_PID ]] && kill -TERM "$REPMGRD_PID" 2>/dev/null && wait "$REPMGRD_PID" 2>/dev/null
  REPMGRD_PID=
}

restart_repmgrd_unpaused() {
  stop_repmgrd
  resume_repmgrd
  start_repmgrd
}

resume_repmgrd() {
  repmgr_sql "SELECT repmgr.repmgrd_pause(false)" >/dev/null 2>&1 ||
    { log "WARNING: could not resume repmgrd (repmgr.repmgrd_pause(false))"; return 1; }
  PAUSED_SINCE=0 FOLLOW_PASSES=0
}

# A member standby that has not streamed for PGHA_UNSTREAMED_PASSES supervision passes in a
# row while a live primary serves follows that primary (repmgr standby follow), then restarts
# repmgrd so it monitors the new upstream. repmgrd does not always get there itself: a standby
# whose primary was switched over retries the old primary, can find its new pod (a standby by
# then) answering and resume monitoring it, its WAL receiver failing for good on a replication
# slot that pod never had. Not while a handoff pause lasts (pause_check acts).
: "${PGHA_UNSTREAMED_PASSES:=3}"
UNSTREAMED_PASSES=0
member_stream_check() {
  [[ $PGHA_ROLE_TIER == member && $CURRENT_STATE == standby ]] || { UNSTREAMED_PASSES=0; return 0; }
  ((PAUSED_SINCE == 0)) || return 0
  local prim
  streaming_upstream_host || return 0
  if [[ -n $UPSTREAM_HOST ]]; then UNSTREAMED_PASSES=0; return 0; fi
  prim=$(find_primary) || { UNSTREAMED_PASSES=0; return 0; }
  UNSTREAMED_PASSES=$((UNSTREAMED_PASSES + 1))
  ((UNSTREAMED_PASSES >= PGHA_UNSTREAMED_PASSES)) || return 0
  follow_primary "$prim" "follow: not streaming for $UNSTREAMED_PASSES passes while ${prim%%.*} is the primary"
  start_repmgrd
  UNSTREAMED_PASSES=0
}

# Fencing. A primary stops serving (postgres stopped at once, container exits, so it starts
# over through the role decision: hold, then rejoin) when
#  - a member publishes a newer timeline of this cluster than its own: another node was
#    promoted after it (e.g. it was frozen or cut off longer than failure detection), or
#  - it cannot reach the status endpoint of a majority of the members (itself included) on
#    two checks in a row (PGHA_FENCE_CHECKS): the others can then elect without it.
# Either way it must not take another write: its own clients may still reach it.
: "${PGHA_FENCE_CHECKS:=2}"
ISOLATED_CHECKS=0
fence_check() {
  [[ $PGHA_ROLE_TIER == member && $CURRENT_STATE == primary ]] || { ISOLATED_CHECKS=0; return 0; }
  local -a hosts peers=()
  local h line n majority reachable=1 mytli mysysid t newer=""
  read -r -a hosts <<<"${PGHA_MEMBER_HOSTS:-}"
  n=${#hosts[@]}
  ((n > 1)) || return 0
  majority=$((n / 2 + 1))
  read_own_status
  status_get "$OWN_STATUS" tli && mytli=$REPLY
  status_get "$OWN_STATUS" sysid && mysysid=$REPLY
  for h in "${hosts[@]}"; do
    [[ $h == "$SELF_HOST" ]] || peers+=("$h")
  done
  read_peer_statuses "${peers[@]}"
  for h in "${peers[@]}"; do
    line=${PEER_STATUS[$h]:-}
    [[ -n $line ]] || continue
    reachable=$((reachable + 1))
    status_get "$line" tli && t=$REPLY
    status_get "$line" sysid
    if [[ $REPLY == "$mysysid" && $t =~ ^[0-9]+$ ]] && ((t > mytli)); then
      status_get "$line" state
      newer="$h publishes timeline $t ($REPLY), newer than this primary's $mytli"
    fi
  done
  [[ -n $newer ]] && fence "$newer"
  if ((reachable < majority)); then
    ISOLATED_CHECKS=$((ISOLATED_CHECKS + 1))
    log "fence: only $reachable of $n members reachable (need $majority), check $ISOLATED_CHECKS of $PGHA_FENCE_CHECKS"
    ((ISOLATED_CHECKS >= PGHA_FENCE_CHECKS)) && fence "cut off from the majority of the members ($reachable of $n reachable)"
  else
    ISOLATED_CHECKS=0
  fi
  return 0
}

# PEER_STATUS[host]: the status line of each host given, read in parallel within 2 s (empty
# when unreachable). One fork per host: the reader, killed when the 2 s are up (a connect to
# a partitioned host would otherwise wait for the kernel's SYN retries).
declare -A PEER_STATUS=()
read_peer_statuses() {
  local -a hosts=("$@") pids=()
  local i line deadline dir=$RUN_DIR/peer-status
  PEER_STATUS=()
  [[ -d $dir ]] || mkdir -p "$dir"
  for i in "${!hosts[@]}"; do
    : >"$dir/$i"
    (
      exec 3<>"/dev/tcp/${hosts[i]}/$PGHA_STATUS_PORT" && IFS= read -r -t 2 line <&3 && printf '%s\n' "$line" >"$dir/$i"
    ) 2>/dev/null &
    pids+=($!)
  done
  deadline=$((${EPOCHREALTIME/./} + 2000000))
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[i]}" 2>/dev/null && ((${EPOCHREALTIME/./} < deadline)); do
      nap 0.05
    done
    kill -KILL "${pids[i]}" 2>/dev/null
    wait "${pids[i]}" 2>/dev/null
  done
  for i in "${!hosts[@]}"; do
    line=
    read -r line <"$dir/$i"
    PEER_STATUS[${hosts[i]}]=$line
  done
}

fence() {
  log "fence: $1: stopping postgres now (immediate) and restarting the container, which rejoins as a standby"
  publish_status stopping "$(status_field "$(<"$STATUS_FILE")" sysid)"
  pg_ctl -D "$PGDATA" -w -t 60 -m immediate stop >/dev/null 2>&1
  [[ -n $REPMGRD_PID ]] && kill -KILL "$REPMGRD_PID" 2>/dev/null
  exit 1
}

# A cascading standby whose upstream was promoted streams from the primary from then on
# (repmgr keeps it there), which loads the primary with the cascade's traffic and is not the
# topology the cluster declares. Once a first-layer standby streams, follow it instead.
# Checked on every supervision pass; acts after two passes in a row (the failover settled).
# A cascade that does not stream for three passes in a row although a first-layer standby
# streams follows that standby again: e.g. its upstream was re-cloned (lost claim) and lost
# the replication slot the cascade streams through ("replication slot ... does not exist");
# repmgr standby follow creates the slot on the upstream.
ON_PRIMARY_CHECKS=0
NOT_STREAMING_CHECKS=0

# $1 = why. Follows a first-layer standby that streams (find_upstream); fails when none does.
follow_first_layer() {
  local up upid
  read -r up upid < <(find_upstream) || return 1
  log "follow: $1; repmgr standby follow --upstream-node-id=$upid ($up)"
  busy following
  run_child repmgr -f "$REPMGR_CONF" standby follow --upstream-node-id="$upid" -W ||
    log "WARNING: standby follow failed"
  not_busy
}

# UPSTREAM_HOST: the host this standby's WAL receiver streams from; empty when it does not
# stream. Status 1 when the local instance cannot be asked.
UPSTREAM_HOST=
streaming_upstream_host() {
  local cur
  UPSTREAM_HOST=
  local_query "SELECT conninfo FROM pg_stat_wal_receiver WHERE status = 'streaming'" || return 1
  cur=${SESSION_ROWS[0]:-}
  [[ $cur == *host=* ]] || return 0
  cur=${cur#*host=}
  cur=${cur%% *}
  UPSTREAM_HOST=${cur//\'/}
}

cascade_check() {
  [[ $PGHA_ROLE_TIER == cascade && $CURRENT_STATE == standby ]] || return 0
  local host
  streaming_upstream_host || return 0
  host=$UPSTREAM_HOST
  if [[ -z $host ]]; then
    NOT_STREAMING_CHECKS=$((NOT_STREAMING_CHECKS + 1))
    ((NOT_STREAMING_CHECKS >= 3)) || return 0
    follow_first_layer "not streaming for $NOT_STREAMING_CHECKS checks" || return 0
    NOT_STREAMING_CHECKS=0
    return 0
  fi
  NOT_STREAMING_CHECKS=0
  # A session kept open to the upstream (re-opened when the upstream changes).
  [[ $host == "${CASCADE_UPSTREAM_SESSION:-}" ]] || session_close upstream
  CASCADE_UPSTREAM_SESSION=$host
  if ! session_query upstream 10 "SELECT pg_is_in_recovery()" "host=$host user=$PGHA_REPMGR_USER dbname=$PGHA_REPMGR_DATABASE $PEER_CONN_OPTS" || [[ ${SESSION_ROWS[0]:-} != f ]]; then
    ON_PRIMARY_CHECKS=0
    return 0
  fi
  ON_PRIMARY_CHECKS=$((ON_PRIMARY_CHECKS + 1))
  ((ON_PRIMARY_CHECKS >= 2)) || return 0
  follow_first_layer "upstream $host is the primary now" || return 0
  ON_PRIMARY_CHECKS=0
}

# Scale-down bookkeeping (member primary, every supervision pass). Kubernetes deletes the
# pods of a scaled-down StatefulSet (and keeps their claims), but nothing tells repmgr: their
# records stay active (repmgrd counts them as unreachable siblings in every election) and their
# replication slots keep WAL on the primary forever. A member node id beyond the members in
# PGHA_MEMBER_HOSTS whose slot is inactive and whose pod has not answered on its status
# endpoint for PGHA_SCALEDOWN_GRACE seconds in a row is unregistered and its slot dropped.
# A member that is merely restarting is never touched: its ordinal is within the list. A pod
# of a scale-up that this primary (started with the shorter list) does not know yet answers
# on its status endpoint, so it is not touched either.
: "${PGHA_SCALEDOWN_GRACE:=20}"
declare -A GONE_SINCE=()
scaledown_check() {
  [[ $PGHA_ROLE_TIER == member && $CURRENT_STATE == primary ]] || return 0
  local -a hosts
  local n lo hi rows id type slot active host t
  read -r -a hosts <<<"${PGHA_MEMBER_HOSTS:-}"
  n=${#hosts[@]}
  ((n > 0)) || return 0
  # Member node ids are base + ordinal; cascades and the witness have ids of their own.
  lo=$((PGHA_NODE_ID_BASE + n)) hi=$((PGHA_NODE_ID_BASE + 1000))
  local_query "
    SELECT COALESCE(n.node_id, s.id) || ' ' || COALESCE(n.type, '-') || ' ' || COALESCE(s.slot_name, '-') || ' ' || COALESCE(s.active::text, '-')
    FROM repmgr.nodes n FULL JOIN (
      SELECT slot_name, active, CASE WHEN slot_name ~ '^repmgr_slot_[0-9]{1,9}\$' THEN substr(slot_name, 13)::int END AS id
      FROM pg_replication_slots) s ON s.id = n.node_id
    WHERE COALESCE(n.node_id, s.id) >= $lo AND COALESCE(n.node_id, s.id) < $hi" || return 0
  ((${#SESSION_ROWS[@]} > 0)) || { GONE_SINCE=(); return 0; }
  rows=$(printf '%s\n' "${SESSION_ROWS[@]}")
  local -A seen=()
  while read -r id type slot active; do
    [[ $id =~ ^[0-9]+$ ]] || continue
    seen[$id]=1
    host="${POD_NAME%-*}-$((id - PGHA_NODE_ID_BASE)).$PGHA_SERVICE.$PGHA_DOMAIN_SUFFIX"
    if [[ $active == true || -n $(read_peer_status "$host") ]]; then
      unset 'GONE_SINCE[$id]'
      continue
    fi
    t=${GONE_SINCE[$id]:-}
    [[ -n $t ]] || { GONE_SINCE[$id]=$EPOCHSECONDS; continue; }
    ((EPOCHSECONDS - t >= PGHA_SCALEDOWN_GRACE)) || continue
    log "scale-down: node $id (${host%%.*}) is beyond the $n configured members, its slot is inactive and its pod gone for $((EPOCHSECONDS - t))s: unregistering it and dropping its replication slot"
    case $type in
      standby) repmgr -f "$REPMGR_CONF" standby unregister --node-id="$id" >/dev/null 2>&1 || log "WARNING: standby unregister of node $id failed" ;;
      primary) repmgr -f "$REPMGR_CONF" primary unregister --node-id="$id" >/dev/null 2>&1 || log "WARNING: primary unregister of node $id failed" ;;
    esac
    [[ $slot != - ]] && { local_sql "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots WHERE slot_name = '$slot' AND NOT active" >/dev/null 2>&1 || log "WARNING: could not drop replication slot $slot"; }
    unset 'GONE_SINCE[$id]'
  done <<<"$rows"
  # Forget nodes that came back or were cleaned up by someone else.
  for id in "${!GONE_SINCE[@]}"; do
    [[ -n ${seen[$id]:-} ]] || unset 'GONE_SINCE[$id]'
  done
  return 0
}

# Every second: the status line from the running instance (so a promotion, a lost or regained
# upstream shows to peers and probes within a second), repmgrd's and postgres' liveness. Every
# PGHA_SUPERVISE_INTERVAL seconds, or every second while a primary looks cut off or a handoff
# pause lasts, or at once after a tick that came late (the pod was frozen or starved, and a
# primary must learn first of all whether another member was promoted meanwhile): the checks
# below, which talk to peers.
supervise() {
  local down_since=0 restarts=0 tick=0 last_tick=$EPOCHSECONDS late
  refresh_status auto || true
  log "supervising: postgres (pid $(postmaster_pid)) and repmgrd; state $CURRENT_STATE"
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
      local rc=$?
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
    orphan_check
  done
}

# ---------------------------------------------------------------------------------------

main() {
  umask 0077
  [[ -d $RUN_DIR && -w $RUN_DIR ]] || die "$RUN_DIR must be a writable directory"
  BINDIR=$(discover_bindir) || die "cannot find the PostgreSQL binaries"
  PATH=$BINDIR:$PATH
  PG_MAJOR=$(pg_major_of_binaries) || die "postgres --version failed"
  POD_SPEC=$(pod_spec_hash)
  trap on_signal TERM INT
  rm -f "$BUSY_MARKER"
  clear_stale_locks
  write_passfile
  write_repmgr_conf
  setup_log_fifo
  publish_status starting "$(has_data && local_sysid)"
  start_status_server
  log "start: tier $PGHA_ROLE_TIER, node $NODE_ID ($SELF_HOST), PostgreSQL $PG_MAJOR in $BINDIR"
  case $PGHA_ROLE_TIER in
    member) member_main ;;
    cascade) cascade_main ;;
    witness) witness_main ;;
    *) die "unknown PGHA_ROLE_TIER '$PGHA_ROLE_TIER'" ;;
  esac
  not_busy
  supervise
}

main "$@"
