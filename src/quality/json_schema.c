/* json_schema.c: JSON Schema (draft 2020-12) validation over cJSON (see
 * json_schema.h).
 *
 * The schema is the client's and the instance a model's, so everything
 * here is bounded: compile recursion by the subschema depth cap, the
 * schema's size by the node and value caps, validation recursion by
 * ALLOT_JSON_SCHEMA_MAX_RECURSION, its total work by a step budget, and
 * each regex match by PCRE2's match, depth and heap limits.
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
 * forever, so it is refused at compile time.
 *
 * Validation walks the tree recursively. The instance path of the failure
 * is a chain of frames on the C stack (struct ipath), turned into a JSON
 * pointer only when a failure is reported. Branches whose failure is not
 * the instance's (anyOf, oneOf, not, if, contains) run "quiet" and format
 * nothing. Regex matching needs PCRE2 scratch memory (match data, and a
 * match context whose limits follow each subject); the schema keeps one
 * spare, handed over with an atomic exchange, so that a validation
 * usually allocates nothing and validations on many threads stay
 * independent. That spare is the only part of a compiled schema that
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
#include "allot/json_check.h"
#include "allot/json_schema.h"

#define FORMAT(a, b) __attribute__((format(printf, a, b)))

/* Internal results of validation besides the negative ALLOT_E* codes. */
#define V_OK 0
#define V_BAD 1

/* A size_t that means "none" (no index, no limit). */
#define NONE SIZE_MAX

/* Instance types, as bits of struct node's types. */
enum {
    T_NULL = 1u << 0,
    T_BOOL = 1u << 1,
    T_INT = 1u << 2,
    T_NUM = 1u << 3,
    T_STR = 1u << 4,
    T_ARR = 1u << 5,
    T_OBJ = 1u << 6,
};

/* What a node checks, so that validation skips what is absent. */
enum {
    HAS_FALSE = 1u << 0,
    HAS_TYPE = 1u << 1,
    HAS_CONST = 1u << 2,
    HAS_ENUM = 1u << 3,
    HAS_MULTIPLE_OF = 1u << 4,
    HAS_MAXIMUM = 1u << 5,
    HAS_EXCL_MAXIMUM = 1u << 6,
    HAS_MINIMUM = 1u << 7,
    HAS_EXCL_MINIMUM = 1u << 8,
    HAS_MAX_LENGTH = 1u << 9,
    HAS_MIN_LENGTH = 1u << 10,
    HAS_PATTERN = 1u << 11,
    HAS_MAX_ITEMS = 1u << 12,
    HAS_MIN_ITEMS = 1u << 13,
    HAS_UNIQUE_ITEMS = 1u << 14,
    HAS_ITEMS = 1u << 15, /* prefixItems or items */
    HAS_CONTAINS = 1u << 16,
    HAS_MAX_PROPS = 1u << 17,
    HAS_MIN_PROPS = 1u << 18,
    HAS_REQUIRED = 1u << 19,
    HAS_DEP_REQUIRED = 1u << 20,
    HAS_MEMBERS = 1u << 21, /* properties, patternProperties, additionalProperties, propertyNames */
    HAS_DEP_SCHEMAS = 1u << 22,
    HAS_REF = 1u << 23,
    HAS_ALL_OF = 1u << 24,
    HAS_ANY_OF = 1u << 25,
    HAS_ONE_OF = 1u << 26,
    HAS_NOT = 1u << 27,
    HAS_IF = 1u << 28, /* if, with then or else */
};
#define HAS_NUMBER_KW                                                                              \
    (HAS_MULTIPLE_OF | HAS_MAXIMUM | HAS_EXCL_MAXIMUM | HAS_MINIMUM | HAS_EXCL_MINIMUM)
#define HAS_STRING_KW (HAS_MAX_LENGTH | HAS_MIN_LENGTH | HAS_PATTERN)
#define HAS_ARRAY_KW (HAS_MAX_ITEMS | HAS_MIN_ITEMS | HAS_UNIQUE_ITEMS | HAS_ITEMS | HAS_CONTAINS)
#define HAS_OBJECT_KW                                                                              \
    (HAS_MAX_PROPS | HAS_MIN_PROPS | HAS_REQUIRED | HAS_DEP_REQUIRED | HAS_MEMBERS |               \
     HAS_DEP_SCHEMAS)
#define HAS_INPLACE (HAS_REF | HAS_ALL_OF | HAS_ANY_OF | HAS_ONE_OF | HAS_NOT | HAS_IF)

/* Required properties whose index in properties is below this are found
 * with a bitmap filled while the members are walked; the others by a scan
 * of the members. */
#define SEEN_BITS 256

/* A JSON value held by the schema (const, enum), copied out of cJSON. */
enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };
struct jval {
    enum jtype type;
    size_t n;          /* members of an array or object */
    double num;        /* J_NUM */
    const char *str;   /* J_STR */
    struct jval *kids; /* J_ARR, J_OBJ */
    const char **keys; /* J_OBJ */
};

