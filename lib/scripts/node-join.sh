#!/bin/bash
# Join: how a node gets its data and its place in repmgr: bootstrap of a new cluster, clone,
# re-clone, rejoin (rewind) to the primary, promotion of an election winner's hold instance,
# registration. Sourced by node-entrypoint.sh; never executed. Which of these runs is decided
# in node-role.sh, by the rules of node-decide.sh.

# initdb with the superuser password from the Secret; $@: extra initdb options.
init_data_dir() {
  local pwfile
  pwfile=$(mktemp "$RUN_DIR/.pw.XXXXXX")
  printf '%s\n' "$(read_secret superuser-password)" >"$pwfile"
  run_child initdb -D "$PGDATA" -U "$PGHA_SUPERUSER" --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 "$@" >/dev/null ||
    { rm -f "$pwfile"; rm -rf "$PGDATA"; die "initdb failed"; }
  rm -f "$pwfile"
}

bootstrap_primary() {
  busy bootstrapping
  publish_status bootstrapping
  local rep app mon
  rep=$(read_secret replication-password)
  app=$(read_secret app-password)
  mon=$(read_secret monitor-password)
  touch "$BOOTSTRAP_MARKER"
  log "initdb: new cluster (data checksums, scram-sha-256)"
  init_data_dir --data-checksums
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

# The witness: a small instance of its own with the repmgr role and database, registered with
# the primary ($1) once one runs.
init_witness() {
  local rep
  log "initdb: witness instance"
  init_data_dir
  pg_start -o "-c listen_addresses=''" || die "witness did not start"
  rep=$(read_secret replication-password)
  psql -X -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d postgres -v repuser="$PGHA_REPMGR_USER" \
    -v repdb="$PGHA_REPMGR_DATABASE" -v reppw="$rep" >/dev/null <<'SQL' || die "witness role creation failed"
SET log_statement = 'none';
CREATE ROLE :"repuser" LOGIN SUPERUSER REPLICATION PASSWORD :'reppw';
CREATE DATABASE :"repdb" OWNER :"repuser";
SQL
  pg_stop
}

register_witness() {
  log "register: repmgr witness register -h $1 --force"
  run_child repmgr -f "$REPMGR_CONF" -h "$1" -p "$PGHA_PORT" -U "$PGHA_REPMGR_USER" \
    -d "$PGHA_REPMGR_DATABASE" witness register --force || die "witness register failed"
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
  register_standby "$upid"
}

# $1 = upstream node id for a cascade (empty for members). --force replaces this node's
# existing record (re-clone, new claim); it is harmless for a first registration.
register_standby() {
  local upid=${1:-} args=(--force) _
  [[ -n $upid ]] && args+=(--upstream-node-id="$upid")
  log "register: repmgr standby register ${args[*]}"
  run_child repmgr -f "$REPMGR_CONF" standby register "${args[@]}" || log "WARNING: standby register failed"
  # repmgrd exits when its node has no record in the local copy of repmgr.nodes; the record is
  # written on the primary and reaches this standby by replication a moment later.
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

# Joins the stopped data directory to the running primary $1 (decide_join said rejoin):
# repmgr node rejoin --force-rewind (repmgr decides whether the timelines diverged); a
# re-clone when that fails.
rejoin_to() {
  local prim=$1 t0
  pg_stop
  if decide_former_primary_wait "$STOP_STATE" "$STOPPED_AT" "$EPOCHSECONDS" "$PGHA_PGPOOL_DETECTION_SECONDS"; then
    log "rejoin: $REASON"
    nap "$REPLY"
  fi
  # Once: a later rejoin in this container is not a former primary's.
  STOP_STATE=''
  ensure_clean_shutdown || return 1
  busy rejoining
  publish_status rejoining "$(local_sysid)"
  write_postgresql_conf
  # repmgr starts the rewound node itself, with the primary's control file: floor first.
  write_param_floor "$prim"
  log "rejoin: repmgr node rejoin --force-rewind to primary $prim"
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

# A streaming standby follows the node with id $1 ($2 = why, logged). The caller stops repmgrd
# first when it runs (it would act on the restart) and starts it again.
follow_node() {
  log "follow: $2; repmgr standby follow --upstream-node-id=$1"
  busy following
  run_child repmgr -f "$REPMGR_CONF" standby follow --upstream-node-id="$1" -W ||
    log "WARNING: standby follow failed"
  not_busy
}
