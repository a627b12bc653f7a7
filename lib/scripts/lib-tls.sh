#!/bin/bash
# The TLS Secret's checks, in both kinds of pod. Sourced after lib-base.sh (die, log).
# PGHA_TLS_DIR is set when TLS is on (lib/constructs/pod-spec.ts tlsPodParts); without it
# there is nothing to check.

# Whether the mounted TLS Secret would work: 0 when it would, else 1 with REPLY saying what is
# wrong, naming the file and the fix. Wrong: a file missing or empty, a certificate that is not
# PEM, has expired, does not match its key, is not signed by the CA in ca.crt, or does not name
# one of the hosts in $@ (the names this pod is reached by; a cluster moved to a namespace the
# certificate does not name fails here). Each check forks openssl: at start and on a renewal only.
tls_files_problem() {
  local crt=$PGHA_TLS_DIR/tls.crt key=$PGHA_TLS_DIR/tls.key ca=$PGHA_TLS_DIR/ca.crt f name end
  REPLY=
  for f in "$crt" "$key" "$ca"; do
    [[ -f $f && -r $f && -s $f ]] && continue
    REPLY="TLS file $f is missing, unreadable or empty: the TLS Secret needs tls.crt, tls.key and ca.crt (npm run credentials, cert-manager, or your own)"
    return 1
  done
  command -v openssl >/dev/null || { REPLY="openssl is not in this image: it is needed to check $crt"; return 1; }
  end=$(openssl x509 -in "$crt" -noout -enddate 2>/dev/null) || { REPLY="TLS file $crt is not a PEM certificate"; return 1; }
  openssl x509 -in "$crt" -noout -checkend 0 >/dev/null 2>&1 ||
    { REPLY="the certificate in $crt has expired (${end#notAfter=}): renew the TLS Secret"; return 1; }
  [[ $(openssl x509 -in "$crt" -noout -pubkey 2>/dev/null) == "$(openssl pkey -in "$key" -pubout 2>/dev/null)" ]] ||
    { REPLY="the key in $key does not match the certificate in $crt: put the certificate's own key into the TLS Secret"; return 1; }
  openssl verify -CAfile "$ca" -untrusted "$crt" "$crt" >/dev/null 2>&1 ||
    { REPLY="the certificate in $crt is not signed by the CA in $ca: peers verify each other with ca.crt, so they would refuse this pod"; return 1; }
  for name; do
    [[ $(openssl x509 -in "$crt" -noout -checkhost "$name" 2>/dev/null) == *" does match "* ]] && continue
    REPLY="the certificate in $crt does not name $name, by which clients and peers reach this pod: issue it for that name (the list is in the workload's pgha.cdk8s.io/tls-dns-names annotation)"
    return 1
  done
  return 0
}

# Refuses to start, with one line naming the file and the fix, when the mounted TLS Secret would
# make the server fail later, half-way, or make its peers and clients refuse it. Records when
# the files were checked, for tls_renewed. $@: the host names this pod is reached by.
check_tls_files() {
  [[ -n ${PGHA_TLS_DIR:-} ]] || return 0
  tls_files_problem "$@" || die "$REPLY"
  : >"$TLS_CHECKED_MARKER"
}

# Whether the kubelet has put a renewed TLS Secret in place since the last check (it writes the
# new files, then swaps a symlink: their modification time is the swap's). A builtin test, no
# fork: cheap enough for every supervision pass.
tls_renewed() {
  [[ -n ${PGHA_TLS_DIR:-} && $PGHA_TLS_DIR/tls.crt -nt $TLS_CHECKED_MARKER ]]
}
