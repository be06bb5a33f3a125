/* features.c: hashed n-gram and structural features of an instruction.
 *
 * Tokens: runs of ASCII letters and digits and of non-ASCII bytes (UTF-8
 * letters of any script), lower-cased, digits folded to '0', apostrophes
 * inside a word dropped ("don't" = "dont"), at most WORD_MAX bytes hashed;
 * Cyrillic is lower-cased too, and each Chinese or Japanese character is a
 * token (those scripts have no spaces). '?' is a token of its own: it marks
 * questions wherever it stands.
 *
 * Weights: a feature from the instruction counts 1, from the long edge of
 * a pasted block EDGE_WEIGHT, from the system prompt SYSTEM_WEIGHT; each
 * character n-gram CHAR_WEIGHT of its word's. The text features are then
 * scaled to unit length.
 *
 * Signed hashing: a text or cue feature's value takes the sign of a hash
 * bit the bucket does not use, so that features sharing a bucket cancel in
 * expectation instead of adding up (Weinberger et al., 2009).
 *
 * DESIGN: nothing allocates per request (a thread's remembered system
 * prompts are one block, made once); a request's features fit the fixed arrays of
 * struct allot_features. Hashing is FNV-1a per family seed, then MurmurHash3's
 * 32-bit finaliser so that the low bits used as the bucket are well mixed.
 * Each byte of text is looked at once by the tokenizer (a table says what
 * it is), which hashes a word as it reads it; the per-zone lengths are
 * summed as features are made. This runs on every routed request. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include "allot/cues.h"
#include "allot/features.h"
#include "allot/kinds.h"
#include "allot/thread_block.h"
#include "util/byte_table.h"

#define WORD_MAX 32
#define CHAR_WEIGHT 0.35f
#define LEAD_WEIGHT 1.0f
#define LEAD2_WEIGHT 0.7f

/* The length of each zone's text features after scaling (instruction.h):
 * the opening and closing of the user turn and the system prompt weigh
 * most; the middle, often list items or log lines that need no fence,
 * least. (Chosen by cross-validation, bench/kinds: 1/1/0.2/1 beat
 * 1/0.8/0.35/0.7 and the neighbours tried by 0.3-0.5 points of macro-F1.) */
static const float zone_norm[4] = {
    [ALLOT_ZONE_HEAD] = 1.0f,
    [ALLOT_ZONE_TAIL] = 1.0f,
    [ALLOT_ZONE_BODY] = 0.2f,
    [ALLOT_ZONE_SYSTEM] = 1.0f,
};

/* Family seeds: the same string in two families hashes apart. */
enum family {
    FAM_WORD = 0x9e3779b1u,
    FAM_BIGRAM = 0x85ebca77u,
    FAM_CHAR = 0xc2b2ae3du,
    FAM_LEAD = 0x27d4eb2fu,
    FAM_SENT = 0x165667b1u,
    FAM_LAST = 0x61c88647u,
    FAM_CUE = 0x3c6ef372u,
    FAM_FIRST_CUE = 0xa54ff53au,
    FAM_SIGNAL = 0xd3a2646cu,
    FAM_LEAD2 = 0x1f83d9abu,
};

struct word {
    char text[WORD_MAX];
    size_t len; /* bytes in text */
    uint64_t cue_hash;
    const char *at; /* in the request */
    size_t src_len; /* bytes it spans in the request */
    uint16_t unit;
};

#define CUE_HITS_MAX 2 /* per category and zone: repetition is not emphasis */
#define CUE_PENDING_MAX (ALLOT_CAT__COUNT * 4 * CUE_HITS_MAX + 1)
#define SIGNALS_MAX 32 /* structural signals and the LAST lead, at most */

struct extractor {
    struct allot_features *out;
    uint32_t mask;
    size_t limit; /* text features stop here; the rest is kept for signals */
    unsigned char cue_hits[ALLOT_CAT__COUNT][4]; /* per category and zone */
    int first_cue;                               /* category of the first user cue, or -1 */
    /* cue features wait here until the text features are scaled */
    struct allot_feature cues[CUE_PENDING_MAX];
    size_t n_cues;
    size_t n_numbers, n_sentences; /* in the text read, for counts() */
    /* while text is read: the sum of squares of its zone's features, the
     * same sums in the same order as over the finished list, taken as the
     * features are made so that they cost no pass of their own */
    double *sum_sq;
};

/* Cue features count less the further from the instruction's edges. */
static const float cue_weight[4] = {
    [ALLOT_ZONE_HEAD] = 1.0f,
    [ALLOT_ZONE_TAIL] = 0.8f,
    [ALLOT_ZONE_BODY] = 0.3f,
    [ALLOT_ZONE_SYSTEM] = 0.6f,
};

static uint32_t fnv1a(uint32_t seed, const char *s, size_t n, uint32_t h)
{
    size_t i;
    h ^= seed;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* A word's hash in a family: its one 64-bit hash (cues.h), folded. */
static uint32_t word_in(uint32_t family, uint64_t h64)
{
    return (uint32_t)h64 ^ (uint32_t)(h64 >> 32) ^ family;
}

static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

#define FNV_BASIS 2166136261u
#define FNV64_BASIS 0xcbf29ce484222325ull /* allot_cues_word_hash's */
#define FNV64_PRIME 0x100000001b3ull

/* value, negated when the top bit of m is set (signed hashing): the sign
 * bit flipped, which is what -value is, without a branch */
static inline float signed_by(float value, uint32_t m)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    bits ^= m & 0x80000000u;
    memcpy(&value, &bits, sizeof bits);
    return value;
}

