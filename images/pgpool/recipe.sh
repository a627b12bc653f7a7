#!/bin/sh
# The Pgpool-II image: everything the image holds, on a Debian base. The Dockerfile only runs
# this script; the local builder (podrt/image-build.ts) runs it in a root filesystem made by
# mmdebstrap. The entrypoint comes from the pods' ConfigMap.
#
# Parameters (environment):
#   PGPOOL_SERIES   the Pgpool-II series the image must carry, e.g. 4.7 (required: the
#                   constructs render pgpool.conf for one series, and a base that carries
#                   another fails the build instead of running a mismatched configuration)
#   PACKAGE_SOURCE  debian (the base's own suite) or pgdg (apt.postgresql.org, not reachable
#                   from the test machines)
#   SUITE           the Debian suite, for messages (default: the base's codename)
#
# What the image declares (the Dockerfile repeats it; test/unit/images.test.ts compares):
#@ ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
#@ ENV LANG=C.UTF-8
#@ USER 1001:1001
#@ WORKDIR /run/pgpool
#@ CMD ["pgpool", "--version"]
set -eu
: "${PGPOOL_SERIES:?PGPOOL_SERIES is required}"
: "${PACKAGE_SOURCE:=debian}"
# shellcheck disable=SC1091 # the base image's own file
[ -n "${SUITE:-}" ] || SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
# groupadd/useradd: in Debian 12's base, not in every later one.
command -v useradd >/dev/null || apt-get install -y -q --no-install-recommends passwd

# A fixed uid/gid so runAsUser/fsGroup in the pods match the files the image owns.
groupadd --system --gid 1001 pgpool
useradd --system --uid 1001 --gid 1001 --home-dir /run/pgpool --no-create-home --shell /usr/sbin/nologin pgpool

# The package's init script must not start a pgpool during the build.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

if [ "$PACKAGE_SOURCE" = pgdg ]; then
  apt-get install -y -q --no-install-recommends ca-certificates postgresql-common
  /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y
fi
PACKAGES="pgpool2 postgresql-client openssl"
for p in $PACKAGES; do
  apt-cache show "$p" >/dev/null 2>&1 ||
    { echo "recipe pgpool: package $p is not in $SUITE ($PACKAGE_SOURCE)" >&2; exit 1; }
done
candidate=$(apt-cache policy pgpool2 | sed -n 's/^ *Candidate: *//p')
case $candidate in
  "$PGPOOL_SERIES".* | [0-9]*:"$PGPOOL_SERIES".*) ;;
  *) echo "recipe pgpool: $SUITE ($PACKAGE_SOURCE) carries pgpool2 $candidate, not the series $PGPOOL_SERIES" >&2; exit 1 ;;
esac
# shellcheck disable=SC2086 # one package per word
apt-get install -y -q --no-install-recommends $PACKAGES
rm -f /usr/sbin/policy-rc.d
rm -rf /var/lib/apt/lists/*

# psql itself, not Debian's pg_wrapper (a perl start per call): the reconcile loop calls it.
for b in /usr/lib/postgresql/*/bin/psql; do ln -sf "$b" /usr/local/bin/psql; done
# Mount points of the pod contract, so a read-only root has them.
mkdir -p /run/pgpool /opt/pgha/scripts /etc/pgha/pgpool /etc/pgha/secrets /etc/pgha/tls
chown 1001:1001 /run/pgpool

for b in pgpool pg_enc pg_md5 pcp_node_info pcp_attach_node pcp_detach_node pcp_node_count psql perl; do
  command -v "$b" >/dev/null || { echo "recipe pgpool: $b missing" >&2; exit 1; }
done
perl -MIO::Socket::IP -e 1

echo "recipe pgpool: resolved in $SUITE ($PACKAGE_SOURCE):"
# shellcheck disable=SC2086,SC2016 # one package per word; ${...} is dpkg-query's format
dpkg-query -W -f '  ${Package} ${Version}\n' $PACKAGES
