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

/* The lexicon's answer for words[0..n) (the newest last), found by
 * comparing text, not hashes: the longest phrase (its first
 * ALLOT_CUE_WORDS words, the first entry of equal ones) that the last
 * words spell, else the longest stem of 4 to 10 bytes the newest word
 * begins with. */
static int text_match(const char *const *words, size_t n, size_t *used)
{
    size_t k, i, p, len = strlen(words[n - 1]);
    for (k = n; k >= 1; k--) {
        char window[256];
        size_t wl = 0;
        for (i = n - k; i < n; i++) {
            if (i > n - k)
                window[wl++] = ' ';
            memcpy(window + wl, words[i], strlen(words[i]));
            wl += strlen(words[i]);
        }
        window[wl] = '\0';
        for (i = 0; i < allot_cues_count(); i++) {
            int cat;
            const char *text = allot_cues_entry(i, &cat);
            size_t w = 0, j, tl = strlen(text);
            if (text[tl - 1] == '*')
                continue;
            for (j = 0; j < tl && w < ALLOT_CUE_WORDS; j++)
                if (text[j] == ' ' && ++w == ALLOT_CUE_WORDS)
                    break; /* indexed by its first ALLOT_CUE_WORDS words */
            if (j == strlen(window) && memcmp(text, window, j) == 0) {
                *used = k;
                return cat;
            }
        }
    }
    for (p = len < 10 ? len : 10; p >= 4; p--) {
        for (i = 0; i < allot_cues_count(); i++) {
            int cat;
            const char *text = allot_cues_entry(i, &cat);
            size_t tl = strlen(text);
            if (text[tl - 1] == '*' && tl - 1 == p && memcmp(text, words[n - 1], p) == 0) {
                *used = 1;
                return cat;
            }
        }
    }
    return -1;
}

/* The index with its filters (last words, pairs, stem starts) gives what
 * a plain comparison of text gives, over windows of words from the
 * lexicon, words that begin with its stems, and others, in a fixed
 * pseudo-random order: every phrase's words, and each phrase after a
 * word or three that may or may not lengthen it. */
TEST(cues_match_agrees_with_comparing_text)
{
    static const char *const others[] = {
        "the",         "a",        "of",        "and",       "to",    "in",      "is",
        "it",          "this",     "that",      "for",       "on",    "with",    "as",
        "be",          "0",        "00",        "summarise", "risky", "decided", "categories",
        "translation", "exploits", "synthesis", "zebra",     "?"};
    const char *vocab[2048];
    char words_buf[2048][32];
    size_t n_vocab = 0, i, t, checked = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;

    for (i = 0; i < sizeof others / sizeof others[0]; i++)
        vocab[n_vocab++] = others[i];
    for (i = 0; i < allot_cues_count() && n_vocab < 2000; i++) {
        int cat;
        const char *text = allot_cues_entry(i, &cat);
        size_t start = 0, j, tl = strlen(text);
        for (j = 0; j <= tl; j++) {
            if (j == tl || text[j] == ' ' || text[j] == '*') {
                if (j > start && j - start < 24) {
                    memcpy(words_buf[n_vocab], text + start, j - start);
                    if (text[j] == '*') /* a word the stem begins */
                        memcpy(words_buf[n_vocab] + (j - start), "ing", 4);
                    else
                        words_buf[n_vocab][j - start] = '\0';
                    vocab[n_vocab] = words_buf[n_vocab];
                    n_vocab++;
                }
                start = j + 1;
            }
        }
    }
    for (t = 0; t < 200000; t++) {
        const char *words[ALLOT_CUE_WORDS];
        uint64_t h[ALLOT_CUE_WORDS];
        size_t n, used = 0, want_used = 0;
        int got, want;

        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if (t < allot_cues_count() * 4) { /* phrase t / 4 after t % 4 other words */
            int cat;
            const char *text = allot_cues_entry(t / 4, &cat), *last = NULL;
            size_t pre = t % 4, k;
            if (text[strlen(text) - 1] == '*')
                continue;
            n = phrase_words(text, h, &last);
            if (n + pre > ALLOT_CUE_WORDS)
                pre = ALLOT_CUE_WORDS - n;
            for (k = 0; k < pre; k++)
                words[k] = vocab[(seed >> (8 * k)) % n_vocab];
            /* the phrase's words again, as text */
            for (k = 0; k < n; k++) {
                size_t start = 0, w = 0, j, tl = strlen(text);
                for (j = 0; j <= tl; j++)
                    if (j == tl || text[j] == ' ') {
                        if (w++ == k) {
                            memcpy(words_buf[2000 + k], text + start, j - start);
                            words_buf[2000 + k][j - start] = '\0';
                            break;
                        }
                        start = j + 1;
                    }
                words[pre + k] = words_buf[2000 + k];
            }
            n += pre;
        } else {
            size_t k;
            n = 1 + seed % ALLOT_CUE_WORDS;
            for (k = 0; k < n; k++)
                words[k] = vocab[(seed >> (8 + 12 * k)) % n_vocab];
        }
        for (i = 0; i < n; i++)
            h[i] = allot_cues_word_hash(words[i], strlen(words[i]));
        got = allot_cues_match(h, n, words[n - 1], strlen(words[n - 1]), &used);
        want = text_match(words, n, &want_used);
        if (got != want || (want >= 0 && used != want_used))
            TEST_FAIL_("'%s' .. '%s' (%zu words): category %d of %zu words, want %d of %zu",
                       words[0], words[n - 1], n, got, used, want, want_used);
        checked++;
    }
    ASSERT(checked > 150000);
}
