/* classify.c: the learned kind-of-work classifier, explained.
 *
 * A request goes: instruction view (instruction.c) -> hashed features
 * (features.c) -> logits of the model in use (kinds_model.c) -> calibrated
 * probabilities. The explanation comes from the same pass: each feature's
 * push toward the chosen category over the runner-up is
 *     value * (w[category] - w[runner_up]) / T,
 * summed per unit (a word with its character n-grams, a bigram, a
 * structural signal); the strongest units for and against are named.
 *
 * One rule overrides the model: a request with no instruction text at all
 * (empty turn, only material blocks) gets confidence 0, so the policy's
 * choice for unsure requests applies instead of a guess from structure.
 *
 * DESIGN: the model in use is a slot {model, source, serial, refs} swapped
 * under a mutex; see classify.h. A thread that classifies keeps a
 * reference to the slot it last used (a thread block), so that
 * allot_classify() takes no lock while the slot in use stays the same:
 * one atomic load tells it whether a reload put another in place, and
 * only then does it take the mutex to trade its reference for one to the
 * new slot. Each worker's loop classifies every request, so a
 * process-wide mutex there would be a cache line that every worker's core
 * takes in turn, twice a request. The cost: a thread keeps an old model
 * after a reload until its next classification (or its exit). Then
 * allot_classify() asks the thread's memo (classify_memo.h) under the
 * slot's serial. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "allot/classify.h"
#include "allot/classify_memo.h"
#include "allot/copy.h"
#include "allot/error.h"
#include "allot/fmt.h"
#include "allot/thread_block.h"
#include "util/byte_table.h"
#include "util/header_safe16.h"

struct slot {
    struct allot_kinds_model *model; /* NULL: no model (bootstrap build) */
    char source[256];
    uint64_t serial; /* > 0, never reused: the memo's name for the model */
    unsigned refs;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *_Atomic current; /* written under mu; read without it by in_use() */
static atomic_uint_fast64_t last_serial;

static struct slot *slot_new(void)
{
    struct slot *s = calloc(1, sizeof *s);
    if (s)
        s->serial = (uint64_t)atomic_fetch_add(&last_serial, 1) + 1;
    return s;
}

static void slot_free(struct slot *s)
{
    if (!s)
        return;
    allot_kinds_model_free(s->model);
    free(s);
}

static struct slot *builtin_slot(void)
{
    struct slot *s = slot_new();
    if (!s)
        return NULL;
    snprintf(s->source, sizeof s->source, "built-in");
    if (allot__kinds_builtin_size > 0 &&
        allot_kinds_model_from_bytes(allot__kinds_builtin, allot__kinds_builtin_size, "built-in",
                                     &s->model, NULL) != 0)
        s->model = NULL; /* cannot happen: the build checked it */
    return s;
}

/* Put s in use; the old slot goes when its last reader is done. */
static void install(struct slot *s)
{
    struct slot *old;
    pthread_mutex_lock(&mu);
    old = atomic_load_explicit(&current, memory_order_relaxed);
    atomic_store_explicit(&current, s, memory_order_release);
    if (old && old->refs == 0)
        slot_free(old);
    else if (old)
        old->refs |= 0x80000000u; /* retired: freed by the last release */
    pthread_mutex_unlock(&mu);
}

/* A reference given up, under mu. */
static void put_locked(struct slot *s)
{
    if (!s)
        return;
    s->refs--;
    if (s->refs == 0x80000000u) /* retired and unused */
        slot_free(s);
}

/* A reference to the slot in use, taken under mu (made when none is). */
static struct slot *get_locked(void)
{
    struct slot *s = atomic_load_explicit(&current, memory_order_relaxed);
    if (!s) {
        s = builtin_slot();
        atomic_store_explicit(&current, s, memory_order_release);
    }
    if (s)
        s->refs++;
    return s;
}

static struct slot *acquire(void)
{
    struct slot *s;
    pthread_mutex_lock(&mu);
    s = get_locked();
    pthread_mutex_unlock(&mu);
    return s;
}

static void release(struct slot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&mu);
    put_locked(s);
    pthread_mutex_unlock(&mu);
}

