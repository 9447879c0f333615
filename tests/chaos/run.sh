#!/bin/sh
# make chaos / make soak: the relayer end to end for a long run, on a
# throwaway PostgreSQL (tests/pg-harness.sh; chaos crashes and restarts it
# through MR_TEST_PGCTL) and two anvils of its own at 1 s blocks (started by
# the driver through tests/anvil-harness.sh).  See tests/chaos/chaos.c.
# Usage: tests/chaos/run.sh BUILDDIR chaos|soak
set -eu
builddir=$1
mode=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

pgdir=$(mktemp -d /tmp/mrchaos.XXXXXX)
cleanup() {
    sh tests/pg-harness.sh stop "$pgdir"
}
trap cleanup EXIT INT TERM
eval "$(sh tests/pg-harness.sh start "$pgdir")"
export MR_TEST_PG MR_TEST_PGDATA MR_TEST_PGCTL MR_TEST_PGPORT
MR_BIN="$builddir/mosaic-relayer"
CHAOS_MODE=$mode
export MR_BIN CHAOS_MODE
echo "anvil $("$root/deploy/node_modules/.bin/anvil" --version | head -1); cpus = $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$builddir/chaos"
