#!/usr/bin/env bash
# instructions.sh: user-space instructions per request of `allot serve`,
# counted by valgrind's callgrind (bench/README.md, "Instructions per
# request"). `make bench-instructions` runs it after building the release
# binaries.
#
# Timing on a shared 2-core machine moves by 10-20% from run to run;
# instruction counts do not (they move by well under 1%), so a change of a
# few percent in the request path's own work shows here when it is lost in
# the noise of bench/run.sh. What it does not see: the kernel (sockets,
# epoll, the ledger's writes), cache misses, and waiting.
#
# allot runs under callgrind with instrumentation off; after a warm-up of
# the same requests, instrumentation is switched on for exactly N requests
# (wrk stops itself after N answers; 4 connections), then off, and the
# count over all of allot's threads (event loop and ledger writer) is
# divided by N. Cases: the benchmark's ~1 KB chat completion plain and
# streamed (16 tokens, 18 events), streamed with the quality floor off
# (quality.enabled: false: no per-event read of the content), and the same
# request as an Anthropic Messages request (/v1/messages; streamed too, and
# streamed from a kind: anthropic provider, passed through), and as an
# agent's request: the same messages after 24 tool definitions (~13 KB of
# JSON schemas, which routing only looks at), in the chat, the Messages
# and the Responses API (where they are translated); and a Messages
# conversation of 61 turns (28 KB), N/2 requests (the same conversation
# as a Responses request too), and a coding agent's
# request in the middle of a session (bench/coding_agent.lua, 126 KB), N/4
# requests, each served by the fake as a chat-completions provider
# (translated) and as a kind: anthropic one (passed through,
# docs/anthropic.md).
#
# Environment: B=build (where allot and fake_upstream are), N=2000
# (requests per plain case; streamed cases use N/2).
set -euo pipefail
cd "$(dirname "$0")/.."

B=${B:-build}
N=${N:-2000}
OUT=bench/results/instructions.txt

die() { echo "bench-instructions: $*" >&2; exit 1; }
if ! [[ $N =~ ^[0-9]+$ ]] || [ "$N" -lt 100 ]; then die "N must be a whole number >= 100"; fi
command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"
command -v callgrind_control >/dev/null || die "callgrind_control is not installed (valgrind)"
command -v wrk >/dev/null || die "wrk is not installed (bash scripts/install-deps.sh --with-bench)"

# wait_listen, need_built, bench_setup (TMP, pids, the EXIT trap), start_fake (FAKE_PORT)
# shellcheck source=bench/listen.sh
source bench/listen.sh
need_built bench-instructions
bench_setup allot-instr
start_fake

cp bench/allot-bench.yaml "$TMP/checks.yaml"
{ cat bench/allot-bench.yaml; echo "quality: {enabled: false}"; } >"$TMP/nochecks.yaml"
# the provider as Anthropic's Messages API (the fake upstream speaks it too)
sed 's|^  - name: fake$|  - name: fake\n    kind: anthropic|' bench/allot-bench.yaml >"$TMP/anthropic.yaml"

