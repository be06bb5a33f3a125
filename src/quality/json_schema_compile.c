/* json_schema_compile.c: compiling a JSON Schema (draft 2020-12) over
 * cJSON into the tree json_schema_validate.c walks (see json_schema.h and
 * json_schema_internal.h), and freeing it; also the bounded messages both
 * halves report with.
 *
 * The schema is the client's, so everything here is bounded: compile
 * recursion by the subschema depth cap, the schema's size by the node and
 * value caps.
 *
 * DESIGN: compile turns the schema into a tree of struct node, one per
 * subschema, with each keyword checked and stored in the form validation
 * wants (sorted property names, numbers as doubles, const and enum values
 * copied as struct jval, regexes compiled). Nodes, strings and values live
 * in one arena freed in one go; PCRE2 codes are listed apart and freed
 * with it. A $ref is resolved after the walk: its JSON pointer is followed
 * in the source document and the target compiled there if it was not
 * already (a pointer may land outside any schema keyword); a map from
 * source item to node makes each target compile once. A cycle of $ref and
 * in-place applicators that never descends into the instance would recurse
 * forever, so it is refused at compile time. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cJSON.h>
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
#include "allot/json_check.h"
#include "allot/json_schema.h"
#include "quality/json_schema_internal.h"

/* ---- messages ---------------------------------------------------------- */

void allot__schema_msg_init(struct msg *m)
{
    m->len = 0;
    m->cut = 0;
    m->s[0] = '\0';
}

