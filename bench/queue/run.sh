#!/bin/sh
# make bench-queue: our queue and graphile-worker, side by side, on the same
# throwaway PostgreSQL (tests/pg-harness.sh), in one run.  Prints numbers and
# the server settings; never a pass/fail.
# Usage: bench/queue/run.sh BUILDDIR [JOBS]
set -eu
builddir=$1
jobs=${2:-${BENCH_JOBS:-100000}}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

dir=$(mktemp -d /tmp/mrpg.XXXXXX)
cleanup() { sh "$root/tests/pg-harness.sh" stop "$dir"; }
trap cleanup EXIT INT TERM
eval "$(sh "$root/tests/pg-harness.sh" start "$dir")"

psql() { command psql -X -q "$@"; }
psql "$MR_TEST_PG" -c "CREATE DATABASE bench_ours" -c "CREATE DATABASE bench_graphile"
ours="$MR_TEST_PG dbname=bench_ours"
"$builddir/mosaic-relayer" migrate --database "$ours" >/dev/null

echo "== settings"
psql "$MR_TEST_PG" -At -c "SELECT 'postgres ' || version()" \
    -c "SELECT name || ' = ' || setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'max_connections', 'wal_level') ORDER BY name"
echo "cpus = $(nproc); jobs per drain = $jobs"

echo "== mosaic-relayer queue (C, libpq)"
"$builddir/bench-queue" "$ours" "$jobs" 4

echo "== graphile-worker (Node.js $(node --version))"
if [ ! -d "$here/node_modules/graphile-worker" ] || ! cmp -s "$here/package-lock.json" "$here/node_modules/.lock-stamp"; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) && cp "$here/package-lock.json" "$here/node_modules/.lock-stamp"
fi
node "$here/graphile.mjs" "postgres://mr@127.0.0.1:$MR_TEST_PGPORT/bench_graphile" "$jobs"