/* Every feature goes through here, from seven places: inlined into each,
 * the list's count and end stay in registers (a twentieth of a 1 KB
 * request's classification, measured). */
static inline __attribute__((always_inline)) void add(struct extractor *x, uint32_t h, float value,
                                                      uint16_t unit)
{
    struct allot_features *f = x->out;
    uint32_t m;
    if (f->n >= x->limit)
        return;
    m = fmix32(h);
    f->f[f->n].idx = m & x->mask;
    f->f[f->n].value = signed_by(value, m);
    f->f[f->n].unit = unit;
    f->n++;
    if (x->sum_sq)
        *x->sum_sq += (double)value * value;
}

static uint16_t new_unit(struct extractor *x, const char *ptr, size_t len, enum allot_unit_kind k)
{
    struct allot_features *f = x->out;
    if (f->n_units >= ALLOT_UNITS_MAX)
        return ALLOT_NO_UNIT;
    f->units[f->n_units].ptr = ptr;
    f->units[f->n_units].len = (uint32_t)len;
    f->units[f->n_units].kind = (uint8_t)k;
    return (uint16_t)f->n_units++;
}

/* What each byte is to the tokenizer, one load a byte: a word byte (ASCII
 * letters and digits, any byte of a UTF-8 sequence), a sentence end ('.',
 * '!', ':', ';', newline), '?'; and to text_shape(), code-like
 * ("{}[]()<>;_") and math-like (digits, "+*^=/"). */
enum { B_WORD = 1, B_END = 2, B_QUESTION = 4 };
#define IS_WORD(c)                                                                                 \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9') ||     \
     (c) >= 0x80)
#define IS_END(c) ((c) == '.' || (c) == '!' || (c) == ':' || (c) == ';' || (c) == '\n')
#define IS_CODE(c)                                                                                 \
    ((c) == '{' || (c) == '}' || (c) == ';' || (c) == '_' || (c) == '(' || (c) == ')' ||           \
     (c) == '<' || (c) == '>' || (c) == '[' || (c) == ']')
#define IS_MATH(c)                                                                                 \
    (((c) >= '0' && (c) <= '9') || (c) == '+' || (c) == '*' || (c) == '^' || (c) == '=' ||         \
     (c) == '/')
#define CLASS(c)                                                                                   \
    (unsigned char)((IS_WORD(c) ? B_WORD : 0) | (IS_END(c) ? B_END : 0) |                          \
                    ((c) == '?' ? B_QUESTION : 0))
/* text_shape() adds these up: code-like bytes in the low half, math-like
 * in the high one */
#define SHAPE(c) ((uint64_t)(IS_CODE(c) ? 1 : 0) | (uint64_t)(IS_MATH(c) ? 1 : 0) << 32)
static const unsigned char byte_class[256] = {ALLOT_BYTE_TABLE(CLASS)};
/* An ASCII letter or digit as a word keeps it (fold()); 0 for any other
 * byte: the tokenizer's fast path, one load a byte for most text */
#define ASCII_FOLD(c)                                                                              \
    (unsigned char)(((c) >= 'a' && (c) <= 'z')   ? (c)                                             \
                    : ((c) >= 'A' && (c) <= 'Z') ? (c) + 32                                        \
                    : ((c) >= '0' && (c) <= '9') ? '0'                                             \
                                                 : 0)
static const unsigned char ascii_fold[256] = {ALLOT_BYTE_TABLE(ASCII_FOLD)};
static const uint64_t shape_count[256] = {ALLOT_BYTE_TABLE(SHAPE)};

static int is_word_byte(unsigned char c)
{
    return byte_class[c] & B_WORD;
}

static char fold(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c + 32);
    if (c >= '0' && c <= '9')
        return '0';
    return (char)c;
}

/* The next token of s[*i..n) into w, with its hash (cues.h: FNV-1a over
 * the folded bytes kept, taken as they are kept); 0 at the end. *boundary
 * is set when a sentence ended between the previous token and this one. */
/* Scripts written without spaces (Chinese, Japanese): each character of
 * U+3040..U+9FFF is a token of its own, so its words and bigrams are
 * characters and character pairs, not a whole sentence in one token.
 * Their punctuation (U+3000..U+303F, the full-width ASCII forms) separates
 * tokens: CJK_END ends a sentence, CJK_QUESTION is '?'. */
enum { CJK_NONE, CJK_CHAR, CJK_SEP, CJK_END, CJK_QUESTION };
static int cjk_at(const char *s, size_t n, size_t k)
{
    unsigned char a = (unsigned char)s[k], b, c;
    if (a < 0xe3 || a > 0xef || k + 3 > n)
        return CJK_NONE;
    b = (unsigned char)s[k + 1];
    c = (unsigned char)s[k + 2];
    if ((b & 0xc0) != 0x80 || (c & 0xc0) != 0x80)
        return CJK_NONE;
    if (a == 0xe3 && b == 0x80) /* U+3000..U+303F */
        return c == 0x82 ? CJK_END : CJK_SEP;
    if (a >= 0xe3 && a <= 0xe9) /* U+3040..U+9FFF */
        return CJK_CHAR;
    if (a == 0xef && b == 0xbc) { /* U+FF00..U+FF3F */
        if (c == 0x9f)
            return CJK_QUESTION;
        if (c == 0x81 || c == 0x9a || c == 0x9b)
            return CJK_END;
        if (c == 0x8c || c == 0x88 || c == 0x89)
            return CJK_SEP;
    }
    return CJK_NONE;
}

