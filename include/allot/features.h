/* features.h: the classifier's features of a request, hashed.
 *
 * From the instruction view (instruction.h): word unigrams and bigrams,
 * character 4-grams of words (3-grams measured no better: bench/kinds), the first word of the
 * instruction and of each sentence (imperatives), all hashed into 2^hash_bits buckets
 * (MurmurHash3's finaliser over FNV-1a, a namespace per feature family);
 * plus structural signals with fixed names: tools defined, a
 * response_format, a tool result last, how many messages, documents and
 * code fences, material against instruction length, the kind of material
 * (diff, table, JSON, list), a question.
 *
 * Cue phrases (cues.h) become features "cue <category> in <zone>".
 *
 * Text features are scaled per zone (instruction.h: head, tail, body,
 * system) to a fixed length per zone, so a long instruction does not
 * outweigh a short one nor material the head; cue and structural features
 * keep fixed values. Text is read head, tail, system, body, and text
 * features stop before ALLOT_FEATURES_MAX with room kept for the cue and
 * structural ones, so a very long instruction loses only the end of BODY.
 * Digits are folded to '0' and ASCII to lower case; other bytes (UTF-8)
 * are kept, so any language hashes stably.
 *
 * Every feature also names its origin (a "unit": a word, a bigram or a
 * structural signal) so the classifier can explain itself without hashing
 * twice: units are rendered to text only for the few that are shown.
 *
 * Deterministic: the same request gives the same features on any machine. */
#ifndef ALLOT_FEATURES_H
#define ALLOT_FEATURES_H
#include <stddef.h>
#include <stdint.h>
#include "allot/instruction.h"

#define ALLOT_FEATURES_MAX 4096
#define ALLOT_UNITS_MAX 1024

struct allot_feature {
    uint32_t idx; /* bucket, < 2^hash_bits */
    float value;
    uint16_t unit; /* index into units, or ALLOT_NO_UNIT once units are full */
};
#define ALLOT_NO_UNIT 0xffffu

enum allot_unit_kind {
    ALLOT_UNIT_WORD,   /* text: the word */
    ALLOT_UNIT_BIGRAM, /* text: "first second", the two words with what lies between */
    ALLOT_UNIT_LEAD,   /* text: the first word of the instruction */
    ALLOT_UNIT_SIGNAL, /* text: a structural signal's name, a static string */
};

struct allot_unit {
    const char *ptr; /* into the request, or a static name */
    uint32_t len;
    uint8_t kind; /* enum allot_unit_kind */
};

struct allot_features {
    struct allot_feature f[ALLOT_FEATURES_MAX];
    size_t n;
    struct allot_unit units[ALLOT_UNITS_MAX];
    size_t n_units;
};

#define ALLOT_HASH_BITS_MIN 10
#define ALLOT_HASH_BITS_MAX 20

/* Extract the features of a request. in gives the structural counts, v the
 * instruction spans. Never more than ALLOT_FEATURES_MAX (text is cut
 * first, see above). Never fails; allocates only a thread's block of
 * remembered system prompts, once (thread_block.h), and without it reads
 * every span. */
void allot_features_extract(const struct allot_instruction *in,
                            const struct allot_instruction_view *v, unsigned hash_bits,
                            struct allot_features *out);

/* What the features take from outside the text read: the structural
 * signals of in and v (tools, response_format, the last message a tool
 * result, tool results, a system prompt, a question, the buckets of
 * messages, instruction, material and documents, the kinds of material),
 * as ids in the order they are added. Everything else in the features is
 * a function of the view's spans (their zones and bytes) and hash_bits
 * alone: two requests with the same spans and the same ids have the same
 * features (classify.c remembers classifications on this). Returns how
 * many ids; never more than ALLOT_STRUCTURE_MAX. */
#define ALLOT_STRUCTURE_MAX 24
size_t allot_features_structure(const struct allot_instruction *in,
                                const struct allot_instruction_view *v,
                                uint8_t ids[ALLOT_STRUCTURE_MAX]);

/* The system prompt's features are remembered per thread (the last few
 * prompts: agents send the same one with every request) and copied, not
 * read again; the result is the same either way. This drops the calling
 * thread's, so that the next extraction reads every span (tests). */
void allot_features_forget(void);

/* How many system prompts the calling thread has copied instead of read. */
size_t allot_features_replayed(void);

/* Write a unit's name, normalised ("summarise", "which of", "signal
 * tools"), NUL-terminated, into buf (cap bytes, > 0). Returns buf. */
const char *allot_unit_name(const struct allot_unit *u, char *buf, size_t cap);

#endif