/* The slot a thread last classified with, and its reference to it. */
struct held {
    struct slot *slot;
};

static void held_release(void *p)
{
    release(((struct held *)p)->slot);
}

static struct allot_thread_block helds = ALLOT_THREAD_BLOCK_INIT(sizeof(struct held), held_release);

/* The slot in use for the calling thread, through its held reference: no
 * lock unless the slot changed since the thread last looked. *temp is set
 * when the thread has no block (out of memory): the caller then holds a
 * reference of its own, to give back with release(). */
static struct slot *in_use(struct slot **temp)
{
    struct held *h = allot_thread_block_get(&helds);
    struct slot *s;

    *temp = NULL;
    if (!h)
        return *temp = acquire();
    s = atomic_load_explicit(&current, memory_order_acquire);
    if (s && s == h->slot)
        return s;
    pthread_mutex_lock(&mu);
    put_locked(h->slot);
    h->slot = get_locked();
    pthread_mutex_unlock(&mu);
    return h->slot;
}

int allot_classifier_use_file(const char *path, struct allot_buf *err)
{
    struct slot *s = slot_new();
    int rc;
    if (!s)
        return ALLOT_ENOMEM;
    rc = allot_kinds_model_load(path, &s->model, err);
    if (rc) {
        free(s);
        return rc;
    }
    snprintf(s->source, sizeof s->source, "%s", path);
    install(s);
    return 0;
}

void allot_classifier_use_builtin(void)
{
    struct slot *s = builtin_slot();
    if (s)
        install(s);
}

void allot_classifier_preload(void)
{
    release(acquire());
}

const char *allot_classifier_source(char *buf, size_t cap)
{
    struct slot *s = acquire();
    snprintf(buf, cap, "%s", !s ? "none" : s->model ? s->source : "none (bootstrap build)");
    release(s);
    return buf;
}

void allot_classifier_shutdown(void)
{
    allot_thread_block_drop(&helds); /* the calling thread's reference */
    install(NULL);
}

/* --- classification --- */

/* The explanation: of the units (features.h) whose summed push is over
 * EXPLAIN_FLOOR, the CANDIDATES strongest for and against are taken, units
 * of the same name merged (a word seen twice is one reason), and the
 * ALLOT_EXPLAIN_TOP strongest of those shown. It runs on every classified
 * request, so it touches little: one pass over the units for both lists,
 * names compared mostly without rendering them (see same_name()) and
 * rendered only for the units shown, no sort call, no allocation. */
#define CANDIDATES (2 * ALLOT_EXPLAIN_TOP) /* room for names that merge */
#define EXPLAIN_FLOOR 0.005f               /* a unit must beat this to enter */

/* The strongest units in one direction, in the order they entered. */
struct pick {
    size_t n, weakest;
    float floor;
    size_t unit[CANDIDATES];
    float weight[CANDIDATES];
};

static void pick_offer(struct pick *p, size_t unit, float w)
{
    size_t slot = p->n;
    if (!(w > p->floor))
        return;
    if (p->n == CANDIDATES)
        slot = p->weakest; /* full: replace the weakest */
    else
        p->n++;
    p->unit[slot] = unit;
    p->weight[slot] = w;
    if (p->n == CANDIDATES) { /* the first of the weakest */
#ifdef __SSE2__
        /* the same in a few vector steps (a 1 KB request replaces about
         * twenty candidates): the least weight, then the first slot
         * holding it. The weights are over the floor, so no NaN. */
        _Static_assert(CANDIDATES == 10, "three vectors of four weights, two in the last");
        __m128 a = _mm_loadu_ps(p->weight), b = _mm_loadu_ps(p->weight + 4);
        __m128 c = _mm_setr_ps(p->weight[8], p->weight[9], INFINITY, INFINITY);
        __m128 m = _mm_min_ps(_mm_min_ps(a, b), c);
        unsigned at;
        m = _mm_min_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(2, 3, 0, 1)));
        m = _mm_min_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(1, 0, 3, 2)));
        at = (unsigned)_mm_movemask_ps(_mm_cmpeq_ps(a, m)) |
             (unsigned)_mm_movemask_ps(_mm_cmpeq_ps(b, m)) << 4 |
             (unsigned)_mm_movemask_ps(_mm_cmpeq_ps(c, m)) << 8;
        p->weakest = (size_t)__builtin_ctz(at);
        p->floor = _mm_cvtss_f32(m);
