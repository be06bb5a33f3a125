/* accept.c: the acceptability model (see accept.h).
 *
 * DESIGN: features are built in one pass per request into a fixed scratch
 * (no allocation per request at serve time), duplicates summed by a sort;
 * training is plain SGD with AdaGrad steps and L2 decay over a seeded
 * shuffle, the same recipe as the kind-of-work trainer, with one output.
 * The prompt's own words are features here (unlike in the classifier,
 * which reads the instruction only): whether a small model gets a question
 * right depends on what the question is about. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/accept.h"
#include "allot/chat_request.h"
#include "allot/classify.h"
#include "allot/crc32.h"
#include "allot/error.h"
#include "allot/features.h"
#include "allot/rand.h"

#define MAGIC "ALLOTACC"
#define MAX_WORD_FEATS 3000 /* of the whole prompt */
#define MAX_FEATS (ALLOT_FEATURES_MAX + MAX_WORD_FEATS + 64)
#define TEXT_MAX (64u << 10) /* bytes of a prompt read for its words */
#define FILE_MAX (80u << 20)

/* Feature families: a seed each, so a word and a category never share a
 * bucket by construction (only by hashing). */
enum { FAM_WORD = 0x5157u, FAM_PAIR = 0x7a11u, FAM_CAT = 0x0ca7u, FAM_LEN = 0x1e9du };

struct pair {
    uint32_t idx;
    float val;
};

struct vec {
    uint32_t idx[MAX_FEATS];
    float val[MAX_FEATS];
    size_t n;
    struct pair tmp[MAX_FEATS]; /* merge()'s sort space: no allocation per request */
};

