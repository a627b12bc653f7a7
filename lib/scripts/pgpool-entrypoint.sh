#!/bin/bash
# PID 1 of the Pgpool-II container. Generates the credential files Pgpool-II needs from the
# mounted Secret, starts pgpool in the foreground as a child, and keeps pgpool's idea of the
# primary in line with the backends' live state: pgpool only looks for the primary at start
# and when a backend is detached or attached, so a failover done by repmgrd, or a standby
# that came back, would otherwise go unnoticed.
set -uo pipefail

: "${PGHA_PORT:=5432}"
: "${PGHA_PCP_PORT:=9898}"
: "${PGHA_MONITOR_USER:=monitor}"
: "${PGHA_APP_USER:=app}"
: "${PGHA_PGPOOL_CONFIG_DIR:=/etc/pgha/pgpool}"
: "${PGHA_SECRETS_DIR:=/etc/pgha/secrets}"
: "${PGHA_PGPOOL_RUN_DIR:=/run/pgpool}"
: "${PGHA_PGPOOL_CHECK_INTERVAL:=5}"
# Probe endpoint (status-server.pl): ready while the reconcile loop heard from PCP within
# PGHA_READY_MAX_AGE seconds, live unless it has not for PGHA_LIVE_MAX_AGE seconds.
: "${PGHA_HEALTH_PORT:=8009}"
: "${PGHA_READY_MAX_AGE:=$((2 * PGHA_PGPOOL_CHECK_INTERVAL + 2))}"
: "${PGHA_LIVE_MAX_AGE:=60}"
# A standby that heard from its upstream within this many seconds proves a live primary
# (pgpool-decide.sh; a walsender sends a keepalive every wal_sender_timeout / 2 = 5 s).
: "${PGHA_FRESH_WAL_SECONDS:=7}"
# "TIMEOUT MAX_RETRIES RETRY_DELAY" of the standbys' health checks; empty: the global settings.
: "${PGHA_STANDBY_HEALTH_CHECK:=}"
export PGHA_FRESH_WAL_SECONDS
SCRIPTS_DIR=$(dirname "${BASH_SOURCE[0]}")

RUN_DIR=$PGHA_PGPOOL_RUN_DIR
# When the mounted TLS Secret was last checked (lib-tls.sh).
TLS_CHECKED_MARKER=$RUN_DIR/tls-checked
CONF=$PGHA_PGPOOL_CONFIG_DIR/pgpool.conf
# What pgpool reads: the mounted pgpool.conf plus per-node health-check settings for the
# standbys (tune_health_checks), which depend on which backend is the primary.
RUN_CONF=$RUN_DIR/pgpool.conf
HBA=$PGHA_PGPOOL_CONFIG_DIR/pool_hba.conf
export PGPOOLKEYFILE=$RUN_DIR/.pgpoolkey
export PCPPASSFILE=$RUN_DIR/.pcppass
# PCP, Pgpool-II's administration protocol, listens on localhost and this pod's socket only, and
# only this pod's scripts use it: its credential is made at each start and never leaves the pod,
# so no Secret key serves it and no other credential opens it.
export PGHA_PCP_USER=pcp
export PGPASSFILE=$RUN_DIR/.pgpass
PGPOOL_PID=
STATUS_FILE=$RUN_DIR/status
SESSION_DIR=$RUN_DIR/sessions
LOG_TAG=pgpool-entrypoint
NAP_FIFO=$RUN_DIR/nap
# Present while pgpool-failover.sh holds a failover, waiting for a new primary.
FAILOVER_WAITING=$RUN_DIR/failover-waiting
# shellcheck source=lib-base.sh
source "$SCRIPTS_DIR/lib-base.sh"
# shellcheck source=lib-session.sh
source "$SCRIPTS_DIR/lib-session.sh"
# shellcheck source=lib-tls.sh
source "$SCRIPTS_DIR/lib-tls.sh"
# shellcheck source=pgpool-decide.sh
source "$SCRIPTS_DIR/pgpool-decide.sh"
# shellcheck source=pgpool-check-watch.sh
source "$SCRIPTS_DIR/pgpool-check-watch.sh"
# on_term: SIGTERM (lib-base.sh's on_signal records it; on_term runs at the next nap).
# shellcheck source=pgpool-stop.sh
source "$SCRIPTS_DIR/pgpool-stop.sh"

