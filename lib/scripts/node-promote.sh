#!/bin/bash
# repmgrd's promote_command (repmgr.conf): run on the member standby that has just won
# repmgrd's election, with repmgrd's environment (the container's). Exit 0 = promoted.
#
# The guard. repmgrd's own guard against promoting a standby that is behind a sibling,
# standby_disconnect_on_failover, stops every WAL receiver before the election compares
# positions. In repmgr 5.3 it costs 7-12 s whenever the old primary went silent instead of
# dying (a partition, a freeze): a fixed 5 s sleep before it stops a receiver still waiting on
# the silent primary, then a wait for the siblings that runs to sibling_nodes_disconnect_timeout
# because a sibling that once reported a receiver is never counted as disconnected again. It is
# off; this check replaces it, and is cheaper and stricter: repmgrd re-enables the receivers
# before it promotes anyway, so what matters is the position right before the promotion. If a
# sibling holds WAL this node lacks, promoting this node would throw away writes that sibling
# may have acknowledged (quorum commit): refuse, and leave the failover to the next election or
# the entrypoint's fallback election, which picks the most advanced member. A member that is not
# in recovery means a live primary: refuse as well.
#
# The promotion. Not `repmgr standby promote`: before promoting, it connects to every
# registered node one after the other to make sure none is a primary, and the dead primary
# alone costs the whole connect timeout; on a loaded machine that check took 3-5 s of each
# failover. Here every other member is asked at once (the failed primary too, only whether it
# is a live primary: a restarted old primary may hold WAL nobody acknowledged, which must not
# block the promotion), then pg_promote() and the metadata `repmgr standby promote` writes
# (the same the handoff writes, node-instance.sh primary_record_sql). repmgrd then records
# its own failover event and tells the other standbys to follow.
set -uo pipefail
# repmgrd reopened its stdout on /dev/null; its stderr is the container's log.
exec 1>&2

LOG_TAG=promote
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

# The furthest WAL position a standby holds: what it received, or (after a restart, when
# nothing has been received yet) what it replayed.
readonly HELD_LSN_SQL="SELECT pg_is_in_recovery()::int, COALESCE(GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), '0/0')"

t0=${EPOCHREALTIME/./}
# This node's position, its upstream in the local metadata and the primary it streamed from, in
# one session: on a starved machine every process and login counts.
own=$(repmgr_sql "$HELD_LSN_SQL, (SELECT COALESCE(upstream_node_id, 0) FROM repmgr.nodes WHERE node_id = $NODE_ID),
  current_setting('primary_conninfo')") ||
  die "cannot read this node's WAL position; not promoting"
IFS='|' read -r own_rec own_lsn meta_upstream own_conninfo <<<"$own"
t_own=${EPOCHREALTIME/./}
# The failed primary is the member both the metadata and primary_conninfo name. Only that one
# is not waited for. When they differ (a record left stale by an earlier failover while a
# promotion pointed this node elsewhere), neither is trusted and every member is waited for:
# a member wrongly taken for the failed primary is a live sibling whose position, or
# promotion, this guard would not see.
failed_id=0
conninfo_host "$own_conninfo"
streamed_from=$REPLY
if [[ -n $streamed_from ]]; then
  node_id_reply "$streamed_from"
  ((REPLY == meta_upstream)) && failed_id=$meta_upstream
else
  failed_id=$meta_upstream
fi
((failed_id != 0)) || log "the metadata names node $meta_upstream as the upstream, primary_conninfo ${streamed_from:-no host}: waiting for every member"

# Every other member at once, each answer into its own file: "recovery|lsn|slot|conninfo"
# (its WAL position, and what it streams with: the slot name and primary_conninfo), or empty
# when it does not answer within the connect timeout. The failed primary is not waited for:
# a dead one would cost the whole connect timeout; its answer counts if it came by the time the
# siblings answered. No command substitution or helper process here (each is a fork, slow on a
# starved machine): the files are reused, truncated first, and node ids are computed in place.
readonly PEER_SQL="SELECT concat_ws('|', pg_is_in_recovery()::int,
  COALESCE(GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), '0/0'),
  current_setting('primary_slot_name'), current_setting('primary_conninfo'))"
