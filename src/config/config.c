/* config.c: loading and validating allot.yaml (see config.h).
 *
 * Three passes over one file. First, config_yaml.c turns the text into a
 * small tree that keeps each node's line and its text as written, and that
 * has no cycles (aliases are refused) and bounded depth. Second, a walk
 * matches every mapping key against the key table (config_table.c) that
 * names its type, bounds, default and target. Before a mapping is read its
 * defaults are applied by feeding each row's default text through the same
 * setter as a file's value. Third, the cross-references (model -> provider,
 * tier -> model) and the whole-file rules are checked. Errors are
 * collected rather than stopping at the first, sorted by line, and the
 * first MAX_ERRORS are shown, so one `allot config check` shows most of
 * them.
 *
 * Secrets: ${VAR} is expanded lazily, only for values that are used;
 * messages quote text as written in the file, never an expansion, and the
 * api_key value is never quoted at all. Every scalar of the tree, and every
 * api_key, is zeroed before it is freed. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/error.h"
#include "allot/kinds.h"
#include "allot/sha256.h"
#include "allot/store_url.h"
#include "config_table.h"
#include "config_yaml.h"

#define MAX_FILE_BYTES (1u << 20) /* allot.yaml, at most */
#define MAX_ERRORS 20             /* lines written to err; the rest are counted */
#define MAX_KEPT 1000             /* errors kept for sorting */
#define MAX_NAME 128              /* provider, model and alias names */
#define MAX_VALUE 4096            /* one string after ${VAR} expansion */

struct error {
    size_t line; /* 0: about the whole file */
    size_t seq;  /* report order, to keep the sort stable */
    char *msg;   /* "key 'a.b': what was expected" */
};

struct load {
    const char *name; /* file name for messages */
    struct allot_buf *err;
    size_t n_errors;
    struct error *kept; /* the first MAX_KEPT, sorted by line at the end */
    size_t n_kept, cap_kept;
    int nomem;
    struct allot_config *cfg;
    struct allot__ynode *root;
    struct allot__ynode *list[AK_SCOPE_CLIENT + 1]; /* the providers / models / keys lists */
    struct allot__ynode **model_provider;           /* per model, its provider: value */
    /* the tiers' model lists as written, and at EMBED the embeddings list */
#define EMBED ALLOT_TIER__COUNT
    struct allot__ynode *tier_model[ALLOT_TIER__COUNT + 1][ALLOT_MAX_TIER_MODELS];
    size_t n_tier_model[ALLOT_TIER__COUNT + 1];
    size_t tier_line[ALLOT_TIER__COUNT + 1];
    size_t aliases_line;
};

static const char default_yaml[] =
    "# The demo: two simulated OpenAI-compatible servers (tests/fake_upstream).\n"
    "listen: 127.0.0.1:4000\n"
    "workers: 1\n"
    "store: ./allot.db\n"
    "providers:\n"
    "  - name: frontier\n"
    "    base_url: http://127.0.0.1:4101/v1\n"
    "  - name: local\n"
    "    base_url: http://127.0.0.1:4102/v1\n"
    "models:\n"
    "  - name: frontier-large\n"
    "    provider: frontier\n"
    "    model: sim-frontier-large\n"
    "    price: {input: 5.00, output: 15.00}\n"
    "    context_window: 128000\n"
    "  - name: frontier-mini\n"
    "    provider: frontier\n"
    "    model: sim-frontier-mini\n"
    "    price: {input: 0.40, output: 1.60}\n"
    "    context_window: 128000\n"
    "  - name: local-8b\n"
    "    provider: local\n"
    "    model: sim-local-8b?bad-every=4&bad=refusal   # simulated: refuses one request in "
    "four,\n"
    "                                                 # to show the quality floor at work\n"
    "    price: {input: 0, output: 0}   # self-hosted\n"
    "    context_window: 32768\n"
    "tiers:\n"
    "  judgment: [frontier-large, frontier-mini]\n"
    "  labour: [local-8b, frontier-mini]\n"
    "  code: [frontier-large]\n";

/* --- messages ------------------------------------------------------------ */

