#!/usr/bin/env bash
# The demo: two SIMULATED model providers (our fake upstream, no API key,
# no network), allot serve on its embedded defaults, a mixed batch of
# requests of every kind of work, each decision, then the report.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
DEMO_DIR=$B/demo
mkdir -p "$DEMO_DIR"
rm -f "$DEMO_DIR"/allot.db*
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

for port in 4000 4101 4102; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "demo: port $port is in use; the demo's embedded defaults need 4000, 4101 and 4102" >&2
    exit 1
  fi
done

wait_line() { # file pattern
  for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "demo: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

echo "== simulated providers: 'frontier' on :4101 (a strong hosted model), 'local' on :4102 (a small local model)"
$B/fake_upstream --listen 127.0.0.1:4101 --name frontier --latency-ms 40 --tokens 60 --quiet >"$DEMO_DIR/frontier.log" 2>&1 & pids+=($!)
$B/fake_upstream --listen 127.0.0.1:4102 --name local --latency-ms 5 --tokens 60 --quiet >"$DEMO_DIR/local.log" 2>&1 & pids+=($!)
wait_line "$DEMO_DIR/frontier.log" listening
wait_line "$DEMO_DIR/local.log" listening

echo "== allot serve on the embedded defaults (ledger $DEMO_DIR/allot.db)"
$B/allot serve --store "$DEMO_DIR/allot.db" --quiet >"$DEMO_DIR/allot.log" 2>&1 & allot_pid=$!; pids+=($allot_pid)
wait_line "$DEMO_DIR/allot.log" "allot listening"

echo
printf '%-10s %-9s %-15s %5s %10s %-17s %s\n' category tier model conf cost check instruction
while IFS= read -r body; do
  hdrs=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' --data-binary "$body" \
         http://127.0.0.1:4000/v1/chat/completions | tr -d '\r')
  h() { printf '%s\n' "$hdrs" | awk -v k="$1" 'tolower($1)==k":" {sub(/^[^:]*: /,""); print; exit}'; }
  text=$(printf '%s' "$body" | sed -e 's/.*"role": "user", "content": "//' -e 's/"}]}$//' | cut -c1-60)
  check=$(h x-allot-check); esc=$(h x-allot-escalated)
  [ -n "$esc" ] && check="escalated:$esc"
  printf '%-10s %-9s %-15s %5s %10s %-17s %s\n' "$(h x-allot-category)" "$(h x-allot-tier)" \
    "$(h x-allot-model)" "$(h x-allot-confidence)" "\$$(h x-allot-cost-usd)" "${check:--}" "$text..."
done < examples/demo-requests.jsonl

# first N CURL-ARGS...: the first N bytes of what curl receives. head may
# close the pipe while curl still writes (a stream is longer than N): curl
# then exits 23 (write error), which is not a failure; any other is.
first() {
  local n=$1
  shift
  curl "$@" | head -c "$n" || [ "${PIPESTATUS[0]}" = 23 ]
}

echo
echo "== one streamed answer (stream: true), as it arrives:"
first 600 -sN -H 'Content-Type: application/json' http://127.0.0.1:4000/v1/chat/completions \
  -d '{"model":"auto","stream":true,"messages":[{"role":"user","content":"Summarise: the meeting moved to Tuesday."}]}'
echo; echo
echo "== the same through Anthropic's Messages API (POST /v1/messages, translated):"
first 400 -s -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' \
  http://127.0.0.1:4000/v1/messages \
  -d '{"model":"auto","max_tokens":200,"messages":[{"role":"user","content":"Summarise: the meeting moved to Tuesday."}]}'
echo; echo
echo "== and through OpenAI's Responses API (POST /v1/responses, translated):"
first 400 -s -H 'Content-Type: application/json' http://127.0.0.1:4000/v1/responses \
  -d '{"model":"auto","input":"Summarise: the meeting moved to Tuesday."}'
echo; echo

kill -TERM "$allot_pid"; wait "$allot_pid" || true
echo "== allot report (simulated models; prices from the embedded defaults)"
$B/allot report --store "$DEMO_DIR/allot.db"
