#!/bin/sh
# Real local EVM chains for the tests: anvil (pinned in deploy/package-lock.json)
# on loopback ports, in a private directory, stopped at the end.  Starting a
# chain is shared with deploy/devnet (deploy/lib/services.sh).
#
#   tests/anvil-harness.sh start DIR NAME CHAIN_ID [extra anvil args...]
#        -> prints MR_TEST_ANVIL_<NAME>_URL=... and MR_TEST_ANVIL_<NAME>_PID=...
#   tests/anvil-harness.sh stop DIR
#
# Exit status 3 (and a message) when anvil is not installed (make deps).
set -eu
cmd=$1; dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
SVC_WHO=anvil-harness
. "$root/deploy/lib/services.sh"

case $cmd in
start)
    name=$3; chain_id=$4; shift 4
    anvil=$(svc_anvil_bin "$root") || exit $?
    mkdir -p "$dir"
    svc_anvil_start "$anvil" "$dir/anvil-$name.log" "" "$chain_id" --silent "$@" || exit $?
    echo "$SVC_ANVIL_PID" >>"$dir/pids"
    echo "MR_TEST_ANVIL_${name}_URL='http://127.0.0.1:$SVC_ANVIL_PORT'"
    echo "MR_TEST_ANVIL_${name}_PID='$SVC_ANVIL_PID'"
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
