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

/* The entries' keys are first told apart by a sum of a few of their
 * bytes (key_sum()), kept together so that a lookup reads 512 bytes, not
 * 64 entries; only an entry whose sum matches is compared whole. Which
 * entry a new one replaces: the clock (second chance) over used bits, so
 * that an agent's loop that keeps finding its entry keeps it while the
 * one-off instructions of other clients come and go. */
struct memo {
    uint64_t sum[ALLOT_MEMO_ENTRIES]; /* of the entry's key; 0: an empty slot */
    unsigned char used[ALLOT_MEMO_ENTRIES];
    unsigned hand; /* the clock's: the next entry a new one may replace */
    size_t hits;
    struct entry entry[ALLOT_MEMO_ENTRIES];
};

static struct allot_thread_block memos = ALLOT_THREAD_BLOCK_INIT(sizeof(struct memo), NULL);

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

static uint64_t mix(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9e3779b97f4a7c15u;
    return h ^ (h >> 29);
}

/* Eight bytes of p[0..n) at i, as many as there are. */
static uint64_t bytes8(const char *p, size_t n, size_t i)
{
    uint64_t v = 0;
    if (n >= 8 && i + 8 <= n)
        memcpy(&v, p + i, 8);
    else if (n)
        memcpy(&v, p, n < 8 ? n : 8);
    return v;
}

/* A sum of k's model, ids, spans' zones and lengths, and eight bytes at
 * four places of each span (its start, a third, two thirds, its end):
 * enough to tell most keys apart without reading their text. same()
 * decides; keys that agree at those places cost it a comparison each, at
 * worst ALLOT_MEMO_ENTRIES of 3,600 bytes, less than classifying. Never 0. */
static uint64_t key_sum(const struct allot_classify_memo_key *k)
{
    const struct allot_instruction_view *v = k->view;
    uint64_t h = mix(k->model, k->n_text << 16 | v->n_spans << 8 | k->n_ids), ids = 0;
    size_t i;

    for (i = 0; i < k->n_ids; i++)
        ids = ids * 131 + k->ids[i];
    h = mix(h, ids);
    for (i = 0; i < v->n_spans; i++) {
        const struct allot_span *sp = &v->spans[i];
        h = mix(h, (uint64_t)sp->len << 8 | sp->zone);
        h = mix(h, bytes8(sp->ptr, sp->len, 0));
        h = mix(h, bytes8(sp->ptr, sp->len, sp->len / 3));
        h = mix(h, bytes8(sp->ptr, sp->len, sp->len / 3 * 2));
        h = mix(h, bytes8(sp->ptr, sp->len, sp->len >= 8 ? sp->len - 8 : 0));
    }
    return h | 1;
}

void allot_classify_memo_key(uint64_t model, const struct allot_instruction *in,
                             const struct allot_instruction_view *v,
                             struct allot_classify_memo_key *k)
{
    k->model = model;
    k->view = v;
    k->n_ids = allot_features_structure(in, v, k->ids);
    k->n_text = text_len(v);
    k->sum = key_sum(k);
}

static int same(const struct entry *e, const struct allot_classify_memo_key *k)
{
    const struct allot_instruction_view *v = k->view;
    size_t i, at = 0;

    if (e->model != k->model || e->text_len != k->n_text || e->n_spans != v->n_spans ||
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
    size_t i;

    if (!m || k->model == 0 || k->n_text > ALLOT_MEMO_TEXT)
        return 0;
    for (i = 0; i < ALLOT_MEMO_ENTRIES; i++)
        if (m->sum[i] == k->sum && same(&m->entry[i], k)) {
            memcpy(out, &m->entry[i].c, sizeof *out); /* padding too: a copy, byte for byte */
            m->used[i] = 1;
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
    size_t i, at = 0, slot;

    if (k->model == 0 || k->n_text > ALLOT_MEMO_TEXT || !(m = allot_thread_block_get(&memos)))
        return;
    while (m->used[m->hand]) { /* a second chance for an entry found since the last pass */
        m->used[m->hand] = 0;
        m->hand = (m->hand + 1) % ALLOT_MEMO_ENTRIES;
    }
    slot = m->hand;
    m->hand = (m->hand + 1) % ALLOT_MEMO_ENTRIES;
    e = &m->entry[slot];
    for (i = 0; i < v->n_spans; i++) {
        e->zone[i] = v->spans[i].zone;
        e->len[i] = v->spans[i].len;
        if (v->spans[i].len)
            memcpy(e->text + at, v->spans[i].ptr, v->spans[i].len);
        at += v->spans[i].len;
    }
    e->n_spans = (uint8_t)v->n_spans;
    e->text_len = (uint32_t)k->n_text;
    if (k->n_ids)
        memcpy(e->ids, k->ids, k->n_ids);
    e->n_ids = (uint8_t)k->n_ids;
    memcpy(&e->c, c, sizeof *c);
    e->model = k->model;
    m->sum[slot] = k->sum;
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