read -r -a hosts <<<"${PGHA_MEMBER_HOSTS:-}"
sibling_jobs=()
for h in "${hosts[@]}"; do
  [[ $h == "$SELF_HOST" ]] && continue
  answer_file=$RUN_DIR/promote-answer.${h%%.*}
  : >"$answer_file"
  peer_sql "$h" "$PEER_SQL" >"$answer_file" &
  pod=${h%%.*}
  ((PGHA_NODE_ID_BASE + ${pod##*-} == failed_id)) || sibling_jobs+=("$!")
done
((${#sibling_jobs[@]} == 0)) || wait "${sibling_jobs[@]}"

siblings=()
followers=()
declare -A sibling_slot=() sibling_conninfo=()
for h in "${hosts[@]}"; do
  [[ $h == "$SELF_HOST" ]] && continue
  answer=
  read -r answer <"$RUN_DIR/promote-answer.${h%%.*}"
  IFS='|' read -r recovery lsn slot conninfo <<<"$answer"
  pod=${h%%.*}
  if ((PGHA_NODE_ID_BASE + ${pod##*-} == failed_id)); then
    # Only a failed primary that answers as a primary counts (decide_promotion refuses then).
    [[ $recovery == 0 ]] && siblings+=("host=$h recovery=$recovery lsn=$lsn")
  elif [[ -n $answer ]]; then
    priority_of "${pod##*-}"
    siblings+=("host=$h recovery=$recovery lsn=$lsn priority=$REPLY id=$((PGHA_NODE_ID_BASE + ${pod##*-}))")
    [[ $recovery == 1 ]] && followers+=("$h")
    [[ $recovery == 1 && $slot == repmgr_slot_* && $conninfo == *"host='"*"'"* ]] && sibling_slot[$h]=$slot sibling_conninfo[$h]=$conninfo
  else
    siblings+=("host=$h")
  fi
done

# Refused because a member is a live primary that this node already streams from (a promotion
# elsewhere pointed it there): repmgrd does not follow after a failed promote_command, it goes
# back to monitoring with the record it has. That record would keep naming the dead upstream,
# and in the next election hide this node from its siblings' repmgrd (each then sees itself as
# the only candidate). node-follow.sh writes the record (and the slot) on the live primary.
refuse_promotion() {
  local line
  for line in "${siblings[@]}"; do
    [[ -n $streamed_from && $line == "host=$streamed_from recovery=0 "* ]] || continue
    node_id_reply "$streamed_from"
    log "FATAL: not promoting: $REASON; this node streams from it already: node-follow.sh $REPLY records it as the upstream"
    bash "$HERE/node-follow.sh" "$REPLY" || log "WARNING: node-follow.sh $REPLY failed; this node's record still names node $meta_upstream"
    exit 1
  done
  die "not promoting: $REASON"
}

priority_of "$ORDINAL"
decide_promotion "$own_rec" "$own_lsn" "$REPLY" "$NODE_ID" "${siblings[@]}" || refuse_promotion
log "$REASON (own position read in $(((t_own - t0) / 1000)) ms, the other members answered $(((${EPOCHREALTIME/./} - t_own) / 1000)) ms later): promoting"
# pg_promote() waits for the promotion. In the same session right after: the slots the other
# members will stream from, then the metadata.
slots=
for h in "${!sibling_slot[@]}"; do slots+="${slots:+,}'${sibling_slot[$h]}'"; done
result=$(psql -X -At -q -v ON_ERROR_STOP=1 -U "$PGHA_SUPERUSER" -d "$PGHA_REPMGR_DATABASE" -c "SELECT pg_promote(true, 60)" \
  -c "SELECT count(pg_create_physical_replication_slot(s)) FROM unnest(ARRAY[${slots:-NULL}]::text[]) AS s
      WHERE s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = s)" \
  -c "$(primary_record_sql "$NODE_ID" "promoted by repmgrd's election (node-promote.sh); failed primary node $failed_id")")
promoted=$?
[[ ${result%%$'\n'*} == t ]] || die "pg_promote() did not complete within 60 s ($result)"
if ((promoted != 0)); then
  # The node is promoted whatever happens here: failing now would tell repmgrd otherwise.
  repmgr_sql "$(primary_record_sql "$NODE_ID" "promoted by repmgrd's election (node-promote.sh); failed primary node $failed_id")" >/dev/null ||
    log "WARNING: promoted, but the repmgr record of this node could not be written; repmgr cluster show is wrong until it is"
fi
# Point every other member that answered at this node now, and tell its repmgrd to follow.
# repmgrd would notify them too, but only after its own checks of this node, and each would
# then need its follow_command (node-follow.sh): seconds on a loaded machine, and under quorum
# commit the first write waits for a standby that streams from here. Their WAL never passed this
# node's (the guard above), so they can switch timelines here; one that cannot is rejoined by its
# entrypoint. node-follow.sh, run later by their repmgrd, finds them pointed here and writes
# their repmgr records. Not waited for.
for h in "${followers[@]}"; do
  notify="SELECT repmgr.notify_follow_primary($NODE_ID)"
  if [[ -z ${sibling_conninfo[$h]:-} ]]; then
    peer_sql "$h" "$notify" >/dev/null &
    continue
  fi
  conninfo_pointed_at "${sibling_conninfo[$h]}" "$SELF_HOST"
  psql -X -At -q -d "$(peer_conninfo "$h")" -c "ALTER SYSTEM SET primary_conninfo = '${REPLY//\'/\'\'}'" \
    -c "SELECT pg_reload_conf()" -c "$notify" >/dev/null 2>&1 &
done
log "promoted $(((${EPOCHREALTIME/./} - t0) / 1000)) ms after the election chose this node; told ${#followers[@]} other member(s) to follow (${#sibling_conninfo[@]} pointed here at once)"
