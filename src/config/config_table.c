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
     .help = "The ledger store. `store: FILE` is short for `store: {path: FILE}`."},
    {.path = "store.path",
     .type = AK_STRING,
     .offset = CFG(store_path),
     .def = "./allot.db",
     .help = "SQLite file holding one ledger row per request; created if missing. A "
             "relative path is relative to the working directory."},
    {.path = "store.commit_ms",
     .type = AK_LONG,
     .offset = CFG(store_commit_ms),
     .min = 1,
     .max = 200,
     .def = "100",
     .help = "Ledger commit window: rows are committed at least this often, so a crash "
             "loses at most this much of the ledger."},

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
     .choices = "openai",
     .def = "openai",
     .help = "Protocol. \"openai\": any OpenAI-compatible server (OpenAI, Ollama, vLLM, "
             "llama.cpp server, LM Studio)."},
    {.path = "providers[].base_url",
     .type = AK_URL,
     .scope = AK_SCOPE_PROVIDER,
     .flags = AK_REQUIRED,
     .offset = PROV(base_url),
     .help = "API root, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1; "
             "requests go to BASE_URL/chat/completions. A trailing '/' is dropped."},
    {.path = "providers[].api_key",
     .type = AK_SECRET,
     .scope = AK_SCOPE_PROVIDER,
     .offset = PROV(api_key),
     .def_doc = "none",
     .help = "Sent as \"Authorization: Bearer KEY\". Write ${ENV_VAR} rather than the key "
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
    {.path = "routing.aliases",
     .type = AK_ALIASES,
     .def_doc = "[auto]",
     .help = "Model names that mean \"route by kind of work\". \"auto\" always does and is "
             "added when not listed."},
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
