#!/bin/sh
# make bench-txm: the transaction manager next to a bare send loop, and the
# RPC client with and without keep-alive, against one throwaway anvil
# (automine) and PostgreSQL.  Prints numbers; never a pass/fail.
# Usage: bench/txm/run.sh BUILDDIR [TXS] [REQUESTS]
set -eu
builddir=$1
txs=${2:-${BENCH_TXS:-300}}
reqs=${3:-${BENCH_REQUESTS:-2000}}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

pgdir=$(mktemp -d /tmp/mrpg.XXXXXX)
anvildir=$(mktemp -d /tmp/mranvil.XXXXXX)
cleanup() {
    sh "$root/tests/anvil-harness.sh" stop "$anvildir"
    sh "$root/tests/pg-harness.sh" stop "$pgdir"
}
trap cleanup EXIT INT TERM
eval "$(sh "$root/tests/pg-harness.sh" start "$pgdir")"
eval "$(sh "$root/tests/anvil-harness.sh" start "$anvildir" BENCH 31337)"

command psql -X -q "$MR_TEST_PG" -c "CREATE DATABASE bench_txm"
db="$MR_TEST_PG dbname=bench_txm"
"$builddir/mosaic-relayer" migrate --database "$db" >/dev/null
echo "== settings"
command psql -X -q "$MR_TEST_PG" -At \
    -c "SELECT name || ' = ' || setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync') ORDER BY name"
echo "cpus = $(nproc); anvil $("$root/deploy/node_modules/.bin/anvil" --version | head -1)"
"$builddir/bench-txm" "$db" "$MR_TEST_ANVIL_BENCH_URL" "$txs" "$reqs"
