#!/usr/bin/env bash
# run.sh: allot's gateway benchmark (bench/README.md). `make bench` runs it
# after building the release binaries.
#
# One run measures three paths to the same fake upstream (zero latency,
# 16-token answers) with wrk and the same ~1 KB chat request (chat.lua):
#   direct  wrk -> fake_upstream
#   nginx   wrk -> nginx (plain keep-alive reverse proxy) -> fake_upstream
#   allot   wrk -> allot serve (model "auto", routed) -> fake_upstream
# each at 1 connection (latency) and at 64 (throughput), after a warm-up.
# The machine is shared and noisy, so what counts is the ratios between
# paths measured in the same run: the latency allot adds over direct
# against what nginx adds, and allot's throughput against nginx's.
#
# Every measured run is checked: a curl request through the path first
# (200, a JSON completion; through allot, the x-allot-tier header), wrk
# must report no socket errors and no non-2xx answers, and the fake
# upstream must have received at least the requests wrk completed. Any
# failure exits non-zero.
#
# Environment:
#   BENCH_SECONDS=10        measured duration of each wrk run
#   BENCH_WARMUP=2          warm-up seconds before each measured run
#   BENCH_WORKERS=1         worker threads/processes of fake, nginx and allot
#   BENCH_ALLOT_WORKERS=W   allot's workers alone (diagnostics; breaks parity)
#   BENCH_CONNS=64          connections of the throughput runs (wrk -t2)
#   BENCH_ROUNDS=1          repeat every run; the table shows the median
#   BENCH_STRICT=0          1: also exit 3 when a target ratio is missed
#   BENCH_KEEP=0            1: keep the temporary directory (logs, ledger)
#   BENCH_FAKE_ARGS=        extra fake_upstream flags, e.g. "--latency-ms 1"
#   BENCH_WORK=             a category: requests also carry "X-Allot-Work: CATEGORY",
#                           so allot never runs the classifier (a diagnostic:
#                           the classifier's share of allot's cost). Must be a
#                           labour category (the check expects tier labour)
#   BENCH_NEW=              1: every request a new instruction to allot's
#                           classifier memo (bench/chat.lua); unset, every
#                           request repeats the last, as an agent's loop does
#   BENCH_PIN=              CPUs as WRK/SERVERS for taskset, e.g. "0/0" (all on
#                           CPU 0) or "0/1": wrk on the first list, the fake
#                           upstream and both proxies on the second, the same
#                           for nginx and allot. Unset: the scheduler places
#                           them (bench/README.md: on this 2-core VM a wakeup
#                           across CPUs costs ~40 us, so placement moves the
#                           1-connection figures more than either proxy does)
#   B=build                 where allot and fake_upstream are
#   NGINX=/usr/sbin/nginx   the nginx binary
set -euo pipefail
cd "$(dirname "$0")/.."

B=${B:-build}
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-2}
W=${BENCH_WORKERS:-1}
AW=${BENCH_ALLOT_WORKERS:-$W}
CONNS=${BENCH_CONNS:-64}
ROUNDS=${BENCH_ROUNDS:-1}
STRICT=${BENCH_STRICT:-0}
KEEP=${BENCH_KEEP:-0}
NGINX=${NGINX:-/usr/sbin/nginx}
OUT_DIR=bench/results
OUT=$OUT_DIR/latest.txt
LUA=bench/chat.lua

die() { echo "bench: $*" >&2; exit 1; }

# PIN_WRK / PIN_SRV: "taskset -c LIST" prefixes, or nothing (BENCH_PIN).
PIN_WRK=(); PIN_SRV=()
if [ -n "${BENCH_PIN:-}" ]; then
  [[ $BENCH_PIN =~ ^[0-9,-]+/[0-9,-]+$ ]] || die "BENCH_PIN='$BENCH_PIN': expected WRK_CPUS/SERVER_CPUS, e.g. 0/1"
  command -v taskset >/dev/null || die "BENCH_PIN needs taskset (util-linux)"
  PIN_WRK=(taskset -c "${BENCH_PIN%%/*}"); PIN_SRV=(taskset -c "${BENCH_PIN#*/}")
  PLACEMENT="wrk on CPU ${BENCH_PIN%%/*}, fake upstream and proxies on CPU ${BENCH_PIN#*/} (BENCH_PIN)"
else
  PLACEMENT="the scheduler's (BENCH_PIN unset)"
fi

for v in SECS:BENCH_SECONDS WARM:BENCH_WARMUP W:BENCH_WORKERS AW:BENCH_ALLOT_WORKERS \
         CONNS:BENCH_CONNS ROUNDS:BENCH_ROUNDS; do
  var=${v%%:*}; val=${!var}
  [[ $val =~ ^[0-9]+$ ]] || die "${v#*:}='$val': expected a whole number"
