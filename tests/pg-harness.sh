#!/bin/sh
# A throwaway PostgreSQL cluster for the tests: private directory, private
# unix socket, a loopback port, trust authentication (nothing else can reach
# it), run as the unprivileged `postgres` user when the harness runs as root.
#
#   tests/pg-harness.sh start DIR   -> prints shell assignments to eval:
#        MR_TEST_PG (conninfo), MR_TEST_PGDATA, MR_TEST_PGCTL, MR_TEST_PGPORT
#   tests/pg-harness.sh stop DIR
#
# Exit status 3 (and a message) when no PostgreSQL server binaries exist, so
# that the database tests can say why they skip.
set -eu
cmd=$1; dir=$2

bindir=""
for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && bindir=$d
done
if [ -z "$bindir" ]; then
    echo "pg-harness: no PostgreSQL server found (install the postgresql package: make deps)" >&2
    exit 3
fi

as_user=""
if [ "$(id -u)" -eq 0 ]; then
    as_user="runuser -u postgres --"
fi

case $cmd in
start)
    mkdir -p "$dir"
    [ -n "$as_user" ] && chown postgres "$dir"
    chmod 700 "$dir"
    $as_user "$bindir/initdb" -D "$dir/data" -U mr -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    tries=0
    while :; do
        port=$(( ( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000 ) + 35000 ))
        if $as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 \
                -c shared_buffers=128MB -c log_min_messages=warning" start >/dev/null 2>&1; then
            break
        fi
        tries=$((tries + 1))
        if [ $tries -ge 5 ]; then
            echo "pg-harness: could not start PostgreSQL:" >&2
            tail -20 "$dir/server.log" >&2
            exit 1
        fi
    done
    echo "MR_TEST_PG='host=127.0.0.1 port=$port user=mr dbname=postgres'"
    echo "MR_TEST_PGDATA='$dir/data'"
    echo "MR_TEST_PGPORT='$port'"
    echo "MR_TEST_PGCTL='$as_user $bindir/pg_ctl -D $dir/data -l $dir/server.log -w -t 60 -o \"-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200\"'"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        $as_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
