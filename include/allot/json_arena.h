/* json_arena.h: request-scoped memory for cJSON trees.
 *
 * DESIGN: a parsed request or answer is a cJSON tree of tens of nodes and
 * strings, each its own malloc and free: about 65 of each per chat
 * completion on the event-loop thread, nearly all of the thread's
 * allocations. An arena hands a tree its memory from blocks it keeps
 * between requests and takes it all back in one reset (STYLE.md's
 * per-request pool, as h2o's req->pool), so a warm worker parses a
 * request and its answer without calling malloc.
 *
 * allot_json_arena_install() sets cJSON's allocation hooks, once, at
 * process start before any cJSON call. From then on every cJSON
 * allocation carries a 16-byte tag saying where it came from, so
 * cJSON_Delete() and cJSON_free() of arena memory free nothing and of any
 * other memory free it as before. While an arena is current on a thread
 * (between allot_json_arena_enter() and allot_json_arena_leave()) cJSON's
 * allocations on that thread come from it; everywhere else (other
 * threads, no arena current, or install never called) they come from
 * malloc. Rule: a tree made while an arena was current must be deleted or
 * forgotten before that arena is reset or released.
 *
 * Under AddressSanitizer each arena allocation is its own malloc, all
 * freed at reset, so a use after reset or an overflow is still reported.
 *
 * Ownership: the caller owns the struct; the arena owns its blocks. Not
 * thread-safe: an arena is used by one thread at a time. */
#ifndef ALLOT_JSON_ARENA_H
#define ALLOT_JSON_ARENA_H
#include <stddef.h>

struct allot__json_block;

struct allot_json_arena {
    struct allot__json_block *blocks; /* newest first; the last one is kept by reset */
    struct allot__json_block *big;    /* single allocations too big for a block */
    size_t used;                      /* bytes handed out since the last reset */
};

/* Route cJSON's allocations through the arena hooks. Call once, before
 * any cJSON allocation and before threads start; later calls do nothing. */
void allot_json_arena_install(void);

/* 1 once allot_json_arena_install() ran: arenas are used. */
int allot_json_arena_installed(void);

/* An empty arena. No allocation. */
void allot_json_arena_init(struct allot_json_arena *a);

/* Make a current on this thread (NULL: none); returns the arena that was
 * current, for allot_json_arena_leave(). */
struct allot_json_arena *allot_json_arena_enter(struct allot_json_arena *a);
void allot_json_arena_leave(struct allot_json_arena *previous);

/* Take back everything handed out: keep the first block for the next
 * request, free the rest. */
void allot_json_arena_reset(struct allot_json_arena *a);

/* Free every block; a is empty and reusable afterwards. */
void allot_json_arena_release(struct allot_json_arena *a);

/* Bytes handed out since the last reset (tags and rounding included). */
size_t allot_json_arena_used(const struct allot_json_arena *a);

#endif