struct regex {
    pcre2_code *code;
    const char *src; /* for messages */
    struct regex *next;
};

struct prop {
    const char *name;
    struct node *schema;
};

struct pattern_prop {
    const struct regex *re;
    struct node *schema;
};

struct required {
    const char *name;
    size_t prop; /* index in the node's properties, NONE when not there or past SEEN_BITS */
};

struct dep_required {
    const char *name;
    const char **names;
    size_t n;
};

struct dep_schema {
    const char *name;
    struct node *schema;
};

/* One subschema. A node with has == 0 accepts everything (true, {}). */
struct node {
    unsigned has;          /* HAS_* */
    unsigned char types;   /* T_* allowed, with HAS_TYPE */
    unsigned char mark;    /* compile time: colour in the cycle search */
    const cJSON *src;      /* compile time only: where the node came from */
    struct node *next_all; /* every node of the schema, newest first */

    const struct jval *const_val;
    const struct jval *enum_vals;
    size_t n_enum;

    double multiple_of, maximum, excl_maximum, minimum, excl_minimum;
    size_t max_length, min_length;
    const struct regex *pattern;

    size_t max_items, min_items, max_contains, min_contains;
    struct node **prefix_items;
    size_t n_prefix;
    struct node *items, *contains;

    size_t max_props, min_props;
    struct prop *props; /* sorted by name */
    size_t n_props;
    struct pattern_prop *pattern_props;
    size_t n_pattern_props;
    struct node *additional, *property_names;
    struct required *required;
    size_t n_required;
    struct dep_required *dep_required;
    size_t n_dep_required;
    struct dep_schema *dep_schemas;
    size_t n_dep_schemas;

    struct node *ref;
    struct node **all_of, **any_of, **one_of;
    size_t n_all_of, n_any_of, n_one_of;
    struct node *not_, *if_, *then_, *else_;
};

/* What a validation needs to match regexes: PCRE2 keeps its backtracking
 * frames in the match data, and the limits change with each subject, so
 * the context is the validation's own. The schema keeps one spare. */
struct regex_scratch {
    pcre2_match_data *md;
    pcre2_match_context *ctx;
};

/* Arena chunk. */
struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct allot_json_schema {
    struct node *root;
    struct chunk *chunks;
    struct regex *regexes;
    _Atomic(struct regex_scratch *) spare; /* see struct regex_scratch */
};

/* ---- messages ---------------------------------------------------------- */

/* A message under construction: bounded, on the stack, cut with "..." when
 * it does not fit. */
#define MSG_MAX 1024
struct msg {
    char s[MSG_MAX];
    size_t len;
    int cut;
};

static void msg_init(struct msg *m)
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

static void msg_add(struct msg *m, const char *p, size_t n)
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

static void msg_adds(struct msg *m, const char *s)
{
    msg_add(m, s, strlen(s));
}

FORMAT(2, 0) static void msg_vaddf(struct msg *m, const char *fmt, va_list ap)
{
    char tmp[MSG_MAX];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);

    if (n < 0)
        return;
    msg_add(m, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

FORMAT(2, 3) static void msg_addf(struct msg *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_vaddf(m, fmt, ap);
    va_end(ap);
}

/* s as a JSON string literal, escaping quotes, backslashes and controls,
 * cut after max bytes. */
static void msg_add_quoted(struct msg *m, const char *s, size_t max)
{
    size_t i, n = strlen(s), start = 0;
    int cut = 0;

    if (n > max) {
        n = utf8_floor(s, max, n);
        cut = 1;
    }
    msg_add(m, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        msg_add(m, s + start, i - start);
        if (ch == '"' || ch == '\\') {
            msg_add(m, "\\", 1);
            msg_add(m, s + i, 1);
        } else {
            msg_addf(m, "\\u%04x", ch);
        }
        start = i + 1;
    }
    msg_add(m, s + start, n - start);
    msg_adds(m, cut ? "...\"" : "\"");
}

/* One reference token of a JSON pointer: ~ as ~0, / as ~1. */
static void msg_add_token(struct msg *m, const char *key)
{
    const char *p = key, *q;

    while ((q = strpbrk(p, "~/")) != NULL) {
        msg_add(m, p, (size_t)(q - p));
        msg_adds(m, *q == '~' ? "~0" : "~1");
        p = q + 1;
    }
    msg_adds(m, p);
}

/* Append the message to b, as much of it as b's cap allows. */
static void msg_flush(const struct msg *m, struct allot_buf *b)
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
        msg_adds(m, "null");
        break;
    case J_FALSE:
        msg_adds(m, "false");
        break;
    case J_TRUE:
        msg_adds(m, "true");
        break;
    case J_NUM:
        fmt_num(num, v->num);
        msg_adds(m, num);
        break;
    case J_STR:
        msg_add_quoted(m, v->str, 200);
        break;
    case J_ARR:
    case J_OBJ:
        msg_adds(m, v->type == J_ARR ? "[" : "{");
        for (i = 0; i < v->n && !m->cut; i++) {
            if (i)
                msg_adds(m, ",");
            if (v->type == J_OBJ) {
                msg_add_quoted(m, v->keys[i], 200);
                msg_adds(m, ":");
            }
            msg_add_jval(m, &v->kids[i]);
        }
        msg_adds(m, v->type == J_ARR ? "]" : "}");
        break;
    }
}

