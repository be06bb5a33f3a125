# shellcheck shell=bash
# listen.sh: sourced by bench/run.sh, bench/instructions.sh, bench/cpu.sh
# and bench/ab.sh (each defines die and B; start_nginx also NGINX). wait_listen LOG PID WHAT [SECONDS]: wait up to SECONDS
# (default 10) for the "listening on HOST:PORT" line of a server started
# with port 0, print PORT; die if the server exits first or never says so.
wait_listen() {
  local _ tries=$((${4:-10} * 20))
  for _ in $(seq 1 "$tries"); do
    if grep -q 'listening on ' "$1" 2>/dev/null; then
      sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1
      return 0
    fi
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; die "$3 exited before listening"; }
    sleep 0.05
  done
  cat "$1" >&2
  die "$3 did not report listening within ${4:-10} s"
}

# bench_setup NAME: TMP, a temporary directory (/tmp/NAME.XXXXXX, readable
# by nginx's workers, which may run as another user when we are root);
# pids, the servers started, which the EXIT trap stops before removing TMP.
bench_setup() {
  TMP=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$TMP"
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317 # called by the EXIT trap
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}

# start_fake: the fake upstream as the benchmarks run it (one worker,
# 16-token answers) on a free port, FAKE_PORT; its pid joins pids.
start_fake() {
  "$B/fake_upstream" --listen 127.0.0.1:0 --workers 1 --tokens 16 --quiet >"$TMP/fake.log" 2>&1 &
  pids+=($!)
  FAKE_PORT=$(wait_listen "$TMP/fake.log" "${pids[-1]}" fake_upstream)
}

# need_built TARGET: die unless allot and fake_upstream are built in B
# (TARGET: the make target that builds and runs the script).
need_built() {
  local f
  for f in "$B/allot" "$B/fake_upstream"; do
    [ -x "$f" ] || die "$f: not built; run 'make' first (or 'make $1')"
  done
}

# A port nothing listens on, for nginx (which cannot report a port 0 pick).
free_port() {
  local p _
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# start_nginx WORKERS [PREFIX...]: nginx as bench/nginx.conf.in's plain
# reverse proxy in front of the fake upstream (FAKE_PORT), with WORKERS
# worker processes, run under PREFIX (e.g. taskset -c 1), on a free port:
# NGINX_PORT, NGINX_PID (which joins pids). Dies when nginx exits or does
# not answer within 10 s, with its logs.
start_nginx() {
  local workers=$1 dir=$TMP/nginx _
  shift
  mkdir -p "$dir"
  NGINX_PORT=$(free_port)
  sed -e "s|@PREFIX@|$dir|g" -e "s|@WORKERS@|$workers|g" -e "s|@PORT@|$NGINX_PORT|g" \
      -e "s|@UPSTREAM_PORT@|$FAKE_PORT|g" bench/nginx.conf.in >"$dir/nginx.conf"
  "$@" "$NGINX" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
  NGINX_PID=$!
  pids+=("$NGINX_PID")
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/healthz" && return 0
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$dir"/*.log >&2; die "nginx exited"; }
    sleep 0.05
  done
  cat "$dir"/*.log >&2
  die "nginx did not answer within 10 s"
}

# start_allot BIN WORKERS STORE [PREFIX...]: BIN serve on bench/allot-bench.yaml
# in front of the fake upstream (FAKE_PORT), with WORKERS workers and its
# ledger in STORE, run under PREFIX (e.g. taskset -c 1), on a free port:
# ALLOT_PORT, ALLOT_PID (which joins pids). Its log is $TMP/allot.log.
start_allot() {
  local bin=$1 workers=$2 store=$3
  shift 3
  ALLOT_BENCH_UPSTREAM=127.0.0.1:$FAKE_PORT "$@" "$bin" serve --config bench/allot-bench.yaml \
    --listen 127.0.0.1:0 --workers "$workers" --store "$store" --quiet >"$TMP/allot.log" 2>&1 &
  ALLOT_PID=$!
  pids+=("$ALLOT_PID")
  ALLOT_PORT=$(wait_listen "$TMP/allot.log" "$ALLOT_PID" "$bin serve")
}

# median: the median of the numbers on stdin, one a line (the mean of the
# middle two when they are even in number).
median() {
  sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
