#!/bin/sh
# A throwaway PostgreSQL cluster for the tests: private directory, private
# unix socket, a loopback port, trust authentication (nothing else can reach
# it), run as the unprivileged `postgres` user when the harness runs as root.
# The server handling is shared with deploy/devnet (deploy/lib/services.sh).
#
#   tests/pg-harness.sh start DIR   -> prints shell assignments to eval:
#        MR_TEST_PG (conninfo), MR_TEST_PGDATA, MR_TEST_PGCTL, MR_TEST_PGPORT
#   tests/pg-harness.sh stop DIR
#
# Exit status 3 (and a message) when no PostgreSQL server binaries exist, so
# that the database tests can say why they skip.
set -eu
cmd=$1; dir=$2
SVC_WHO=pg-harness
. "$(cd "$(dirname "$0")/.." && pwd)/deploy/lib/services.sh"

bindir=$(svc_pg_bindir) || exit $?
as_user=$(svc_pg_as_user)

case $cmd in
start)
    svc_pg_init "$dir" mr || exit $?
    svc_pg_start "$dir" "" -c max_connections=200 -c shared_buffers=128MB \
        -c log_min_messages=warning || exit $?
    port=$SVC_PG_PORT
    echo "MR_TEST_PG='host=127.0.0.1 port=$port user=mr dbname=postgres'"
    echo "MR_TEST_PGDATA='$dir/data'"
    echo "MR_TEST_PGPORT='$port'"
    echo "MR_TEST_PGCTL='$as_user $bindir/pg_ctl -D $dir/data -l $dir/server.log -w -t 60 -o \"-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200\"'"
    ;;
stop)
    svc_pg_stop "$dir"
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
