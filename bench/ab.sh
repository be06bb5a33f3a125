#!/usr/bin/env bash
# ab.sh: two or more allot builds against one nginx, alternating, at 64
# connections (bench/README.md, "Comparing builds"). On a shared machine
# the throughput of one build moves by 10% from run to run; builds
# measured round by round against the same nginx and fake upstream, in
# the same minute, can be told apart where separate run.sh runs cannot.
#
#   bash bench/ab.sh BUILD_DIR [BUILD_DIR...]
#
# Each BUILD_DIR holds an `allot` (e.g. build, or a release build of
# another commit: make B=/tmp/old OPT="-O2 -g" EXTRA_CFLAGS= /tmp/old/allot).
# The fake upstream is the first build's. Every round measures nginx, then
# each build (started fresh on its own ledger, warmed up for a second), with
# run.sh's wrk command and request (chat.lua); a run with any error or
# non-2xx answer stops the script. Prints one line a round: requests/s of
# nginx and of each build, each build's ratio to that round's nginx; then
# the medians.
#
# Environment:
#   BENCH_SECONDS=5        duration of each measured run
#   BENCH_ROUNDS=5         rounds
#   BENCH_CONNS=64         connections (wrk -t2)
#   BENCH_WORK=            as in run.sh: X-Allot-Work on every request
#   BENCH_NEW=             as in run.sh: 1, each request a new instruction
#   NGINX=/usr/sbin/nginx  the nginx binary
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-5}
CONNS=${BENCH_CONNS:-64}
NGINX=${NGINX:-/usr/sbin/nginx}
LUA=bench/chat.lua

die() { echo "bench-ab: $*" >&2; exit 1; }
for v in "$SECS" "$ROUNDS" "$CONNS"; do [[ $v =~ ^[0-9]+$ ]] || die "'$v': expected a whole number"; done
[ "$SECS" -ge 1 ] && [ "$ROUNDS" -ge 1 ] && [ "$CONNS" -ge 2 ] || die "BENCH_SECONDS, BENCH_ROUNDS >= 1; BENCH_CONNS >= 2"
[ $# -ge 1 ] || die "usage: bash bench/ab.sh BUILD_DIR [BUILD_DIR...]"
for b in "$@"; do [ -x "$b/allot" ] || die "$b/allot: not built"; done
B=$1
[ -x "$B/fake_upstream" ] || die "$B/fake_upstream: not built"
bash scripts/install-deps.sh --with-bench
command -v wrk >/dev/null || die "wrk is not installed (bash scripts/install-deps.sh --with-bench)"
[ -x "$NGINX" ] || die "$NGINX: no nginx binary (bash scripts/install-deps.sh --with-bench)"

# bench_setup (TMP, pids, the EXIT trap), start_fake (FAKE_PORT), start_nginx
# (NGINX_PORT), start_allot (ALLOT_PORT, ALLOT_PID), median
# shellcheck source=bench/listen.sh
source bench/listen.sh
bench_setup allot-ab
start_fake
start_nginx 1

# rps URL OUT: one measured wrk run; its requests/s, or die on any error.
rps() {
  local line
  wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 5s -s "$LUA" "$1" >"$2" 2>&1 || { cat "$2" >&2; die "wrk failed"; }
  line=$(grep '^BENCH ' "$2") || { cat "$2" >&2; die "no BENCH line (chat.lua)"; }
  [[ $line =~ err_connect=0\ err_read=0\ err_write=0\ err_timeout=0\ err_status=0 ]] &&
    ! grep -q 'Socket errors\|Non-2xx' "$2" || { cat "$2" >&2; die "wrk saw errors: $1"; }
  sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line"
}

echo "bench-ab: $# build(s), $ROUNDS round(s) of ${SECS}s at $CONNS connections${BENCH_WORK:+, X-Allot-Work: $BENCH_WORK}${BENCH_NEW:+, BENCH_NEW=$BENCH_NEW}" >&2
: >"$TMP/ratios"
for round in $(seq 1 "$ROUNDS"); do
  n=$(rps "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" "$TMP/nginx.out")
  line="round $round: nginx $n"
  i=0
  for b in "$@"; do
    i=$((i + 1))
    rm -f "$TMP"/ab.db*
    start_allot "$b/allot" 1 "$TMP/ab.db"
    wrk -t2 -c"$CONNS" -d1s --timeout 5s -s "$LUA" "http://127.0.0.1:$ALLOT_PORT/v1/chat/completions" >/dev/null 2>&1 || true
    a=$(rps "http://127.0.0.1:$ALLOT_PORT/v1/chat/completions" "$TMP/allot.out")
    kill -TERM "$ALLOT_PID"
    wait "$ALLOT_PID" 2>/dev/null || true
    r=$(awk -v a="$a" -v n="$n" 'BEGIN {printf "%.3f", a / n}')
    echo "$i $r" >>"$TMP/ratios"
    line="$line, $b $a ($r)"
  done
  echo "$line"
done
i=0
for b in "$@"; do
  i=$((i + 1))
  med=$(awk -v k="$i" '$1 == k {print $2}' "$TMP/ratios" | median)
  echo "median throughput ratio to nginx: $b $med"
done
