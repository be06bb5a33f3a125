/* thread_block.c: one heap block per thread (thread_block.h).
 *
 * DESIGN: a pthread key per kind of block, made once under a process-wide
 * mutex (pthread_once takes no argument to say which key); the key's
 * destructor frees a thread's block when it exits. The block carries its
 * release function in a header in front of it, since a key's destructor
 * is told only the pointer. */
#include <stdlib.h>
#include "allot/thread_block.h"

struct header {
    void (*release)(void *block);
    max_align_t align; /* the block after it is aligned for anything */
};

static pthread_mutex_t keys_mu = PTHREAD_MUTEX_INITIALIZER;

static void block_free(void *p)
{
    struct header *h = (struct header *)p - 1;
    if (!p)
        return;
    if (h->release)
        h->release(p);
    free(h);
}

/* 1 when b's key exists (made now if need be). */
static int key_ready(struct allot_thread_block *b)
{
    int s = atomic_load_explicit(&b->state, memory_order_acquire);
    if (s != 0)
        return s > 0;
    pthread_mutex_lock(&keys_mu);
    s = atomic_load_explicit(&b->state, memory_order_relaxed);
    if (s == 0) {
        s = pthread_key_create(&b->key, block_free) == 0 ? 1 : -1;
        atomic_store_explicit(&b->state, s, memory_order_release);
    }
    pthread_mutex_unlock(&keys_mu);
    return s > 0;
}

void *allot_thread_block_peek(struct allot_thread_block *b)
{
    if (atomic_load_explicit(&b->state, memory_order_acquire) <= 0)
        return NULL;
    return pthread_getspecific(b->key);
}

void *allot_thread_block_get(struct allot_thread_block *b)
{
    struct header *h;
    void *p;

    if (!key_ready(b))
        return NULL;
    if ((p = pthread_getspecific(b->key)))
        return p;
    if (!(h = calloc(1, sizeof *h + b->size)))
        return NULL;
    h->release = b->release;
    p = h + 1;
    if (pthread_setspecific(b->key, p) != 0) {
        free(h);
        return NULL;
    }
    return p;
}

void allot_thread_block_drop(struct allot_thread_block *b)
{
    void *p = allot_thread_block_peek(b);
    if (!p)
        return;
    pthread_setspecific(b->key, NULL);
    block_free(p);
}
