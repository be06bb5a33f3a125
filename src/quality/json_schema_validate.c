/* json_schema_validate.c: validating a JSON value against a schema
 * compiled by json_schema_compile.c (see json_schema.h and
 * json_schema_internal.h).
 *
 * The instance is a model's and the schema a client's, so everything here
 * is bounded: validation recursion by ALLOT_JSON_SCHEMA_MAX_RECURSION, its
 * total work by a step budget, and each regex match by PCRE2's match,
 * depth and heap limits.
 *
 * DESIGN: validation walks the tree recursively. The instance path of
 * the failure is a chain of frames on the C stack (struct ipath), turned
 * into a JSON pointer only when a failure is reported. Branches whose
 * failure is not the instance's (anyOf, oneOf, not, if, contains) run
 * "quiet" and format nothing. Regex matching needs PCRE2 scratch memory
 * (match data, and a match context whose limits follow each subject); the
 * schema keeps one spare, handed over with an atomic exchange, so that a
 * validation usually allocates nothing and validations on many threads
 * stay independent. That spare is the only part of a compiled schema that
 * changes after compile. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cJSON.h>
#include <float.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/json_schema.h"
#include "quality/json_schema_internal.h"

/* Internal results of validation besides the negative ALLOT_E* codes. */
#define V_OK 0
#define V_BAD 1

/* ---- messages ---------------------------------------------------------- */

static int is_integral(double x)
{
    return isfinite(x) && floor(x) == x;
}

/* The shortest text that reads back as x. */
static void fmt_num(char out[32], double x)
{
    int prec;

    if (is_integral(x) && fabs(x) < 1e15) {
        snprintf(out, 32, "%.0f", x);
        return;
    }
    for (prec = 1; prec < 17; prec++) {
        snprintf(out, 32, "%.*g", prec, x);
        if (strtod(out, NULL) == x)
            return;
    }
    snprintf(out, 32, "%.17g", x);
}

static void msg_add_jval(struct msg *m, const struct jval *v)
{
    char num[32];
    size_t i;

    if (m->cut)
        return;
    switch (v->type) {
    case J_NULL:
        allot__schema_msg_adds(m, "null");
        break;
    case J_FALSE:
        allot__schema_msg_adds(m, "false");
        break;
    case J_TRUE:
        allot__schema_msg_adds(m, "true");
        break;
    case J_NUM:
        fmt_num(num, v->num);
        allot__schema_msg_adds(m, num);
        break;
    case J_STR:
        allot__schema_msg_add_quoted(m, v->str, 200);
        break;
    case J_ARR:
    case J_OBJ:
        allot__schema_msg_adds(m, v->type == J_ARR ? "[" : "{");
        for (i = 0; i < v->n && !m->cut; i++) {
            if (i)
                allot__schema_msg_adds(m, ",");
            if (v->type == J_OBJ) {
                allot__schema_msg_add_quoted(m, v->keys[i], 200);
                allot__schema_msg_adds(m, ":");
            }
            msg_add_jval(m, &v->kids[i]);
        }
        allot__schema_msg_adds(m, v->type == J_ARR ? "]" : "}");
        break;
    }
}

/* ---- validate ---------------------------------------------------------- */

/* Where in the instance: a chain of frames on the C stack, leaf first. */
struct ipath {
    const struct ipath *up;
    const char *key; /* a member's name, or NULL for the array index */
    size_t index;
};

struct vctx {
    struct allot_json_schema *s;
    struct allot_buf *why;
    struct regex_scratch *rx;
    int rx_grown; /* a slow match may have grown rx->md: do not keep it */
    size_t steps;
    int quiet;    /* > 0 in a branch whose failure is not the instance's */
    int name;     /* > 0 while a property name is the instance (propertyNames) */
    int reported; /* a message went to why */
};

/* Nesting of JSON values compared for uniqueItems. cJSON's parser stops
 * at 1000 levels; a tree built by hand may go deeper and is refused. */
#define EQUAL_MAX_DEPTH 1100

static void msg_add_path(struct msg *m, const struct ipath *p)
{
    if (!p)
        return;
    msg_add_path(m, p->up);
    allot__schema_msg_add(m, "/", 1);
    if (p->key)
        allot__schema_msg_add_token(m, p->key);
    else
        allot__schema_msg_addf(m, "%zu", p->index);
}

static int wants_message(const struct vctx *c)
{
    return c->why && !c->reported;
}

