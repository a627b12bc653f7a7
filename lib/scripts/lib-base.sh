#!/bin/bash
# What every entrypoint needs, in both kinds of pod: logging, secrets, pgpass quoting, sleeps
# without a fork, and SIGTERM handled at safe points. Sourced, never executed. The script that
# sources it sets LOG_TAG and defines on_term (what to do on SIGTERM).

log() {
  # printf's %(...)T avoids a fork per log line (fork is slow on small VMs).
  local TZ=UTC
  printf '%(%Y-%m-%dT%H:%M:%S)TZ %s %s: %s\n' -1 "${POD_NAME:-?}" "${LOG_TAG:-pgha}" "$*"
}

die() {
  log "FATAL: $*"
  exit 1
}

# The output names its namespace wherever a pod reaches a peer (repmgr.conf, pgpool.conf, the
# peers' host names), and a kustomize `namespace:` or a Flux targetNamespace that moves the
# objects rewrites none of it: the pods would look for their peers in the old namespace. A
# moved pod stops here, naming the cause, instead of failing somewhere later.
# PGHA_NAMESPACE: the namespace the output was synthesized for; POD_NAMESPACE: the downward API's.
check_namespace() {
  [[ -z ${PGHA_NAMESPACE:-} || -z ${POD_NAMESPACE:-} || $PGHA_NAMESPACE == "$POD_NAMESPACE" ]] && return 0
  die "this pod runs in namespace $POD_NAMESPACE, but its configuration was synthesized for namespace $PGHA_NAMESPACE (host names in repmgr.conf and pgpool.conf name it): the manifests were moved, e.g. by a kustomize namespace: or a Flux targetNamespace. Synthesize for $POD_NAMESPACE instead (the cluster's namespace prop or the chart's namespace)."
}

# Refuses to start, with one line naming the file, when a credential this pod mounts
# (PGHA_MOUNTED_CREDENTIALS, set by the constructs) is missing, unreadable or empty: a pod that ran on
# with an empty password would fail later, half-way, and further from the cause. Run first, in
# the entrypoint's own shell: read_secret's callers use $(...), where die ends only the subshell.
check_secrets() {
  local key f v
  [[ -n ${PGHA_MOUNTED_CREDENTIALS:-} ]] || die "PGHA_MOUNTED_CREDENTIALS is not set: the pod spec names no credential to check"
  for key in $PGHA_MOUNTED_CREDENTIALS; do
    f=$PGHA_SECRETS_DIR/$key
    [[ -f $f && -r $f ]] || die "secret key '$key' missing or unreadable at $f: add it to the credentials Secret"
    v=
    IFS= read -r -d '' v <"$f"
    [[ -n ${v//[[:space:]]/} ]] || die "secret key '$key' is empty at $f: give it a value in the credentials Secret"
  done
}

# A key of the mounted credentials Secret ($PGHA_SECRETS_DIR/$1).
read_secret() {
  local f=$PGHA_SECRETS_DIR/$1 v
  [[ -r $f ]] || die "secret key '$1' missing or unreadable at $f"
  v=$(<"$f")
  # Secrets created from files often end with a newline the user never meant as part of it.
  printf '%s' "${v%$'\n'}"
}

# pgpass and pcppass fields escape ':' and '\'.
pgpass_escape() {
  local s=${1//\\/\\\\}
  printf '%s' "${s//:/\\:}"
}

# ---------------------------------------------------------------------------------------
# SIGTERM. A trap handler runs inside whatever builtin the script was waiting in, and bash
# keeps the timeout of `read -t` in one global: a handler that itself reads with a timeout, or
# runs longer than the interrupted read's timeout, corrupts it, and bash aborts ("longjmp causes
# uninitialized stack frame") in the middle of what the handler does. So the handler
# only records the request and wakes the nap; the script acts on it (on_term) at its next nap,
# or as soon as the child it waits for in run_child returns, outside any builtin.
TERM_REQUESTED=0
NAP_FD=
on_signal() {
  TERM_REQUESTED=1
  [[ -n $NAP_FD ]] && printf '\n' >&"$NAP_FD"
}

term_check() {
  ((TERM_REQUESTED)) && on_term
  return 0
}

# Sleeps $1 seconds (fractions allowed) without a fork: a read with a timeout on a FIFO only
# on_signal writes to. Returns at once when SIGTERM arrived, and acts on it.
nap() {
  term_check
  nap_open
  read -r -t "$1" -u "$NAP_FD" _
  term_check
}

# The FIFO nap reads from, opened once (a SIGTERM handler may need it before the first nap).
nap_open() {
  [[ -n $NAP_FD ]] && return 0
  rm -f "$NAP_FIFO"
  mkfifo -m 0600 "$NAP_FIFO" && exec {NAP_FD}<>"$NAP_FIFO"
}

# Runs a long command as a background child, so SIGTERM ends the wait at once (bash defers
# traps while a foreground child runs); on_term then stops the child (CHILD_PID).
CHILD_PID=
run_child() {
  "$@" &
  CHILD_PID=$!
  wait "$CHILD_PID"
  local rc=$?
  term_check
  CHILD_PID=
  return "$rc"
}
