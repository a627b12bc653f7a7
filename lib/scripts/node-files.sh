#!/bin/bash
# The files this node writes for PostgreSQL and repmgr at every start: the pgpass, the
# per-node repmgr.conf, PGDATA's postgresql.conf (an include of the ConfigMap's), the standby
# parameter floor and the FIFO that carries postgres' log to the container's stdout. Sourced by
# node-entrypoint.sh after node-env.sh; never executed.

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

# The rendered common part (ConfigMap) plus what only this node knows.
write_repmgr_conf() {
  local common=$PGHA_CONFIG_DIR/repmgr.conf tmp prio=0
  [[ -r $common ]] || die "missing $common"
  if [[ $PGHA_ROLE_TIER != witness ]]; then
    priority_of "$ORDINAL"
    prio=$REPLY
  fi
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
declare -A FLOOR_CONTROL_LABEL=(
  [max_connections]='max_connections setting'
  [max_worker_processes]='max_worker_processes setting'
  [max_wal_senders]='max_wal_senders setting'
  [max_prepared_transactions]='max_prepared_xacts setting'
  [max_locks_per_transaction]='max_locks_per_xact setting'
)
write_param_floor() {
  local peer=${1:-} control p want mine tmp out="" name value
  local -A live=()
  rm -f "$PARAM_FLOOR_CONF"
  control=$(pg_controldata "$PGDATA" 2>/dev/null) || return 0
  if [[ -n $peer ]]; then
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
