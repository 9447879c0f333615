#!/bin/sh
# Runs each cmocka test program, then prints one closing line with the totals
# ("tests: N passed, N failed, N skipped").  Exit status 1 if anything failed.
# Usage: tests/run-tests.sh BUILDDIR PROGRAM...
builddir=$1; shift
log=$(mktemp)
passed=0; failed=0; skipped=0; crashed=""
for t in "$@"; do
    name=$(basename "$t")
    if [ -n "${MR_VALGRIND:-}" ]; then
        valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --trace-children=no "$t" >"$log" 2>&1
    else
        "$t" >"$log" 2>&1
    fi
    rc=$?
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
[ -n "$crashed" ] && echo "crashed:$crashed"
echo "($builddir)"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ -n "${SUMMARY:-}" ] && echo "tests: $passed passed, $failed failed, $skipped skipped" >>"$SUMMARY"
[ "$failed" -eq 0 ]
