#!/usr/bin/env bash
# cpu.sh: where each proxy's CPU goes per request at 64 connections
# (bench/README.md, "Where the CPU goes"). `make bench-cpu` runs it after
# building the release binaries.
#
# run.sh gives one figure per path (CPU time of the server per request);
# this splits it: for nginx and allot, under the same wrk load and request
# as run.sh (chat.lua, BENCH_CONNS connections), each thread's user and
# kernel time per request, the time it waited for a core while runnable,
# and its voluntary and involuntary context switches per request, from
# /proc (utime, stime, schedstat, *_ctxt_switches) read before and after
# the measured run, which runs with nothing attached.
# Then, in a second, shorter run with strace -c attached (which slows the
# server, so its requests count only for the division), the system calls
# per request by name. The rows add up what the kernel and user space each
# cost, which instruction counts (instructions.sh) cannot show.
#
# The numbers are per request, so they move much less with the machine's
# load than req/s does; run it twice all the same, and compare the two
# paths within one run. Installs wrk, nginx and strace if missing
# (scripts/install-deps.sh --with-bench), as run.sh does.
#
# Environment:
#   BENCH_SECONDS=5        measured duration of each wrk run
#   BENCH_CONNS=64         connections (wrk -t2)
#   BENCH_STRACE=1         0: skip the system call counts (no strace needed)
#   BENCH_WORK=            a category sent as X-Allot-Work: the classifier does
#                          not run (as in run.sh)
#   BENCH_NEW=             1: each request a new instruction (as in run.sh)
#   B=build                where allot and fake_upstream are
#   NGINX=/usr/sbin/nginx  the nginx binary
set -euo pipefail
cd "$(dirname "$0")/.."

