/* internal.h: what src/eval's files share that is not public: the string
 * table of strtab.c (an arena of strings and a string-keyed hash map),
 * which the outcome loader in outcomes.c keeps its strings in and looks
 * prompts and ids up with. Not part of the public API (allot__ prefix). */
#ifndef ALLOT_EVAL_INTERNAL_H
#define ALLOT_EVAL_INTERNAL_H
#include <stddef.h>

/* "no index": what allot__strmap_get returns for a missing key */
#define NONE ((size_t)-1)

/* ---- strtab.c: the string arena ---- */

struct arena_block;

/* Strings allocated in 256 KiB blocks (a longer one gets a block of its
 * own), all freed by allot__arena_release. Zeroed is empty. */
struct arena {
    struct arena_block *head;
};

/* n bytes in the arena, unaligned (for strings), NULL on ENOMEM. They live
 * until allot__arena_release. */
char *allot__arena_alloc(struct arena *a, size_t n);
/* A NUL-terminated copy of s[0, n) in the arena, NULL on ENOMEM. */
char *allot__arena_strndup(struct arena *a, const char *s, size_t n);
/* Free every block; the arena is empty and reusable after. */
void allot__arena_release(struct arena *a);

/* ---- strtab.c: a string-keyed hash map (exclusion list, ids), keys owned elsewhere ---- */

struct strmap_slot;

/* Zeroed ({NULL, 0, 0}) is empty. */
struct strmap {
    struct strmap_slot *slots;
    size_t cap, n; /* cap: a power of two, or 0 */
};

/* The value of key k[0, n), or NONE. */
size_t allot__strmap_get(const struct strmap *m, const char *k, size_t n);
/* Add k -> val unless k is there already (the first value stays). k must
 * outlive the map, which does not copy it. ALLOT_ENOMEM. */
int allot__strmap_put(struct strmap *m, const char *k, size_t n, size_t val);
/* Free the slots (not the keys); the map is empty and reusable after. */
void allot__strmap_release(struct strmap *m);

#endif
