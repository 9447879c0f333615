#!/bin/sh
# Runs each cmocka test program, then prints one closing line with the totals
# ("tests: N passed, N failed, N skipped").  Exit status 1 if anything failed.
# Usage: tests/run-tests.sh BUILDDIR PROGRAM...
# MR_VALGRIND=1: each program under valgrind's memcheck (`make valgrind`);
# MR_VALGRIND=bin as well: the mosaic-relayer processes the tests start
# (MR_BIN) run under memcheck too, and a report of theirs fails the program.
builddir=$1; shift
log=$(mktemp)
vgopts="-q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
 --errors-for-leak-kinds=definite,indirect --suppressions=$(pwd)/tests/valgrind.supp --num-callers=30"
vgbin=""
if [ "${MR_VALGRIND:-}" = bin ] && [ -n "${MR_BIN:-}" ]; then
    vgbin=$(mktemp -d /tmp/mrvgbin.XXXXXX)
    printf '#!/bin/sh\nexec valgrind %s --log-file=%s/bin.%%p.log %s "$@"\n' \
        "$(echo $vgopts)" "$vgbin" "$MR_BIN" >"$vgbin/mosaic-relayer"
    chmod +x "$vgbin/mosaic-relayer"
    MR_BIN=$vgbin/mosaic-relayer
    export MR_BIN
fi

# One throwaway PostgreSQL for the whole run (tests that need none ignore it;
# tests that need one skip with the harness's reason when it cannot start).
pgdir=$(mktemp -d /tmp/mrpg.XXXXXX)
if pgenv=$(sh tests/pg-harness.sh start "$pgdir" 2>"$pgdir.err"); then
    eval "$pgenv"
    export MR_TEST_PG MR_TEST_PGDATA MR_TEST_PGCTL MR_TEST_PGPORT
    trap 'sh tests/pg-harness.sh stop "$pgdir"' EXIT INT TERM
else
    MR_TEST_PG_SKIP="$(cat "$pgdir.err")"
    export MR_TEST_PG_SKIP
    echo "note: no test database: $MR_TEST_PG_SKIP"
fi
rm -f "$pgdir.err"

# Two real EVM chains (anvil), an origin and an auxiliary one.
anvildir=$(mktemp -d /tmp/mranvil.XXXXXX)
if a1=$(sh tests/anvil-harness.sh start "$anvildir" ORIGIN 31337 2>"$anvildir.err") &&
   a2=$(sh tests/anvil-harness.sh start "$anvildir" AUX 1405 2>>"$anvildir.err"); then
    eval "$a1"; eval "$a2"
    export MR_TEST_ANVIL_ORIGIN_URL MR_TEST_ANVIL_ORIGIN_PID MR_TEST_ANVIL_AUX_URL MR_TEST_ANVIL_AUX_PID
else
    MR_TEST_ANVIL_SKIP="$(cat "$anvildir.err")"
    export MR_TEST_ANVIL_SKIP
    echo "note: no test chains: $MR_TEST_ANVIL_SKIP"
fi
rm -f "$anvildir.err"
trap 'sh tests/anvil-harness.sh stop "$anvildir"; [ -n "${MR_TEST_PG:-}" ] && sh tests/pg-harness.sh stop "$pgdir"' EXIT INT TERM
passed=0; failed=0; skipped=0; crashed=""
for t in "$@"; do
    name=$(basename "$t")
    # Its own session: whatever it starts (a daemon, a proxy) and leaves
    # behind, e.g. because a failing test jumped past its cleanup, is killed
    # with it rather than disturbing the programs after it.
    if [ -n "${MR_VALGRIND:-}" ]; then
        # memcheck: any error, and any definitely or indirectly lost block,
        # makes the program fail (status 99).  Children are not traced
        # (MR_VALGRIND=bin wraps MR_BIN, above).  tests/valgrind.supp
        # lists the libraries' own global state, each entry with its reason.
        # shellcheck disable=SC2086
        setsid valgrind $vgopts --trace-children=no "$t" >"$log" 2>&1 &
    else
        setsid "$t" >"$log" 2>&1 &
    fi
    pid=$!
    wait "$pid"
    rc=$?
    if kill -0 -- "-$pid" 2>/dev/null; then
        echo "note: $name left processes behind; killing them"
        kill -KILL -- "-$pid" 2>/dev/null
    fi
    if [ -n "$vgbin" ]; then
        for l in "$vgbin"/bin.*.log; do
            [ -s "$l" ] && { echo "== valgrind, $MR_BIN (${l##*/}):"; cat "$l"; rc=99; }
            rm -f "$l"
        done
    fi
    cat "$log"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        crashed="$crashed $name"
        failed=$((failed + 1))
        echo "!! $name exited with status $rc without a cmocka failure (crash or sanitizer report)"
    fi
done
rm -f "$log"
[ -n "$vgbin" ] && rm -rf "$vgbin"
[ -n "$crashed" ] && echo "crashed:$crashed"
echo "($builddir)"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ -n "${SUMMARY:-}" ] && echo "tests: $passed passed, $failed failed, $skipped skipped" >>"$SUMMARY"
[ "$failed" -eq 0 ]
