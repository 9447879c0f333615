#!/usr/bin/env bash
# deploy/demo.sh - the relayer at work in one command (`make demo`), and
# everything it started stopped and removed again (`make demo-down`).
#
#   deploy/demo.sh up     install what is missing, build, compile the contracts,
#                         start the devnet (origin + 2 auxiliary anvil chains +
#                         PostgreSQL), deploy, start `mosaic-relayer run`, stake
#                         from a funded test account to both auxiliary chains,
#                         redeem part back from the first, print every balance
#   deploy/demo.sh down   stop the relayer and the devnet, remove .devnet/
#
# The demo user is a fresh key (.devnet/keys/user.json) funded with the chains'
# coin; it deploys the demo's contracts (.devnet/demo-deploy.yaml, derived from
# the devnet's deploy.yaml with `deployer: user`), so it holds the value and
# base tokens' whole supply.  The relayer's own keys (facilitator, anchor) only
# relay; the user's transactions never touch their nonces.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=$root/.devnet
bin=$root/build/mosaic-relayer
MAKE=${MAKE:-make}
AMOUNT=1000000000000000000000      # 1000 tokens of 18 decimals, per stake
REDEEM=400000000000000000000       # 400 back from the first auxiliary chain
TIMEOUT=${DEMO_TIMEOUT:-5m}        # per stake or redeem
FUND_WEI_HEX=0x21e19e0c9bab2400000 # 10 000 coins on every chain for the user

t0=$(date +%s)
n_step=0
say() { n_step=$((n_step + 1)); printf '\n==> [%d] %s\n' "$n_step" "$*"; }
fail() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }

# quiet LOG WHAT CMD...: runs CMD with its output in LOG; on failure shows the
# end of LOG and names it.
quiet() {
    local log=$1 what=$2
    shift 2
    if ! "$@" >"$log" 2>&1; then
        tail -n 15 "$log" >&2
        fail "$what failed (full output: $log)"
    fi
}

rpc() {
    curl -s -m 10 -H 'Content-Type: application/json' \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1"
}

relayer_pid() {
    local pid
    pid=$(cat "$dir/run/relayer.pid" 2>/dev/null || true)
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "mosaic-relayer run" && echo "$pid"
    return 0
}

stop_relayer() {
    local pid i
    pid=$(relayer_pid)
    [ -n "$pid" ] || return 0
    echo "demo: stopping the relayer (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "demo: the relayer did not stop in 15 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/run/relayer.pid"
}

cmd_down() {
    stop_relayer
    if [ -f "$dir/devnet.conf" ]; then
        deploy/devnet down --purge
    else
        rm -rf "$dir"
        echo "demo: nothing running"
    fi
}

# The demo's deploy config: the devnet's, deployed by the user key.
write_demo_config() {
    local src=$dir/deploy.yaml out=$dir/demo-deploy.yaml
    if ! grep -q '^  deployer: facilitator$' "$src" || ! grep -q '^keys:$' "$src"; then
        fail "$src does not have the layout this script expects (keys:, deployer: facilitator)"
    fi
    sed -e 's|^  deployer: facilitator$|  deployer: user|' \
        -e "s|^keys:\$|keys:\\n  user: { keystore: \"$dir/keys/user.json\", password_file: \"$dir/keys/user.pass\" }|" \
        -e 's|/deploy-state\.json"|/demo-deploy-state.json"|' \
        -e 's|/relayer\.yaml"|/demo-relayer.yaml"|' "$src" >"$out.tmp"
    if ! grep -q 'deployer: user' "$out.tmp" || ! grep -q 'demo-relayer.yaml' "$out.tmp"; then
        fail "could not derive $out from $src"
    fi
    mv "$out.tmp" "$out"
}