FORMAT(4, 0)
static void say(struct vctx *c, const struct ipath *at, int hard, const char *fmt, va_list ap)
{
    struct msg m;

    allot__schema_msg_init(&m);
    allot__schema_msg_adds(&m, "at ");
    if (at)
        msg_add_path(&m, at);
    else
        allot__schema_msg_adds(&m, "the root");
    allot__schema_msg_adds(&m, ": ");
    if (c->name && !hard)
        allot__schema_msg_adds(&m, "property name: ");
    allot__schema_msg_vaddf(&m, fmt, ap);
    allot__schema_msg_flush(&m, c->why);
    c->reported = 1;
}

/* The instance fails here: report it unless in a quiet branch. */
FORMAT(3, 4) static int invalid(struct vctx *c, const struct ipath *at, const char *fmt, ...)
{
    va_list ap;

    if (c->quiet || !wants_message(c))
        return V_BAD;
    va_start(ap, fmt);
    say(c, at, 0, fmt, ap);
    va_end(ap);
    return V_BAD;
}

/* Validation cannot go on (a cap, no memory): always reported. */
FORMAT(4, 5) static int stop(struct vctx *c, const struct ipath *at, int code, const char *fmt, ...)
{
    va_list ap;

    if (!wants_message(c))
        return code;
    va_start(ap, fmt);
    say(c, at, 1, fmt, ap);
    va_end(ap);
    return code;
}

static int charge(struct vctx *c, const struct ipath *at, size_t steps)
{
    c->steps += steps;
    if (c->steps <= ALLOT_JSON_SCHEMA_MAX_STEPS)
        return 0;
    return stop(c, at, ALLOT_ETOOBIG,
                "validation would take more than %d steps (the schema is too costly for this "
                "answer)",
                ALLOT_JSON_SCHEMA_MAX_STEPS);
}

static unsigned type_of(const cJSON *v)
{
    switch (v->type & 0xFF) {
    case cJSON_NULL:
        return T_NULL;
    case cJSON_False:
    case cJSON_True:
        return T_BOOL;
    case cJSON_Number:
        return is_integral(v->valuedouble) ? T_NUM | T_INT : T_NUM;
    case cJSON_String:
        return T_STR;
    case cJSON_Array:
        return T_ARR;
    case cJSON_Object:
        return T_OBJ;
    default:
        return 0;
    }
}

static const char *str_of(const cJSON *v)
{
    return v->valuestring ? v->valuestring : "";
}

static int bad_type(struct vctx *c, const struct ipath *at, unsigned types, const cJSON *v)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {T_BOOL, "a boolean"}, {T_INT, "an integer"}, {T_NUM, "a number"}, {T_STR, "a string"},
        {T_ARR, "an array"},   {T_OBJ, "an object"},  {T_NULL, "null"},
    };
    char expected[160];
    size_t i, k = 0, count = 0, len = 0;

    if (c->quiet || !wants_message(c))
        return V_BAD;
    if (types & T_NUM)
        types &= ~(unsigned)T_INT; /* "number" says it all */
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        count += (types & names[i].bit) != 0;
    expected[0] = '\0';
    for (i = 0; i < sizeof names / sizeof names[0] && len < sizeof expected; i++) {
        if (!(types & names[i].bit))
            continue;
        k++;
        len += (size_t)snprintf(expected + len, sizeof expected - len, "%s%s",
                                k == 1 ? "" : (k == count ? " or " : ", "), names[i].name);
    }
    return invalid(c, at, "expected %s, got %s", expected, allot__schema_type_name(v));
}

/* Deep equality of a schema value and an instance value (1 == 1.0).
 * Recursion and work are bounded by the schema value's size; *work counts
 * the values looked at. */