#else
        size_t weakest = 0, j;
        float floor = p->weight[0];
        for (j = 1; j < CANDIDATES; j++)
            if (p->weight[j] < floor) {
                floor = p->weight[j];
                weakest = j;
            }
        p->weakest = weakest;
        p->floor = floor;
#endif
    }
}

#define NAME_CAP (ALLOT_FEATURE_NAME_MAX - 10) /* for the text of a name */

#ifdef __SSE2__
/* Sixteen bytes of name_plain(): bits of the plain bytes and of the
 * spaces, and the bytes lower-cased to dst. */
static inline __attribute__((always_inline)) void plain16(const char *text, char *dst, uint32_t *ok,
                                                          uint32_t *spaces)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)text);
    __m128i low = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* letters to small */
    __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(low, _mm_set1_epi8('a' - 1)),
                                  _mm_cmplt_epi8(low, _mm_set1_epi8('z' + 1)));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i space = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
    __m128i mark = _mm_cmpeq_epi8(v, _mm_set1_epi8('?'));
    *ok = (uint32_t)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(alpha, digit), _mm_or_si128(space, mark)));
    *spaces = (uint32_t)_mm_movemask_epi8(space);
    _mm_storeu_si128((__m128i *)(void *)dst,
                     _mm_or_si128(v, _mm_and_si128(alpha, _mm_set1_epi8(0x20))));
}

/* Most units are plain: ASCII letters, digits, '?' and single spaces,
 * starting and ending with no space, and short enough to be shown whole.
 * allot_unit_name() names such a unit by its text lower-cased, which SSE2
 * (part of every x86-64) does sixteen bytes at a time; the explanation
 * names ten units a request, most of them sixteen bytes or less: one
 * vector then. Writes up to 32 bytes at dst (the name, its NUL and
 * scratch). Returns the length, or 0 when the unit is not plain. */
static size_t name_plain(const struct allot_unit *un, char dst[32])
{
    char text[32] = {0};
    uint32_t ok, spaces, ok2, spaces2, all;
    size_t n = un->len;

    if (un->kind == ALLOT_UNIT_SIGNAL || n == 0 || n + 2 > NAME_CAP)
        return 0;
    allot_copy_small(text, un->ptr, n);
    plain16(text, dst, &ok, &spaces);
    if (n > 16) { /* the second half only when there is one */
        plain16(text + 16, dst + 16, &ok2, &spaces2);
        ok |= ok2 << 16;
        spaces |= spaces2 << 16;
    }
    all = (1u << n) - 1;
    spaces &= all;
    if ((ok & all) != all || (spaces & 1) || (spaces >> (n - 1)) || (spaces & spaces >> 1))
        return 0;
    dst[n] = '\0';
    return n;
}
#endif

/* "[tools defined]", "'summarise'", "starts 'which'": a unit as shown, its
 * text cut to NAME_CAP bytes. Returns the length. */
static inline __attribute__((always_inline)) size_t name_unit(const struct allot_unit *un,
                                                              char name[ALLOT_FEATURE_NAME_MAX])
{
    size_t o = 1, t = 0;

    if (un->kind == ALLOT_UNIT_LEAD) {
        memcpy(name, "starts '", 8);
        o = 8;
    } else {
        name[0] = un->kind == ALLOT_UNIT_SIGNAL ? '[' : '\'';
    }
    if (un->kind == ALLOT_UNIT_SIGNAL) {
        /* allot_unit_name()'s copy of the static name, without its call
         * and the strlen after it: the length is known */
        t = un->len < NAME_CAP - 1 ? un->len : NAME_CAP - 1;
        allot_copy_small(name + 1, un->ptr, t);
        name[1 + t] = ']';
        name[2 + t] = '\0';
        return t + 2;
    }
#ifdef __SSE2__
    _Static_assert(8 + 32 <= ALLOT_FEATURE_NAME_MAX, "name_plain writes 32 bytes");
    t = name_plain(un, name + o);
#endif
    if (t == 0)
        t = strlen(allot_unit_name(un, name + o, NAME_CAP));
    t += o;
    name[t++] = '\'';
    name[t] = '\0';
    return t;
}

