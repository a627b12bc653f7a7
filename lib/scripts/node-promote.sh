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
# shellcheck source=lib-base.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-base.sh"
# shellcheck source=lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"

# The furthest WAL position a standby holds: what it received, or (after a restart, when
# nothing has been received yet) what it replayed.
readonly HELD_LSN_SQL="SELECT pg_is_in_recovery()::int, COALESCE(GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), '0/0')"

own=$(local_sql "$HELD_LSN_SQL") || die "cannot read this node's WAL position; not promoting"
own_recovery=${own%%|*}
own_lsn=${own##*|}
[[ $own_recovery == 1 ]] || die "this node is not in recovery; nothing to promote"

# The failed primary is this node's upstream in the local metadata. It is skipped: a silent
# primary would cost the full connect timeout, and repmgr standby promote checks it anyway.
failed_id=$(repmgr_sql "SELECT COALESCE(upstream_node_id, 0) FROM repmgr.nodes WHERE node_id = $NODE_ID" 2>/dev/null)

read -r -a hosts <<<"${PGHA_MEMBER_HOSTS:-}"
for h in "${hosts[@]}"; do
  [[ $h == "$SELF_HOST" ]] && continue
  [[ $(node_id_of_host "$h" "$PGHA_NODE_ID_BASE") == "${failed_id:-0}" ]] && continue
  # Unreachable siblings are left to repmgrd's majority rule (the election needs one).
  sib=$(peer_sql "$h" "$HELD_LSN_SQL") || continue
  sib_recovery=${sib%%|*}
  sib_lsn=${sib##*|}
  if [[ $sib_recovery != 1 ]]; then
    die "not promoting: $h is out of recovery (a primary is alive); repmgrd will follow it"
  fi
  if (($(lsn_to_int "$sib_lsn") > $(lsn_to_int "$own_lsn"))); then
    die "not promoting: $h holds WAL up to $sib_lsn, this node only up to $own_lsn (it may hold acknowledged writes); the next election must pick it"
  fi
done

log "no reachable sibling is ahead of $own_lsn: promoting with repmgr"
exec repmgr -f "$REPMGR_CONF" standby promote --log-to-file
