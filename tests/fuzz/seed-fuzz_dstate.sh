#!/bin/sh
# Seeds fuzz_dstate (see fuzz_dstate.c): byte 0 even, a deploy state file
# as `mosaic-relayer deploy` writes it; byte 0 odd, a deploy configuration
# (the devnet's, with its key paths made relative, and a small one).
# Usage: seed-fuzz_dstate.sh CORPUSDIR
out=$1
mkdir -p "$out"
A=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed
H=0x1111111111111111111111111111111111111111111111111111111111111111
{ printf 's'; cat <<JSON; } >"$out/seed-state"
{
  "format": "mosaic-relayer deploy state",
  "version": 1,
  "deployment": "0123456789abcdef",
  "steps": [
    {"name": "origin.organization", "chain": "origin", "chain_id": 1000,
     "contract": "Organization", "address": "$A", "tx": "$H", "block": 12, "gas_used": 523411},
    {"name": "origin.anchor.aux", "chain": "origin", "chain_id": 1000, "contract": "Anchor",
     "address": "$A", "tx": "$H", "block": 13, "gas_used": 1, "seed_height": 7, "seed_root": "$H"},
    {"name": "aux.setup", "chain": "aux", "chain_id": 1405, "address": "$A"}
  ]
}
JSON
printf 's{"format": "mosaic-relayer deploy state", "version": 1, "deployment": "ffffffffffffffff", "steps": []}' >"$out/seed-state-empty"
{ printf 'c'; sed 's|/etc/mosaic-relayer/keys/|keys/|' config/devnet.yaml; } >"$out/seed-devnet"
cat >"$out/seed-deploy" <<'YAML'
c# a deploy config
database: { url: "host=h" }
chains:
  origin: { role: origin, chain_id: 1, endpoints: ["http://a:1"], finality: { tag: finalized } }
  aux:
    role: auxiliary
    chain_id: 2
    endpoints: [http://b]
keys:
  k: { keystore: k.json, password_file: k.pass }

deploy:
  deployer: k
  state_file: state.json
  output: run.yaml
  pairs:
    - name: p
      origin: origin
      auxiliary: aux
      value_token: deploy
      base_token: "0x00000000000000000000000000000000000000dd"
      token: { symbol: T, decimals: 6, supply: "1e9" }
gateways: []
# trailing comment
YAML
# A flow mapping of the deploy section that goes on at column 0, and a
# quoted top-level key (what a line filter got wrong).
cat >"$out/seed-col0" <<'YAML'
cdatabase: { url: "host=h" }
chains:
  origin: { role: origin, chain_id: 1, endpoints: ["http://a:1"], finality: { tag: finalized } }
  aux: { role: auxiliary, chain_id: 2, endpoints: [http://b] }
keys:
  k: { keystore: k.json, password_file: k.pass }
deploy:
  deployer: k
  pairs:
    - { name: p, origin: origin
, auxiliary: aux, value_token: deploy, base_token: deploy, token: { symbol: T } }
"gateways": []
log: { level: info }
YAML
