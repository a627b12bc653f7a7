#!/bin/bash
# Helpers of the PostgreSQL pods' scripts (node-entrypoint.sh, node-promote.sh), after
# lib-base.sh. Sourced, never executed.
# SC2034: the variables set here are read by the scripts that source this file, which
# the linter cannot see when it checks this file alone.
# shellcheck disable=SC2034
# Paths and variables follow docs/pod-contract.md; the defaults below only exist so the
# scripts can be exercised outside Kubernetes.

: "${PGDATA:=/var/lib/postgresql/data/pgdata}"
: "${PGHA_PORT:=5432}"
: "${PGHA_ROLE_TIER:=member}"
: "${PGHA_REPMGR_USER:=repmgr}"
: "${PGHA_REPMGR_DATABASE:=repmgr}"
: "${PGHA_SUPERUSER:=postgres}"
: "${PGHA_DEFAULT_PRIORITY:=100}"
: "${PGHA_NODE_ID_BASE:=1000}"
# Not in the pod contract's env table: a tiny TCP endpoint that publishes this node's state
# (see README.md, "status endpoint"); every PostgreSQL pod listens on it.
: "${PGHA_STATUS_PORT:=8008}"
: "${PGHA_CONFIG_DIR:=/etc/pgha/config}"
: "${PGHA_SECRETS_DIR:=/etc/pgha/secrets}"
: "${PGHA_RUN_DIR:=/run/pgha}"
: "${PGHA_SOCKET_DIR:=/var/run/postgresql}"

export PGDATA
RUN_DIR=$PGHA_RUN_DIR
REPMGR_CONF=$RUN_DIR/repmgr.conf
STATUS_FILE=$RUN_DIR/status
# Present while a long operation runs that the liveness probe must not interrupt.
BUSY_MARKER=$RUN_DIR/busy
PG_LOG_FIFO=$RUN_DIR/postgres.log
export PGPASSFILE=$RUN_DIR/pgpass
# Local admin connections go through the socket; peers are reached over TCP.
export PGHOST=$PGHA_SOCKET_DIR PGPORT=$PGHA_PORT
# Short connect timeout and keepalives for every libpq connection the scripts open: a dead
# peer must cost seconds, not the kernel's TCP timeout. This is also the conninfo repmgr
# records for the node, so repmgrd's connections and the WAL receivers get it too.
# tcp_user_timeout: keepalives only probe an idle connection; one whose query was sent when
# the peer vanished waits on retransmissions for ~15 minutes, and a repmgrd blocked that way
# after a partition holds up the election of the other standbys. A frozen peer still
# acknowledges at the TCP level: neither helps there.
PEER_CONN_OPTS="port=$PGHA_PORT connect_timeout=${PGHA_CONNECT_TIMEOUT:-2} keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 tcp_user_timeout=10000"

# ---------------------------------------------------------------------------------------
# Identity
ordinal_of() { printf '%s' "${1##*-}"; }
ORDINAL=$(ordinal_of "${POD_NAME:-x-0}")
if [[ $PGHA_ROLE_TIER == witness ]]; then
  NODE_ID=$((PGHA_NODE_ID_BASE))
else
  NODE_ID=$((PGHA_NODE_ID_BASE + ORDINAL))
fi
SELF_HOST="${POD_NAME:-localhost}.${PGHA_SERVICE:-local}.${PGHA_DOMAIN_SUFFIX:-local}"

# Priority of the member at ordinal $1 (PGHA_PRIORITIES is indexed by ordinal).
priority_of() {
  local -a prios
  read -r -a prios <<<"${PGHA_PRIORITIES:-}"
  printf '%s' "${prios[$1]:-$PGHA_DEFAULT_PRIORITY}"
}