/* Merging by name without rendering every name (twenty a request, where
 * ten are shown). allot_unit_name() (and name_plain(), its equal) reads a
 * unit's text byte by byte, its state after a byte a function of the
 * bytes so far with ASCII letters lower-cased: it keeps ASCII letters,
 * digits and '?' (B_KEPT) and UTF-8 bytes, drops apostrophes, turns a run
 * of other bytes (B_SEP) before a kept one into one space, stops short of
 * NAME_CAP and drops an incomplete UTF-8 sequence at the end (never an
 * ASCII byte). Its output never runs ahead of its input, so a byte at
 * index k <= KEEP_SURE of the text is always read with room to keep it.
 * Hence, for two units of the same frame (kind of name):
 *   - texts equal but for ASCII case have the same name;
 *   - texts equal but for case up to index k <= KEEP_SURE, where each has a
 *     different kept ASCII byte, have different names;
 *   - a text that goes on past the other's end (at most KEEP_SURE) with a
 *     kept ASCII byte, or with a separator and then a kept ASCII byte,
 *     names more;
 *   - texts read whole (up to KEEP_SURE + 1 bytes) ending in different
 *     kept ASCII bytes have names ending so;
 * and a name starts with its text's first byte lower-cased when that is a
 * kept ASCII byte, with a UTF-8 byte or nothing otherwise. Anything else
 * (an apostrophe or a UTF-8 byte where the texts part, spaces against
 * punctuation, long texts) is told by rendering both names. A throwaway
 * check of every pair of units of the kinds data and variants of it
 * (case, apostrophes, CJK, spacing, long words) found no pair these rules
 * decide otherwise than the rendered names. */
#define KEEP_SURE (NAME_CAP - 3)
enum { B_UNSURE = 0, B_KEPT = 1, B_SEP = 2 }; /* B_UNSURE: UTF-8, the apostrophe */
#define NAME_BYTE(c)                                                                               \
    (unsigned char)(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') ||                    \
                            ((c) >= '0' && (c) <= '9') || (c) == '?'                               \
                        ? B_KEPT                                                                   \
                    : (c) >= 0x80 || (c) == '\'' ? B_UNSURE                                        \
                                                 : B_SEP)
static const unsigned char name_byte[256] = {ALLOT_BYTE_TABLE(NAME_BYTE)};
#define LOWER(c) (unsigned char)((c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c))
static const unsigned char ascii_lower[256] = {ALLOT_BYTE_TABLE(LOWER)};

/* The first byte of a name whose text starts with c: c lower-cased for a
 * kept ASCII byte, 0x80 for a UTF-8 byte (the name starts with it or is
 * empty), 0 when it cannot be told (a separator: not so in any unit
 * features.c makes, whose texts start with a word or '?'). */
#define FIRST(c) (unsigned char)((c) >= 0x80 ? 0x80 : NAME_BYTE(c) == B_KEPT ? LOWER(c) : 0)
static const unsigned char name_first[256] = {ALLOT_BYTE_TABLE(FIRST)};

/* The frame of a unit's name in bits 8-9 (a word or a bigram, a LEAD, a
 * SIGNAL: each framed its own way, so two of different frames never share
 * a name) and the first byte of the name in bits 0-7 (name_first; a
 * signal's text is its name). */
static unsigned name_key(const struct allot_unit *un)
{
    static const unsigned frame[4] = {
        [ALLOT_UNIT_WORD] = 0,
        [ALLOT_UNIT_BIGRAM] = 0,
        [ALLOT_UNIT_LEAD] = 1u << 8,
        [ALLOT_UNIT_SIGNAL] = 2u << 8,
    };
    return frame[un->kind & 3] | name_first[un->len ? (unsigned char)un->ptr[0] : 0x80u];
}
#define NAME_KEYS (3u << 8) /* keys are below this */

/* Whether units a and b of the same frame have the same name: 1, 0, or
 * -1 when only rendering both can tell (see above). */
