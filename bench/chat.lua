-- chat.lua: the wrk script of allot's benchmark (bench/run.sh).
--
-- Every request is the same ~1 KB non-streamed chat completion: a system
-- message and a user message whose instruction ("Summarise this article in
-- five bullet points") classifies to the labour tier (category summarize)
-- every time, carrying a short article as material. Model "auto", so allot
-- routes it; the fake upstream and nginx ignore the name.
--
-- The request is built once (no request() hook) and there is no
-- response() hook, both of which would slow wrk down. done() prints one
-- machine-readable line that run.sh parses:
--   BENCH requests=N duration_us=N rps=F p50_us=N p99_us=N mean_us=F
--         max_us=N err_connect=N err_read=N err_write=N err_timeout=N
--         err_status=N
-- err_status counts answers with a status above 399 (wrk's "Non-2xx or
-- 3xx responses" line counts the same thing).
--
-- run.sh also sends this exact body with curl, extracting it from between
-- the BODY-BEGIN and BODY-END lines below: keep them, and keep the body
-- as one JSON document on the lines between them.

-- BODY-BEGIN
local body = [==[
{"model":"auto","stream":false,"temperature":0.2,"max_tokens":300,"messages":[{"role":"system","content":"You are a careful assistant for a newsroom. Answer in plain English, keep to the facts given in the text, and do not add information that is not in it."},{"role":"user","content":"Summarise this article in five bullet points:\n\nThe city library on Harbour Street reopened on Monday after eighteen months of renovation work. The building, which dates from 1911, now has a new roof, step-free access at both entrances and a reading room on the top floor with views over the old port. The children's section has doubled in size and moved to the ground floor, next to a small cafe run by a local bakery. The library now opens from eight in the morning until nine at night on weekdays. More than four hundred people queued outside before the doors opened, and the head librarian said that about two thousand books were borrowed on the first day alone. The renovation cost 6.4 million euros, most of it paid by the regional government, with the rest raised by a public appeal."}]}
]==]
-- BODY-END
body = body:gsub("^%s+", ""):gsub("%s+$", "")

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
-- BENCH_WORK=CATEGORY (run.sh, cpu.sh): also send "X-Allot-Work: CATEGORY",
-- so that allot routes by the client's word and never runs the classifier:
-- a diagnostic of how much of allot's cost the classifier is. nginx and the
-- fake upstream ignore the header.
local work = os.getenv("BENCH_WORK")
if work and work ~= "" then wrk.headers["X-Allot-Work"] = work end

-- BENCH_NEW=1 (run.sh, ab.sh, cpu.sh): every request a new instruction to
-- allot's classifier memo (docs/classifier.md, "The classification,
-- remembered"), as in chat traffic where users do not repeat themselves;
-- without it every request repeats the last, as the steps of an agent's
-- loop do, and allot copies the classification. A hundred requests, each
-- asking for 2 to 101 bullet points instead of five, are built once and
-- sent in turn (more than the 64 a thread's memo keeps, so none is found);
-- the request() hook costs wrk a little on every request, for nginx as
-- for allot.
-- (Built in init(): wrk.host, for the Host header, is set only by then.)
if os.getenv("BENCH_NEW") == "1" then
    local reqs, n = {}, 0
    function init(args)
        for i = 1, 100 do
            local b = body:gsub("five bullet points", (i + 1) .. " bullet points")
            reqs[i] = wrk.format(nil, nil, nil, b)
        end
    end
    function request()
        n = n % 100 + 1
        return reqs[n]
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.2f p50_us=%d p99_us=%d mean_us=%.1f " ..
        "max_us=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d\n",
        summary.requests, summary.duration, summary.requests / secs,
        latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
        e.connect, e.read, e.write, e.timeout, e.status))
end
