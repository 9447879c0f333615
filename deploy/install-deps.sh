#!/bin/sh
# Installs what mosaic-relayer needs to build and test on Debian 12:
# the Debian packages below and the npm tools pinned in deploy/package-lock.json
# (anvil, solc-js).  Idempotent: installs only what is missing.  Run as root
# (or with sudo available).  Nothing is downloaded from anywhere but Debian's
# and npm's registries.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

PKGS="gcc make pkg-config curl clang libclang-rt-14-dev valgrind \
libsecp256k1-dev libssl-dev libjansson-dev libcurl4-openssl-dev libwebsockets-dev \
libpq-dev libyaml-dev libcmocka-dev postgresql nodejs npm"

missing=""
for p in $PKGS; do
    # npm and nodejs may come from elsewhere (e.g. a preinstalled Node.js).
    case $p in
        nodejs) command -v node >/dev/null 2>&1 && continue ;;
        npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $status in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
            echo "install-deps: not root and no sudo; install these Debian packages:$missing" >&2
            exit 1
        fi
    fi
    echo "install-deps: installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
else
    echo "install-deps: Debian packages present"
fi

# npm tools, exactly as pinned in the lockfile.  `npm ci` is skipped when the
# installed tree already matches the lockfile.
stamp="$here/node_modules/.lock-stamp"
if [ ! -f "$stamp" ] || ! cmp -s "$here/package-lock.json" "$stamp"; then
    echo "install-deps: npm ci in deploy/ (anvil, solc)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$stamp"
else
    echo "install-deps: npm tools present"
fi
"$here/node_modules/.bin/anvil" --version | head -1
echo "install-deps: done"