static int same_name(const struct allot_unit *a, const struct allot_unit *b)
{
    const unsigned char *x = (const unsigned char *)a->ptr, *y = (const unsigned char *)b->ptr;
    size_t n = a->len < b->len ? a->len : b->len, k = 0;

    /* a kept last byte, read whole: the name's last; most pairs of one
     * first byte, a word and the bigram it opens, part here */
    if (a->kind != ALLOT_UNIT_SIGNAL && n > 0 && a->len <= KEEP_SURE + 1 &&
        b->len <= KEEP_SURE + 1 && name_byte[x[a->len - 1]] == B_KEPT &&
        name_byte[y[b->len - 1]] == B_KEPT &&
        ascii_lower[x[a->len - 1]] != ascii_lower[y[b->len - 1]])
        return 0;
    if (a->kind == ALLOT_UNIT_SIGNAL) { /* names: the texts cut to NAME_CAP - 1 */
        while (k < n && x[k] == y[k])
            k++;
        return (k == n && a->len == b->len) || k >= NAME_CAP - 1;
    }
    while (k < n && (x[k] == y[k] || ascii_lower[x[k]] == ascii_lower[y[k]]))
        k++;
    if (k == n) {
        const unsigned char *z = a->len > b->len ? x : y; /* the longer */
        size_t zn = a->len > b->len ? a->len : b->len;
        if (a->len == b->len)
            return 1;
        if (k <= KEEP_SURE &&
            (name_byte[z[k]] == B_KEPT ||
             (name_byte[z[k]] == B_SEP && k + 1 < zn && name_byte[z[k + 1]] == B_KEPT)))
            return 0;
        return -1;
    }
    return k <= KEEP_SURE && name_byte[x[k]] == B_KEPT && name_byte[y[k]] == B_KEPT ? 0 : -1;
}

/* The rare case same_name() cannot tell: both names rendered. Not inlined:
 * pick_emit() keeps its one name_unit() inline for the names it shows. */
static __attribute__((noinline)) int names_equal(const struct allot_unit *a,
                                                 const struct allot_unit *b)
{
    char x[ALLOT_FEATURE_NAME_MAX], y[ALLOT_FEATURE_NAME_MAX];
    size_t n = name_unit(a, x);
    return n == name_unit(b, y) && memcmp(x, y, n) == 0;
}

/* Merge p's units of equal names into the first, and put the strongest
 * n_dst in dst, strongest first (equal weights in the order they entered),
 * named, weights signed by sign. Returns how many. Only the names shown
 * are rendered: two units are told apart by their keys and texts. */
static size_t pick_emit(const struct allot_features *f, const struct pick *p, float sign,
                        struct allot_contribution *dst, size_t n_dst)
{
    uint16_t by_key[NAME_KEYS]; /* only the candidates' entries are written, then read */
    unsigned key[CANDIDATES], later[CANDIDATES];
    uint64_t rank[CANDIDATES];
    size_t i, j, out = 0;
    float w[CANDIDATES];

