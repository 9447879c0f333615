#!/bin/sh
# Writes seed inputs for fuzz_abi into CORPUSDIR from the shared vectors:
# ABITests encodings and the Mosaic confirmStakeIntent call data (as decode
# inputs for the matching fixed type list of fuzz_abi.c), and their type and
# function signature strings (as parser inputs).  The first byte of each seed
# is the fuzz_abi mode.  Quiet no-op when the vectors are absent.
# Usage: VECTORS=dir tests/fuzz/seed-fuzz_abi.sh CORPUSDIR
out=$1
vec=${VECTORS:-../shared/vectors}
[ -d "$vec" ] || exit 0
mkdir -p "$out"
exec python3 - "$vec" "$out" <<'PY'
import json, os, sys
vec, out = sys.argv[1], sys.argv[2]
# Must match types[] and the modes in tests/fuzz/fuzz_abi.c.
fixed = {"(uint256,uint32[],bytes10,bytes)": 1,
         "(address,uint256,address,uint256,uint256,uint256,bytes32,uint256,bytes)": 5}
def put(name, mode, payload):
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(bytes([mode]) + payload)
p = os.path.join(vec, "ethereum-tests/ABITests/basic_abi_tests.json")
if os.path.exists(p):
    for name, tc in json.load(open(p)).items():
        tup = "(" + ",".join(tc["types"]) + ")"
        if tup in fixed:
            put("abitests-" + name, fixed[tup], bytes.fromhex(tc["result"]))
        put("type-" + name, 9, tup.encode())
        for i, t in enumerate(tc["types"]):
            put("type-%s-%d" % (name, i), 9, t.encode())
p = os.path.join(vec, "mosaic/mosaic_vectors.json")
if os.path.exists(p):
    ex = json.load(open(p))["example_calldata"]
    data = bytes.fromhex(ex["data"][2:])
    tup = ex["function"][ex["function"].index("("):]
    put("mosaic-calldata", fixed[tup], data[4:])
    put("mosaic-signature", 10, ex["function"].encode())
p = os.path.join(vec, "mosaic/mosaic-contracts-test-data/stake_progressed_0.json")
if os.path.exists(p):
    # A StakeIntentDeclared log (mode 11): 2 topics, then the data words.
    # topic0 from mosaic-protocol.md section 2.6, the fields from the vector.
    ev = json.load(open(p))["gateway"]["stake"]["return_value"]["events"]["StakeIntentDeclared"]
    word = lambda h: bytes.fromhex(h[2:]).rjust(32, b"\0")
    num = lambda h: int(h, 16).to_bytes(32, "big")
    topic0 = bytes.fromhex("1dc8ba34c8d75b6e750df7dadcf65dd6d6a7910483bcea2779971f587bade954")
    put("log-stake-intent-declared", 11, bytes([2]) + topic0 + word(ev["_messageHash"]) +
        word(ev["_staker"]) + num(ev["_stakerNonce"]) + word(ev["_beneficiary"]) +
        num(ev["_amount"]))
# Revert data (mode 12): Solidity docs' revert("Not enough Ether provided.")
# and Panic(0x11).
msg = b"Not enough Ether provided."
put("revert-error", 12, bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") +
    len(msg).to_bytes(32, "big") + msg.ljust(32, b"\0"))
put("revert-panic", 12, bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big"))
# Structured mode (13): one seed per fixed type.
for i in range(9):
    put("structured-%d" % i, 13, bytes([i, 0, 0, 0]) + bytes(range(1, 250)))
PY
