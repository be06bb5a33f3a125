#!/usr/bin/env bash
# The integration tests that do not measure timing, with `allot serve`
# under valgrind memcheck (STYLE.md: valgrind for leaks on the integration
# suite; ASan and TSan cover the whole suite in scripts/test.sh).
# postgres.test.mjs is here for libpq's sake (the writer's reconnects and a
# close that gives up); its one time bound, 4 to 19 s for a close against a
# stopped server, holds under memcheck with a margin (about 6.5 s). Any
# memcheck error or definite/indirect leak in any allot process fails it.
# Usage: tests/integration/valgrind.sh [BUILD_DIR]   (default build, the release build)
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
BUILD=${1:-build}
WORK=$(mktemp -d /tmp/allot-vg-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/allot" <<WRAP
#!/bin/sh
exec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \\
  --errors-for-leak-kinds=definite,indirect --log-file=$WORK/log.%p $ROOT/$BUILD/allot "\$@"
WRAP
chmod +x "$WORK/allot"
ALLOT_IT_VALGRIND=1 ALLOT_BIN=$WORK/allot FAKE_BIN=$ROOT/$BUILD/fake_upstream node --test --test-concurrency=1 \
  --test-reporter=spec chat.test.mjs errors.test.mjs fallback.test.mjs routing.test.mjs \
  ops.test.mjs shutdown.test.mjs quality.test.mjs anthropic.test.mjs anthropic_provider.test.mjs responses.test.mjs \
  postgres.test.mjs auth.test.mjs embeddings.test.mjs; rc=$?
reports=$(cat "$WORK"/log.* 2>/dev/null)
if [ -n "$reports" ]; then
  printf '%s\n' "$reports" | head -100
  echo "valgrind: memcheck reported errors or leaks"
  exit 1
fi
echo "valgrind: no memcheck errors, no leaks ($(ls "$WORK" | grep -c '^log\.') allot processes)"
exit $rc