done
[ "$SECS" -ge 1 ] || die "BENCH_SECONDS must be at least 1"
if [ "$W" -lt 1 ] || [ "$W" -gt 64 ]; then die "BENCH_WORKERS must be 1 to 64"; fi
if [ "$AW" -lt 1 ] || [ "$AW" -gt 64 ]; then die "BENCH_ALLOT_WORKERS must be 1 to 64"; fi
[ "$CONNS" -ge 2 ] || die "BENCH_CONNS must be at least 2"
[ "$ROUNDS" -ge 1 ] || die "BENCH_ROUNDS must be at least 1"

bash scripts/install-deps.sh --with-bench
command -v wrk >/dev/null || die "wrk is not installed (bash scripts/install-deps.sh --with-bench)"
[ -x "$NGINX" ] || die "$NGINX: no nginx binary (bash scripts/install-deps.sh --with-bench)"

# wait_listen, need_built, free_port, start_nginx, start_allot, median
# shellcheck source=bench/listen.sh
source bench/listen.sh
need_built bench

TMP=$(mktemp -d /tmp/allot-bench.XXXXXX)
chmod 755 "$TMP" # nginx workers may run as another user when we are root
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local p _
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then echo "bench: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The request body, exactly as chat.lua sends it.
awk '/^\]==\]/{f=0} f{print} /^local body = \[==\[/{f=1}' "$LUA" | tr -d '\n' >"$TMP/body.json"
BODY_BYTES=$(wc -c <"$TMP/body.json")
[ "$BODY_BYTES" -gt 500 ] || die "$LUA: could not extract the request body (BODY-BEGIN/END)"

# --- the servers -----------------------------------------------------------

# shellcheck disable=SC2086 # BENCH_FAKE_ARGS is a list of flags
"${PIN_SRV[@]}" "$B/fake_upstream" --listen 127.0.0.1:0 --workers "$W" --tokens 16 --quiet ${BENCH_FAKE_ARGS:-} \
  >"$TMP/fake.log" 2>&1 &
FAKE_PID=$!; pids+=("$FAKE_PID")
FAKE_PORT=$(wait_listen "$TMP/fake.log" "$FAKE_PID" fake_upstream)

start_nginx "$W" "${PIN_SRV[@]}"

start_allot "$B/allot" "$AW" "$TMP/bench.db" "${PIN_SRV[@]}"

STATS=http://127.0.0.1:$FAKE_PORT/stats

# url_of NAME, pid_of NAME: the path's URL and the server process on it.
url_of() {
  case $1 in
    direct) echo "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" ;;
    nginx) echo "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" ;;
    allot) echo "http://127.0.0.1:$ALLOT_PORT/v1/chat/completions" ;;
  esac
}
pid_of() {
  case $1 in
    direct) echo "$FAKE_PID" ;;
    nginx) echo "$NGINX_PID" ;;
    allot) echo "$ALLOT_PID" ;;
  esac
}

# --- checks and measurements -----------------------------------------------

# CPU time (µs, all threads) of a process and its children (nginx workers).
CLK_TCK=$(getconf CLK_TCK)
cpu_us() {
  local total=0 p f
  for p in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] || continue
    # Fields after the ")" that ends comm: 12 = utime, 13 = stime.
    f=$(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')
    total=$((total + f))
  done
  echo $((total * 1000000 / CLK_TCK))
}

# check_path NAME: one request through the path; 200, a JSON completion,
# and through allot the routing headers.
check_path() {
  local name=$1 url code content tier
  url=$(url_of "$name")
  code=$(curl -sS -o "$TMP/check.body" -D "$TMP/check.head" -w '%{http_code}' --max-time 10 \
         -H 'Content-Type: application/json' ${BENCH_WORK:+-H "X-Allot-Work: $BENCH_WORK"} \
         --data-binary @"$TMP/body.json" "$url") ||
    die "$name: curl to $url failed"
  [ "$code" = 200 ] || { cat "$TMP/check.body" >&2; echo >&2; die "$name: HTTP $code from $url"; }
  if command -v jq >/dev/null; then
    content=$(jq -er '.choices[0].message.content' "$TMP/check.body" 2>/dev/null) ||
      { cat "$TMP/check.body" >&2; echo >&2; die "$name: the answer is not a JSON chat completion"; }
  else
    grep -q '^{.*"choices":\[{.*"message":{.*"content":".*}$' "$TMP/check.body" ||
      { cat "$TMP/check.body" >&2; echo >&2; die "$name: the answer is not a JSON chat completion"; }
    content=ok
  fi
  [ -n "$content" ] || die "$name: the answer's content is empty"
  if [ "$name" = allot ]; then
    tier=$(tr -d '\r' <"$TMP/check.head" | awk 'tolower($1)=="x-allot-tier:" {print $2; exit}')
    [ -n "$tier" ] || { cat "$TMP/check.head" >&2; die "allot: no x-allot-tier header"; }
    [ "$tier" = labour ] || {
      cat "$TMP/check.head" >&2
      die "allot: the benchmark request went to tier '$tier', expected labour (summarize)"
    }
  fi
}

