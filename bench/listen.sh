# shellcheck shell=bash
# listen.sh: sourced by bench/run.sh, bench/instructions.sh and
# bench/cpu.sh (each defines die and B). wait_listen LOG PID WHAT [SECONDS]: wait up to SECONDS
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
