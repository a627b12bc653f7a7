#!/usr/bin/env bash
# The whole test suite, as `npm test` runs it: type-check, unit tests, the local pod runtime's
# own tests, then the cluster tests on real PostgreSQL / repmgr / Pgpool-II processes.
# The runtime and cluster suites need root (network namespaces, real uids). They are never
# skipped: a missing dependency fails the run loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
export CDK8S_CHECK_UPGRADE=false

missing=()
for tool in bwrap nft ip setpriv repmgr pgpool shellcheck; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# The server binaries are not on PATH in Debian; the tests discover the major there.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgres)
if [ "$(id -u)" -ne 0 ]; then
  echo "test/run-all.sh: the runtime and cluster suites need root (network namespaces, real uids)." >&2
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
# Debian starts the packaged services on install; they would hold ports and confuse tests.
for service in postgresql pgpool2 repmgrd; do
  service "$service" stop >/dev/null 2>&1 || true
done

echo "== type-check"
npx tsc --noEmit -p tsconfig.json
echo "== unit tests"
npx vitest run --project unit
echo "== local pod runtime tests"
npx vitest run --project runtime --no-file-parallelism
echo "== cluster tests (real PostgreSQL, repmgr, Pgpool-II)"
npx vitest run --project cluster --no-file-parallelism