    if (n_dst == 0)
        return 0;
    memcpy(w, p->weight, sizeof w);                    /* those past p->n are not read */
    by_key[0] = by_key[1u << 8] = by_key[2u << 8] = 0; /* the keys that tell nothing */
    for (i = 0; i < p->n; i++) {
        key[i] = name_key(&f->units[p->unit[i]]);
        by_key[key[i]] = 0;
    }
    /* later[i]: the candidates after i with i's key, as bits */
    for (i = p->n; i-- > 0;) {
        later[i] = by_key[key[i]];
        by_key[key[i]] = (uint16_t)(by_key[key[i]] | 1u << i);
    }
    if (by_key[0] | by_key[1u << 8] | by_key[2u << 8]) /* not so for units of features.c */
        for (i = 0; i < p->n; i++)
            later[i] = ~0u << (i + 1) & ((1u << p->n) - 1);
    for (i = 0; i < p->n; i++)
        for (; later[i]; later[i] &= later[i] - 1) {
            const struct allot_unit *a = &f->units[p->unit[i]], *b;
            int same;
            j = (size_t)__builtin_ctz(later[i]);
            b = &f->units[p->unit[j]];
            if (!(w[j] > 0) || key[i] >> 8 != key[j] >> 8)
                continue;
            same = same_name(a, b);
            if (same < 0)
                same = names_equal(a, b);
            if (same) {
                w[i] += w[j];
                w[j] = 0;
            }
        }
    /* the strongest n_dst by insertion, strongest first: a weight is 0 or
     * positive (no NaN: pick_offer() took only weights over its floor), so
     * its bits order as it does, and the low 32 bits put the first entered
     * first among equal weights; a merged candidate (0) is never shown */
    for (i = 0; i < p->n; i++) {
        uint32_t bits;
        uint64_t r;
        memcpy(&bits, &w[i], sizeof bits);
        r = (uint64_t)bits << 32 | (uint32_t)(CANDIDATES - i);
        if (bits == 0 || (out == n_dst && r < rank[out - 1]))
            continue;
        j = out < n_dst ? out++ : out - 1;
        for (; j > 0 && rank[j - 1] < r; j--)
            rank[j] = rank[j - 1];
        rank[j] = r;
    }
    for (i = 0; i < out; i++) {
        size_t k = CANDIDATES - (uint32_t)rank[i];
        name_unit(&f->units[p->unit[k]], dst[i].name);
        dst[i].weight = w[k] * sign;
    }
    return out;
}

static void explain(const struct allot_kinds_model *m, const struct allot_features *f,
                    struct allot_classification *out)
{
    float push[ALLOT_UNITS_MAX], each[ALLOT_FEATURES_MAX];
    struct pick pro, con; /* slots are read only once filled: not zeroed */
    size_t i;

    pro.n = con.n = 0;
    pro.weakest = con.weakest = 0;
    pro.floor = con.floor = EXPLAIN_FLOOR;
    memset(push, 0, f->n_units * sizeof push[0]);
    /* the features' pushes, summed per unit in feature order */
    allot_kinds_model_pushes(m, f, out->category, out->runner_up, each);
    if (f->n_units < ALLOT_UNITS_MAX) /* then every feature has its unit (features.h) */
        for (i = 0; i < f->n; i++)
            push[f->f[i].unit] += each[i];
    else
        for (i = 0; i < f->n; i++)
            if (f->f[i].unit != ALLOT_NO_UNIT)
                push[f->f[i].unit] += each[i];
    for (i = 0; i < f->n_units; i++) {
        pick_offer(&pro, i, push[i]);
        pick_offer(&con, i, -push[i]);
    }
    out->n_pro = pick_emit(f, &pro, 1.0f, out->pro, ALLOT_EXPLAIN_TOP);
    out->n_con = pick_emit(f, &con, -1.0f, out->con, ALLOT_EXPLAIN_TOP);
}

/* Text pieces appended to a bounded string: once one does not fit, the
 * string is cut back to before it and *full stops the rest. snprintf's
 * float printer is slow for the request path, so numbers go through
 * allot_fmt_fixed; fixed pieces come with their length (PUT_LIT). */
struct piece_out {
    char *out;
    size_t cap, len;
    int full;
};

static void put_mem(struct piece_out *o, const char *s, size_t n)
{
    if (o->full)
        return;
    if (n >= o->cap - o->len) {
        o->out[o->len] = '\0';
        o->full = 1;
        return;
    }
    memcpy(o->out + o->len, s, n);
    o->len += n;
    o->out[o->len] = '\0';
}

#define PUT_LIT(o, lit) put_mem((o), (lit), sizeof(lit) - 1)

static void put_str(struct piece_out *o, const char *s)
{
    put_mem(o, s, strlen(s));
}

static void put_num(struct piece_out *o, double v, int decimals, int plus)
{
    size_t n;
    if (o->full)
        return;
    if (o->cap - o->len > ALLOT_FMT_SMALL_MAX &&
        (n = allot_fmt_fixed_small(o->out + o->len, v, decimals, plus)) != 0) {
        o->len += n;
        o->out[o->len] = '\0';
        return;
    }
    n = allot_fmt_fixed(o->out + o->len, o->cap - o->len, v, decimals, plus);
    if (n >= o->cap - o->len) {
        o->out[o->len] = '\0';
        o->full = 1;
        return;
    }
    o->len += n;
}

