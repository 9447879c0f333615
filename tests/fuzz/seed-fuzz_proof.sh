#!/bin/sh
# Seeds fuzz_proof from the recorded Mosaic proofs: one file per storage and
# account proof (flags, key length, key, _rlpParentNodes), the generated
# proofs with raw paths, a few eth_getProof JSON answers, and builder inputs.
# Usage: VECTORS=dir tests/fuzz/seed-fuzz_proof.sh CORPUSDIR
out=$1
dir=${VECTORS:-../shared/vectors}/mosaic/mosaic-contracts-test-data
[ -d "$dir" ] || exit 0
mkdir -p "$out"
python3 - "$dir" "$out" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
n = 0
def put(b):
    global n
    with open(os.path.join(out, "seed-%04d" % n), "wb") as f:
        f.write(b)
    n += 1
def hx(s):
    return bytes.fromhex(s[2:])
def walk(o):
    if isinstance(o, dict):
        if "accountProof" in o:
            yield o
            return
        for v in o.values():
            yield from walk(v)
jsons = 0
for name in sorted(os.listdir(src)):
    if not name.endswith(".json"):
        continue
    d = json.load(open(os.path.join(src, name)))
    if name == "generatedProofData.json":
        for c in d:
            path = hx(c["encodedPath"])
            put(bytes([0, len(path)]) + path + hx(c["rlpParentNodes"]))
        continue
    if name == "proof.json":
        a = d["account"]
        put(bytes([1, 20]) + hx(a["accountAddress"]) + hx(a["rlpParentNodes"]))
        continue
    for pd in walk(d):
        put(bytes([1, 20]) + hx(pd["address"]) + hx(pd["serializedAccountProof"]))
        for sp in pd["storageProof"]:
            put(bytes([1, 32]) + hx(sp["key"]) + hx(sp["serializedProof"]))
        if jsons < 4:
            keep = {k: pd[k] for k in ("address", "accountProof", "balance", "codeHash",
                                       "nonce", "storageHash")}
            keep["storageProof"] = [{k: sp[k] for k in ("key", "value", "proof")}
                                    for sp in pd["storageProof"]]
            put(json.dumps(keep).encode())
            jsons += 1
# builder inputs: (klen, key, vlen, val) records with shared prefixes
for seed in range(4):
    b = bytearray([4])
    for i in range(12):
        k = bytes([0x10 * ((i + seed) % 3), i % 4])[: 1 + i % 2]
        v = bytes([(i * 7 + seed) & 0xff]) * (1 + (i * 5) % 40)
        b += bytes([len(k)]) + k + bytes([len(v)]) + v
    put(bytes(b))
PY
