#!/usr/bin/env bash
# smoke.sh: a quick self-check of the fake upstream (docs/fake_upstream.md).
#
# Starts fake_upstream on free ports, drives every endpoint and knob with
# curl, checks the visible effect with jq, and exits non-zero on any
# mismatch. Usage: tests/fake_upstream/smoke.sh [path/to/fake_upstream]
# (default $FAKE_UPSTREAM, then build/fake_upstream). Needs curl and jq.
set -u

BIN=${1:-${FAKE_UPSTREAM:-build/fake_upstream}}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fake_smoke.XXXXXX")
PIDS=()
TAGS=()
FAILED=0
PASSED=0

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); }
bad() { FAILED=$((FAILED + 1)); echo "FAIL: $1" >&2; }
# expect DESC ACTUAL EXPECTED
expect() { if [ "$2" == "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi; }
# expect_true DESC COMMAND...
expect_true() { local d=$1; shift; if "$@"; then ok; else bad "$d"; fi; }
# ge A B: A >= B for decimals
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

[ -x "$BIN" ] || { echo "smoke.sh: no executable at $BIN" >&2; exit 2; }
command -v jq >/dev/null || { echo "smoke.sh: jq is required" >&2; exit 2; }

# start TAG ARGS...: run fake_upstream on a free port; sets PORT and PID.
start() {
    local tag=$1 i
    shift
    "$BIN" --listen 127.0.0.1:0 --quiet "$@" >"$TMP/$tag.out" 2>"$TMP/$tag.err" &
    PID=$!
    PIDS+=("$PID")
    TAGS+=("$tag")
    for i in $(seq 100); do
        if grep -q ' listening on ' "$TMP/$tag.out" 2>/dev/null; then
            PORT=$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$tag.out")
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "smoke.sh: fake_upstream $tag did not start:" >&2
    cat "$TMP/$tag.err" >&2
    exit 1
}

REQ='{"model":"sim","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello there, fake"}]}'
SREQ='{"model":"sim","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello there, fake"}]}'
UREQ='{"model":"sim","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello there, fake"}]}'
ANSWER='[smoke] answer to: hello there, fake lorem ipsum dolor sit amet consectetur adipiscing elit sed do '

# post BODY [curl args...]: POST to chat completions; body in $TMP/body,
# head in $TMP/head, prints the status code.
post() {
    local body=$1
    shift
    curl -sS -N --max-time 10 -o "$TMP/body" -D "$TMP/head" -w '%{http_code}' -H 'content-type: application/json' \
        --data-binary "$body" "$@" "$URL/v1/chat/completions" 2>/dev/null
}
# The data events of $TMP/body, one JSON per line, without [DONE].
events() { sed -n 's/^data: //p' "$TMP/body" | tr -d '\r' | grep -v '^\[DONE\]$'; }
stats() { curl -sS "$URL/stats"; }

start main --name smoke --expect-key sk-test
MAIN_PID=$PID
URL="http://127.0.0.1:$PORT"

# --- plain endpoints -------------------------------------------------------
expect "healthz" "$(curl -sS -w ' %{http_code}' "$URL/healthz" | tr -d '\n')" "ok 200"
code=$(curl -sS -o "$TMP/body" -w '%{http_code}' "$URL/nope")
expect "404 status" "$code" 404
expect "404 body" "$(jq -r .error.type "$TMP/body")" invalid_request_error
curl -sS -X POST -o /dev/null "$URL/stats/reset"

# --- non-stream -------------------------------------------------------------
expect "plain status" "$(post "$REQ" -H 'authorization: Bearer sk-test')" 200
expect "plain content-type" "$(grep -i '^content-type:' "$TMP/head" | tr -d '\r' | cut -d' ' -f2)" application/json
expect "plain object" "$(jq -r .object "$TMP/body")" chat.completion
expect_true "plain id" grep -q '"id":"chatcmpl-fake-[0-9]*"' "$TMP/body"
expect "plain model" "$(jq -r .model "$TMP/body")" sim
expect "plain role" "$(jq -r '.choices[0].message.role' "$TMP/body")" assistant
expect "plain content" "$(jq -j '.choices[0].message.content' "$TMP/body")" "$ANSWER"
expect "plain finish" "$(jq -r '.choices[0].finish_reason' "$TMP/body")" stop
expect "plain usage" "$(jq -c .usage "$TMP/body")" '{"prompt_tokens":7,"completion_tokens":16,"total_tokens":23}'
expect "alias path" "$(curl -sS -o /dev/null -w '%{http_code}' --data-binary "$REQ" "$URL/chat/completions")" 200

# --- stream, without and with include_usage ----------------------------------
expect "stream status" "$(post "$SREQ")" 200
expect "stream content-type" "$(grep -i '^content-type:' "$TMP/head" | tr -d '\r' | cut -d' ' -f2)" text/event-stream
expect_true "stream chunked" grep -qi '^transfer-encoding: chunked' "$TMP/head"
expect "stream role first" "$(events | head -1 | jq -r '.choices[0].delta.role')" assistant
expect "stream object" "$(events | jq -r .object | sort -u)" chat.completion.chunk
expect "stream pieces" "$(events | jq -s '[.[] | select(.choices[0].delta.content? // "" | length > 0)] | length')" 16
expect "stream text = plain" "$(events | jq -j '.choices[0].delta.content // ""')" "$ANSWER"
expect "stream piece form" "$(events | sed -n 2p | jq -c '.choices[0].delta')" '{"content":"[smoke] "}'
expect "stream finish" "$(events | tail -1 | jq -r '.choices[0].finish_reason')" stop
expect "stream no usage" "$(events | jq -s 'map(has("usage")) | any')" false
expect "stream [DONE] last" "$(tail -c 14 "$TMP/body" | od -An -c | tr -d ' \n')" 'data:[DONE]\n\n'

expect "usage stream status" "$(post "$UREQ")" 200
expect "usage chunk" "$(events | tail -1 | jq -c '[.choices, .usage]')" '[[],{"prompt_tokens":7,"completion_tokens":16,"total_tokens":23}]'
expect "usage null before" "$(events | head -n -1 | jq -s 'map(has("usage") and .usage == null) | all')" true
expect "usage finish before" "$(events | tail -2 | head -1 | jq -r '.choices[0].finish_reason')" stop
expect_true "usage [DONE]" grep -q '^data: \[DONE\]' "$TMP/body"

# --- knobs ---------------------------------------------------------------------
post "$REQ" -H 'x-fake-tokens: 3' >/dev/null
expect "tokens header" "$(jq -j '.choices[0].message.content' "$TMP/body")" '[smoke] answer to: '
expect "tokens usage" "$(jq .usage.completion_tokens "$TMP/body")" 3
post "${REQ/\"sim\"/\"sim-tokens4\"}" >/dev/null
expect "tokens model knob" "$(jq -j '.choices[0].message.content' "$TMP/body")" '[smoke] answer to: hello '

post "$REQ" -H 'x-fake-content: Hi  there' >/dev/null
expect "content header" "$(jq -j '.choices[0].message.content' "$TMP/body")" 'Hi  there'
expect "content tokens" "$(jq .usage.completion_tokens "$TMP/body")" 2
post "$SREQ" -H 'x-fake-content: Hi  there' >/dev/null
expect "content stream pieces" "$(events | jq -c '.choices[0].delta.content // empty' | tr '\n' ,)" '"","Hi  ","there",'

post "$REQ" -H 'x-fake-empty: 1' >/dev/null
expect "empty content" "$(jq -c '[.choices[0].message.content, .usage.completion_tokens]' "$TMP/body")" '["",0]'
post "$UREQ" -H 'x-fake-empty: 1' >/dev/null
expect "empty stream" "$(events | jq -s 'map(select(.choices[0].delta.content? // "" | length > 0)) | length')" 0
expect "empty stream usage" "$(events | tail -1 | jq .usage.completion_tokens)" 0

post "$REQ" -H 'x-fake-no-usage: 1' >/dev/null
expect "no-usage plain" "$(jq 'has("usage")' "$TMP/body")" false
post "$UREQ" -H 'x-fake-no-usage: 1' >/dev/null
expect "no-usage stream" "$(events | jq -s 'map(has("usage")) | any')" false
expect "no-usage stream finish" "$(events | tail -1 | jq -r '.choices[0].finish_reason')" stop

expect "status 503" "$(post "$REQ" -H 'x-fake-status: 503')" 503
expect "status body" "$(jq -c '[.error.message, .error.type]' "$TMP/body")" '["fake upstream error","server_error"]'
expect "status 429" "$(post "$SREQ" -H 'x-fake-status: 429')" 429
expect "429 retry-after" "$(grep -i '^retry-after:' "$TMP/head" | tr -d '\r' | cut -d' ' -f2)" 1
expect "model fail500" "$(post "${REQ/\"sim\"/\"judge-fail500\"}")" 500
expect "model fail429" "$(post "${REQ/\"sim\"/\"fail429\"}")" 429

expect "malformed status" "$(post "$REQ" -H 'x-fake-malformed: 1')" 200
expect_true "malformed body is not JSON" bash -c "! jq . '$TMP/body' >/dev/null 2>&1"
post "$SREQ" -H 'x-fake-malformed: 1' >/dev/null
broken=0
while IFS= read -r line; do echo "$line" | jq -e . >/dev/null 2>&1 || broken=$((broken + 1)); done < <(events)
expect "malformed stream events" "$broken" 1
expect_true "malformed stream ends" grep -q '^data: \[DONE\]' "$TMP/body"

post "$SREQ" -H 'x-fake-cut-after: 3' >/dev/null
expect "cut pieces" "$(events | jq -s 'map(select(.choices[0].delta.content? // "" | length > 0)) | length')" 3
expect "cut no [DONE]" "$(grep -c 'DONE' "$TMP/body")" 0
curl -sS -N -o /dev/null --data-binary "$SREQ" -H 'x-fake-cut-after: 3' "$URL/v1/chat/completions" 2>/dev/null
rc=$?
expect_true "cut is an error for the client (curl rc $rc)" [ "$rc" -ne 0 ]
curl -sS -o /dev/null --data-binary "$REQ" -H 'x-fake-cut-after: 0' "$URL/v1/chat/completions" 2>/dev/null
rc=$?
expect_true "non-stream cut is an error for the client (curl rc $rc)" [ "$rc" -ne 0 ]

t=$(curl -sS -o /dev/null -w '%{time_total}' --data-binary "$REQ" -H 'x-fake-latency-ms: 300' "$URL/v1/chat/completions")
expect_true "latency 300ms (took $t)" ge "$t" 0.29
t=$(curl -sS -N -o "$TMP/body" -w '%{time_starttransfer} %{time_total}' --data-binary "$SREQ" -H 'x-fake-ttft-ms: 500' "$URL/v1/chat/completions")
expect_true "ttft: head early (${t% *})" lt "${t% *}" 0.4
expect_true "ttft: 500ms to the end (${t#* })" ge "${t#* }" 0.49
t=$(curl -sS -N -o "$TMP/body" -w '%{time_total}' --data-binary "$SREQ" -H 'x-fake-tokens: 6' -H 'x-fake-tokens-per-sec: 20' "$URL/v1/chat/completions")
expect_true "tps 20, 6 tokens: 250ms (took $t)" ge "$t" 0.24
expect "tps pieces" "$(events | jq -s 'map(select(.choices[0].delta.content? // "" | length > 0)) | length')" 6
t=$(curl -sS -o /dev/null -w '%{time_total}' --data-binary "$REQ" -H 'x-fake-tokens: 6' -H 'x-fake-tokens-per-sec: 20' "$URL/v1/chat/completions")
expect_true "tps non-stream waits too (took $t)" ge "$t" 0.24

curl -sS -o /dev/null --max-time 0.5 --data-binary "$REQ" -H 'x-fake-hang: 1' "$URL/v1/chat/completions" 2>/dev/null
expect "hang times out" "$?" 28

# --- knobs in the model id's query: "sim?status=500", for tests through allot ----
# mreq MODEL [EXTRA]: the chat request of $REQ for MODEL, EXTRA fields first.
mreq() { printf '{"model":"%s",%s"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello there, fake"}]}' "$1" "${2:-}"; }
S='"stream":true,'
SU='"stream":true,"stream_options":{"include_usage":true},'
content() { jq -j '.choices[0].message.content' "$TMP/body"; }
pieces() { events | jq -s 'map(select(.choices[0].delta.content? // "" | length > 0)) | length'; }

expect "query status" "$(post "$(mreq 'sim?status=500')")" 500
expect "query status body" "$(jq -c '[.error.message, .error.code]' "$TMP/body")" '["fake upstream error","http_500"]'
expect "query status stream" "$(post "$(mreq 'sim?status=429' "$S")")" 429
expect "query 429 retry-after" "$(grep -i '^retry-after:' "$TMP/head" | tr -d '\r' | cut -d' ' -f2)" 1
expect "query status 2xx" "$(post "$(mreq 'sim?status=203')")" 203
# retry hints on error answers: retry-after and retry-after-ms knobs
rhdr() { grep -i "^$1:" "$TMP/head" | tr -d '\r' | cut -d' ' -f2-; }
post "$(mreq 'sim?status=429&retry-after-ms=1500.5&retry-after=none')" >/dev/null
expect "retry-after-ms knob" "$(rhdr retry-after-ms)" 1500.5
expect "retry-after none" "$(rhdr retry-after)" ""
post "$(mreq 'sim?status=503&retry-after=120')" >/dev/null
expect "retry-after on 503" "$(rhdr retry-after)" 120
post "$REQ" -H 'x-fake-status: 503' >/dev/null
expect "503 no retry-after by default" "$(rhdr retry-after)" ""
post "$REQ" -H 'x-fake-status: 429' -H 'x-fake-retry-after: date+30' >/dev/null
ra=$(rhdr retry-after)
expect "retry-after date form" "$(echo "$ra" | grep -cE '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$')" 1
ahead=$(( $(date -u -d "$ra" +%s) - $(date -u +%s) ))
if [ "$ahead" -ge 28 ] && [ "$ahead" -le 30 ]; then ok; else bad "retry-after date+30 is $ahead s ahead"; fi
post "$REQ" -H 'x-fake-status: 429' -H 'x-fake-retry-after: date-30' >/dev/null
behind=$(( $(date -u +%s) - $(date -u -d "$(rhdr retry-after)" +%s) ))
if [ "$behind" -ge 29 ] && [ "$behind" -le 31 ]; then ok; else bad "retry-after date-30 is $behind s behind"; fi
post "$REQ" -H 'x-fake-retry-after-ms: 10' >/dev/null
expect "no retry hint on a 200" "$(rhdr retry-after-ms)" ""
expect "retry-after date+x" "$(post "$REQ" -H 'x-fake-retry-after: date+x')" 400
expect "retry-after too long" "$(post "$(mreq "sim?retry-after-ms=$(printf '1%.0s' {1..64})")")" 400
post "$(mreq 'sim?tokens=3')" >/dev/null
expect "query tokens" "$(content)" '[smoke] answer to: '
expect "query model echoed whole" "$(jq -r .model "$TMP/body")" 'sim?tokens=3'
post "$(mreq 'sim?content=hello%20world')" >/dev/null
expect "query content decoded" "$(jq -c '[.choices[0].message.content, .usage.completion_tokens]' "$TMP/body")" '["hello world",2]'
post "$(mreq 'sim?content=a%26b%3Dc+d%25&tokens=1')" >/dev/null
expect "query content: split on & before decoding, + stays" "$(content)" 'a&b=c+d%'
post "$(mreq 'sim?empty=1')" >/dev/null
expect "query empty" "$(jq -c '[.choices[0].message.content, .usage.completion_tokens]' "$TMP/body")" '["",0]'
post "$(mreq 'sim?empty=0')" >/dev/null
expect "query empty=0" "$(content)" "$ANSWER"
post "$(mreq 'sim?no-usage=1' "$SU")" >/dev/null
expect "query no-usage stream" "$(events | jq -s 'map(has("usage")) | any')" false
post "$(mreq 'sim?no-usage')" >/dev/null
expect "query bare flag" "$(jq 'has("usage")' "$TMP/body")" false
expect "query malformed status" "$(post "$(mreq 'sim?malformed=1')")" 200
expect_true "query malformed body is not JSON" bash -c "! jq . '$TMP/body' >/dev/null 2>&1"
post "$(mreq 'sim?cut-after=3' "$S")" >/dev/null
expect "query cut pieces" "$(pieces)" 3
expect "query cut no [DONE]" "$(grep -c 'DONE' "$TMP/body")" 0
t=$(curl -sS -o /dev/null -w '%{time_total}' --data-binary "$(mreq 'sim?latency-ms=300')" "$URL/v1/chat/completions")
expect_true "query latency 300ms (took $t)" ge "$t" 0.29
t=$(curl -sS -N -o "$TMP/body" -w '%{time_starttransfer} %{time_total}' --data-binary "$(mreq 'sim?ttft-ms=300' "$S")" "$URL/v1/chat/completions")
expect_true "query ttft: head early (${t% *})" lt "${t% *}" 0.25
expect_true "query ttft: 300ms to the end (${t#* })" ge "${t#* }" 0.29
t=$(curl -sS -N -o "$TMP/body" -w '%{time_total}' --data-binary "$(mreq 'sim?tokens-per-sec=20&tokens=30' "$S")" "$URL/v1/chat/completions")
expect_true "query tps 20, 30 tokens: 1.45s (took $t)" ge "$t" 1.44
expect "query tps pieces" "$(pieces)" 30
curl -sS -o /dev/null --max-time 0.5 --data-binary "$(mreq 'sim?hang=1')" "$URL/v1/chat/completions" 2>/dev/null
expect "query hang times out" "$?" 28
post "$(mreq 'sim-tokens4?tokens=2')" >/dev/null
expect "query after name knobs" "$(content)" '[smoke] answer '
post "$(mreq 'sim?tokens=3')" -H 'x-fake-tokens: 5' >/dev/null
expect "header after query" "$(jq .usage.completion_tokens "$TMP/body")" 5
expect "query: no name knobs in the query" "$(post "$(mreq 'sim?content=hang%20fail500')")" 200
expect "query: ... content kept" "$(content)" 'hang fail500'
expect "query bad value" "$(post "$(mreq 'sim?tokens=many')")" 400
expect_true "query bad value message" grep -q "knob tokens: 'many' is not a number" "$TMP/body"
expect "query unknown knob" "$(post "$(mreq 'sim?bogus=1')")" 400
expect_true "query unknown knob message" grep -q "unknown knob 'bogus'" "$TMP/body"
expect "query bad escape" "$(post "$(mreq 'sim?content=%zz')")" 400
expect "query value missing" "$(post "$(mreq 'sim?tokens')")" 400

# --- bad answers on demand: finish, content-json, bad-every, bad, bad-content -----
REFUSAL="I'm sorry, but I can't help with that request."
JANSWER="{\"answer\": \"${ANSWER% }\", \"ok\": true}"
hdr() { grep -i "^$1:" "$TMP/head" | tr -d '\r' | cut -d' ' -f2-; }
is_stream() { grep -q '^data: ' "$TMP/body"; }
# The answer's text and finish_reason, from a plain or a stream body.
text() { if is_stream; then events | jq -j '.choices[0].delta.content // ""'; else content; fi; }
finish() { if is_stream; then events | jq -r '.choices[0].finish_reason // empty'; else jq -r '.choices[0].finish_reason' "$TMP/body"; fi; }
ctokens() { if is_stream; then events | tail -1 | jq .usage.completion_tokens; else jq .usage.completion_tokens "$TMP/body"; fi; }
parses() { text | jq -e . >/dev/null 2>&1; }
not_json() { ! parses; }
# badrun N MODEL [EXTRA [curl args...]]: N requests; per request "X-FAKE-BAD:g" when
# the answer is the normal one ($ANSWER), ":b" when it is not.
badrun() {
    local n=$1 model=$2 extra=${3:-} i out=""
    shift $(($# < 3 ? $# : 3))
    for i in $(seq "$n"); do
        post "$(mreq "$model" "$extra")" "$@" >/dev/null
        out+="$(hdr x-fake-bad):$([ "$(text)" == "$ANSWER" ] && echo g || echo b) "
    done
    echo "$out"
}
EVERY3='0:g 0:g 1:b 0:g 0:g 1:b 0:g 0:g 1:b '

post "$(mreq 'sim?finish=length')" >/dev/null
expect "finish=length" "$(finish):$(text)" "length:$ANSWER"
expect "finish: no x-fake-bad without bad knobs" "$(hdr x-fake-bad)" ""
post "$(mreq 'sim?finish=length' "$SU")" >/dev/null
expect "finish=length stream" "$(finish):$(text)" "length:$ANSWER"
expect "finish=length stream usage" "$(ctokens)" 16
expect "finish=length stream: one finish_reason, in the last choice chunk" "$(events | jq -c '.choices[0].finish_reason' | grep -vc null)" 1
post "$REQ" -H 'x-fake-finish: content_filter' >/dev/null
expect "finish header" "$(finish)" content_filter
post "$(mreq 'sim-finishlength')" >/dev/null
expect "finish model-name knob" "$(finish)" length

post "$(mreq 'sim?content-json')" >/dev/null
expect "content-json" "$(text)" "$JANSWER"
expect_true "content-json parses" parses
expect "content-json object" "$(text | jq -c '[.ok, (.answer | startswith("[smoke] answer to: hello there, fake lorem"))]')" '[true,true]'
expect "content-json tokens = words" "$(ctokens)" 19
expect "content-json finish" "$(finish)" stop
post "$(mreq 'sim?content-json' "$SU")" >/dev/null
expect "content-json stream = plain" "$(text)" "$JANSWER"
expect "content-json stream pieces" "$(pieces)" 19
# tool-call: the content-json object becomes a call's arguments
post "$(mreq 'sim?tool-call=get_weather')" >/dev/null
expect "tool-call content" "$(jq -c '.choices[0].message.content' "$TMP/body")" null
expect "tool-call name" "$(jq -r '.choices[0].message.tool_calls[0].function.name' "$TMP/body")" get_weather
expect "tool-call arguments" "$(jq -r '.choices[0].message.tool_calls[0].function.arguments' "$TMP/body")" "$JANSWER"
expect "tool-call finish" "$(finish)" tool_calls
post "$(mreq 'sim?tool-call=get_weather' "$SU")" >/dev/null
expect "tool-call stream head" "$(events | jq -c 'select(.choices[0].delta.tool_calls[0].id?) | .choices[0].delta.tool_calls[0] | [.index, .function.name, .function.arguments]')" '[0,"get_weather",""]'
expect "tool-call stream arguments = plain" "$(events | jq -j '.choices[0].delta.tool_calls[0].function.arguments? // ""')" "$JANSWER"
expect "tool-call stream finish" "$(finish)" tool_calls
expect "content-json stream usage" "$(ctokens)" 19
post "$REQ" -H 'x-fake-content-json: 1' >/dev/null
expect_true "content-json header parses" parses
post "$(mreq 'sim-contentjson')" >/dev/null
expect "content-json model-name knob" "$(text)" "$JANSWER"
post '{"model":"sim?content-json&tokens=5","messages":[{"role":"user","content":"a \"quoted\\ word"}]}' >/dev/null
expect "content-json escapes the words" "$(text | jq -r .answer)" '[smoke] answer to: a "quoted\'
post "$(mreq 'sim?content-json&content=plain%20words')" >/dev/null
expect "content wins over content-json" "$(text)" 'plain words'

expect "bad-every=3, refusal: 1 bad in every 3" "$(badrun 9 'sim?bad-every=3&bad=refusal')" "$EVERY3"
expect "bad-every=3, bad one is the refusal" "$(text)" "$REFUSAL"
expect "bad-every=3 stream" "$(badrun 9 'sim?bad=refusal&bad-every=3' "$S")" "$EVERY3"
expect "bad-every=3 stream, bad one" "$(finish):$(text)" "stop:$REFUSAL"
expect "bad-every=3, header knobs" "$(badrun 9 'sim-hdr' '' -H 'x-fake-bad-every: 3' -H 'x-fake-bad: schema')" "$EVERY3"
expect "bad-every=3, header knobs: bad one" "$(text)" '{"unexpected": true}'
expect "bad-every model-name knobs" "$(badrun 4 'sim-badevery2-badcut')" '0:g 1:g 0:g 1:g '
expect "bad-every model-name knobs: cut" "$(finish)" length
expect "bad-every without bad: empty" "$(badrun 2 'sim?bad-every=2')" '0:g 1:b '
expect "bad-every without bad: empty content" "$(jq -c '[.choices[0].message.content, .usage.completion_tokens]' "$TMP/body")" '["",0]'
expect "bad-content alone: text" "$(badrun 2 'sim?bad-every=2&bad-content=meh')" '0:g 1:b '
expect "bad-content alone: its content" "$(text)" meh
expect "bad-every counts per model id: a" "$(badrun 1 'a?bad-every=2') $(badrun 1 'b?bad-every=2')" '0:g  0:g '
expect "bad-every counts per model id: b" "$(badrun 1 'a?bad-every=2') $(badrun 1 'b?bad-every=2')" '1:b  1:b '
expect "bad-every=0 header turns it off" "$(badrun 2 'sim?bad-every=1' '' -H 'x-fake-bad-every: 0')" ':g :g '
expect "bad-every bad value" "$(post "$(mreq 'sim?bad-every=x')")" 400
expect "bad-every negative" "$(post "$(mreq 'sim?bad-every=-1')")" 400
expect "bad unknown variant" "$(post "$(mreq 'sim?bad=rude')")" 400
expect_true "bad unknown variant message" grep -q "knob bad: 'rude' is not one of empty, refusal, cut, json, schema, text" "$TMP/body"
expect "bad=text without bad-content" "$(post "$(mreq 'sim?bad=text')")" 400
expect_true "bad=text without bad-content message" grep -q 'bad=text needs bad-content' "$TMP/body"

# every variant, with bad alone (every answer bad), plain and stream:
# "finish|content|completion tokens"
variant_want() {
    case $1 in
    empty) echo "stop||0" ;;
    refusal) echo "stop|$REFUSAL|9" ;;
    cut) echo "length|$ANSWER|16" ;;
    json) echo 'stop|{"name": "Ada", "age":|3' ;;
    schema) echo 'stop|{"unexpected": true}|2' ;;
    'text&bad-content=no%20way') echo "stop|no way|2" ;;
    esac
}
for v in empty refusal cut json schema 'text&bad-content=no%20way'; do
    want=$(variant_want "$v")
    post "$(mreq "sim?bad=$v")" >/dev/null
    expect "bad=$v" "$(finish)|$(text)|$(ctokens)" "$want"
    expect "bad=$v x-fake-bad" "$(hdr x-fake-bad)" 1
    post "$(mreq "sim?bad=$v" "$SU")" >/dev/null
    expect "bad=$v stream" "$(finish)|$(text)|$(ctokens)" "$want"
    expect "bad=$v stream x-fake-bad" "$(hdr x-fake-bad)" 1
    expect_true "bad=$v stream ends" grep -q '^data: \[DONE\]' "$TMP/body"