static int equal_jc(const struct jval *a, const cJSON *b, size_t *work)
{
    const cJSON *it;
    size_t i, n = 0;

    ++*work;
    switch (a->type) {
    case J_NULL:
        return cJSON_IsNull(b);
    case J_FALSE:
        return cJSON_IsFalse(b);
    case J_TRUE:
        return cJSON_IsTrue(b);
    case J_NUM:
        return cJSON_IsNumber(b) && a->num == b->valuedouble;
    case J_STR:
        return cJSON_IsString(b) && strcmp(a->str, str_of(b)) == 0;
    case J_ARR:
        if (!cJSON_IsArray(b))
            return 0;
        for (it = b->child, i = 0; it; it = it->next, i++)
            if (i >= a->n || !equal_jc(&a->kids[i], it, work))
                return 0;
        return i == a->n;
    case J_OBJ:
        if (!cJSON_IsObject(b))
            return 0;
        for (it = b->child; it && n <= a->n; it = it->next) /* no further than a's size */
            n++;
        if (n != a->n)
            return 0;
        for (i = 0; i < a->n; i++) {
            *work += n / 2;
            it = cJSON_GetObjectItemCaseSensitive(b, a->keys[i]);
            if (!it || !equal_jc(&a->kids[i], it, work))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* What equal_cc() returns besides 1 (equal) and 0. */
#define EQ_TOO_DEEP (-1)
#define EQ_OVER_BUDGET (-2)

/* Deep equality of two instance values (uniqueItems), charged to the step
 * budget as it goes: two large equal objects cost the square of their
 * size, so the budget is checked before the work, not after. */
static int equal_cc(struct vctx *c, const cJSON *a, const cJSON *b, int depth)
{
    const cJSON *x, *y;
    size_t na = 0, nb = 0;
    int e;

    if (++c->steps > ALLOT_JSON_SCHEMA_MAX_STEPS)
        return EQ_OVER_BUDGET;
    if (depth > EQUAL_MAX_DEPTH)
        return EQ_TOO_DEEP;
    if (cJSON_IsNumber(a) || cJSON_IsNumber(b))
        return cJSON_IsNumber(a) && cJSON_IsNumber(b) && a->valuedouble == b->valuedouble;
    if ((a->type & 0xFF) != (b->type & 0xFF))
        return 0;
    switch (a->type & 0xFF) {
    case cJSON_String:
        return strcmp(str_of(a), str_of(b)) == 0;
    case cJSON_Array:
        for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
            if ((e = equal_cc(c, x, y, depth + 1)) != 1)
                return e;
        return !x && !y;
    case cJSON_Object:
        for (x = a->child; x; x = x->next)
            na++;
        for (y = b->child; y; y = y->next)
            nb++;
        if (na != nb)
            return 0;
        /* members in the same order (two answers from one generator) pair
         * up as they come; the others are looked up */
        for (x = a->child, y = b->child; x; x = x->next, y = y ? y->next : NULL) {
            if (!x->string)
                return 0;
            if (!y || !y->string || strcmp(x->string, y->string) != 0) {
                c->steps += nb / 2;
                if (c->steps > ALLOT_JSON_SCHEMA_MAX_STEPS)
                    return EQ_OVER_BUDGET;
                if (!(y = cJSON_GetObjectItemCaseSensitive(b, x->string)))
                    return 0;
            }
            if ((e = equal_cc(c, x, y, depth + 1)) != 1)
                return e;
        }
        return 1;
    default:
        return 1; /* null, false, true */
    }
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return mix(h);
}

/* A hash consistent with equal_cc: equal values hash alike (numbers by
 * value, object members in any order). */
static uint64_t hash_value(struct vctx *c, const cJSON *v, int depth)
{
    const cJSON *it;
    uint64_t h;
    double x;

    c->steps++; /* linear in the value: checked by the caller */
    if (depth > EQUAL_MAX_DEPTH)
        return 0;
    switch (v->type & 0xFF) {
    case cJSON_Number:
        x = v->valuedouble == 0 ? 0.0 : v->valuedouble; /* -0 == 0 */
        memcpy(&h, &x, sizeof h);
        return mix(h ^ 0x1);
    case cJSON_String:
        return hash_str(str_of(v)) ^ 0x2;
    case cJSON_Array:
        h = 0x3;
        for (it = v->child; it; it = it->next)
            h = mix(h * 31 + hash_value(c, it, depth + 1));
        return h;
    case cJSON_Object:
        h = 0x4;
        for (it = v->child; it; it = it->next)
            h += mix(hash_str(it->string ? it->string : "") ^ hash_value(c, it, depth + 1));
        return mix(h);
    default:
        return mix((uint64_t)(v->type & 0xFF) + 0x5);
    }
}

struct hashed {
    uint64_t h;
    size_t index;
    const cJSON *item;
};

static int by_hash(const void *a, const void *b)
{
    const struct hashed *x = a, *y = b;

    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Small arrays compare every pair; larger ones sort item hashes and
 * compare only items whose hashes collide, so that a long array costs
 * n log n, not n squared. */
#define UNIQUE_PAIRWISE_MAX 16

static int check_unique(struct vctx *c, const cJSON *arr, size_t n, const struct ipath *at)
{
    struct hashed *h = NULL;
    const cJSON *x, *y;
    size_t i, j, dup_i = 0, dup_j = 0;
    int e = 0, rc;

    if (n < 2)
        return V_OK;
    if (n <= UNIQUE_PAIRWISE_MAX) {
        for (x = arr->child, i = 0; x && e == 0; x = x->next, i++)
            for (y = x->next, j = i + 1; y && e == 0; y = y->next, j++)
                if ((e = equal_cc(c, x, y, 0)) == 1) {
                    dup_i = i;
                    dup_j = j;
                }
    } else {
        if (!(h = malloc(n * sizeof *h)))
            return stop(c, at, ALLOT_ENOMEM, "out of memory");
        for (x = arr->child, i = 0; x && i < n; x = x->next, i++) {
            h[i].h = hash_value(c, x, 0);
            h[i].index = i;
            h[i].item = x;
        }
        if ((rc = charge(c, at, n / 8))) {
            free(h);
            return rc;
        }
        qsort(h, n, sizeof *h, by_hash);
        for (i = 0; i < n && e == 0; i = j) {
            size_t k, l;
            for (j = i + 1; j < n && h[j].h == h[i].h; j++)
                ;
            for (k = i; k < j && e == 0; k++)
                for (l = k + 1; l < j && e == 0; l++)
                    if ((e = equal_cc(c, h[k].item, h[l].item, 0)) == 1) {
                        dup_i = h[k].index;
                        dup_j = h[l].index;
                    }
        }
        free(h);
    }
    if (e == EQ_TOO_DEEP)
        return stop(c, at, ALLOT_ETOOBIG, "items nested more than %d levels deep to compare",
                    EQUAL_MAX_DEPTH);
    if (e == EQ_OVER_BUDGET)
        return charge(c, at, 0);
    if (e == 1)
        return invalid(c, at, "items %zu and %zu are equal, but uniqueItems is true", dup_i, dup_j);
    return V_OK;
}

/* Regex cost. A match runs first under a small limit that grows with the
 * subject (linear patterns need about 2 units a byte), charged as if it
 * used it all; only a match that hits it runs again under the full limit,
 * charged likewise. So a pattern that backtracks badly on many short
 * strings runs out of steps within about 100 ms instead of running for
 * minutes, and a linear one on a long string still passes. */
#define REGEX_QUICK_BASE 48
#define REGEX_FULL_PER_BYTE 8
#define REGEX_STEPS_PER_UNIT 2 /* a unit of PCRE2's match limit, ~15 ns, is ~2 steps */

static uint32_t regex_limit(size_t base, size_t per_byte, size_t len)
{
    if (len > (UINT32_MAX - base) / per_byte)
        return UINT32_MAX;
    return (uint32_t)(base + per_byte * len);
}

static int take_scratch(struct vctx *c, const struct ipath *at)
{
    struct regex_scratch *rx = atomic_exchange(&c->s->spare, NULL);

    if (!rx) {
        if (!(rx = calloc(1, sizeof *rx)))
            return stop(c, at, ALLOT_ENOMEM, "out of memory");
        /* one ovector pair is enough: only "found or not" is wanted, and a
         * match that does not fit in it returns 0, still a match */
        rx->md = pcre2_match_data_create(1, NULL);
        rx->ctx = pcre2_match_context_create(NULL);
        if (!rx->md || !rx->ctx) {
            allot__schema_scratch_free(rx);
            return stop(c, at, ALLOT_ENOMEM, "out of memory");
        }
        pcre2_set_heap_limit(rx->ctx, ALLOT_JSON_SCHEMA_MATCH_HEAP_LIMIT);
    }
    c->rx = rx;
    return 0;
}

static int regex_run(struct vctx *c, const struct regex *re, const char *s, size_t len,
                     uint32_t limit)
{
    /* the depth of backtracking cannot pass the count of steps: one limit
     * for both */
    pcre2_set_match_limit(c->rx->ctx, limit);
    pcre2_set_depth_limit(c->rx->ctx, limit);
    return pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, c->rx->md, c->rx->ctx);
}

/* Search for re in s[0..len): 1 found, 0 not, or a negative error. */
static int regex_search(struct vctx *c, const struct regex *re, const char *s, size_t len,
                        const struct ipath *at)
{
    uint32_t limit = regex_limit(REGEX_QUICK_BASE, 2, len);
    int rc;

    if ((rc = charge(c, at, (size_t)limit * REGEX_STEPS_PER_UNIT)))
        return rc;
    if (!c->rx && (rc = take_scratch(c, at)))
        return rc;
    rc = regex_run(c, re, s, len, limit);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) {
        limit = regex_limit(ALLOT_JSON_SCHEMA_MATCH_LIMIT, REGEX_FULL_PER_BYTE, len);
        if ((rc = charge(c, at, (size_t)limit * REGEX_STEPS_PER_UNIT)))
            return rc;
        c->rx_grown = 1;
        rc = regex_run(c, re, s, len, limit);
    }
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_NOMEMORY)
        return stop(c, at, ALLOT_ENOMEM, "out of memory matching a regex");
    {
        PCRE2_UCHAR why[120];
        struct msg m;
        if (pcre2_get_error_message(rc, why, sizeof why) < 0)
            snprintf((char *)why, sizeof why, "error %d", rc);
        allot__schema_msg_init(&m);
        allot__schema_msg_add_quoted(&m, re->src, 100);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT)
            return stop(c, at, ALLOT_ETOOBIG, "the regex %s is too costly to match (%s)", m.s,
                        (char *)why);
        return stop(c, at, ALLOT_EINVAL, "the regex %s could not be matched (%s)", m.s,
                    (char *)why);
    }
}

