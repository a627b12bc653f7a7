#!/bin/bash
# repmgrd's follow_command (repmgr.conf): run on a standby whose upstream failed, once the
# election's winner told it to follow node $1 (repmgr.notify_follow_primary). Exit 0 = this
# node now streams from node $1 (or will, its WAL receiver reconnecting).
#
# Why not `repmgr standby follow` itself: it opens five sessions one after the other (local,
# the new primary twice, a replication connection for the timeline check, the old upstream to
# drop its slot, where a dead one costs the connect timeout) before and after it points the WAL
# receiver at the new primary. Beside a one-core CPU hog that was 3-4 s between the
# notification and the first WAL from the new primary, and under quorum commit the first write
# after a failover waits for exactly that. Here: one local session to learn what to change, one
# on the new primary (its slot for this node, the repmgr record, the timeline check), one local
# session to change primary_conninfo and reload (PostgreSQL 13 and later apply it without a
# restart). After a promotion by node-promote.sh this node is usually pointed at the new
# primary already; what is left then is its record. Anything unusual (the target still in recovery, this node possibly past the point
# where the target's timeline forked, a failed step) hands over to `repmgr standby follow`,
# which checks and reports everything itself.
set -uo pipefail
# repmgrd reopened its stdout on /dev/null; its stderr is the container's log.
exec 1>&2

LOG_TAG=follow
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=lib-base.sh
source "$HERE/lib-base.sh"
# shellcheck source=node-env.sh
source "$HERE/node-env.sh"
# shellcheck source=node-decide.sh
source "$HERE/node-decide.sh"
# shellcheck source=node-peers.sh
source "$HERE/node-peers.sh"
# shellcheck source=node-instance.sh
source "$HERE/node-instance.sh"

target_id=${1:-}
[[ $target_id =~ ^[0-9]+$ ]] || die "usage: node-follow.sh NODE_ID (repmgrd's %n)"

repmgr_follow() {
  log "$1: repmgr standby follow --upstream-node-id=$target_id"
  exec repmgr -f "$REPMGR_CONF" standby follow --log-to-file --upstream-node-id="$target_id"
}

t0=${EPOCHREALTIME/./}
# One row, fields separated by '|' (conninfo strings hold spaces and quotes, and no password:
# the passfile has it): the target's conninfo, this node's primary_conninfo and slot, the WAL
# it holds.
IFS='|' read -r target_conninfo conninfo slot held < <(repmgr_sql "SELECT concat_ws('|',
    (SELECT conninfo FROM repmgr.nodes WHERE node_id = $target_id),
    current_setting('primary_conninfo'), current_setting('primary_slot_name'),
    COALESCE(GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), '0/0'))")
conninfo_host "${target_conninfo:-}"
target=$REPLY
[[ -n $target && ${conninfo:-} == *"host='"*"'"* ]] || repmgr_follow "cannot read the target's record or this node's primary_conninfo"

# On the target: in recovery or not (a standby fails the query: WAL functions), and where its
# timeline forked from the one before: the newest line of its timeline history file,
# "parent<TAB>switch point<TAB>reason".
IFS='|' read -r target_recovery fork < <(peer_sql "$target" "SELECT pg_is_in_recovery()::int || '|' ||
    COALESCE((SELECT split_part(l, E'\\t', 2) FROM regexp_split_to_table(
      pg_read_file('pg_wal/' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '.history'), E'\\n') AS l
      WHERE l ~ '^[0-9]' ORDER BY split_part(l, E'\\t', 1)::int DESC LIMIT 1), '')")
[[ ${target_recovery:-} == 0 ]] || repmgr_follow "${target%%.*} did not answer as a primary with a timeline history"
conninfo_pointed_at "$conninfo" "$target"
new_conninfo=$REPLY old_host=$OLD_HOST
if [[ $old_host != "$target" ]]; then
  lsn_num "$held"
  held_num=$REPLY
  lsn_num "${fork:-0/0}"
  if [[ -z ${fork:-} ]] || ((held_num > REPLY)); then
    repmgr_follow "this node holds WAL up to $held, the fork point of ${target%%.*}'s timeline is '${fork:-unknown}'"
  fi
fi

record="BEGIN; SET LOCAL synchronous_commit = local;
  UPDATE repmgr.nodes SET upstream_node_id = $target_id WHERE node_id = $NODE_ID;
  INSERT INTO repmgr.events (node_id, event, successful, details) VALUES ($NODE_ID, 'standby_follow', true, 'node-follow.sh: following node $target_id');
  COMMIT"
slot_sql="SELECT count(pg_create_physical_replication_slot('$slot')) FROM (SELECT 1) AS one
  WHERE '$slot' <> '' AND NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot')"
psql -X -At -q -v ON_ERROR_STOP=1 -d "$(peer_conninfo "$target")" -c "$slot_sql" -c "$record" >/dev/null ||
  repmgr_follow "cannot create the slot '$slot' or write this node's record on ${target%%.*}"

if [[ $old_host == "$target" ]]; then
  # The new primary's promotion (node-promote.sh) pointed this node here already; the WAL
  # receiver may be streaming on the new timeline by now, past the fork point.
  log "following ${target%%.*} (node $target_id): primary_conninfo already named it (set by its promotion); slot '$slot' there and this node's record written, $(((${EPOCHREALTIME/./} - t0) / 1000)) ms after the notification"
  exit 0
fi
psql -X -At -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d postgres \
  -c "ALTER SYSTEM SET primary_conninfo = '${new_conninfo//\'/\'\'}'" -c "SELECT pg_reload_conf()" >/dev/null ||
  repmgr_follow "cannot set primary_conninfo"
log "following ${target%%.*} (node $target_id) instead of ${old_host%%.*}: slot '$slot' there, primary_conninfo reloaded, $(((${EPOCHREALTIME/./} - t0) / 1000)) ms after the notification"
