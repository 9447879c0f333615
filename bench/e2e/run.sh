#!/bin/sh
# make bench-e2e: the relayer end to end against the floor of
# ../shared/ANVIL.md, on a throwaway PostgreSQL (tests/pg-harness.sh) and two
# anvils of its own at 1 s blocks (started by the driver through
# tests/anvil-harness.sh).  Prints numbers; never a pass/fail.
# Usage: bench/e2e/run.sh BUILDDIR   (environment: see bench/e2e/bench_e2e.c)
set -eu
builddir=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

pgdir=$(mktemp -d /tmp/mrpg.XXXXXX)
cleanup() {
    sh tests/pg-harness.sh stop "$pgdir"
}
trap cleanup EXIT INT TERM
eval "$(sh tests/pg-harness.sh start "$pgdir")"
export MR_TEST_PG
MR_BIN="$builddir/mosaic-relayer"
export MR_BIN

echo "== settings"
psql -X -q "$MR_TEST_PG" -At -c "SELECT 'postgres ' || version()" \
    -c "SELECT name || ' = ' || setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync') ORDER BY name"
echo "anvil $("$root/deploy/node_modules/.bin/anvil" --version | head -1); cpus = $(nproc)"
"$builddir/bench-e2e"