/* One step of a word past next_word()'s ASCII fast path, at s[*k]: a
 * UTF-8 byte kept as it is, a Cyrillic capital lower-cased (two bytes), an
 * apostrophe between word bytes dropped; *h takes what is kept. Returns 0
 * where the word ends instead (a Chinese or Japanese character starts a
 * token of its own). */
static int next_byte(const char *s, size_t n, size_t *kp, struct word *w, uint64_t *h)
{
    size_t k = *kp;
    if (!(k < n && !((unsigned char)s[k] >= 0xe3 && cjk_at(s, n, k) != CJK_NONE) &&
          (is_word_byte((unsigned char)s[k]) ||
           (s[k] == '\'' && k + 1 < n && is_word_byte((unsigned char)s[k + 1]) && k > 0 &&
            is_word_byte((unsigned char)s[k - 1])))))
        return 0;
    if ((unsigned char)s[k] == 0xd0 && k + 1 < n &&
        (((unsigned char)s[k + 1] >= 0x90 && (unsigned char)s[k + 1] <= 0xaf) ||
         (unsigned char)s[k + 1] == 0x81)) {
        /* Cyrillic capitals (U+0401, U+0410..U+042F) to small */
        unsigned char b = (unsigned char)s[k + 1], lo[2];
        lo[0] = b == 0x81 || b >= 0xa0 ? 0xd1 : 0xd0;
        lo[1] = b == 0x81   ? 0x91
                : b >= 0xa0 ? (unsigned char)(b - 0x20)
                            : (unsigned char)(b + 0x20);
        if (w->len + 2 <= WORD_MAX) {
            w->text[w->len++] = (char)lo[0];
            w->text[w->len++] = (char)lo[1];
            *h = (*h ^ lo[0]) * FNV64_PRIME;
            *h = (*h ^ lo[1]) * FNV64_PRIME;
        }
        *kp = k + 2;
        return 1;
    }
    if (s[k] != '\'' && w->len < WORD_MAX) {
        char c = fold((unsigned char)s[k]);
        w->text[w->len++] = c;
        *h = (*h ^ (unsigned char)c) * FNV64_PRIME;
    }
    *kp = k + 1;
    return 1;
}

/* Not inlined: span_features() keeps more of its own state in registers
 * when the tokenizer is a call (measured: 280 instructions fewer a 1 KB
 * request). */
static __attribute__((noinline)) int next_word(const char *s, size_t n, size_t *i, struct word *w,
                                               int *boundary)
{
    size_t k = *i;
    uint64_t h = FNV64_BASIS;
    int cjk = CJK_NONE;
    *boundary = 0;
    for (;;) {
        while (k < n && !(byte_class[(unsigned char)s[k]] & (B_WORD | B_QUESTION))) {
            if (byte_class[(unsigned char)s[k]] & B_END)
                *boundary = 1;
            k++;
        }
        if (k >= n) {
            *i = k;
            return 0;
        }
        cjk = (unsigned char)s[k] >= 0xe3 ? cjk_at(s, n, k) : CJK_NONE; /* most bytes: no call */
        if (cjk != CJK_SEP && cjk != CJK_END)
            break;
        if (cjk == CJK_END)
            *boundary = 1;
        k += 3;
    }
    w->at = s + k;
    w->len = 0;
    if (cjk == CJK_CHAR) {
        size_t e;
        for (e = k + 3; k < e; k++) {
            w->text[w->len++] = s[k];
            h = (h ^ (unsigned char)s[k]) * FNV64_PRIME;
        }
    } else if (s[k] == '?' || cjk == CJK_QUESTION) {
        w->text[w->len++] = '?';
        h = (h ^ '?') * FNV64_PRIME;
        k += cjk == CJK_QUESTION ? 3 : 1;
    } else {
        size_t len = 0;
        for (;;) { /* ASCII letters and digits: kept while there is room */
            size_t stop = n - k > WORD_MAX - len ? k + (WORD_MAX - len) : n;
            unsigned char c;
            while (k < stop && (c = ascii_fold[(unsigned char)s[k]]) != 0) {
                w->text[len++] = (char)c;
                h = (h ^ c) * FNV64_PRIME;
                k++;
            }
            while (k < n && ascii_fold[(unsigned char)s[k]] != 0)
                k++; /* past WORD_MAX: read, not kept */
            if (k >= n || ((unsigned char)s[k] < 0x80 && s[k] != '\''))
                break; /* the word ends at any other ASCII byte */
            /* an apostrophe or a UTF-8 byte: the general step below, once */
            w->len = len;
            if (!next_byte(s, n, &k, w, &h))
                break;
            len = w->len;
        }
        w->len = len;
    }
    w->cue_hash = h | 1; /* = allot_cues_word_hash(w->text, w->len) */
    w->src_len = (size_t)(s + k - w->at);
    *i = k;
    return 1;
}