done
post "$(mreq 'sim?bad=json')" >/dev/null
expect_true "bad=json is not JSON" not_json
post "$(mreq 'sim?bad=schema')" >/dev/null
expect "bad=schema is JSON without the asked-for fields" "$(text | jq -c 'keys')" '["unexpected"]'
post "$(mreq 'sim?bad=json&content-json')" >/dev/null
expect_true "bad=json wins over content-json" not_json
post "$(mreq 'sim?bad-every=1&bad=cut&content-json')" >/dev/null
expect "bad=cut keeps content-json's content" "$(finish)|$(text)" "length|$JANSWER"
stats >"$TMP/stats"
expect "stats bad_every" "$(jq -c '.bad_every["sim?bad-every=3&bad=refusal"]' "$TMP/stats")" '{"requests":9,"bad":3}'
expect "stats bad_every, name knobs" "$(jq -c '.bad_every["sim-badevery2-badcut"]' "$TMP/stats")" '{"requests":4,"bad":2}'
expect_true "stats bad >= 25" [ "$(jq .bad "$TMP/stats")" -ge 25 ]

# --- reading the body (cJSON, kept as strict as before) --------------------------
post '{"model":"sim","model":"sim-tokens2","messages":[{"role":"user","content":"x"}]}' >/dev/null
expect "duplicate key: the last counts" "$(jq -c '[.model, .usage.completion_tokens]' "$TMP/body")" '["sim-tokens2",2]'
post '{"model":"sim","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"two"}]}]}' -H 'x-fake-tokens: 6' >/dev/null
expect "content parts" "$(jq -c '[.choices[0].message.content, .usage.prompt_tokens]' "$TMP/body")" '["[smoke] answer to: one two lorem ",4]'
post '{"model":"sim","messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00 ok"}]}' -H 'x-fake-tokens: 6' >/dev/null
expect "unicode escapes" "$(content)" '[smoke] answer to: café 😀 ok '
expect "not UTF-8" "$(post $'{"model":"sim\xff","messages":[{"role":"user","content":"x"}]}')" 400
expect_true "not UTF-8 message" grep -q 'line 1 column 14: bytes that are not UTF-8' "$TMP/body"
expect "raw control character" "$(post $'{"model":"sim","messages":[{"role":"user","content":"a\tb"}]}')" 400
expect "number 01" "$(post '{"model":"sim","n":01,"messages":[{"role":"user","content":"x"}]}')" 400
expect "bad \\u escape" "$(post '{"model":"sim","messages":[{"role":"user","content":"\u12G4"}]}')" 400
expect "text after the value" "$(post "$REQ x")" 400
expect_true "text after the value message" grep -q 'more text after the JSON value' "$TMP/body"
expect "not an object" "$(post '[1]')" 400
expect_true "not an object message" grep -q 'must be a JSON object' "$TMP/body"
expect "role missing" "$(post '{"model":"sim","messages":[{"role":"user","content":"x"},{"content":"y"}]}')" 400
expect_true "role missing message" grep -q "messages\[1\].role" "$TMP/body"

