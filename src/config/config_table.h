/* config_table.h: the allot.yaml key table, private to src/config/.
 *
 * One row per key (tmux options-table.c, nginx ngx_command_t): its dotted
 * path, type, bounds, default, help text and where the value goes. The
 * loader (config.c) walks the YAML against it; `allot config keys`
 * and docs/config.md print it. Paths of list items use "[]":
 * "providers[].timeout_ms". */
#ifndef ALLOT_CONFIG_TABLE_H
#define ALLOT_CONFIG_TABLE_H
#include <stddef.h>

enum allot__key_type {
    AK_SECTION,      /* a mapping of sub-keys */
    AK_LIST,         /* a list of mappings; arg is the items' scope */
    AK_STRING,       /* non-empty text without control characters */
    AK_NAME,         /* a name: no spaces or control characters */
    AK_SECRET,       /* like AK_STRING, but never shown in any message */
    AK_URL,          /* http:// or https://; a trailing '/' is stripped */
    AK_ENUM,         /* one of the space-separated words in choices */
    AK_INT,          /* int in [min, max] */
    AK_LONG,         /* long in [min, max] */
    AK_SIZE,         /* size_t in [min, max] */
    AK_NUMBER,       /* double in [dmin, dmax] */
    AK_LISTEN,       /* host:port; host at offset, int port at offset2 */
    AK_TIER,         /* enum allot_tier */
    AK_MODEL_LIST,   /* the models of tier arg, resolved after the walk */
    AK_PROVIDER_REF, /* a model's provider, resolved after the walk */
    AK_ALIASES,      /* routing.aliases */
    AK_CATEGORY_MAP, /* routing.categories: category -> tier */
    AK_BOOL,         /* true or false; int at offset (1, 0); with choices, that word too (2) */
    AK_REGEX,        /* a PCRE2 pattern, compiled once at load to check it */
    AK_STRING_LIST,  /* quality.refusals: a list of PCRE2 patterns */
    AK_CHECK_MAP,    /* quality.checks: tier or category -> check set */
    AK_CATEGORY_SET, /* a list of categories: a bit each, unsigned at offset */
    AK_TIER_LIST,    /* a list of tiers, in order: allot_tier_list_*, unsigned at offset */
    AK_ORIGINS,      /* cors.allow_origins: "*" or scheme://host[:port], each once */
    AK_STORE,        /* a ledger store: a PostgreSQL URI goes to offset2, anything
                      * else (a SQLite path) to offset; with AK_URL_ONLY, only a
                      * URI. A URI's value is never shown in a message. */
};

/* Which struct offset is relative to. */
enum allot__key_scope {
    AK_SCOPE_CONFIG,   /* struct allot_config */
    AK_SCOPE_PROVIDER, /* struct allot_provider, an item of providers */
    AK_SCOPE_MODEL,    /* struct allot_model, an item of models */
    AK_SCOPE_CHECK,    /* struct allot_check_conf, a value of quality.checks */
    AK_SCOPE_CLIENT,   /* struct allot_client_key, an item of auth.keys */
};

#define AK_REQUIRED 1u             /* an item without it is an error */
#define AK_URL_ONLY 2u             /* AK_STORE: a PostgreSQL URI, nothing else */
#define ALLOT__CONFIG_MAX_KEYS 128 /* rows in the table, at most */

struct allot__config_key {
    const char *path;
    enum allot__key_type type;
    enum allot__key_scope scope;
    unsigned flags;
    size_t offset;
    size_t offset2;
    long long min, max;  /* AK_INT, AK_LONG, AK_SIZE */
    double dmin, dmax;   /* AK_NUMBER */
    int arg;             /* AK_LIST: scope of the items; AK_MODEL_LIST: tier */
    const char *choices; /* AK_ENUM: the words; AK_SECTION: the child key a
                          * scalar value stands for ("store: x" = store.path) */
    const char *def;     /* default as YAML text, applied through the same
                          * setter as a file's value; NULL: none */
    const char *def_doc; /* the default as documented when def is NULL */
    const char *help;
};

extern const struct allot__config_key allot__config_keys[];
extern const size_t allot__config_n_keys;

/* What a key expects, as a phrase for messages: "an integer between 1 and
 * 64", "an http:// or https:// URL". Always NUL-terminates dst. */
void allot__config_key_expect(const struct allot__config_key *k, char *dst, size_t cap);

#endif
