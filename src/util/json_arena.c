/* json_arena.c: cJSON's allocations from a per-request arena
 * (json_arena.h).
 *
 * DESIGN: cJSON takes one pair of global hooks (cJSON_InitHooks), so the
 * choice between an arena and malloc is made per allocation, by a
 * thread-local "current arena", and the choice between freeing and not at
 * free time, by a tag in front of every block cJSON is given. A tag is 16
 * bytes so that what follows keeps malloc's 16-byte alignment. The arena
 * bumps a pointer through blocks of 8 to 64 KB; an allocation of more than
 * BIG_MIN bytes gets a block of its own, freed at the next reset. Reset
 * keeps the first block, which holds a typical request and its answer, so
 * a warm arena calls malloc for neither. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cJSON.h>
#include "allot/json_arena.h"

#define TAG_HEAP 0x48454150a110c0deull  /* from malloc: free it */
#define TAG_ARENA 0x4152454ea110c0deull /* from an arena: freed by reset */
#define BLOCK_FIRST 8192u
#define BLOCK_MAX 65536u
#if defined(__SANITIZE_ADDRESS__)
#define BIG_MIN 0u /* every allocation its own block, for ASan */
#else
#define BIG_MIN 2048u
#endif

struct tag {
    uint64_t kind;
    uint64_t spare;
};

struct allot__json_block {
    struct allot__json_block *next;
    size_t size; /* bytes of data */
    size_t off;  /* bytes of data used */
    size_t pad;  /* data starts 16-byte aligned */
};

_Static_assert(sizeof(struct allot__json_block) % 16 == 0, "block data must stay 16-aligned");
_Static_assert(sizeof(struct tag) == 16, "a tag must keep 16-byte alignment");

static int installed;
static _Thread_local struct allot_json_arena *current;

static unsigned char *data_of(struct allot__json_block *b)
{
    return (unsigned char *)(b + 1);
}

static void free_list(struct allot__json_block *b, const struct allot__json_block *keep)
{
    while (b && b != keep) {
        struct allot__json_block *next = b->next;
        free(b);
        b = next;
    }
}

/* A block of size data bytes, or NULL. */
static struct allot__json_block *block_new(size_t size)
{
    struct allot__json_block *b;

    if (size > SIZE_MAX - sizeof *b || !(b = malloc(sizeof *b + size)))
        return NULL;
    b->next = NULL;
    b->size = size;
    b->off = 0;
    return b;
}

static void *arena_alloc(struct allot_json_arena *a, size_t n)
{
    struct allot__json_block *b = a->blocks;
    struct tag *t;
    size_t need;

    if (n > SIZE_MAX - 2 * sizeof *t)
        return NULL;
    need = (sizeof *t + n + 15u) & ~(size_t)15u;
    if (need > BIG_MIN) {
        if (!(b = block_new(need)))
            return NULL;
        b->next = a->big;
        a->big = b;
        t = (struct tag *)data_of(b);
    } else {
        if (!b || b->size - b->off < need) {
            size_t size = b ? b->size * 2 : BLOCK_FIRST;
            if (size > BLOCK_MAX)
                size = BLOCK_MAX;
            if (!(b = block_new(size)))
                return NULL;
            b->next = a->blocks;
            a->blocks = b;
        }
        t = (struct tag *)(data_of(b) + b->off);
        b->off += need;
    }
    a->used += need;
    t->kind = TAG_ARENA;
    return t + 1;
}

static void *hook_malloc(size_t n)
{
    struct tag *t;

    if (current)
        return arena_alloc(current, n);
    if (n > SIZE_MAX - sizeof *t || !(t = malloc(sizeof *t + n)))
        return NULL;
    t->kind = TAG_HEAP;
    return t + 1;
}

static void hook_free(void *p)
{
    struct tag *t;

    if (!p)
        return;
    t = (struct tag *)p - 1;
    if (t->kind == TAG_ARENA)
        return;
    if (t->kind != TAG_HEAP) {
        /* memory cJSON did not allocate, or freed twice: a bug to stop at */
        fputs("allot: cJSON freed memory it did not allocate\n", stderr);
        abort();
    }
    t->kind = 0;
    free(t);
}

void allot_json_arena_install(void)
{
    cJSON_Hooks hooks = {hook_malloc, hook_free};

    if (installed)
        return;
    cJSON_InitHooks(&hooks);
    installed = 1;
}

int allot_json_arena_installed(void)
{
    return installed;
}

void allot_json_arena_init(struct allot_json_arena *a)
{
    a->blocks = NULL;
    a->big = NULL;
    a->used = 0;
}

struct allot_json_arena *allot_json_arena_enter(struct allot_json_arena *a)
{
    struct allot_json_arena *previous = current;
    current = installed ? a : NULL;
    return previous;
}

void allot_json_arena_leave(struct allot_json_arena *previous)
{
    current = previous;
}

void allot_json_arena_reset(struct allot_json_arena *a)
{
    struct allot__json_block *first = a->blocks;

    free_list(a->big, NULL);
    a->big = NULL;
    while (first && first->next)
        first = first->next;
    free_list(a->blocks, first);
    a->blocks = first;
    if (first)
        first->off = 0;
    a->used = 0;
}

void allot_json_arena_release(struct allot_json_arena *a)
{
    free_list(a->big, NULL);
    free_list(a->blocks, NULL);
    allot_json_arena_init(a);
}

size_t allot_json_arena_used(const struct allot_json_arena *a)
{
    return a->used;
}