static size_t utf8_floor(const char *s, size_t n, size_t full)
{
    /* back off so as not to split a UTF-8 sequence at s[n] */
    while (n > 0 && n < full && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

void allot__schema_msg_add(struct msg *m, const char *p, size_t n)
{
    size_t room;

    if (m->cut)
        return;
    room = MSG_MAX - 4 - m->len; /* keep room for "..." and the NUL */
    if (n > room) {
        n = utf8_floor(p, room, n);
        m->cut = 1;
    }
    memcpy(m->s + m->len, p, n);
    m->len += n;
    if (m->cut) {
        memcpy(m->s + m->len, "...", 3);
        m->len += 3;
    }
    m->s[m->len] = '\0';
}

void allot__schema_msg_adds(struct msg *m, const char *s)
{
    allot__schema_msg_add(m, s, strlen(s));
}

FORMAT(2, 0) void allot__schema_msg_vaddf(struct msg *m, const char *fmt, va_list ap)
{
    char tmp[MSG_MAX];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);

    if (n < 0)
        return;
    allot__schema_msg_add(m, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

FORMAT(2, 3) void allot__schema_msg_addf(struct msg *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    allot__schema_msg_vaddf(m, fmt, ap);
    va_end(ap);
}

/* s as a JSON string literal, escaping quotes, backslashes and controls,
 * cut after max bytes. */
void allot__schema_msg_add_quoted(struct msg *m, const char *s, size_t max)
{
    size_t i, n = strlen(s), start = 0;
    int cut = 0;

    if (n > max) {
        n = utf8_floor(s, max, n);
        cut = 1;
    }
    allot__schema_msg_add(m, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        allot__schema_msg_add(m, s + start, i - start);
        if (ch == '"' || ch == '\\') {
            allot__schema_msg_add(m, "\\", 1);
            allot__schema_msg_add(m, s + i, 1);
        } else {
            allot__schema_msg_addf(m, "\\u%04x", ch);
        }
        start = i + 1;
    }
    allot__schema_msg_add(m, s + start, n - start);
    allot__schema_msg_adds(m, cut ? "...\"" : "\"");
}

/* One reference token of a JSON pointer: ~ as ~0, / as ~1. */
void allot__schema_msg_add_token(struct msg *m, const char *key)
{
    const char *p = key, *q;

    while ((q = strpbrk(p, "~/")) != NULL) {
        allot__schema_msg_add(m, p, (size_t)(q - p));
        allot__schema_msg_adds(m, *q == '~' ? "~0" : "~1");
        p = q + 1;
    }
    allot__schema_msg_adds(m, p);
}

/* Append the message to b, as much of it as b's cap allows. */
void allot__schema_msg_flush(const struct msg *m, struct allot_buf *b)
{
    size_t n = m->len, room;

    if (!b || b->len > b->max)
        return;
    room = b->max - b->len;
    if (n > room)
        n = utf8_floor(m->s, room, n);
    if (n)
        (void)allot_buf_add(b, m->s, n); /* best effort: only ENOMEM can fail */
}

const char *allot__schema_type_name(const cJSON *v)
{
    switch (v->type & 0xFF) {
    case cJSON_NULL:
        return "null";
    case cJSON_False:
    case cJSON_True:
        return "a boolean";
    case cJSON_Number:
        return "a number";
    case cJSON_String:
        return "a string";
    case cJSON_Array:
        return "an array";
    case cJSON_Object:
        return "an object";
    default:
        return "an unknown value";
    }
}

/* ---- arena ------------------------------------------------------------- */

static void *arena_alloc(struct allot_json_schema *s, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    struct chunk *ch = s->chunks;
    void *p;

    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + align - 1) & ~(align - 1);
    if (!ch || ch->cap - ch->used < size) {
        size_t cap = ch ? ch->cap * 2 : 4096;
        if (cap > 65536)
            cap = 65536;
        if (cap < size)
            cap = size;
        ch = malloc(sizeof *ch + cap);
        if (!ch)
            return NULL;
        ch->next = s->chunks;
        ch->used = 0;
        ch->cap = cap;
        s->chunks = ch;
    }
    p = (unsigned char *)ch->data + ch->used;
    ch->used += size;
    return p;
}

/* n zeroed elements of size bytes; NULL on overflow or ENOMEM. */
static void *arena_array(struct allot_json_schema *s, size_t n, size_t size)
{
    void *p;

    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / size)
        return NULL;
    p = arena_alloc(s, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

static const char *arena_strdup(struct allot_json_schema *s, const char *str)
{
    size_t n = strlen(str) + 1;
    char *p = arena_alloc(s, n);

    if (p)
        memcpy(p, str, n);
    return p;
}

/* ---- compile ----------------------------------------------------------- */

struct pending_ref {
    struct node *node;
    const cJSON *ref; /* the "$ref" member */
};

struct map_slot {
    const cJSON *key;
    struct node *node;
};

/* The state of one compile. */
struct cctx {
    const cJSON *root;
    struct allot_json_schema *s;
    struct allot_buf *err;
    size_t n_nodes, n_values;
    struct node *all; /* every node, newest first (struct node's next_all) */
    int id_depth;     /* inside subschemas with their own $id */
    struct pending_ref *refs;
    size_t n_refs, cap_refs;
    struct map_slot *map; /* source item -> node, once refs are being resolved */
    size_t map_cap, map_count;
    pcre2_compile_context *compile_ctx;
};

/* Find target under cur and append its JSON pointer to m. */
static int find_path(struct msg *m, const cJSON *cur, const cJSON *target, int depth)
{
    const cJSON *kid;
    size_t mark = m->len, i = 0;
    int cut = m->cut;

    if (cur == target)
        return 1;
    if (depth > 1100 || !(cJSON_IsObject(cur) || cJSON_IsArray(cur)))
        return 0;
    for (kid = cur->child; kid; kid = kid->next, i++) {
        m->len = mark;
        m->cut = cut;
        allot__schema_msg_add(m, "/", 1);
        if (cJSON_IsObject(cur))
            allot__schema_msg_add_token(m, kid->string ? kid->string : "");
        else
            allot__schema_msg_addf(m, "%zu", i);
        if (find_path(m, kid, target, depth + 1))
            return 1;
    }
    m->len = mark;
    m->cut = cut;
    m->s[mark] = '\0';
    return 0;
}

/* Report a compile error at item: "schema at <pointer>: <why>". */
FORMAT(4, 5) static int fail_at(struct cctx *c, const cJSON *item, int code, const char *fmt, ...)
{
    struct msg m;
    va_list ap;

    if (!c->err)
        return code;
    allot__schema_msg_init(&m);
    allot__schema_msg_adds(&m, "schema at ");
    if (item == c->root || !find_path(&m, c->root, item, 0))
        allot__schema_msg_adds(&m, "the root");
    allot__schema_msg_adds(&m, ": ");
    va_start(ap, fmt);
    allot__schema_msg_vaddf(&m, fmt, ap);
    va_end(ap);
    allot__schema_msg_flush(&m, c->err);
    return code;
}

static int nomem(struct cctx *c, const cJSON *item)
{
    return fail_at(c, item, ALLOT_ENOMEM, "out of memory");
}

static size_t map_hash(const cJSON *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static struct node *map_get(const struct cctx *c, const cJSON *key)
{
    size_t i;

    for (i = map_hash(key, c->map_cap); c->map[i].key; i = (i + 1) & (c->map_cap - 1))
        if (c->map[i].key == key)
            return c->map[i].node;
    return NULL;
}

static void map_insert(struct map_slot *map, size_t cap, const cJSON *key, struct node *node)
{
    size_t i = map_hash(key, cap);

    while (map[i].key)
        i = (i + 1) & (cap - 1);
    map[i].key = key;
    map[i].node = node;
}

static int map_put(struct cctx *c, const cJSON *key, struct node *node)
{
    if (2 * (c->map_count + 1) > c->map_cap) {
        size_t cap = c->map_cap ? c->map_cap * 2 : 64, i;
        struct map_slot *map;
        while (2 * (c->map_count + 1) > cap)
            cap *= 2;
        map = calloc(cap, sizeof *map);
        if (!map)
            return ALLOT_ENOMEM;
        for (i = 0; i < c->map_cap; i++)
            if (c->map[i].key)
                map_insert(map, cap, c->map[i].key, c->map[i].node);
        free(c->map);
        c->map = map;
        c->map_cap = cap;
    }
    map_insert(c->map, c->map_cap, key, node);
    c->map_count++;
    return 0;
}

/* Keywords. */
enum kw {
    KW_UNKNOWN,
    KW_DEFS,
    KW_DYNAMIC_REF,
    KW_RECURSIVE_REF,
    KW_REF,
    KW_ADDITIONAL_PROPERTIES,
    KW_ALL_OF,
    KW_ANY_OF,
    KW_CONST,
    KW_CONTAINS,
    KW_DEFINITIONS,
    KW_DEPENDENT_REQUIRED,
    KW_DEPENDENT_SCHEMAS,
    KW_ELSE,
    KW_ENUM,
    KW_EXCLUSIVE_MAXIMUM,
    KW_EXCLUSIVE_MINIMUM,
    KW_IF,
    KW_ITEMS,
    KW_MAX_CONTAINS,
    KW_MAX_ITEMS,
    KW_MAX_LENGTH,
    KW_MAX_PROPERTIES,
    KW_MAXIMUM,
    KW_MIN_CONTAINS,
    KW_MIN_ITEMS,
    KW_MIN_LENGTH,
    KW_MIN_PROPERTIES,
    KW_MINIMUM,
    KW_MULTIPLE_OF,
    KW_NOT,
    KW_ONE_OF,
    KW_PATTERN,
    KW_PATTERN_PROPERTIES,
    KW_PREFIX_ITEMS,
    KW_PROPERTIES,
    KW_PROPERTY_NAMES,
    KW_REQUIRED,
    KW_THEN,
    KW_TYPE,
    KW_UNEVALUATED_ITEMS,
    KW_UNEVALUATED_PROPERTIES,
    KW_UNIQUE_ITEMS,
};

static const struct {
    const char *name;
    enum kw kw;
} keywords[] = {
    {"$defs", KW_DEFS},
    {"$dynamicRef", KW_DYNAMIC_REF},
    {"$recursiveRef", KW_RECURSIVE_REF},
    {"$ref", KW_REF},
    {"additionalProperties", KW_ADDITIONAL_PROPERTIES},
    {"allOf", KW_ALL_OF},
    {"anyOf", KW_ANY_OF},
    {"const", KW_CONST},
    {"contains", KW_CONTAINS},
    {"definitions", KW_DEFINITIONS},
    {"dependentRequired", KW_DEPENDENT_REQUIRED},
    {"dependentSchemas", KW_DEPENDENT_SCHEMAS},
    {"else", KW_ELSE},
    {"enum", KW_ENUM},
    {"exclusiveMaximum", KW_EXCLUSIVE_MAXIMUM},
    {"exclusiveMinimum", KW_EXCLUSIVE_MINIMUM},
    {"if", KW_IF},
    {"items", KW_ITEMS},
    {"maxContains", KW_MAX_CONTAINS},
    {"maxItems", KW_MAX_ITEMS},
    {"maxLength", KW_MAX_LENGTH},
    {"maxProperties", KW_MAX_PROPERTIES},
    {"maximum", KW_MAXIMUM},
    {"minContains", KW_MIN_CONTAINS},
    {"minItems", KW_MIN_ITEMS},
    {"minLength", KW_MIN_LENGTH},
    {"minProperties", KW_MIN_PROPERTIES},
    {"minimum", KW_MINIMUM},
    {"multipleOf", KW_MULTIPLE_OF},
    {"not", KW_NOT},
    {"oneOf", KW_ONE_OF},
    {"pattern", KW_PATTERN},
    {"patternProperties", KW_PATTERN_PROPERTIES},
    {"prefixItems", KW_PREFIX_ITEMS},
    {"properties", KW_PROPERTIES},
    {"propertyNames", KW_PROPERTY_NAMES},
    {"required", KW_REQUIRED},
    {"then", KW_THEN},
    {"type", KW_TYPE},
    {"unevaluatedItems", KW_UNEVALUATED_ITEMS},
    {"unevaluatedProperties", KW_UNEVALUATED_PROPERTIES},
    {"uniqueItems", KW_UNIQUE_ITEMS},
};

static enum kw keyword_of(const char *name)
{
    size_t i;

    /* most members of a schema are keywords; the first byte rules out
     * nearly all the others before any strcmp */
    for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (keywords[i].name[0] == name[0] && strcmp(keywords[i].name, name) == 0)
            return keywords[i].kw;
    return KW_UNKNOWN;
}

static int compile_schema(struct cctx *c, const cJSON *js, int depth, struct node **out);

static int get_number(struct cctx *c, const cJSON *kw, double *out)
{
    if (!cJSON_IsNumber(kw) || !isfinite(kw->valuedouble))
        return fail_at(c, kw, ALLOT_EINVAL, "%s must be a number, got %s", kw->string,
                       allot__schema_type_name(kw));
    *out = kw->valuedouble;
    return 0;
}

static int get_count(struct cctx *c, const cJSON *kw, size_t *out)
{
    double x = kw->valuedouble;

    if (!cJSON_IsNumber(kw) || !(x >= 0) || floor(x) != x)
        return fail_at(c, kw, ALLOT_EINVAL, "%s must be a non-negative integer", kw->string);
    *out = x >= 18446744073709549568.0 ? SIZE_MAX : (size_t)x;
    return 0;
}

static int get_strings(struct cctx *c, const cJSON *kw, const char ***out, size_t *n_out)
{
    const cJSON *it;
    const char **names;
    size_t n = 0, i = 0;

    if (!cJSON_IsArray(kw))
        return fail_at(c, kw, ALLOT_EINVAL, "%s must be an array of strings, got %s", kw->string,
                       allot__schema_type_name(kw));
    for (it = kw->child; it; it = it->next, n++)
        if (!cJSON_IsString(it) || !it->valuestring)
            return fail_at(c, it, ALLOT_EINVAL, "expected a property name (a string), got %s",
                           allot__schema_type_name(it));
    c->n_values += n;
    if (c->n_values > ALLOT_JSON_SCHEMA_MAX_VALUES)
        return fail_at(c, kw, ALLOT_ETOOBIG, "more than %d values in enum, const and required",
                       ALLOT_JSON_SCHEMA_MAX_VALUES);
    names = arena_array(c->s, n, sizeof *names);
    if (!names)
        return nomem(c, kw);
    for (it = kw->child; it; it = it->next, i++)
        if (!(names[i] = arena_strdup(c->s, it->valuestring)))
            return nomem(c, kw);
    *out = names;
    *n_out = n;
    return 0;
}

static int build_jval(struct cctx *c, const cJSON *src, struct jval *out, int depth)
{
    const cJSON *it;
    size_t n = 0, i = 0;
    int rc;

    if (depth > ALLOT_JSON_SCHEMA_MAX_DEPTH)
        return fail_at(c, src, ALLOT_ETOOBIG, "value nested deeper than %d levels",
                       ALLOT_JSON_SCHEMA_MAX_DEPTH);
    if (++c->n_values > ALLOT_JSON_SCHEMA_MAX_VALUES)
        return fail_at(c, src, ALLOT_ETOOBIG, "more than %d values in enum, const and required",
                       ALLOT_JSON_SCHEMA_MAX_VALUES);
    memset(out, 0, sizeof *out);
    switch (src->type & 0xFF) {
    case cJSON_NULL:
        out->type = J_NULL;
        return 0;
    case cJSON_False:
        out->type = J_FALSE;
        return 0;
    case cJSON_True:
        out->type = J_TRUE;
        return 0;
    case cJSON_Number:
        out->type = J_NUM;
        out->num = src->valuedouble;
        return 0;
    case cJSON_String:
        out->type = J_STR;
        out->str = arena_strdup(c->s, src->valuestring ? src->valuestring : "");
        return out->str ? 0 : nomem(c, src);
    case cJSON_Array:
    case cJSON_Object:
        out->type = cJSON_IsArray(src) ? J_ARR : J_OBJ;
        for (it = src->child; it; it = it->next)
            n++;
        out->n = n;
        out->kids = arena_array(c->s, n, sizeof *out->kids);
        if (!out->kids)
            return nomem(c, src);
        if (out->type == J_OBJ && !(out->keys = arena_array(c->s, n, sizeof *out->keys)))
            return nomem(c, src);
        for (it = src->child; it; it = it->next, i++) {
            if (out->type == J_OBJ &&
                !(out->keys[i] = arena_strdup(c->s, it->string ? it->string : "")))
                return nomem(c, src);
            if ((rc = build_jval(c, it, &out->kids[i], depth + 1)))
                return rc;
        }
        return 0;
    default:
        return fail_at(c, src, ALLOT_EINVAL, "not a JSON value");
    }
}

static int compile_regex(struct cctx *c, const cJSON *at, const char *src, const struct regex **out)
{
    uint32_t opts = PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
    size_t len = strlen(src);
    PCRE2_SIZE erroff;
    pcre2_code *code;
    struct regex *re;
    int errcode;

#ifdef PCRE2_MATCH_INVALID_UTF
    /* answers are checked as UTF-8 upstream, but never let a stray byte
     * turn into a match error */
    opts |= PCRE2_MATCH_INVALID_UTF;
#endif
    if (len > ALLOT_JSON_SCHEMA_MAX_PATTERN)
        return fail_at(c, at, ALLOT_ETOOBIG, "regex longer than %d bytes",
                       ALLOT_JSON_SCHEMA_MAX_PATTERN);
    if (!c->compile_ctx) {
        if (!(c->compile_ctx = pcre2_compile_context_create(NULL)))
            return nomem(c, at);
#ifdef PCRE2_EXTRA_ALT_BSUX
        /* \u{...} as well as \uXXXX, as ECMA-262 with the u flag */
        pcre2_set_compile_extra_options(c->compile_ctx, PCRE2_EXTRA_ALT_BSUX);
#endif
    }
    code = pcre2_compile((PCRE2_SPTR)src, len, opts, &errcode, &erroff, c->compile_ctx);
    if (!code) {
        PCRE2_UCHAR why[160];
        if (errcode == PCRE2_ERROR_HEAP_FAILED)
            return nomem(c, at);
        if (pcre2_get_error_message(errcode, why, sizeof why) < 0)
            snprintf((char *)why, sizeof why, "error %d", errcode);
        return fail_at(c, at, ALLOT_EINVAL, "invalid regex: %s at offset %zu", (char *)why,
                       (size_t)erroff);
    }
    re = arena_alloc(c->s, sizeof *re);
    if (!re) {
        pcre2_code_free(code);
        return nomem(c, at);
    }
    re->code = code;
    re->next = c->s->regexes;
    c->s->regexes = re;
    if (!(re->src = arena_strdup(c->s, src)))
        return nomem(c, at);
    *out = re;
    return 0;
}

static int compile_sub(struct cctx *c, const cJSON *js, int depth, struct node **out)
{
    return compile_schema(c, js, depth + 1, out);
}

/* A non-empty array of schemas (allOf, anyOf, oneOf, prefixItems). */
static int compile_sub_array(struct cctx *c, const cJSON *kw, int depth, struct node ***out,
                             size_t *n_out)
{
    const cJSON *it;
    struct node **nodes;
    size_t n = 0, i = 0;
    int rc;

    if (!cJSON_IsArray(kw) || !kw->child)
        return fail_at(c, kw, ALLOT_EINVAL, "%s must be a non-empty array of schemas", kw->string);
    for (it = kw->child; it; it = it->next)
        n++;
    if (!(nodes = arena_array(c->s, n, sizeof *nodes)))
        return nomem(c, kw);
    for (it = kw->child; it; it = it->next, i++)
        if ((rc = compile_sub(c, it, depth, &nodes[i])))
            return rc;
    *out = nodes;
    *n_out = n;
    return 0;
}

static int must_be_object(struct cctx *c, const cJSON *kw, const char *of)
{
    if (cJSON_IsObject(kw))
        return 0;
    return fail_at(c, kw, ALLOT_EINVAL, "%s must be an object of %s, got %s", kw->string, of,
                   allot__schema_type_name(kw));
}

static size_t count_members(const cJSON *kw)
{
    const cJSON *it;
    size_t n = 0;

    for (it = kw->child; it; it = it->next)
        n++;
    return n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct prop *)a)->name, ((const struct prop *)b)->name);
}

size_t allot__schema_find_prop(const struct node *n, const char *key)
{
    size_t lo = 0, hi = n->n_props;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(key, n->props[mid].name);
        if (d == 0)
            return mid;
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NONE;
}

static int compile_properties(struct cctx *c, struct node *n, const cJSON *kw, int depth)
{
    const cJSON *it;
    size_t i = 0, k = count_members(kw);
    int rc;

    if ((rc = must_be_object(c, kw, "schemas")))
        return rc;
    if (!(n->props = arena_array(c->s, k, sizeof *n->props)))
        return nomem(c, kw);
    for (it = kw->child; it; it = it->next, i++) {
        if (!(n->props[i].name = arena_strdup(c->s, it->string ? it->string : "")))
            return nomem(c, kw);
        if ((rc = compile_sub(c, it, depth, &n->props[i].schema)))
            return rc;
    }
    qsort(n->props, k, sizeof *n->props, by_name);
    n->n_props = k;
    n->has |= HAS_MEMBERS;
    return 0;
}

static int compile_pattern_properties(struct cctx *c, struct node *n, const cJSON *kw, int depth)
{
    const cJSON *it;
    size_t i = 0, k = count_members(kw);
    int rc;

    if ((rc = must_be_object(c, kw, "schemas")))
        return rc;
    if (!(n->pattern_props = arena_array(c->s, k, sizeof *n->pattern_props)))
        return nomem(c, kw);
    for (it = kw->child; it; it = it->next, i++) {
        if ((rc = compile_regex(c, it, it->string ? it->string : "", &n->pattern_props[i].re)))
            return rc;
        if ((rc = compile_sub(c, it, depth, &n->pattern_props[i].schema)))
            return rc;
    }
    n->n_pattern_props = k;
    n->has |= HAS_MEMBERS;
    return 0;
}

static int compile_dependent_required(struct cctx *c, struct node *n, const cJSON *kw)
{
    const cJSON *it;
    size_t i = 0, k = count_members(kw);
    int rc;

    if ((rc = must_be_object(c, kw, "arrays of property names")))
        return rc;
    if (!(n->dep_required = arena_array(c->s, k, sizeof *n->dep_required)))
        return nomem(c, kw);
    for (it = kw->child; it; it = it->next, i++) {
        struct dep_required *d = &n->dep_required[i];
        if (!(d->name = arena_strdup(c->s, it->string ? it->string : "")))
            return nomem(c, kw);
        if ((rc = get_strings(c, it, &d->names, &d->n)))
            return rc;
    }
    n->n_dep_required = k;
    n->has |= HAS_DEP_REQUIRED;
    return 0;
}

static int compile_dependent_schemas(struct cctx *c, struct node *n, const cJSON *kw, int depth)
{
    const cJSON *it;
    size_t i = 0, k = count_members(kw);
    int rc;

    if ((rc = must_be_object(c, kw, "schemas")))
        return rc;
    if (!(n->dep_schemas = arena_array(c->s, k, sizeof *n->dep_schemas)))
        return nomem(c, kw);
    for (it = kw->child; it; it = it->next, i++) {
        if (!(n->dep_schemas[i].name = arena_strdup(c->s, it->string ? it->string : "")))
            return nomem(c, kw);
        if ((rc = compile_sub(c, it, depth, &n->dep_schemas[i].schema)))
            return rc;
    }
    n->n_dep_schemas = k;
    n->has |= HAS_DEP_SCHEMAS;
    return 0;
}

static int compile_defs(struct cctx *c, const cJSON *kw, int depth)
{
    const cJSON *it;
    struct node *unused;
    int rc;

    if ((rc = must_be_object(c, kw, "schemas")))
        return rc;
    for (it = kw->child; it; it = it->next)
        if ((rc = compile_sub(c, it, depth, &unused)))
            return rc;
    return 0;
}

static int compile_type(struct cctx *c, struct node *n, const cJSON *kw)
{
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {
        {"null", T_NULL},  {"boolean", T_BOOL}, {"integer", T_INT}, {"number", T_NUM | T_INT},
        {"string", T_STR}, {"array", T_ARR},    {"object", T_OBJ},
    };
    const cJSON *it;
    size_t i;

    if (!cJSON_IsString(kw) && !(cJSON_IsArray(kw) && kw->child))
        return fail_at(c, kw, ALLOT_EINVAL,
                       "type must be a type name or a non-empty array of them, got %s",
                       allot__schema_type_name(kw));
    n->types = 0;
    for (it = cJSON_IsString(kw) ? kw : kw->child; it; it = cJSON_IsString(kw) ? NULL : it->next) {
        const char *name = cJSON_IsString(it) ? it->valuestring : NULL;
        for (i = 0; name && i < sizeof names / sizeof names[0]; i++)
            if (strcmp(name, names[i].name) == 0)
                break;
        if (!name || i == sizeof names / sizeof names[0])
            return fail_at(c, it, ALLOT_EINVAL,
                           "unknown type %s%s%s (expected null, boolean, integer, number, string, "
                           "array or object)",
                           name ? "\"" : "", name ? name : allot__schema_type_name(it),
                           name ? "\"" : "");
        n->types |= (unsigned char)names[i].bits;
    }
    n->has |= HAS_TYPE;
    return 0;
}

static int add_ref(struct cctx *c, struct node *n, const cJSON *kw)
{
    if (!cJSON_IsString(kw) || !kw->valuestring)
        return fail_at(c, kw, ALLOT_EINVAL, "$ref must be a string, got %s",
                       allot__schema_type_name(kw));
    if (c->id_depth)
        return fail_at(c, kw, ALLOT_EINVAL,
                       "$ref under a subschema with its own $id (a change of base URI) is not "
                       "supported");
    if (c->n_refs == c->cap_refs) {
        size_t cap = c->cap_refs ? c->cap_refs * 2 : 16;
        struct pending_ref *refs = realloc(c->refs, cap * sizeof *refs);
        if (!refs)
            return nomem(c, kw);
        c->refs = refs;
        c->cap_refs = cap;
    }
    c->refs[c->n_refs].node = n;
    c->refs[c->n_refs].ref = kw;
    c->n_refs++;
    n->has |= HAS_REF;
    return 0;
}

static int compile_keyword(struct cctx *c, struct node *n, const cJSON *kw, int depth)
{
    switch (keyword_of(kw->string)) {
    case KW_UNKNOWN:
        return 0; /* annotations (title, format, ...) and unknown keywords */
    case KW_DYNAMIC_REF:
    case KW_RECURSIVE_REF:
    case KW_UNEVALUATED_ITEMS:
    case KW_UNEVALUATED_PROPERTIES:
        return fail_at(c, kw, ALLOT_EINVAL, "%s is not supported", kw->string);
    case KW_DEFS:
    case KW_DEFINITIONS:
        return compile_defs(c, kw, depth);
    case KW_REF:
        return add_ref(c, n, kw);
    case KW_TYPE:
        return compile_type(c, n, kw);
    case KW_CONST: {
        struct jval *v = arena_alloc(c->s, sizeof *v);
        if (!v)
            return nomem(c, kw);
        n->const_val = v;
        n->has |= HAS_CONST;
        return build_jval(c, kw, v, 0);
    }
    case KW_ENUM: {
        struct jval *vals;
        const cJSON *it;
        size_t i = 0, k;
        int rc;
        if (!cJSON_IsArray(kw))
            return fail_at(c, kw, ALLOT_EINVAL, "enum must be an array, got %s",
                           allot__schema_type_name(kw));
        k = count_members(kw);
        if (!(vals = arena_array(c->s, k, sizeof *vals)))
            return nomem(c, kw);
        for (it = kw->child; it; it = it->next, i++)
            if ((rc = build_jval(c, it, &vals[i], 1)))
                return rc;
        n->enum_vals = vals;
        n->n_enum = k;
        n->has |= HAS_ENUM;
        return 0;
    }
    case KW_MULTIPLE_OF:
        if (!cJSON_IsNumber(kw) || !isfinite(kw->valuedouble) || !(kw->valuedouble > 0))
            return fail_at(c, kw, ALLOT_EINVAL, "multipleOf must be a number greater than 0");
        n->multiple_of = kw->valuedouble;
        n->has |= HAS_MULTIPLE_OF;
        return 0;
    case KW_MAXIMUM:
        n->has |= HAS_MAXIMUM;
        return get_number(c, kw, &n->maximum);
    case KW_EXCLUSIVE_MAXIMUM:
        n->has |= HAS_EXCL_MAXIMUM;
        return get_number(c, kw, &n->excl_maximum);
    case KW_MINIMUM:
        n->has |= HAS_MINIMUM;
        return get_number(c, kw, &n->minimum);
    case KW_EXCLUSIVE_MINIMUM:
        n->has |= HAS_EXCL_MINIMUM;
        return get_number(c, kw, &n->excl_minimum);
    case KW_MAX_LENGTH:
        n->has |= HAS_MAX_LENGTH;
        return get_count(c, kw, &n->max_length);
    case KW_MIN_LENGTH:
        n->has |= HAS_MIN_LENGTH;
        return get_count(c, kw, &n->min_length);
    case KW_PATTERN:
        if (!cJSON_IsString(kw) || !kw->valuestring)
            return fail_at(c, kw, ALLOT_EINVAL, "pattern must be a string, got %s",
                           allot__schema_type_name(kw));
        n->has |= HAS_PATTERN;
        return compile_regex(c, kw, kw->valuestring, &n->pattern);
    case KW_MAX_ITEMS:
        n->has |= HAS_MAX_ITEMS;
        return get_count(c, kw, &n->max_items);
    case KW_MIN_ITEMS:
        n->has |= HAS_MIN_ITEMS;
        return get_count(c, kw, &n->min_items);
    case KW_UNIQUE_ITEMS:
        if (!cJSON_IsBool(kw))
            return fail_at(c, kw, ALLOT_EINVAL, "uniqueItems must be a boolean, got %s",
                           allot__schema_type_name(kw));
        if (cJSON_IsTrue(kw))
            n->has |= HAS_UNIQUE_ITEMS;
        return 0;
    case KW_PREFIX_ITEMS:
        n->has |= HAS_ITEMS;
        return compile_sub_array(c, kw, depth, &n->prefix_items, &n->n_prefix);
    case KW_ITEMS:
        if (cJSON_IsArray(kw))
            return fail_at(c, kw, ALLOT_EINVAL,
                           "items must be a schema: its array form is draft 7 and not supported "
                           "(in draft 2020-12, use prefixItems)");
        n->has |= HAS_ITEMS;
        return compile_sub(c, kw, depth, &n->items);
    case KW_CONTAINS:
        return compile_sub(c, kw, depth, &n->contains);
    case KW_MAX_CONTAINS:
        return get_count(c, kw, &n->max_contains);
    case KW_MIN_CONTAINS:
        return get_count(c, kw, &n->min_contains);
    case KW_MAX_PROPERTIES:
        n->has |= HAS_MAX_PROPS;
        return get_count(c, kw, &n->max_props);
    case KW_MIN_PROPERTIES:
        n->has |= HAS_MIN_PROPS;
        return get_count(c, kw, &n->min_props);
    case KW_REQUIRED: {
        const char **names;
        size_t i, k;
        int rc = get_strings(c, kw, &names, &k);
        if (rc)
            return rc;
        if (!(n->required = arena_array(c->s, k, sizeof *n->required)))
            return nomem(c, kw);
        for (i = 0; i < k; i++)
            n->required[i].name = names[i]; /* .prop is set once properties are known */
        n->n_required = k;
        n->has |= k ? HAS_REQUIRED : 0;
        return 0;
    }
    case KW_DEPENDENT_REQUIRED:
        return compile_dependent_required(c, n, kw);
    case KW_PROPERTIES:
        return compile_properties(c, n, kw, depth);
    case KW_PATTERN_PROPERTIES:
        return compile_pattern_properties(c, n, kw, depth);
    case KW_ADDITIONAL_PROPERTIES:
        n->has |= HAS_MEMBERS;
        return compile_sub(c, kw, depth, &n->additional);
    case KW_PROPERTY_NAMES:
        n->has |= HAS_MEMBERS;
        return compile_sub(c, kw, depth, &n->property_names);
    case KW_DEPENDENT_SCHEMAS:
        return compile_dependent_schemas(c, n, kw, depth);
    case KW_ALL_OF:
        n->has |= HAS_ALL_OF;
        return compile_sub_array(c, kw, depth, &n->all_of, &n->n_all_of);
    case KW_ANY_OF:
        n->has |= HAS_ANY_OF;
        return compile_sub_array(c, kw, depth, &n->any_of, &n->n_any_of);
    case KW_ONE_OF:
        n->has |= HAS_ONE_OF;
        return compile_sub_array(c, kw, depth, &n->one_of, &n->n_one_of);
    case KW_NOT:
        n->has |= HAS_NOT;
        return compile_sub(c, kw, depth, &n->not_);
    case KW_IF:
        return compile_sub(c, kw, depth, &n->if_);
    case KW_THEN:
        return compile_sub(c, kw, depth, &n->then_);
    case KW_ELSE:
        return compile_sub(c, kw, depth, &n->else_);
    }
    return 0;
}

/* What the keywords of a node mean together, once all are read. */
static void finish_node(struct node *n)
{
    size_t i;

    if (n->if_ && (n->then_ || n->else_))
        n->has |= HAS_IF;
    if (n->contains)
        n->has |= HAS_CONTAINS; /* minContains and maxContains mean nothing without it */
    for (i = 0; i < n->n_required; i++) {
        size_t p = n->n_props ? allot__schema_find_prop(n, n->required[i].name) : NONE;
        n->required[i].prop = p < SEEN_BITS ? p : NONE;
    }
}

static int compile_schema(struct cctx *c, const cJSON *js, int depth, struct node **out)
{
    const cJSON *kw;
    struct node *n;
    int rc = 0, has_id = 0;

    if (c->map && (n = map_get(c, js))) {
        *out = n;
        return 0;
    }
    if (depth > ALLOT_JSON_SCHEMA_MAX_DEPTH)
        return fail_at(c, js, ALLOT_ETOOBIG, "subschemas nested deeper than %d levels",
                       ALLOT_JSON_SCHEMA_MAX_DEPTH);
    if (c->n_nodes >= ALLOT_JSON_SCHEMA_MAX_NODES)
        return fail_at(c, js, ALLOT_ETOOBIG, "more than %d subschemas",
                       ALLOT_JSON_SCHEMA_MAX_NODES);
    if (!cJSON_IsBool(js) && !cJSON_IsObject(js))
        return fail_at(c, js, ALLOT_EINVAL, "expected a schema (an object or a boolean), got %s",
                       allot__schema_type_name(js));
    if (!(n = arena_array(c->s, 1, sizeof *n)))
        return nomem(c, js);
    c->n_nodes++;
    n->src = js;
    n->max_length = n->max_items = n->max_props = n->max_contains = SIZE_MAX;
    n->min_contains = 1;
    n->next_all = c->all;
    c->all = n;
    if (c->map && (rc = map_put(c, js, n)))
        return nomem(c, js);
    *out = n;
    if (cJSON_IsBool(js)) {
        n->has = cJSON_IsFalse(js) ? HAS_FALSE : 0;
        return 0;
    }
    /* a $id that is not a plain fragment changes the base URI of the refs
     * below it, which this resolver does not follow */
    for (kw = js->child; kw; kw = kw->next)
        if (kw->string && kw->string[0] == '$' && strcmp(kw->string, "$id") == 0 && js != c->root &&
            cJSON_IsString(kw) && kw->valuestring && kw->valuestring[0] != '#')
            has_id = 1;
    c->id_depth += has_id;
    for (kw = js->child; kw && !rc; kw = kw->next)
        if (kw->string)
            rc = compile_keyword(c, n, kw, depth);
    c->id_depth -= has_id;
    if (!rc)
        finish_node(n);
    return rc;
}

/* Follow the local reference in ref (a "$ref" member) to the item it
 * names in the source document. */
static int follow_ref(struct cctx *c, const cJSON *ref, const cJSON **target)
{
    const char *r = ref->valuestring;
    const cJSON *cur = c->root;
    size_t n, i, k = 0;
    char *ptr, *tok;
    int rc = 0;

    if (r[0] != '#')
        return fail_at(c, ref, ALLOT_EINVAL, "only local references (#...) are supported");
    n = strlen(r + 1);
    if (!(ptr = malloc(n + 1)))
        return nomem(c, ref);
    /* the fragment is URI-encoded: percent-decode it first */
    for (i = 1; r[i]; i++) {
        int hi, lo;
        if (r[i] != '%') {
            ptr[k++] = r[i];
            continue;
        }
        hi = allot_json_check_hex(r[i + 1]);
        lo = hi < 0 ? -1 : allot_json_check_hex(r[i + 2]);
        if (lo < 0 || (hi == 0 && lo == 0)) {
            rc = fail_at(c, ref, ALLOT_EINVAL, "$ref has an invalid percent-escape");
            goto out;
        }
        ptr[k++] = (char)(hi * 16 + lo);
        i += 2;
    }
    ptr[k] = '\0';
    if (k > 0 && ptr[0] != '/') {
        rc = fail_at(c, ref, ALLOT_EINVAL,
                     "only JSON pointer references (#/...) are supported, not anchors");
        goto out;
    }
    for (tok = ptr; cur && *tok == '/';) {
        char *w = tok, *p = tok + 1;
        /* unescape the token in place (it only shrinks): ~0 is ~, ~1 is / */
        for (; *p && *p != '/'; p++) {
            if (*p == '~') {
                if (p[1] != '0' && p[1] != '1') {
                    rc = fail_at(c, ref, ALLOT_EINVAL, "$ref has an invalid ~ escape");
                    goto out;
                }
                *w++ = p[1] == '0' ? '~' : '/';
                p++;
            } else {
                *w++ = *p;
            }
        }
        {
            char next = *p;
            *w = '\0';
            if (cJSON_IsObject(cur)) {
                cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
            } else if (cJSON_IsArray(cur)) {
                const char *d = tok;
                size_t idx = 0;
                int ok = *d && (d[0] != '0' || !d[1]);
                for (; ok && *d; d++) {
                    ok = *d >= '0' && *d <= '9' && idx < SIZE_MAX / 10;
                    idx = idx * 10 + (size_t)(*d - '0');
                }
                for (cur = ok ? cur->child : NULL; cur && idx; idx--)
                    cur = cur->next;
            } else {
                cur = NULL;
            }
            *p = next;
            tok = p;
        }
    }
    if (!cur) {
        struct msg q;
        allot__schema_msg_init(&q);
        allot__schema_msg_add_quoted(&q, r, 200);
        rc = fail_at(c, ref, ALLOT_EINVAL, "$ref %s points to nothing in the schema", q.s);
        goto out;
    }
    *target = cur;
out:
    free(ptr);
    return rc;
}

static int resolve_refs(struct cctx *c)
{
    struct node *n;
    size_t i;
    int rc;

    if (!c->n_refs)
        return 0;
    /* from now on every node is findable by its source item, so that a
     * target compiles once however many refs name it */
    for (n = c->all; n; n = n->next_all)
        if ((rc = map_put(c, n->src, n)))
            return nomem(c, n->src);
    for (i = 0; i < c->n_refs; i++) { /* the list grows as targets compile */
        struct pending_ref p = c->refs[i];
        const cJSON *target = NULL;
        struct node *t;
        if ((rc = follow_ref(c, p.ref, &target)))
            return rc;
        if ((rc = compile_schema(c, target, 0, &t)))
            return rc;
        p.node->ref = t;
    }
    return 0;
}

/* The i-th subschema that n applies to the same instance, NULL past the
 * last. */
static struct node *inplace_edge(const struct node *n, size_t i)
{
    if (n->ref) {
        if (i == 0)
            return n->ref;
        i--;
    }
    if (i < n->n_all_of)
        return n->all_of[i];
    i -= n->n_all_of;
    if (i < n->n_any_of)
        return n->any_of[i];
    i -= n->n_any_of;
    if (i < n->n_one_of)
        return n->one_of[i];
    i -= n->n_one_of;
    if (i < n->n_dep_schemas)
        return n->dep_schemas[i].schema;
    i -= n->n_dep_schemas;
    if (i < 4) {
        /* then and else apply only with an if */
        int with_if = (n->has & HAS_IF) != 0;
        struct node *const in_place[4] = {n->not_, with_if ? n->if_ : NULL,
                                          with_if ? n->then_ : NULL, with_if ? n->else_ : NULL};
        size_t k;
        for (k = 0; k < 4; k++)
            if (in_place[k] && i-- == 0)
                return in_place[k];
    }
    return NULL;
}

/* Refuse a cycle of in-place applicators: validating it never moves to a
 * smaller part of the instance, so it would recurse forever. Iterative
 * depth-first search: grey nodes are on the stack. */
enum { WHITE, GREY, BLACK };

struct dfs_frame {
    struct node *n;
    size_t next; /* index of the next edge to follow (inplace_edge) */
};

static int check_cycles(struct cctx *c)
{
    struct dfs_frame *stack;
    struct node *start;
    size_t sp;
    int rc = 0;

    if (!(stack = malloc(c->n_nodes * sizeof *stack)))
        return nomem(c, c->root);
    for (start = c->all; start && !rc; start = start->next_all) {
        if (start->mark != WHITE)
            continue;
        start->mark = GREY;
        stack[0].n = start;
        stack[0].next = 0;
        sp = 1;
        while (sp && !rc) {
            struct dfs_frame *f = &stack[sp - 1];
            struct node *kid = inplace_edge(f->n, f->next++);
            if (!kid) {
                f->n->mark = BLACK;
                sp--;
            } else if (kid->mark == GREY) {
                const cJSON *at = f->n->src;
                if (f->n->ref == kid && f->next == 1)
                    at = cJSON_GetObjectItemCaseSensitive(at, "$ref");
                rc = fail_at(c, at, ALLOT_EINVAL,
                             "$ref cycle that never descends into the instance (it would recurse "
                             "forever)");
            } else if (kid->mark == WHITE) {
                kid->mark = GREY;
                stack[sp].n = kid;
                stack[sp].next = 0;
                sp++;
            }
        }
    }
    free(stack);
    return rc;
}

int allot_json_schema_compile(const cJSON *schema, struct allot_json_schema **out,
                              struct allot_buf *err)
{
    struct cctx c;
    struct allot_json_schema *s;
    struct node *n;
    int rc;

    if (!schema || !out)
        return ALLOT_EINVAL;
    if (!(s = calloc(1, sizeof *s)))
        return ALLOT_ENOMEM;
    atomic_init(&s->spare, NULL);
    memset(&c, 0, sizeof c);
    c.root = schema;
    c.s = s;
    c.err = err;
    if ((rc = compile_schema(&c, schema, 0, &s->root)))
        goto out;
    if ((rc = resolve_refs(&c)))
        goto out;
    if (c.n_refs && (rc = check_cycles(&c)))
        goto out;
    for (n = c.all; n; n = n->next_all)
        n->src = NULL; /* the caller's tree, which may go away now */
    *out = s;
    s = NULL;
out:
    free(c.refs);
    free(c.map);
    pcre2_compile_context_free(c.compile_ctx);
    allot_json_schema_free(s);
    return rc;
}

void allot__schema_scratch_free(struct regex_scratch *rx)
{
    if (!rx)
        return;
    pcre2_match_data_free(rx->md);
    pcre2_match_context_free(rx->ctx);
    free(rx);
}

void allot_json_schema_free(struct allot_json_schema *s)
{
    struct chunk *ch, *next;
    struct regex *re;

    if (!s)
        return;
    for (re = s->regexes; re; re = re->next)
        pcre2_code_free(re->code);
    allot__schema_scratch_free(atomic_load(&s->spare));
    for (ch = s->chunks; ch; ch = next) {
        next = ch->next;
        free(ch);
    }
    free(s);
}
