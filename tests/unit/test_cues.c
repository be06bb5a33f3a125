/* test_cues.c: the cue lexicon and its index (cues.h). Every phrase of the
 * lexicon must be found again through the index, with its category: the
 * index is sized for the lexicon, and a phrase it lost would silently stop
 * counting. */
#include <stdint.h>
#include <string.h>
#include "allot/cues.h"
#include "allot/kinds.h"
#include "test.h"

/* Hash the words of a phrase (at most ALLOT_CUE_WORDS, as the lexicon is
 * indexed) into h; returns how many, and where the last word starts. */
static size_t phrase_words(const char *text, uint64_t *h, const char **last)
{
    size_t n = 0, len = strlen(text), start = 0, j;
    for (j = 0; j <= len && n < ALLOT_CUE_WORDS; j++) {
        if (j == len || text[j] == ' ') {
            h[n++] = allot_cues_word_hash(text + start, j - start);
            *last = text + start;
            start = j + 1;
        }
    }
    return n;
}

/* The category a phrase is indexed with: the first entry with the same
 * words (a later duplicate does not replace it). */
static int first_category(size_t i)
{
    const char *text;
    int cat, other;
    size_t k;
    text = allot_cues_entry(i, &cat);
    for (k = 0; k < i; k++)
        if (strcmp(allot_cues_entry(k, &other), text) == 0)
            return other;
    return cat;
}

TEST(cues_every_phrase_is_found_with_its_category)
{
    size_t i, checked = 0;
    ASSERT(allot_cues_count() > 400);
    for (i = 0; i < allot_cues_count(); i++) {
        uint64_t h[ALLOT_CUE_WORDS];
        const char *last = NULL;
        int cat, got;
        size_t n, used = 0, len;
        const char *text = allot_cues_entry(i, &cat);

        len = strlen(text);
        if (text[len - 1] == '*') {
            char stem[32];
            if (memchr(text, ' ', len) || len - 1 > 10)
                continue; /* a stem only ever matches one word of up to 10 bytes */
            memcpy(stem, text, len - 1);
            stem[len - 1] = 's'; /* a word it begins */
            h[0] = allot_cues_word_hash(stem, len);
            got = allot_cues_match(h, 1, stem, len, &used);
            if (got != first_category(i))
                TEST_FAIL_("stem '%s': category %d, want %d", text, got, first_category(i));
            ASSERT_INT_EQ(used, 1);
        } else {
            n = phrase_words(text, h, &last);
            got = allot_cues_match(h, n, last, strlen(last), &used);
            if (got != first_category(i))
                TEST_FAIL_("phrase '%s': category %d, want %d", text, got, first_category(i));
            ASSERT_INT_EQ(used, n);
        }
        checked++;
    }
    ASSERT(checked > 400);
}

TEST(cues_longest_phrase_wins_and_others_miss)
{
    uint64_t h[ALLOT_CUE_WORDS];
    const char *last = NULL;
    size_t used = 0, n;

    n = phrase_words("step by step plan", h, &last);
    ASSERT_INT_EQ(allot_cues_match(h, n, last, strlen(last), &used), ALLOT_CAT_PLAN);
    ASSERT_INT_EQ(used, 4);
    n = phrase_words("step by step", h, &last);
    ASSERT_INT_EQ(allot_cues_match(h, n, last, strlen(last), &used), ALLOT_CAT_SOLVE);
    ASSERT_INT_EQ(used, 3);
    n = phrase_words("the zebra", h, &last);
    ASSERT_INT_EQ(allot_cues_match(h, n, last, strlen(last), &used), -1);
    n = phrase_words("summarised", h, &last);
    ASSERT_INT_EQ(allot_cues_match(h, n, last, strlen(last), &used), ALLOT_CAT_SUMMARIZE);
    ASSERT_INT_EQ(used, 1);
    n = phrase_words("sum", h, &last); /* shorter than any stem */
    ASSERT_INT_EQ(allot_cues_match(h, n, last, strlen(last), &used), -1);
}
