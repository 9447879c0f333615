#!/bin/sh
# Real local EVM chains for the tests: anvil (pinned in deploy/package-lock.json)
# on loopback ports, in a private directory, stopped at the end.
#
#   tests/anvil-harness.sh start DIR NAME CHAIN_ID [extra anvil args...]
#        -> prints MR_TEST_ANVIL_<NAME>_URL=... and MR_TEST_ANVIL_<NAME>_PID=...
#   tests/anvil-harness.sh stop DIR
#
# Exit status 3 (and a message) when anvil is not installed (make deps).
set -eu
cmd=$1; dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
anvil=$root/deploy/node_modules/.bin/anvil

case $cmd in
start)
    name=$3; chain_id=$4; shift 4
    if [ ! -x "$anvil" ]; then
        echo "anvil-harness: $anvil not found (run: make deps)" >&2
        exit 3
    fi
    mkdir -p "$dir"
    tries=0
    while :; do
        port=$(( ( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000 ) + 20000 ))
        "$anvil" --host 127.0.0.1 --port "$port" --chain-id "$chain_id" --slots-in-an-epoch 1 \
            --silent "$@" >"$dir/anvil-$name.log" 2>&1 &
        pid=$!
        echo "$pid" >>"$dir/pids"
        i=0
        while [ $i -lt 100 ]; do
            if curl -s -m 1 -H 'Content-Type: application/json' \
                -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' \
                "http://127.0.0.1:$port" 2>/dev/null | grep -q result; then
                echo "MR_TEST_ANVIL_${name}_URL='http://127.0.0.1:$port'"
                echo "MR_TEST_ANVIL_${name}_PID='$pid'"
                exit 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
            i=$((i + 1))
        done
        kill "$pid" 2>/dev/null || true
        tries=$((tries + 1))
        if [ $tries -ge 5 ]; then
            echo "anvil-harness: anvil did not start:" >&2
            tail -5 "$dir/anvil-$name.log" >&2
            exit 1
        fi
    done
    ;;
stop)
    if [ -f "$dir/pids" ]; then
        for p in $(cat "$dir/pids"); do kill "$p" 2>/dev/null || true; done
        sleep 0.2
        for p in $(cat "$dir/pids"); do kill -9 "$p" 2>/dev/null || true; done
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start DIR NAME CHAIN_ID [anvil args] | stop DIR" >&2
    exit 2
    ;;
esac