fake_requests() {
  curl -sS --max-time 5 "$STATS" | grep -o '"requests":[0-9]*' | head -n 1 | cut -d: -f2
}

# kv LINE KEY: the value of KEY=VALUE in LINE.
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# measure NAME CONNS ROUND: warm up, check, run wrk, verify, record.
measure() {
  local name=$1 conns=$2 round=$3 url pid threads out line nreq got errs non2xx sock c0 c1
  url=$(url_of "$name")
  pid=$(pid_of "$name")
  threads=1; [ "$conns" -gt 1 ] && threads=2
  if [ "$WARM" -gt 0 ]; then
    "${PIN_WRK[@]}" wrk -t"$threads" -c"$conns" -d"${WARM}s" --timeout 5s -s "$LUA" "$url" >"$TMP/warm.out" 2>&1 ||
      { cat "$TMP/warm.out" >&2; die "$name: wrk warm-up failed"; }
  fi
  check_path "$name"
  curl -sS --max-time 5 -X POST -o /dev/null "$STATS/reset" || die "fake_upstream: /stats/reset failed"
  c0=$(cpu_us "$pid")
  out=$TMP/wrk-$name-$conns-$round.out
  "${PIN_WRK[@]}" wrk -t"$threads" -c"$conns" -d"${SECS}s" --timeout 5s --latency -s "$LUA" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "$name: wrk failed"; }
  c1=$(cpu_us "$pid")
  line=$(grep '^BENCH ' "$out" || true)
  [ -n "$line" ] || { cat "$out" >&2; die "$name: no BENCH line in wrk's output (chat.lua done())"; }
  nreq=$(kv "$line" requests)
  errs=$(( $(kv "$line" err_connect) + $(kv "$line" err_read) + $(kv "$line" err_write) + \
           $(kv "$line" err_timeout) ))
  non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$out")
  sock=$(grep -c 'Socket errors' "$out" || true)
  if [ "$errs" -ne 0 ] || [ "$sock" -ne 0 ] || [ -n "$non2xx" ] || [ "$(kv "$line" err_status)" -ne 0 ]; then
    cat "$out" >&2
    die "$name at $conns connections: wrk saw errors (socket errors $errs, status >= 400 $(kv "$line" err_status))"
  fi
  [ "$nreq" -gt 0 ] || { cat "$out" >&2; die "$name at $conns connections: no request completed"; }
  got=$(fake_requests)
  [ -n "$got" ] || die "fake_upstream: /stats unreadable"
  [ "$got" -ge "$nreq" ] ||
    die "$name at $conns connections: wrk counted $nreq answers but the fake upstream saw only $got requests"
  kill -0 "$pid" 2>/dev/null || die "$name: the server process died during the run"
  printf '%s %s %s %s %s %s %s %s\n' "$name" "$conns" "$round" "$(kv "$line" rps)" \
    "$(kv "$line" p50_us)" "$(kv "$line" p99_us)" "$nreq" \
    "$(awk -v d=$((c1 - c0)) -v n="$nreq" 'BEGIN{printf "%.1f", d / n}')" >>"$TMP/raw.txt"
  printf 'bench: %-6s c=%-3s round %s: %s\n' "$name" "$conns" "$round" "$line" >&2
}

echo "bench: workers $W (allot $AW), ${SECS}s per run after ${WARM}s warm-up, $ROUNDS round(s)," \
     "body $BODY_BYTES bytes; fake :$FAKE_PORT, nginx :$NGINX_PORT, allot :$ALLOT_PORT" >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$TMP/raw.txt"
for round in $(seq 1 "$ROUNDS"); do
  for conns in 1 "$CONNS"; do
    for name in direct nginx allot; do
      measure "$name" "$conns" "$round"
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the report --------------------------------------------------------------

