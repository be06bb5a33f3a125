/* config_table.c: every allot.yaml key in one table.
 *
 * The table is the single source of truth for a key's type, bounds, default
 * and help: the loader (config.c) parses and validates with it and applies
 * the defaults by feeding the `def` text through the same setter as a
 * file's value, so a default can never be out of its own bounds;
 * allot_config_describe_keys() prints it for `allot config keys`
 * and docs/config.md. Adding a key means adding a row here and a field in
 * config.h; nothing else. */
#include <stdio.h>
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/error.h"
#include "config_table.h"

#define CFG(f) offsetof(struct allot_config, f)
#define PROV(f) offsetof(struct allot_provider, f)
#define MODEL(f) offsetof(struct allot_model, f)
#define CHECK(f) offsetof(struct allot_check_conf, f)
#define CLIENT(f) offsetof(struct allot_client_key, f)

const struct allot__config_key allot__config_keys[] = {
    /* the server */
    {.path = "listen",
     .type = AK_LISTEN,
     .offset = CFG(listen_host),
     .offset2 = CFG(listen_port),
     .def = "127.0.0.1:4000",
     .help = "Address the gateway listens on, host:port; IPv6 as [::1]:4000. "
             "Use 0.0.0.0:4000 to listen on every interface."},
    {.path = "workers",
     .type = AK_INT,
     .offset = CFG(workers),
     .min = 1,
     .max = 64,
     .def = "1",
     .help = "Event-loop threads, each with its own listening socket (SO_REUSEPORT)."},
    {.path = "store",
     .type = AK_SECTION,
     .choices = "path",
     .help = "The ledger store. `store: FILE` is short for `store: {path: FILE}`, and "
             "`store: postgresql://...` for `store: {url: postgresql://...}`."},
    {.path = "store.path",
     .type = AK_STORE,
     .offset = CFG(store_path),
     .offset2 = CFG(store_url),
     .def = "./allot.db",
     .help = "SQLite file holding one ledger row per request; created if missing. A "
             "relative path is relative to the working directory. A postgresql:// or "
             "postgres:// URL here means store.url."},
    {.path = "store.url",
     .type = AK_STORE,
     .flags = AK_URL_ONLY,
     .offset = CFG(store_url),
     .offset2 = CFG(store_url),
     .def_doc = "none",
     .help = "PostgreSQL instead of a SQLite file, for several allot instances sharing one "
             "ledger: a libpq connection URL, postgresql://USER@HOST:PORT/DB?sslmode=require "
             "(postgres:// too). The password is best left to PGPASSWORD or ~/.pgpass; "
             "written in the URL (or as ${PGPASSWORD}) it is never shown in messages. The "
             "server must be reachable when allot serve starts; tables are created if "
             "missing (docs/ledger.md). Give store.path or store.url, not both."},
    {.path = "store.commit_ms",
     .type = AK_LONG,
     .offset = CFG(store_commit_ms),
     .min = 1,
     .max = 200,
     .def = "20",
     .help = "Ledger commit window: rows are committed at least this often, so a crash "
             "loses at most this much of the ledger. Smaller windows mean smaller write "
             "bursts on the writer thread, which a busy machine's tail latency feels."},

    {.path = "store.pending",
     .type = AK_STRING,
     .offset = CFG(store_pending),
     .def_doc = "PATH.pending",
     .help = "File that holds each request's row from before its answer is sent until its "
             "batch commits, so a kill right after an answer loses no row; the next allot "
             "serve or allot report commits what it holds. Default: the SQLite file's path "
             "+ .pending (.pending.1 to .7 when another live allot holds it), "
             "./allot-ledger-HASH.pending for PostgreSQL (HASH: of the URL without password). "
             "\"none\": no such file (a kill then "
             "loses up to commit_ms of rows)."},
    {.path = "store.keep_prompts",
     .type = AK_BOOL,
     .offset = CFG(store_keep_prompts),
     .choices = "all",
     .def = "false",
     .help = "Keep the instruction (system prompt and last user turn, up to 16 KB) in the "
             "ledger's prompt column: true for every request whose answer the quality floor "
             "checked, so `allot train outcomes --from-ledger` can learn from your own "
             "traffic; all for every routed request too, so `allot train kinds "
             "--export-ledger` can write them out to label and teach the classifier your "
             "traffic. Off by default: prompts are your users' data."},

    /* who may call the gateway */
    {.path = "auth",
     .type = AK_SECTION,
     .help = "Client authentication. With keys listed, every request but GET /healthz must "
             "carry one, as \"Authorization: Bearer KEY\" (OpenAI SDKs) or \"x-api-key: KEY\" "
             "(Anthropic SDKs); others get 401. Without keys the gateway is open to whoever "
             "reaches its address."},
    {.path = "auth.keys",
     .type = AK_LIST,
     .arg = AK_SCOPE_CLIENT,
     .max = ALLOT_MAX_CLIENT_KEYS,
     .help = "Client keys. Each request is recorded with its key's name (ledger column "
             "client, `allot report`, /metrics)."},
    {.path = "auth.keys[].name",
     .type = AK_NAME,
     .scope = AK_SCOPE_CLIENT,
     .flags = AK_REQUIRED,
     .offset = CLIENT(name),
     .help = "Unique name of the client (a team, an agent, a job); never the key."},
    {.path = "auth.keys[].key",
     .type = AK_SECRET,
     .scope = AK_SCOPE_CLIENT,
     .offset = CLIENT(key),
     .def_doc = "none",
     .help = "The key, at least 16 characters; write ${ENV_VAR}. Hashed at load; never "
             "printed, logged or shown in errors. Give key or key_sha256, not both."},
    {.path = "auth.keys[].key_sha256",
     .type = AK_STRING,
     .scope = AK_SCOPE_CLIENT,
     .offset = CLIENT(key_sha256),
     .def_doc = "none",
     .help = "The key's SHA-256 as 64 hex digits, so the file holds no key at all "
             "(`allot config new-key NAME` prints a key and this line)."},
    {.path = "auth.keys[].daily_budget_usd",
     .type = AK_NUMBER,
     .scope = AK_SCOPE_CLIENT,
     .offset = CLIENT(daily_budget_usd),
     .dmin = 0,
     .dmax = 1e9,
     .def_doc = "none (no limit)",
     .help = "Spend allowed per UTC day, in USD: once the client's requests of the day cost "
             "this much, its next ones get 429 until 00:00 UTC. Requests in flight finish, so "
             "it can be overshot by them. Counted from the ledger at start."},
    {.path = "auth.keys[].requests_per_minute",
     .type = AK_LONG,
     .scope = AK_SCOPE_CLIENT,
     .offset = CLIENT(requests_per_minute),
     .min = 1,
     .max = 100000000,
     .def_doc = "none (no limit)",
     .help = "Requests the client may start per minute: that many at once, then one every "
             "60/N s (GCRA). Beyond it a request gets 429 with Retry-After and retry-after-ms, "
             "which the OpenAI and Anthropic SDKs wait for before they retry. Counted per allot "
             "process."},
    {.path = "auth.keys[].tiers",
     .type = AK_TIER_LIST,
     .scope = AK_SCOPE_CLIENT,
     .offset = CLIENT(tiers),
     .def_doc = "every tier",
     .help = "The tiers the client may be served by, in order of preference, e.g. [labour] "
             "for a batch job that must stay on cheap models. Work routed to a tier not "
             "listed (by the classifier, X-Allot-Work or the quality floor) goes to the first "
             "one listed; a failed check does not escalate to a tier not listed; naming a "
             "tier or a model outside them (allot:judgment, a model in no listed tier) gets "
             "403 model_not_allowed."},

    /* upstream servers */
    {.path = "providers",
     .type = AK_LIST,
     .arg = AK_SCOPE_PROVIDER,
     .max = 256,
     .help = "Upstream servers that speak the OpenAI HTTP API."},
    {.path = "providers[].name",
     .type = AK_NAME,
     .scope = AK_SCOPE_PROVIDER,
     .flags = AK_REQUIRED,
     .offset = PROV(name),
     .help = "Unique name that models[].provider refers to."},
    {.path = "providers[].kind",
     .type = AK_ENUM,
     .scope = AK_SCOPE_PROVIDER,
     .offset = PROV(kind),
     .choices = "openai anthropic",
     .def = "openai",
     .help = "Protocol. \"openai\": any OpenAI-compatible server (OpenAI, Ollama, vLLM, "
             "llama.cpp server, LM Studio). \"anthropic\": Anthropic's Messages API "
             "(BASE_URL/messages, the key as x-api-key; docs/anthropic.md)."},
    {.path = "providers[].base_url",
     .type = AK_URL,
     .scope = AK_SCOPE_PROVIDER,
     .flags = AK_REQUIRED,
     .offset = PROV(base_url),
     .help = "API root, e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1 or "
             "https://api.anthropic.com/v1; requests go to BASE_URL/chat/completions "
             "(BASE_URL/messages for kind anthropic). A trailing '/' is dropped."},
    {.path = "providers[].api_key",
     .type = AK_SECRET,
     .scope = AK_SCOPE_PROVIDER,
     .offset = PROV(api_key),
     .def_doc = "none",
     .help = "Sent as \"Authorization: Bearer KEY\" (\"x-api-key: KEY\" for kind "
             "anthropic). Write ${ENV_VAR} rather than the key "
             "itself. Never printed, logged or shown in errors. Omit for servers without auth."},
    {.path = "providers[].connect_timeout_ms",
     .type = AK_LONG,
     .scope = AK_SCOPE_PROVIDER,
     .offset = PROV(connect_timeout_ms),
     .min = 1,
     .max = 600000,
     .def = "2000",
     .help = "Time to establish the TCP (and TLS) connection to the provider."},
    {.path = "providers[].timeout_ms",
     .type = AK_LONG,
     .scope = AK_SCOPE_PROVIDER,
     .offset = PROV(timeout_ms),
     .min = 1,
     .max = 3600000,
     .def = "120000",
     .help = "Total time for one upstream attempt, connect to last byte; when it passes "
             "the next model of the tier is tried."},
    {.path = "providers[].max_tokens",
     .type = AK_LONG,
     .scope = AK_SCOPE_PROVIDER,
     .offset = PROV(max_tokens),
     .min = 1,
     .max = 1000000,
     .def = "8192",
     .help = "kind anthropic: max_tokens sent when the request sets neither max_tokens nor "
             "max_completion_tokens (Anthropic's API requires one). Ignored for kind openai."},
    {.path = "providers[].http_client",
     .type = AK_ENUM,
     .scope = AK_SCOPE_PROVIDER,
     .offset = PROV(http_client),
     .choices = "auto curl",
     .def = "auto",
     .help = "Which HTTP client calls the provider. \"auto\": allot's own HTTP/1.1 client "
             "for an http:// base_url (local servers: Ollama, vLLM, llama.cpp) unless a "
             "proxy from the environment applies to its host, libcurl for https:// and "
             "through proxies. \"curl\": always libcurl."},

    /* models */
    {.path = "models",
     .type = AK_LIST,
     .arg = AK_SCOPE_MODEL,
     .max = 4096,
     .help = "Models clients may name and tiers may list. At least one is required."},
    {.path = "models[].name",
     .type = AK_NAME,
     .scope = AK_SCOPE_MODEL,
     .flags = AK_REQUIRED,
     .offset = MODEL(name),
     .help = "Unique name clients use in \"model\" and tiers list. Must not start with "
             "\"allot:\" or equal a routing alias."},
    {.path = "models[].provider",
     .type = AK_PROVIDER_REF,
     .scope = AK_SCOPE_MODEL,
     .flags = AK_REQUIRED,
     .help = "Name of the provider that serves it."},
    {.path = "models[].model",
     .type = AK_STRING,
     .scope = AK_SCOPE_MODEL,
     .offset = MODEL(upstream_id),
     .def_doc = "the model's name",
     .help = "Model id sent upstream, e.g. gpt-4o or llama3.1:8b."},
    {.path = "models[].price",
     .type = AK_SECTION,
     .scope = AK_SCOPE_MODEL,
     .help = "List price in USD per million tokens, used for the ledger's cost column."},
    {.path = "models[].price.input",
     .type = AK_NUMBER,
     .scope = AK_SCOPE_MODEL,
     .offset = MODEL(price_in),
     .dmin = 0,
     .dmax = 1000000,
     .def = "0",
     .help = "USD per million prompt (input) tokens; 0 for self-hosted models."},
    {.path = "models[].price.output",
     .type = AK_NUMBER,
     .scope = AK_SCOPE_MODEL,
     .offset = MODEL(price_out),
     .dmin = 0,
     .dmax = 1000000,
     .def = "0",
     .help = "USD per million completion (output) tokens; 0 for self-hosted models."},
    {.path = "models[].price.cached_input",
     .type = AK_NUMBER,
     .scope = AK_SCOPE_MODEL,
     .offset = MODEL(price_cached_in),
     .dmin = 0,
     .dmax = 1000000,
     .def_doc = "price.input",
     .help = "USD per million prompt tokens the provider read from its prompt cache (OpenAI's "
             "cached_tokens, Anthropic's cache_read_input_tokens), e.g. 0.50 for gpt-4.1 "
             "(input 2.00). Unset: no discount."},
    {.path = "models[].price.cache_write",
     .type = AK_NUMBER,
     .scope = AK_SCOPE_MODEL,
     .offset = MODEL(price_cache_write),
     .dmin = 0,
     .dmax = 1000000,
     .def_doc = "price.input",
     .help = "USD per million prompt tokens written to the provider's prompt cache "
             "(Anthropic's cache_creation_input_tokens, 1.25 x input for the 5-minute cache)."},
    {.path = "models[].context_window",
     .type = AK_LONG,
     .scope = AK_SCOPE_MODEL,
     .offset = MODEL(context_window),
     .min = 0,
     .max = 100000000,
     .def = "0",
     .help = "Context window in tokens; 0 = unknown."},

    /* tiers */
    {.path = "tiers",
     .type = AK_SECTION,
     .help = "Models of each tier, in order: the first serves, the rest are fallbacks. "
             "A tier that routing can send work to must list at least one model."},
    {.path = "tiers.judgment",
     .type = AK_MODEL_LIST,
     .arg = ALLOT_TIER_JUDGMENT,
     .def_doc = "[]",
     .help = "Models for judgment work: plan, decide, review, risk, tradeoff, synthesize, "
             "solve."},
    {.path = "tiers.labour",
     .type = AK_MODEL_LIST,
     .arg = ALLOT_TIER_LABOUR,
     .def_doc = "[]",
     .help = "Models for labour: scan, extract, summarize, reformat, convert, collect, "
             "answer, compose."},
    {.path = "tiers.code",
     .type = AK_MODEL_LIST,
     .arg = ALLOT_TIER_CODE,
     .def_doc = "[]",
     .help = "Models for implementation work: implement."},

    /* routing */
    {.path = "embeddings",
     .type = AK_MODEL_LIST,
     .arg = ALLOT_TIER__COUNT,
     .def_doc = "none",
     .help = "Models that serve POST /v1/embeddings for \"auto\" (and the aliases): the first "
             "serves, the rest are fallbacks. A request naming a configured model gets that "
             "model. Models of kind openai providers only. Without it, /v1/embeddings answers "
             "404."},
    {.path = "routing",
     .type = AK_SECTION,
     .help = "How a request for \"auto\" is sent to a tier."},
    {.path = "routing.default_tier",
     .type = AK_TIER,
     .offset = CFG(routing.default_tier),
     .def = "judgment",
     .help = "Tier that serves when the classifier is unsure."},
    {.path = "routing.confidence_threshold",
     .type = AK_NUMBER,
     .offset = CFG(routing.confidence_threshold),
     .dmin = 0,
     .dmax = 1,
     .def = "0.8",
     .help = "The classifier's probability for a tier (its categories' summed) below which "
             "default_tier serves instead. 0.8 keeps judgment work sent to labour near 2% "
             "(bench/kinds); lower it to send more to labour."},
    {.path = "routing.classifier_model",
     .type = AK_STRING,
     .offset = CFG(routing.classifier_model),
     .def_doc = "built-in",
     .help = "Kind-of-work model file made by `allot train kinds`; unset, the built-in "
             "model (trained from data/kinds/) is used. Reloaded on SIGHUP; a file that "
             "fails to load leaves the model in use unchanged. A relative path is "
             "relative to the working directory."},
    {.path = "routing.acceptability",
     .type = AK_SECTION,
     .help = "Route by the acceptability model of `allot train outcomes` (docs/eval.md): "
             "for requests routed by kind of work in the categories listed, labour serves "
             "when the weak model is expected good enough, else judgment."},
    {.path = "routing.acceptability.model",
     .type = AK_STRING,
     .offset = CFG(routing.accept_model),
     .def_doc = "none (not used)",
     .help = "Model file from `allot train outcomes`; its weak model stands for the labour "
             "tier, its strong model for the judgment tier. Loaded at start; a file that "
             "does not load stops `allot serve` with the reason."},
    {.path = "routing.acceptability.categories",
     .type = AK_CATEGORY_SET,
     .offset = CFG(routing.accept_categories),
     .def_doc = "every category",
     .help = "The categories it routes; the others keep their tier."},
    {.path = "routing.acceptability.threshold",
     .type = AK_NUMBER,
     .offset = CFG(routing.accept_threshold),
     .dmin = 0,
     .dmax = 1,
     .def_doc = "the model file's",
     .help = "Labour serves when the acceptability is at least this; the file's threshold "
             "meets the target it was trained for (e.g. --strong-share 0.3)."},
    {.path = "routing.aliases",
     .type = AK_ALIASES,
     .def_doc = "[auto]",
     .help = "Model names that mean \"route by kind of work\". \"auto\" always does and is "
             "added when not listed. A name ending in '*' is a prefix: \"claude-*\" routes "
             "every model name a client sends that starts with \"claude-\" (configured "
             "model names and tiers still come first)."},
    {.path = "routing.categories",
     .type = AK_CATEGORY_MAP,
     .def_doc = "the KINDS.md table",
     .help = "Overrides of the category -> tier table of KINDS.md, e.g. {summarize: "
             "judgment}."},

    /* limits */
    {.path = "limits", .type = AK_SECTION, .help = "Caps and timeouts that protect the gateway."},
    {.path = "limits.max_body_bytes",
     .type = AK_SIZE,
     .offset = CFG(limits.max_body_bytes),
     .min = 1024,
     .max = 1073741824,
     .def = "4194304",
     .help = "Largest request body; larger requests get 413."},
    {.path = "limits.max_header_bytes",
     .type = AK_SIZE,
     .offset = CFG(limits.max_header_bytes),
     .min = 1024,
     .max = 1048576,
     .def = "16384",
     .help = "Largest request head (request line and headers); larger get 431."},
    {.path = "limits.header_timeout_ms",
     .type = AK_LONG,
     .offset = CFG(limits.header_timeout_ms),
     .min = 100,
     .max = 600000,
     .def = "10000",
     .help = "Time a client has to send a whole request head."},
    {.path = "limits.idle_timeout_ms",
     .type = AK_LONG,
     .offset = CFG(limits.idle_timeout_ms),
     .min = 100,
     .max = 3600000,
     .def = "60000",
     .help = "Keep-alive connections idle this long are closed."},
    {.path = "limits.max_response_bytes",
     .type = AK_SIZE,
     .offset = CFG(limits.max_response_bytes),
     .min = 1024,
     .max = 1073741824,
     .def = "33554432",
     .help = "Largest non-streamed upstream response body allot buffers."},
    {.path = "limits.max_attempts",
     .type = AK_INT,
     .offset = CFG(limits.max_attempts),
     .min = 1,
     .max = 10,
     .def = "3",
     .help = "Upstream attempts per request, across the models of the tier."},
    {.path = "limits.drain_timeout_ms",
     .type = AK_LONG,
     .offset = CFG(limits.drain_timeout_ms),
     .min = 0,
     .max = 600000,
     .def = "10000",
     .help = "On SIGTERM/SIGINT, time in-flight requests get to finish before closing."},
    {.path = "limits.max_connections",
     .type = AK_SIZE,
     .offset = CFG(limits.max_connections),
     .min = 1,
     .max = 1000000,
     .def = "4096",
     .help = "Open client connections per worker; one more gets 503 too_many_connections "
             "and is closed."},
    {.path = "limits.send_timeout_ms",
     .type = AK_LONG,
     .offset = CFG(limits.send_timeout_ms),
     .min = 1,
     .max = 3600000,
     .def = "60000",
     .help = "A client that takes no response bytes for this long is disconnected (its "
             "upstream call is cancelled)."},
    {.path = "limits.cooldown_after",
     .type = AK_INT,
     .offset = CFG(limits.cooldown_after),
     .min = 0,
     .max = 1000,
     .def = "3",
     .help = "Failures in a row (connect error, timeout, 429, 5xx) after which a model rests: "
             "requests skip it for the next model of their tier while another can serve. 0: "
             "never (a provider's retry hint on a 429 or 503 still rests it)."},
    {.path = "limits.cooldown_ms",
     .type = AK_LONG,
     .offset = CFG(limits.cooldown_ms),
     .min = 100,
     .max = 3600000,
     .def = "5000",
     .help = "How long a model rests after limits.cooldown_after failures in a row. A rest "
             "that follows another (its first request after resting failed again) lasts twice "
             "as long, up to 16 times this; an answer ends the series. A 429 or 503 with a "
             "retry hint (retry-after-ms, Retry-After) rests the model at once for the hinted "
             "time, also at most 16 times this."},

    /* the quality floor */
    {.path = "quality",
     .type = AK_SECTION,
     .help = "Checks on answers, escalation of failed ones, audits by the judgment tier and "
             "the adaptive floor that moves a category up a tier (docs/quality.md)."},
    {.path = "quality.enabled",
     .type = AK_BOOL,
     .offset = CFG(quality.enabled),
     .def = "true",
     .help = "false turns every check, escalation, audit and promotion off."},
    {.path = "quality.checks",
     .type = AK_CHECK_MAP,
     .def_doc = "labour: {not_empty, not_refusal, not_truncated, json, schema: true, escalate: "
                "true, stream: after}",
     .help = "Checks per tier (judgment, labour, code) or per category (extract, ...). A "
             "category's keys override its tier's; the labour tier starts from the built-in "
             "set."},
    {.path = "quality.checks[].not_empty",
     .type = AK_BOOL,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(not_empty),
     .def_doc = "true for labour",
     .help = "The answer has content or tool calls."},
    {.path = "quality.checks[].not_refusal",
     .type = AK_BOOL,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(not_refusal),
     .def_doc = "true for labour",
     .help = "The answer does not open with a refusal (\"I can't help with that\", the "
             "built-in list plus quality.refusals)."},
    {.path = "quality.checks[].not_truncated",
     .type = AK_BOOL,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(not_truncated),
     .def_doc = "true for labour",
     .help = "The answer was not cut off (finish_reason \"length\")."},
    {.path = "quality.checks[].json",
     .type = AK_BOOL,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(json),
     .def_doc = "true for labour",
     .help = "When response_format asked for JSON (json_object or json_schema), the answer "
             "is valid JSON."},
    {.path = "quality.checks[].schema",
     .type = AK_BOOL,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(schema),
     .def_doc = "true for labour",
     .help = "When response_format.json_schema.schema was given, the answer validates "
             "against it (draft 2020-12, the common keywords)."},
    {.path = "quality.checks[].must_match",
     .type = AK_REGEX,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(must_match),
     .def_doc = "none",
     .help = "A PCRE2 pattern the answer's content must match."},
    {.path = "quality.checks[].must_not_match",
     .type = AK_REGEX,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(must_not_match),
     .def_doc = "none",
     .help = "A PCRE2 pattern the answer's content must not match."},
    {.path = "quality.checks[].min_chars",
     .type = AK_LONG,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(min_chars),
     .min = 0,
     .max = 1073741824,
     .def_doc = "none",
     .help = "Shortest acceptable content, in bytes."},
    {.path = "quality.checks[].max_chars",
     .type = AK_LONG,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(max_chars),
     .min = 0,
     .max = 1073741824,
     .def_doc = "none",
     .help = "Longest acceptable content, in bytes."},
    {.path = "quality.checks[].escalate",
     .type = AK_BOOL,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(escalate),
     .def_doc = "true",
     .help = "An answer that fails a check is not returned: the request goes to the next tier "
             "up (labour -> judgment, code -> quality.code_escalates_to). false: the answer is "
             "returned with x-allot-check-failed."},
    {.path = "quality.checks[].stream",
     .type = AK_ENUM,
     .scope = AK_SCOPE_CHECK,
     .offset = CHECK(stream),
     .choices = "after buffer",
     .def_doc = "after",
     .help = "Streamed answers: \"buffer\" holds the stream until the checks pass, then "
             "replays it (escalates on failure; the client waits for the whole answer); "
             "\"after\" streams through and records the verdict, without escalation."},
    {.path = "quality.refusals",
     .type = AK_STRING_LIST,
     .def_doc = "[]",
     .help = "More refusal patterns (PCRE2, case-insensitive), matched at the start of the "
             "answer (after blanks and emphasis), added to the built-in list."},
    {.path = "quality.code_escalates_to",
     .type = AK_ENUM,
     .offset = CFG(quality.code_escalates_to),
     .choices = "judgment none",
     .def = "judgment",
     .help = "The tier a code answer that fails a check goes to."},
    {.path = "quality.audit",
     .type = AK_SECTION,
     .help = "After-the-fact grading of labour answers by the judgment tier."},
    {.path = "quality.audit.sample",
     .type = AK_NUMBER,
     .offset = CFG(quality.audit_sample),
     .dmin = 0,
     .dmax = 1,
     .def = "0",
     .help = "Share of labour answers that passed their checks graded by the judgment tier "
             "(e.g. 0.05), off the request path; each audit is a ledger row of its own."},
    {.path = "quality.audit.max_in_flight",
     .type = AK_INT,
     .offset = CFG(quality.audit_max_in_flight),
     .min = 1,
     .max = 4096,
     .def = "16",
     .help = "Audits running at once per worker; an answer sampled past it is not audited "
             "(counted in /metrics)."},
    {.path = "quality.floor",
     .type = AK_SECTION,
     .help = "The adaptive floor: per category, a rolling pass rate of labour answers (checks "
             "and audits) with a Wilson interval; when it is shown below min_pass the category "
             "is promoted to judgment, and demoted again when probes pass."},
    {.path = "quality.floor.enabled",
     .type = AK_BOOL,
     .offset = CFG(quality.floor_enabled),
     .def = "true",
     .help = "false: no category is ever promoted (checks, escalation and audits go on)."},
    {.path = "quality.floor.min_pass",
     .type = AK_NUMBER,
     .offset = CFG(quality.floor_min_pass),
     .dmin = 0.01,
     .dmax = 1,
     .def = "0.9",
     .help = "The floor: a category is promoted when even the upper bound of its pass rate "
             "(Wilson interval, z = 1.96) is below it, i.e. when labour is shown to fall short."},
    {.path = "quality.floor.window",
     .type = AK_INT,
     .offset = CFG(quality.floor_window),
     .min = 1,
     .max = 100000,
     .def = "50",
     .help = "Verdicts kept per category (the last N)."},
    {.path = "quality.floor.min_samples",
     .type = AK_INT,
     .offset = CFG(quality.floor_min_samples),
     .min = 1,
     .max = 100000,
     .def = "20",
     .help = "No promotion on fewer verdicts than this; at most window (when not given and "
             "window is smaller, window)."},
    {.path = "quality.floor.cooldown_s",
     .type = AK_LONG,
     .offset = CFG(quality.floor_cooldown_s),
     .min = 0,
     .max = 604800,
     .def = "600",
     .help = "A promoted category stays on judgment this long before probes go to labour."},
    {.path = "quality.floor.probe_share",
     .type = AK_NUMBER,
     .offset = CFG(quality.floor_probe_share),
     .dmin = 0,
     .dmax = 1,
     .def = "0.1",
     .help = "After the cool-down, this share of a promoted category's requests goes to labour "
             "as probes."},
    {.path = "quality.floor.probe_samples",
     .type = AK_INT,
     .offset = CFG(quality.floor_probe_samples),
     .min = 1,
     .max = 100000,
     .def = "20",
     .help = "Probes in a round: when at least min_pass of them pass the category is demoted "
             "back to labour; otherwise it stays promoted and the cool-down doubles (at most "
             "1 h)."},
    /* browsers */
    {.path = "cors",
     .type = AK_SECTION,
     .help = "Cross-origin calls from web pages (CORS). Off by default: a browser lets a page "
             "of another origin call the gateway only when it is listed here."},
    {.path = "cors.allow_origins",
     .type = AK_ORIGINS,
     .def_doc = "none",
     .help = "Origins whose pages may call the gateway, as the browser sends them "
             "(\"https://app.example.com\", \"http://localhost:3000\"), or \"*\" for any "
             "page. A listed origin's requests get Access-Control-Allow-Origin and every "
             "response header exposed; its preflight (OPTIONS) is answered without a client "
             "key. Client keys (auth.keys) still apply to the requests themselves."},
};

