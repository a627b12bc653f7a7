#!/bin/bash
# The rules of the Pgpool-II pods as pure functions: what the backends answered in, a verdict and
# a reason out. No I/O, no commands, no globals read: pgpool-failover.sh and
# pgpool-entrypoint.sh probe the backends, call these, log and act.
# test/unit/pgpool-decide.test.ts feeds them fixture lines. Sourced, never executed.
#
# A backend line is "ID|RECOVERY|WALRECEIVER|AGE": RECOVERY is pg_is_in_recovery() (true or
# false), WALRECEIVER the standby's pg_stat_wal_receiver status (streaming, none...), AGE the
# seconds since its walreceiver last heard from its upstream (-1 when it has none). A backend
# that did not answer is "ID|" (or just "ID").
# Out: VERDICT (one word), REASON (a sentence for the log), REPLY (the backend id it is about).
# SC2034: VERDICT, REASON and REPLY are read by the callers.
# shellcheck disable=SC2034

# Is there a primary, seen from this pod? $1: the longest AGE (seconds) that still proves the
# standby's upstream is alive: a walsender sends at least a keepalive every
# wal_sender_timeout / 2, so a fresher message means a live, unfrozen primary fed it.
# The other arguments: backend lines.
#   primary ID  backend ID answers as a primary;
#   cut ID      none answers as a primary, but standby ID streams and heard from its upstream
#               within $1 s: a primary is alive and this pod cannot reach it (a partition
#               between this pod and the primary, not a failover);
#   none        no primary answers and no standby has heard from one lately: the primary is
#               gone for everyone this pod can see (a failover is due or under way).
# A cascading standby streams from a standby, not the primary, but its upstream only streams
# while the primary feeds it, so its fresh message is evidence too (one hop later).
decide_primary_seen() {
  local fresh=$1 line id recovery receiver age
  shift
  VERDICT=none REPLY='' REASON="no backend answers as a primary and no standby heard from one within ${fresh}s"
  for line in "$@"; do
    IFS='|' read -r id recovery _ <<<"$line"
    if [[ $recovery == false ]]; then
      VERDICT=primary REPLY=$id REASON="backend $id answers as the primary"
      return 0
    fi
  done
  for line in "$@"; do
    IFS='|' read -r id recovery receiver age <<<"$line"
    [[ $recovery == true && $receiver == streaming && $age =~ ^[0-9]+$ ]] || continue
    if ((age <= fresh)); then
      VERDICT=cut REPLY=$id
      REASON="no backend this pod reaches answers as a primary, but backend $id streams and heard from its upstream ${age}s ago: a live primary exists that this pod cannot reach"
      return 0
    fi
  done
  return 0
}
