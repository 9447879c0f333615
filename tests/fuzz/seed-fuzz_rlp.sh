#!/bin/sh
# Seeds the RLP fuzzer's corpus with every valid and invalid RLP vector.
dir=$1
v=${VECTORS:-../shared/vectors}/ethereum-tests/RLPTests
[ -d "$v" ] || { echo "seed-fuzz_rlp: $v absent, no seeds"; exit 0; }
python3 - "$v" "$dir" <<'PY'
import json, sys, os
src, dst = sys.argv[1], sys.argv[2]
n = 0
for f in ("rlptest.json", "invalidRLPTest.json"):
    for name, tc in json.load(open(os.path.join(src, f))).items():
        out = tc["out"][2:] if tc["out"].startswith("0x") else tc["out"]
        try:
            b = bytes.fromhex(out)
        except ValueError:
            continue
        open(os.path.join(dst, "vec-" + name), "wb").write(b)
        n += 1
print("seed-fuzz_rlp: %d seeds" % n)
PY
