/* config.h: allot.yaml, parsed and validated.
 *
 * One YAML file; every key is described in a single table in
 * src/config/config.c (name, type, bounds, default, help) that drives
 * parsing, validation and `allot config keys`. Unknown keys are
 * errors. Errors name file, line and key and say what was expected.
 *
 * Ownership: allot_config_load() returns a heap object owning every string
 * and array inside it; allot_config_free() releases all of it. The config is
 * immutable after load and may be read from any thread. */
#ifndef ALLOT_CONFIG_H
#define ALLOT_CONFIG_H
#include <stddef.h>
#include "allot/buf.h"
#include "allot/kinds.h"

#define ALLOT_MAX_TIER_MODELS 8
#define ALLOT_MAX_ALIASES 16

struct allot_provider {
    char *name;
    char *kind;     /* "openai": any OpenAI-compatible server; "anthropic": the Messages API */
    char *base_url; /* e.g. "https://api.openai.com/v1", no trailing slash */
    char *api_key;  /* resolved from ${ENV}; NULL when none. SECRET: never log */
    long connect_timeout_ms;
    long timeout_ms;   /* total time for one upstream attempt */
    long max_tokens;   /* kind anthropic: max_tokens when the request has none */
    char *http_client; /* "auto": the native HTTP/1.1 client for http:// URLs
                        * (libcurl otherwise); "curl": always libcurl */
};

/* Whether p must be called through libcurl (http_client: curl). */
int allot_provider_forces_curl(const struct allot_provider *p);

/* Whether p speaks Anthropic's Messages API (kind: anthropic). */
int allot_provider_is_anthropic(const struct allot_provider *p);

struct allot_model {
    char *name;                      /* the name clients use */
    struct allot_provider *provider; /* points into config->providers */
    char *upstream_id;               /* model id sent upstream */
    double price_in;                 /* USD per million input tokens */
    double price_out;                /* USD per million output tokens */
    double price_cached_in;          /* USD per million prompt tokens read from a cache */
    double price_cache_write;        /* USD per million prompt tokens written to a cache */
    long context_window;             /* tokens; 0 = unknown */
};

/* A client key (auth.keys): who may call the gateway. Only the key's
 * SHA-256 is kept: a key written in the file is hashed at load and its
 * text zeroed and freed. */
struct allot_client_key {
    char *name;               /* shown in the ledger's client column, metrics and report */
    char *key;                /* auth.keys[].key while loading; NULL after. SECRET: never log */
    char *key_sha256;         /* auth.keys[].key_sha256 as written; NULL when key was given */
    unsigned char digest[32]; /* SHA-256 of the key */
    double daily_budget_usd;  /* spend allowed per UTC day, when has_budget */
    int has_budget;           /* daily_budget_usd was given */
    long requests_per_minute; /* 0: no limit */
    unsigned tiers;           /* auth.keys[].tiers: see allot_tier_list_*; 0: every tier */
};

/* A client's tiers (auth.keys[].tiers), in its order of preference: tier
 * + 1 in each 4 bits from the lowest; 0 when the key may use every tier. */
int allot_tier_list_has(unsigned list, enum allot_tier t); /* 1 for list 0 */
enum allot_tier allot_tier_list_first(unsigned list);      /* list != 0 */
/* "labour, code"; "" for 0. Always NUL-terminates dst. */
void allot_tier_list_format(unsigned list, char *dst, size_t cap);

#define ALLOT_MAX_CLIENT_KEYS 4096
#define ALLOT_MIN_CLIENT_KEY_LEN 16

struct allot_tier_conf {
    struct allot_model *models[ALLOT_MAX_TIER_MODELS]; /* first serves */
    size_t n_models;
};

struct allot_routing {
    enum allot_tier category_tier[ALLOT_CAT__COUNT]; /* defaults: KINDS.md */
    enum allot_tier default_tier;                    /* when unsure; default judgment */
    double confidence_threshold;                     /* below it: default_tier; default 0.8 */
    char *aliases[ALLOT_MAX_ALIASES];                /* model names that mean "auto" */
    char *classifier_model;                          /* model file; NULL: the built-in model */
    char *accept_model;         /* routing.acceptability.model; NULL: not used */
    unsigned accept_categories; /* bit per category routed by it; default all */
    double accept_threshold;    /* < 0: the model file's */
    size_t n_aliases;
};

struct allot_limits {
    size_t max_body_bytes;     /* request body; default 4 MiB */
    size_t max_header_bytes;   /* request head; default 16 KiB */
    long header_timeout_ms;    /* to receive a whole request head; 10 s */
    long idle_timeout_ms;      /* keep-alive idle; default 60 s */
    size_t max_response_bytes; /* buffered non-stream upstream body; 32 MiB */
    int max_attempts;          /* upstream attempts per request; default 3 */
    long drain_timeout_ms;     /* graceful stop deadline; default 10 s */
    size_t max_connections;    /* open client connections per worker; 4096 */
    long send_timeout_ms;      /* client taking no response bytes; 60 s */
    int cooldown_after;        /* failures in a row before a model rests; 3; 0: never */
    long cooldown_ms;          /* its first rest; 5 s (cooldown.h) */
};