expect "bad knob" "$(post "$REQ" -H 'x-fake-tokens: many')" 400
expect "bad json" "$(post '{"model":')" 400
expect "bad json type" "$(jq -r .error.type "$TMP/body")" invalid_request_error
expect_true "bad json message" grep -q 'the request body is not JSON: line 1 column 10: the text ends before the JSON value does' "$TMP/body"
expect "stats: a body that is not JSON is kept as text" "$(stats | jq -c .last_request.body)" '"{\"model\":"'

expect "no messages" "$(post '{"model":"sim","messages":[]}')" 400

# --- /stats and /v1/models --------------------------------------------------------
sleep 0.2 # let the hung request's abort land
stats >"$TMP/stats"
expect_true "stats cancelled >= 1" [ "$(jq .cancelled "$TMP/stats")" -ge 1 ]
expect_true "stats cut >= 3" [ "$(jq .cut "$TMP/stats")" -ge 3 ]
expect_true "stats streams >= 10" [ "$(jq .streams "$TMP/stats")" -ge 10 ]
expect "stats by_model" "$(jq -c '[.by_model["judge-fail500"], .by_model["fail429"], .by_model["sim?status=500"]]' "$TMP/stats")" '[1,1,1]'
curl -sS "$URL/v1/models" >"$TMP/models"
expect "models list" "$(jq -c '[.object, (.data | map(.id) | index("sim") != null), (.data | map(.id) | index("sim-tokens4") != null)]' "$TMP/models")" '["list",true,true]'