static void char_grams(struct extractor *x, const struct word *w, float weight)
{
    char pad[WORD_MAX + 2];
    size_t n = w->len + 2, i;

    if (w->len < 2 || w->text[0] == '?' || w->text[0] == '0')
        return;
    pad[0] = '<';
    memcpy(pad + 1, w->text, WORD_MAX); /* a fixed size: no call; what lies past len is not read */
    pad[n - 1] = '>';
    for (i = 0; i + 4 <= n; i++) { /* four bytes are their own hash key */
        uint32_t k;
        memcpy(&k, pad + i, 4);
        add(x, k * 0x9e3779b1u ^ FAM_CHAR, weight * CHAR_WEIGHT, w->unit);
    }
}

static void pend(struct extractor *x, uint32_t h, float value, uint16_t unit)
{
    if (x->n_cues >= CUE_PENDING_MAX)
        return;
    uint32_t m = fmix32(h);
    x->cues[x->n_cues].idx = m & x->mask;
    x->cues[x->n_cues].value = signed_by(value, m);
    x->cues[x->n_cues].unit = unit;
    x->n_cues++;
}

/* A cue (cues.h) ending at ring[cur], the newest of the n last words,
 * whose hashes are hashes[0..n), the newest last. */
static void cue(struct extractor *x, int zone, const struct word *ring, size_t cur, size_t n,
                const uint64_t *hashes)
{
    size_t used;
    const struct word *first;
    unsigned char key[2];
    uint16_t u;
    int cat;

    cat = allot_cues_match(hashes, n, ring[cur].text, ring[cur].len, &used);
    if (cat < 0 || x->cue_hits[cat][zone] >= CUE_HITS_MAX)
        return;
    x->cue_hits[cat][zone]++;
    first = &ring[(cur + ALLOT_CUE_WORDS - (used - 1)) % ALLOT_CUE_WORDS];
    u = new_unit(x, first->at, (size_t)(ring[cur].at + ring[cur].src_len - first->at),
                 used > 1 ? ALLOT_UNIT_BIGRAM : ALLOT_UNIT_WORD);
    key[0] = (unsigned char)cat;
    key[1] = (unsigned char)zone;
    pend(x, fnv1a(FAM_CUE, (const char *)key, 2, FNV_BASIS), cue_weight[zone], u);
    if (x->first_cue < 0 && zone != ALLOT_ZONE_SYSTEM) {
        x->first_cue = cat;
        pend(x, fnv1a(FAM_FIRST_CUE, (const char *)key, 1, FNV_BASIS), 0.7f, u);
    }
}

/* Text features of one span, weight 1 each (scaled per zone later). The
 * first word of the user turn is a LEAD feature; the first word of the
 * turn's last sentence (in TAIL) a LAST one: where imperatives stand. */
static void span_features(struct extractor *x, const struct allot_span *sp, int *lead_done,
                          struct word *last_lead)
{
    struct word w[ALLOT_CUE_WORDS];
    /* the words' hashes, each kept at [cur] and [cur + ALLOT_CUE_WORDS], so
     * that the last n are in order (the newest last) at any cur */
    uint64_t recent[2 * ALLOT_CUE_WORDS];
    size_t i = 0, cur = 0, in_ring = 0;
    int have_prev = 0, boundary, sentence_start = 1;

    while (next_word(sp->ptr, sp->len, &i, &w[cur], &boundary)) {
        struct word *wd = &w[cur], *prev = &w[(cur + ALLOT_CUE_WORDS - 1) % ALLOT_CUE_WORDS];
        wd->unit = new_unit(x, wd->at, wd->src_len, ALLOT_UNIT_WORD);
        if (wd->text[0] == '0' && sp->zone != ALLOT_ZONE_SYSTEM)
            x->n_numbers++;
        if ((sentence_start || boundary) && sp->zone != ALLOT_ZONE_SYSTEM)
            x->n_sentences++;
        add(x, word_in(FAM_WORD, wd->cue_hash), 1.0f, wd->unit);
        if (sp->zone == ALLOT_ZONE_HEAD || sp->zone == ALLOT_ZONE_TAIL)
            char_grams(x, wd, 1.0f); /* where the instruction is */
        if (have_prev && !boundary) {
            uint16_t u =
                new_unit(x, prev->at, (size_t)(wd->at + wd->src_len - prev->at), ALLOT_UNIT_BIGRAM);
            add(x, word_in(FAM_BIGRAM, prev->cue_hash * 0x9e3779b97f4a7c15ull + wd->cue_hash), 1.0f,
                u);
        }
        /* the instruction's first two words, as a pair: "how many", "write a" */
        if (have_prev && !boundary && in_ring == 1 && *lead_done == 1 &&
            sp->zone != ALLOT_ZONE_SYSTEM) {
            uint16_t u =
                new_unit(x, prev->at, (size_t)(wd->at + wd->src_len - prev->at), ALLOT_UNIT_BIGRAM);
            add(x, word_in(FAM_LEAD2, prev->cue_hash * 0x9e3779b97f4a7c15ull + wd->cue_hash),
                LEAD2_WEIGHT, u);
        }
        if (*lead_done == 1)
            *lead_done = 2;
        if (sentence_start || boundary) {
            if (sp->zone != ALLOT_ZONE_SYSTEM && !*lead_done) {
                uint16_t u = new_unit(x, wd->at, wd->src_len, ALLOT_UNIT_LEAD);
                add(x, word_in(FAM_LEAD, wd->cue_hash), LEAD_WEIGHT, u);
                *lead_done = 1;
            }
            if (sp->zone == ALLOT_ZONE_TAIL && wd->text[0] != '?')
                *last_lead = *wd;
            add(x, word_in(FAM_SENT, wd->cue_hash), 0.5f, wd->unit);
        }
        if (boundary)
            in_ring = 0; /* cues do not span sentences */
        in_ring = in_ring < ALLOT_CUE_WORDS ? in_ring + 1 : ALLOT_CUE_WORDS;
        recent[cur] = recent[cur + ALLOT_CUE_WORDS] = wd->cue_hash;
        cue(x, sp->zone, w, cur, in_ring, recent + cur + ALLOT_CUE_WORDS + 1 - in_ring);
        sentence_start = 0;
        have_prev = 1;
        cur = (cur + 1) % ALLOT_CUE_WORDS;
    }
}

