#!/bin/sh
# Writes seed inputs for fuzz_events into CORPUSDIR: for every entry of the
# event table (byte 0) a log with the right number of topics and eight data
# words of plausible values, plus the same with a messages() return value
# appended (byte 1 bit 7).  The layout is the one fuzz_events.c reads.
# Usage: tests/fuzz/seed-fuzz_events.sh CORPUSDIR
out=$1
mkdir -p "$out"
exec python3 - "$out" <<'PY'
import os, sys
out = sys.argv[1]
def word(v): return v.to_bytes(32, "big")
addr = bytes(12) + bytes([0xaa]) * 20
for kind in range(21):
    for ntopics in (1, 2):
        for nwords in range(2, 9):
            data = b"".join([addr, word(7), addr, word(10**21), word(1), word(1), bytes([0xbb]) * 32,
                             word(3)][:nwords])
            topics = bytes([0x11]) * 32 if ntopics == 2 else b""
            name = "seed-%d-%d-%d" % (kind, ntopics, nwords)
            with open(os.path.join(out, name), "wb") as f:
                f.write(bytes([kind, ntopics]) + topics + data)
            ret = bytes([0x22]) * 32 + word(7) + word(1) + word(1000) + addr + bytes([0x33]) * 32 + word(0)
            with open(os.path.join(out, name + "-ret"), "wb") as f:
                f.write(bytes([kind, ntopics | 0x80]) + topics + data + ret)
PY