static size_t code_points(const char *s, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int check_string(struct vctx *c, const struct node *n, const cJSON *v,
                        const struct ipath *at)
{
    const char *s = str_of(v);
    size_t len = strlen(s), cp;
    int rc;

    if ((rc = charge(c, at, len / 64)))
        return rc;
    /* a code point takes 1 to 4 bytes: the byte count often settles it */
    if ((n->has & HAS_MAX_LENGTH) && len > n->max_length &&
        (cp = code_points(s, len)) > n->max_length)
        return invalid(c, at, "expected at most %zu characters, got %zu", n->max_length, cp);
    if ((n->has & HAS_MIN_LENGTH) && n->min_length > len / 4 &&
        (cp = code_points(s, len)) < n->min_length)
        return invalid(c, at, "expected at least %zu characters, got %zu", n->min_length, cp);
    if (n->has & HAS_PATTERN) {
        rc = regex_search(c, n->pattern, s, len, at);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            struct msg m;
            if (c->quiet || !wants_message(c))
                return V_BAD;
            allot__schema_msg_init(&m);
            allot__schema_msg_add_quoted(&m, n->pattern->src, 200);
            return invalid(c, at, "does not match the pattern %s", m.s);
        }
    }
    return V_OK;
}

/* x is a multiple of m (> 0). fmod is exact, so the only error is that
 * of x and m as doubles (0.0075 and 0.0001 are not exact): a remainder
 * within a few units in the last place of x counts as none. */