static void report(struct load *L, size_t line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record one error, "key 'PATH': message" at line; flush_errors() writes
 * them out. */
static void report(struct load *L, size_t line, const char *path, const char *fmt, ...)
{
    struct allot_buf b;
    struct error *e;
    va_list ap;

    L->n_errors++;
    if (L->n_kept == MAX_KEPT)
        return;
    if (L->n_kept == L->cap_kept) {
        size_t cap = L->cap_kept ? L->cap_kept * 2 : 8;
        e = realloc(L->kept, cap * sizeof *e);
        if (!e) {
            L->nomem = 1;
            return;
        }
        L->kept = e;
        L->cap_kept = cap;
    }
    allot_buf_init(&b, 4096);
    if (path && *path)
        allot_buf_addf(&b, "key '%s': ", path);
    va_start(ap, fmt);
    allot_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    e = &L->kept[L->n_kept];
    e->line = line;
    e->seq = L->n_kept;
    if (!(e->msg = allot_buf_detach(&b))) {
        L->nomem = 1;
        return;
    }
    L->n_kept++;
}

static int by_line(const void *a, const void *b)
{
    const struct error *x = a, *y = b;
    size_t lx = x->line ? x->line : SIZE_MAX, ly = y->line ? y->line : SIZE_MAX;

    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Write the errors to err in file order, MAX_ERRORS at most; free them. */
static void flush_errors(struct load *L)
{
    size_t i;

    if (L->n_kept)
        qsort(L->kept, L->n_kept, sizeof *L->kept, by_line);
    for (i = 0; i < L->n_kept; i++) {
        const struct error *e = &L->kept[i];
        if (L->err && i < MAX_ERRORS) {
            if (e->line)
                allot_buf_addf(L->err, "%s:%zu: %s\n", L->name, e->line, e->msg);
            else
                allot_buf_addf(L->err, "%s: %s\n", L->name, e->msg);
        }
        free(e->msg);
    }
    if (L->err && L->n_errors > MAX_ERRORS)
        allot_buf_addf(L->err, "%s: %zu more errors not shown\n", L->name,
                       L->n_errors - MAX_ERRORS);
    if (L->err && L->nomem)
        allot_buf_addf(L->err, "%s: out of memory\n", L->name);
    free(L->kept);
    L->kept = NULL;
    L->n_kept = 0;
}

/* Copy n bytes of s into dst for a message: control bytes, quotes and
 * backslashes escaped, cut after 40 bytes with "...". */
static void quote(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0, i;

    for (i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 40) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    if (cap)
        dst[o < cap ? o : cap - 1] = '\0';
}

static void path_fmt(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format a key path for messages, cut short at cap. (A function of its own
 * so that a cut, which is harmless here, is not a compiler warning at every
 * call site.) */
static void path_fmt(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

/* What a value is, for "got ...": the text as written, never expanded. */
static const char *got(const struct allot__ynode *n, char *dst, size_t cap)
{
    char q[200];

    if (n && n->type == ALLOT__YMAP) {
        snprintf(dst, cap, "a mapping");
    } else if (n && n->type == ALLOT__YSEQ) {
        snprintf(dst, cap, "a list");
    } else if (allot__ynode_is_null(n)) {
        snprintf(dst, cap, "nothing");
    } else {
        quote(q, sizeof q, n->raw, n->raw_len);
        snprintf(dst, cap, "\"%s\"", q);
    }
    return dst;
}

static void expected(struct load *L, const struct allot__config_key *k,
                     const struct allot__ynode *v, const char *path)
{
    char e[96], g[224];

    allot__config_key_expect(k, e, sizeof e);
    if (k->type == AK_SECRET)
        report(L, v->line, path, "expected %s (value not shown)", e);
    else
        report(L, v->line, path, "expected %s, got %s", e, got(v, g, sizeof g));
}

/* --- values ------------------------------------------------------------- */

static int var_name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* The text of scalar n with ${VAR} expanded, NUL-terminated, length in
 * *len. "$${" is a literal "${"; any other '$' is itself. NULL after
 * reporting an error against path. */
static const char *text(struct load *L, struct allot__ynode *n, const char *path, size_t *len)
{
    struct allot_buf b;
    const char *s, *end;
    int rc = 0;

    if (memchr(n->raw, '\0', n->raw_len)) {
        report(L, n->line, path, "expected text without NUL bytes");
        return NULL;
    }
    if (n->val) {
        *len = n->val_len;
        return n->val;
    }
    if (!memchr(n->raw, '$', n->raw_len)) {
        *len = n->raw_len;
        return n->raw;
    }
    allot_buf_init(&b, MAX_VALUE);
    s = n->raw;
    end = n->raw + n->raw_len;
    while (s < end && !rc) {
        const char *d = memchr(s, '$', (size_t)(end - s)), *nm, *close;
        char var[128];
        size_t vl;

        if (!d) {
            rc = allot_buf_add(&b, s, (size_t)(end - s));
            break;
        }
        if ((rc = allot_buf_add(&b, s, (size_t)(d - s))))
            break;
        if (end - d >= 3 && d[1] == '$' && d[2] == '{') {
            rc = allot_buf_add(&b, "${", 2);
            s = d + 3;
            continue;
        }
        if (end - d < 2 || d[1] != '{') {
            rc = allot_buf_add(&b, "$", 1);
            s = d + 1;
            continue;
        }
        nm = d + 2;
        close = memchr(nm, '}', (size_t)(end - nm));
        vl = close ? (size_t)(close - nm) : 0;
        if (!close || vl >= sizeof var || !var_name_ok(nm, vl)) {
            report(L, n->line, path,
                   "malformed ${...}: write ${NAME} with NAME made of letters, digits and "
                   "'_' (\"$${\" is a literal \"${\")");
            goto fail;
        }
        memcpy(var, nm, vl);
        var[vl] = '\0';
        d = getenv(var);
        if (!d) {
            report(L, n->line, path, "environment variable %s is not set", var);
            goto fail;
        }
        rc = allot_buf_adds(&b, d);
        s = close + 1;
    }
    if (rc == ALLOT_ETOOBIG) {
        report(L, n->line, path, "longer than %d bytes after ${...} expansion", MAX_VALUE);
        goto fail;
    }
    if (rc) {
        L->nomem = 1;
        goto fail;
    }
    n->val_len = b.len;
    n->val = allot_buf_detach(&b);
    if (!n->val) {
        L->nomem = 1;
        return NULL;
    }
    *len = n->val_len;
    return n->val;
fail:
    if (b.ptr)
        explicit_bzero(b.ptr, b.cap);
    allot_buf_release(&b);
    return NULL;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void set_str(struct load *L, char **slot, const char *s, size_t n, int secret)
{
    char *c = malloc(n + 1);

    if (!c) {
        L->nomem = 1;
        return;
    }
    memcpy(c, s, n);
    c[n] = '\0';
    if (secret)
        free_secret(*slot);
    else
        free(*slot);
    *slot = c;
}

/* 1 when s has no control characters and, with no_space, no spaces. */
static int clean(const char *s, size_t n, int no_space)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (no_space && c == ' '))
            return 0;
    }
    return 1;
}

static int parse_integer(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!(*s == '-' || (*s >= '0' && *s <= '9')))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_number(const char *s, double *out)
{
    char *end;
    double v;

    if (!(*s == '-' || *s == '.' || (*s >= '0' && *s <= '9')) || strpbrk(s, "xX"))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static void set_url(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                    const char *path, char **slot, const char *s, size_t n)
{
    size_t host;

    if (n >= 7 && !strncasecmp(s, "http://", 7))
        host = 7;
    else if (n >= 8 && !strncasecmp(s, "https://", 8))
        host = 8;
    else
        host = 0;
    if (!host || n == host || s[host] == '/' || !clean(s, n, 1)) {
        expected(L, k, v, path);
        return;
    }
    while (n > host && s[n - 1] == '/')
        n--;
    set_str(L, slot, s, n, 0);
}

/* A ledger store: a PostgreSQL URI to offset2 (its password, if any, is
 * never shown: the value is left out of the message), a path to offset. */
static void set_store(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                      const char *path, void *base, const char *s, size_t n)
{
    int pg = allot_store_is_postgres(s);

    if (!pg && !(k->flags & AK_URL_ONLY) && strstr(s, "://") == NULL) {
        if (n == 0 || n > MAX_VALUE || !clean(s, n, 0))
            expected(L, k, v, path);
        else
            set_str(L, (char **)(void *)((char *)base + k->offset), s, n, 0);
        return;
    }
    if (!pg || n > MAX_VALUE || !clean(s, n, 1)) {
        report(L, v->line, path,
               "expected a postgresql:// or postgres:// URL without spaces or control "
               "characters (value not shown: it may hold a password)");
        return;
    }
    set_str(L, (char **)(void *)((char *)base + k->offset2), s, n, 1);
}

static void set_listen(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                       const char *path, void *base, const char *s, size_t n)
{
    const char *host, *colon, *rb;
    size_t hl;
    long long port;
    char g[224];

    if (s[0] == '[') {
        rb = memchr(s, ']', n);
        if (!rb || rb[1] != ':')
            goto bad;
        host = s + 1;
        hl = (size_t)(rb - host);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            goto bad;
        host = s;
        hl = (size_t)(colon - s);
        if (memchr(host, ':', hl)) /* a bare IPv6 address */
            goto bad;
    }
    if (hl == 0 || hl > 255 || !clean(host, hl, 1) || memchr(host, '/', hl) ||
        memchr(host, '[', hl) || memchr(host, ']', hl))
        goto bad;
    if (colon[1] == '-' || parse_integer(colon + 1, &port) || port < 1 || port > 65535) {
        report(L, v->line, path, "expected a port between 1 and 65535 after the ':', got %s",
               got(v, g, sizeof g));
        return;
    }
    set_str(L, (char **)(void *)((char *)base + k->offset), host, hl, 0);
    *(int *)(void *)((char *)base + k->offset2) = (int)port;
    return;
bad:
    expected(L, k, v, path);
}

static void set_enum(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                     const char *path, char **slot, const char *s, size_t n)
{
    const char *w = k->choices;

    while (*w) {
        size_t wl = strcspn(w, " ");
        if (wl == n && !memcmp(w, s, n)) {
            set_str(L, slot, w, wl, 0);
            return;
        }
        w += wl;
        w += *w == ' ';
    }
    expected(L, k, v, path);
}

/* tiers.X: remember the names; they are resolved once every model is read. */
static void set_tier_models(struct load *L, const struct allot__config_key *k,
                            struct allot__ynode *v, const char *path)
{
    size_t t = (size_t)k->arg, i;
    char ip[288], g[224];

    L->tier_line[t] = v->line;
    if (v->type == ALLOT__YSCALAR) {
        L->tier_model[t][0] = v;
        L->n_tier_model[t] = 1;
        return;
    }
    if (v->type != ALLOT__YSEQ) {
        expected(L, k, v, path);
        return;
    }
    if (v->n > ALLOT_MAX_TIER_MODELS) {
        report(L, v->line, path, "expected at most %d models, got %zu", ALLOT_MAX_TIER_MODELS,
               v->n);
        return;
    }
    for (i = 0; i < v->n; i++) {
        struct allot__ynode *item = v->kids[i];
        if (item->type != ALLOT__YSCALAR || allot__ynode_is_null(item)) {
            path_fmt(ip, sizeof ip, "%s[%zu]", path, i);
            report(L, item->line, ip, "expected a model name, got %s", got(item, g, sizeof g));
            continue;
        }
        L->tier_model[t][L->n_tier_model[t]++] = item;
    }
}

/* v as a list: a sequence, or one scalar standing for a list of one (in
 * one[0]). Sets *items; returns how many, or 0 after reporting a value
 * that is neither or a list of more than max (nouns). */
static size_t list_items(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                         const char *path, size_t max, const char *nouns, struct allot__ynode **one,
                         struct allot__ynode ***items)
{
    size_t n = 1;

    one[0] = v;
    *items = one;
    if (v->type == ALLOT__YSEQ) {
        *items = v->kids;
        n = v->n;
    } else if (v->type != ALLOT__YSCALAR) {
        expected(L, k, v, path);
        return 0;
    }
    if (n > max) {
        report(L, v->line, path, "expected at most %zu %s, got %zu", max, nouns, n);
        return 0;
    }
    return n;
}

/* Item i of the list v at path (items from list_items()): its text, with
 * its path in ip[288]; NULL after reporting an item that is not text
 * ("expected WHAT, got ..."). */
static const char *list_item_text(struct load *L, struct allot__ynode *v, struct allot__ynode *item,
                                  const char *path, size_t i, const char *what, char ip[288],
                                  size_t *len)
{
    char g[224];

    path_fmt(ip, 288, v->type == ALLOT__YSEQ ? "%s[%zu]" : "%s", path, i);
    if (item->type != ALLOT__YSCALAR || allot__ynode_is_null(item)) {
        report(L, item->line, ip, "expected %s, got %s", what, got(item, g, sizeof g));
        return NULL;
    }
    return text(L, item, ip, len);
}

/* Append a copy of s[0..len) to list (*n entries) unless it is in it
 * already ("NOUN "s" is listed twice"). */
static void append_unique(struct load *L, struct allot__ynode *item, const char *ip, char **list,
                          size_t *n, const char *s, size_t len, const char *noun)
{
    char g[224];
    size_t j;

    for (j = 0; j < *n && strcmp(list[j], s); j++)
        ;
    if (j < *n) {
        report(L, item->line, ip, "%s %s is listed twice", noun, got(item, g, sizeof g));
        return;
    }
    set_str(L, &list[*n], s, len, 0);
    if (list[*n])
        (*n)++;
}

static void set_aliases(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                        const char *path)
{
    struct allot_routing *r = &L->cfg->routing;
    struct allot__ynode *one[1], **items;
    size_t n, i;
    char ip[288], g[224];

    L->aliases_line = v->line;
    n = list_items(L, k, v, path, ALLOT_MAX_ALIASES, "names", one, &items);
    for (i = 0; i < n; i++) {
        struct allot__ynode *item = items[i];
        const char *s;
        size_t len;

        if (!(s = list_item_text(L, v, item, path, i, "a name", ip, &len)))
            continue;
        if (len == 0 || len > MAX_NAME || !clean(s, len, 1)) {
            report(L, item->line, ip, "expected a name without spaces, got %s",
                   got(item, g, sizeof g));
            continue;
        }
        if (len >= 6 && !strncasecmp(s, "allot:", 6)) {
            report(L, item->line, ip, "\"allot:\" names a tier and cannot be an alias");
            continue;
        }
        if (memchr(s, '*', len - 1)) {
            report(L, item->line, ip, "'*' may only end an alias (a prefix: \"claude-*\"), got %s",
                   got(item, g, sizeof g));
            continue;
        }
        append_unique(L, item, ip, r->aliases, &r->n_aliases, s, len, "alias");
    }
}

/* An origin as a browser sends it: scheme "://" host [":" port], with no
 * path, query or spaces. Returns NULL when s[0..len) is one, else why not. */
static const char *origin_problem(const char *s, size_t len)
{
    size_t i = 0, host;

    while (i < len &&
           ((s[i] >= 'a' && s[i] <= 'z') ||
            (i && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))))
        i++;
    if (i == 0 || len - i < 3 || memcmp(s + i, "://", 3) != 0)
        return "expected scheme://host[:port] (lower case), e.g. https://app.example.com";
    host = i += 3;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/' || c == '?' || c == '#')
            return "an origin has no path: drop what follows the host (a trailing '/' too)";
        if (c <= ' ' || c >= 0x7f || (c >= 'A' && c <= 'Z'))
            return "expected scheme://host[:port] in lower case ASCII without spaces";
    }
    return i > host ? NULL : "expected a host after \"://\"";
}

/* cors.allow_origins: a list of origins, or "*". */
static void set_origins(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                        const char *path)
{
    struct allot_config *c = L->cfg;
    struct allot__ynode *one[1], **items;
    size_t n, i;
    char ip[288], g[224];

    n = list_items(L, k, v, path, ALLOT_MAX_CORS_ORIGINS, "origins", one, &items);
    for (i = 0; i < n; i++) {
        struct allot__ynode *item = items[i];
        const char *s, *why;
        size_t len;

        if (!(s = list_item_text(L, v, item, path, i, "an origin", ip, &len)))
            continue;
        if (!(len == 1 && s[0] == '*') && (why = origin_problem(s, len))) {
            report(L, item->line, ip, "%s, got %s", why, got(item, g, sizeof g));
            continue;
        }
        append_unique(L, item, ip, c->cors_origins, &c->n_cors_origins, s, len, "origin");
    }
}

static void category_names(char *dst, size_t cap)
{
    size_t o = 0;
    int c;

    dst[0] = '\0';
    for (c = 0; c < ALLOT_CAT__COUNT && o < cap; c++) {
        int w = snprintf(dst + o, cap - o, "%s%s", c ? ", " : "",
                         allot_category_name((enum allot_category)c));
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

static void set_categories(struct load *L, const struct allot__config_key *k,
                           struct allot__ynode *v, const char *path)
{
    size_t seen[ALLOT_CAT__COUNT] = {0}, i;
    char kp[288], kq[96], g[224], names[256];

    if (v->type != ALLOT__YMAP) {
        expected(L, k, v, path);
        return;
    }
    for (i = 0; i + 1 < v->n; i += 2) {
        struct allot__ynode *kn = v->kids[i], *tv = v->kids[i + 1];
        enum allot_category c;
        enum allot_tier t;
        const char *s;
        size_t len;

        if (kn->type != ALLOT__YSCALAR || allot__ynode_is_null(kn)) {
            report(L, kn->line, path, "expected a category name, got %s", got(kn, g, sizeof g));
            continue;
        }
        quote(kq, sizeof kq, kn->raw, kn->raw_len);
        path_fmt(kp, sizeof kp, "%s.%s", path, kq);
        if (allot_category_parse(allot_slice_of(kn->raw, kn->raw_len), &c)) {
            category_names(names, sizeof names);
            report(L, kn->line, kp, "unknown category '%s'; categories are: %s", kq, names);
            continue;
        }
        if (seen[c]) {
            report(L, kn->line, kp, "category %s given twice (first on line %zu)",
                   allot_category_name(c), seen[c]);
            continue;
        }
        seen[c] = kn->line;
        if (allot__ynode_is_null(tv))
            continue;
        if (tv->type != ALLOT__YSCALAR) {
            report(L, tv->line, kp, "expected a tier: judgment, labour or code, got %s",
                   got(tv, g, sizeof g));
            continue;
        }
        if (!(s = text(L, tv, kp, &len)))
            continue;
        if (allot_tier_parse(allot_slice_of(s, len), &t)) {
            report(L, tv->line, kp, "unknown tier %s; tiers are: judgment, labour, code",
                   got(tv, g, sizeof g));
            continue;
        }
        L->cfg->routing.category_tier[c] = t;
    }
}

/* A PCRE2 pattern: compiled once here so that a bad one is a config error
 * with its offset, not a failure at serve time. */
static void set_regex(struct load *L, struct allot__ynode *v, const char *path, char **slot,
                      const char *s, size_t n)
{
    int ecode = 0;
    PCRE2_SIZE eoff = 0;
    pcre2_code *re;
    char g[224];

    if (n == 0 || n > MAX_VALUE) {
        report(L, v->line, path, "expected a regular expression (PCRE2), got %s",
               got(v, g, sizeof g));
        return;
    }
    re = pcre2_compile((PCRE2_SPTR)s, n, PCRE2_UTF, &ecode, &eoff, NULL);
    if (!re) {
        PCRE2_UCHAR why[120];
        pcre2_get_error_message(ecode, why, sizeof why);
        report(L, v->line, path, "invalid regular expression at offset %zu: %s", (size_t)eoff,
               (const char *)why);
        return;
    }
    pcre2_code_free(re);
    set_str(L, slot, s, n, 0);
}

static void set_refusals(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                         const char *path)
{
    struct allot_quality *q = &L->cfg->quality;
    size_t i;
    char ip[288];

    if (v->type != ALLOT__YSEQ) {
        expected(L, k, v, path);
        return;
    }
    if (v->n > ALLOT_MAX_REFUSALS) {
        report(L, v->line, path, "expected at most %d patterns, got %zu", ALLOT_MAX_REFUSALS, v->n);
        return;
    }
    for (i = 0; i < v->n; i++) {
        struct allot__ynode *item = v->kids[i];
        const char *s;
        size_t len;

        if (!(s = list_item_text(L, v, item, path, i, "a regular expression", ip, &len)))
            continue;
        set_regex(L, item, ip, &q->refusals[q->n_refusals], s, len);
        if (q->refusals[q->n_refusals])
            q->n_refusals++;
    }
}

static void parse_map(struct load *L, struct allot__ynode *m, const char *tpath, const char *dpath,
                      void *base, size_t item);

/* quality.checks: each key a tier or a category, each value a check set. */
static void set_check_map(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                          const char *path)
{
    struct allot_quality *q = &L->cfg->quality;
    size_t seen[ALLOT_TIER__COUNT + ALLOT_CAT__COUNT] = {0}, i;
    char kp[288], kq[96], g[224], names[256];

    if (v->type != ALLOT__YMAP) {
        expected(L, k, v, path);
        return;
    }
    for (i = 0; i + 1 < v->n; i += 2) {
        struct allot__ynode *kn = v->kids[i], *val = v->kids[i + 1];
        struct allot_slice name;
        enum allot_tier t;
        enum allot_category c;
        struct allot_check_conf *set;
        size_t slot;

        if (kn->type != ALLOT__YSCALAR || allot__ynode_is_null(kn)) {
            report(L, kn->line, path, "expected a tier or category name, got %s",
                   got(kn, g, sizeof g));
            continue;
        }
        quote(kq, sizeof kq, kn->raw, kn->raw_len);
        path_fmt(kp, sizeof kp, "%s.%s", path, kq);
        name = allot_slice_of(kn->raw, kn->raw_len);
        if (allot_tier_parse(name, &t) == 0) {
            set = &q->tier[t];
            slot = (size_t)t;
        } else if (allot_category_parse(name, &c) == 0) {
            set = &q->category[c];
            slot = ALLOT_TIER__COUNT + (size_t)c;
        } else {
            category_names(names, sizeof names);
            report(L, kn->line, kp,
                   "expected a tier (judgment, labour, code) or a category (%s), got %s", names,
                   got(kn, g, sizeof g));
            continue;
        }
        if (seen[slot]) {
            report(L, kn->line, kp, "given twice (first on line %zu)", seen[slot]);
            continue;
        }
        seen[slot] = kn->line;
        if (allot__ynode_is_null(val))
            continue;
        if (val->type != ALLOT__YMAP) {
            report(L, val->line, kp, "expected a mapping of checks (not_empty: true, ...), got %s",
                   got(val, g, sizeof g));
            continue;
        }
        parse_map(L, val, "quality.checks[]", kp, set, 0);
    }
}

/* A list of category names: a bit each. */
static void set_category_set(struct load *L, const struct allot__config_key *k,
                             struct allot__ynode *v, const char *path, unsigned *mask)
{
    char ip[288], g[224], names[256];
    size_t i;

    if (v->type != ALLOT__YSEQ) {
        expected(L, k, v, path);
        return;
    }
    *mask = 0;
    for (i = 0; i < v->n; i++) {
        struct allot__ynode *item = v->kids[i];
        enum allot_category c;
        path_fmt(ip, sizeof ip, "%s[%zu]", path, i);
        if (item->type != ALLOT__YSCALAR ||
            allot_category_parse(allot_slice_of(item->raw, item->raw_len), &c)) {
            category_names(names, sizeof names);
            report(L, item->line, ip, "expected a category (%s), got %s", names,
                   got(item, g, sizeof g));
            continue;
        }
        *mask |= 1u << c;
    }
}

/* A list of tiers, each at most once, in order: allot_tier_list_*. */
static void set_tier_list(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                          const char *path, unsigned *list)
{
    char ip[288], g[224];
    unsigned seen = 0;
    size_t i;
    int n = 0;

    if (v->type != ALLOT__YSEQ || v->n == 0) {
        expected(L, k, v, path);
        return;
    }
    *list = 0;
    for (i = 0; i < v->n; i++) {
        struct allot__ynode *item = v->kids[i];
        enum allot_tier t;
        path_fmt(ip, sizeof ip, "%s[%zu]", path, i);
        if (item->type != ALLOT__YSCALAR ||
            allot_tier_parse(allot_slice_of(item->raw, item->raw_len), &t)) {
            report(L, item->line, ip, "expected a tier (judgment, labour, code), got %s",
                   got(item, g, sizeof g));
            continue;
        }
        if (seen & 1u << t) {
            report(L, item->line, ip, "tier '%s' is listed twice", allot_tier_name(t));
            continue;
        }
        seen |= 1u << t;
        *list |= ((unsigned)t + 1) << (4 * n++);
    }
}

int allot_tier_list_has(unsigned list, enum allot_tier t)
{
    if (!list)
        return 1;
    for (; list; list >>= 4)
        if ((list & 15u) == (unsigned)t + 1)
            return 1;
    return 0;
}

enum allot_tier allot_tier_list_first(unsigned list)
{
    return (enum allot_tier)((list & 15u) - 1);
}

void allot_tier_list_format(unsigned list, char *dst, size_t cap)
{
    size_t n = 0;

    if (cap)
        dst[0] = '\0';
    for (; list && n < cap; list >>= 4) {
        int w = snprintf(dst + n, cap - n, "%s%s", n ? ", " : "",
                         allot_tier_name((enum allot_tier)((list & 15u) - 1)));
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* Store value v of key k (path as shown in messages) into base. */
static void set_value(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                      const char *path, void *base, size_t item)
{
    char *at = (char *)base + k->offset;
    const char *s;
    size_t n;
    long long i;
    double d;

    switch (k->type) {
    case AK_MODEL_LIST:
        set_tier_models(L, k, v, path);
        return;
    case AK_ALIASES:
        set_aliases(L, k, v, path);
        return;
    case AK_ORIGINS:
        set_origins(L, k, v, path);
        return;
    case AK_CATEGORY_MAP:
        set_categories(L, k, v, path);
        return;
    case AK_STRING_LIST:
        set_refusals(L, k, v, path);
        return;
    case AK_CHECK_MAP:
        set_check_map(L, k, v, path);
        return;
    case AK_CATEGORY_SET:
        set_category_set(L, k, v, path, (unsigned *)(void *)((char *)base + k->offset));
        return;
    case AK_TIER_LIST:
        set_tier_list(L, k, v, path, (unsigned *)(void *)((char *)base + k->offset));
        return;
    default:
        break;
    }
    if (v->type != ALLOT__YSCALAR) {
        expected(L, k, v, path);
        return;
    }
    if (!(s = text(L, v, path, &n)))
        return;
    switch (k->type) {
    case AK_PROVIDER_REF:
        if (L->model_provider)
            L->model_provider[item] = v;
        break;
    case AK_STRING:
        if (n == 0 || n > MAX_VALUE || !clean(s, n, 0))
            expected(L, k, v, path);
        else
            set_str(L, (char **)(void *)at, s, n, 0);
        break;
    case AK_NAME:
        if (n == 0 || n > MAX_NAME || !clean(s, n, 1))
            expected(L, k, v, path);
        else
            set_str(L, (char **)(void *)at, s, n, 0);
        break;
    case AK_SECRET:
        if (n == 0 || !clean(s, n, 1))
            report(L, v->line, path,
                   "expected a non-empty API key without spaces or control characters "
                   "(value not shown)");
        else
            set_str(L, (char **)(void *)at, s, n, 1);
        break;
    case AK_URL:
        set_url(L, k, v, path, (char **)(void *)at, s, n);
        break;
    case AK_STORE:
        set_store(L, k, v, path, base, s, n);
        break;
    case AK_ENUM:
        set_enum(L, k, v, path, (char **)(void *)at, s, n);
        break;
    case AK_INT:
    case AK_LONG:
    case AK_SIZE:
        if (parse_integer(s, &i) || i < k->min || i > k->max) {
            expected(L, k, v, path);
            break;
        }
        if (k->type == AK_INT)
            *(int *)(void *)at = (int)i;
        else if (k->type == AK_LONG)
            *(long *)(void *)at = (long)i;
        else
            *(size_t *)(void *)at = (size_t)i;
        break;
    case AK_NUMBER:
        if (parse_number(s, &d) || d < k->dmin || d > k->dmax)
            expected(L, k, v, path);
        else
            *(double *)(void *)at = d;
        break;
    case AK_LISTEN:
        set_listen(L, k, v, path, base, s, n);
        break;
    case AK_TIER:
        if (allot_tier_parse(allot_slice_of(s, n), (enum allot_tier *)(void *)at))
            expected(L, k, v, path);
        break;
    case AK_BOOL: /* choices: a third word, read as 2 */
        if (n == 4 && !memcmp(s, "true", 4))
            *(int *)(void *)at = 1;
        else if (k->choices && n == strlen(k->choices) && !memcmp(s, k->choices, n))
            *(int *)(void *)at = 2;
        else if (n == 5 && !memcmp(s, "false", 5))
            *(int *)(void *)at = 0;
        else
            expected(L, k, v, path);
        break;
    case AK_REGEX:
        set_regex(L, v, path, (char **)(void *)at, s, n);
        break;
    default:
        expected(L, k, v, path);
        break;
    }
}

/* --- the walk ------------------------------------------------------------ */

/* Is row k a direct child of section tpath ("" is the top)? */
static int child_of(const struct allot__config_key *k, const char *tpath)
{
    size_t tl = strlen(tpath);
    const char *rest = k->path;

    if (tl) {
        if (strncmp(k->path, tpath, tl) || k->path[tl] != '.')
            return 0;
        rest = k->path + tl + 1;
    }
    return !strchr(rest, '.');
}

/* The row of key (key_len bytes) in section tpath, or -1. */
static int find_row(const char *tpath, const char *key, size_t key_len)
{
    size_t i, tl = strlen(tpath);

    for (i = 0; i < allot__config_n_keys; i++) {
        const struct allot__config_key *k = &allot__config_keys[i];
        const char *rest = k->path;
        if (tl) {
            if (strncmp(k->path, tpath, tl) || k->path[tl] != '.')
                continue;
            rest = k->path + tl + 1;
        }
        /* a direct child only: "providers[].name" is no key of the top */
        if (!strchr(rest, '.') && strlen(rest) == key_len && !memcmp(rest, key, key_len))
            return (int)i;
    }
    return -1;
}

static void unknown_key(struct load *L, size_t line, const char *tpath, const char *dpath)
{
    char known[512];
    size_t i, o = 0, tl = strlen(tpath);

    known[0] = '\0';
    for (i = 0; i < allot__config_n_keys && o < sizeof known; i++) {
        const struct allot__config_key *k = &allot__config_keys[i];
        int w;
        if (!child_of(k, tpath))
            continue;
        w = snprintf(known + o, sizeof known - o, "%s%s", o ? ", " : "",
                     k->path + (tl ? tl + 1 : 0));
        if (w < 0)
            break;
        o += (size_t)w;
    }
    report(L, line, NULL, "unknown key '%s'; known keys: %s", dpath, known);
}

static void apply_defaults(struct load *L, enum allot__key_scope scope, void *base)
{
    size_t i;

    for (i = 0; i < allot__config_n_keys; i++) {
        const struct allot__config_key *k = &allot__config_keys[i];
        struct allot__ynode d;
        if (k->scope != scope || !k->def)
            continue;
        memset(&d, 0, sizeof d);
        d.type = ALLOT__YSCALAR;
        d.plain = 1;
        d.raw = (char *)k->def; /* only read: it has no '$' to expand */
        d.raw_len = strlen(k->def);
        set_value(L, k, &d, k->path, base, 0);
    }
}

static void parse_map(struct load *L, struct allot__ynode *m, const char *tpath, const char *dpath,
                      void *base, size_t item);

static void parse_list(struct load *L, const struct allot__config_key *k, struct allot__ynode *v,
                       const char *dpath)
{
    struct allot_config *c = L->cfg;
    size_t i, n;
    char tp[64], ip[288], g[224];
    const char *wants = k->arg == AK_SCOPE_PROVIDER ? "name and base_url"
                        : k->arg == AK_SCOPE_MODEL  ? "name and provider"
                                                    : "name and key";

    if (v->type != ALLOT__YSEQ) {
        expected(L, k, v, dpath);
        return;
    }
    n = v->n;
    if ((long long)n > k->max) {
        report(L, v->line, dpath, "expected at most %lld %s, got %zu", k->max, k->path, n);
        return;
    }
    L->list[k->arg] = v;
    if (n == 0)
        return;
    snprintf(tp, sizeof tp, "%s[]", k->path);
    if (k->arg == AK_SCOPE_PROVIDER) {
        if (!(c->providers = calloc(n, sizeof *c->providers))) {
            L->nomem = 1;
            return;
        }
        c->n_providers = n;
    } else if (k->arg == AK_SCOPE_MODEL) {
        if (!(L->model_provider = calloc(n, sizeof *L->model_provider)) ||
            !(c->models = calloc(n, sizeof *c->models))) {
            L->nomem = 1;
            return;
        }
        c->n_models = n;
    } else {
        if (!(c->client_keys = calloc(n, sizeof *c->client_keys))) {
            L->nomem = 1;
            return;
        }
        c->n_client_keys = n;
    }
    for (i = 0; i < n; i++) {
        struct allot__ynode *item = v->kids[i];
        void *ib = k->arg == AK_SCOPE_PROVIDER ? (void *)&c->providers[i]
                   : k->arg == AK_SCOPE_MODEL  ? (void *)&c->models[i]
                                               : (void *)&c->client_keys[i];

        path_fmt(ip, sizeof ip, "%s[%zu]", dpath, i);
        apply_defaults(L, (enum allot__key_scope)k->arg, ib);
        /* the cache prices default to price.input, which the item may set
         * after them: -1 marks them unset until check_models */
        if (k->arg == AK_SCOPE_MODEL)
            c->models[i].price_cached_in = c->models[i].price_cache_write = -1;
        if (item->type != ALLOT__YMAP) {
            report(L, item->line, ip, "expected a mapping with %s, got %s", wants,
                   got(item, g, sizeof g));
            continue;
        }
        parse_map(L, item, tp, ip, ib, i);
    }
}

/* Read mapping m against the rows of section tpath ("" for the top,
 * "limits", "providers[]") into base. dpath is the section as shown in
 * messages ("providers[2]"); item is the index of the list item. */
static void parse_map(struct load *L, struct allot__ynode *m, const char *tpath, const char *dpath,
                      void *base, size_t item)
{
    size_t seen[ALLOT__CONFIG_MAX_KEYS] = {0};
    unsigned char set[ALLOT__CONFIG_MAX_KEYS] = {0};
    size_t i, tl = strlen(tpath);

    for (i = 0; i + 1 < m->n; i += 2) {
        struct allot__ynode *kn = m->kids[i], *v = m->kids[i + 1];
        const struct allot__config_key *k;
        char kq[96], dp[288], g[224];
        int r;

        if (kn->type != ALLOT__YSCALAR || allot__ynode_is_null(kn)) {
            report(L, kn->line, dpath, "expected a key name, got %s", got(kn, g, sizeof g));
            continue;
        }
        quote(kq, sizeof kq, kn->raw, kn->raw_len);
        path_fmt(dp, sizeof dp, "%s%s%s", dpath, *dpath ? "." : "", kq);
        r = find_row(tpath, kn->raw, kn->raw_len);
        if (r < 0) {
            unknown_key(L, kn->line, tpath, dp);
            continue;
        }
        if (seen[r]) {
            report(L, kn->line, dp, "given twice (first on line %zu)", seen[r]);
            continue;
        }
        seen[r] = kn->line;
        if (allot__ynode_is_null(v)) /* "key:" with no value keeps the default */
            continue;
        set[r] = 1;
        k = &allot__config_keys[r];
        if (k->type == AK_LIST) {
            parse_list(L, k, v, dp);
        } else if (k->type == AK_SECTION && v->type == ALLOT__YMAP) {
            parse_map(L, v, k->path, dp, base, item);
        } else if (k->type == AK_SECTION && v->type == ALLOT__YSCALAR && k->choices) {
            int sub = find_row(k->path, k->choices, strlen(k->choices));
            if (sub >= 0)
                set_value(L, &allot__config_keys[sub], v, dp, base, item);
        } else if (k->type == AK_SECTION) {
            expected(L, k, v, dp);
        } else {
            set_value(L, k, v, dp, base, item);
        }
    }
    for (i = 0; i < allot__config_n_keys; i++) {
        const struct allot__config_key *k = &allot__config_keys[i];
        if ((k->flags & AK_REQUIRED) && !set[i] && child_of(k, tpath))
            report(L, m->line, dpath, "missing '%s'", k->path + (tl ? tl + 1 : 0));
    }
}

/* --- whole-file rules ---------------------------------------------------- */

/* Line of key `key` in item i of list `scope`, else of the item. */
static size_t item_line(const struct load *L, int scope, size_t i, const char *key)
{
    const struct allot__ynode *list = L->list[scope];
    size_t line = 0;

    if (!list || i >= list->n)
        return 0;
    if (!allot__ynode_get(list->kids[i], key, &line))
        line = list->kids[i]->line;
    return line;
}

/* Whether item i of list `scope` has key `key` (with any value). */
static int item_has(const struct load *L, int scope, size_t i, const char *key)
{
    const struct allot__ynode *list = L->list[scope];
    size_t line = 0;

    return list && i < list->n && allot__ynode_get(list->kids[i], key, &line) != NULL;
}

/* "a, b, c" of the provider or model names, for "... are: ". */
static void name_list(const struct allot_config *c, int models, char *dst, size_t cap)
{
    size_t i, o = 0, n = models ? c->n_models : c->n_providers;

    dst[0] = '\0';
    for (i = 0; i < n && o < cap; i++) {
        const char *nm = models ? c->models[i].name : c->providers[i].name;
        int w;
        if (!nm)
            continue;
        if (i == 12) {
            snprintf(dst + o, cap - o, ", ...");
            break;
        }
        w = snprintf(dst + o, cap - o, "%s%s", o ? ", " : "", nm);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

static void check_providers(struct load *L)
{
    struct allot_config *c = L->cfg;
    size_t i, j;
    char p[64];

    for (i = 0; i < c->n_providers; i++) {
        if (!c->providers[i].name)
            continue;
        for (j = 0; j < i; j++) {
            if (c->providers[j].name && !strcmp(c->providers[i].name, c->providers[j].name)) {
                path_fmt(p, sizeof p, "providers[%zu].name", i);
                report(L, item_line(L, AK_SCOPE_PROVIDER, i, "name"), p,
                       "duplicate provider name '%s' (first on line %zu)", c->providers[i].name,
                       item_line(L, AK_SCOPE_PROVIDER, j, "name"));
                break;
            }
        }
    }
}

static void check_models(struct load *L)
{
    struct allot_config *c = L->cfg;
    size_t i, j;
    char p[64], names[512], q[96];

    for (i = 0; i < c->n_models; i++) {
        struct allot_model *m = &c->models[i];
        struct allot__ynode *pn = L->model_provider ? L->model_provider[i] : NULL;

        if (m->price_cached_in < 0) /* not given (parse_list): no discount */
            m->price_cached_in = m->price_in;
        if (m->price_cache_write < 0)
            m->price_cache_write = m->price_in;
        if (m->name) {
            if (!m->upstream_id)
                set_str(L, &m->upstream_id, m->name, strlen(m->name), 0);
            path_fmt(p, sizeof p, "models[%zu].name", i);
            if (!strncasecmp(m->name, "allot:", 6))
                report(L, item_line(L, AK_SCOPE_MODEL, i, "name"), p,
                       "model names cannot start with \"allot:\", which names a tier");
            for (j = 0; j < i; j++) {
                if (c->models[j].name && !strcmp(m->name, c->models[j].name)) {
                    report(L, item_line(L, AK_SCOPE_MODEL, i, "name"), p,
                           "duplicate model name '%s' (first on line %zu)", m->name,
                           item_line(L, AK_SCOPE_MODEL, j, "name"));
                    break;
                }
            }
        }
        if (pn) {
            const char *s;
            size_t n;
            path_fmt(p, sizeof p, "models[%zu].provider", i);
            if (!(s = text(L, pn, p, &n)))
                continue;
            for (j = 0; j < c->n_providers; j++) {
                const char *pname = c->providers[j].name;
                if (pname && strlen(pname) == n && !memcmp(pname, s, n))
                    break;
            }
            if (j < c->n_providers) {
                m->provider = &c->providers[j];
                continue;
            }
            quote(q, sizeof q, pn->raw, pn->raw_len);
            name_list(c, 0, names, sizeof names);
            if (names[0])
                report(L, pn->line, p, "unknown provider '%s'; providers are: %s", q, names);
            else
                report(L, pn->line, p, "unknown provider '%s'; no providers are configured", q);
        }
    }
}

/* The model names listed at L->tier_model[t] (written under path) into
 * tc, each known and at most once; in_what names the list in messages. */
static void resolve_list(struct load *L, size_t t, const char *path, const char *in_what,
                         struct allot_tier_conf *tc)
{
    const struct allot_config *c = L->cfg;
    char p[96], names[512], q[96];
    size_t j, k;

    for (j = 0; j < L->n_tier_model[t]; j++) {
        struct allot__ynode *nn = L->tier_model[t][j];
        const struct allot_model *m;
        const char *s;
        size_t n;

        path_fmt(p, sizeof p, "%s[%zu]", path, j);
        if (!(s = text(L, nn, p, &n)))
            continue;
        quote(q, sizeof q, nn->raw, nn->raw_len);
        m = allot_config_find_model(c, s, n);
        if (!m) {
            name_list(c, 1, names, sizeof names);
            report(L, nn->line, p, "unknown model '%s'; models are: %s", q, names);
            continue;
        }
        for (k = 0; k < tc->n_models && tc->models[k] != m; k++)
            ;
        if (k < tc->n_models) {
            report(L, nn->line, p, "model '%s' is listed twice in %s", q, in_what);
            continue;
        }
        tc->models[tc->n_models++] = (struct allot_model *)m;
    }
}

/* embeddings: known models, each of a provider with an embeddings API. */
static void check_embeddings(struct load *L)
{
    struct allot_tier_conf *e = &L->cfg->embeddings;
    char p[64];
    size_t i;

    resolve_list(L, EMBED, "embeddings", "embeddings", e);
    for (i = 0; i < e->n_models; i++)
        if (allot_provider_is_anthropic(e->models[i]->provider)) {
            path_fmt(p, sizeof p, "embeddings[%zu]", i);
            report(L, L->tier_model[EMBED][i]->line, p,
                   "model '%s' is served by provider '%s' of kind anthropic, which has no "
                   "embeddings API; list models of kind openai providers",
                   e->models[i]->name, e->models[i]->provider->name);
        }
}

static void check_tiers(struct load *L)
{
    struct allot_config *c = L->cfg;
    size_t t, k, line;
    char p[64], why[256];

    for (t = 0; t < ALLOT_TIER__COUNT; t++) {
        struct allot_tier_conf *tc = &c->tiers[t];
        const char *tname = allot_tier_name((enum allot_tier)t);

        char at[32], in_what[32];
        path_fmt(at, sizeof at, "tiers.%s", tname);
        snprintf(in_what, sizeof in_what, "tier %s", tname);
        resolve_list(L, (size_t)t, at, in_what, tc);

        /* An empty tier is fine as long as nothing routes to it. */
        if (L->n_tier_model[t])
            continue;
        why[0] = '\0';
        for (k = 0; k < ALLOT_CAT__COUNT; k++) {
            size_t o = strlen(why);
            if (c->routing.category_tier[k] == t)
                snprintf(why + o, sizeof why - o, "%s%s", o ? ", " : "",
                         allot_category_name((enum allot_category)k));
        }
        if (c->routing.default_tier == (enum allot_tier)t) {
            size_t o = strlen(why);
            snprintf(why + o, sizeof why - o, "%srouting.default_tier", o ? "; " : "");
        }
        if (!why[0])
            continue;
        line = L->tier_line[t];
        if (!line)
            allot__ynode_get(L->root, "tiers", &line);
        path_fmt(p, sizeof p, "tiers.%s", tname);
        report(L, line, p,
               "lists no models, but routing sends work to it (%s); list at least one model, "
               "or send that work to another tier with routing.categories and "
               "routing.default_tier",
               why);
    }
}

static void check_aliases(struct load *L)
{
    struct allot_routing *r = &L->cfg->routing;
    size_t i;
    char p[64];

    for (i = 0; i < r->n_aliases && strcmp(r->aliases[i], "auto"); i++)
        ;
    if (i == r->n_aliases) {
        if (r->n_aliases == ALLOT_MAX_ALIASES) {
            report(L, L->aliases_line, "routing.aliases",
                   "expected at most %d names besides \"auto\", which is always an alias",
                   ALLOT_MAX_ALIASES - 1);
            return;
        }
        memmove(&r->aliases[1], &r->aliases[0], r->n_aliases * sizeof r->aliases[0]);
        r->aliases[0] = NULL;
        r->n_aliases++;
        set_str(L, &r->aliases[0], "auto", 4, 0);
        if (!r->aliases[0]) {
            memmove(&r->aliases[0], &r->aliases[1], --r->n_aliases * sizeof r->aliases[0]);
            return;
        }
    }
    for (i = 0; i < r->n_aliases; i++) {
        const struct allot_model *m =
            allot_config_find_model(L->cfg, r->aliases[i], strlen(r->aliases[i]));
        size_t mi;
        if (!m)
            continue;
        mi = (size_t)(m - L->cfg->models);
        path_fmt(p, sizeof p, "models[%zu].name", mi);
        report(L, item_line(L, AK_SCOPE_MODEL, mi, "name"), p,
               "'%s' is a routing alias (routing.aliases), so it cannot name a model",
               r->aliases[i]);
    }
}

static void check_quality(struct load *L)
{
    const struct allot_quality *q = &L->cfg->quality;
    size_t line = 0;

    if (q->floor_min_samples > q->floor_window) {
        struct allot__ynode *ms = allot__ynode_get(
            allot__ynode_get(allot__ynode_get(L->root, "quality", &line), "floor", &line),
            "min_samples", &line);
        if (!ms) /* not given: the default follows a smaller window */
            L->cfg->quality.floor_min_samples = q->floor_window;
        else
            report(L, line, "quality.floor.min_samples",
                   "expected at most quality.floor.window (%d), got %d", q->floor_window,
                   q->floor_min_samples);
    }
}

/* auth.keys: one of key and key_sha256 each, long enough, names and keys
 * unique. Every key is hashed here and its text zeroed and freed. A
 * message never shows a key, only where it is. */
static void check_auth(struct load *L)
{
    struct allot_config *c = L->cfg;
    size_t i, j;
    char p[96];

    for (i = 0; i < c->n_client_keys; i++) {
        struct allot_client_key *k = &c->client_keys[i];
        size_t line = item_line(L, AK_SCOPE_CLIENT, i, "name");

        path_fmt(p, sizeof p, "auth.keys[%zu]", i);
        if (k->key && k->key_sha256) {
            report(L, line, p, "give 'key' or 'key_sha256', not both");
        } else if (k->key) {
            size_t n = strlen(k->key);
            if (n < ALLOT_MIN_CLIENT_KEY_LEN) {
                path_fmt(p, sizeof p, "auth.keys[%zu].key", i);
                report(L, item_line(L, AK_SCOPE_CLIENT, i, "key"), p,
                       "expected a key of at least %d characters, got %zu (value not shown); "
                       "`allot config new-key NAME` makes one",
                       ALLOT_MIN_CLIENT_KEY_LEN, n);
            }
            allot_sha256(k->key, n, k->digest);
        } else if (k->key_sha256) {
            if (allot_sha256_parse_hex(k->key_sha256, strlen(k->key_sha256), k->digest)) {
                char q[80];
                path_fmt(p, sizeof p, "auth.keys[%zu].key_sha256", i);
                quote(q, sizeof q, k->key_sha256, strlen(k->key_sha256));
                report(L, item_line(L, AK_SCOPE_CLIENT, i, "key_sha256"), p,
                       "expected 64 hex digits (a SHA-256), got \"%s\"", q);
            }
        } else if (!item_has(L, AK_SCOPE_CLIENT, i, "key") &&
                   !item_has(L, AK_SCOPE_CLIENT, i, "key_sha256")) {
            report(L, line, p, "missing 'key' or 'key_sha256'");
        } /* else the value was refused, and said so */
        free_secret(k->key);
        k->key = NULL;
        k->has_budget = item_has(L, AK_SCOPE_CLIENT, i, "daily_budget_usd");
    }
    for (i = 0; i < c->n_client_keys; i++) {
        const struct allot_client_key *k = &c->client_keys[i];
        for (j = 0; j < i; j++) {
            const struct allot_client_key *o = &c->client_keys[j];
            if (k->name && o->name && !strcmp(k->name, o->name)) {
                path_fmt(p, sizeof p, "auth.keys[%zu].name", i);
                report(L, item_line(L, AK_SCOPE_CLIENT, i, "name"), p,
                       "duplicate client name '%s' (first on line %zu)", k->name,
                       item_line(L, AK_SCOPE_CLIENT, j, "name"));
                break;
            }
            if (allot_sha256_equal(k->digest, o->digest) &&
                !allot_sha256_equal(k->digest, (const unsigned char[32]){0})) {
                path_fmt(p, sizeof p, "auth.keys[%zu]", i);
                report(L, item_line(L, AK_SCOPE_CLIENT, i, "name"), p,
                       "the same key as auth.keys[%zu] (line %zu); each client needs its own", j,
                       item_line(L, AK_SCOPE_CLIENT, j, "name"));
                break;
            }
        }
    }
}

/* store.path and store.url name two stores: which one is meant? */
static void check_store(struct load *L)
{
    const struct allot__ynode *store = allot__ynode_get(L->root, "store", NULL);
    size_t line = 0;

    if (store && store->type == ALLOT__YMAP && allot__ynode_get(store, "path", NULL) &&
        allot__ynode_get(store, "url", &line))
        report(L, line, "store.url",
               "give store.path (a SQLite file) or store.url "
               "(PostgreSQL), not both");
}

/* auth.keys[].tiers: each tier listed serves (after check_tiers). */
static void check_client_tiers(struct load *L)
{
    const struct allot_config *c = L->cfg;
    unsigned list;
    char p[96];
    size_t i;

    for (i = 0; i < c->n_client_keys; i++)
        for (list = c->client_keys[i].tiers; list; list >>= 4) {
            enum allot_tier t = (enum allot_tier)((list & 15u) - 1);
            if (c->tiers[t].n_models == 0) {
                path_fmt(p, sizeof p, "auth.keys[%zu].tiers", i);
                report(L, item_line(L, AK_SCOPE_CLIENT, i, "tiers"), p,
                       "tier '%s' lists no models (tiers.%s)", allot_tier_name(t),
                       allot_tier_name(t));
            }
        }
}

static void check_all(struct load *L)
{
    size_t line = 0;

    check_store(L);
    check_providers(L);
    check_auth(L);
    check_models(L);
    check_aliases(L);
    if (L->cfg->n_models == 0) {
        allot__ynode_get(L->root, "models", &line);
        report(L, line, NULL,
               "no models configured; list at least one under 'models' and put it in a tier "
               "(see examples/allot.yaml)");
        return;
    }
    check_tiers(L);
    check_embeddings(L);
    check_client_tiers(L);
    check_quality(L);
}

/* --- public -------------------------------------------------------------- */

static void check_conf_unset(struct allot_check_conf *c)
{
    c->not_empty = c->not_refusal = c->not_truncated = -1;
    c->json = c->schema = c->escalate = -1;
    c->min_chars = c->max_chars = -1;
}

int allot_config_load_mem(const char *name, const char *yaml, size_t len, struct allot_config **out,
                          struct allot_buf *err)
{
    struct load L;
    struct allot_config *cfg = NULL;
    struct allot__ynode *root = NULL;
    char g[224], msg[256];
    size_t line = 0;
    int rc, c;

    memset(&L, 0, sizeof L);
    L.name = name ? name : "<config>";
    L.err = err;
    if (len > MAX_FILE_BYTES) {
        report(&L, 0, NULL, "larger than %u bytes", MAX_FILE_BYTES);
        rc = ALLOT_ECONFIG;
        goto out;
    }
    if (!(cfg = calloc(1, sizeof *cfg))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    L.cfg = cfg;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        cfg->routing.category_tier[c] = allot_category_default_tier((enum allot_category)c);
    cfg->routing.accept_categories = (1u << ALLOT_CAT__COUNT) - 1u;
    cfg->routing.accept_threshold = -1;
    for (c = 0; c < ALLOT_TIER__COUNT + ALLOT_CAT__COUNT; c++)
        check_conf_unset(c < ALLOT_TIER__COUNT ? &cfg->quality.tier[c]
                                               : &cfg->quality.category[c - ALLOT_TIER__COUNT]);
    rc = allot__yaml_parse(yaml ? yaml : "", yaml ? len : 0, &root, &line, msg, sizeof msg);
    if (rc == ALLOT_ECONFIG)
        report(&L, line, NULL, "%s", msg);
    if (rc)
        goto out;
    L.root = root;
    apply_defaults(&L, AK_SCOPE_CONFIG, cfg);
    if (root && !allot__ynode_is_null(root) && root->type != ALLOT__YMAP) {
        report(&L, root->line, NULL,
               "expected a mapping of keys (listen, providers, models, tiers, ...) at the top, "
               "got %s",
               got(root, g, sizeof g));
    } else {
        if (root && root->type == ALLOT__YMAP)
            parse_map(&L, root, "", "", cfg, 0);
        if (!L.nomem)
            check_all(&L);
    }
    rc = L.nomem ? ALLOT_ENOMEM : L.n_errors ? ALLOT_ECONFIG : 0;
out:
    if (rc == ALLOT_ENOMEM)
        L.nomem = 1;
    flush_errors(&L);
    allot__ynode_free(root);
    free(L.model_provider);
    if (rc) {
        allot_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int allot_config_load(const char *path, struct allot_config **out, struct allot_buf *err)
{
    struct allot_config *cfg = NULL;
    FILE *f = NULL;
    char *data = NULL;
    size_t n = 0;
    int rc;

    if (!(data = malloc(MAX_FILE_BYTES + 1))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if (!(f = fopen(path, "rb"))) {
        if (err)
            allot_buf_addf(err, "%s: cannot open: %s\n", path, strerror(errno));
        rc = ALLOT_EIO;
        goto out;
    }
    n = fread(data, 1, MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        if (err)
            allot_buf_addf(err, "%s: cannot read: %s\n", path, strerror(errno));
        rc = ALLOT_EIO;
        goto out;
    }
    if ((rc = allot_config_load_mem(path, data, n, &cfg, err)))
        goto out;
    if (!(cfg->path = strdup(path))) {
        allot_config_free(cfg);
        rc = ALLOT_ENOMEM;
        goto out;
    }
    *out = cfg;
out:
    if (f)
        fclose(f);
    if (data) {
        explicit_bzero(data, n);
        free(data);
    }
    return rc;
}

int allot_config_default(struct allot_config **out, struct allot_buf *err)
{
    return allot_config_load_mem("<built-in defaults>", default_yaml, sizeof default_yaml - 1, out,
                                 err);
}

const struct allot_model *allot_config_find_model(const struct allot_config *c, const char *name,
                                                  size_t name_len)
{
    size_t i;

    for (i = 0; i < c->n_models; i++) {
        const char *nm = c->models[i].name;
        if (nm && strlen(nm) == name_len && !memcmp(nm, name, name_len))
            return &c->models[i];
    }
    return NULL;
}

const struct allot_provider *allot_config_find_provider(const struct allot_config *c,
                                                        const char *name)
{
    size_t i;

    for (i = 0; i < c->n_providers; i++) {
        if (c->providers[i].name && !strcmp(c->providers[i].name, name))
            return &c->providers[i];
    }
    return NULL;
}

const char *allot_config_store(const struct allot_config *c)
{
    return c->store_url ? c->store_url : c->store_path;
}

void allot_config_free(struct allot_config *c)
{
    size_t i;

    if (!c)
        return;
    free(c->path);
    free(c->listen_host);
    free(c->store_path);
    free(c->store_pending);
    free_secret(c->store_url);
    free(c->routing.classifier_model);
    free(c->routing.accept_model);
    for (i = 0; i < c->n_providers; i++) {
        free(c->providers[i].name);
        free(c->providers[i].kind);
        free(c->providers[i].http_client);
        free(c->providers[i].base_url);
        free_secret(c->providers[i].api_key);
    }
    free(c->providers);
    for (i = 0; i < c->n_models; i++) {
        free(c->models[i].name);
        free(c->models[i].upstream_id);
    }
    free(c->models);
    for (i = 0; i < c->n_client_keys; i++) {
        free(c->client_keys[i].name);
        free_secret(c->client_keys[i].key);
        free(c->client_keys[i].key_sha256);
        explicit_bzero(c->client_keys[i].digest, sizeof c->client_keys[i].digest);
    }
    free(c->client_keys);
    for (i = 0; i < c->routing.n_aliases; i++)
        free(c->routing.aliases[i]);
    for (i = 0; i < ALLOT_TIER__COUNT + ALLOT_CAT__COUNT; i++) {
        struct allot_check_conf *k = i < ALLOT_TIER__COUNT
                                         ? &c->quality.tier[i]
                                         : &c->quality.category[i - ALLOT_TIER__COUNT];
        free(k->must_match);
        free(k->must_not_match);
        free(k->stream);
    }
    for (i = 0; i < c->quality.n_refusals; i++)
        free(c->quality.refusals[i]);
    for (i = 0; i < c->n_cors_origins; i++)
        free(c->cors_origins[i]);
    free(c->quality.code_escalates_to);
    free(c);
}

int allot_provider_is_anthropic(const struct allot_provider *p)
{
    return p && p->kind && strcmp(p->kind, "anthropic") == 0;
}

int allot_provider_forces_curl(const struct allot_provider *p)
{
    return p && p->http_client && strcmp(p->http_client, "curl") == 0;
}
