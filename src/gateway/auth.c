/* auth.c: client keys, looked up by their SHA-256 (auth.h). */
#include <stdlib.h>
#include <string.h>
#include "allot/auth.h"
#include "allot/error.h"
#include "allot/sha256.h"

#define MAX_KEY_BYTES 1024 /* longer credentials are refused unhashed */

struct entry {
    unsigned char digest[ALLOT_SHA256_LEN];
    int client; /* ids[i] of allot_auth_new(), or the index in cfg->client_keys */
};

struct allot_auth {
    size_t n;
    struct entry entries[]; /* sorted by digest */
};

static int by_digest(const void *a, const void *b)
{
    return memcmp(((const struct entry *)a)->digest, ((const struct entry *)b)->digest,
                  ALLOT_SHA256_LEN);
}

int allot_auth_new(const struct allot_config *cfg, const int *ids, struct allot_auth **out)
{
    struct allot_auth *a;
    size_t i;

    a = calloc(1, sizeof *a + cfg->n_client_keys * sizeof a->entries[0]);
    if (!a)
        return ALLOT_ENOMEM;
    a->n = cfg->n_client_keys;
    for (i = 0; i < a->n; i++) {
        memcpy(a->entries[i].digest, cfg->client_keys[i].digest, ALLOT_SHA256_LEN);
        a->entries[i].client = ids ? ids[i] : (int)i;
    }
    if (a->n > 1)
        qsort(a->entries, a->n, sizeof a->entries[0], by_digest);
    *out = a;
    return 0;
}

void allot_auth_free(struct allot_auth *a)
{
    if (a) {
        explicit_bzero(a->entries, a->n * sizeof a->entries[0]);
        free(a);
    }
}

int allot_auth_required(const struct allot_auth *a)
{
    return a && a->n > 0;
}

/* The index of the client whose key is k, or -1. */
static int lookup(const struct allot_auth *a, struct allot_slice k)
{
    unsigned char d[ALLOT_SHA256_LEN];
    size_t lo = 0, hi = a->n;
    int found = -1;

    if (k.len == 0 || k.len > MAX_KEY_BYTES)
        return -1;
    allot_sha256(k.ptr, k.len, d);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(d, a->entries[mid].digest, ALLOT_SHA256_LEN);
        if (c == 0) {
            if (allot_sha256_equal(d, a->entries[mid].digest))
                found = a->entries[mid].client;
            break;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    explicit_bzero(d, sizeof d);
    return found;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The token of "Bearer TOKEN", without surrounding blanks; {NULL, 0} for
 * any other scheme. */
static struct allot_slice bearer_token(struct allot_slice h)
{
    struct allot_slice t = {NULL, 0};
    size_t i = 0, end = h.len;

    if (h.len < 7 || !allot_slice_ieq(allot_slice_of(h.ptr, 6), "bearer") || !blank(h.ptr[6]))
        return t;
    for (i = 7; i < h.len && blank(h.ptr[i]); i++)
        ;
    while (end > i && blank(h.ptr[end - 1]))
        end--;
    return allot_slice_of(h.ptr + i, end - i);
}

static struct allot_slice trimmed(struct allot_slice s)
{
    while (s.len && blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && blank(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

enum allot_auth_result allot_auth_identify(const struct allot_auth *a,
                                           struct allot_slice authorization,
                                           struct allot_slice api_key, int *client)
{
    struct allot_slice bearer = {NULL, 0}, xkey = {NULL, 0};
    int c = -1;

    *client = -1;
    if (!allot_auth_required(a))
        return ALLOT_AUTH_OK;
    if (authorization.ptr)
        bearer = bearer_token(authorization);
    if (api_key.ptr)
        xkey = trimmed(api_key);
    if (bearer.len == 0 && xkey.len == 0)
        return ALLOT_AUTH_MISSING;
    if (bearer.len)
        c = lookup(a, bearer);
    if (c < 0 && xkey.len)
        c = lookup(a, xkey);
    if (c < 0)
        return ALLOT_AUTH_INVALID;
    *client = c;
    return ALLOT_AUTH_OK;
}
