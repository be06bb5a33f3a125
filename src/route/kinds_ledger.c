/* kinds_ledger.c: the ledger's kept instructions written out to be
 * labelled (kinds_ledger.h).
 *
 * The rows come in their order from the store itself (ORDER BY),
 * so nothing is sorted here and a large ledger streams through; repeats
 * are caught by a 64-bit hash of each instruction written (FNV-1a, the
 * cue lexicon's: a hash, not a word's meaning, is all that is taken), in an
 * open-addressed set that doubles when half full. A collision would drop
 * one distinct instruction: at a million of them, a chance of about 5 in
 * 10^8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allot/cues.h"
#include "allot/error.h"
#include "allot/kinds_ledger.h"
#include "allot/ledger_reader.h"

/* Least sure of the tier first: the mistakes that cost (judgment served
 * by labour, or the other way) are where the tier's probability is low,
 * more than where the category's is (docs/classifier.md, section 5). A
 * row from before schema version 7 has no tier_confidence (-1): its
 * category's confidence stands in. */
#define EXPORT_FROM " FROM requests WHERE endpoint <> 'audit' AND prompt <> '' AND category <> ''"
static const struct allot_ledger_query export_queries[] = {
    {7, "SELECT id, prompt, category, confidence, tier, source, tier_confidence" EXPORT_FROM
        " ORDER BY CASE WHEN tier_confidence < 0 THEN confidence ELSE tier_confidence END,"
        " confidence, ts_ms, id"},
    {4, "SELECT id, prompt, category, confidence, tier, source, -1" EXPORT_FROM
        " ORDER BY confidence, ts_ms, id"},
};

struct seen {
    uint64_t *slot; /* 0: empty; a hash is never 0 (its low bit is set) */
    size_t cap, n;  /* cap a power of two */
};

/* Where h is in t, or the empty slot where it would go. */
static size_t probe(const struct seen *t, uint64_t h)
{
    size_t i = (size_t)(h ^ (h >> 32)) & (t->cap - 1);
    while (t->slot[i] && t->slot[i] != h)
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* 1 when h was there already, 0 when it is added; ALLOT_ENOMEM. */
static int seen_add(struct seen *t, uint64_t h)
{
    size_t i;
    if (t->cap == 0 || (t->n + 1) * 2 > t->cap) {
        struct seen g = {NULL, t->cap ? t->cap * 2 : 1024, t->n};
        if (!(g.slot = calloc(g.cap, sizeof *g.slot)))
            return ALLOT_ENOMEM;
        for (i = 0; i < t->cap; i++)
            if (t->slot[i])
                g.slot[probe(&g, t->slot[i])] = t->slot[i];
        free(t->slot);
        *t = g;
    }
    i = probe(t, h);
    if (t->slot[i])
        return 1;
    t->slot[i] = h;
    t->n++;
    return 0;
}

struct export
{
    struct seen seen;
    size_t repeats;
};

/* The current row as one line (columns: export_queries'), the category to
 * check first; 0 for an instruction written already. */
static int label_line(void *ctx, struct allot_ledger_reader *rd, struct allot_buf *line)
{
    struct export *x = ctx;
    const char *cat = allot_ledger_reader_text(rd, 2), *prompt = allot_ledger_reader_text(rd, 1),
               *tier = allot_ledger_reader_text(rd, 4), *src = allot_ledger_reader_text(rd, 5),
               *id = allot_ledger_reader_text(rd, 0);
    int rc = seen_add(&x->seen, allot_cues_word_hash(prompt, strlen(prompt)));

    if (rc == 1)
        x->repeats++;
    if (rc)
        return rc < 0 ? rc : 0;
    rc = allot_buf_adds(line, "{\"category\":");
    rc = rc ? rc : allot_buf_add_json_str(line, cat, strlen(cat));
    rc = rc ? rc : allot_buf_adds(line, ",\"prompt\":");
    rc = rc ? rc : allot_buf_add_json_str(line, prompt, strlen(prompt));
    rc = rc ? rc
            : allot_buf_addf(line, ",\"confidence\":%.4f,\"tier_confidence\":%.4f,\"tier\":",
                             allot_ledger_reader_double(rd, 3), allot_ledger_reader_double(rd, 6));
    rc = rc ? rc : allot_buf_add_json_str(line, tier, strlen(tier));
    rc = rc ? rc : allot_buf_adds(line, ",\"source\":");
    rc = rc ? rc : allot_buf_add_json_str(line, src, strlen(src));
    rc = rc ? rc : allot_buf_adds(line, ",\"id\":");
    rc = rc ? rc : allot_buf_add_json_str(line, id, strlen(id));
    rc = rc ? rc : allot_buf_adds(line, "}\n");
    return rc ? rc : 1;
}

int allot_kinds_ledger_export(const char *store, const char *out_path, size_t limit,
                              struct allot_kinds_ledger_stats *stats, struct allot_buf *err)
{
    struct export x = {{NULL, 0, 0}, 0};
    size_t written = 0;
    int rc = allot_ledger_reader_write_lines(
        store, export_queries, sizeof export_queries / sizeof export_queries[0], out_path, limit,
        label_line, &x,
        "has no routed request with its instruction kept (store.keep_prompts: all keeps every one)",
        &written, err);

    free(x.seen.slot);
    if (!rc && stats) {
        stats->written = written;
        stats->repeats = x.repeats;
    }
    return rc;
}
