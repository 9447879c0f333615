# services.sh - throwaway PostgreSQL clusters and anvil chains on loopback
# ports: the pieces shared by tests/pg-harness.sh, tests/anvil-harness.sh and
# deploy/devnet.  POSIX sh; source it, after setting SVC_WHO (the prefix of
# error messages).  Functions print one-line errors on stderr and return
# non-zero: 3 means "not installed" (the caller says "run make deps").
#
# PostgreSQL runs as the unprivileged `postgres` user when the caller is root
# (the server refuses to run as root); its directory is then owned by that
# user.  Everything listens on 127.0.0.1 only.

SVC_WHO=${SVC_WHO:-services}

# A random port in [base, base + 20000).
svc_random_port() {
    echo $(( ( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000 ) + $1 ))
}

# True if process $1 is alive and its command line contains $2 (so that a
# recycled pid is never taken for ours).
svc_pid_is() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/cmdline" ] || return 0
    tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

# ---- PostgreSQL ----

# Prints the newest PostgreSQL server bin directory.
svc_pg_bindir() {
    _svc_b=""
    for _svc_d in /usr/lib/postgresql/*/bin; do
        [ -x "$_svc_d/pg_ctl" ] && _svc_b=$_svc_d
    done
    if [ -z "$_svc_b" ]; then
        echo "$SVC_WHO: no PostgreSQL server found (install the postgresql package: make deps)" >&2
        return 3
    fi
    echo "$_svc_b"
}

# The command prefix that runs a server program as the unprivileged user.
svc_pg_as_user() {
    if [ "$(id -u)" -eq 0 ]; then echo "runuser -u postgres --"; fi
}

# svc_pg_init PGDIR SUPERUSER: a new cluster in PGDIR/data (PGDIR is created,
# private to the server's user; the initdb log is PGDIR/initdb.log).
svc_pg_init() {
    _svc_bin=$(svc_pg_bindir) || return $?
    _svc_as=$(svc_pg_as_user)
    mkdir -p "$1" || return 1
    if [ -n "$_svc_as" ]; then
        chown postgres "$1" || return 1
        if ! $_svc_as test -w "$1" 2>/dev/null; then
            echo "$SVC_WHO: $1 is not reachable by the postgres user (a parent directory is not" \
                "searchable by others); choose a directory such as /tmp/NAME" >&2
            return 1
        fi
    fi
    chmod 700 "$1"
    $_svc_as "$_svc_bin/initdb" -D "$1/data" -U "$2" -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
        >"$1/initdb.log" 2>&1 || { cat "$1/initdb.log" >&2; return 1; }
}

# svc_pg_start PGDIR PORT_HINT [server options...]: starts the cluster in
# PGDIR/data on the hinted port if it is free, else on a random one; socket
# in PGDIR, log PGDIR/server.log.  Sets SVC_PG_PORT, SVC_PG_PID and
# SVC_PG_OPTS (the -o argument of pg_ctl, for restarts).
svc_pg_start() {
    _svc_dir=$1; _svc_port=$2; shift 2
    _svc_bin=$(svc_pg_bindir) || return $?
    _svc_as=$(svc_pg_as_user)
    _svc_tries=0
    while :; do
        [ -n "$_svc_port" ] || _svc_port=$(svc_random_port 35000)
        SVC_PG_OPTS="-p $_svc_port -k $_svc_dir -c listen_addresses=127.0.0.1 $*"
        if $_svc_as "$_svc_bin/pg_ctl" -D "$_svc_dir/data" -l "$_svc_dir/server.log" -w -t 30 \
            -o "$SVC_PG_OPTS" start >/dev/null 2>&1; then
            SVC_PG_PORT=$_svc_port
            SVC_PG_PID=$(head -1 "$_svc_dir/data/postmaster.pid")
            return 0
        fi
        _svc_port=""
        _svc_tries=$((_svc_tries + 1))
        if [ $_svc_tries -ge 5 ]; then
            echo "$SVC_WHO: could not start PostgreSQL:" >&2
            tail -20 "$_svc_dir/server.log" >&2
            return 1
        fi
    done
}

# svc_pg_stop PGDIR: fast shutdown, waiting for it.
svc_pg_stop() {
    _svc_bin=$(svc_pg_bindir) || return 0
    [ -d "$1/data" ] || return 0
    $(svc_pg_as_user) "$_svc_bin/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

# ---- anvil ----

# Prints the anvil program pinned in deploy/package-lock.json under ROOT:
# the native binary of the platform package when present (so that the pid
# is anvil's own), else the npm wrapper.
svc_anvil_bin() {
    for _svc_a in "$1"/deploy/node_modules/@foundry-rs/anvil-*/bin/anvil \
                  "$1/deploy/node_modules/.bin/anvil"; do
        if [ -x "$_svc_a" ]; then echo "$_svc_a"; return 0; fi
    done
    echo "$SVC_WHO: anvil not found in $1/deploy/node_modules (run: make deps)" >&2
    return 3
}

# svc_rpc URL METHOD PARAMS_JSON: prints the node's answer (one JSON line).
svc_rpc() {
    curl -s -m 5 -H 'Content-Type: application/json' \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1"
}

# svc_anvil_start ANVIL LOG PORT_HINT CHAIN_ID [anvil args...]: starts a chain
# on 127.0.0.1 (the hinted port if free, else a random one) with
# `--slots-in-an-epoch 1` (finalized = head - 2) and waits until it answers
# eth_chainId with CHAIN_ID.  Sets SVC_ANVIL_PORT and SVC_ANVIL_PID.
svc_anvil_start() {
    _svc_anvil=$1; _svc_log=$2; _svc_port=$3; _svc_cid=$4; shift 4
    _svc_hex=$(printf '0x%x' "$_svc_cid")
    _svc_tries=0
    while :; do
        [ -n "$_svc_port" ] || _svc_port=$(svc_random_port 20000)
        "$_svc_anvil" --host 127.0.0.1 --port "$_svc_port" --chain-id "$_svc_cid" \
            --slots-in-an-epoch 1 "$@" </dev/null >"$_svc_log" 2>&1 &
        SVC_ANVIL_PID=$!
        _svc_i=0
        while [ $_svc_i -lt 100 ]; do
            kill -0 "$SVC_ANVIL_PID" 2>/dev/null || break
            # Our chain id from our (still living) process: not some other
            # server that already held the port.
            if svc_rpc "http://127.0.0.1:$_svc_port" eth_chainId '[]' 2>/dev/null |
                grep -q "\"result\":\"$_svc_hex\"" && kill -0 "$SVC_ANVIL_PID" 2>/dev/null; then
                SVC_ANVIL_PORT=$_svc_port
                return 0
            fi
            sleep 0.1
            _svc_i=$((_svc_i + 1))
        done
        kill "$SVC_ANVIL_PID" 2>/dev/null || true
        wait "$SVC_ANVIL_PID" 2>/dev/null || true
        _svc_port=""
        _svc_tries=$((_svc_tries + 1))
        if [ $_svc_tries -ge 5 ]; then
            echo "$SVC_WHO: anvil did not start:" >&2
            tail -5 "$_svc_log" >&2
            return 1
        fi
    done
}
