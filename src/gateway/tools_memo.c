/* tools_memo.c: a translator's text for a request's tools, remembered per
 * thread (anthropic_internal.h).
 *
 * A coding agent sends the same tool definitions, tens of KB of JSON
 * schemas, with every request, and translating them (a tree of every
 * schema, each written out again) was most of what a Messages or Responses
 * request cost: for 24 tools, 1.4M instructions of 1.5M. So each thread
 * keeps, per translator, the last TOOLS_KEPT tools values (their bytes as
 * sent, ALLOT__TOOLS_MIN to ALLOT__TOOLS_MAX) with the text the translator
 * made of them and what else it kept (extra), and a request whose tools are
 * the same bytes gets those without its tools being parsed at all. A
 * translation depends on the tools value alone, and one that was refused is
 * never kept, so a body translates as it would have.
 *
 * DESIGN: the memory is a thread_block.h block per translator: no lock, no
 * allocation after a thread's first kept value but for a longer one. */
#include <string.h>
#include "anthropic_internal.h"

void allot__tools_memory_release(void *p)
{
    struct allot__tools_memory *m = p;
    size_t i;
    for (i = 0; i < ALLOT__TOOLS_KEPT; i++) {
        allot_buf_release(&m->kept[i].raw);
        allot_buf_release(&m->kept[i].out);
        allot_buf_release(&m->kept[i].extra);
    }
}

const struct allot__tools_kept *allot__tools_find(struct allot_thread_block *memo, const char *v,
                                                  size_t n)
{
    struct allot__tools_memory *m;
    size_t i;
    if (n < ALLOT__TOOLS_MIN || n > ALLOT__TOOLS_MAX || !(m = allot_thread_block_peek(memo)))
        return NULL;
    for (i = 0; i < ALLOT__TOOLS_KEPT; i++)
        if (m->kept[i].raw.len == n && memcmp(m->kept[i].raw.ptr, v, n) == 0) {
            m->kept[i].used = ++m->clock;
            m->hits++;
            return &m->kept[i];
        }
    return NULL;
}

int allot__tools_known(void *ctx, const char *v, size_t n)
{
    struct allot__tools_lookup *l = ctx;
    l->found = allot__tools_find(l->memo, v, n);
    return l->found != NULL;
}

void allot__tools_keep(struct allot_thread_block *memo, struct allot_slice raw, const char *text,
                       size_t len, int n, const void *extra, size_t extra_len)
{
    struct allot__tools_memory *m;
    struct allot__tools_kept *slot;
    size_t i;

    if (raw.len < ALLOT__TOOLS_MIN || raw.len > ALLOT__TOOLS_MAX ||
        !(m = allot_thread_block_get(memo)))
        return;
    slot = &m->kept[0]; /* the least recently used */
    for (i = 1; i < ALLOT__TOOLS_KEPT; i++)
        if (m->kept[i].used < slot->used)
            slot = &m->kept[i];
    allot_buf_reset(&slot->raw);
    allot_buf_reset(&slot->out);
    allot_buf_reset(&slot->extra);
    slot->raw.max = ALLOT__TOOLS_MAX;
    slot->out.max = 4 * ALLOT__TOOLS_MAX; /* a translation is about as long as its value */
    slot->extra.max = ALLOT__TOOLS_MAX;
    if (allot_buf_add(&slot->raw, raw.ptr, raw.len) || allot_buf_add(&slot->out, text, len) ||
        allot_buf_add(&slot->extra, extra, extra_len)) {
        allot_buf_reset(&slot->raw); /* an empty slot matches nothing */
        return;
    }
    slot->n = n;
    slot->used = ++m->clock;
}

size_t allot__tools_hits(struct allot_thread_block *memo)
{
    const struct allot__tools_memory *m = allot_thread_block_peek(memo);
    return m ? m->hits : 0;
}
