#!/bin/sh
# Seeds fuzz_dbrow (see fuzz_dbrow.c): byte 0 selects the decoder, the rest
# is a column's text as PostgreSQL sends it.  Usage: seed-fuzz_dbrow.sh DIR
out=$1
mkdir -p "$out"
H=1111111111111111111111111111111111111111111111111111111111111111
A=5aaeb6053f3e94c9b9a09f33669435e7ef1beaed
seed() { printf '%b%s' "$1" "$2" >"$out/seed-$3"; }
seed '\000' "\\x$H" 0a
seed '\000' '\x02f8700182' 0b
seed '\000' '\x' 0c
seed '\001' "$H$H" 1a
seed '\001' '' 1b
seed '\002' "\\x$A" 2a
seed '\002' "\\x$H" 2b
seed '\003' "$H" 3a
seed '\004' "{\"message_hash\":\"0x$H\",\"waits\":3}" 4a
seed '\004' "{\"message_hash\":\"0x$H\"}" 4b
seed '\005' '{"chain":"origin","remote":"aux"}' 5a