expect "reset" "$(curl -sS -X POST "$URL/stats/reset")" '{"ok":true}'
expect "after reset" "$(stats | jq -c '[.requests, .streams, .cancelled, .bad, .bad_every, .last_request]')" '[0,0,0,0,{},null]'
expect "reset restarts bad-every" "$(badrun 3 'sim?bad-every=3&bad=refusal')" '0:g 0:g 1:b '
curl -sS -X POST -o /dev/null "$URL/stats/reset"
post "$UREQ" -H 'authorization: Bearer sk-test' >/dev/null
stats >"$TMP/stats"
expect "stats counts" "$(jq -c '[.requests, .streams, .by_model]' "$TMP/stats")" '[1,1,{"sim":1}]'
expect "stats last" "$(jq -c '.last_request | [.model, .stream, .stream_options, .messages, .authorization, .authorization_value, .key_ok, .body_bytes]' "$TMP/stats")" \
    "[\"sim\",true,{\"include_usage\":true},2,\"present\",\"Bearer <redacted:7 chars>\",true,${#UREQ}]"
expect "stats body" "$(jq -c .last_request.body "$TMP/stats")" "$(echo "$UREQ" | jq -c .)"
post "$REQ" -H 'authorization: Bearer sk-wrong!' >/dev/null
expect "stats wrong key" "$(stats | jq -c '.last_request | [.authorization_value, .key_ok]')" '["Bearer <redacted:9 chars>",false]'
post "$REQ" >/dev/null
expect "stats no key" "$(stats | jq -c '.last_request | [.authorization, .authorization_value, .key_ok]')" '["absent",null,false]'

