#!/bin/bash
# The rules of a running PostgreSQL pod's supervision and of the primary's handoff, as pure
# functions (the conventions of node-decide.sh, whose helpers they use): the facts in, VERDICT,
# REASON and REPLY out, no I/O, no commands, no globals read. Tested with node-decide.sh's rules
# in test/unit/node-decide.test.ts. Sourced, never executed.
# SC2034: VERDICT and REASON are read by the callers.
# shellcheck disable=SC2034

# Handoff target order. $1 this primary's pod spec, then one line per member standby (host=,
# ordinal=, priority=). Candidates stream from this node and have priority > 0. Best priority
# first; then the members a rolling update has passed (spec differs from this pod's), the
# highest ordinal of them; else the lowest ordinal. A StatefulSet rolls from the highest
# ordinal down, so the primary moves once per roll, not to a pod the roll deletes next.
# REPLY: the candidates' hosts, best first. VERDICT candidates | none.
# No handoff at all while another member publishes state=primary: this node is then a stale
# primary (frozen or cut off while another was promoted), its standbys stream from that member,
# and promoting one of them would depose the live primary (their received WAL is on the newer
# timeline, so it compares as past this node's shutdown checkpoint).
decide_handoff_order() {
  local spec=$1 line host ord prio rolled key i
  local -a keys=() hosts=()
  shift
  for line in "$@"; do
    status_get "$line" state
    [[ $REPLY == primary ]] || continue
    status_get "$line" host
    VERDICT=none REASON="${REPLY%%.*} is a primary already: this node is a stale primary, and a handoff would depose the live one"
    REPLY=''
    return 1
  done
  for line in "$@"; do
    status_get "$line" state
    [[ $REPLY == standby ]] || continue
    status_get "$line" streaming
    [[ $REPLY == 1 ]] || continue
    status_get "$line" priority
    prio=$REPLY
    ((prio > 0)) || continue
    status_get "$line" host
    host=$REPLY
    status_get "$line" ordinal
    ord=$REPLY
    rolled=0
    status_get "$line" spec
    [[ $REPLY != "$spec" ]] && rolled=1
    ((rolled)) || ord=$((100000 - ord))
    printf -v key '%010d%d%06d' "$prio" "$rolled" "$ord"
    # Insertion into the list kept in descending key order.
    i=${#keys[@]}
    while ((i > 0)) && [[ ${keys[i - 1]} < $key ]]; do
      keys[i]=${keys[i - 1]} hosts[i]=${hosts[i - 1]}
      i=$((i - 1))
    done
    keys[i]=$key hosts[i]=$host
  done
  picked candidates "candidates in order: ${hosts[*]%%.*}" "no member standby streams from this node" "${hosts[@]}"
}

# Handoff target: a candidate qualifies once the WAL it received ($2) is past the old primary's
# shutdown checkpoint ($1), i.e. it holds every commit. VERDICT target | behind.
decide_handoff_candidate() {
  local ckpt
  lsn_num "$1"
  ckpt=$REPLY
  lsn_num "$2"
  if ((REPLY > ckpt)); then
    VERDICT=target REASON="it received WAL up to $2, past the shutdown checkpoint $1"
    return 0
  fi
  VERDICT=behind REASON="it received WAL up to ${2:-nothing}, not past the shutdown checkpoint $1"
  return 1
}

# Fencing of a member primary. $1 members configured (n), $2 this primary's system identifier,
# $3 its timeline, $4 checks in a row it already found itself cut off, $5 PGHA_FENCE_CHECKS,
# $6 the members whose repmgr record on this primary is inactive (space-separated hosts: they
# stopped gracefully, or repmgrd saw them down), then the other members' lines (host=). It
# fences when a member of its cluster publishes a newer timeline (another node was promoted
# after it), or when it reaches fewer than a majority (itself included) on $5 checks in a row.
# An inactive member that does not answer is left out of the count: repmgrd's elections leave
# it out too (they count active records), and its repmgrd marks it active again when it
# starts. One that answers counts. VERDICT fence | isolated | ok;
# REPLY: the checks in a row now.
decide_fence() {
  local n=$1 mysysid=$2 mytli=$3 checks=$4 limit=$5 inactive=" $6 " line state tli majority reachable=1 left=''
  shift 6
  for line in "$@"; do
    if ! status_get "$line" state; then
      status_get "$line" host
      [[ -n $REPLY && $inactive == *" $REPLY "* ]] && { n=$((n - 1)) left+=" ${REPLY%%.*}"; }
      continue
    fi
    state=$REPLY
    reachable=$((reachable + 1))
    status_get "$line" sysid
    [[ $REPLY == "$mysysid" ]] || continue
    status_get "$line" tli
    tli=$REPLY
    if [[ $tli =~ ^[0-9]+$ ]] && ((tli > mytli)); then
      status_get "$line" host
      VERDICT=fence REASON="$REPLY publishes timeline $tli ($state), newer than this primary's $mytli"
      REPLY=$checks
      return 0
    fi
  done
  majority=$((n / 2 + 1))
  left=${left:+; not counted, inactive in repmgr:$left}
  if ((reachable < majority)); then
    REPLY=$((checks + 1))
    if ((REPLY >= limit)); then
      VERDICT=fence REASON="cut off from the majority of the members ($reachable of $n reachable, $REPLY checks in a row$left)"
      return 0
    fi
    VERDICT=isolated REASON="only $reachable of $n members reachable (need $majority), check $REPLY of $limit$left"
    return 1
  fi
  VERDICT=ok REASON="$reachable of $n members reachable$left" REPLY=0
  return 1
}

# Scale-down eligibility, per member record or slot the primary holds. $1 node id, $2 members
# configured (n), $3 PGHA_NODE_ID_BASE, $4 its replication slot is active (1/0), $5 its pod
# answers on the status endpoint (1/0), $6 since when it has been gone (epoch seconds; empty:
# not seen gone), $7 now, $8 PGHA_SCALEDOWN_GRACE. A member that restarts has an ordinal within
# the list; a pod of a scale-up this primary does not know yet answers: neither is touched.
# VERDICT unregister | gone | present | member; REPLY: the gone-since to keep (empty: forget).
decide_scaledown() {
  local id=$1 n=$2 base=$3 active=$4 answers=$5 since=$6 now=$7 grace=$8
  REPLY=
  if ((id < base + n || id >= base + 1000)); then
    VERDICT=member REASON="node $id is not beyond the $n configured members"
    return 1
  fi
  if ((active == 1 || answers == 1)); then
    VERDICT=present REASON="node $id has an active slot or a pod that answers"
    return 1
  fi
  REPLY=${since:-$now}
  if ((now - REPLY < grace)); then
    VERDICT=gone REASON="node $id is beyond the $n configured members and gone for $((now - REPLY))s of ${grace}s"
    return 1
  fi
  VERDICT=unregister REASON="node $id is beyond the $n configured members, its slot is inactive and its pod gone for $((now - REPLY))s"
  return 0
}

# A condition seen $1 checks in a row before this one, acted on at $2 in a row; $3 names it.
# VERDICT follow | wait; REPLY: the checks in a row now.
count_checks() {
  REPLY=$(($1 + 1))
  if ((REPLY >= $2)); then
    VERDICT=follow REASON="$3 for $REPLY checks"
    return 0
  fi
  VERDICT=wait REASON="$3 ($REPLY of $2 checks)"
  return 1
}

# A cascade back on a first-layer standby. $1 it streams (1/0), $2 what it streams from is the
# primary (1/0; 0 when that cannot be told), $3 and $4 the checks in a row so far on the primary
# and without streaming. It follows a first-layer standby after 2 checks on the primary (its
# upstream was promoted; the failover has settled) or 3 without streaming (e.g. its upstream was
# re-cloned and lost the cascade's slot). VERDICT follow | wait | ok; REPLY: "<on primary>
# <not streaming>" counts now.
decide_cascade_follow() {
  local streams=$1 on_primary=$2 onp=$3 nots=$4 rc
  if ((streams == 0)); then
    count_checks "$nots" 3 "not streaming"
    rc=$?
    REPLY="$onp $REPLY"
    return $rc
  fi
  if ((on_primary == 1)); then
    count_checks "$onp" 2 "upstream is the primary"
    rc=$?
    REPLY="$REPLY 0"
    return $rc
  fi
  VERDICT=ok REASON="streaming from a first-layer standby" REPLY="0 0"
  return 1
}

# A member standby back on the primary. $1 it streams (1/0), $2 a live primary serves (1/0),
# $3 passes without streaming so far, $4 PGHA_UNSTREAMED_PASSES. VERDICT follow | wait | ok;
# REPLY: the passes now.
decide_member_stream() {
  if (($1 == 1 || $2 == 0)); then
    VERDICT=ok REASON="streaming, or no primary to follow" REPLY=0
    return 1
  fi
  count_checks "$3" "$4" "not streaming while a primary serves"
}

# A member standby left without a primary: after the failover wait with neither a primary nor
# streaming (repmgrd did not promote) it takes part in the election. $1 it streams (1/0), $2 a
# primary is found (1/0), $3 since when it has had neither (epoch seconds; 0: not before), $4
# now, $5 the failover wait. VERDICT elect | wait | ok; REPLY: the since to keep.
decide_orphan() {
  local streams=$1 primary=$2 since=$3 now=$4 fw=$5
  if ((streams == 1 || primary == 1)); then
    VERDICT=ok REASON="streaming or a primary is found" REPLY=0
    return 1
  fi
  ((since == 0)) && since=$now
  REPLY=$since
  VERDICT=wait REASON="standby without primary for $((now - since))s of ${fw}s (repmgrd's turn)"
  ((now - since >= fw)) || return 1
  VERDICT=elect REASON="standby without primary for $((now - since))s, repmgrd did not promote"
}

# Lifting the repmgrd pause a primary's handoff left on this member. $1 this node is the
# primary (1/0), $2 its repmgr record says primary (1/0; asked only on a primary), $3 the live
# primary that is not stopping (empty: none), $4 the host this node streams from (empty: none),
# $5 passes already left to repmgrd to follow, $6 seconds paused, $7 PGHA_HANDOFF_PAUSE_MAX.
# VERDICT record (write this primary's record, then restart) | restart (repmgrd restarted
# unpaused) | follow | resume | wait; REPLY: the passes now.
decide_pause() {
  local primary=$1 record=$2 prim=$3 up=$4 passes=$5 paused=$6 max=$7
  REPLY=$passes
  if ((primary == 1)); then
    if ((record == 0)); then
      VERDICT=record REASON="promoted, but the repmgr record of this node is not primary: writing it"
      return 0
    fi
    VERDICT=restart REASON="this node is the primary now: restarting repmgrd to monitor it as the primary, unpaused"
    return 0
  fi
  if [[ -n $prim ]]; then
    if [[ $up == "$prim" ]]; then
      VERDICT=restart REASON="streaming from the new primary ${prim%%.*}: resuming repmgrd (restarted, to monitor that upstream)"
      return 0
    fi
    # repmgrd follows on the handoff's notification only if it reads it while retrying the old
    # primary; two passes are left to it.
    REPLY=$((passes + 1))
    if ((passes >= 2)); then
      VERDICT=follow REASON="not streaming from the new primary ${prim%%.*}"
      return 0
    fi
    VERDICT=wait REASON="not streaming from the new primary ${prim%%.*} yet (pass $REPLY)"
    return 1
  fi
  if ((paused >= max)); then
    VERDICT=resume REASON="repmgrd paused for ${paused}s and no new primary: resuming it, so failover works again"
    return 0
  fi
  VERDICT=wait REASON="repmgrd paused for ${paused}s, no new primary yet"
  return 1
}
