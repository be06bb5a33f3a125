/* json_schema_internal.h: what the two halves of the JSON Schema
 * validator share: the compiled form of a schema (struct node and the
 * values it holds), built by json_schema_compile.c and walked by
 * json_schema_validate.c, and the bounded messages both report with.
 * See the two .c files for the design. Not part of the public API
 * (allot__ prefix). */
#ifndef ALLOT_QUALITY_JSON_SCHEMA_INTERNAL_H
#define ALLOT_QUALITY_JSON_SCHEMA_INTERNAL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cJSON.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"
#include "allot/json_schema.h"

#define FORMAT(a, b) __attribute__((format(printf, a, b)))

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

/* A message under construction: bounded, on the stack, cut with "..." when
 * it does not fit. */
#define MSG_MAX 1024
struct msg {
    char s[MSG_MAX];
    size_t len;
    int cut;
};

/* Messages, in json_schema_compile.c. A message that does not fit in
 * MSG_MAX is cut with "..." at a UTF-8 boundary; appends after that do
 * nothing. */
/* Start an empty message. */
void allot__schema_msg_init(struct msg *m);
/* Append n bytes of p. */
void allot__schema_msg_add(struct msg *m, const char *p, size_t n);
/* Append the string s. */
void allot__schema_msg_adds(struct msg *m, const char *s);
/* Append printf-formatted text. */
FORMAT(2, 0) void allot__schema_msg_vaddf(struct msg *m, const char *fmt, va_list ap);
FORMAT(2, 3) void allot__schema_msg_addf(struct msg *m, const char *fmt, ...);
/* Append s as a JSON string literal, cut after max bytes. */
void allot__schema_msg_add_quoted(struct msg *m, const char *s, size_t max);
/* Append one reference token of a JSON pointer (~ as ~0, / as ~1). */
void allot__schema_msg_add_token(struct msg *m, const char *key);
/* Append the message to b (may be NULL), as much as b's cap allows. */
void allot__schema_msg_flush(const struct msg *m, struct allot_buf *b);
/* v's JSON type as a message says it: "a string", "an object", ... */
const char *allot__schema_type_name(const cJSON *v);

/* The compiled form, in json_schema_compile.c. */
/* The index of key in n's properties (sorted by name), NONE when absent. */
size_t allot__schema_find_prop(const struct node *n, const char *key);
/* Free a validation's regex scratch memory; NULL is a no-op. */
void allot__schema_scratch_free(struct regex_scratch *rx);

#endif
