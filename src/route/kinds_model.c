/* kinds_model.c: the kind-of-work model's file format and inference.
 *
 * The format is in kinds_model.h and docs/classifier.md. Reading checks
 * everything before trusting anything: the size first (so a truncated file
 * says so), then magic, version, category count and names (a model trained
 * for another taxonomy is refused, not silently misread), then the CRC.
 * Floats are stored as IEEE-754 little-endian; this file converts, so a
 * model file is the same bytes on any host. Each weight is stored as an
 * int8 multiple of its bucket's scale, and so is a model in memory: a
 * saved and reloaded model scores exactly as the trained one did. The
 * version also names the features (features.c) the weights belong to: a
 * file of an earlier version (1: f32 weights; 2: these weights for the
 * features before signed hashing) is refused with the advice to retrain,
 * never scored with features it was not trained on. In memory a bucket's
 * scale sits beside its weights (struct allot_kinds_bucket): scoring a
 * feature reads one place, where the file's layout (all scales, then all
 * weights) would read two. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_LOGITS 1
#endif
#include "allot/crc32.h"
#include "allot/error.h"
#include "allot/kinds_model.h"

#define MAGIC "ALLOTKND"
#define NAME_BYTES 16
#define HEADER_BYTES 32
#define NAMES_OFF HEADER_BYTES
#define BIAS_OFF (NAMES_OFF + NAME_BYTES * ALLOT_CAT__COUNT)
#define WEIGHTS_OFF (BIAS_OFF + 4 * ALLOT_CAT__COUNT)
#define MODEL_FILE_MAX (80u << 20) /* 2^ALLOT_HASH_BITS_MAX buckets: 64 MB */
#define QMAX 127
#define HUGE_PAGE ((size_t)2 << 20)

/* A f32 scale per bucket, then the weights as int8 multiples of their
 * bucket's scale. */
