#!/bin/sh
# Runs each libFuzzer target for SECONDS, seeded from its corpus directory
# (build/fuzz/corpus/NAME, created from the shared vectors by the target's
# seeder when it has one).  Exit status 1 on any crash, leak or sanitizer
# report.  Usage: tests/fuzz/run-fuzz.sh SECONDS TARGET...
secs=$1; shift
status=0
for t in "$@"; do
    name=$(basename "$t")
    corpus=build/fuzz/corpus/$name
    mkdir -p "$corpus" build/fuzz/artifacts
    if [ -x "tests/fuzz/seed-$name.sh" ] || [ -f "tests/fuzz/seed-$name.sh" ]; then
        VECTORS=${VECTORS:-../shared/vectors} sh "tests/fuzz/seed-$name.sh" "$corpus"
    fi
    echo "== $name: ${secs}s, corpus $(ls "$corpus" | wc -l) files"
    if ! "$t" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
            -artifact_prefix=build/fuzz/artifacts/"$name"- "$corpus" 2>build/fuzz/"$name".log; then
        tail -40 build/fuzz/"$name".log
        echo "!! $name failed (see build/fuzz/$name.log)"
        status=1
    else
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build/fuzz/"$name".log | tr '\n' ' '
        echo
    fi
done
exit $status
