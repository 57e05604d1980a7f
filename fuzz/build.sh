#!/bin/sh
# Build and run the descriptor fuzzer (libFuzzer + ASan + UBSan; needs clang).
# Not part of the test suites. Usage: fuzz/build.sh [SECONDS] [extra libFuzzer args]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$root/build-fuzz}
secs=${1:-120}
[ $# -gt 0 ] && shift
mkdir -p "$out/corpus"
clang -g -O1 -std=c11 -I"$root/include" \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	"$root/fuzz/fuzz_desc.c" "$root/core/desc.c" "$root/core/json.c" \
	"$root/core/util.c" "$root/core/errors.c" -o "$out/fuzz_desc"
"$out/fuzz_desc" -max_total_time="$secs" -max_len=4096 \
	-artifact_prefix="$out/" "$@" "$out/corpus" "$root/fuzz/seeds"