static size_t file_bytes(unsigned hash_bits)
{
    return WEIGHTS_OFF + ((size_t)(4 + ALLOT_CAT__COUNT) << hash_bits) + 4;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float get_f32(const unsigned char *p)
{
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void put_f32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(p, u);
}

/* A bucket's scale, and its weights as multiples of it. The scale is the
 * power of two that puts the largest weight in [64, 127], so q * scale is
 * exact and quantizing what was dequantized gives the same bytes again. */
static float bucket_quantize(const float *w, int8_t *q)
{
    float mx = 0, scale = 0;
    int c, e;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        mx = fabsf(w[c]) > mx ? fabsf(w[c]) : mx;
    if (mx > 0 && isfinite(mx)) {
        float frac = frexpf(mx, &e); /* mx = frac * 2^e, frac in [0.5, 1) */
        scale = ldexpf(1.0f, frac * 128 > QMAX ? e - 6 : e - 7);
    }
    for (c = 0; c < ALLOT_CAT__COUNT; c++) {
        long v = scale > 0 ? lrintf(w[c] / scale) : 0;
        q[c] = (int8_t)(v > QMAX ? QMAX : v < -QMAX ? -QMAX : v);
    }
    return scale;
}

void allot_kinds_model_set_weights(struct allot_kinds_model *m, const float *w)
{
    size_t b, n_b = (size_t)1 << m->hash_bits;
    for (b = 0; b < n_b; b++)
        m->buckets[b].scale = bucket_quantize(w + b * ALLOT_CAT__COUNT, m->buckets[b].q);
}

/* The buckets, zeroed. Every request reads a hundred or more of them
 * scattered over the 2.6 MB, so they go on a 2 MB boundary and, where
 * Linux allows it, on huge pages: one TLB entry instead of one for every
 * bucket read when the model has left the caches between two requests. */
static void *buckets_alloc(size_t bytes)
{
    void *mem = NULL;
    if (bytes < HUGE_PAGE) /* a small model (tests, experiments) */
        return calloc(1, bytes);
    if (posix_memalign(&mem, HUGE_PAGE, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    /* before the first touch, which places the pages */
    (void)madvise(mem, bytes & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    memset(mem, 0, bytes);
    return mem;
}

int allot_kinds_model_new(unsigned hash_bits, struct allot_kinds_model **out)
{
    struct allot_kinds_model *m;
    if (hash_bits < ALLOT_HASH_BITS_MIN || hash_bits > ALLOT_HASH_BITS_MAX)
        return ALLOT_EINVAL;
    m = calloc(1, sizeof *m);
    if (!m)
        return ALLOT_ENOMEM;
    m->buckets = buckets_alloc(sizeof *m->buckets << hash_bits);
    if (!m->buckets) {
        free(m);
        return ALLOT_ENOMEM;
    }
    m->hash_bits = hash_bits;
    m->temperature = 1.0f;
    *out = m;
    return 0;
}

void allot_kinds_model_free(struct allot_kinds_model *m)
{
    if (!m)
        return;
    free(m->buckets);
    free(m);
}

static int bad(struct allot_buf *err, const char *name, const char *why)
{
    if (err)
        allot_buf_addf(err, "model '%s': %s", name, why);
    return ALLOT_EPARSE;
}

int allot_kinds_model_from_bytes(const void *bytes, size_t n, const char *name,
                                 struct allot_kinds_model **out, struct allot_buf *err)
{
    const unsigned char *p = bytes;
    struct allot_kinds_model *m = NULL;
    uint32_t version, n_cat, bits;
    size_t want, i;
    char why[160];
    int rc;

    if (memcmp(p, MAGIC, n < 8 ? n : 8) != 0 || n == 0)
        return bad(err, name, "not an allot kinds model (no \"ALLOTKND\" header)");
    if (n < HEADER_BYTES) {
        snprintf(why, sizeof why, "truncated: %zu bytes, shorter than the %d-byte header", n,
                 HEADER_BYTES);
        return bad(err, name, why);
    }
    version = get_u32(p + 8);
    n_cat = get_u32(p + 12);
    bits = get_u32(p + 16);
    if (version == 1 || version == 2) {
        snprintf(why, sizeof why,
                 "format version %u was trained on an earlier allot's features; retrain it "
                 "with `allot train kinds` (this allot reads version %d)",
                 version, ALLOT_KINDS_MODEL_VERSION);
        return bad(err, name, why);
    }
    if (version != ALLOT_KINDS_MODEL_VERSION) {
        snprintf(why, sizeof why, "format version %u, this allot reads version %d", version,
                 ALLOT_KINDS_MODEL_VERSION);
        return bad(err, name, why);
    }
    if (n_cat != ALLOT_CAT__COUNT) {
        snprintf(why, sizeof why, "%u categories, this allot has %d", n_cat, ALLOT_CAT__COUNT);
        return bad(err, name, why);
    }
    if (bits < ALLOT_HASH_BITS_MIN || bits > ALLOT_HASH_BITS_MAX) {
        snprintf(why, sizeof why, "hash_bits %u is outside [%d, %d]", bits, ALLOT_HASH_BITS_MIN,
                 ALLOT_HASH_BITS_MAX);
        return bad(err, name, why);
    }
    want = file_bytes(bits);
    if (n != want) {
        snprintf(why, sizeof why, "%s: %zu of %zu bytes", n < want ? "truncated" : "trailing bytes",
                 n, want);
        return bad(err, name, why);
    }
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        const char *cn = allot_category_name((enum allot_category)i);
        const unsigned char *field = p + NAMES_OFF + i * NAME_BYTES;
        if (strnlen((const char *)field, NAME_BYTES) != strlen(cn) ||
            memcmp(field, cn, strlen(cn)) != 0) {
            snprintf(why, sizeof why, "category %zu is '%.16s', this allot expects '%s'", i,
                     (const char *)field, cn);
            return bad(err, name, why);
        }
    }
    if (allot_crc32(p, n - 4) != get_u32(p + n - 4))
        return bad(err, name, "checksum mismatch (the file is damaged)");

    rc = allot_kinds_model_new(bits, &m);
    if (rc)
        return rc;
    m->n_examples = get_u32(p + 20);
    m->temperature = get_f32(p + 24);
    if (!(m->temperature > 0.01f && m->temperature < 100.0f)) {
        allot_kinds_model_free(m);
        return bad(err, name, "temperature is not a positive number");
    }
    for (i = 0; i < ALLOT_CAT__COUNT; i++)
        m->bias[i] = get_f32(p + BIAS_OFF + 4 * i);
    for (i = 0; i < (size_t)1 << bits; i++) {
        m->buckets[i].scale = get_f32(p + WEIGHTS_OFF + 4 * i);
        memcpy(m->buckets[i].q, p + WEIGHTS_OFF + ((size_t)4 << bits) + i * ALLOT_CAT__COUNT,
               ALLOT_CAT__COUNT);
    }
    *out = m;
    return 0;
}

int allot_kinds_model_load(const char *path, struct allot_kinds_model **out, struct allot_buf *err)
{
    struct allot_buf data;
    char chunk[65536];
    size_t n;
    FILE *f = fopen(path, "rb");
    int rc = 0;

    allot_buf_init(&data, MODEL_FILE_MAX);
    if (!f) {
        if (err)
            allot_buf_addf(err, "model '%s': cannot open: %s", path, strerror(errno));
        rc = ALLOT_EIO;
        goto out;
    }
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = allot_buf_add(&data, chunk, n);
    if (rc == 0 && ferror(f)) {
        if (err)
            allot_buf_addf(err, "model '%s': read error", path);
        rc = ALLOT_EIO;
    } else if (rc) {
        if (err)
            allot_buf_addf(err, "model '%s': larger than %u bytes", path, MODEL_FILE_MAX);
        rc = ALLOT_EPARSE;
    }
    if (rc == 0)
        rc = allot_kinds_model_from_bytes(data.ptr ? data.ptr : "", data.len, path, out, err);
out:
    if (f)
        fclose(f);
    allot_buf_release(&data);
    return rc;
}

int allot_kinds_model_write(const struct allot_kinds_model *m, struct allot_buf *out)
{
    size_t n = file_bytes(m->hash_bits), i, b;
    size_t n_b = (size_t)1 << m->hash_bits, start = out->len;
    unsigned char *p, *qp;
    int rc = allot_buf_reserve(out, n);

    if (rc)
        return rc;
    p = (unsigned char *)out->ptr + start;
    memset(p, 0, n);
    memcpy(p, MAGIC, 8);
    put_u32(p + 8, ALLOT_KINDS_MODEL_VERSION);
    put_u32(p + 12, ALLOT_CAT__COUNT);
    put_u32(p + 16, m->hash_bits);
    put_u32(p + 20, m->n_examples);
    put_f32(p + 24, m->temperature);
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        const char *cn = allot_category_name((enum allot_category)i);
        memcpy(p + NAMES_OFF + i * NAME_BYTES, cn, strlen(cn));
        put_f32(p + BIAS_OFF + 4 * i, m->bias[i]);
    }
    qp = p + WEIGHTS_OFF + 4 * n_b;
    for (b = 0; b < n_b; b++) {
        put_f32(p + WEIGHTS_OFF + 4 * b, m->buckets[b].scale);
        memcpy(qp + b * ALLOT_CAT__COUNT, m->buckets[b].q, ALLOT_CAT__COUNT);
    }
    put_u32(p + n - 4, allot_crc32(p, n - 4));
    out->len = start + n;
    out->ptr[out->len] = '\0';
    return 0;
}

int allot_kinds_model_save(const struct allot_kinds_model *m, const char *path,
                           struct allot_buf *err)
{
    struct allot_buf data, tmp;
    FILE *f = NULL;
    int rc;

    allot_buf_init(&data, MODEL_FILE_MAX);
    allot_buf_init(&tmp, 4096);
    rc = allot_kinds_model_write(m, &data);
    if (rc == 0)
        rc = allot_buf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    if (rc) {
        if (err)
            allot_buf_addf(err, "model '%s': %s", path, allot_strerror(rc));
        goto out;
    }
    f = fopen(tmp.ptr, "wb");
    if (!f || fwrite(data.ptr, 1, data.len, f) != data.len || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        if (err)
            allot_buf_addf(err, "model '%s': cannot write: %s", path, strerror(errno));
        rc = ALLOT_EIO;
        goto out;
    }
    fclose(f);
    f = NULL;
    if (rename(tmp.ptr, path) != 0) {
        if (err)
            allot_buf_addf(err, "model '%s': cannot rename into place: %s", path, strerror(errno));
        rc = ALLOT_EIO;
    }
out:
    if (f)
        fclose(f);
    if (rc && tmp.ptr)
        unlink(tmp.ptr);
    allot_buf_release(&data);
    allot_buf_release(&tmp);
    return rc;
}

/* A request's buckets are scattered over the 2.6 MB of weights, and
 * between two requests the gateway runs enough other code to push most of
 * them out of the cache: ask for all the rows first, so that their misses
 * overlap instead of following one another. */
static void prefetch_rows(const struct allot_kinds_model *m, const struct allot_features *f)
{
    size_t i;
    for (i = 0; i < f->n; i++) { /* a bucket may straddle two lines */
        __builtin_prefetch((const char *)&m->buckets[f->f[i].idx]);
        __builtin_prefetch((const char *)&m->buckets[f->f[i].idx] + sizeof m->buckets[0] - 1);
    }
}

#ifdef HAVE_AVX2_LOGITS
/* The same sums with AVX2, eight categories a step: a bucket's int8
 * weights widen to floats in one instruction per eight (the plain loop
 * takes five), about half the instructions of a request's scoring. Per
 * category it is the same float multiply and add in the same order as
 * allot_kinds_model_add(), so the logits are the same bits. */
__attribute__((target("avx2"))) static void logits_avx2(const struct allot_kinds_model *m,
                                                        const struct allot_features *f,
                                                        float logits[ALLOT_CAT__COUNT])
{
    __m256 lo = _mm256_loadu_ps(m->bias), hi = _mm256_loadu_ps(m->bias + 8);
    size_t i;
    _Static_assert(ALLOT_CAT__COUNT == 16, "two vectors of eight categories");

    for (i = 0; i < f->n; i++) {
        const struct allot_kinds_bucket *k = &m->buckets[f->f[i].idx];
        __m128i q = _mm_loadu_si128((const __m128i *)(const void *)k->q);
        __m256 v = _mm256_set1_ps(f->f[i].value * k->scale);
        __m256 wlo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
        __m256 whi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
        lo = _mm256_add_ps(lo, _mm256_mul_ps(v, wlo));
        hi = _mm256_add_ps(hi, _mm256_mul_ps(v, whi));
    }
    _mm256_storeu_ps(logits, lo);
    _mm256_storeu_ps(logits + 8, hi);
}
#endif

void allot_kinds_model_logits(const struct allot_kinds_model *m, const struct allot_features *f,
                              float logits[ALLOT_CAT__COUNT])
{
    size_t i;
    float acc[ALLOT_CAT__COUNT];

    prefetch_rows(m, f);
#ifdef HAVE_AVX2_LOGITS
    if (__builtin_cpu_supports("avx2")) {
        logits_avx2(m, f, logits);
        return;
    }
#endif
    memcpy(acc, m->bias, sizeof acc);
    for (i = 0; i < f->n; i++)
        allot_kinds_model_add(m, f->f[i].idx, f->f[i].value, acc);
    memcpy(logits, acc, sizeof acc);
}

/* The plain loop of allot_kinds_model_pushes(), for features [from, n). */
static void pushes_from(const struct allot_kinds_model *m, const struct allot_features *f, int a,
                        int b, size_t from, float *out)
{
    size_t i;
    for (i = from; i < f->n; i++) {
        const struct allot_kinds_bucket *k = &m->buckets[f->f[i].idx];
        out[i] = f->f[i].value * ((float)(k->q[a] - k->q[b]) * k->scale) / m->temperature;
    }
}

#ifdef HAVE_AVX2_LOGITS
/* Eight features a step: their buckets, values and the two weights read
 * by gathers, then the same float operations in the same order per lane.
 * A weight is read as the top byte of the four ending at it, which stay
 * inside its bucket (the scale comes first) whatever the category. */
__attribute__((target("avx2"))) static void pushes_avx2(const struct allot_kinds_model *m,
                                                        const struct allot_features *f, int a,
                                                        int b, float *out)
{
    const int *bk = (const int *)(const void *)m->buckets;
    const __m256i field = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21); /* ints a feature */
    const __m256 t = _mm256_set1_ps(m->temperature);
    const __m256i qa = _mm256_set1_epi32(1 + a), qb = _mm256_set1_epi32(1 + b);
    size_t i;
    _Static_assert(sizeof(struct allot_feature) == 12, "a feature is three ints");
    _Static_assert(sizeof(struct allot_kinds_bucket) == 20, "a bucket is 20 bytes");
    _Static_assert(offsetof(struct allot_kinds_bucket, q) == 4, "the weights after the scale");

    for (i = 0; i + 8 <= f->n; i += 8) {
        const int *fi = (const int *)(const void *)&f->f[i];
        __m256i idx = _mm256_i32gather_epi32(fi, field, 4);
        __m256 value = _mm256_i32gather_ps((const float *)fi + 1, field, 4);
        __m256i at = _mm256_add_epi32(_mm256_slli_epi32(idx, 4), _mm256_slli_epi32(idx, 2));
        __m256 scale = _mm256_i32gather_ps((const float *)(const void *)bk, at, 1);
        __m256i wa = _mm256_srai_epi32(_mm256_i32gather_epi32(bk, _mm256_add_epi32(at, qa), 1), 24);
        __m256i wb = _mm256_srai_epi32(_mm256_i32gather_epi32(bk, _mm256_add_epi32(at, qb), 1), 24);
        __m256 d = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(wa, wb)), scale);
        _mm256_storeu_ps(out + i, _mm256_div_ps(_mm256_mul_ps(value, d), t));
    }
    pushes_from(m, f, a, b, i, out);
}
#endif

void allot_kinds_model_pushes(const struct allot_kinds_model *m, const struct allot_features *f,
                              int a, int b, float *out)
{
#ifdef HAVE_AVX2_LOGITS
    if (__builtin_cpu_supports("avx2")) {
        pushes_avx2(m, f, a, b, out);
        return;
    }
#endif
    pushes_from(m, f, a, b, 0, out);
}

void allot_kinds_model_probs(const struct allot_kinds_model *m,
                             const float logits[ALLOT_CAT__COUNT], double p[ALLOT_CAT__COUNT])
{
    double mx = -INFINITY, sum = 0;
    int c;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        if (logits[c] > mx)
            mx = logits[c];
    for (c = 0; c < ALLOT_CAT__COUNT; c++) {
        p[c] = exp(((double)logits[c] - mx) / m->temperature);
        sum += p[c];
    }
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        p[c] /= sum;
}
