#!/bin/sh
# Seeds the fuzz_tx corpus with every txbytes of ethereum/tests
# TransactionTests.  Usage: seed-fuzz_tx.sh CORPUSDIR (env VECTORS).
dir=${VECTORS:-../shared/vectors}/ethereum-tests/TransactionTests
[ -d "$dir" ] || exit 0
command -v python3 >/dev/null 2>&1 || exit 0
python3 - "$dir" "$1" <<'PY'
import hashlib, json, os, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".json"):
            continue
        with open(os.path.join(root, f)) as fh:
            doc = json.load(fh)
        for test in doc.values():
            raw = bytes.fromhex(test["txbytes"][2:])
            name = hashlib.sha1(raw).hexdigest()
            with open(os.path.join(out, "tt-" + name), "wb") as fh:
                fh.write(raw)
PY
