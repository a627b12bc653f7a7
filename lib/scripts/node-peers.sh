#!/bin/bash
# Peers and the status endpoint: what this node publishes, what it reads of the others (their
# status lines, their live role over libpq), and the facts lines the decisions take
# (node-decide.sh). Sourced by node-entrypoint.sh after node-env.sh; never executed.
# SC2034: state variables set here are read by the other sourced files.
# shellcheck disable=SC2034

CURRENT_STATE=starting
STATUS_SERVER_PID=
POD_SPEC=-

peer_conninfo() {
  printf 'host=%s user=%s dbname=%s %s' "$1" "$PGHA_REPMGR_USER" "$PGHA_REPMGR_DATABASE" "$PEER_CONN_OPTS"
}

# psql against a peer as the repmgr user; -X ignores any psqlrc, -At gives bare values.
peer_sql() {
  local host=$1
  shift
  psql -X -At -q -v ON_ERROR_STOP=1 -d "$(peer_conninfo "$host")" -c "$*" 2>/dev/null
}

peer_sysid() {
  peer_sql "$1" "SELECT system_identifier FROM pg_control_system()"
}

# ---------------------------------------------------------------------------------------
# What this node publishes: one line of key=value pairs, served as-is to whoever connects.
# Fields: node_id state sysid tli lsn pgmajor streaming tier spec ts
#   spec: pod_spec_hash, equal on pods of the same template (a rolling update changes it)
#   state: starting | waiting | bootstrapping | cloning | hold | rejoining | promoting
#          | primary | standby | witness | stopping
publish_status() {
  local state=$1 sysid=${2:-} tli=${3:-0} lsn=${4:-0/0} streaming=${5:-0} tmp
  tmp=$RUN_DIR/.status.$$
  printf 'node_id=%s state=%s sysid=%s tli=%s lsn=%s pgmajor=%s streaming=%s tier=%s spec=%s ts=%(%s)T\n' \
    "$NODE_ID" "$state" "${sysid:--}" "$tli" "$lsn" "${PG_MAJOR:-0}" "$streaming" "$PGHA_ROLE_TIER" "$POD_SPEC" -1 >"$tmp"
  # Renamed into place: readers never see a half-written line.
  mv -f "$tmp" "$STATUS_FILE"
  CURRENT_STATE=$state
}

# This node's own status line into OWN_STATUS (empty when none is published yet).
OWN_STATUS=
read_own_status() {
  OWN_STATUS=
  [[ -r $STATUS_FILE ]] && read -r OWN_STATUS <"$STATUS_FILE"
  [[ -n $OWN_STATUS ]]
}

# Field $1 of this node's own status line, printed.
own_field() {
  read_own_status
  status_get "$OWN_STATUS" "$1" && printf '%s' "$REPLY"
}

# A fingerprint of what the pod template gives this pod: its PGHA_* environment, the mounted
# configuration and scripts, the PostgreSQL binaries. Pods of one StatefulSet revision share
# it; during a rolling update the rolled pods have another one (the handoff prefers them).
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
start_status_server() {
  perl "$(dirname "${BASH_SOURCE[0]}")/status-server.pl" "$PGHA_STATUS_PORT" "$PGHA_HEALTH_PORT" \
    "$STATUS_FILE" "$BUSY_MARKER" "$PGHA_READY_MAX_AGE" "$PGHA_LIVE_MAX_AGE" &
  STATUS_SERVER_PID=$!
}

# ---------------------------------------------------------------------------------------
# What the others publish.

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

# One peer's status line, printed (empty when unreachable within 2 s).
read_peer_status() {
  read_peer_statuses "$1"
  printf '%s' "${PEER_STATUS[$1]}"
}

# FACTS: one line per host given, as the decisions take them: "host=<h> ordinal=<o>
# priority=<p> <its status line>" (this node's own line for itself; the priority is a member's,
# by ordinal). $@: the hosts.
declare -a FACTS=()
gather_facts() {
  local h o
  read_own_status
  read_peer_statuses "$@"
  FACTS=()
  for h in "$@"; do
    o=${h%%.*}
    o=${o##*-}
    priority_of "$o"
    if [[ $h == "$SELF_HOST" ]]; then
      FACTS+=("host=$h ordinal=$o priority=$REPLY $OWN_STATUS")
    else
      FACTS+=("host=$h ordinal=$o priority=$REPLY ${PEER_STATUS[$h]}")
    fi
  done
}

# ---------------------------------------------------------------------------------------
# Who is primary, live.

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

# REPLY: the host= value of libpq conninfo $1 (quotes removed); empty when it has none.
conninfo_host() {
  local h
  REPLY=
  [[ $1 == *host=* ]] || return 0
  h=${1#*host=}
  h=${h%% *}
  REPLY=${h//\'/}
}

# primary_conninfo as repmgr writes it (host='...' quoted), pointed at host $2: REPLY gets the
# new string, OLD_HOST the host it named. Every other option stays: application_name (what
# synchronous_standby_names matches), keepalives, timeouts, the passfile.
OLD_HOST=
conninfo_pointed_at() {
  OLD_HOST=${1#*host=\'}
  OLD_HOST=${OLD_HOST%%\'*}
  REPLY=${1/host=\'$OLD_HOST\'/host=\'$2\'}
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
    conninfo_host "$conninfo"
    h=$REPLY
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