/* dst[0..n) = name[0..n) made header-safe (allot_mem_header_safe(): a
 * byte outside printable ASCII becomes '?'), n < ALLOT_FEATURE_NAME_MAX.
 * The reason's names are short: SSE2 does a name in three overlapping
 * vectors of the name's array, where allot_mem_header_safe() would go
 * byte by byte (it takes sixteen at a time). */
static void copy_header_safe(char *dst, const char name[ALLOT_FEATURE_NAME_MAX], size_t n)
{
#ifdef __SSE2__
    _Static_assert(ALLOT_FEATURE_NAME_MAX >= 32 && ALLOT_FEATURE_NAME_MAX <= 48,
                   "three vectors cover a name");
    char safe[ALLOT_FEATURE_NAME_MAX];
    static const size_t at[3] = {0, 16, ALLOT_FEATURE_NAME_MAX - 16};
    size_t k;
    int changed;
    for (k = 0; k < 3; k++)
        _mm_storeu_si128(
            (__m128i *)(void *)(safe + at[k]),
            allot_header_safe16(_mm_loadu_si128((const __m128i *)(const void *)(name + at[k])),
                                &changed));
    allot_copy_small(dst, safe, n);
#else
    memcpy(dst, name, n);
    allot_mem_header_safe(dst, n);
#endif
}

/* "FIRSTname +w, name -w, ...": each contribution's name and signed
 * weight; an item cut off by the end of the buffer is dropped whole. With
 * header_safe, bytes of the names outside printable ASCII become '?'
 * (allot_str_header_safe; the rest of an item is ASCII already). */
static void put_items(struct piece_out *o, const struct allot_contribution *list, size_t n,
                      const char *first, size_t first_len, int decimals, int header_safe)
{
    size_t i;
    for (i = 0; i < n && !o->full; i++) {
        size_t mark = o->len, lead = i ? 2 : first_len, name = strlen(list[i].name);
        /* the lead, the name and a space, whole or not at all (as put_mem
         * piece by piece: it fits when the last piece does) */
        if (lead + name + 1 < o->cap - o->len) {
            char *d = o->out + o->len;
            allot_copy_small(d, i ? ", " : first, lead);
            if (header_safe)
                copy_header_safe(d + lead, list[i].name, name);
            else
                allot_copy_small(d + lead, list[i].name, name);
            d[lead + name] = ' ';
            d[lead + name + 1] = '\0';
            o->len += lead + name + 1;
        } else {
            o->full = 1;
        }
        put_num(o, list[i].weight, decimals, 1);
        if (o->full) {
            o->out[mark] = '\0';
            o->len = mark;
        }
    }
}

/* The reason travels in a header: its category name, numbers and fixed
 * words are printable ASCII, and so is an override (a fixed string), so
 * only the names are made header-safe. */
static void short_reason(struct allot_classification *out)
{
    struct piece_out o = {out->reason, sizeof out->reason, 0, 0};
    put_str(&o, allot_category_name(out->category));
    PUT_LIT(&o, " ");
    put_num(&o, out->confidence, 2, 0);
    if (out->override) {
        PUT_LIT(&o, ": ");
        put_str(&o, out->override);
        return;
    }
    put_items(&o, out->pro, out->n_pro < 3 ? out->n_pro : 3, ": ", sizeof ": " - 1, 1, 1);
}

/* Classify in, whose view is v, with m. */
static void classify_view(const struct allot_kinds_model *m, const struct allot_instruction *in,
                          const struct allot_instruction_view *v, struct allot_classification *out)
{
    struct allot_features f; /* 64 KB on the stack: no allocation per request */
    float z[ALLOT_CAT__COUNT];
    double p[ALLOT_CAT__COUNT];
    int c, a = 0, b = 1;

    memset(out, 0, sizeof *out);
    if (!m) {
        out->category = ALLOT_CAT_ANSWER;
        out->confidence = 1.0 / ALLOT_CAT__COUNT;
        out->override = "no model loaded";
        short_reason(out);
        return;
    }
    allot_features_extract(in, v, m->hash_bits, &f);
    allot_kinds_model_logits(m, &f, z);
    allot_kinds_model_probs(m, z, p);
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        if (p[c] > p[a])
            a = c;
    b = a == 0 ? 1 : 0;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        if (c != a && p[c] > p[b])
            b = c;
    memcpy(out->p, p, sizeof out->p);
    out->category = (enum allot_category)a;
    out->confidence = p[a];
    out->runner_up = (enum allot_category)b;
    out->runner_up_confidence = p[b];
    /* the memo's key decides this too: no instruction is the instruction
     * signal's first bucket, a system prompt its own signal */
    if (v->instruction_bytes == 0 && in->system.len == 0) {
        out->override = "no instruction text";
        out->confidence = 0;
    }
    explain(m, &f, out);
    short_reason(out);
}