B=${B:-build}
SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-64}
STRACE=${BENCH_STRACE:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
LUA=bench/chat.lua
OUT=bench/results/cpu.txt

die() { echo "bench-cpu: $*" >&2; exit 1; }
for v in "$SECS" "$CONNS"; do [[ $v =~ ^[0-9]+$ ]] || die "'$v': expected a whole number"; done
[ "$SECS" -ge 1 ] || die "BENCH_SECONDS must be at least 1"
[ "$CONNS" -ge 2 ] || die "BENCH_CONNS must be at least 2"
bash scripts/install-deps.sh --with-bench
command -v wrk >/dev/null || die "wrk is not installed (bash scripts/install-deps.sh --with-bench)"
[ -x "$NGINX" ] || die "$NGINX: no nginx binary (bash scripts/install-deps.sh --with-bench)"
if [ "$STRACE" = 1 ] && ! command -v strace >/dev/null; then
  die "strace is not installed (apt-get install strace), or set BENCH_STRACE=0"
fi

# wait_listen, need_built, bench_setup (TMP, pids, the EXIT trap),
# start_fake (FAKE_PORT), start_nginx (NGINX_PORT, NGINX_PID), start_allot
# shellcheck source=bench/listen.sh
source bench/listen.sh
need_built bench-cpu
bench_setup allot-cpu
start_fake
start_nginx 1

start_allot "$B/allot" 1 "$TMP/bench.db"

# threads NAME: "STATDIR COMM" of every thread of the path's server: nginx's
# workers (single-threaded processes, not the master), allot's threads.
threads() {
  local p t
  if [ "$1" = nginx ]; then
    for p in $(cat "/proc/$NGINX_PID/task/$NGINX_PID/children"); do echo "/proc/$p nginx-worker"; done
  else
    for t in /proc/"$ALLOT_PID"/task/*; do echo "$t $(tr ' ' _ <"$t/comm")"; done
  fi
}

# snap NAME: "STATDIR COMM UTIME STIME VCSW IVCSW WAIT" for each thread
# (times in ticks; WAIT, the time it was runnable but not running, in ns
# from schedstat).
snap() {
  local dir comm
  threads "$1" | while read -r dir comm; do
    [ -r "$dir/stat" ] || continue
    echo "$dir $comm $(sed 's/.*) //' "$dir/stat" | awk '{print $12, $13}')" \
      "$(awk '/^voluntary_ctxt_switches/ {v = $2} /^nonvoluntary_ctxt_switches/ {n = $2} END {print v, n}' \
         "$dir/status")" "$(awk '{print $2}' "$dir/schedstat" 2>/dev/null || echo 0)"
  done
}

# run_wrk NAME SECONDS OUT: wrk on the path; prints the requests it completed.
run_wrk() {
  local port
  port=$([ "$1" = nginx ] && echo "$NGINX_PORT" || echo "$ALLOT_PORT")
  wrk -t2 -c"$CONNS" -d"$2"s --timeout 5s -s "$LUA" "http://127.0.0.1:$port/v1/chat/completions" >"$3" 2>&1 ||
    { cat "$3" >&2; die "$1: wrk failed"; }
  grep -q 'err_connect=0 err_read=0 err_write=0 err_timeout=0 err_status=0' "$3" ||
    { cat "$3" >&2; die "$1: wrk saw errors"; }
  sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' "$3"
}

TICK=$(getconf CLK_TCK)
{
  echo "allot CPU per request by thread, $(date -u '+%Y-%m-%d %H:%M UTC'), allot $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "$(nproc) cores; wrk -t2 -c$CONNS for ${SECS}s after a 2 s warm-up, the request of run.sh"
  [ -z "${BENCH_WORK:-}" ] ||
    echo "BENCH_WORK: every request says X-Allot-Work: $BENCH_WORK; allot's classifier does not run"
  echo
  printf '%-6s %-15s %9s %8s %8s %8s %8s %8s\n' path thread requests user_us sys_us wait_us vcsw ivcsw
  for name in nginx allot; do
    run_wrk "$name" 2 "$TMP/warm.out" >/dev/null
    snap "$name" | sort >"$TMP/a"
    n=$(run_wrk "$name" "$SECS" "$TMP/$name.out")
    snap "$name" | sort >"$TMP/b"
    [ "${n:-0}" -gt 0 ] || die "$name: no requests"
    # per thread: ticks and switches after minus before, per request
    join "$TMP/a" "$TMP/b" | awk -v n="$n" -v t="$TICK" -v p="$name" '
      {u = ($9 - $3) * 1e6 / t / n; s = ($10 - $4) * 1e6 / t / n
       v = ($11 - $5) / n; iv = ($12 - $6) / n; w = ($13 - $7) / 1e3 / n
       tu += u; ts += s; tv += v; tiv += iv
       if (u + s < 0.05 && iv < 0.01) next
       rows++
       printf "%-6s %-15s %9d %8.2f %8.2f %8.2f %8.3f %8.3f\n", p, $2, n, u, s, w, v, iv}
      END {if (rows > 1) printf "%-6s %-15s %9d %8.2f %8.2f %8s %8.3f %8.3f\n", p, "(all threads)", n, tu, ts, "-", tv, tiv}'
  done
  echo
  echo "user_us, sys_us: CPU time of the thread per request (from /proc, 1/$TICK s ticks);"
  echo "wait_us: time it was runnable but waiting for a core (schedstat): a thread whose"
  echo "  user + sys + wait comes to the run's seconds / requests is the path's bottleneck;"
  echo "vcsw, ivcsw: voluntary (it waited) and involuntary (it was preempted) switches per request."
  if [ "$STRACE" = 1 ]; then
    echo
    echo "system calls per request (strace -c -f, a separate 2 s run; strace slows the server):"
    for name in nginx allot; do
      attach=()
      while read -r dir _; do attach+=(-p "${dir##*/}"); done < <(threads "$name")
      strace -c -f -o "$TMP/$name.strace" "${attach[@]}" 2>/dev/null &
      spid=$!
      sleep 0.5
      n=$(run_wrk "$name" 2 "$TMP/$name.st.out")
      sleep 0.2
      kill -INT "$spid" 2>/dev/null || true
      wait "$spid" 2>/dev/null || true
      # strace -c rows: % time, seconds, usecs/call, calls, [errors], syscall
      awk -v n="$n" -v p="$name" '
        $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {calls[$NF] = $4; sum += $4}
        END {
          line = sprintf("%-6s %6.2f:", p, sum / n)
          k = 0
          for (c in calls) order[++k] = c
          for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
            if (calls[order[j]] > calls[order[i]]) {x = order[i]; order[i] = order[j]; order[j] = x}
          for (i = 1; i <= k && i <= 8; i++)
            if (calls[order[i]] / n >= 0.01) line = line sprintf(" %s %.2f", order[i], calls[order[i]] / n)
          print line
        }' "$TMP/$name.strace"
    done
  fi
} | tee "$TMP/table.txt"
mkdir -p bench/results
cp "$TMP/table.txt" "$OUT"
echo "bench-cpu: wrote $OUT" >&2
