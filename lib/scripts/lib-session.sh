#!/bin/bash
# PostgreSQL sessions kept open by a long-running script (the entrypoints' supervision and
# reconcile loops). Sourced, never executed.
#
# Why: a query by `psql -c` costs a fork and exec of psql and a new backend on the server (a
# fork of the postmaster and a SCRAM login over TCP): tens of milliseconds of CPU each on a
# small VM, every pass of every pod. A session costs that once; each query after it is a write
# and a read on two FIFOs, all bash builtins, no fork.
#
#   session_query NAME TIMEOUT SQL CONNINFO   rows of the result in SESSION_ROWS, one per
#                                             element (psql -At: fields joined by '|');
#                                             status 1 when the session could not answer
#   session_close NAME                        ends the session (psql is killed)
#
# The session NAME is opened on first use with CONNINFO, and re-opened after any failure: a
# query that did not answer within TIMEOUT seconds (fractions allowed), a psql that exited
# (connection refused, server restarted, network cut). SQL errors keep the session open and
# fail the query. Every query is sent with a trailing ';'.

declare -A SESSION_W=() SESSION_R=() SESSION_PID=()
SESSION_ROWS=()
: "${SESSION_DIR:=${PGHA_RUN_DIR:-/run/pgha}/sessions}"
SESSION_END_MARK=__pgha_session_end__

# $1 name, $2 conninfo.
session_open() {
  local name=$1 conninfo=$2 in out w r
  [[ -d $SESSION_DIR ]] || mkdir -m 0700 "$SESSION_DIR" || return 1
  in=$SESSION_DIR/$name.in out=$SESSION_DIR/$name.out
  rm -f "$in" "$out"
  mkfifo -m 0600 "$in" "$out" || return 1
  # Opened read-write, so neither open blocks and no write gets SIGPIPE once psql is gone.
  exec {w}<>"$in" {r}<>"$out"
  # -At: bare rows; -q: no command tags; errors go to stderr (dropped), and :ERROR tells the
  # caller. exec: the session's pid is psql's own, so killing it ends the connection.
  psql -X -At -q -v ON_ERROR_STOP=0 -d "$conninfo" <"$in" >"$out" 2>/dev/null {w}>&- {r}>&- &
  SESSION_PID[$name]=$!
  SESSION_W[$name]=$w SESSION_R[$name]=$r
}

session_close() {
  local name=$1 w r
  [[ -n ${SESSION_PID[$name]:-} ]] || return 0
  kill -KILL "${SESSION_PID[$name]}" 2>/dev/null
  wait "${SESSION_PID[$name]}" 2>/dev/null
  w=${SESSION_W[$name]} r=${SESSION_R[$name]}
  exec {w}>&- {r}>&-
  rm -f "$SESSION_DIR/$name.in" "$SESSION_DIR/$name.out"
  unset "SESSION_PID[$name]" "SESSION_W[$name]" "SESSION_R[$name]"
}

# $1 name, $2 timeout (whole seconds), $3 sql, $4 conninfo.
session_query() {
  local name=$1 timeout=$2 sql=$3 conninfo=$4 part pending='' deadline
  SESSION_ROWS=()
  if [[ -z ${SESSION_PID[$name]:-} ]] || ! kill -0 "${SESSION_PID[$name]}" 2>/dev/null; then
    session_close "$name"
    session_open "$name" "$conninfo" || return 1
  fi
  printf '%s;\n\\echo %s :ERROR\n' "${sql%;}" "$SESSION_END_MARK" >&"${SESSION_W[$name]}" || { session_close "$name"; return 1; }
  # Microseconds from $EPOCHREALTIME (no fork, unlike date).
  deadline=$((${EPOCHREALTIME/./} + timeout * 1000000))
  while :; do
    # Short reads, so a psql that exited (no connection) is noticed within 0.2 s rather than
    # after the whole timeout: its FIFO never reaches end-of-file (this shell holds it open).
    # A read that times out mid-line keeps what it got in $part.
    if IFS= read -r -t 0.2 -u "${SESSION_R[$name]}" part; then
      part=$pending$part pending=''
      if [[ $part == "$SESSION_END_MARK "* ]]; then
        [[ $part == *" false" ]]
        return
      fi
      SESSION_ROWS+=("$part")
      continue
    fi
    pending+=$part
    # SIGTERM: give up, so the caller reaches its next nap (which acts on it) at once.
    if ((${TERM_REQUESTED:-0})) || ((${EPOCHREALTIME/./} >= deadline)) || ! kill -0 "${SESSION_PID[$name]}" 2>/dev/null; then
      session_close "$name"
      SESSION_ROWS=()
      return 1
    fi
  done
}