/* One set of answer checks, as written under quality.checks.<tier or
 * category>. Every field may be unset (-1, or NULL for the patterns): a
 * category's set overrides its tier's field by field, and the tier's set
 * overrides the built-in labour defaults (see allot_quality_resolve() in
 * check.h). */
enum allot_stream_check {
    ALLOT_STREAM_CHECK_AFTER,  /* stream through; record the verdict; no escalation */
    ALLOT_STREAM_CHECK_BUFFER, /* hold the stream until it passes, then replay it */
};

struct allot_check_conf {
    int not_empty;     /* content or tool calls present */
    int not_refusal;   /* no refusal phrase at the start of the answer */
    int not_truncated; /* finish_reason is not "length" */
    int json;          /* valid JSON when response_format asked for JSON */
    int schema;        /* valid against response_format.json_schema.schema */
    int escalate;      /* a failed answer goes to the next tier up */
    char *stream;      /* "after" or "buffer"; see enum allot_stream_check */
    long min_chars;    /* answer length bounds, in bytes of content */
    long max_chars;
    char *must_match;     /* PCRE2 pattern the content must match */
    char *must_not_match; /* PCRE2 pattern the content must not match */
};

#define ALLOT_MAX_REFUSALS 64

struct allot_quality {
    int enabled; /* default 1 */
    struct allot_check_conf tier[ALLOT_TIER__COUNT];
    struct allot_check_conf category[ALLOT_CAT__COUNT];
    char *refusals[ALLOT_MAX_REFUSALS]; /* user refusal patterns, added to the built-in list */
    size_t n_refusals;
    char *code_escalates_to;  /* "judgment" or "none"; default "judgment" */
    double audit_sample;      /* share of passing labour answers graded; default 0 */
    int audit_max_in_flight;  /* per worker; past it an audit is skipped; default 16 */
    int floor_enabled;        /* default 1 */
    double floor_min_pass;    /* default 0.9 */
    int floor_window;         /* default 50 */
    int floor_min_samples;    /* default 20 */
    long floor_cooldown_s;    /* default 600 */
    double floor_probe_share; /* default 0.1 */
    int floor_probe_samples;  /* default 20 */
};

#define ALLOT_MAX_CORS_ORIGINS 32

struct allot_config {
    char *path;             /* file it was read from; NULL for defaults */
    char *listen_host;      /* default "127.0.0.1" */
    int listen_port;        /* default 4000 */
    int workers;            /* event-loop threads; default 1 */
    char *store_path;       /* SQLite file; default "./allot.db" */
    char *store_url;        /* PostgreSQL URI (store.url); NULL: the file */
    long store_commit_ms;   /* ledger commit window; default 100, max 200 */
    int store_keep_prompts; /* keep instructions: 1 of checked requests, 2 of every routed
                             * one (store.keep_prompts: all); default 0 */
    char *store_pending;    /* store.pending; NULL: the default (ledger.h) */
    struct allot_provider *providers;
    size_t n_providers;
    struct allot_model *models;
    size_t n_models;
    struct allot_tier_conf tiers[ALLOT_TIER__COUNT];
    struct allot_tier_conf embeddings; /* POST /v1/embeddings: first serves, then fallbacks */
    struct allot_routing routing;
    struct allot_limits limits;
    struct allot_quality quality;
    struct allot_client_key *client_keys; /* auth.keys; none: the gateway is open */
    size_t n_client_keys;
    /* cors.allow_origins: browser origins ("https://app.example.com", or
     * "*" for any) whose pages may call the gateway; none: no CORS */
    char *cors_origins[ALLOT_MAX_CORS_ORIGINS];
    size_t n_cors_origins;
};

/* Read and validate a YAML file. On success *out is a new config the caller
 * frees with allot_config_free(). On failure returns ALLOT_ECONFIG (or
 * ALLOT_EIO / ALLOT_ENOMEM) and appends one or more lines of the form
 * "FILE:LINE: key 'a.b.c': what was expected" to err. Environment
 * references ${VAR} in strings are resolved; an unset VAR is an error. */
int allot_config_load(const char *path, struct allot_config **out, struct allot_buf *err);

/* Same, from memory; name is used in messages in place of a file name. */
int allot_config_load_mem(const char *name, const char *yaml, size_t len, struct allot_config **out,
                          struct allot_buf *err);

/* The embedded defaults: listen 127.0.0.1:4000, store ./allot.db, and the
 * two simulated providers of the demo ("frontier" at 127.0.0.1:4101 and
 * "local" at 127.0.0.1:4102, see docs/config.md). */
int allot_config_default(struct allot_config **out, struct allot_buf *err);

/* Find by name; NULL when absent. */
const struct allot_model *allot_config_find_model(const struct allot_config *c, const char *name,
                                                  size_t name_len);
const struct allot_provider *allot_config_find_provider(const struct allot_config *c,
                                                        const char *name);

/* Append a description of every config key (from the key table) to out. */
int allot_config_describe_keys(struct allot_buf *out);

void allot_config_free(struct allot_config *c);

/* The ledger store the config names: store.url when set, else store.path
 * (ledger.h takes either). Owned by c. */
const char *allot_config_store(const struct allot_config *c);

#endif