void allot_classify_with(const struct allot_kinds_model *m, const struct allot_instruction *in,
                         struct allot_classification *out)
{
    struct allot_instruction_view v;
    allot_instruction_view(in, &v);
    classify_view(m, in, &v, out);
}

int allot_classify(const struct allot_instruction *in, struct allot_classification *out)
{
    struct slot *temp, *s = in_use(&temp);
    struct allot_instruction_view v;
    struct allot_classify_memo_key k;
    int found = 0;

    allot_instruction_view(in, &v);
    if (s && s->model) {
        allot_classify_memo_key(s->serial, in, &v, &k);
        found = allot_classify_memo_find(&k, out);
        if (!found) {
            classify_view(s->model, in, &v, out);
            allot_classify_memo_keep(&k, out);
        }
    } else {
        classify_view(NULL, in, &v, out);
    }
    release(temp);
    return found;
}

/* Append to out[*len..cap) unless it would not fit whole. */
size_t allot_classification_explain(const struct allot_classification *c, char *out, size_t cap)
{
    struct piece_out o = {out, cap, 0, 0};

    out[0] = '\0';
    put_str(&o, allot_category_name(c->category));
    PUT_LIT(&o, " ");
    put_num(&o, c->confidence, 2, 0);
    PUT_LIT(&o, " (next ");
    put_str(&o, allot_category_name(c->runner_up));
    PUT_LIT(&o, " ");
    put_num(&o, c->runner_up_confidence, 2, 0);
    PUT_LIT(&o, ")");
    if (c->override) {
        PUT_LIT(&o, "; override: ");
        put_str(&o, c->override);
    }
    put_items(&o, c->pro, c->n_pro, "; for: ", sizeof "; for: " - 1, 2, 0);
    put_items(&o, c->con, c->n_con, "; against: ", sizeof "; against: " - 1, 2, 0);
    return o.len;
}

static int contributions_json(const struct allot_contribution *list, size_t n,
                              struct allot_buf *out)
{
    size_t i;
    int rc = allot_buf_adds(out, "[");
    for (i = 0; !rc && i < n; i++) {
        rc = allot_buf_adds(out, i ? ",{\"feature\":" : "{\"feature\":");
        rc = rc ? rc : allot_buf_add_json_str(out, list[i].name, strlen(list[i].name));
        rc = rc ? rc : allot_buf_addf(out, ",\"weight\":%.4f}", list[i].weight);
    }
    return rc ? rc : allot_buf_adds(out, "]");
}

int allot_classification_to_json(const struct allot_classification *c, struct allot_buf *out)
{
    int rc = allot_buf_addf(out,
                            "{\"category\":\"%s\",\"confidence\":%.4f,\"runner_up\":\"%s\","
                            "\"runner_up_confidence\":%.4f,\"override\":",
                            allot_category_name(c->category), c->confidence,
                            allot_category_name(c->runner_up), c->runner_up_confidence);
    if (!rc && c->override)
        rc = allot_buf_add_json_str(out, c->override, strlen(c->override));
    else if (!rc)
        rc = allot_buf_adds(out, "null");
    rc = rc ? rc : allot_buf_adds(out, ",\"for\":");
    rc = rc ? rc : contributions_json(c->pro, c->n_pro, out);
    rc = rc ? rc : allot_buf_adds(out, ",\"against\":");
    rc = rc ? rc : contributions_json(c->con, c->n_con, out);
    return rc ? rc : allot_buf_adds(out, "}");
}