static int is_multiple(double x, double m)
{
    double r = fmod(fabs(x), m), tol = 4 * DBL_EPSILON * fabs(x);

    return r <= tol || m - r <= tol;
}

static int check_number(struct vctx *c, const struct node *n, const cJSON *v,
                        const struct ipath *at)
{
    double x = v->valuedouble;
    char a[32], b[32];

    if ((n->has & HAS_MAXIMUM) && x > n->maximum)
        goto out_of_range;
    if ((n->has & HAS_EXCL_MAXIMUM) && x >= n->excl_maximum)
        goto out_of_range;
    if ((n->has & HAS_MINIMUM) && x < n->minimum)
        goto out_of_range;
    if ((n->has & HAS_EXCL_MINIMUM) && x <= n->excl_minimum)
        goto out_of_range;
    if ((n->has & HAS_MULTIPLE_OF) && !is_multiple(x, n->multiple_of)) {
        if (c->quiet || !wants_message(c))
            return V_BAD;
        fmt_num(a, n->multiple_of);
        fmt_num(b, x);
        return invalid(c, at, "expected a multiple of %s, got %s", a, b);
    }
    return V_OK;
out_of_range:
    if (c->quiet || !wants_message(c))
        return V_BAD;
    {
        /* say every bound, so that a retry can get it right at once */
        struct msg m;
        allot__schema_msg_init(&m);
        if (n->has & HAS_MINIMUM) {
            fmt_num(a, n->minimum);
            allot__schema_msg_addf(&m, ">= %s", a);
        }
        if (n->has & HAS_EXCL_MINIMUM) {
            fmt_num(a, n->excl_minimum);
            allot__schema_msg_addf(&m, "%s> %s", m.len ? " and " : "", a);
        }
        if (n->has & HAS_MAXIMUM) {
            fmt_num(a, n->maximum);
            allot__schema_msg_addf(&m, "%s<= %s", m.len ? " and " : "", a);
        }
        if (n->has & HAS_EXCL_MAXIMUM) {
            fmt_num(a, n->excl_maximum);
            allot__schema_msg_addf(&m, "%s< %s", m.len ? " and " : "", a);
        }
        fmt_num(b, x);
        return invalid(c, at, "expected a number %s, got %s", m.s, b);
    }
}