# --- Anthropic Messages: POST /v1/messages ------------------------------------------
curl -sS -X POST -o /dev/null "$URL/stats/reset"
AREQ='{"model":"sim","max_tokens":256,"system":"Be brief.","messages":[{"role":"user","content":"hello there, fake"}]}'
# amreq MODEL [EXTRA]: the Messages request of $AREQ for MODEL, EXTRA fields first.
amreq() { printf '{"model":"%s",%s"max_tokens":256,"system":"Be brief.","messages":[{"role":"user","content":"hello there, fake"}]}' "$1" "${2:-}"; }
# apost BODY [curl args...]: POST to /v1/messages with the right key and
# anthropic-version (apost_bare: without them); like post.
apost_bare() {
    local body=$1
    shift
    curl -sS -N --max-time 10 -o "$TMP/body" -D "$TMP/head" -w '%{http_code}' -H 'content-type: application/json' \
        --data-binary "$body" "$@" "$URL/v1/messages" 2>/dev/null
}
apost() { apost_bare "$@" -H 'x-api-key: sk-test' -H 'anthropic-version: 2023-06-01'; }
# A stream's event names and data, one a line.
anames() { sed -n 's/^event: //p' "$TMP/body" | tr -d '\r'; }
adata() { sed -n 's/^data: //p' "$TMP/body" | tr -d '\r'; }
# The data of the events of one type.
aevent() { adata | jq -c "select(.type == \"$1\")"; }
# The text a stream carries: text deltas, or a tool call's partial JSON.
atext() { adata | jq -j 'select(.type == "content_block_delta") | .delta.text // .delta.partial_json'; }
adeltas() { aevent content_block_delta | wc -l | tr -d ' '; }
ASEQ='message_start content_block_start ping content_block_delta content_block_stop message_delta message_stop '
ausage() { jq -c '[.usage.input_tokens, .usage.output_tokens]' "$TMP/body"; }
cusage() { jq -c '[.usage.prompt_tokens, .usage.completion_tokens]' "$TMP/body"; }

