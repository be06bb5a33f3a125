/* classify_memo.h: the classifications a thread made lately, kept by what
 * decided them.
 *
 * An agent's loop sends the same system prompt and the same last user turn
 * with every step; only the tool calls and results after them grow. The
 * classifier reads the instruction, not the material (instruction.h), so
 * every step of such a loop is classified alike: the memo gives the next
 * one a copy instead of reading the text, hashing its features and
 * weighing them again.
 *
 * A classification is a function of the model and the features, and the
 * features of the view's spans (zones and bytes) and the structural
 * signals alone (features.h: allot_features_structure()). So the key is
 * the model in use (a serial, never reused, so a reloaded model never
 * meets the old one's entries), the spans' zones and bytes, and the
 * structural signals' ids: a request with one more tool result in the same
 * bucket of messages finds its entry; one that crosses into the next
 * bucket, or whose spans differ by a byte, does not. The result found is
 * the same, byte for byte, as classifying again
 * (tests/unit/test_classify_memo.c, tests/fuzz/fuzz_chat_request.c compare
 * the two).
 *
 * DESIGN: per thread (thread_block.h), no lock. ALLOT_MEMO_ENTRIES
 * entries, so that the loops of many agents served by one worker each
 * keep theirs: a lookup compares a sum of each key's lengths and a few of
 * its bytes first (512 bytes read) and the whole key only where that
 * matches;
 * a new entry replaces one by the clock (second chance), so an entry
 * found again outlives one-off instructions. Spans of more than
 * ALLOT_MEMO_TEXT bytes in all would not be kept (the view reads at most
 * 3,600). About 340 KB a thread that classifies, made on its first
 * classification (pages the kernel maps as they are first written). */
#ifndef ALLOT_CLASSIFY_MEMO_H
#define ALLOT_CLASSIFY_MEMO_H
#include <stddef.h>
#include <stdint.h>
#include "allot/classify.h"
#include "allot/features.h"
#include "allot/instruction.h"

#define ALLOT_MEMO_ENTRIES 64
#define ALLOT_MEMO_TEXT 4096

struct allot_classify_memo_key {
    uint64_t model; /* the model's serial, > 0 */
    const struct allot_instruction_view *view;
    uint8_t ids[ALLOT_STRUCTURE_MAX];
    size_t n_ids;
    size_t n_text; /* the spans' bytes in all (past ALLOT_MEMO_TEXT: not kept) */
    uint64_t sum;  /* of the whole key, for the lookup; never 0 */
};

/* Fill in k for in and its view v (v must outlive k) under model serial,
 * once for both the lookup and the keeping after a miss. */
void allot_classify_memo_key(uint64_t model, const struct allot_instruction *in,
                             const struct allot_instruction_view *v,
                             struct allot_classify_memo_key *k);

/* Copy the kept classification of k to *out and return 1; 0 (out not
 * touched) when none is kept. */
int allot_classify_memo_find(const struct allot_classify_memo_key *k,
                             struct allot_classification *out);

/* Keep c under k, in place of the entry the clock's hand comes to first
 * without a find since its last pass. Does nothing when the spans are too
 * long, or the thread's block cannot be made. */
void allot_classify_memo_keep(const struct allot_classify_memo_key *k,
                              const struct allot_classification *c);

/* Drop the calling thread's entries (tests, benchmarks of the full path). */
void allot_classify_memo_forget(void);

/* How many classifications the calling thread found kept. */
size_t allot_classify_memo_hits(void);

#endif
