#!/bin/sh
# Seeds fuzz_ws (see fuzz_ws.c): a node's side of one newHeads
# subscription, messages separated by 0xff bytes: the eth_subscribe answer,
# then notifications as anvil and geth send them; a refusal; a notification
# for another subscription.  Usage: seed-fuzz_ws.sh CORPUSDIR
out=$1
mkdir -p "$out"
H=0x1111111111111111111111111111111111111111111111111111111111111111
S=0xcd0c3e8af590364c09d0fa6a1210faf5
OK="{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"$S\"}"
head() {
    printf '{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"%s","result":{"number":"%s","hash":"%s","parentHash":"%s","stateRoot":"%s","timestamp":"0x65","baseFeePerGas":"0x3b9aca00","miner":"0x0000000000000000000000000000000000000000","logsBloom":"0x00"}}}' "$1" "$2" "$H" "$H" "$H"
}
{ printf '%s\377' "$OK"; head "$S" 0x5; printf '\377'; head "$S" 0x6; } >"$out/seed-heads"
{ printf '%s\377' "$OK"; head 0x01 0x5; printf '\377'; printf '{"jsonrpc":"2.0","id":2,"result":true}'; } >"$out/seed-other"
printf '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"the method eth_subscribe does not exist/is not available"}}' >"$out/seed-refused"
{ head "$S" 0x5; printf '\377%s' "$OK"; } >"$out/seed-early"
