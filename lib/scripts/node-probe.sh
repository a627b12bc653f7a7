#!/bin/bash
# Exec probe of the PostgreSQL container: node-probe.sh startup|ready|live.
#   startup: postgres accepts connections in the role the entrypoint chose (primary, standby,
#            witness); the startup budget covers a long clone or rewind.
#   ready:   serving in that role; a standby must also be streaming.
#   live:    fails only when postgres is wedged (no answer within PGHA_LIVE_TIMEOUT seconds);
#            never while a clone, rewind, hold or election is under way.
set -uo pipefail

LOG_TAG=probe
# shellcheck source=lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"
: "${PGHA_LIVE_TIMEOUT:=10}"

state=$(status_field "$(cat "$STATUS_FILE" 2>/dev/null)" state) || state=unknown

# Prints "recovery|streaming" of the local instance, or fails.
query_role() {
  timeout "${1:-5}" psql -X -At -q -U "$PGHA_SUPERUSER" -d postgres -c \
    "SELECT pg_is_in_recovery()::int || '|' || COALESCE((SELECT (status = 'streaming')::int FROM pg_stat_wal_receiver), 0)" 2>/dev/null
}

# The role comes from postgres itself, not from the status file: repmgrd promotes or
# re-points a standby between two refreshes of that file.
in_role() {
  local r
  case $state in
    primary | standby | witness) ;;
    *)
      echo "entrypoint state is $state"
      return 1 ;;
  esac
  r=$(query_role 5) || { echo "postgres does not answer (state $state)"; return 1; }
  if [[ $state != witness && ${r%%|*} == 1 && ${1:-} == streaming && ${r##*|} != 1 ]]; then
    echo "standby is not streaming"
    return 1
  fi
}

case ${1:-} in
  startup)
    in_role
    ;;
  ready)
    in_role streaming
    ;;
  live)
    if [[ -e $BUSY_MARKER ]]; then exit 0; fi
    case $state in
      primary | standby | witness) ;;
      # Waiting, holding, cloning, ...: the entrypoint is alive and deciding; its own
      # supervision exits when postgres dies.
      *) exit 0 ;;
    esac
    timeout "$PGHA_LIVE_TIMEOUT" psql -X -At -q -U "$PGHA_SUPERUSER" -d postgres -c 'SELECT 1' >/dev/null 2>&1
    rc=$?
    # 124: no answer in time = wedged. A refused connection (restart by repmgr, too many
    # clients) is not a reason to kill the container.
    if ((rc == 124)); then
      echo "postgres did not answer within ${PGHA_LIVE_TIMEOUT}s"
      exit 1
    fi
    exit 0
    ;;
  *)
    echo "usage: $0 startup|ready|live" >&2
    exit 2
    ;;
esac
