#!/bin/sh
# Seeds the fuzz_config corpus with the example configs (their key paths
# made relative, so that they load in the fuzzer's directory) and a few
# small files that reach each section.  Usage: seed-fuzz_config.sh CORPUSDIR
out=$1
mkdir -p "$out"
cp config/devnet.yaml "$out/seed-devnet.yaml"
sed 's|/etc/mosaic-relayer/keys/|keys/|' config/production.example.yaml >"$out/seed-production.yaml"
head='database: { url: "host=h" }
chains:
  origin: { role: origin, chain_id: 1, endpoints: ["http://a:1"], finality: { tag: finalized } }
  aux: { role: auxiliary, chain_id: 2, endpoints: [http://b], finality: { confirmations: 1 } }
keys:
  k: { keystore: k.json, password_file: k.pass }
'
printf '%s' "$head" >"$out/seed-min.yaml"
printf '%sgateways:\n  - { name: g, origin: { chain: origin, gateway: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", anchor: "0x00000000000000000000000000000000000000aa" }, auxiliary: { chain: aux, cogateway: "0x00000000000000000000000000000000000000bb", anchor: "0x00000000000000000000000000000000000000cc" } }\n' "$head" >"$out/seed-gw.yaml"
printf '%srelayer: { flows: [stake], workers: 2, anchor: { enabled: no, max_interval: 5m }, min_bounty: "1.5e3", limits: { per_message: "1e18", per_hour: "${X:-7}" }, job_timeout: 250ms }\nmetrics: { listen: "[::1]:9" }\nlog: { level: warn, format: text }\n' "$head" >"$out/seed-relayer.yaml"
printf '%sdeploy: { deployer: k, admin: k, owner: "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", pairs: [{ name: p, origin: origin, auxiliary: aux, value_token: deploy, base_token: "0x00000000000000000000000000000000000000dd", token: { symbol: T, decimals: 6, supply: "1e9" } }] }\n' "$head" >"$out/seed-deploy.yaml"
printf 'database: { url_env: MOSAIC_DATABASE_URL }\nchains: &c\n  origin: *c\n' >"$out/seed-alias.yaml"
