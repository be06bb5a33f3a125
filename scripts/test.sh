#!/usr/bin/env bash
# The whole test suite, under ASan+UBSan (`make test` runs this; so does CI).
#  1. unit tests (tests/unit)                       C runner
#  2. fuzz corpora replayed as plain tests (tests/fuzz); the built-in
#     classifier model retrained from data/kinds/ is byte-identical
#  3. fake upstream self-check (tests/fake_upstream/smoke.sh)
#  4. integration tests (tests/integration)        node --test, real binaries,
#     the official `openai` and `@anthropic-ai/sdk` npm clients, a real
#     SQLite file, a real PostgreSQL server (postgres.test.mjs starts its
#     own); run against the ASan+UBSan build, against a
#     ThreadSanitizer build, and (the files that assert no timing) with
#     allot under valgrind memcheck; and a subset (chat, stream, fallback,
#     retry_after, errors, ops) again with every provider forced to libcurl
#     (ALLOT_IT_HTTP_CLIENT=curl), so both upstream clients stay tested
# Ends with one line "N passed, N failed" over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0; failed=0
count() { passed=$((passed + $1)); failed=$((failed + $2)); }

bash scripts/install-deps.sh || { echo "cannot install dependencies"; echo "0 passed, 1 failed"; exit 1; }
if ! make -j"$(nproc)" asan >build-asan.log 2>&1; then
  cat build-asan.log; echo "0 passed, 1 failed"; exit 1
fi
rm -f build-asan.log

echo "== unit tests (ASan+UBSan)"
out=$(build/asan/unit_tests 2>&1); rc=$?
printf '%s\n' "$out" | grep -v '^ok ' || true
line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
if [ -n "$line" ]; then
  count "$(echo "$line" | awk '{print $1}')" "$(echo "$line" | awk '{print $3}')"
  [ $rc -ne 0 ] && [ "$(echo "$line" | awk '{print $3}')" = 0 ] && count 0 1  # crashed after the summary (leak)
else
  echo "unit tests crashed (exit $rc)"; count 0 1
fi

echo "== fuzz corpora replay"
bash tests/fuzz/replay.sh; rc=$?
if [ $rc -eq 0 ]; then count 1 0; else count 0 1; fi

echo "== the built-in classifier model is reproducible from data/kinds/"
# The asan build made build/kinds.model with the release trainer; training
# again from the same data must give the same bytes.
tmp_model=$(mktemp /tmp/allot-kinds-XXXXXX)
if build/allot-train train kinds --data data/kinds --out "$tmp_model" --quiet &&
   cmp -s "$tmp_model" build/kinds.model; then
  echo "ok   kinds.model: $(stat -c %s build/kinds.model) bytes, identical when retrained"; count 1 0
else
  echo "FAIL kinds.model differs when retrained from data/kinds/"; count 0 1
fi
rm -f "$tmp_model"

echo "== bench_kinds --oof (ASan+UBSan): one out-of-fold line per example, in data order"
# The label audit's list (bench/README.md). A small file, 2 folds: seconds.
tmp_oof=$(mktemp /tmp/allot-oof-XXXXXX)
oof_data=data/kinds/written_hardcases.jsonl
if make -j"$(nproc)" asan-bench-kinds >build-asan.log 2>&1 &&
   build/asan/bench_kinds --data "$oof_data" --folds 2 --no-speed --no-calibrate \
     --oof "$tmp_oof" >/dev/null &&
   [ "$(wc -l <"$tmp_oof")" = "$(grep -c . "$oof_data")" ] &&
   [ "$(jq -r '.line' "$tmp_oof" | paste -sd, -)" = "$(seq -s, 1 "$(grep -c . "$oof_data")")" ] &&
   [ "$(jq -r '.category' "$tmp_oof" | paste -sd, -)" = "$(jq -r '.category' "$oof_data" | paste -sd, -)" ] &&
   [ -z "$(jq -c 'select(.file != "written_hardcases.jsonl" or (.predicted | type) != "string"
                        or .confidence < 0 or .confidence > 1
                        or (.predicted_tier | IN("judgment", "labour", "code") | not))' "$tmp_oof")" ]; then
  rm -f build-asan.log
  echo "ok   bench_kinds --oof: $(wc -l <"$tmp_oof") lines"; count 1 0
else
  cat build-asan.log 2>/dev/null; echo "FAIL bench_kinds --oof"; count 0 1
fi
rm -f "$tmp_oof"

echo "== fake upstream smoke"
if [ -f tests/fake_upstream/smoke.sh ]; then
  if bash tests/fake_upstream/smoke.sh build/asan/fake_upstream; then count 1 0; else count 0 1; fi
fi

# integration SUITE_NAME BUILD_DIR [FILE...]: the node suite (or those
# files of it) against that build.
integration() {
  local out rc p f c name=$1 dir=$2
  shift 2
  out=$(cd tests/integration && ALLOT_BIN=$ROOT/$dir/allot FAKE_BIN=$ROOT/$dir/fake_upstream \
        ALLOT_SANITIZER=$name node --test --test-concurrency=1 --test-reporter=spec "$@" 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 200
  p=$(printf '%s\n' "$out" | grep -E '^ℹ pass [0-9]+' | awk '{print $3}' | tail -1)
  f=$(printf '%s\n' "$out" | grep -E '^ℹ fail [0-9]+' | awk '{print $3}' | tail -1)
  c=$(printf '%s\n' "$out" | grep -E '^ℹ cancelled [0-9]+' | awk '{print $3}' | tail -1)
  f=$(( ${f:-0} + ${c:-0} ))  # a failed before() hook cancels its file's tests
  if [ -z "$p" ]; then echo "$name: the runner gave no summary (exit $rc)"; count 0 1
  else count "$p" "$f"; [ $rc -ne 0 ] && [ "$f" = 0 ] && count 0 1; fi
}

echo "== integration tests (real allot, fake upstreams, openai and anthropic SDKs), ASan+UBSan"
if ! (cd tests/integration && { { [ -d node_modules/openai ] && [ -d node_modules/@anthropic-ai/sdk ]; } ||
      npm ci --no-audit --no-fund --silent; }); then
  echo "npm ci failed"; count 0 1
else
  integration asan build/asan
  echo "== integration tests, every provider forced to libcurl (http_client: curl), ASan+UBSan"
  ALLOT_IT_HTTP_CLIENT=curl integration asan build/asan \
    chat.test.mjs stream.test.mjs fallback.test.mjs retry_after.test.mjs errors.test.mjs ops.test.mjs
  echo "== integration tests again under ThreadSanitizer (workers, ledger writer, metrics)"
  if make -j"$(nproc)" tsan >build-tsan.log 2>&1; then
    rm -f build-tsan.log
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} integration tsan build/tsan
  else
    cat build-tsan.log; count 0 1
  fi
  echo "== integration tests without timing assertions, allot under valgrind memcheck"
  if make -j"$(nproc)" all >build-release.log 2>&1; then
    rm -f build-release.log
    out=$(bash tests/integration/valgrind.sh build 2>&1); rc=$?
    printf '%s\n' "$out" | tail -n 20
    p=$(printf '%s\n' "$out" | grep -E '^ℹ pass [0-9]+' | awk '{print $3}' | tail -1)
    f=$(printf '%s\n' "$out" | grep -E '^ℹ fail [0-9]+' | awk '{print $3}' | tail -1)
    if [ -z "$p" ]; then echo "valgrind run gave no summary (exit $rc)"; count 0 1
    else count "$p" "${f:-0}"; [ $rc -ne 0 ] && count 0 1; fi
  else
    cat build-release.log; count 0 1
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
