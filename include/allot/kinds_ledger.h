/* kinds_ledger.h: the ledger's kept instructions as requests to label.
 *
 * The way to teach the kind-of-work model your own traffic: with
 * store.keep_prompts (config.h), the ledger keeps the instruction of each
 * request (the system prompt, a blank line, the last user turn; at most
 * 16 KB). This writes them out as the labelled JSON Lines that `allot
 * train kinds --data` reads, each with the category allot chose: a person
 * corrects the categories that are wrong and trains on the file beside
 * data/kinds/ (docs/classifier.md, "Teaching it your traffic").
 *
 * One line per distinct instruction, the least sure of its tier first
 * (where the costly corrections are likeliest; the category's confidence
 * where the ledger predates tier_confidence, schema version 7), ties by
 * the category's confidence, then time:
 *   {"category": "answer", "prompt": "...", "confidence": 0.412,
 *    "tier_confidence": 0.634, "tier": "labour", "source": "classifier",
 *    "id": "req_..."}
 * `category` is the label to check; the other fields say where it came
 * from and are ignored by training. Only rows with a category and a kept
 * instruction count (audit rows and embeddings have neither). An
 * instruction sent again (an agent's loop) is written once, at its least
 * sure decision.
 *
 * Reads through ledger_reader.h: a SQLite file or PostgreSQL alike, rows
 * streamed (memory: 16 to 32 bytes per distinct instruction, for the
 * repeats). */
#ifndef ALLOT_KINDS_LEDGER_H
#define ALLOT_KINDS_LEDGER_H
#include <stddef.h>
#include "allot/buf.h"

struct allot_kinds_ledger_stats {
    size_t written; /* lines written */
    size_t repeats; /* rows skipped as an instruction already written */
};

/* Write the kept instructions of store (a ledger file or a postgresql://
 * URL) to out_path (created or truncated), at most limit lines (0: all).
 * Errors, with why in err: those of allot_ledger_reader_open() (a missing
 * ledger, a bad URL); ALLOT_EINVAL for a ledger older than schema version
 * 4 or with no kept instruction ("store.keep_prompts: all keeps every
 * one");
 * ALLOT_EIO when out_path cannot be written; ALLOT_ESTORE; ALLOT_ENOMEM.
 * On an error out_path may hold part of the lines. */
int allot_kinds_ledger_export(const char *store, const char *out_path, size_t limit,
                              struct allot_kinds_ledger_stats *stats, struct allot_buf *err);

#endif
