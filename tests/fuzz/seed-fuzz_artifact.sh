#!/bin/sh
# Seeds fuzz_artifact with small artifacts shaped like contracts/build.mjs
# writes them: a library placeholder with its link reference in both codes,
# a tuple-typed ABI with an event, an error and a constructor; and, when
# `make contracts` has run, the real artifacts' ABIs with short code.
# Usage: seed-fuzz_artifact.sh CORPUSDIR
out=$1
mkdir -p "$out"
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
# keccak256("L.sol:L") and keccak256("MerklePatriciaProof.sol:MerklePatriciaProof"),
# first 17 bytes: the placeholders solc writes.
ph = {"L.sol:L": "d01e385b4900e643cf78e7b685a133a8ae",
      "MerklePatriciaProof.sol:MerklePatriciaProof": "5cd92c16f4f37a5d92285232f4cb2dd489"}
def place(fq):
    return "__$" + ph[fq] + "$__"
abi = [
    {"type": "constructor", "stateMutability": "nonpayable",
     "inputs": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "address"}]},
    {"type": "function", "name": "f", "stateMutability": "view",
     "inputs": [{"name": "x", "type": "tuple[2]",
                 "components": [{"name": "p", "type": "bytes32"},
                                {"name": "q", "type": "tuple",
                                 "components": [{"name": "r", "type": "uint8[]"}]}]}],
     "outputs": [{"name": "", "type": "bool"}]},
    {"type": "function", "name": "f", "stateMutability": "payable",
     "inputs": [{"name": "", "type": "bytes"}], "outputs": []},
    {"type": "event", "name": "E", "anonymous": False,
     "inputs": [{"name": "h", "type": "bytes32", "indexed": True},
                {"name": "v", "type": "uint256", "indexed": False}]},
    {"type": "error", "name": "Bad", "inputs": [{"name": "c", "type": "string"}]},
    {"type": "fallback", "stateMutability": "payable"},
    {"type": "receive", "stateMutability": "payable"},
]
def art(name, abi, code, refs, rcode, rrefs):
    d = {"contractName": name, "abi": abi, "bytecode": code, "deployedBytecode": rcode,
         "linkReferences": refs}
    if rrefs is not None:
        d["deployedLinkReferences"] = rrefs
    return json.dumps(d).encode()
n = 0
def put(b):
    global n
    with open(os.path.join(out, "seed-%02d" % n), "wb") as f:
        f.write(b)
    n += 1
code = "0x6080" + place("L.sol:L") + "6000" + place("L.sol:L") + "00"
rcode = "0x73" + place("MerklePatriciaProof.sol:MerklePatriciaProof") + "3014"
put(art("C", abi, code, {"L.sol": {"L": [{"start": 2, "length": 20}, {"start": 24, "length": 20}]}},
        rcode, {"MerklePatriciaProof.sol": {"MerklePatriciaProof": [{"start": 1, "length": 20}]}}))
put(art("Plain", abi[1:], "0x6080604052", {}, "0x6080", None))
put(art("Lib", [], "0x60806040", {}, "0x" + "00" * 24 + "73", {}))
put(art("Iface", abi[3:5], "0x", {}, "0x", None))
put(art("Ctor0", [{"type": "constructor", "inputs": []}], "0x01", {}, "0x02", None))
# The real artifacts: their ABIs (with short code), when built.
d = "build/contracts"
if os.path.isdir(d):
    for f in sorted(os.listdir(d)):
        if f.endswith(".json"):
            a = json.load(open(os.path.join(d, f)))
            put(art(a["contractName"], a["abi"], "0x6080", {}, "0x6080", None))
PY