/* The system prompt's features, remembered per thread.
 *
 * An agent or an application sends the same system prompt with every
 * request (providers cache it for the same reason), and up to
 * ALLOT_VIEW_SYSTEM_READ bytes of it are read: for the benchmark's request
 * (bench/chat.lua) its 151 bytes were two thirds of the features' cost.
 * Its features depend on its text and the hash bits alone: cue hits are
 * counted per zone and the system prompt is its zone's one span (so the
 * count starts at 0 and nothing reads it after), and it never makes a
 * lead, a count or the first cue. So the features, units and cue features
 * one span made are kept, and a later span of the same bytes gets copies
 * of them, with the units pointing into its own request: the same list, in
 * the same place, as reading it again would give (tests/unit/test_features.c
 * compares the two). A span whose reading hit a cap (features, units,
 * cues) is not kept, and one is replayed only where it would not hit one.
 * SYS_ENTRIES prompts per thread (about 12 KB each), the oldest replaced,
 * in a block the thread makes the first time it keeps one and frees when
 * it exits (thread_block.h): no lock, and nothing in threads that never
 * classify. */
#define SYS_ENTRIES 4
#define SYS_FEATURES 640 /* words, bigrams and sentence starts of 1200 bytes fit */
#define SYS_UNITS 512
#define SYS_CUES (ALLOT_CAT__COUNT * CUE_HITS_MAX)

struct sys_unit {
    uint16_t off, len; /* in the span */
    uint8_t kind;
};

struct sys_entry {
    uint32_t len; /* bytes of text; 0: an empty slot */
    uint32_t mask;
    double sum_sq;
    uint16_t n_f, n_units, n_cues;
    unsigned char any_word;
    char text[ALLOT_VIEW_SYSTEM_READ];
    struct allot_feature f[SYS_FEATURES]; /* units counted from the span's first */
    struct allot_feature cues[SYS_CUES];
    struct sys_unit units[SYS_UNITS];
};

struct sys_memory {
    struct sys_entry entry[SYS_ENTRIES];
    unsigned next; /* the slot the next new prompt takes */
    size_t replays;
};

static struct allot_thread_block sys_memories =
    ALLOT_THREAD_BLOCK_INIT(sizeof(struct sys_memory), NULL);

size_t allot_features_replayed(void)
{
    const struct sys_memory *m = allot_thread_block_peek(&sys_memories);
    return m ? m->replays : 0;
}

void allot_features_forget(void)
{
    allot_thread_block_drop(&sys_memories);
}

/* Copies of a kept span's features in place of reading sp. 0 when sp is
 * not kept, or its copies would not all fit where reading would cut. */
static int sys_replay(struct extractor *x, const struct allot_span *sp, int *lead_done)
{
    struct allot_features *f = x->out;
    struct sys_memory *m = allot_thread_block_peek(&sys_memories);
    const struct sys_entry *e = NULL;
    size_t i, base;

    for (i = 0; m && i < SYS_ENTRIES; i++)
        if (m->entry[i].len == sp->len && m->entry[i].mask == x->mask &&
            memcmp(m->entry[i].text, sp->ptr, sp->len) == 0) {
            e = &m->entry[i];
            break;
        }
    if (!e || f->n + e->n_f >= x->limit || f->n_units + e->n_units >= ALLOT_UNITS_MAX ||
        x->n_cues + e->n_cues >= CUE_PENDING_MAX)
        return 0;
    base = f->n_units;
    for (i = 0; i < e->n_units; i++) {
        f->units[base + i].ptr = sp->ptr + e->units[i].off;
        f->units[base + i].len = e->units[i].len;
        f->units[base + i].kind = e->units[i].kind;
    }
    f->n_units += e->n_units;
    for (i = 0; i < e->n_f; i++) {
        f->f[f->n + i] = e->f[i];
        f->f[f->n + i].unit = (uint16_t)(e->f[i].unit + base);
    }
    f->n += e->n_f;
    for (i = 0; i < e->n_cues; i++) {
        x->cues[x->n_cues + i] = e->cues[i];
        x->cues[x->n_cues + i].unit = (uint16_t)(e->cues[i].unit + base);
    }
    x->n_cues += e->n_cues;
    *x->sum_sq += e->sum_sq; /* onto 0: the one span of its zone */
    if (e->any_word && *lead_done == 1)
        *lead_done = 2; /* as its first word would have (unseen: a later span's
                         * first word would set it before reading it) */
    m->replays++;
    return 1;
}

/* Keep what reading sp made: the features from n0, units from u0 and cue
 * features from c0 on, unless a cap cut any of them. */