# plain: the chat endpoint's answer and token counts, in Anthropic's shape
expect "messages status" "$(apost "$AREQ")" 200
expect "messages content-type" "$(hdr content-type)" application/json
expect_true "messages id" grep -q '"id":"msg_fake_[0-9]*"' "$TMP/body"
expect "messages fields" "$(jq -c '[.type, .role, .model, .stop_reason, .stop_sequence, (.content | length), .content[0].type]' "$TMP/body")" \
    '["message","assistant","sim","end_turn",null,1,"text"]'
expect "messages text" "$(jq -j '.content[0].text' "$TMP/body")" "$ANSWER"
expect "messages usage" "$(jq -c .usage "$TMP/body")" '{"input_tokens":7,"output_tokens":16}'
musage=$(ausage)
post "$REQ" >/dev/null
expect "messages usage = chat usage" "$musage" "$(cusage)"
expect "messages alias path" "$(curl -sS -o /dev/null -w '%{http_code}' -H 'x-api-key: sk-test' -H 'anthropic-version: 1' --data-binary "$AREQ" "$URL/messages")" 200
# blocks: the system prompt's and every message's text count; the snippet is
# the last user message's text blocks (a tool_result's content counts as a
# tool message's does in chat)
apost '{"model":"sim","max_tokens":9,"system":[{"type":"text","text":"Be brief."}],"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"hello"}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"},{"type":"text","text":"one"},{"type":"image","source":{"type":"url","url":"x"}},{"type":"text","text":"two"}]}]}' -H 'x-fake-tokens: 6' >/dev/null
mblocks="$(jq -j '.content[0].text' "$TMP/body")|$(ausage)"
post '{"model":"sim","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"tool","tool_call_id":"t1","content":"sunny"},{"role":"user","content":[{"type":"text","text":"one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"two"}]}]}' -H 'x-fake-tokens: 6' >/dev/null
expect "messages blocks = chat parts" "$mblocks" "$(content)|$(cusage)"
expect "messages blocks" "$mblocks" '[smoke] answer to: one two lorem |[7,6]'

# stream: the same pieces as chat's, as Anthropic's events
expect "messages stream status" "$(apost "$(amreq sim '"stream":true,')")" 200
expect "messages stream content-type" "$(hdr content-type)" text/event-stream
expect "messages stream events" "$(anames | uniq | tr '\n' ' ')" "$ASEQ"
expect "messages stream: each data's type is its event's" "$(adata | jq -r .type)" "$(anames)"
expect "messages stream: every event is 'event:' then 'data:'" "$(grep -v '^$' "$TMP/body" | tr -d '\r' | cut -d: -f1 | paste -d' ' - - | sort -u)" 'event data'
expect "messages stream: one ping, after content_block_start" "$(anames | grep -n ping)" '3:ping'
expect "messages stream deltas" "$(adeltas)" 16
expect "messages stream text = plain" "$(atext)" "$ANSWER"
expect "messages stream delta form" "$(aevent content_block_delta | head -1)" '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"[smoke] "}}'
expect "messages stream start" "$(aevent message_start | jq -c '[.message.id[:9], .message.model, .message.content, .message.stop_reason, .message.usage]')" \
    '["msg_fake_","sim",[],null,{"input_tokens":7,"output_tokens":1}]'