static int validate(struct vctx *c, const struct node *n, const cJSON *v, const struct ipath *at,
                    int depth);

static int check_array(struct vctx *c, const struct node *n, const cJSON *v, const struct ipath *at,
                       int depth)
{
    const cJSON *it;
    size_t count = 0, i, matches = 0;
    int rc;

    if (n->has & (HAS_MAX_ITEMS | HAS_MIN_ITEMS | HAS_UNIQUE_ITEMS)) {
        for (it = v->child; it; it = it->next)
            count++;
        if ((rc = charge(c, at, count / 8)))
            return rc;
        if (count > n->max_items)
            return invalid(c, at, "expected at most %zu items, got %zu", n->max_items, count);
        if ((n->has & HAS_MIN_ITEMS) && count < n->min_items)
            return invalid(c, at, "expected at least %zu items, got %zu", n->min_items, count);
        if ((n->has & HAS_UNIQUE_ITEMS) && (rc = check_unique(c, v, count, at)))
            return rc;
    }
    if (n->has & HAS_ITEMS) {
        for (it = v->child, i = 0; it; it = it->next, i++) {
            const struct node *sub = i < n->n_prefix ? n->prefix_items[i] : n->items;
            struct ipath here = {at, NULL, i};
            if (!sub)
                break;
            if ((rc = validate(c, sub, it, &here, depth + 1)))
                return rc;
        }
    }
    if (n->has & HAS_CONTAINS) {
        c->quiet++;
        for (it = v->child, i = 0; it; it = it->next, i++) {
            struct ipath here = {at, NULL, i};
            rc = validate(c, n->contains, it, &here, depth + 1);
            if (rc < 0) {
                c->quiet--;
                return rc;
            }
            matches += rc == V_OK;
            if (matches > n->max_contains ||
                (n->max_contains == SIZE_MAX && matches >= n->min_contains))
                break;
        }
        c->quiet--;
        if (matches < n->min_contains) {
            if (n->min_contains == 1)
                return invalid(c, at, "no item matches the schema in contains");
            return invalid(c, at, "expected at least %zu items matching contains, got %zu",
                           n->min_contains, matches);
        }
        if (matches > n->max_contains)
            return invalid(c, at, "expected at most %zu items matching contains, got %zu or more",
                           n->max_contains, matches);
    }
    return V_OK;
}

/* The reports below build their text in a struct msg, out of line: the
 * functions that recurse keep small frames. */

__attribute__((noinline)) static int bad_const(struct vctx *c, const struct ipath *at,
                                               const struct jval *want)
{
    struct msg m;

    if (c->quiet || !wants_message(c))
        return V_BAD;
    allot__schema_msg_init(&m);
    msg_add_jval(&m, want);
    return invalid(c, at, "expected %s (const)", m.s);
}

/* A required property is missing; because is the property that requires
 * it (dependentRequired), or NULL (required). */
__attribute__((noinline)) static int missing(struct vctx *c, const struct ipath *at,
                                             const char *name, const char *because)
{
    struct msg m;

    if (c->quiet || !wants_message(c))
        return V_BAD;
    allot__schema_msg_init(&m);
    allot__schema_msg_add_quoted(&m, name, 200);
    if (because) {
        allot__schema_msg_adds(&m, " (required when ");
        allot__schema_msg_add_quoted(&m, because, 200);
        allot__schema_msg_adds(&m, " is present)");
        return invalid(c, at, "missing property %s", m.s);
    }
    return invalid(c, at, "missing required property %s", m.s);
}

static const cJSON *find_member(const cJSON *obj, const char *name)
{
    const cJSON *m;

    for (m = obj->child; m; m = m->next)
        if (m->string && m->string[0] == name[0] && strcmp(m->string, name) == 0)
            return m;
    return NULL;
}

/* The schemas for one member: properties, patternProperties, else
 * additionalProperties; and propertyNames for its name. */
