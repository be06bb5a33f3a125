/* store_url.c: telling a PostgreSQL URI from a SQLite path, and showing
 * either without a password (store_url.h).
 *
 * Both work on any name with "://", not only the PostgreSQL schemes, so a
 * mistyped scheme still hides its password. The redaction is deliberately
 * wider than libpq's parser: the user info is
 * everything between "://" and the LAST '@' before the query, so a password
 * holding an unencoded '@' or '/' (which libpq itself would misread) is
 * still hidden whole rather than shown in part. */
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include "allot/store_url.h"

static int has_prefix(const char *s, const char *p)
{
    return strncasecmp(s, p, strlen(p)) == 0;
}

int allot_store_is_postgres(const char *store)
{
    return store && (has_prefix(store, "postgresql://") || has_prefix(store, "postgres://"));
}

/* Append n bytes of s to dst[*o], keeping room for the NUL. */
static void put(char *dst, size_t cap, size_t *o, const char *s, size_t n)
{
    size_t room = cap - 1 - *o;
    if (n > room)
        n = room;
    memcpy(dst + *o, s, n);
    *o += n;
}

/* The parts of URL store (it has "://"): *auth where the user info (or
 * host) starts, *query the '?' or the end; returns the last '@' before
 * *query, which ends the user info, or NULL when there is none. */
static const char *url_parts(const char *store, const char **auth, const char **query)
{
    const char *p, *at = NULL;

    *auth = strstr(store, "://") + 3;
    *query = strchr(*auth, '?');
    if (!*query)
        *query = *auth + strlen(*auth);
    for (p = *auth; p < *query; p++)
        if (*p == '@')
            at = p;
    return at;
}

const char *allot_store_redact(const char *store, char *dst, size_t cap)
{
    const char *p, *auth, *query, *at = NULL, *colon;
    size_t o = 0;

    if (cap == 0)
        return dst;
    if (!store)
        store = "";
    /* any URL-like name, so a mistyped scheme still hides its password */
    if (!strstr(store, "://")) {
        put(dst, cap, &o, store, strlen(store));
        goto out;
    }
    at = url_parts(store, &auth, &query);
    put(dst, cap, &o, store, (size_t)(auth - store));
    if (at) {
        colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            put(dst, cap, &o, auth, (size_t)(colon - auth));
            put(dst, cap, &o, ":***", 4);
        } else {
            put(dst, cap, &o, auth, (size_t)(at - auth));
        }
        auth = at;
    }
    put(dst, cap, &o, auth, (size_t)(query - auth));
    /* the parameters: "password=..." up to the next '&' becomes "***" */
    p = query;
    while (*p) {
        const char *end = strchr(p + 1, '&');
        const char *eq;
        if (!end)
            end = p + strlen(p);
        eq = memchr(p + 1, '=', (size_t)(end - p - 1));
        if (eq && (size_t)(eq - p - 1) == 8 && strncasecmp(p + 1, "password", 8) == 0) {
            put(dst, cap, &o, p, (size_t)(eq + 1 - p));
            put(dst, cap, &o, "***", 3);
        } else {
            put(dst, cap, &o, p, (size_t)(end - p));
        }
        p = end;
    }
out:
    dst[o] = '\0';
    return dst;
}

/* The password spans of a PostgreSQL URI: the user info's after ':' and
 * each "password" parameter's value. Up to max spans; returns how many. */
struct span {
    const char *p;
    size_t n;
};

static size_t password_spans(const char *store, struct span *out, size_t max)
{
    const char *auth, *query, *p, *at = NULL, *colon;
    size_t k = 0;

    if (!strstr(store, "://"))
        return 0;
    at = url_parts(store, &auth, &query);
    if (at && (colon = memchr(auth, ':', (size_t)(at - auth))) && at > colon + 1 && k < max)
        out[k++] = (struct span){colon + 1, (size_t)(at - colon - 1)};
    for (p = query; *p && k < max;) {
        const char *end = strchr(p + 1, '&'), *eq;
        if (!end)
            end = p + strlen(p);
        eq = memchr(p + 1, '=', (size_t)(end - p - 1));
        if (eq && (size_t)(eq - p - 1) == 8 && strncasecmp(p + 1, "password", 8) == 0 &&
            end > eq + 1)
            out[k++] = (struct span){eq + 1, (size_t)(end - eq - 1)};
        p = end;
    }
    return k;
}

const char *allot_store_scrub(const char *store, const char *msg, char *dst, size_t cap)
{
    struct span spans[8];
    size_t n = password_spans(store ? store : "", spans, 8), o = 0, i;

    if (cap == 0)
        return dst;
    if (!msg)
        msg = "";
    while (*msg) {
        for (i = 0; i < n; i++)
            if (strncmp(msg, spans[i].p, spans[i].n) == 0)
                break;
        if (i < n) {
            put(dst, cap, &o, "***", 3);
            msg += spans[i].n;
        } else {
            put(dst, cap, &o, msg, 1);
            msg++;
        }
    }
    dst[o] = '\0';
    return dst;
}
