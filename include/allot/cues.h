/* cues.h: a lexicon of phrases that name a kind of work.
 *
 * "summarise", "pros and cons", "what could go wrong", "which of": phrases
 * that say what work an instruction asks for. The learned model sees each
 * match as a feature "cue <category> in <zone>" (features.c), so the dozens
 * of ways to ask for one kind of work share what the training data teaches
 * about any of them; the model, not the lexicon, decides how much a cue
 * counts and against what. The phrases are in src/route/cues.c.
 *
 * Matching is on the normalised words of features.c (lower case, digits
 * folded to '0', apostrophes dropped: "what's" is "whats"), up to
 * ALLOT_CUE_WORDS words, longest match first; a stem entry ("summari")
 * matches any word it begins.
 *
 * DESIGN: the phrase index is built once (pthread_once) and only read
 * afterwards: thread-safe, no allocation per lookup. */
#ifndef ALLOT_CUES_H
#define ALLOT_CUES_H
#include <stddef.h>
#include <stdint.h>

#define ALLOT_CUE_WORDS 4

/* The hash of one normalised word, as allot_cues_match() takes them: FNV-1a
 * with the low bit set, so never 0 (an empty slot to the tables keyed by it). */
uint64_t allot_cues_word_hash(const char *word, size_t len);

/* hashes[0..n) are the hashes of the last n words read (n <=
 * ALLOT_CUE_WORDS), the newest last; newest/newest_len is the newest word's
 * text (for stems). Returns the category (enum allot_category) of the
 * longest cue that ends with the newest word, with *used set to its number
 * of words; or -1 when none does. Phrases are matched by 64-bit hash (a
 * false match is about one in 10^16 lookups). */
int allot_cues_match(const uint64_t *hashes, size_t n, const char *newest, size_t newest_len,
                     size_t *used);

/* Number of phrases in the lexicon (for tests and docs). */
size_t allot_cues_count(void);
/* Phrase i (< allot_cues_count()) as written in the lexicon ("pros and
 * cons"; a stem ends in '*'), its category in *category (for tests). */
const char *allot_cues_entry(size_t i, int *category);

#endif