expect "messages stream block start" "$(aevent content_block_start)" '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'
expect "messages stream block stop" "$(aevent content_block_stop)" '{"type":"content_block_stop","index":0}'
expect "messages stream delta" "$(aevent message_delta)" '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":16}}'
expect "messages stream stop last" "$(tail -c 51 "$TMP/body" | od -An -c | tr -d ' \n')" 'event:message_stop\ndata:{"type":"message_stop"}\n\n'

# tool-call: the content-json object as a tool_use block's input
apost "$(amreq 'sim?tool-call=get_weather')" >/dev/null
expect "messages tool-call block" "$(jq -c '[.stop_reason, (.content | length), .content[0].type, .content[0].id[:11], .content[0].name]' "$TMP/body")" \
    '["tool_use",1,"tool_use","toolu_fake_","get_weather"]'
expect "messages tool-call input" "$(jq -c '.content[0].input' "$TMP/body")" "$(echo "$JANSWER" | jq -c .)"
expect "messages tool-call usage" "$(jq .usage.output_tokens "$TMP/body")" 19
apost "$(amreq 'sim?tool-call=get_weather' '"stream":true,')" >/dev/null
expect "messages tool-call stream events" "$(anames | uniq | tr '\n' ' ')" "$ASEQ"
expect "messages tool-call stream block" "$(aevent content_block_start | jq -c '.content_block | [.type, .id[:11], .name, .input]')" '["tool_use","toolu_fake_","get_weather",{}]'
expect "messages tool-call stream deltas" "$(aevent content_block_delta | jq -r .delta.type | sort -u)" input_json_delta
expect "messages tool-call stream input = plain" "$(atext)" "$JANSWER"
expect "messages tool-call stream stop" "$(aevent message_delta | jq -c '[.delta.stop_reason, .usage.output_tokens]')" '["tool_use",19]'

# knobs
expect "messages status 503" "$(apost "$AREQ" -H 'x-fake-status: 503')" 503
expect "messages 503 body" "$(jq -c . "$TMP/body")" '{"type":"error","error":{"type":"overloaded_error","message":"fake upstream error"}}'
expect "messages status 429, stream" "$(apost "$(amreq 'sim?status=429' '"stream":true,')")" 429
expect "messages 429 body" "$(jq -c '[.type, .error.type]' "$TMP/body")" '["error","rate_limit_error"]'
expect "messages 429 retry-after" "$(hdr retry-after)" 1
expect "messages status 529" "$(apost "$(amreq 'sim-fail529')")" 529
expect "messages 529 type" "$(jq -r .error.type "$TMP/body")" overloaded_error
expect "messages status 500" "$(apost "$(amreq 'sim?status=500')")" 500
expect "messages 500 type" "$(jq -r .error.type "$TMP/body")" api_error
expect "messages status 422" "$(apost "$AREQ" -H 'x-fake-status: 422')" 422
expect "messages 422 type" "$(jq -r .error.type "$TMP/body")" invalid_request_error
apost "$(amreq 'sim?tokens=3')" >/dev/null
expect "messages tokens" "$(jq -j '.content[0].text' "$TMP/body")|$(jq .usage.output_tokens "$TMP/body")" '[smoke] answer to: |3'
apost "$(amreq 'sim?content=Hi%20%20there' '"stream":true,')" >/dev/null
expect "messages content stream pieces" "$(aevent content_block_delta | jq -c .delta.text | tr '\n' ,)" '"Hi  ","there",'
apost "$AREQ" -H 'x-fake-empty: 1' >/dev/null
expect "messages empty" "$(jq -c '[.content, .usage.output_tokens]' "$TMP/body")" '[[{"type":"text","text":""}],0]'
apost "$(amreq 'sim?empty' '"stream":true,')" >/dev/null
expect "messages empty stream" "$(adeltas)|$(anames | tr '\n' ' ')" '0|message_start content_block_start ping content_block_stop message_delta message_stop '
apost "$(amreq 'sim?no-usage')" >/dev/null
expect "messages no-usage" "$(jq 'has("usage")' "$TMP/body")" false
apost "$(amreq 'sim?no-usage' '"stream":true,')" >/dev/null
expect "messages no-usage stream" "$(adata | jq -s 'map(has("usage") or (.message? // {} | has("usage"))) | any')" false
apost "$(amreq 'sim?finish=length')" >/dev/null
expect "messages finish=length is max_tokens" "$(jq -r .stop_reason "$TMP/body")" max_tokens
expect "messages malformed" "$(apost "$AREQ" -H 'x-fake-malformed: 1')" 200
expect_true "messages malformed body is not JSON" bash -c "! jq . '$TMP/body' >/dev/null 2>&1"
apost "$(amreq 'sim?cut-after=3' '"stream":true,')" >/dev/null
expect "messages cut: 3 deltas, no message_stop" "$(adeltas)|$(anames | grep -c message_stop)" '3|0'
curl -sS -N -o /dev/null -H 'x-api-key: sk-test' -H 'anthropic-version: 1' --data-binary "$(amreq 'sim?cut-after=3' '"stream":true,')" "$URL/v1/messages" 2>/dev/null
rc=$?
expect_true "messages cut is an error for the client (curl rc $rc)" [ "$rc" -ne 0 ]
t=$(curl -sS -N -o "$TMP/body" -w '%{time_total}' -H 'x-api-key: sk-test' -H 'anthropic-version: 1' --data-binary "$(amreq 'sim?tokens-per-sec=20&tokens=6' '"stream":true,')" "$URL/v1/messages")
expect_true "messages tps 20, 6 tokens: 250ms (took $t)" ge "$t" 0.24
expect "messages tps deltas" "$(adeltas)" 6
t=$(curl -sS -N -o "$TMP/body" -w '%{time_starttransfer} %{time_total}' -H 'x-api-key: sk-test' -H 'anthropic-version: 1' --data-binary "$(amreq 'sim?ttft-ms=300&latency-ms=100' '"stream":true,')" "$URL/v1/messages")
expect_true "messages latency: head after 100ms (${t% *})" ge "${t% *}" 0.09
expect_true "messages ttft: head early (${t% *})" lt "${t% *}" 0.3
expect_true "messages ttft: 400ms to the end (${t#* })" ge "${t#* }" 0.39
curl -sS -o /dev/null --max-time 0.5 -H 'x-api-key: sk-test' -H 'anthropic-version: 1' --data-binary "$(amreq 'sim?hang')" "$URL/v1/messages" 2>/dev/null
expect "messages hang times out" "$?" 28

