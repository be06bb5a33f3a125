/* thread_block.h: one heap block per thread, made on first use and freed
 * when the thread exits: for what a thread keeps from one request to the
 * next without a lock (the JSON check's remembered values, the Messages
 * API's remembered tool translations).
 *
 * A block is zeroed when made. Before it is freed, release (when not NULL)
 * frees what the block owns; the block itself is freed after. A thread
 * that never asks for one costs nothing. The main thread's block lives to
 * the process's exit (thread-exit destructors do not run for it), still
 * reachable from the thread's keys, so a leak checker does not count it.
 *
 * Usage:
 *   static struct allot_thread_block mine = ALLOT_THREAD_BLOCK_INIT(sizeof(struct x), release_x);
 *   struct x *m = allot_thread_block_get(&mine);  // NULL only when out of memory
 *
 * Thread-safe: each thread sees only its own block. */
#ifndef ALLOT_THREAD_BLOCK_H
#define ALLOT_THREAD_BLOCK_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct allot_thread_block {
    size_t size;
    void (*release)(void *block);
    atomic_int state; /* 0: no key yet, 1: key made, -1: no key could be made */
    pthread_key_t key;
};

#define ALLOT_THREAD_BLOCK_INIT(size, release)                                                     \
    {                                                                                              \
        (size), (release), 0, 0                                                                    \
    }

/* The calling thread's block, made (zeroed) on first use; NULL when out of
 * memory or when the system has no thread key left. */
void *allot_thread_block_get(struct allot_thread_block *b);

/* The calling thread's block, or NULL when it has none: never makes one. */
void *allot_thread_block_peek(struct allot_thread_block *b);

/* Free the calling thread's block now (release first); the next get makes
 * a new one. */
void allot_thread_block_drop(struct allot_thread_block *b);

#endif
