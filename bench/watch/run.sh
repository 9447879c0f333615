#!/bin/sh
# make bench-watch: the watcher's backfill of 10,000 events against the bare
# eth_getLogs calls of the same ranges, on a throwaway PostgreSQL
# (tests/pg-harness.sh) and a local anvil (tests/anvil-harness.sh).  Prints
# numbers and the server settings; never a pass/fail.
# Usage: bench/watch/run.sh BUILDDIR
set -eu
builddir=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

pgdir=$(mktemp -d /tmp/mrpg.XXXXXX)
anvildir=$(mktemp -d /tmp/mranvil.XXXXXX)
cleanup() {
    sh tests/anvil-harness.sh stop "$anvildir"
    sh tests/pg-harness.sh stop "$pgdir"
}
trap cleanup EXIT INT TERM
eval "$(sh tests/pg-harness.sh start "$pgdir")"
eval "$(sh tests/anvil-harness.sh start "$anvildir" ORIGIN 31337)"
export MR_TEST_PG MR_TEST_ANVIL_ORIGIN_URL

echo "== settings"
psql -X -q "$MR_TEST_PG" -At -c "SELECT 'postgres ' || version()" \
    -c "SELECT name || ' = ' || setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers') ORDER BY name"
echo "anvil $("$root/deploy/node_modules/.bin/anvil" --version | head -1); cpus = $(nproc)"
echo "== watcher backfill vs bare eth_getLogs"
"$builddir/bench-watch"
