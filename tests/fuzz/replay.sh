#!/usr/bin/env bash
# Replay every fuzz target's committed corpus under ASan+UBSan (gcc, no
# libFuzzer needed). A target is tests/fuzz/fuzz_NAME.c with its corpus in
# tests/fuzz/corpus/NAME/. To fuzz for real (clang):
#   clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc ... tests/fuzz/fuzz_NAME.c build/asan/liballot.a
# (the built-in classifier model comes in build/asan/obj/kinds_blob.o)
set -uo pipefail
cd "$(dirname "$0")/../.."
CFLAGS="-std=c17 -D_GNU_SOURCE -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Iinclude -Isrc -I/usr/share/include/llhttp -include src/util/banned.h $(pkg-config --cflags libuv libcurl sqlite3 libpq yaml-0.1 libcjson libpcre2-8 libcrypto)"
LIBS="build/asan/obj/kinds_blob.o build/asan/liballot.a $(pkg-config --libs libuv libcurl sqlite3 libpq yaml-0.1 libcjson libpcre2-8 libcrypto) -lcsv -lpthread -lm"
mkdir -p build/asan/fuzz
status=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c); name=${name#fuzz_}
  corpus=tests/fuzz/corpus/$name
  if ! cc $CFLAGS "$src" tests/fuzz/replay.c $LIBS -o "build/asan/fuzz/$name"; then
    echo "fuzz $name: build failed"; status=1; continue
  fi
  if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    echo "fuzz $name: no corpus in $corpus"; status=1; continue
  fi
  if "build/asan/fuzz/$name" "$corpus"/*; then echo "fuzz $name: ok"; else echo "fuzz $name: FAILED"; status=1; fi
done
exit $status
