#!/usr/bin/env bash
# Fuzz every target for real with libFuzzer (clang): `make fuzz`, or
#   FUZZ_SECONDS=300 bash tests/fuzz/run.sh [NAME...]
# Each target tests/fuzz/fuzz_NAME.c runs over a scratch copy of its corpus
# (tests/fuzz/corpus/NAME/) with its dictionary (tests/fuzz/NAME.dict) when
# there is one. New inputs stay in build/fuzz/NAME/corpus; copy the ones
# worth keeping into the committed corpus. Crashes land in build/fuzz/NAME/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
PKGS="libuv libcurl sqlite3 libpq yaml-0.1 libcjson libpcre2-8 libcrypto"
CFLAGS="-std=c17 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude -Isrc -I/usr/share/include/llhttp -include src/util/banned.h $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lcsv -lpthread -lm"
LIB_SRC=$(ls src/util/*.c src/config/*.c src/http/*.c src/upstream/*.c src/route/*.c src/ledger/*.c src/gateway/anthropic_*.c src/gateway/responses_*.c src/gateway/tools_memo.c src/gateway/chat_answer.c)
make --no-print-directory build/kinds.model  # the built-in classifier model, linked in below
LIB_SRC="$LIB_SRC src/model/kinds_blob.c /usr/share/llhttp/llhttp.c /usr/share/llhttp/api.c /usr/share/llhttp/http.c"
CFLAGS="$CFLAGS -DALLOT_KINDS_MODEL_FILE=\"build/kinds.model\""
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); names+=("${n#fuzz_}"); done
fi
for name in "${names[@]}"; do
  out=build/fuzz/$name
  mkdir -p "$out/corpus"
  cp -n tests/fuzz/corpus/"$name"/* "$out/corpus/" 2>/dev/null || true
  # shellcheck disable=SC2086
  clang $CFLAGS $LIB_SRC "tests/fuzz/fuzz_$name.c" $LIBS -o "$out/fuzz"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="$PWD/tests/fuzz/$name.dict")
  echo "== fuzz $name for ${SECONDS_EACH}s"
  (cd "$out" && ./fuzz -max_total_time="$SECONDS_EACH" "${dict[@]}" corpus)
done