static void sys_keep(const struct extractor *x, const struct allot_span *sp, size_t n0, size_t u0,
                     size_t c0)
{
    const struct allot_features *f = x->out;
    struct sys_memory *m;
    struct sys_entry *e;
    size_t i;

    if (f->n >= x->limit || f->n_units >= ALLOT_UNITS_MAX || x->n_cues >= CUE_PENDING_MAX ||
        f->n - n0 > SYS_FEATURES || f->n_units - u0 > SYS_UNITS || x->n_cues - c0 > SYS_CUES ||
        sp->len > ALLOT_VIEW_SYSTEM_READ || !(m = allot_thread_block_get(&sys_memories)))
        return;
    e = &m->entry[m->next];
    for (i = u0; i < f->n_units; i++)
        if (f->units[i].ptr < sp->ptr || f->units[i].ptr + f->units[i].len > sp->ptr + sp->len)
            return; /* cannot happen: every unit of a span is in it */
    for (i = u0; i < f->n_units; i++) {
        e->units[i - u0].off = (uint16_t)(f->units[i].ptr - sp->ptr);
        e->units[i - u0].len = (uint16_t)f->units[i].len;
        e->units[i - u0].kind = f->units[i].kind;
    }
    for (i = n0; i < f->n; i++) {
        e->f[i - n0] = f->f[i];
        e->f[i - n0].unit = (uint16_t)(f->f[i].unit - u0); /* every one has a unit: no cap hit */
    }
    for (i = c0; i < x->n_cues; i++) {
        e->cues[i - c0] = x->cues[i];
        e->cues[i - c0].unit = (uint16_t)(x->cues[i].unit - u0);
    }
    memcpy(e->text, sp->ptr, sp->len);
    e->len = sp->len;
    e->mask = x->mask;
    e->sum_sq = *x->sum_sq;
    e->n_f = (uint16_t)(f->n - n0);
    e->n_units = (uint16_t)(f->n_units - u0);
    e->n_cues = (uint16_t)(x->n_cues - c0);
    e->any_word = f->n_units > u0;
    m->next = (m->next + 1) % SYS_ENTRIES;
}

/* The system prompt's span: its copies when kept, else read and kept. */
static void system_features(struct extractor *x, const struct allot_span *sp, int *lead_done,
                            struct word *last_lead)
{
    size_t n0 = x->out->n, u0 = x->out->n_units, c0 = x->n_cues;
    if (sp->len == 0 || sys_replay(x, sp, lead_done))
        return;
    span_features(x, sp, lead_done, last_lead);
    sys_keep(x, sp, n0, u0, c0);
}

/* The structural signals (structure(), text_shape(), counts()) in one
 * table, so that each name is hashed once per process, not per request;
 * a count's buckets are consecutive, the first named. */
enum signal_id {
    SIG_TOOLS,
    SIG_RESPONSE_FORMAT,
    SIG_TOOL_LAST,
    SIG_TOOL_RESULTS,
    SIG_SYSTEM,
    SIG_QUESTION,
    SIG_MESSAGES,                       /* 4 buckets */
    SIG_INSTRUCTION = SIG_MESSAGES + 4, /* 6 */
    SIG_MATERIAL = SIG_INSTRUCTION + 6, /* 5 */
    SIG_DOCUMENTS = SIG_MATERIAL + 5,   /* 4 */
    SIG_OUTWEIGHS = SIG_DOCUMENTS + 4,
    SIG_FENCE,
    SIG_TAGGED,
    SIG_QUOTED,
    SIG_PASTED,
    SIG_DIFF,
    SIG_TABLE,
    SIG_JSON,
    SIG_LIST,
    SIG_CODE,
    SIG_SOME_CODE,
    SIG_MATH,
    SIG_SOME_MATH,
    SIG_NUMBERS,                     /* 5 */
    SIG_SENTENCES = SIG_NUMBERS + 5, /* 5 */
    SIG__COUNT = SIG_SENTENCES + 5
};
static const char *const signal_names[SIG__COUNT] = {
    [SIG_TOOLS] = "tools defined",
    [SIG_RESPONSE_FORMAT] = "response_format",
    [SIG_TOOL_LAST] = "tool result last",
    [SIG_TOOL_RESULTS] = "tool results",
    [SIG_SYSTEM] = "system prompt",
    [SIG_QUESTION] = "question",
    [SIG_MESSAGES] = "messages 1",
    "messages 2-3",
    "messages 4-9",
    "messages 10+",
    [SIG_INSTRUCTION] = "instruction none",
    "instruction <64 B",
    "instruction <256 B",
    "instruction <1 KB",
    "instruction <4 KB",
    "instruction 4 KB+",
    [SIG_MATERIAL] = "material none",
    "material <1 KB",
    "material <8 KB",
    "material <64 KB",
    "material 64 KB+",
    [SIG_DOCUMENTS] = "documents 0",
    "documents 1",
    "documents 2-4",
    "documents 5+",
    [SIG_OUTWEIGHS] = "material outweighs instruction",
    [SIG_FENCE] = "code fence",
    [SIG_TAGGED] = "tagged block",
    [SIG_QUOTED] = "quoted block",
    [SIG_PASTED] = "pasted block",
    [SIG_DIFF] = "diff",
    [SIG_TABLE] = "table",
    [SIG_JSON] = "json material",
    [SIG_LIST] = "list of items",
    [SIG_CODE] = "code-like text",
    [SIG_SOME_CODE] = "some code-like text",
    [SIG_MATH] = "math-like text",
    [SIG_SOME_MATH] = "some math-like text",
    [SIG_NUMBERS] = "numbers 0",
    "numbers 1",
    "numbers 2-3",
    "numbers 4-7",
    "numbers 8+",
    [SIG_SENTENCES] = "sentences 1",
    "sentences 2",
    "sentences 3-4",
    "sentences 5-8",
    "sentences 9+",
};
static uint32_t signal_hash[SIG__COUNT]; /* fmix32(fnv1a(FAM_SIGNAL, name)) */
static uint8_t signal_len[SIG__COUNT];
static pthread_once_t signals_once = PTHREAD_ONCE_INIT;
static atomic_int signals_hashed; /* set once hash_signals() is done */

