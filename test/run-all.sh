#!/usr/bin/env bash
# The whole test suite, as `npm test` runs it: type-check, unit tests, the local pod runtime's
# own tests, then the cluster tests on real PostgreSQL / repmgr / Pgpool-II processes, each pod in
# the root filesystem of the image it names.
# The runtime and cluster suites need root (network namespaces, real uids). They are never
# skipped: a missing dependency fails the run loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
export CDK8S_CHECK_UPGRADE=false

missing=()
for tool in bwrap nft ip setpriv mmdebstrap shellcheck; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "$(id -u)" -ne 0 ]; then
  echo "test/run-all.sh: the runtime and cluster suites need root (network namespaces, real uids, image builds)." >&2
  echo "Run 'sudo npm test', or 'npm run test:unit' for the unit tests alone." >&2
  exit 1
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing missing tools (${missing[*]}) from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2046 # one package per word, on purpose
  apt-get install -y -q --no-install-recommends $(grep -v '^#' test/debian-packages.txt)
fi
# kubectl kustomize (the GitOps consumer tests): Debian's kubernetes-client, unless the machine
# already has a kubectl from another package (both own /usr/bin/kubectl).
if ! command -v kubectl >/dev/null 2>&1; then
  echo "== installing kubectl (Debian's kubernetes-client) for the kustomize build of dist/"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends kubernetes-client
fi
# Pods run in the root filesystems of their images, built from images/*/recipe.sh for a version
# set (a Debian suite) on first use and cached under /var/cache/podrt. The default set (sid:
# the constructs' default PostgreSQL and Pgpool-II, what the committed dist/ names) runs every
# test; the other sets run the example cluster, the kill, graceful and partition failovers, and
# a Pgpool-II pod cut from the primary (Pgpool-II 4.3's children do not wait for a failover to
# end, 4.5+'s do: the failover command must hold on both).
# PGHA_VERSION_SET=<suite> runs every test on that one set instead.
DEFAULT_SET=sid
OTHER_SETS=(bookworm trixie)
SUBSET=(test/cluster/example-cluster.test.ts test/cluster/failover-kill.test.ts
  test/cluster/failover-graceful.test.ts test/cluster/failover-partition.test.ts
  test/cluster/pgpool-partial.test.ts)
if [ -n "${PGHA_VERSION_SET:-}" ]; then
  DEFAULT_SET=$PGHA_VERSION_SET
  OTHER_SETS=()
fi

echo "== type-check"
npx tsc --noEmit -p tsconfig.json
echo "== unit tests"
npx vitest run --project unit
echo "== the npm package, installed into fresh CommonJS and ES-module projects"
npx vitest run --project package
echo "== local pod runtime tests (version set ${DEFAULT_SET})"
PGHA_VERSION_SET=$DEFAULT_SET npx vitest run --project runtime --no-file-parallelism
echo "== cluster tests, version set ${DEFAULT_SET} (the default): every scenario"
PGHA_VERSION_SET=$DEFAULT_SET npx vitest run --project cluster --no-file-parallelism
for set in "${OTHER_SETS[@]}"; do
  echo "== image facts, version set ${set}: the uids, binaries and interpreter each recipe's image must hold"
  PGHA_VERSION_SET=$set npx vitest run --project runtime podrt/image-facts.test.ts
  echo "== cluster tests, version set ${set}: ${SUBSET[*]##*/}"
  PGHA_VERSION_SET=$set npx vitest run --project cluster --no-file-parallelism "${SUBSET[@]}"
done