# The value of a pgpool.conf key (last occurrence wins, as in pgpool), quotes removed.
conf_value() {
  sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*'\{0,1\}\([^'#]*\)'\{0,1\}.*/\1/p" "$CONF" | tail -1 |
    sed 's/[[:space:]]*$//'
}

# Prints "AES<base64>" for password $1, from pg_enc's "pool_passwd string:" line.
aes_entry() {
  local out
  # "--": a password may start with '-' (base64url does, 1 in 64), which pg_enc would
  # otherwise read as an option and print its usage instead of the entry.
  out=$(pg_enc -k "$PGPOOLKEYFILE" -- "$1" 2>/dev/null) || die "pg_enc failed"
  out=$(sed -n 's/^pool_passwd string: //p' <<<"$out")
  [[ $out == AES* ]] || die "pg_enc printed no AES entry"
  printf '%s' "$out"
}

write_credentials() {
  local key app mon pool_passwd pcp_password
  key=$(read_secret pgpool-key)
  app=$(read_secret app-password)
  mon=$(read_secret monitor-password)
  # umask 0077: every file below is 0600, as pgpool requires for the key file.
  printf '%s\n' "$key" >"$PGPOOLKEYFILE"
  pool_passwd=$(conf_value pool_passwd)
  [[ -n $pool_passwd ]] || die "pool_passwd is not set in $CONF"
  [[ $pool_passwd == /* ]] || pool_passwd=$PGHA_PGPOOL_CONFIG_DIR/$pool_passwd
  [[ $pool_passwd == "$RUN_DIR"/* ]] || die "pool_passwd ($pool_passwd) must be under the writable $RUN_DIR"
  # AES entries: SCRAM to the backends needs the clear password, which pgpool decrypts with
  # the key from the Secret (the same key on every replica, unlike a random one per start).
  # pg_enc -m is not used: 4.3's pg_enc -f ignores an absolute pool_passwd path and writes
  # next to pgpool.conf (read-only here), so the entries are written from its output.
  {
    printf '%s:%s\n' "$PGHA_APP_USER" "$(aes_entry "$app")"
    printf '%s:%s\n' "$PGHA_MONITOR_USER" "$(aes_entry "$mon")"
  } >"$pool_passwd" || die "cannot write $pool_passwd"
  # PCP: md5 of the password alone (pcp.conf format).
  pcp_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n') || die "cannot read /dev/urandom for the PCP password"
  [[ ${#pcp_password} -ge 24 ]] || die "the PCP password from /dev/urandom came out short"
  printf '%s:%s\n' "$PGHA_PCP_USER" "$(pg_md5 -- "$pcp_password")" >"$RUN_DIR/pcp.conf"
  printf '*:*:%s:%s\n' "$PGHA_PCP_USER" "$pcp_password" >"$PCPPASSFILE"
  printf '*:*:*:%s:%s\n' "$PGHA_MONITOR_USER" "$(pgpass_escape "$mon")" >"$PGPASSFILE"
  log "credentials: key file, pool_passwd (AES: $PGHA_APP_USER, $PGHA_MONITOR_USER), pcp.conf (user $PGHA_PCP_USER, a password made for this start)"
}

# "ID HOST PORT" per backend, for pgpool-failover.sh (run by pgpool, which passes it ids only).
write_backends() {
  local i=0 host
  : >"$RUN_DIR/backends.new" || die "cannot write $RUN_DIR/backends.new"
  while host=$(conf_value "backend_hostname$i") && [[ -n $host ]]; do
    printf '%s %s %s\n' "$i" "$host" "$(conf_value "backend_port$i")" >>"$RUN_DIR/backends.new"
    i=$((i + 1))
  done
  mv -f "$RUN_DIR/backends.new" "$RUN_DIR/backends"
  log "backends: $i, listed in $RUN_DIR/backends for the failover command"
}

pcp() {
  local cmd=$1
  shift
  timeout 10 "$cmd" -h "$RUN_DIR" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w "$@"
}

# BACKEND_LIVE: "recovery|walreceiver status|seconds since the walreceiver last heard from its
# upstream (-1: none)|postmaster start (epoch s)" of backend $1 at host $2 port $3, e.g.
# "true|streaming|2|1795630010" or "false|primary|-1|1795630010"; empty when
# it does not answer within 5 s. Asked over a session kept open per backend (lib-session.sh):
# a new connection per backend per pass cost a psql and a backend fork each.
BACKEND_LIVE=
backend_state() {
  BACKEND_LIVE=
  session_query "backend$1" 5 "SELECT pg_is_in_recovery()::text || CASE WHEN pg_is_in_recovery() THEN '|' || COALESCE((SELECT status FROM pg_stat_wal_receiver), 'none') ELSE '|primary' END
          || '|' || coalesce((SELECT extract(epoch FROM now() - last_msg_receipt_time)::int FROM pg_stat_wal_receiver), -1)
          || '|' || extract(epoch FROM pg_postmaster_start_time())::bigint" \
    "host=$2 port=$3 user=$PGHA_MONITOR_USER dbname=postgres connect_timeout=${PGHA_CONNECT_TIMEOUT:-2} keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3" &&
    BACKEND_LIVE=${SESSION_ROWS[0]:-}
}

# The status line the probe endpoint judges (status-server.pl): "starting" until a client
# session through pgpool worked once, then "serving", refreshed on every pass on which PCP
# answered.
publish_status() {
  printf 'state=%s tier=pgpool ts=%(%s)T\n' "$1" -1 >"$STATUS_FILE.new" && mv -f "$STATUS_FILE.new" "$STATUS_FILE"
}

SERVING=0
session_works() {
  timeout 5 psql -X -At -q -h "$RUN_DIR" -p "$PGHA_PORT" -U "$PGHA_MONITOR_USER" -d postgres -c 'SELECT 1' >/dev/null 2>&1
}

# "pid parent-pid title" of every process whose title starts with "pgpool: $1". Read from
# /proc with builtins only (no fork per process: this runs while a pod stops, on a machine that
# may be starved); the image need not ship procps. pgpool writes its process titles over
# argv[0], so the title is the first NUL-terminated string of cmdline.
pgpool_processes() {
  local d cmd stat
  for d in /proc/[0-9]*; do
    cmd=
    { IFS= read -r -d '' cmd <"$d/cmdline"; } 2>/dev/null
    [[ $cmd == "pgpool: $1"* ]] || continue
    { IFS= read -r stat <"$d/stat"; } 2>/dev/null || continue
    # Field 4 of stat is the parent pid; the command name before it is "(pgpool)".
    stat=${stat#*) }
    read -r _ stat _ <<<"$stat"
    printf '%s %s %s\n' "${d#/proc/}" "$stat" "${cmd%"${cmd##*[![:space:]]}"}"
  done
}

# Pid of pgpool's streaming-replication check worker (a child of pgpool), or nothing.
sr_worker_pid() {
  local pid ppid _title
  while read -r pid ppid _title; do
    [[ $ppid == "$PGPOOL_PID" ]] && printf '%s' "$pid" && return 0
  done < <(pgpool_processes "worker process")
  return 1
}

# A failover that never ends. Pgpool-II's streaming-replication check worker connects to
# every up backend each sr_check_period and holds the "follow primary" lock while it does;
# its connections have no timeout after the TCP handshake. A backend whose kernel accepts
# connections but whose postgres never answers (a frozen or hung node) blocks it in read()
# for good. Then the failover that detaches that backend waits in find_primary_node for the
# lock, forever: pgpool keeps the detached node as its primary, every write fails and every
# pcp attach/detach only queues behind it, until the node answers again. The
# worker's SIGTERM handler exits and releases the lock on the way out (all of 4.3-4.6), the
# failover then completes and pgpool forks a new worker, which skips down backends.
STUCK_PASSES=0
unstick_failover() {
  STUCK_PASSES=$((STUCK_PASSES + 1))
  # One pass may catch a failover that is merely under way (search_primary_node_timeout).
  ((STUCK_PASSES >= 2)) || return 0
  stop_sr_worker "pgpool's primary is backend $1, which it has detached, for $STUCK_PASSES checks: its failover waits for the streaming-replication check worker"
  STUCK_PASSES=0
}

# SIGTERM to the check worker, blocked on a backend that accepts connections but does not
# answer; $1 says how this pass knows. With $2 = if-busy, only a worker that is not asleep
# between two checks (its kernel wait channel is not a nanosleep): an idle one has not reached
# the mute backend, and its next check skips it once pgpool has it down.
stop_sr_worker() {
  local pid wchan=
  pid=$(sr_worker_pid) || { log "correction: $1, but no check worker found"; return 0; }
  if [[ ${2:-} == if-busy ]]; then
    { read -r wchan <"/proc/$pid/wchan"; } 2>/dev/null
    [[ $wchan == *nanosleep* ]] && return 0
  fi
  log "correction: $1 (pid $pid), blocked on a backend that accepts connections but does not answer: SIGTERM to the worker"
  kill -TERM "$pid" 2>/dev/null || log "kill -TERM $pid failed"
  SR_WORKER_STOPPED=1
}

# A worker that exits with status 0 is not restarted by pgpool, so after unstick_failover
# pgpool runs without replication-delay checks (delay_threshold, auto_failback) until it
# restarts. Restart it once every backend answers and pgpool agrees with the live primary:
# its start-up connects to every backend without a timeout, so never while one is mute.
# Costs this replica's client sessions once (a failover just cost them anyway).
# Only after this loop stopped the worker itself: a worker missing for any other reason (not
# forked yet at start-up, a process title this script does not know) must never make it
# restart pgpool.
SR_WORKER_STOPPED=0
restore_sr_worker() {
  ((SR_WORKER_STOPPED)) || return 0
  [[ $(conf_value sr_check_period) =~ ^[1-9] ]] || return 0
  sr_worker_pid >/dev/null && { SR_WORKER_STOPPED=0; return 0; }
  SR_WORKER_STOPPED=0
  restart_pgpool "pgpool has no streaming-replication check worker (stopped by an earlier correction) and every backend answers"
}

# A PCP worker stuck the same way: pcp_node_info asks every backend it thinks is up for its
# role, without a timeout once PQping succeeded, so a node frozen in that moment blocks the
# worker for good. The next failover waits for the PCP process to exit and never
# ends, and PCP stops answering. A worker still there on the next failed pass gets SIGINT
# (it only serves one request; pgpool forks a new one per connection).
STUCK_PCP=""
unstick_pcp() {
  local pid _ppid title seen=""
  while read -r pid _ppid title; do
    seen+=" $pid"
    if [[ " $STUCK_PCP " == *" $pid "* ]]; then
      log "correction: PCP gives no answer and its worker (pid $pid, $title) has been busy since the previous check: SIGINT (fast exit) to the worker"
      # SIGTERM is a smart shutdown for a PCP worker (it waits for its request to end).
      kill -INT "$pid" 2>/dev/null
    fi
  done < <(pgpool_processes "PCP: processing")
  STUCK_PCP=$seen
}

# The PCP process itself gone. pgpool forks a new one after every failover and failback, but
# when one exits with status 0 outside a failover (its exit handler ran on a termination
# signal) pgpool's reaper logs "exited with success and will not be restarted", and PCP
# answers nobody: this loop can then neither see nor correct pgpool, and only liveness (after
# a minute) would notice. Two failed passes in a row without any PCP process under pgpool
# (one pass may fall between the exit and the fork of a failover) restart pgpool, drained.
PCP_GONE_PASSES=0
watch_pcp_process() {
  local _pid ppid _title
  while read -r _pid ppid _title; do
    [[ $ppid == "$PGPOOL_PID" ]] && { PCP_GONE_PASSES=0; return 0; }
  done < <(pgpool_processes "PCP:")
  PCP_GONE_PASSES=$((PCP_GONE_PASSES + 1))
  ((PCP_GONE_PASSES >= 2)) || return 0
  PCP_GONE_PASSES=0
  restart_pgpool "pgpool has no PCP process on two checks in a row (pgpool does not restart one that exited with status 0), so nothing can see or correct its backends"
}

# One pass: compares pcp_node_info with the backends' live roles and corrects pgpool.
# Indexed by backend id (an indexed array: an associative one would take "id" literally).
BACKEND_START=()
# Set by a pass that found pgpool without the live primary, or corrected it: the next pass
# comes after 1 s instead of PGHA_PGPOOL_CHECK_INTERVAL, so a failover that pgpool's own
# search missed costs clients about a second, not a whole interval.
QUICK_PASS=0
reconcile() {
  local info line id live lrec lstream lstart
  local -a restarted=()
  QUICK_PASS=1
  info=$(pcp pcp_node_info -a -v 2>/dev/null) || {
    unstick_pcp
    watch_pcp_process
    return 0
  }
  STUCK_PCP=""
  PCP_GONE_PASSES=0
  if ((SERVING)) || session_works; then
    ((SERVING)) || log "serving: a client session through pgpool works"
    SERVING=1
    ((CUT)) || publish_status serving
  fi
  # pgpool's view, in NODE_HOSTS, NODE_PORTS, NODE_STATUSES, NODE_ROLES (by backend id).
  parse_node_info "$info"
  local n=$NODE_COUNT true_primary="" pool_primary=""
  local -a lives=()
  for ((id = 0; id < n; id++)); do
    [[ ${NODE_ROLES[id]} == primary ]] && pool_primary=$id
  done
  # pgpool reports a primary that it has down only while a failover of it is in progress.
  local failing_over=0
  [[ -n $pool_primary && ${NODE_STATUSES[pool_primary]} == 3 ]] && failing_over=1
  for ((id = 0; id < n; id++)); do
    # While pgpool fails a backend over, the backends it has down are not asked: the one it
    # detached does not answer (a probe would cost its whole timeout, and the pass must see
    # the stuck failover soon).
    if ((failing_over)) && [[ ${NODE_STATUSES[id]} == 3 ]]; then
      lives[id]=
      continue
    fi
    backend_state "$id" "${NODE_HOSTS[id]}" "${NODE_PORTS[id]}"
    live=$BACKEND_LIVE
    lives[id]=$live
    [[ ${live%%|*} == false ]] && true_primary=${true_primary:+$true_primary,}$id
    # Postmaster start times are tracked on every pass, including passes that return early.
    if [[ $live == *\|*\|* ]]; then
      lstart=${live##*|}
      [[ -n ${BACKEND_START[id]:-} && ${BACKEND_START[id]} != "$lstart" ]] && restarted[id]=1
      BACKEND_START[id]=$lstart
    fi
  done
  judge_reach "$n" "${lives[@]}"
  # For the health-check watch: the primary whose standbys have their own check settings,
  # while pgpool agrees with the live one (a builtin write: no fork).
  local known=
  if [[ -n $true_primary && $pool_primary == "$true_primary" ]] && ((!failing_over)) &&
    [[ -z $PGHA_STANDBY_HEALTH_CHECK || $HEALTH_CHECK_PRIMARY == "$true_primary" ]]; then
    known=$true_primary
  fi
  printf '%s\n' "$known" >"$KNOWN_PRIMARY_FILE"
  if ((failing_over)); then
    if [[ -e $FAILOVER_WAITING ]]; then
      # Held on purpose: the failover command waits for the new primary (bounded).
      STUCK_PASSES=0
    else
      unstick_failover "$pool_primary"
    fi
    # PCP requests sent now would only queue behind the failover.
    return 0
  fi
  STUCK_PASSES=0
  # No primary or several: a failover or a split is under way; pgpool's own health check
  # detaches the dead one, and nothing here may pick a side.
  if [[ -n $true_primary && $true_primary != *,* ]]; then
    if [[ ${NODE_STATUSES[true_primary]} == 3 ]]; then
      log "correction: backend $true_primary (${NODE_HOSTS[true_primary]}) is the primary but pgpool has it down: pcp_attach_node"
      pcp pcp_attach_node -n "$true_primary" >/dev/null 2>&1 || log "pcp_attach_node $true_primary failed"
      return 0
    fi
    if [[ $pool_primary != "$true_primary" ]]; then
      # pcp_promote_node is not used: in 4.3 it detaches every other backend. A detach and
      # attach makes pgpool run find_primary_node, which reads pg_is_in_recovery() itself.
      # Only a wrong primary that is up and answers is cycled: attaching a backend that does
      # not answer makes pgpool's main process connect to it without a timeout and hang.
      # Without a usable wrong primary, an up standby that answers: detaching it makes
      # pgpool search at once (it has no primary), where cycling the live primary costs
      # two searches and its sessions.
      local wrong=$true_primary
      for ((id = 0; id < n; id++)); do
        [[ $id != "$true_primary" && ${NODE_STATUSES[id]} != 3 && ${lives[id]} == true\|* ]] && wrong=$id && break
      done
      [[ -n $pool_primary && ${NODE_STATUSES[pool_primary]} != 3 && -n ${lives[pool_primary]} ]] && wrong=$pool_primary
      # A wrong primary that pgpool has up but that does not answer (frozen: the kernel still
      # accepts connections, so pgpool's health check blocks on it instead of failing): a
      # detach alone. pgpool's search then skips it and finds the live primary; it is attached
      # again once it streams (below).
      if [[ -n $pool_primary && ${NODE_STATUSES[pool_primary]} != 3 && -z ${lives[pool_primary]} ]]; then
        log "correction: pgpool's primary is backend $pool_primary (${NODE_HOSTS[pool_primary]}), which does not answer, and backend $true_primary (${NODE_HOSTS[true_primary]}) answers as the primary: pcp_detach_node $pool_primary"
        pcp pcp_detach_node -n "$pool_primary" >/dev/null 2>&1 || log "pcp_detach_node $pool_primary failed"
        # The check worker is blocked on that backend too (see unstick_failover), and the
        # detach's search for the new primary would wait for it: stop it now, not two passes on.
        stop_sr_worker "the search for the new primary after detaching backend $pool_primary would wait for the streaming-replication check worker" if-busy
        return 0
      fi
      log "correction: pgpool's primary is ${pool_primary:-none}, the live primary is backend $true_primary (${NODE_HOSTS[true_primary]}): pcp_detach_node + pcp_attach_node $wrong"
      pcp pcp_detach_node -n "$wrong" >/dev/null 2>&1 || log "pcp_detach_node $wrong failed"
      pcp pcp_attach_node -n "$wrong" >/dev/null 2>&1 || log "pcp_attach_node $wrong failed"
      return 0
    fi
  fi
  # pgpool has no primary, no backend answers as one, and pgpool has backends up: pgpool would
  # send writes to one of them, a standby (SQLSTATE 25006). pgpool-failover.sh detaches them
  # when a failover ends without a primary, but pgpool drops requests that do not fit its
  # queue, and a pgpool that starts while no member is primary has them up from the start.
  decide_orphan_backends "$pool_primary" "$true_primary" "${NODE_STATUSES[@]}"
  if [[ $VERDICT == detach ]]; then
    log "correction: $REASON: pcp_detach_node $REPLY"
    for id in $REPLY; do
      pcp pcp_detach_node -n "$id" >/dev/null 2>&1 || log "pcp_detach_node $id failed"
    done
    return 0
  fi
  for ((id = 0; id < n; id++)); do
    line=${lives[id]}
    lrec=${line%%|*} lstream=${line#*|}
    lstream=${lstream%%|*}
    # A standby that restarted (a rolled pod, a follow) quickly enough that pgpool's health
    # check retries never failed keeps its status up, and every pooled connection to the old
    # postmaster is dead: sessions fail with "unable to read message kind" for minutes. A
    # detach and attach makes the children drop those connections.
    if [[ ${NODE_STATUSES[id]} != 3 && $lrec == true && -n ${restarted[id]:-} ]]; then
      log "correction: backend $id (${NODE_HOSTS[id]}) restarted while pgpool kept it up (its pooled connections are dead): pcp_detach_node + pcp_attach_node"
      pcp pcp_detach_node -n "$id" >/dev/null 2>&1 || log "pcp_detach_node $id failed"
      pcp pcp_attach_node -n "$id" >/dev/null 2>&1 || log "pcp_attach_node $id failed"
    fi
    # A standby that streams again after a rejoin or re-clone: pgpool never re-checks a
    # down backend by itself (auto_failback needs it to stream from the primary directly,
    # which cascaded standbys do not). Only while pgpool has the live primary: without one,
    # pgpool would send writes to this standby (pgpool-failover.sh detached it for that).
    if [[ ${NODE_STATUSES[id]} == 3 && $lrec == true && $lstream == streaming && -n $true_primary && $pool_primary == "$true_primary" ]]; then
      log "correction: backend $id (${NODE_HOSTS[id]}) streams again but pgpool has it down: pcp_attach_node"
      pcp pcp_attach_node -n "$id" >/dev/null 2>&1 || log "pcp_attach_node $id failed"
    fi
  done
  [[ -n $true_primary && $pool_primary == "$true_primary" ]] || return 0
  tune_health_checks "$true_primary" "$n"
  QUICK_PASS=0
  for ((id = 0; id < n; id++)); do
    [[ ${NODE_STATUSES[id]} != 3 && -n ${lives[id]} ]] || return 0
  done
  restore_sr_worker
}

# Gives every backend but primary $1 (of $2) the standbys' faster health check: pgpool.conf is
# rewritten from the mounted one and reloaded (health-check processes re-read it at their next
# cycle; nothing is restarted). Only when the primary changed.
HEALTH_CHECK_PRIMARY=
tune_health_checks() {
  local primary=$1 n=$2 timeout retries delay
  [[ -n $PGHA_STANDBY_HEALTH_CHECK && $primary != "$HEALTH_CHECK_PRIMARY" ]] || return 0
  read -r timeout retries delay <<<"$PGHA_STANDBY_HEALTH_CHECK"
  health_check_overrides "$primary" "$n" "$timeout" "$retries" "$delay"
  if ! { cat "$CONF" && printf '%s\n' "${HEALTH_CHECK_LINES[@]}"; } >"$RUN_CONF.new" || ! mv -f "$RUN_CONF.new" "$RUN_CONF"; then
    log "cannot write $RUN_CONF (the standbys' health check stays as it was)"
    return 0
  fi
  if pcp pcp_reload_config >/dev/null 2>&1; then
    HEALTH_CHECK_PRIMARY=$primary
    printf '%s\n' "$primary" >"$KNOWN_PRIMARY_FILE"
    log "health check: backends other than $primary (the primary) are detached after ${timeout}s x $((retries + 1)) attempts: pcp_reload_config"
  else
    log "pcp_reload_config failed (the standbys' health check stays as it was)"
  fi
}

# Readiness: a pod that reaches no primary while a standby it reaches still hears from one is
# cut off from a live primary that its peers may well reach: it leaves the Service (state
# "cut", not ready) so that clients reconnecting through the Service land on a pod that can
# serve them. When no standby has heard from a primary either (the primary is gone for
# everyone: a failover), the pod stays in, like every other pod, so that clients wait for the
# new primary through it. $1: the number of backends; then their BACKEND_LIVE strings.
CUT=0
judge_reach() {
  local n=$1 id lrec lstream lage
  local -a lines=()
  shift
  for ((id = 0; id < n; id++)); do
    local live=${1:-}
    shift
    IFS='|' read -r lrec lstream lage _ <<<"$live"
    lines+=("$id|$lrec|$lstream|$lage")
  done
  decide_primary_seen "$PGHA_FRESH_WAL_SECONDS" "${lines[@]}"
  if [[ $VERDICT == cut ]]; then
    ((CUT)) || log "not ready: $REASON"
    CUT=1
    publish_status cut
  elif ((CUT)); then
    log "ready again: $REASON"
    CUT=0
    ((SERVING)) && publish_status serving
  fi
}

supervise() {
  while :; do
    # Every second until a client session worked (the pod starts serving as soon as it can)
    # and while pgpool lacks the live primary (QUICK_PASS), else every
    # PGHA_PGPOOL_CHECK_INTERVAL seconds.
    if ((SERVING && !QUICK_PASS)); then nap "$PGHA_PGPOOL_CHECK_INTERVAL"; else nap 1; fi
    if ! kill -0 "$PGPOOL_PID" 2>/dev/null; then
      wait "$PGPOOL_PID"
      die "pgpool exited (status $?)"
    fi
    reconcile
    tls_renewal_notice
  done
}

# Pgpool-II loads its server certificate once, at start (its children inherit it), and no
# reload re-reads it: a renewed TLS Secret reaches this pod when it restarts. Said once per
# renewal, with whether the new files would work.
tls_renewal_notice() {
  tls_renewed || return 0
  : >"$TLS_CHECKED_MARKER"
  # shellcheck disable=SC2086 # one host name per word
  if tls_files_problem ${PGHA_TLS_SERVICE_HOSTS:-}; then
    log "TLS: the Secret was renewed; Pgpool-II serves the new certificate from its next start (kubectl rollout restart drains each pod's sessions first)"
  else
    log "TLS: the Secret was renewed, but the next start would refuse it: $REPLY"
  fi
}

start_pgpool() {
  log "start: pgpool -n -D (status file discarded: backends are rechecked at start)"
  # Not exec'd: the reconcile loop must live next to pgpool, and pgpool reaps every child
  # it did not start with a warning. In a process group of its own (setsid): once its
  # streaming-replication check worker has exited (stop_sr_worker), pgpool's main process
  # sends its restart request to pid 0 at every failover and failback (kill(worker_pid,
  # SIGUSR1) with worker_pid 0), that is to its whole process group, and SIGUSR1 would kill
  # this entrypoint, the probe server and the sessions. setsid execs pgpool in place (a
  # background job is not a group leader), so $! is pgpool's pid.
  setsid pgpool -n -D -f "$RUN_CONF" -a "$HBA" -F "$RUN_DIR/pcp.conf" -k "$PGPOOLKEYFILE" &
  PGPOOL_PID=$!
}

main() {
  umask 0077
  check_namespace
  check_secrets
  [[ -d $RUN_DIR && -w $RUN_DIR ]] || die "$RUN_DIR must be a writable directory"
  # shellcheck disable=SC2086 # one host name per word
  check_tls_files ${PGHA_TLS_SERVICE_HOSTS:-}
  [[ -r $CONF ]] || die "missing $CONF"
  trap on_signal TERM INT
  write_credentials
  write_backends
  # The mounted settings until the primary is known (an emptyDir outlives a container restart).
  cp "$CONF" "$RUN_CONF" || die "cannot write $RUN_CONF"
  # Stale pid file from a previous container of this pod (the emptyDir survives restarts).
  rm -f "$(conf_value pid_file_name)" 2>/dev/null
  publish_status starting
  perl "$SCRIPTS_DIR/status-server.pl" 0 "$PGHA_HEALTH_PORT" "$STATUS_FILE" "$RUN_DIR/busy" \
    "$PGHA_READY_MAX_AGE" "$PGHA_LIVE_MAX_AGE" &
  start_pgpool
  # Not the previous container's primary (the emptyDir outlives a restart): none until a pass
  # has seen pgpool agree with the live one.
  : >"$KNOWN_PRIMARY_FILE"
  start_check_watch
  supervise
}

main "$@"
