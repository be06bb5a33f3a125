# shellcheck shell=bash
# listen.sh: sourced by bench/run.sh and bench/instructions.sh (each
# defines die). wait_listen LOG PID WHAT [SECONDS]: wait up to SECONDS
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
