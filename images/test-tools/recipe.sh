#!/bin/sh
# A small image for the pod runtime's own tests (podrt/*.test.ts): a shell, coreutils, bash and
# python3 (http.server, sockets). The runtime maps the references those tests name (busybox,
# python) onto it, so they run in a root filesystem of their own and never on the host's /usr.
#
# Parameters (environment):
#   SUITE  the Debian suite, for messages (default: the base's codename)
#
#@ ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
#@ ENV LANG=C.UTF-8
#@ USER 0:0
#@ WORKDIR /
#@ CMD ["sh"]
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends python3 procps
rm -rf /var/lib/apt/lists/*
echo "recipe test-tools: resolved:"
# shellcheck disable=SC2016 # ${...} is dpkg-query's format
dpkg-query -W -f '  ${Package} ${Version}\n' python3 bash coreutils
