#!/bin/bash
# PID 1 of every PostgreSQL container (member, cascade and witness tiers).
# Decides the node's role from the live state of its peers at every start, then supervises
# postgres (started with pg_ctl, so repmgr can restart and promote it) and repmgrd (a child in
# the foreground). The rules, and which file holds each concern, are in README.md next to
# this file.
set -uo pipefail

LOG_TAG=entrypoint
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=lib-base.sh
source "$HERE/lib-base.sh"         # log, die, secrets, nap, SIGTERM at safe points
# shellcheck source=lib-session.sh
source "$HERE/lib-session.sh"      # PostgreSQL sessions kept open
# shellcheck source=lib-tls.sh
source "$HERE/lib-tls.sh"          # the TLS Secret's check at start
# shellcheck source=node-env.sh
source "$HERE/node-env.sh"         # defaults, paths, identity
# shellcheck source=node-decide.sh
source "$HERE/node-decide.sh"      # the rules of the role decision (pure)
# shellcheck source=node-decide-supervise.sh
source "$HERE/node-decide-supervise.sh" # the rules of supervision and handoff (pure)
# shellcheck source=node-peers.sh
source "$HERE/node-peers.sh"       # status line, peers, the live primary
# shellcheck source=node-instance.sh
source "$HERE/node-instance.sh"    # the local instance: start, stop, hold, state
# shellcheck source=node-files.sh
source "$HERE/node-files.sh"       # pgpass, repmgr.conf, parameter floor, log FIFO
# shellcheck source=node-join.sh
source "$HERE/node-join.sh"        # bootstrap, clone, rejoin, promote, register
# shellcheck source=node-role.sh
source "$HERE/node-role.sh"        # the role decision per tier
# shellcheck source=node-handoff.sh
source "$HERE/node-handoff.sh"     # a primary's graceful stop
# shellcheck source=node-supervise.sh
source "$HERE/node-supervise.sh"   # the supervision loop and its checks

# SIGTERM (lib-base.sh: on_signal records it; this runs at the next nap or child exit). A member
# primary hands its role over first; then repmgrd and postgres stop (fast) and the container
# exits 0.
on_term() {
  trap - TERM INT
  TERM_REQUESTED=0
  log "SIGTERM: stopping repmgrd and postgres (fast)"
  local was=$CURRENT_STATE
  publish_status stopping "$(own_field sysid)"
  [[ -n $CHILD_PID ]] && kill -TERM "$CHILD_PID" 2>/dev/null
  if [[ $PGHA_ROLE_TIER == member && $was == primary ]] && postgres_running; then
    handoff || log "handoff: not done ($HANDOFF_WHY); the standbys' repmgrd fails over as after a crash"
  fi
  stop_repmgrd
  [[ $was == standby ]] && postgres_running && announce_departure
  postgres_running && pg_ctl -D "$PGDATA" -w -t 300 -m fast stop >/dev/null
  [[ -n $STATUS_SERVER_PID ]] && kill "$STATUS_SERVER_PID" 2>/dev/null
  log "stopped"
  exit 0
}

main() {
  umask 0077
  check_namespace
  check_secrets
  [[ -d $RUN_DIR && -w $RUN_DIR ]] || die "$RUN_DIR must be a writable directory"
  check_tls_files "$SELF_HOST"
  BINDIR=$(discover_bindir) || die "cannot find the PostgreSQL binaries"
  PATH=$BINDIR:$PATH
  PG_MAJOR=$(pg_major_of_binaries) || die "postgres --version failed"
  # Data of another major is refused before anything touches the volume.
  has_data && check_major_version
  # Read before anything runs postgres (hold mode rewrites the control file): was this node a
  # primary until it stopped? (rejoin_to, decide_former_primary_wait)
  has_data && read_stop_state
  POD_SPEC=$(pod_spec_hash)
  trap on_signal TERM INT
  # What a previous container of this pod left behind.
  rm -f "$BUSY_MARKER"
  clear_stale_locks
  # The files PostgreSQL and repmgr read, written anew at every start.
  write_passfile
  write_repmgr_conf
  setup_log_fifo
  # Peers and probes see this node from its first second.
  publish_status starting "$(has_data && local_sysid)"
  start_status_server
  log "start: tier $PGHA_ROLE_TIER, node $NODE_ID ($SELF_HOST), PostgreSQL $PG_MAJOR in $BINDIR"
  # The role, from the live state of the peers; each returns once the node serves.
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