make_user() {
    if [ ! -f "$dir/keys/user.json" ]; then
        (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$dir/keys/user.pass")
        quiet "$dir/demo/keys.log" "creating the user's keystore" \
            "$bin" keys new --out "$dir/keys/user.json" --password-file "$dir/keys/user.pass" --light
    fi
    user=$("$bin" keys address "$dir/keys/user.json" | tr -d ' \n')
    local var url
    while read -r var; do
        url=${!var}
        rpc "$url" anvil_setBalance "[\"$user\",\"$FUND_WEI_HEX\"]" | grep -q '"result"' ||
            fail "could not fund the user $user on $url"
    done < <(sed -n 's/^\(MOSAIC_DEVNET_[A-Z0-9]*_URL\)=.*/\1/p' "$dir/devnet.env")
    echo "demo: user $user (keystore $dir/keys/user.json), funded on every chain"
}

start_relayer() {
    local pid
    pid=$(relayer_pid)
    if [ -n "$pid" ]; then
        echo "demo: the relayer is already running (pid $pid, log $dir/relayer.log)"
        return 0
    fi
    nohup "$bin" run --config "$cfg" >>"$dir/relayer.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/run/relayer.pid"
    sleep 2
    if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 15 "$dir/relayer.log" >&2
        fail "the relayer exited at start (log: $dir/relayer.log)"
    fi
    echo "demo: relayer running (pid $pid), log $dir/relayer.log"
}

user_cmd() {
    local what=$1
    shift
    "$bin" "$what" --config "$cfg" --beneficiary "$user" --key "$dir/keys/user.json" \
        --password-file "$dir/keys/user.pass" --timeout "$TIMEOUT" "$@" ||
        fail "the $what ($*) did not complete; relayer log: $dir/relayer.log; \
messages: $bin message list --config $cfg"
}

cmd_up() {
    local aux n
    mkdir -p "$dir/demo"
    say "dependencies (make deps installs only what is missing)"
    quiet "$dir/demo/deps.log" "make deps" "$MAKE" --no-print-directory deps
    tail -n 3 "$dir/demo/deps.log"
    say "build"
    quiet "$dir/demo/build.log" "the build (make)" "$MAKE" --no-print-directory
    echo "demo: built $bin"
    say "contracts"
    quiet "$dir/demo/contracts.log" "make contracts" "$MAKE" --no-print-directory contracts
    echo "demo: compiled into build/contracts/"
    say "devnet: origin and two auxiliary chains, PostgreSQL"
    deploy/devnet up || fail "deploy/devnet up (logs: deploy/devnet logs)"
    # shellcheck source=/dev/null
    . "$dir/devnet.env"
    make_user
    write_demo_config
    say "deploy the contracts (deployer: the user)"
    "$bin" deploy --config "$dir/demo-deploy.yaml" 2>&1 | tee "$dir/demo/deploy.log" ||
        fail "the deployment (log: $dir/demo/deploy.log)"
    cfg=$dir/demo-relayer.yaml
    [ -f "$cfg" ] || fail "the deployment wrote no run config $cfg"
    say "start the relayer"
    start_relayer
    aux=$(sed -n 's/^MOSAIC_DEVNET_\(AUX[0-9]*\)_URL=.*/\1/p' "$dir/devnet.env" | tr '[:upper:]' '[:lower:]')
    for n in $aux; do
        say "stake 1000 tokens from origin to $n"
        user_cmd stake --pair "origin-$n" --amount "$AMOUNT"
    done
    n=$(echo "$aux" | head -n 1)
    say "redeem 400 tokens from $n back to origin"
    user_cmd redeem --pair "origin-$n" --amount "$REDEEM"
    say "balances of the user $user"
    "$bin" balance --config "$cfg" --address "$user" || fail "reading the balances"
    printf '\ndemo: done in %d s. The relayer and the chains keep running:\n' $(($(date +%s) - t0))
    echo "  $bin message list --config $cfg"
    echo "  tail -f $dir/relayer.log"
    echo "  make demo-down     stops and removes everything"
}

case ${1:-up} in
up) cmd_up ;;
down) cmd_down ;;
--help|-h) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
*) echo "usage: deploy/demo.sh up|down" >&2; exit 2 ;;
esac