# requests Anthropic refuses
expect "messages not JSON" "$(apost '{"model":')" 400
expect "messages not JSON body" "$(jq -c '[.type, .error.type]' "$TMP/body")" '["error","invalid_request_error"]'
expect_true "messages not JSON message" grep -q 'the request body is not JSON: line 1 column 10' "$TMP/body"
expect "messages no max_tokens" "$(apost '{"model":"sim","messages":[{"role":"user","content":"x"}]}')" 400
expect "messages no max_tokens message" "$(jq -r .error.message "$TMP/body")" 'max_tokens: Field required'
expect "messages no model" "$(apost '{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}')" 400
expect "messages no messages" "$(apost '{"model":"sim","max_tokens":5}')" 400
expect "messages system role" "$(apost '{"model":"sim","max_tokens":5,"messages":[{"role":"system","content":"x"}]}')" 400
expect "messages system role message" "$(jq -r .error.message "$TMP/body")" "messages.0.role: Input should be 'user' or 'assistant'"
expect "messages bad knob" "$(apost "$AREQ" -H 'x-fake-tokens: many')" 400
expect "messages bad knob body" "$(jq -r .error.type "$TMP/body")" invalid_request_error

# --expect-key: x-api-key: KEY and anthropic-version, or a 401
curl -sS -X POST -o /dev/null "$URL/stats/reset"
apost "$AREQ" >/dev/null
apost "$(amreq sim '"stream":true,')" >/dev/null
stats >"$TMP/stats"
expect "messages stats counts" "$(jq -c '[.requests, .streams, .by_model]' "$TMP/stats")" '[2,1,{"sim":2}]'
expect "messages stats last" "$(jq -c '.last_request | [.path, .model, .stream, .messages, .key_header, .authorization, .authorization_value, .key_ok, .anthropic_version]' "$TMP/stats")" \
    '["/v1/messages","sim",true,1,"x-api-key","present","<redacted:7 chars>",true,"2023-06-01"]'
expect "messages wrong key" "$(apost_bare "$AREQ" -H 'x-api-key: sk-wrong!' -H 'anthropic-version: 2023-06-01')" 401
expect "messages wrong key body" "$(jq -c . "$TMP/body")" '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'
expect "messages wrong key stats" "$(stats | jq -c '.last_request | [.authorization_value, .key_ok]')" '["<redacted:9 chars>",false]'
expect "messages Bearer key refused" "$(apost_bare "$AREQ" -H 'authorization: Bearer sk-test' -H 'anthropic-version: 2023-06-01')" 401
expect "messages Bearer key stats" "$(stats | jq -c '.last_request | [.key_header, .authorization, .key_ok]')" '["x-api-key","absent",false]'
expect "messages no anthropic-version" "$(apost_bare "$AREQ" -H 'x-api-key: sk-test')" 401
expect "messages no anthropic-version message" "$(jq -r .error.message "$TMP/body")" 'anthropic-version: header is required'
expect "messages no anthropic-version stats" "$(stats | jq -c '.last_request | [.key_ok, .anthropic_version]')" '[true,null]'
expect "messages key before body" "$(apost_bare '{"model":')" 401
expect "chat still only reports the key" "$(post "$REQ")" 200
expect "chat stats key header" "$(stats | jq -c '.last_request | [.key_header, .key_ok]')" '["authorization",false]'

# --- graceful stop ---------------------------------------------------------------
kill -TERM "$MAIN_PID"
for i in $(seq 50); do kill -0 "$MAIN_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MAIN_PID" 2>/dev/null; then
    bad "SIGTERM: still running after 5s"
else
    wait "$MAIN_PID"
    expect "SIGTERM exit status" "$?" 0
fi

# --- run-level failures, determinism, workers ---------------------------------------
codes() { # N requests in a row, their statuses as one string
    local i out=""
    for i in $(seq "$1"); do out+=$(curl -sS -o /dev/null -w '%{http_code} ' --data-binary "$REQ" "$URL/v1/chat/completions"); done
    echo "$out"
}
start rate1 --status 503 --fail-rate 0.5 --seed 42
URL="http://127.0.0.1:$PORT"
run1=$(codes 20)
start rate2 --status 503 --fail-rate 0.5 --seed 42
URL="http://127.0.0.1:$PORT"
run2=$(codes 20)
expect "fail-rate reproducible" "$run1" "$run2"
expect_true "fail-rate mixes 200 and 503 ($run1)" bash -c "[[ '$run1' == *200* && '$run1' == *503* ]]"
expect "header overrides --fail-rate" "$(post "$REQ" -H 'x-fake-status: 200')" 200

start always --status 502
URL="http://127.0.0.1:$PORT"
expect "--status alone" "$(codes 3)" "502 502 502 "

start workers --workers 2 --name w2
URL="http://127.0.0.1:$PORT"
expect "workers serve" "$(codes 10)" "$(printf '200 %.0s' $(seq 10))"
expect "workers share stats" "$(stats | jq -c '[.name, .requests]')" '["w2",10]'
expect "messages without --expect-key: no key needed" "$(apost_bare "$AREQ")" 200
expect "messages without --expect-key: key_ok null" "$(stats | jq -c '.last_request | [.authorization, .key_ok]')" '["absent",null]'
ANSWER='[w2] answer to: hello there, fake lorem ipsum dolor sit amet consectetur adipiscing elit sed do '
expect "workers: bad-every=3 exact across workers" "$(badrun 9 'sim?bad-every=3')" "$EVERY3"
expect "workers: bad-every stats" "$(stats | jq -c '[.bad, .bad_every["sim?bad-every=3"]]')" '[3,{"requests":9,"bad":3}]'
n=$(seq 30 | xargs -P 6 -I{} curl -sS -D - -o /dev/null --data-binary "$(mreq 'sim?bad-every=3&bad=json')" "$URL/v1/chat/completions" |
    tr -d '\r' | grep -ic '^x-fake-bad: 1$')
expect "workers: bad-every=3, 30 concurrent requests, 10 bad" "$n" 10

# --- every instance stops cleanly on SIGTERM, without sanitizer reports -----
for i in "${!PIDS[@]}"; do
    p=${PIDS[$i]}
    [ "$p" = "$MAIN_PID" ] && continue
    kill -TERM "$p" 2>/dev/null
    wait "$p"
    expect "${TAGS[$i]}: exit status after SIGTERM" "$?" 0
done
if grep -l -E 'Sanitizer|runtime error' "$TMP"/*.err >/dev/null 2>&1; then
    bad "sanitizer reports:"
    cat "$TMP"/*.err >&2
fi
PIDS=()

if [ "$FAILED" -ne 0 ]; then
    echo "smoke.sh: $PASSED passed, $FAILED failed" >&2
    exit 1
fi
echo "smoke.sh: $PASSED passed, 0 failed"