const size_t allot__config_n_keys = sizeof allot__config_keys / sizeof allot__config_keys[0];

/* The loader tracks the keys of a mapping in an array of this size. */
_Static_assert(sizeof allot__config_keys / sizeof allot__config_keys[0] <= ALLOT__CONFIG_MAX_KEYS,
               "raise ALLOT__CONFIG_MAX_KEYS");

void allot__config_key_expect(const struct allot__config_key *k, char *dst, size_t cap)
{
    switch (k->type) {
    case AK_SECTION:
        snprintf(dst, cap, "%s", k->choices ? "a mapping or a string" : "a mapping");
        break;
    case AK_LIST:
        snprintf(dst, cap, "a list of at most %lld mappings", k->max);
        break;
    case AK_STRING:
        snprintf(dst, cap, "a non-empty string");
        break;
    case AK_NAME:
        snprintf(dst, cap, "a name without spaces (at most 128 bytes)");
        break;
    case AK_SECRET:
        snprintf(dst, cap, "a secret string, e.g. ${OPENAI_API_KEY}");
        break;
    case AK_URL:
        snprintf(dst, cap, "an http:// or https:// URL");
        break;
    case AK_STORE:
        snprintf(dst, cap, "%s",
                 k->flags & AK_URL_ONLY ? "a postgresql:// or postgres:// URL without spaces"
                                        : "a file path, or a postgresql:// URL");
        break;
    case AK_ENUM:
        snprintf(dst, cap, "one of: %s", k->choices);
        break;
    case AK_INT:
    case AK_LONG:
    case AK_SIZE:
        snprintf(dst, cap, "an integer between %lld and %lld", k->min, k->max);
        break;
    case AK_NUMBER:
        snprintf(dst, cap, "a number between %.15g and %.15g", k->dmin, k->dmax);
        break;
    case AK_LISTEN:
        snprintf(dst, cap, "host:port, e.g. 127.0.0.1:4000 or [::1]:4000");
        break;
    case AK_TIER:
        snprintf(dst, cap, "a tier: judgment, labour or code");
        break;
    case AK_MODEL_LIST:
        snprintf(dst, cap, "a list of at most %d model names", ALLOT_MAX_TIER_MODELS);
        break;
    case AK_PROVIDER_REF:
        snprintf(dst, cap, "a provider name");
        break;
    case AK_ALIASES:
        snprintf(dst, cap, "a list of at most %d names", ALLOT_MAX_ALIASES);
        break;
    case AK_CATEGORY_MAP:
        snprintf(dst, cap, "a mapping of category: tier");
        break;
    case AK_BOOL:
        if (k->choices)
            snprintf(dst, cap, "true, false or %s", k->choices);
        else
            snprintf(dst, cap, "true or false");
        break;
    case AK_REGEX:
        snprintf(dst, cap, "a regular expression (PCRE2)");
        break;
    case AK_STRING_LIST:
        snprintf(dst, cap, "a list of at most %d regular expressions (PCRE2)", ALLOT_MAX_REFUSALS);
        break;
    case AK_CHECK_MAP:
        snprintf(dst, cap, "a mapping of tier or category: checks");
        break;
    case AK_CATEGORY_SET:
        snprintf(dst, cap, "a list of categories");
        break;
    case AK_TIER_LIST:
        snprintf(dst, cap, "a list of tiers (judgment, labour, code)");
        break;
    case AK_ORIGINS:
        snprintf(dst, cap, "a list of at most %d origins (scheme://host[:port]) or \"*\"",
                 ALLOT_MAX_CORS_ORIGINS);
        break;
    default:
        snprintf(dst, cap, "a value");
        break;
    }
}

int allot_config_describe_keys(struct allot_buf *out)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < allot__config_n_keys && !rc; i++) {
        const struct allot__config_key *k = &allot__config_keys[i];
        char expect[96];
        const char *def;

        allot__config_key_expect(k, expect, sizeof expect);
        def = k->def ? k->def : k->def_doc;
        if (k->type == AK_SECTION || k->type == AK_LIST)
            rc = allot_buf_addf(out, "%s: %s\n    %s\n", k->path, expect, k->help);
        else if (k->flags & AK_REQUIRED)
            rc = allot_buf_addf(out, "%s: %s (required)\n    %s\n", k->path, expect, k->help);
        else
            rc = allot_buf_addf(out, "%s: %s (default %s)\n    %s\n", k->path, expect,
                                def ? def : "none", k->help);
    }
    return rc;
}