static void hash_signals(void)
{
    size_t i;
    for (i = 0; i < SIG__COUNT; i++) {
        size_t n = strlen(signal_names[i]);
        signal_len[i] = (uint8_t)n;
        signal_hash[i] = fmix32(fnv1a(FAM_SIGNAL, signal_names[i], n, FNV_BASIS));
    }
    atomic_store_explicit(&signals_hashed, 1, memory_order_release);
}

static void signal(struct extractor *x, enum signal_id id)
{
    uint16_t u = new_unit(x, signal_names[id], signal_len[id], ALLOT_UNIT_SIGNAL);
    struct allot_features *f = x->out;
    if (f->n >= x->limit)
        return;
    f->f[f->n].idx = signal_hash[id] & x->mask;
    f->f[f->n].value = 1.0f;
    f->f[f->n].unit = u;
    f->n++;
}

/* The bucket of v: first + how many of limits[0..n-1) v reaches. */
static enum signal_id bucket(size_t v, const size_t *limits, enum signal_id first, size_t n)
{
    size_t i;
    for (i = 0; i < n - 1 && v >= limits[i]; i++)
        ;
    return (enum signal_id)(first + i);
}

/* What the text read looks like: code (braces, semicolons, operators,
 * snake_case) or mathematics (digits, operators, lone letters), as shares
 * of its bytes. Unfenced code and formulas in an instruction say much
 * about implement, solve and answer. */
static void text_shape(struct extractor *x, const struct allot_instruction_view *v)
{
    size_t i, k, bytes = 0, code = 0, math = 0;
    for (i = 0; i < v->n_spans; i++) {
        const struct allot_span *sp = &v->spans[i];
        if (sp->zone == ALLOT_ZONE_SYSTEM)
            continue;
        uint64_t both = 0; /* code-like in the low half, math-like in the high */
        for (k = 0; k < sp->len; k++)
            both += shape_count[(unsigned char)sp->ptr[k]];
        code += (size_t)(both & 0xffffffffu);
        math += (size_t)(both >> 32);
        bytes += sp->len;
    }
    if (bytes < 16)
        return;
    if (code * 100 >= bytes * 6)
        signal(x, SIG_CODE);
    else if (code * 100 >= bytes * 2)
        signal(x, SIG_SOME_CODE);
    if (math * 100 >= bytes * 12)
        signal(x, SIG_MATH);
    else if (math * 100 >= bytes * 4)
        signal(x, SIG_SOME_MATH);
}

size_t allot_features_structure(const struct allot_instruction *in,
                                const struct allot_instruction_view *v,
                                uint8_t ids[ALLOT_STRUCTURE_MAX])
{
    static const size_t msg_lim[] = {2, 4, 10};
    static const size_t ins_lim[] = {1, 64, 256, 1024, 4096};
    static const size_t mat_lim[] = {1, 1024, 8192, 65536};
    static const size_t doc_lim[] = {1, 2, 5};
    static const struct {
        unsigned flag;
        enum signal_id id;
    } mats[] = {{ALLOT_MAT_FENCE, SIG_FENCE},   {ALLOT_MAT_TAGGED, SIG_TAGGED},
                {ALLOT_MAT_QUOTED, SIG_QUOTED}, {ALLOT_MAT_PASTED, SIG_PASTED},
                {ALLOT_MAT_DIFF, SIG_DIFF},     {ALLOT_MAT_TABULAR, SIG_TABLE},
                {ALLOT_MAT_JSON, SIG_JSON},     {ALLOT_MAT_LIST, SIG_LIST}};
    size_t material = v->turn_bytes - v->instruction_bytes + in->material_bytes, i, n = 0;
    _Static_assert(SIG__COUNT <= 256, "a signal's id is a byte");
    _Static_assert(ALLOT_STRUCTURE_MAX >= 6 + 4 + 1 + sizeof mats / sizeof mats[0],
                   "room for every signal below");

    if (in->has_tools)
        ids[n++] = SIG_TOOLS;
    if (in->has_response_format)
        ids[n++] = SIG_RESPONSE_FORMAT;
    if (in->last_is_tool)
        ids[n++] = SIG_TOOL_LAST;
    if (in->n_tool_results > 0)
        ids[n++] = SIG_TOOL_RESULTS;
    if (in->system.len > 0)
        ids[n++] = SIG_SYSTEM;
    if (v->question)
        ids[n++] = SIG_QUESTION;
    ids[n++] = (uint8_t)bucket(in->n_messages, msg_lim, SIG_MESSAGES, 4);
    ids[n++] = (uint8_t)bucket(v->instruction_bytes, ins_lim, SIG_INSTRUCTION, 6);
    ids[n++] = (uint8_t)bucket(material, mat_lim, SIG_MATERIAL, 5);
    ids[n++] = (uint8_t)bucket(v->n_documents, doc_lim, SIG_DOCUMENTS, 4);
    if (material > 4 * v->instruction_bytes + 256)
        ids[n++] = SIG_OUTWEIGHS;
    for (i = 0; i < sizeof mats / sizeof mats[0]; i++)
        if (v->material_flags & mats[i].flag)
            ids[n++] = (uint8_t)mats[i].id;
    return n;
}

