#!/bin/sh
# Seeds the fuzz_keystore corpus: every document of the official
# KeyStoreTests vectors, plus variants with tiny KDF parameters (so that the
# fuzzer reaches decryption), "Crypto" instead of "crypto", 0x prefixes and
# an address field.  Usage: seed-fuzz_keystore.sh CORPUSDIR (env VECTORS).
out=$1
src=${VECTORS:-../shared/vectors}/ethereum-tests/KeyStoreTests/basic_tests.json
[ -f "$src" ] || exit 0
command -v python3 >/dev/null 2>&1 || exit 0
mkdir -p "$out"
python3 - "$src" "$out" <<'PY'
import copy, json, sys
src, out = sys.argv[1], sys.argv[2]
with open(src) as f:
    vectors = json.load(f)
def emit(name, doc):
    with open(f"{out}/seed-{name}.json", "w") as f:
        json.dump(doc, f)
for name, tc in vectors.items():
    doc = tc["json"]
    emit(name, doc)
    light = copy.deepcopy(doc)
    kp = light["crypto"]["kdfparams"]
    if light["crypto"]["kdf"] == "scrypt":
        kp.update(n=16, r=1, p=1)
    else:
        kp.update(c=2)
    emit(name + "-light", light)
    alt = copy.deepcopy(light)
    alt["Crypto"] = alt.pop("crypto")
    alt["Crypto"]["mac"] = "0x" + alt["Crypto"]["mac"].upper()
    alt["address"] = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    emit(name + "-variant", alt)
PY