static int check_member(struct vctx *c, const struct node *n, const cJSON *m,
                        const struct ipath *at, int depth, uint64_t *seen)
{
    const char *key = m->string ? m->string : "";
    struct ipath here = {at, key, 0};
    size_t p, i, keylen = 0;
    int matched = 0, rc;

    if (n->n_props && (p = allot__schema_find_prop(n, key)) != NONE) {
        matched = 1;
        if (p < SEEN_BITS)
            seen[p / 64] |= (uint64_t)1 << (p % 64);
        if ((rc = validate(c, n->props[p].schema, m, &here, depth + 1)))
            return rc;
    }
    if (n->n_pattern_props)
        keylen = strlen(key);
    for (i = 0; i < n->n_pattern_props; i++) {
        rc = regex_search(c, n->pattern_props[i].re, key, keylen, &here);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            matched = 1;
            if ((rc = validate(c, n->pattern_props[i].schema, m, &here, depth + 1)))
                return rc;
        }
    }
    if (!matched && n->additional) {
        if (n->additional->has == HAS_FALSE)
            return invalid(c, &here, "property not allowed (additionalProperties is false)");
        if ((rc = validate(c, n->additional, m, &here, depth + 1)))
            return rc;
    }
    if (n->property_names) {
        cJSON name;
        memset(&name, 0, sizeof name);
        name.type = cJSON_String;
        name.valuestring = (char *)key;
        c->name++;
        rc = validate(c, n->property_names, &name, &here, depth + 1);
        c->name--;
        if (rc)
            return rc;
    }
    return V_OK;
}

static int check_object(struct vctx *c, const struct node *n, const cJSON *v,
                        const struct ipath *at, int depth)
{
    uint64_t seen[SEEN_BITS / 64] = {0};
    const cJSON *m;
    size_t count = 0, i, j;
    int rc;

    if (n->has & HAS_MEMBERS) {
        for (m = v->child; m; m = m->next, count++) {
            if ((rc = charge(c, at, 1)))
                return rc;
            if ((rc = check_member(c, n, m, at, depth, seen)))
                return rc;
        }
    } else if (n->has & (HAS_MAX_PROPS | HAS_MIN_PROPS)) {
        for (m = v->child; m; m = m->next)
            count++;
        if ((rc = charge(c, at, count / 8)))
            return rc;
    }
    if (count > n->max_props)
        return invalid(c, at, "expected at most %zu properties, got %zu", n->max_props, count);
    if ((n->has & HAS_MIN_PROPS) && count < n->min_props)
        return invalid(c, at, "expected at least %zu properties, got %zu", n->min_props, count);
    for (i = 0; i < n->n_required; i++) {
        const struct required *r = &n->required[i];
        int present;
        if (r->prop != NONE && (n->has & HAS_MEMBERS)) {
            present = (seen[r->prop / 64] >> (r->prop % 64)) & 1;
        } else {
            if ((rc = charge(c, at, 1 + count / 2)))
                return rc;
            present = find_member(v, r->name) != NULL;
        }
        if (!present)
            return missing(c, at, r->name, NULL);
    }
    for (i = 0; i < n->n_dep_required; i++) {
        const struct dep_required *d = &n->dep_required[i];
        if ((rc = charge(c, at, 1 + count / 2)))
            return rc;
        if (!find_member(v, d->name))
            continue;
        for (j = 0; j < d->n; j++) {
            if ((rc = charge(c, at, 1 + count / 2)))
                return rc;
            if (!find_member(v, d->names[j]))
                return missing(c, at, d->names[j], d->name);
        }
    }
    for (i = 0; i < n->n_dep_schemas; i++) {
        if ((rc = charge(c, at, 1 + count / 2)))
            return rc;
        if (find_member(v, n->dep_schemas[i].name) &&
            (rc = validate(c, n->dep_schemas[i].schema, v, at, depth + 1)))
            return rc;
    }
    return V_OK;
}

static int check_enum(struct vctx *c, const struct node *n, const cJSON *v, const struct ipath *at)
{
    struct msg m;
    size_t i, work = 0;
    int rc, found = 0;

    for (i = 0; i < n->n_enum && !found; i++)
        found = equal_jc(&n->enum_vals[i], v, &work);
    if ((rc = charge(c, at, work / 4)))
        return rc;
    if (found)
        return V_OK;
    if (c->quiet || !wants_message(c))
        return V_BAD;
    allot__schema_msg_init(&m);
    for (i = 0; i < n->n_enum && i < 10; i++) {
        if (i)
            allot__schema_msg_adds(&m, ", ");
        msg_add_jval(&m, &n->enum_vals[i]);
    }
    if (n->n_enum > 10)
        allot__schema_msg_adds(&m, ", ...");
    if (n->n_enum == 0)
        return invalid(c, at, "no value is allowed here (enum is empty)");
    return invalid(c, at, "expected %s%s", n->n_enum == 1 ? "" : "one of ", m.s);
}