static uint32_t fnv(uint32_t seed, const char *s, size_t n)
{
    uint32_t h = 2166136261u ^ seed;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    h ^= h >> 16; /* MurmurHash3's finaliser spreads the low bits */
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static void push(struct vec *v, uint32_t h, unsigned bits, float x)
{
    if (v->n < MAX_FEATS) {
        v->idx[v->n] = h & ((1u << bits) - 1u);
        v->val[v->n++] = x;
    }
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Words and word pairs of a text, lower-cased, each pushed once per
 * occurrence with weight 1/sqrt(words), so long and short prompts weigh
 * alike. */
static void add_words(struct vec *v, const char *t, size_t n, unsigned bits)
{
    char cur[48], prev[48];
    size_t i = 0, cl, pl = 0, words = 0, start = v->n;
    float w;

    if (n > TEXT_MAX)
        n = TEXT_MAX;
    while (i < n && v->n + 2 < start + MAX_WORD_FEATS) {
        while (i < n && !is_word((unsigned char)t[i]))
            i++;
        for (cl = 0; i < n && is_word((unsigned char)t[i]); i++)
            if (cl < sizeof cur - 1)
                cur[cl++] = (char)((t[i] >= 'A' && t[i] <= 'Z') ? t[i] + 32 : t[i]);
        if (!cl)
            break;
        push(v, fnv(FAM_WORD, cur, cl), bits, 1);
        if (pl) {
            char pair[97];
            memcpy(pair, prev, pl);
            pair[pl] = ' ';
            memcpy(pair + pl + 1, cur, cl);
            push(v, fnv(FAM_PAIR, pair, pl + 1 + cl), bits, 1);
        }
        memcpy(prev, cur, cl);
        pl = cl;
        words++;
    }
    w = words ? 1.0f / sqrtf((float)words) : 0;
    for (i = start; i < v->n; i++)
        v->val[i] = w;
}

static int cmp_idx(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sum the values of equal buckets (sorts by bucket; values follow). */
static void merge(struct vec *v)
{
    struct pair *p = v->tmp;
    size_t i, o = 0;

    for (i = 0; i < v->n; i++) {
        p[i].idx = v->idx[i];
        p[i].val = v->val[i];
    }
    qsort(p, v->n, sizeof *p, cmp_idx);
    for (i = 0; i < v->n; i++) {
        if (o && v->idx[o - 1] == p[i].idx) {
            v->val[o - 1] += p[i].val;
        } else {
            v->idx[o] = p[i].idx;
            v->val[o++] = p[i].val;
        }
    }
    v->n = o;
}

/* Everything the model reads of a request. */
/* cls: the request's classification when the caller has it (serving: the
 * decision's), else NULL and it is computed here. */
static void features(const struct allot_instruction *in, const struct allot_classification *cls,
                     unsigned bits, struct vec *v, struct allot_features *cf)
{
    struct allot_instruction_view view;
    struct allot_classification own;
    size_t i, len = in->system.len + in->last_user.len + in->material_bytes, b;
    char key[40];

    v->n = 0;
    allot_instruction_view(in, &view);
    allot_features_extract(in, &view, bits, cf);
    for (i = 0; i < cf->n; i++)
        push(v, cf->f[i].idx, bits, cf->f[i].value);
    add_words(v, in->last_user.ptr, in->last_user.len, bits);
    if (!cls) {
        allot_classify(in, &own);
        cls = &own;
    }
    snprintf(key, sizeof key, "cat %d", (int)cls->category);
    push(v, fnv(FAM_CAT, key, strlen(key)), bits, (float)cls->confidence);
    for (b = 0; len > 1 && b < 24; b++, len >>= 1)
        ;
    snprintf(key, sizeof key, "len %zu", b);
    push(v, fnv(FAM_LEN, key, strlen(key)), bits, 1);
    merge(v);
}

void allot_accept_set_init(struct allot_accept_set *s, unsigned hash_bits, size_t n_heads)
{
    memset(s, 0, sizeof *s);
    s->hash_bits = hash_bits;
    s->n_heads = n_heads;
}

void allot_accept_set_release(struct allot_accept_set *s)
{
    free(s->idx);
    free(s->val);
    free(s->off);
    free(s->label);
    memset(s, 0, sizeof *s);
}

/* Room for rows + 1 offsets and labels, and feats features. */
static int reserve(struct allot_accept_set *s, size_t rows, size_t feats)
{
    size_t c;
    void *p;

    if (rows + 1 > s->cap) {
        for (c = s->cap ? s->cap : 1024; c < rows + 1; c *= 2)
            ;
        if (!(p = realloc(s->off, c * sizeof *s->off)))
            return ALLOT_ENOMEM;
        s->off = p;
        if (!(p = realloc(s->label, c * s->n_heads * sizeof *s->label)))
            return ALLOT_ENOMEM;
        s->label = p;
        s->cap = c;
    }
    if (feats > s->cap_feat) {
        for (c = s->cap_feat ? s->cap_feat : 65536; c < feats; c *= 2)
            ;
        if (!(p = realloc(s->idx, c * sizeof *s->idx)))
            return ALLOT_ENOMEM;
        s->idx = p;
        if (!(p = realloc(s->val, c * sizeof *s->val)))
            return ALLOT_ENOMEM;
        s->val = p;
        s->cap_feat = c;
    }
    return 0;
}

int allot_accept_set_add(struct allot_accept_set *s, const char *prompt, const char *messages_json,
                         const float *labels, struct allot_buf *err)
{
    struct allot_chat_request r;
    struct allot_instruction in;
    struct allot_buf body;
    struct vec *v = malloc(sizeof *v);
    struct allot_features *cf = malloc(sizeof *cf);
    int rc;

    memset(&r, 0, sizeof r);
    allot_buf_init(&body, (size_t)1 << 30);
    if (!v || !cf) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if (messages_json)
        rc = allot_buf_adds(&body, "{\"model\":\"auto\",\"messages\":") ||
             allot_buf_adds(&body, messages_json) || allot_buf_adds(&body, "}");
    else
        rc = allot_buf_adds(&body, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
                                   "\"content\":") ||
             allot_buf_add_json_str(&body, prompt ? prompt : "", prompt ? strlen(prompt) : 0) ||
             allot_buf_adds(&body, "}]}");
    if (rc) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if ((rc = allot_chat_request_parse(&r, body.ptr, body.len, err)))
        goto out;
    allot_instruction_from_request(&r, &in);
    features(&in, NULL, s->hash_bits, v, cf);

    if ((rc = reserve(s, s->n + 1, s->n_feat + v->n)))
        goto out;
    if (s->n == 0)
        s->off[0] = 0;
    memcpy(s->idx + s->n_feat, v->idx, v->n * sizeof *v->idx);
    memcpy(s->val + s->n_feat, v->val, v->n * sizeof *v->val);
    s->n_feat += v->n;
    memcpy(s->label + s->n * s->n_heads, labels, s->n_heads * sizeof *labels);
    s->off[++s->n] = s->n_feat;
    rc = 0;
out:
    allot_chat_request_release(&r);
    allot_buf_release(&body);
    free(v);
    free(cf);
    return rc;
}

int allot_accept_set_append(struct allot_accept_set *dst, const struct allot_accept_set *src)
{
    size_t i;
    int rc;

    if (dst->hash_bits != src->hash_bits || dst->n_heads != src->n_heads)
        return ALLOT_EINVAL;
    if (src->n == 0)
        return 0;
    if ((rc = reserve(dst, dst->n + src->n, dst->n_feat + src->n_feat)))
        return rc;
    if (dst->n == 0)
        dst->off[0] = 0;
    memcpy(dst->idx + dst->n_feat, src->idx, src->n_feat * sizeof *src->idx);
    memcpy(dst->val + dst->n_feat, src->val, src->n_feat * sizeof *src->val);
    memcpy(dst->label + dst->n * dst->n_heads, src->label,
           src->n * src->n_heads * sizeof *src->label);
    for (i = 1; i <= src->n; i++)
        dst->off[dst->n + i] = dst->n_feat + src->off[i];
    dst->n += src->n;
    dst->n_feat += src->n_feat;
    return 0;
}

void allot_accept_opts_default(struct allot_accept_opts *o)
{
    o->epochs = 8;
    o->learning_rate = 0.01;
    o->l2 = 1e-4;
    o->seed = 1;
}

static double sigmoid(double z)
{
    if (z > 30)
        z = 30;
    if (z < -30)
        z = -30;
    return 1.0 / (1.0 + exp(-z));
}

static double row_z(const float *w, float bias, const struct allot_accept_set *s, size_t row)
{
    double z = bias;
    size_t k;
    for (k = s->off[row]; k < s->off[row + 1]; k++)
        z += (double)w[s->idx[k]] * s->val[k];
    return z;
}

static struct allot_accept_model *model_new(unsigned bits, size_t heads)
{
    struct allot_accept_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->hash_bits = bits;
    m->n_heads = heads;
    m->weak = m->strong = -1;
    if (!(m->w = calloc(heads << bits, sizeof *m->w))) {
        free(m);
        return NULL;
    }
    return m;
}

/* One head: SGD with AdaGrad steps over the rows whose label is known. */
static void train_head(const struct allot_accept_set *s, size_t *order, size_t n_rows, size_t h,
                       const struct allot_accept_opts *o, float *w, float *bias, float *g2)
{
    uint64_t seed = o->seed;
    double bg2 = 1e-8, pos = 0, known = 0;
    size_t i, k, j;
    unsigned e;

    for (i = 0; i < n_rows; i++) {
        float y = s->label[order[i] * s->n_heads + h];
        if (!isnan(y)) {
            pos += y;
            known++;
        }
    }
    pos = (pos + 0.5) / (known + 1.0); /* start at the base rate */
    *bias = (float)log(pos / (1 - pos));
    for (e = 0; e < o->epochs; e++) {
        allot_rand_shuffle(order, n_rows, &seed);
        for (i = 0; i < n_rows; i++) {
            size_t row = order[i];
            float y = s->label[row * s->n_heads + h];
            double g;
            if (isnan(y))
                continue;
            g = sigmoid(row_z(w, *bias, s, row)) - y;
            for (k = s->off[row]; k < s->off[row + 1]; k++) {
                double gj;
                j = s->idx[k];
                gj = g * s->val[k] + o->l2 * w[j];
                g2[j] += (float)(gj * gj);
                w[j] -= (float)(o->learning_rate * gj / sqrt((double)g2[j] + 1e-8));
            }
            bg2 += g * g;
            *bias -= (float)(o->learning_rate * g / sqrt(bg2));
        }
    }
}

int allot_accept_train(const struct allot_accept_set *s, const size_t *rows, size_t n_rows,
                       const char *const *names, const struct allot_accept_opts *o,
                       struct allot_accept_model **out)
{
    struct allot_accept_model *m = NULL;
    size_t *order = NULL, i, h, nw = (size_t)1 << s->hash_bits;
    float *g2 = NULL;
    int rc = 0;

    if (!rows)
        n_rows = s->n;
    if (n_rows == 0 || s->n_heads == 0 || s->n_heads > ALLOT_ACCEPT_MAX_HEADS)
        return ALLOT_EINVAL;
    if (!(m = model_new(s->hash_bits, s->n_heads)) || !(order = malloc(n_rows * sizeof *order)) ||
        !(g2 = malloc(nw * sizeof *g2))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (h = 0; h < s->n_heads; h++) {
        for (i = 0; i < n_rows; i++)
            order[i] = rows ? rows[i] : i;
        memset(g2, 0, nw * sizeof *g2);
        train_head(s, order, n_rows, h, o, m->w + h * nw, &m->bias[h], g2);
        snprintf(m->names[h], sizeof m->names[h], "%s", names && names[h] ? names[h] : "");
    }
    m->n_examples = (uint32_t)n_rows;
    m->quality_min = 0;
    m->quality_max = 1;
    *out = m;
    m = NULL;
out:
    allot_accept_model_free(m);
    free(order);
    free(g2);
    return rc;
}

void allot_accept_model_free(struct allot_accept_model *m)
{
    if (!m)
        return;
    free(m->w);
    free(m);
}

void allot_accept_predict_row(const struct allot_accept_model *m, const struct allot_accept_set *s,
                              size_t row, double *q)
{
    size_t h, nw = (size_t)1 << m->hash_bits;
    for (h = 0; h < m->n_heads; h++)
        q[h] = sigmoid(row_z(m->w + h * nw, m->bias[h], s, row));
}

struct scratch {
    struct vec v;
    struct allot_features cf;
};

size_t allot_accept_scratch_size(void)
{
    return sizeof(struct scratch);
}

void allot_accept_predict(const struct allot_accept_model *m, const struct allot_instruction *in,
                          const struct allot_classification *cls, void *scratch, double *q)
{
    struct scratch *sc = scratch;
    size_t h, k, nw = (size_t)1 << m->hash_bits;

    features(in, cls, m->hash_bits, &sc->v, &sc->cf);
    for (h = 0; h < m->n_heads; h++) {
        const float *w = m->w + h * nw;
        double z = m->bias[h];
        for (k = 0; k < sc->v.n; k++)
            z += (double)w[sc->v.idx[k]] * sc->v.val[k];
        q[h] = sigmoid(z);
    }
}

double allot_accept_score(const double *q, int weak, int strong)
{
    return (1.0 - (q[strong] - q[weak])) / 2.0;
}

int allot_accept_head(const struct allot_accept_model *m, const char *name)
{
    size_t h;
    for (h = 0; h < m->n_heads; h++)
        if (!strcmp(m->names[h], name))
            return (int)h;
    return -1;
}

/* ---- the file ---- */

static void put_u32(struct allot_buf *b, uint32_t x, int *rc)
{
    unsigned char p[4] = {(unsigned char)x, (unsigned char)(x >> 8), (unsigned char)(x >> 16),
                          (unsigned char)(x >> 24)};
    *rc = *rc ? *rc : allot_buf_add(b, (const char *)p, 4);
}

static void put_f64(struct allot_buf *b, double d, int *rc)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u32(b, (uint32_t)u, rc);
    put_u32(b, (uint32_t)(u >> 32), rc);
}

static void put_f32(struct allot_buf *b, float f, int *rc)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(b, u, rc);
}

static void put_name(struct allot_buf *b, const char *s, int *rc)
{
    size_t n = strnlen(s, ALLOT_ACCEPT_NAME_MAX - 1);
    unsigned char p[2] = {(unsigned char)n, (unsigned char)(n >> 8)};
    *rc = *rc ? *rc : allot_buf_add(b, (const char *)p, 2);
    *rc = *rc ? *rc : allot_buf_add(b, s, n);
}

int allot_accept_model_save(const struct allot_accept_model *m, const char *path,
                            struct allot_buf *err)
{
    struct allot_buf b;
    size_t i, h, n = (size_t)1 << m->hash_bits;
    FILE *f = NULL;
    int rc = 0;

    allot_buf_init(&b, FILE_MAX);
    rc = allot_buf_add(&b, MAGIC, 8);
    put_u32(&b, ALLOT_ACCEPT_VERSION, &rc);
    put_u32(&b, m->hash_bits, &rc);
    put_u32(&b, (uint32_t)m->n_heads, &rc);
    put_u32(&b, m->n_examples, &rc);
    put_f64(&b, m->quality_min, &rc);
    put_f64(&b, m->quality_max, &rc);
    put_u32(&b, (uint32_t)m->weak, &rc);
    put_u32(&b, (uint32_t)m->strong, &rc);
    put_f64(&b, m->threshold, &rc);
    put_u32(&b, (uint32_t)m->target, &rc);
    put_f64(&b, m->target_value, &rc);
    for (h = 0; h < m->n_heads; h++)
        put_name(&b, m->names[h], &rc);
    for (h = 0; h < m->n_heads; h++) {
        put_f32(&b, m->bias[h], &rc);
        for (i = 0; i < n && !rc; i++)
            put_f32(&b, m->w[h * n + i], &rc);
    }
    if (!rc)
        put_u32(&b, allot_crc32((const unsigned char *)b.ptr, b.len), &rc);
    if (rc) {
        allot_buf_addf(err, "model '%s': %s", path, allot_strerror(rc));
        goto out;
    }
    if (!(f = fopen(path, "wb")) || fwrite(b.ptr, 1, b.len, f) != b.len) {
        allot_buf_addf(err, "model '%s': cannot write: %s", path, strerror(errno));
        rc = ALLOT_EIO;
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        allot_buf_addf(err, "model '%s': cannot write: %s", path, strerror(errno));
        rc = ALLOT_EIO;
        goto out;
    }
    f = NULL;
out:
    if (f)
        fclose(f);
    allot_buf_release(&b);
    return rc;
}

struct reader {
    const unsigned char *p;
    size_t n, at;
    int bad;
};

static uint32_t get_u32(struct reader *r)
{
    uint32_t x;
    if (r->at + 4 > r->n) {
        r->bad = 1;
        return 0;
    }
    x = (uint32_t)r->p[r->at] | (uint32_t)r->p[r->at + 1] << 8 | (uint32_t)r->p[r->at + 2] << 16 |
        (uint32_t)r->p[r->at + 3] << 24;
    r->at += 4;
    return x;
}

static double get_f64(struct reader *r)
{
    uint64_t lo = get_u32(r), hi = get_u32(r), u = lo | hi << 32;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static float get_f32(struct reader *r)
{
    uint32_t u = get_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void get_name(struct reader *r, char *dst)
{
    size_t n;
    if (r->at + 2 > r->n) {
        r->bad = 1;
        return;
    }
    n = (size_t)r->p[r->at] | (size_t)r->p[r->at + 1] << 8;
    r->at += 2;
    if (n >= ALLOT_ACCEPT_NAME_MAX || r->at + n > r->n) {
        r->bad = 1;
        return;
    }
    memcpy(dst, r->p + r->at, n);
    dst[n] = '\0';
    r->at += n;
}

int allot_accept_model_load(const char *path, struct allot_accept_model **out,
                            struct allot_buf *err)
{
    struct allot_accept_model *m = NULL;
    struct reader r;
    unsigned char *data = NULL;
    FILE *f = NULL;
    size_t n = 0, i, h, nw;
    uint32_t version, bits, heads;
    int rc = ALLOT_EPARSE;
    const char *why = NULL;

    if (!(f = fopen(path, "rb"))) {
        allot_buf_addf(err, "model '%s': cannot open: %s", path, strerror(errno));
        return ALLOT_EIO;
    }
    if (!(data = malloc(FILE_MAX + 1))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    n = fread(data, 1, FILE_MAX + 1, f);
    memset(&r, 0, sizeof r);
    r.p = data;
    r.n = n;
    if (n < 12 || memcmp(data, MAGIC, 8)) {
        why = "not an acceptability model (allot train outcomes)";
        goto out;
    }
    r.at = 8;
    version = get_u32(&r);
    bits = get_u32(&r);
    if (version != ALLOT_ACCEPT_VERSION) {
        why = "file format version not understood by this allot";
        goto out;
    }
    heads = get_u32(&r);
    if (bits < ALLOT_HASH_BITS_MIN || bits > ALLOT_HASH_BITS_MAX || heads < 1 ||
        heads > ALLOT_ACCEPT_MAX_HEADS) {
        why = "hash_bits or model count out of range";
        goto out;
    }
    nw = (size_t)1 << bits;
    if (n < 4 ||
        allot_crc32(data, n - 4) != ((uint32_t)data[n - 4] | (uint32_t)data[n - 3] << 8 |
                                     (uint32_t)data[n - 2] << 16 | (uint32_t)data[n - 1] << 24)) {
        why = "checksum mismatch (truncated or damaged)";
        goto out;
    }
    if (!(m = model_new(bits, heads))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    m->n_examples = get_u32(&r);
    m->quality_min = get_f64(&r);
    m->quality_max = get_f64(&r);
    m->weak = (int)get_u32(&r);
    m->strong = (int)get_u32(&r);
    m->threshold = get_f64(&r);
    m->target = (enum allot_accept_target)get_u32(&r);
    m->target_value = get_f64(&r);
    for (h = 0; h < heads; h++)
        get_name(&r, m->names[h]);
    for (h = 0; h < heads && !r.bad; h++) {
        m->bias[h] = get_f32(&r);
        for (i = 0; i < nw && !r.bad; i++)
            m->w[h * nw + i] = get_f32(&r);
    }
    if (m->weak < -1 || m->weak >= (int)heads || m->strong < -1 || m->strong >= (int)heads)
        r.bad = 1;
    if (r.bad || r.at + 4 != n) {
        why = "wrong size for its header";
        goto out;
    }
    *out = m;
    m = NULL;
    rc = 0;
out:
    if (why)
        allot_buf_addf(err, "model '%s': %s", path, why);
    allot_accept_model_free(m);
    free(data);
    fclose(f);
    return rc;
}