# Node id of a member/cascade host name: the ordinal is the last '-' part of the first label.
node_id_of_host() {
  local host=$1 base=$2 pod=${1%%.*}
  printf '%s' $((base + ${pod##*-}))
}

# The binaries' directory: repmgr needs it for pg_ctl, pg_rewind and pg_basebackup. Resolve
# symlinks, because a /usr/local/bin/pg_ctl link does not sit next to pg_rewind.
discover_bindir() {
  local p
  if p=$(command -v pg_ctl 2>/dev/null) && [[ -n $p ]]; then
    p=$(readlink -f "$p")
    dirname "$p"
    return
  fi
  for p in /usr/lib/postgresql/*/bin; do
    [[ -x $p/pg_ctl ]] && { printf '%s\n' "$p"; return; }
  done
  return 1
}

# ---------------------------------------------------------------------------------------
# Secrets and passfile
write_passfile() {
  local su rep tmp
  su=$(read_secret superuser-password)
  rep=$(read_secret replication-password)
  tmp=$(mktemp "$RUN_DIR/.pgpass.XXXXXX")
  # libpq ignores a passfile that is group/world readable: mktemp creates it 0600.
  {
    printf '*:*:*:%s:%s\n' "$PGHA_REPMGR_USER" "$(pgpass_escape "$rep")"
    printf '*:*:*:%s:%s\n' "$PGHA_SUPERUSER" "$(pgpass_escape "$su")"
  } >"$tmp"
  mv -f "$tmp" "$PGPASSFILE"
}

peer_conninfo() {
  printf 'host=%s user=%s dbname=%s %s' "$1" "$PGHA_REPMGR_USER" "$PGHA_REPMGR_DATABASE" "$PEER_CONN_OPTS"
}

# psql against a peer as the repmgr user; -X ignores any psqlrc, -At gives bare values.
peer_sql() {
  local host=$1
  shift
  psql -X -At -q -v ON_ERROR_STOP=1 -d "$(peer_conninfo "$host")" -c "$*" 2>/dev/null
}

# psql on the local instance over the socket as the superuser.
local_sql() {
  psql -X -At -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d postgres -c "$*"
}

# The same through a session kept open (lib-session.sh), for the supervision loop: rows in
# SESSION_ROWS. One retry on a new session covers a server restarted since the last query.
# The session is on the repmgr database, which every node has once it serves (its instance-wide
# queries work from any database); a node without it falls back to a one-off psql.
: "${PGHA_LOCAL_QUERY_TIMEOUT:=10}"
local_query() {
  local conninfo="host=$PGHA_SOCKET_DIR port=$PGHA_PORT user=$PGHA_SUPERUSER dbname=$PGHA_REPMGR_DATABASE"
  session_query local "$PGHA_LOCAL_QUERY_TIMEOUT" "$1" "$conninfo" && return 0
  session_query local "$PGHA_LOCAL_QUERY_TIMEOUT" "$1" "$conninfo" && return 0
  local out
  out=$(timeout "$PGHA_LOCAL_QUERY_TIMEOUT" psql -X -At -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d postgres -c "$1" 2>/dev/null) || return 1
  mapfile -t SESSION_ROWS <<<"$out"
}

# The same in the repmgr database (repmgr.nodes, repmgr's SQL functions).
repmgr_sql() {
  psql -X -At -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d "$PGHA_REPMGR_DATABASE" -c "$*"
}

# The host= value of libpq conninfo $1 (quotes removed); empty when it has none.
conninfo_host() {
  local h
  [[ $1 == *host=* ]] || return 0
  h=${1#*host=}
  h=${h%% *}
  printf '%s' "${h//\'/}"
}

# ---------------------------------------------------------------------------------------
# Local instance state
has_data() { [[ -s $PGDATA/PG_VERSION ]]; }

# Sets PM_PID to the pid in postmaster.pid (no fork: the supervision loop calls it often).
PM_PID=
read_postmaster_pid() {
  PM_PID=
  [[ -r $PGDATA/postmaster.pid ]] || return 1
  read -r PM_PID <"$PGDATA/postmaster.pid" || return 1
  [[ $PM_PID =~ ^[0-9]+$ ]]
}

postmaster_pid() {
  read_postmaster_pid && printf '%s' "$PM_PID"
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

# "X/Y" -> integer, for comparing LSNs in bash.
lsn_to_int() {
  local l=${1:-0/0}
  [[ $l == */* ]] || { printf 0; return; }
  printf '%s' $(((16#${l%%/*} << 32) + 16#${l##*/}))
}

pg_major_of_binaries() {
  local v
  v=$(postgres --version 2>/dev/null) || return 1
  v=${v##* }
  printf '%s' "${v%%.*}"
}

# ---------------------------------------------------------------------------------------
# Status endpoint: one line of key=value pairs, served as-is to whoever connects.
# Fields: node_id state sysid tli lsn pgmajor streaming tier spec ts
#   spec: pod_spec_hash, equal on pods of the same template (a rolling update changes it)
#   state: empty | waiting | bootstrapping | cloning | hold | rejoining | primary | standby
#          | witness | stopping
publish_status() {
  local state=$1 sysid=${2:-} tli=${3:-0} lsn=${4:-0/0} streaming=${5:-0} tmp
  tmp=$RUN_DIR/.status.$$
  printf 'node_id=%s state=%s sysid=%s tli=%s lsn=%s pgmajor=%s streaming=%s tier=%s spec=%s ts=%(%s)T\n' \
    "$NODE_ID" "$state" "${sysid:--}" "$tli" "$lsn" "${PG_MAJOR:-0}" "$streaming" "$PGHA_ROLE_TIER" "${POD_SPEC:--}" -1 >"$tmp"
  # Renamed into place (a fork of mv, once per pass): readers never see a half-written line.
  mv -f "$tmp" "$STATUS_FILE"
  CURRENT_STATE=$state
}

# A fingerprint of what the pod template gives this pod: its PGHA_* environment, the mounted
# configuration and scripts, the PostgreSQL binaries. Pods of one StatefulSet revision share
# it; during a rolling update the rolled pods have another one (see handoff).
pod_spec_hash() {
  {
    env | grep '^PGHA_' | sort
    cat "$PGHA_CONFIG_DIR"/* "$(dirname "${BASH_SOURCE[0]}")"/*.sh 2>/dev/null
    postgres --version 2>/dev/null
  } | md5sum | cut -c1-12
}

# The status endpoint and the kubelet's probe endpoint: status-server.pl next to this file
# (perl-base is Essential in Debian, so it is in every image; bash cannot accept connections).
# Probe verdicts: a serving state refreshed within PGHA_READY_MAX_AGE seconds (ready, startup),
# or not stale beyond PGHA_LIVE_MAX_AGE seconds outside a long operation (live).
: "${PGHA_HEALTH_PORT:=8009}"
: "${PGHA_READY_MAX_AGE:=12}"
: "${PGHA_LIVE_MAX_AGE:=60}"
start_status_server() {
  perl "$(dirname "${BASH_SOURCE[0]}")/status-server.pl" "$PGHA_STATUS_PORT" "$PGHA_HEALTH_PORT" \
    "$STATUS_FILE" "$BUSY_MARKER" "$PGHA_READY_MAX_AGE" "$PGHA_LIVE_MAX_AGE" &
  STATUS_SERVER_PID=$!
}

# Reads a peer's status line; empty output when unreachable within 2 s.
read_peer_status() {
  # SC2016: $1/$2/$line belong to the inner bash (run under timeout), not to this one.
  # shellcheck disable=SC2016
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && IFS= read -r line <&3 && printf "%s\n" "$line"' _ "$1" "$PGHA_STATUS_PORT" 2>/dev/null
}

# Extracts field $2 from status line $1.
status_field() {
  status_get "$1" "$2" && printf '%s' "$REPLY"
}

# The same into REPLY, without the fork of a command substitution.
status_get() {
  local kv
  REPLY=
  for kv in $1; do
    [[ ${kv%%=*} == "$2" ]] && { REPLY=${kv#*=}; return 0; }
  done
  return 1
}

# This node's own status line into OWN_STATUS (empty when none is published yet).
read_own_status() {
  OWN_STATUS=
  [[ -r $STATUS_FILE ]] && read -r OWN_STATUS <"$STATUS_FILE"
  [[ -n $OWN_STATUS ]]
}

# Live role check over libpq: "primary", "standby", "unregistered" or nothing (unreachable).
# A node out of recovery counts as primary only once its repmgr record says so: a node
# being bootstrapped or promoted by the entrypoint is not yet a source for clones.
peer_role() {
  local r
  r=$(peer_sql "$1" "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby'
    WHEN to_regclass('repmgr.nodes') IS NOT NULL AND EXISTS (SELECT 1 FROM repmgr.nodes
      WHERE type = 'primary' AND active AND conninfo LIKE '%host=$1 %') THEN 'primary'
    ELSE 'unregistered' END") || return 1
  printf '%s' "$r"
}

# PGHA_MEMBER_HOSTS, then the hosts of member records (node ids base..base+999) this node's
# repmgr metadata holds that the list lacks, one per line. The list in the environment can
# be older than the cluster: during the rolling update of a scale-up, pods not rolled yet
# do not list the new members, one of which may be the primary by then.
known_member_hosts() {
  local h id conninfo
  local -A seen=()
  for h in ${PGHA_MEMBER_HOSTS:-}; do
    seen[$h]=1
    printf '%s\n' "$h"
  done
  while IFS='|' read -r id conninfo; do
    [[ $id =~ ^[0-9]+$ ]] || continue
    h=$(conninfo_host "$conninfo")
    [[ -n $h && -z ${seen[$h]:-} ]] || continue
    seen[$h]=1
    printf '%s\n' "$h"
  done < <(repmgr_sql "SELECT node_id, conninfo FROM repmgr.nodes
    WHERE active AND node_id >= $PGHA_NODE_ID_BASE AND node_id < $((PGHA_NODE_ID_BASE + 1000)) ORDER BY node_id" 2>/dev/null)
}

# Returns the host of the single live primary among the known members (known_member_hosts;
# verified with pg_is_in_recovery() over libpq, not from metadata). Status 2 when two claim it.
find_primary() {
  local h found=()
  for h in $(known_member_hosts); do
    [[ $h == "$SELF_HOST" ]] && continue
    [[ $(peer_role "$h") == primary ]] && found+=("$h")
  done
  ((${#found[@]} == 1)) && { printf '%s' "${found[0]}"; return 0; }
  ((${#found[@]} > 1)) && { printf '%s' "${found[*]}"; return 2; }
  return 1
}

peer_sysid() {
  peer_sql "$1" "SELECT system_identifier FROM pg_control_system()"
}

busy() { printf '%s\n' "$1" >"$BUSY_MARKER"; }
not_busy() { rm -f "$BUSY_MARKER"; }
