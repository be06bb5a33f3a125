/* strtab.c: the string table of the outcome loader (outcomes.c): an
 * arena that owns the strings a result keeps (prompts, ids, model names)
 * and the loader's temporary ones, freed in one call, and a string-keyed
 * hash map (open addressing, FNV-1a) from those strings to indexes, for
 * the exclusion list and the row ids that answer lengths are matched by.
 * Nothing is global: each arena and map belongs to one load. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allot/error.h"
#include "eval/internal.h"

#define ARENA_BLOCK (256u * 1024)

/* ---- the string arena ---- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
};

char *allot__arena_alloc(struct arena *a, size_t n)
{
    struct arena_block *b = a->head;
    char *p;

    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if (cap > SIZE_MAX - sizeof *b)
            return NULL;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        /* an outsized string gets a block of its own, kept behind the head
         * so the head's free room is not abandoned */
        if (a->head && n > ARENA_BLOCK) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    p = b->data + b->used;
    b->used += n;
    return p;
}

char *allot__arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = n < SIZE_MAX ? allot__arena_alloc(a, n + 1) : NULL;

    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void allot__arena_release(struct arena *a)
{
    struct arena_block *b = a->head, *next;

    for (; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

/* ---- a string-keyed hash map (exclusion list, ids), keys owned elsewhere ---- */

struct strmap_slot {
    const char *key; /* NULL: empty */
    size_t len, val;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211u;
    }
    return h;
}

static struct strmap_slot *strmap_slot(const struct strmap *m, const char *k, size_t n)
{
    size_t i = (size_t)hash_bytes(k, n) & (m->cap - 1);

    while (m->slots[i].key &&
           !(m->slots[i].len == n && (n == 0 || memcmp(m->slots[i].key, k, n) == 0)))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

/* The value of key k, or NONE. */
size_t allot__strmap_get(const struct strmap *m, const char *k, size_t n)
{
    const struct strmap_slot *s;

    if (!m->cap)
        return NONE;
    s = strmap_slot(m, k, n);
    return s->key ? s->val : NONE;
}

/* Add k -> val unless k is there already (the first value stays). k must
 * outlive the map. ALLOT_ENOMEM. */
int allot__strmap_put(struct strmap *m, const char *k, size_t n, size_t val)
{
    struct strmap_slot *s;

    if ((m->n + 1) * 2 > m->cap) {
        struct strmap bigger = {NULL, m->cap ? m->cap * 2 : 64, 0};
        size_t i;
        if (bigger.cap > SIZE_MAX / sizeof *bigger.slots / 2)
            return ALLOT_ENOMEM;
        bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
        if (!bigger.slots)
            return ALLOT_ENOMEM;
        for (i = 0; i < m->cap; i++) {
            if (m->slots[i].key) {
                *strmap_slot(&bigger, m->slots[i].key, m->slots[i].len) = m->slots[i];
                bigger.n++;
            }
        }
        free(m->slots);
        *m = bigger;
    }
    s = strmap_slot(m, k, n);
    if (!s->key) {
        s->key = k;
        s->len = n;
        s->val = val;
        m->n++;
    }
    return 0;
}

void allot__strmap_release(struct strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
