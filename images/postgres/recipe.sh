#!/bin/sh
# The PostgreSQL + repmgr image: everything the image holds, on a Debian base. The Dockerfile
# only runs this script; the local builder (podrt/image-build.ts) runs it in a root filesystem
# made by mmdebstrap. No script of the library is baked in: the entrypoint comes from the
# pods' ConfigMap, so a library upgrade never needs a new image.
#
# Parameters (environment):
#   PG_MAJOR        PostgreSQL major (required)
#   PACKAGE_SOURCE  debian (the base's own suite; what local builds use) or pgdg (the
#                   PostgreSQL project's apt repository: every major, current minors; needs
#                   https://apt.postgresql.org, which the test machines cannot reach)
#   SUITE           the Debian suite, for messages (default: the base's codename)
#
# What the image declares (the Dockerfile repeats it; test/unit/images.test.ts compares):
#@ ENV PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
#@ ENV PGDATA=/var/lib/postgresql/data/pgdata
#@ ENV LANG=C.UTF-8
#@ USER 999:999
#@ WORKDIR /var/lib/postgresql
#@ CMD ["postgres", "--version"]
set -eu
: "${PG_MAJOR:?PG_MAJOR is required}"
: "${PACKAGE_SOURCE:=debian}"
# shellcheck disable=SC1091 # the base image's own file
[ -n "${SUITE:-}" ] || SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
# groupadd/useradd: in Debian 12's base, not in every later one.
command -v useradd >/dev/null || apt-get install -y -q --no-install-recommends passwd

# A fixed uid/gid, created before the packages (which would pick a free system uid): the pods'
# runAsUser and fsGroup are 999.
groupadd --system --gid 999 postgres
useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres

# No cluster of the package's own (the entrypoint runs initdb into the volume), no service
# started during the build.
mkdir -p /etc/postgresql-common
echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

if [ "$PACKAGE_SOURCE" = pgdg ]; then
  apt-get install -y -q --no-install-recommends ca-certificates postgresql-common
  /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y
fi
PACKAGES="postgresql-${PG_MAJOR} postgresql-${PG_MAJOR}-repmgr openssl"
for p in $PACKAGES; do
  apt-cache show "$p" >/dev/null 2>&1 ||
    { echo "recipe postgres: package $p is not in $SUITE ($PACKAGE_SOURCE)" >&2; exit 1; }
done
# shellcheck disable=SC2086 # one package per word
apt-get install -y -q --no-install-recommends $PACKAGES
rm -f /usr/sbin/policy-rc.d
rm -rf /var/lib/apt/lists/*

# Mount points of the pod contract (docs/pod-contract.md), so a read-only root has them.
mkdir -p /var/lib/postgresql/data /var/run/postgresql /run/pgha /opt/pgha/scripts /etc/pgha/config /etc/pgha/secrets /etc/pgha/tls
chown 999:999 /var/lib/postgresql /var/lib/postgresql/data /var/run/postgresql /run/pgha

# What the scripts rely on; the build fails here rather than a pod at run time.
test "$(id -u postgres)" = 999 && test "$(id -g postgres)" = 999
for b in postgres pg_ctl initdb pg_rewind pg_basebackup pg_controldata psql repmgr repmgrd; do
  test -x "/usr/lib/postgresql/${PG_MAJOR}/bin/$b" || { echo "recipe postgres: $b missing" >&2; exit 1; }
done
perl -MIO::Socket::IP -e 1

echo "recipe postgres: resolved in $SUITE ($PACKAGE_SOURCE):"
# shellcheck disable=SC2086,SC2016 # one package per word; ${...} is dpkg-query's format
dpkg-query -W -f '  ${Package} ${Version}\n' $PACKAGES