# med NAME CONNS COLUMN: the median over the rounds (column 4 rps, 5 p50,
# 6 p99, 7 requests, 8 cpu µs/request).
med() {
  awk -v n="$1" -v c="$2" -v k="$3" '$1 == n && $2 == c {print $k}' "$TMP/raw.txt" | median
}

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || REV="$REV+dirty"
mkdir -p "$OUT_DIR"
{
  echo "allot gateway benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), allot $REV"
  echo "host: $(nproc) cores, load $LOAD_BEFORE before, $LOAD_AFTER after (wrk, proxy and fake share them)"
  echo "workers: $W each (fake_upstream, nginx, allot$([ "$AW" != "$W" ] && echo "; allot overridden to $AW"))"
  echo "runs: ${SECS}s measured after ${WARM}s warm-up, $ROUNDS round(s) (median shown);" \
       "1 conn = wrk -t1 -c1, $CONNS conns = wrk -t2 -c$CONNS"
  echo "placement: $PLACEMENT"
  echo "request: POST /v1/chat/completions, $BODY_BYTES-byte body, model auto -> tier labour, non-stream;" \
       "fake answers 16 tokens at once"
  [ "${BENCH_NEW:-}" != 1 ] ||
    echo "BENCH_NEW: each request a new instruction (100 in turn): allot's classifier memo finds none"
  [ -z "${BENCH_WORK:-}" ] ||
    echo "BENCH_WORK: every request says X-Allot-Work: $BENCH_WORK; allot's classifier does not run"
  echo "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
  echo
  printf '%-7s %5s %10s %9s %9s %9s %10s %9s\n' path conns req/s p50_us p99_us +p50_us cpu_us/req requests
  for conns in 1 "$CONNS"; do
    d50=$(med direct "$conns" 5)
    for name in direct nginx allot; do
      p50=$(med "$name" "$conns" 5)
      added=-
      if [ "$name" != direct ]; then
        added=$(awk -v a="$p50" -v b="$d50" 'BEGIN{printf "%+.0f", a - b}')
      fi
      printf '%-7s %5s %10.0f %9.0f %9.0f %9s %10s %9.0f\n' "$name" "$conns" "$(med "$name" "$conns" 4)" \
        "$p50" "$(med "$name" "$conns" 6)" \
        "$added" \
        "$(med "$name" "$conns" 8)" "$(med "$name" "$conns" 7)"
    done
  done
  echo
  echo "+p50_us: p50 minus direct's p50 at the same connections (the latency the hop adds)."
  echo "cpu_us/req: CPU time of the server on the path (for direct, the fake) per request."
  echo
  awk -v dn="$(med direct 1 5)" -v nn="$(med nginx 1 5)" -v an="$(med allot 1 5)" \
      -v nr="$(med nginx "$CONNS" 4)" -v ar="$(med allot "$CONNS" 4)" -v conns="$CONNS" \
      -v nc="$(med nginx 1 8)" -v ac="$(med allot 1 8)" '
    BEGIN {
      na = nn - dn; aa = an - dn
      printf "added p50 at 1 conn: nginx %+.0f us, allot %+.0f us\n", na, aa
      if (na > 0) {
        r = aa / na
        printf "  allot added / nginx added = %.2f (target <= 1.5): %s\n", r, (r <= 1.5 ? "MET" : "MISSED")
        if (r > 1.5) missed = 1
      } else {
        print "  allot added / nginx added = n/a (nginx added nothing measurable; rerun)"
      }
      r = ar / nr
      printf "throughput at %d conns: allot / nginx = %.2f (target >= 0.8): %s\n", conns, r,
             (r >= 0.8 ? "MET" : "MISSED")
      if (r < 0.8) missed = 1
      if (nc > 0) printf "cpu per request at 1 conn: allot / nginx = %.2f\n", ac / nc
      exit missed
    }' && MISSED=0 || MISSED=1
  if command -v sqlite3 >/dev/null; then
    # allot's own time per request (x-allot-overhead-ms, the ledger's
    # overhead_ms): its handlers' spans, without the hop's sockets and waits
    # (the k-th smallest: the largest of the k first in order)
    { sqlite3 -separator ' ' "$TMP/bench.db" \
        "WITH o AS (SELECT overhead_ms v, row_number() OVER (ORDER BY overhead_ms) r,
                           count(*) OVER () c FROM requests WHERE overhead_ms >= 0)
         SELECT max(c), max(CASE WHEN r <= (c + 1) / 2 THEN v END),
                max(CASE WHEN r <= (c * 99 + 99) / 100 THEN v END) FROM o" 2>/dev/null || true; } |
      awk 'NF == 3 && $1 > 0 {printf "allot own time a request (ledger overhead_ms, all %d of its requests): p50 %.0f us, p99 %.0f us\n", $1, $2 * 1000, $3 * 1000}'
  fi
  echo
  echo "every run checked: curl 200 + JSON completion (allot: x-allot-tier labour), 0 socket errors,"
  echo "0 non-2xx answers, fake upstream saw every request wrk counted."
} >"$TMP/report.txt"
cat "$TMP/report.txt"
cp "$TMP/report.txt" "$OUT"
echo "bench: wrote $OUT" >&2
if [ "$STRICT" = 1 ] && [ "$MISSED" = 1 ]; then
  die "a target ratio was missed (BENCH_STRICT=1)"
fi
exit 0