# make_lua NAME PATH BODY-TRANSFORM: a wrk script sending chat.lua's body
# (changed by the Lua expression BODY-TRANSFORM of `body`) to PATH, which
# stops its thread after COUNT answers and counts non-2xx ones.
make_lua() {
  cat >"$TMP/$1.lua" <<EOF
dofile("bench/chat.lua")
local body = wrk.body
wrk.body = $3
wrk.path = "$2"
if "$2" == "/v1/messages" then wrk.headers["anthropic-version"] = "2023-06-01" end
local n, bad = 0, 0
request = nil
response = function(status, headers, b)
  n = n + 1
  if status > 299 then bad = bad + 1 end
  if n == tonumber(os.getenv("COUNT")) then -- tell instructions.sh, which stops wrk
    local f = io.open(os.getenv("MARK"), "w"); f:write("done\n"); f:close()
    wrk.thread:stop()
  end
end
done = function(summary, latency, requests)
  io.write(string.format("DONE requests=%d errors=%d\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read))
end
EOF
}
make_lua plain /v1/chat/completions 'body'
make_lua stream /v1/chat/completions 'body:gsub("\"stream\":false", "\"stream\":true")'
# an agent's: 24 tools with their schemas before the messages
make_lua agent /v1/chat/completions \
  '(function() local t = {} for i = 1, 24 do t[i] = string.format([[{"type":"function","function":{"name":"tool_%d","description":"Reads a file from the local filesystem. You can access any file directly by using this tool. Assume this tool is able to read all files on the machine.","parameters":{"type":"object","properties":{"file_path":{"type":"string","description":"The absolute path to the file to read"},"offset":{"type":"number","description":"The line number to start reading from"},"limit":{"type":"number","description":"The number of lines to read"}},"required":["file_path"],"additionalProperties":false}}}]], i) end return "{\"tools\":[" .. table.concat(t, ",") .. "]," .. body:sub(2) end)()'
# the same request in the Messages API: system apart, max_tokens required
make_lua messages /v1/messages \
  'body:gsub(",\"temperature\":0.2", ""):gsub("\"messages\":%[{\"role\":\"system\",\"content\":(\"[^\"]*\")},", "\"system\":%1,\"messages\":[")'
# and an agent's in the Messages API: the same 24 tools as Anthropic writes them
make_lua messages_agent /v1/messages \
  '(function() local m = body:gsub(",\"temperature\":0.2", ""):gsub("\"messages\":%[{\"role\":\"system\",\"content\":(\"[^\"]*\")},", "\"system\":%1,\"messages\":[") local t = {} for i = 1, 24 do t[i] = string.format([[{"name":"tool_%d","description":"Reads a file from the local filesystem. You can access any file directly by using this tool. Assume this tool is able to read all files on the machine.","input_schema":{"type":"object","properties":{"file_path":{"type":"string","description":"The absolute path to the file to read"},"offset":{"type":"number","description":"The line number to start reading from"},"limit":{"type":"number","description":"The number of lines to read"}},"required":["file_path"],"additionalProperties":false}}]], i) end return "{\"tools\":[" .. table.concat(t, ",") .. "]," .. m:sub(2) end)()'
# and in the Responses API (as Codex sends it: instructions, input, tools)
make_lua responses_agent /v1/responses \
  '(function() local t = {} for i = 1, 24 do t[i] = string.format([[{"type":"function","name":"tool_%d","description":"Reads a file from the local filesystem. You can access any file directly by using this tool. Assume this tool is able to read all files on the machine.","parameters":{"type":"object","properties":{"file_path":{"type":"string","description":"The absolute path to the file to read"},"offset":{"type":"number","description":"The line number to start reading from"},"limit":{"type":"number","description":"The number of lines to read"}},"required":["file_path"],"additionalProperties":false}}]], i) end local sys = body:match("\"role\":\"system\",\"content\":(\"[^\"]*\")") local user = body:match("\"role\":\"user\",\"content\":(\".-[^\\]\")}%]") return "{\"model\":\"auto\",\"instructions\":" .. sys .. ",\"input\":" .. user .. ",\"tools\":[" .. table.concat(t, ",") .. "]}" end)()'
# the Messages request streamed
# the same conversation in the Responses API, as Codex sends one: the
# instructions apart, the turns as input items (28 KB)
make_lua responses_long /v1/responses \
  '(function() local t = {} for i = 1, 60 do local role = (i % 2 == 1) and "user" or "assistant" t[i] = string.format([[{"role":"%s","content":"Turn %d. The city library on Harbour Street reopened on Monday after eighteen months of renovation work. The building, which dates from 1911, now has a new roof, step-free access at both entrances and a reading room on the top floor with views over the old port. The children section has doubled in size and moved to the ground floor, next to a small cafe run by a local bakery. The library now opens from eight in the morning until nine at night on weekdays."}]], role, i) end t[61] = [[{"role":"user","content":"Summarise the conversation in five bullet points."}]] return "{\"model\":\"auto\",\"max_output_tokens\":300,\"instructions\":\"You are terse.\",\"input\":[" .. table.concat(t, ",") .. "]}" end)()'
make_lua messages_stream /v1/messages \
  'body:gsub(",\"temperature\":0.2", ""):gsub("\"messages\":%[{\"role\":\"system\",\"content\":(\"[^\"]*\")},", "\"system\":%1,\"messages\":["):gsub("\"stream\":false", "\"stream\":true")'
# a long conversation in the Messages API: 60 turns of ~460 bytes and a
# last instruction (28 KB), all of it translated on every request
make_lua messages_long /v1/messages \
  '(function() local t = {} for i = 1, 60 do local role = (i % 2 == 1) and "user" or "assistant" t[i] = string.format([[{"role":"%s","content":"Turn %d. The city library on Harbour Street reopened on Monday after eighteen months of renovation work. The building, which dates from 1911, now has a new roof, step-free access at both entrances and a reading room on the top floor with views over the old port. The children section has doubled in size and moved to the ground floor, next to a small cafe run by a local bakery. The library now opens from eight in the morning until nine at night on weekdays."}]], role, i) end t[61] = [[{"role":"user","content":"Summarise the conversation in five bullet points."}]] return "{\"model\":\"auto\",\"max_tokens\":300,\"system\":\"You are terse.\",\"messages\":[" .. table.concat(t, ",") .. "]}" end)()'

# a coding agent's request in the middle of a session (bench/coding_agent.lua):
# a system prompt with cache_control, 24 tools, 40 turns of tool calls and
# their results, 126 KB
make_lua coding_agent /v1/messages '(function() dofile("bench/coding_agent.lua") return coding_agent_body() end)()'
# run_wrk LUA COUNT PORT OUT: COUNT answers on 4 connections. wrk runs
# until its -d however early its thread stops, so the script leaves a mark
# after COUNT answers and wrk is interrupted then (it still prints done()).
run_wrk() {
  local w _
  rm -f "$TMP/mark"
  MARK=$TMP/mark COUNT=$2 wrk -t1 -c4 -d300s -s "$TMP/$1.lua" "http://127.0.0.1:$3" >"$4" 2>&1 &
  w=$!
  for _ in $(seq 1 3000); do
    [ -f "$TMP/mark" ] && break
    kill -0 "$w" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$w" 2>/dev/null || true
  wait "$w" || true
}

# measure NAME CONFIG LUA COUNT: instructions per request of one case
measure() {
  local name=$1 cfg=$2 lua=$3 count=$4 port pid n total
  ALLOT_BENCH_UPSTREAM=127.0.0.1:$FAKE_PORT valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$TMP/$name.cg" "$B/allot" serve --config "$cfg" --listen 127.0.0.1:0 \
    --workers 1 --store "$TMP/$name.db" --quiet >"$TMP/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  port=$(wait_listen "$TMP/$name.log" "$pid" "allot serve" 30) # slow under callgrind
  run_wrk "$lua" $((count / 4)) "$port" "$TMP/$name.warm"
  callgrind_control -i on "$pid" >/dev/null 2>&1
  run_wrk "$lua" "$count" "$port" "$TMP/$name.wrk"
  callgrind_control -i off "$pid" >/dev/null 2>&1
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  grep -q 'DONE .*errors=0' "$TMP/$name.wrk" || { cat "$TMP/$name.wrk" >&2; die "$name: wrk failed"; }
  n=$(sed -n 's/.*DONE requests=\([0-9]*\).*/\1/p' "$TMP/$name.wrk")
  [ "${n:-0}" -ge "$count" ] || { cat "$TMP/$name.wrk" >&2; die "$name: only ${n:-0} requests"; }
  total=$(cat "$TMP/$name.cg"* | awk '/^totals:/ {s += $2} END {printf "%.0f\n", s}')
  [ "$total" -gt 0 ] || die "$name: callgrind counted nothing"
  printf '%-28s %8d %12d\n' "$name" "$n" $((total / n))
}

{
  echo "allot instructions per request (callgrind), $(date -u '+%Y-%m-%d %H:%M') UTC, allot $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "user space, every allot thread (event loop and ledger writer); 4 connections"
  echo
  printf '%-28s %8s %12s\n' case requests instr/req
  measure "chat, plain" "$TMP/checks.yaml" plain "$N"
  measure "chat, streamed" "$TMP/checks.yaml" stream $((N / 2))
  measure "chat, streamed, no checks" "$TMP/nochecks.yaml" stream $((N / 2))
  measure "messages, plain" "$TMP/checks.yaml" messages "$N"
  measure "messages, streamed" "$TMP/checks.yaml" messages_stream $((N / 2))
  measure "messages, streamed, anthropic" "$TMP/anthropic.yaml" messages_stream $((N / 2))
  measure "chat, agent (24 tools)" "$TMP/checks.yaml" agent "$N"
  measure "messages, agent (24 tools)" "$TMP/checks.yaml" messages_agent "$N"
  measure "responses, agent (24 tools)" "$TMP/checks.yaml" responses_agent "$N"
  measure "messages, 61 turns (28 KB)" "$TMP/checks.yaml" messages_long $((N / 2))
  measure "messages, 61 turns, anthropic" "$TMP/anthropic.yaml" messages_long $((N / 2))
  measure "responses, 61 turns (28 KB)" "$TMP/checks.yaml" responses_long $((N / 2))
  measure "messages, coding agent (126 KB)" "$TMP/checks.yaml" coding_agent $((N / 4))
  measure "messages, coding agent, anthropic" "$TMP/anthropic.yaml" coding_agent $((N / 4))
} | tee "$TMP/table.txt"
mkdir -p bench/results
cp "$TMP/table.txt" "$OUT"
echo "bench-instructions: wrote $OUT" >&2
