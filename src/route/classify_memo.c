/* classify_memo.c: the classifications a thread made lately
 * (classify_memo.h). */
#include <string.h>
#include "allot/classify_memo.h"
#include "allot/thread_block.h"

struct entry {
    uint64_t model; /* 0: an empty slot */
    uint32_t text_len;
    uint8_t n_spans, n_ids;
    uint8_t zone[ALLOT_VIEW_MAX_SPANS];
    uint32_t len[ALLOT_VIEW_MAX_SPANS];
    uint8_t ids[ALLOT_STRUCTURE_MAX];
    char text[ALLOT_MEMO_TEXT]; /* the spans' bytes, one after the other */
    struct allot_classification c;
};

struct memo {
    struct entry entry[ALLOT_MEMO_ENTRIES];
    unsigned next; /* the slot the next new entry takes */
    size_t hits;
};

static struct allot_thread_block memos = ALLOT_THREAD_BLOCK_INIT(sizeof(struct memo), NULL);

void allot_classify_memo_key(uint64_t model, const struct allot_instruction *in,
                             const struct allot_instruction_view *v,
                             struct allot_classify_memo_key *k)
{
    k->model = model;
    k->view = v;
    k->n_ids = allot_features_structure(in, v, k->ids);
}

/* The spans' bytes in all; past ALLOT_MEMO_TEXT: not kept. Today's view
 * reads at most 3,600 bytes (1,200 of a system prompt, 2,400 of a long
 * turn's edges, 1,500 of a short turn), so this is the guard of the room,
 * for a wider view. */
static size_t text_len(const struct allot_instruction_view *v)
{
    size_t i, n = 0;
    for (i = 0; i < v->n_spans && n <= ALLOT_MEMO_TEXT; i++)
        n += v->spans[i].len;
    return n;
}

static int same(const struct entry *e, const struct allot_classify_memo_key *k, size_t n_text)
{
    const struct allot_instruction_view *v = k->view;
    size_t i, at = 0;

    if (e->model != k->model || e->text_len != n_text || e->n_spans != v->n_spans ||
        e->n_ids != k->n_ids || memcmp(e->ids, k->ids, k->n_ids) != 0)
        return 0;
    for (i = 0; i < v->n_spans; i++)
        if (e->zone[i] != v->spans[i].zone || e->len[i] != v->spans[i].len)
            return 0;
    for (i = 0; i < v->n_spans; i++) {
        if (v->spans[i].len && memcmp(e->text + at, v->spans[i].ptr, v->spans[i].len) != 0)
            return 0;
        at += v->spans[i].len;
    }
    return 1;
}

int allot_classify_memo_find(const struct allot_classify_memo_key *k,
                             struct allot_classification *out)
{
    struct memo *m = allot_thread_block_peek(&memos);
    size_t i, n_text;

    if (!m || k->model == 0)
        return 0;
    n_text = text_len(k->view);
    if (n_text > ALLOT_MEMO_TEXT)
        return 0;
    for (i = 0; i < ALLOT_MEMO_ENTRIES; i++)
        if (same(&m->entry[i], k, n_text)) {
            memcpy(out, &m->entry[i].c, sizeof *out); /* padding too: a copy, byte for byte */
            m->hits++;
            return 1;
        }
    return 0;
}

void allot_classify_memo_keep(const struct allot_classify_memo_key *k,
                              const struct allot_classification *c)
{
    const struct allot_instruction_view *v = k->view;
    struct memo *m;
    struct entry *e;
    size_t i, at = 0, n_text = text_len(v);

    if (k->model == 0 || n_text > ALLOT_MEMO_TEXT || !(m = allot_thread_block_get(&memos)))
        return;
    e = &m->entry[m->next];
    m->next = (m->next + 1) % ALLOT_MEMO_ENTRIES;
    for (i = 0; i < v->n_spans; i++) {
        e->zone[i] = v->spans[i].zone;
        e->len[i] = v->spans[i].len;
        if (v->spans[i].len)
            memcpy(e->text + at, v->spans[i].ptr, v->spans[i].len);
        at += v->spans[i].len;
    }
    e->n_spans = (uint8_t)v->n_spans;
    e->text_len = (uint32_t)n_text;
    if (k->n_ids)
        memcpy(e->ids, k->ids, k->n_ids);
    e->n_ids = (uint8_t)k->n_ids;
    memcpy(&e->c, c, sizeof *c);
    e->model = k->model;
}

void allot_classify_memo_forget(void)
{
    allot_thread_block_drop(&memos);
}

size_t allot_classify_memo_hits(void)
{
    const struct memo *m = allot_thread_block_peek(&memos);
    return m ? m->hits : 0;
}
