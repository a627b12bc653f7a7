#!/bin/bash
# The PostgreSQL pods' environment: defaults, paths and this node's identity. Sourced first by
# node-entrypoint.sh and node-promote.sh, after lib-base.sh; never executed. Names and mounts
# follow docs/pod-contract.md; the defaults only exist so the scripts run outside Kubernetes.
# Numbers TypeScript derives (the failover wait, timings) arrive here as environment.
# SC2034: the variables set here are read by the files sourced after this one.
# shellcheck disable=SC2034

: "${PGDATA:=/var/lib/postgresql/data/pgdata}"
: "${PGHA_PORT:=5432}"
: "${PGHA_ROLE_TIER:=member}"
: "${PGHA_REPMGR_USER:=repmgr}"
: "${PGHA_REPMGR_DATABASE:=repmgr}"
: "${PGHA_SUPERUSER:=postgres}"
: "${PGHA_DEFAULT_PRIORITY:=100}"
: "${PGHA_NODE_ID_BASE:=1000}"
: "${PGHA_CONFIG_DIR:=/etc/pgha/config}"
: "${PGHA_SECRETS_DIR:=/etc/pgha/secrets}"
: "${PGHA_RUN_DIR:=/run/pgha}"
: "${PGHA_SOCKET_DIR:=/var/run/postgresql}"

# Seconds, overridable (lib/scripts/README.md, "Tunables").
: "${PGHA_STATUS_PORT:=8008}"        # the status endpoint (README.md, "status endpoint")
: "${PGHA_HEALTH_PORT:=8009}"        # the kubelet's probe endpoint (set by the constructs)
: "${PGHA_READY_MAX_AGE:=12}"        # a status line older than this is not ready
: "${PGHA_LIVE_MAX_AGE:=60}"         # ... and not live, outside a long operation
: "${PGHA_ELECTION_TIMEOUT:=60}"     # wait for every member before electing with a majority
: "${PGHA_FAILOVER_WAIT:=50}"        # repmgrd's turn before the entrypoint elects (ResolvedTiming.failoverWaitSeconds)
: "${PGHA_PGPOOL_DETECTION_SECONDS:=10}" # Pgpool-II's health check detaches a silent backend (ResolvedTiming.pgpoolDetectionSeconds)
: "${PGHA_PG_DOWN_GRACE:=60}"        # postgres may be down this long (repmgr restart/follow)
: "${PGHA_START_TIMEOUT:=86400}"     # pg_ctl -w budget: crash recovery can be long
: "${PGHA_POLL_INTERVAL:=2}"         # the role decision's loop
: "${PGHA_SUPERVISE_INTERVAL:=5}"    # ticks (seconds) between the checks that talk to peers
: "${PGHA_STATUS_REWRITE:=5}"        # an unchanged status line is rewritten after this (its ts)
: "${PGHA_LOCAL_QUERY_TIMEOUT:=10}"  # a query on the supervisor's own session
: "${PGHA_HANDOFF_PAUSE_MAX:=30}"    # a paused repmgrd (handoff) resumes by itself after this
: "${PGHA_FENCE_CHECKS:=2}"          # checks in a row cut off from the majority before fencing
: "${PGHA_UNSTREAMED_PASSES:=3}"     # passes a member standby may not stream before following
: "${PGHA_SCALEDOWN_GRACE:=20}"      # a scaled-away member gone this long is unregistered

export PGDATA
RUN_DIR=$PGHA_RUN_DIR
VOLUME_DIR=${PGDATA%/*}
REPMGR_CONF=$RUN_DIR/repmgr.conf
STATUS_FILE=$RUN_DIR/status
# When the mounted TLS Secret was last checked (lib-tls.sh).
TLS_CHECKED_MARKER=$RUN_DIR/tls-checked
# Present while a long operation runs that the liveness probe must not interrupt.
BUSY_MARKER=$RUN_DIR/busy
PG_LOG_FIFO=$RUN_DIR/postgres.log
NAP_FIFO=$RUN_DIR/nap
PARAM_FLOOR_CONF=$RUN_DIR/param-floor.conf
CLONE_MARKER=$VOLUME_DIR/.pgha-clone-incomplete
BOOTSTRAP_MARKER=$VOLUME_DIR/.pgha-bootstrap-incomplete
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
# With TLS (PGHA_TLS_DIR, pod-spec.ts tlsPodParts) every peer's certificate and host name are
# verified against the cluster's CA. PGSSLMODE says so for every libpq client in the container;
# written here too, it is recorded in repmgr's conninfo and so reaches the WAL receivers'
# primary_conninfo on every node.
[[ -n ${PGHA_TLS_DIR:-} ]] && PEER_CONN_OPTS+=" sslmode=verify-full sslrootcert=$PGHA_TLS_DIR/ca.crt"

# Identity: member and cascade node ids are base + ordinal (the cascade tiers have bases of
# their own); the witness has the base.
ordinal_of() { printf '%s' "${1##*-}"; }
ORDINAL=$(ordinal_of "${POD_NAME:-x-0}")
if [[ $PGHA_ROLE_TIER == witness ]]; then
  NODE_ID=$((PGHA_NODE_ID_BASE))
else
  NODE_ID=$((PGHA_NODE_ID_BASE + ORDINAL))
fi
SELF_HOST="${POD_NAME:-localhost}.${PGHA_SERVICE:-local}.${PGHA_DOMAIN_SUFFIX:-local}"

# REPLY: the priority of the member at ordinal $1 (PGHA_PRIORITIES is indexed by ordinal).
priority_of() {
  local -a prios
  read -r -a prios <<<"${PGHA_PRIORITIES:-}"
  REPLY=${prios[$1]:-$PGHA_DEFAULT_PRIORITY}
}

# Node id of a host of this node's tier (PGHA_NODE_ID_BASE): the ordinal is the last '-' part of
# the first label. node_id_reply sets REPLY, for loops and paths where a command substitution's
# fork counts (the supervision pass, the handoff between shutdown and promotion).
node_id_reply() {
  local pod=${1%%.*}
  REPLY=$((PGHA_NODE_ID_BASE + ${pod##*-}))
}
node_id_of_host() {
  node_id_reply "$1"
  printf '%s' "$REPLY"
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

pg_major_of_binaries() {
  local v
  v=$(postgres --version 2>/dev/null) || return 1
  v=${v##* }
  printf '%s' "${v%%.*}"
}