/* The applicators that apply other subschemas to this same value. */
static int check_inplace(struct vctx *c, const struct node *n, const cJSON *v,
                         const struct ipath *at, int depth)
{
    size_t i, first = 0, matches = 0;
    int rc;

    if (n->ref && (rc = validate(c, n->ref, v, at, depth + 1)))
        return rc;
    for (i = 0; i < n->n_all_of; i++)
        if ((rc = validate(c, n->all_of[i], v, at, depth + 1)))
            return rc;
    if (n->n_any_of) {
        c->quiet++;
        for (i = 0; i < n->n_any_of; i++)
            if ((rc = validate(c, n->any_of[i], v, at, depth + 1)) <= 0)
                break;
        c->quiet--;
        if (rc < 0)
            return rc;
        if (i == n->n_any_of)
            return invalid(c, at, "matches none of the %zu schemas in anyOf", n->n_any_of);
    }
    if (n->n_one_of) {
        c->quiet++;
        for (i = 0; i < n->n_one_of && matches < 2; i++) {
            if ((rc = validate(c, n->one_of[i], v, at, depth + 1)) < 0)
                break;
            if (rc == V_OK && matches++ == 0)
                first = i;
        }
        c->quiet--;
        if (rc < 0)
            return rc;
        if (matches == 0)
            return invalid(c, at, "matches none of the %zu schemas in oneOf", n->n_one_of);
        if (matches > 1)
            return invalid(c, at,
                           "matches schemas %zu and %zu of oneOf, but must match exactly one",
                           first, i - 1);
    }
    if (n->not_) {
        c->quiet++;
        rc = validate(c, n->not_, v, at, depth + 1);
        c->quiet--;
        if (rc < 0)
            return rc;
        if (rc == V_OK)
            return invalid(c, at, "matches the schema in not");
    }
    if (n->has & HAS_IF) {
        const struct node *branch;
        c->quiet++;
        rc = validate(c, n->if_, v, at, depth + 1);
        c->quiet--;
        if (rc < 0)
            return rc;
        branch = rc == V_OK ? n->then_ : n->else_;
        if (branch && (rc = validate(c, branch, v, at, depth + 1)))
            return rc;
    }
    return V_OK;
}

static int validate(struct vctx *c, const struct node *n, const cJSON *v, const struct ipath *at,
                    int depth)
{
    unsigned t;
    int rc;

    if (!n->has)
        return V_OK;
    if (n->has & HAS_FALSE)
        return invalid(c, at, "no value is allowed here (the schema is false)");
    if (depth >= ALLOT_JSON_SCHEMA_MAX_RECURSION)
        return stop(c, at, ALLOT_ETOOBIG, "the schema recurses more than %d levels deep here",
                    ALLOT_JSON_SCHEMA_MAX_RECURSION);
    if ((rc = charge(c, at, 1)))
        return rc;
    t = type_of(v);
    if ((n->has & HAS_TYPE) && !(n->types & t))
        return bad_type(c, at, n->types, v);
    if (n->has & HAS_CONST) {
        size_t work = 0;
        int equal = equal_jc(n->const_val, v, &work);
        if ((rc = charge(c, at, work / 4)))
            return rc;
        if (!equal)
            return bad_const(c, at, n->const_val);
    }
    if ((n->has & HAS_ENUM) && (rc = check_enum(c, n, v, at)))
        return rc;
    rc = V_OK;
    if ((t & T_NUM) && (n->has & HAS_NUMBER_KW))
        rc = check_number(c, n, v, at);
    else if (t == T_STR && (n->has & HAS_STRING_KW))
        rc = check_string(c, n, v, at);
    else if (t == T_ARR && (n->has & HAS_ARRAY_KW))
        rc = check_array(c, n, v, at, depth);
    else if (t == T_OBJ && (n->has & HAS_OBJECT_KW))
        rc = check_object(c, n, v, at, depth);
    if (rc)
        return rc;
    if (n->has & HAS_INPLACE)
        return check_inplace(c, n, v, at, depth);
    return V_OK;
}

int allot_json_schema_validate(const struct allot_json_schema *s, const cJSON *instance,
                               struct allot_buf *why)
{
    struct vctx c;
    struct regex_scratch *old;
    int rc;

    if (!s || !instance)
        return ALLOT_EINVAL;
    memset(&c, 0, sizeof c);
    /* the spare match block is the only thing validation changes in the
     * schema, through atomics */
    c.s = (struct allot_json_schema *)s;
    c.why = why;
    rc = validate(&c, s->root, instance, NULL, 0);
    if (c.rx && c.rx_grown) {
        allot__schema_scratch_free(c.rx); /* its frames may have grown to the heap limit */
    } else if (c.rx) {
        old = atomic_exchange(&c.s->spare, c.rx);
        allot__schema_scratch_free(old);
    }
    return rc == V_BAD ? ALLOT_EINVAL : rc;
}
