#!/bin/bash
# repmgrd's promote_command (repmgr.conf): run on the member standby that has just won
# repmgrd's election, with repmgrd's environment (the container's). Exit 0 = promoted.
#
# Why a wrapper around `repmgr standby promote`: repmgrd's own guard against promoting a
# standby that is behind a sibling, standby_disconnect_on_failover, stops every WAL receiver
# before the election compares positions. In repmgr 5.3 it costs 7-12 s whenever the old
# primary went silent instead of dying (a partition, a freeze): a fixed 5 s sleep before it
# stops a receiver still waiting on the silent primary, then a wait for the siblings that runs
# to sibling_nodes_disconnect_timeout because a sibling that once reported a receiver is never
# counted as disconnected again. It is off; this check replaces it, and is cheaper and
# stricter: repmgrd re-enables the receivers before it promotes anyway, so what matters is
# the position right before the promotion. If a sibling holds WAL this node lacks, promoting
# this node would throw away writes that sibling may have acknowledged (quorum commit): refuse,
# and leave the failover to the next election or the entrypoint's fallback election, which
# picks the most advanced member. A sibling that is not in recovery means a live primary:
# refuse as well (repmgr's own check reads only the metadata's primary).
set -uo pipefail

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

own=$(local_sql "$HELD_LSN_SQL") || die "cannot read this node's WAL position; not promoting"

# The failed primary is this node's upstream in the local metadata. It is not asked: a silent
# primary would cost the full connect timeout, and repmgr standby promote checks it anyway.
failed_id=$(repmgr_sql "SELECT COALESCE(upstream_node_id, 0) FROM repmgr.nodes WHERE node_id = $NODE_ID" 2>/dev/null)

siblings=()
read -r -a hosts <<<"${PGHA_MEMBER_HOSTS:-}"
for h in "${hosts[@]}"; do
  [[ $h == "$SELF_HOST" ]] && continue
  [[ $(node_id_of_host "$h") == "${failed_id:-0}" ]] && continue
  if sib=$(peer_sql "$h" "$HELD_LSN_SQL"); then
    siblings+=("host=$h recovery=${sib%%|*} lsn=${sib##*|}")
  else
    siblings+=("host=$h")
  fi
done

decide_promotion "${own%%|*}" "${own##*|}" "${siblings[@]}" || die "not promoting: $REASON"
log "$REASON: promoting with repmgr"
exec repmgr -f "$REPMGR_CONF" standby promote --log-to-file