static void structure(struct extractor *x, const struct allot_instruction *in,
                      const struct allot_instruction_view *v)
{
    uint8_t ids[ALLOT_STRUCTURE_MAX];
    size_t i, n = allot_features_structure(in, v, ids);
    for (i = 0; i < n; i++)
        signal(x, (enum signal_id)ids[i]);
}

/* How many numbers and sentences the instruction holds (the system prompt
 * aside): a sum to work out has numbers, a brief has sentences. */
static void counts(struct extractor *x)
{
    static const size_t num_lim[] = {1, 2, 4, 8};
    static const size_t sen_lim[] = {2, 3, 5, 9};
    signal(x, bucket(x->n_numbers, num_lim, SIG_NUMBERS, 5));
    signal(x, bucket(x->n_sentences, sen_lim, SIG_SENTENCES, 5));
}

void allot_features_extract(const struct allot_instruction *in,
                            const struct allot_instruction_view *v, unsigned hash_bits,
                            struct allot_features *out)
{
    struct extractor x;
    struct word last_lead;
    static const enum allot_zone zone_order[4] = {ALLOT_ZONE_HEAD, ALLOT_ZONE_TAIL,
                                                  ALLOT_ZONE_SYSTEM, ALLOT_ZONE_BODY};
    size_t i, j, z, start[ALLOT_VIEW_MAX_SPANS], end[ALLOT_VIEW_MAX_SPANS];
    double ss[4] = {0};
    int lead_done = 0;

    if (!atomic_load_explicit(&signals_hashed, memory_order_acquire))
        pthread_once(&signals_once, hash_signals);
    out->n = 0;
    out->n_units = 0;
    x.out = out;
    x.mask = (1u << hash_bits) - 1u;
    memset(x.cue_hits, 0, sizeof x.cue_hits);
    x.first_cue = -1;
    x.n_cues = 0;
    x.n_numbers = 0;
    x.n_sentences = 0;
    x.sum_sq = NULL;
    memset(&last_lead, 0, sizeof last_lead);
    x.limit = ALLOT_FEATURES_MAX - CUE_PENDING_MAX - SIGNALS_MAX;
    /* most telling first, so a long request loses only BODY to the cap */
    for (z = 0; z < 4; z++) {
        for (i = 0; i < v->n_spans; i++) {
            if (v->spans[i].zone != zone_order[z])
                continue;
            start[i] = out->n;
            x.sum_sq = &ss[v->spans[i].zone];
            if (v->spans[i].zone == ALLOT_ZONE_SYSTEM)
                system_features(&x, &v->spans[i], &lead_done, &last_lead);
            else
                span_features(&x, &v->spans[i], &lead_done, &last_lead);
            end[i] = out->n;
        }
    }
    x.limit = ALLOT_FEATURES_MAX;
    x.sum_sq = NULL;
    /* scale each zone's text features to the zone's length: a long
     * instruction does not outweigh a short one, nor material the head */
    for (i = 0; i < v->n_spans; i++) {
        int zn = v->spans[i].zone;
        float scale = ss[zn] > 0 ? (float)(zone_norm[zn] / sqrt(ss[zn])) : 0.0f;
        for (j = start[i]; j < end[i]; j++)
            out->f[j].value *= scale;
    }
    for (i = 0; i < x.n_cues && out->n < ALLOT_FEATURES_MAX; i++)
        out->f[out->n++] = x.cues[i];
    if (last_lead.len > 0) {
        uint16_t u = new_unit(&x, last_lead.at, last_lead.src_len, ALLOT_UNIT_LEAD);
        add(&x, word_in(FAM_LAST, last_lead.cue_hash), 0.7f, u);
    }
    structure(&x, in, v);
    text_shape(&x, v);
    counts(&x);
}

const char *allot_unit_name(const struct allot_unit *u, char *buf, size_t cap)
{
    size_t i, o = 0;
    int space = 0;

    if (u->kind == ALLOT_UNIT_SIGNAL) {
        size_t n = u->len < cap - 1 ? u->len : cap - 1;
        memcpy(buf, u->ptr, n);
        buf[n] = '\0';
        return buf;
    }
    for (i = 0; i < u->len && o + 2 < cap; i++) {
        unsigned char c = (unsigned char)u->ptr[i];
        if (is_word_byte(c) || c == '?') {
            if (space && o > 0)
                buf[o++] = ' ';
            space = 0;
            buf[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (c != '\'') {
            space = 1;
        }
    }
    /* do not end inside a UTF-8 sequence: drop an incomplete last one */
    if (o > 0 && ((unsigned char)buf[o - 1] & 0x80)) {
        size_t lead = o - 1, want;
        unsigned char c;
        while (lead > 0 && ((unsigned char)buf[lead] & 0xc0) == 0x80 && o - lead < 4)
            lead--;
        c = (unsigned char)buf[lead];
        want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if ((c & 0xc0) == 0x80 || o - lead < want)
            o = lead;
    }
    buf[o] = '\0';
    return buf;
}