static const char *json_type_name(const cJSON *v)
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
        msg_add(m, "/", 1);
        if (cJSON_IsObject(cur))
            msg_add_token(m, kid->string ? kid->string : "");
        else
            msg_addf(m, "%zu", i);
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
    msg_init(&m);
    msg_adds(&m, "schema at ");
    if (item == c->root || !find_path(&m, c->root, item, 0))
        msg_adds(&m, "the root");
    msg_adds(&m, ": ");
    va_start(ap, fmt);
    msg_vaddf(&m, fmt, ap);
    va_end(ap);
    msg_flush(&m, c->err);
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
                       json_type_name(kw));
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
                       json_type_name(kw));
    for (it = kw->child; it; it = it->next, n++)
        if (!cJSON_IsString(it) || !it->valuestring)
            return fail_at(c, it, ALLOT_EINVAL, "expected a property name (a string), got %s",
                           json_type_name(it));
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
                   json_type_name(kw));
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

static size_t find_prop(const struct node *n, const char *key)
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
                       json_type_name(kw));
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
                           name ? "\"" : "", name ? name : json_type_name(it), name ? "\"" : "");
        n->types |= (unsigned char)names[i].bits;
    }
    n->has |= HAS_TYPE;
    return 0;
}

static int add_ref(struct cctx *c, struct node *n, const cJSON *kw)
{
    if (!cJSON_IsString(kw) || !kw->valuestring)
        return fail_at(c, kw, ALLOT_EINVAL, "$ref must be a string, got %s", json_type_name(kw));
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
                           json_type_name(kw));
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
                           json_type_name(kw));
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
                           json_type_name(kw));
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
        size_t p = n->n_props ? find_prop(n, n->required[i].name) : NONE;
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
                       json_type_name(js));
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
        msg_init(&q);
        msg_add_quoted(&q, r, 200);
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

static void scratch_free(struct regex_scratch *rx)
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
    scratch_free(atomic_load(&s->spare));
    for (ch = s->chunks; ch; ch = next) {
        next = ch->next;
        free(ch);
    }
    free(s);
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
    msg_add(m, "/", 1);
    if (p->key)
        msg_add_token(m, p->key);
    else
        msg_addf(m, "%zu", p->index);
}

static int wants_message(const struct vctx *c)
{
    return c->why && !c->reported;
}

FORMAT(4, 0)
static void say(struct vctx *c, const struct ipath *at, int hard, const char *fmt, va_list ap)
{
    struct msg m;

    msg_init(&m);
    msg_adds(&m, "at ");
    if (at)
        msg_add_path(&m, at);
    else
        msg_adds(&m, "the root");
    msg_adds(&m, ": ");
    if (c->name && !hard)
        msg_adds(&m, "property name: ");
    msg_vaddf(&m, fmt, ap);
    msg_flush(&m, c->why);
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
    return invalid(c, at, "expected %s, got %s", expected, json_type_name(v));
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
            scratch_free(rx);
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
        msg_init(&m);
        msg_add_quoted(&m, re->src, 100);
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
            msg_init(&m);
            msg_add_quoted(&m, n->pattern->src, 200);
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
        msg_init(&m);
        if (n->has & HAS_MINIMUM) {
            fmt_num(a, n->minimum);
            msg_addf(&m, ">= %s", a);
        }
        if (n->has & HAS_EXCL_MINIMUM) {
            fmt_num(a, n->excl_minimum);
            msg_addf(&m, "%s> %s", m.len ? " and " : "", a);
        }
        if (n->has & HAS_MAXIMUM) {
            fmt_num(a, n->maximum);
            msg_addf(&m, "%s<= %s", m.len ? " and " : "", a);
        }
        if (n->has & HAS_EXCL_MAXIMUM) {
            fmt_num(a, n->excl_maximum);
            msg_addf(&m, "%s< %s", m.len ? " and " : "", a);
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
    msg_init(&m);
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
    msg_init(&m);
    msg_add_quoted(&m, name, 200);
    if (because) {
        msg_adds(&m, " (required when ");
        msg_add_quoted(&m, because, 200);
        msg_adds(&m, " is present)");
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

    if (n->n_props && (p = find_prop(n, key)) != NONE) {
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
    msg_init(&m);
    for (i = 0; i < n->n_enum && i < 10; i++) {
        if (i)
            msg_adds(&m, ", ");
        msg_add_jval(&m, &n->enum_vals[i]);
    }
    if (n->n_enum > 10)
        msg_adds(&m, ", ...");
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
        scratch_free(c.rx); /* its frames may have grown to the heap limit */
    } else if (c.rx) {
        old = atomic_exchange(&c.s->spare, c.rx);
        scratch_free(old);
    }
    return rc == V_BAD ? ALLOT_EINVAL : rc;
}
