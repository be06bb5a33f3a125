/* json_schema.h: JSON Schema (draft 2020-12) validation of answers.
 *
 * When a request asks for response_format json_schema, the answer of a
 * cheap model must validate against the client's schema before allot
 * passes it on. The schema comes from the client and the instance from a
 * model, so both are untrusted: no schema and no instance can crash the
 * validator, make it recurse without bound or run without bound; the caps
 * below say where it stops.
 *
 * A schema is compiled once into a tree (references resolved to nodes,
 * regular expressions compiled with PCRE2) and then validated against any
 * number of instances by walking that tree, with no allocation per node.
 *
 * Supported keywords (2020-12 semantics):
 *   the boolean schemas true and false;
 *   any value: type (a name or an array of names; "integer" accepts 1.0),
 *     enum, const (deep equality, 1 == 1.0);
 *   numbers: multipleOf, maximum, exclusiveMaximum, minimum,
 *     exclusiveMinimum (the numeric forms);
 *   strings: maxLength, minLength (in Unicode code points), pattern (an
 *     unanchored search, PCRE2 in UTF mode, with \uXXXX as in ECMA-262 and
 *     $ matching only at the very end);
 *   arrays: maxItems, minItems, uniqueItems, prefixItems, items (the items
 *     after prefixItems), contains, minContains, maxContains;
 *   objects: maxProperties, minProperties, required, dependentRequired,
 *     properties, patternProperties, additionalProperties, propertyNames,
 *     dependentSchemas;
 *   applicators: allOf, anyOf, oneOf, not, if/then/else, $ref to a JSON
 *     pointer in the same document ("#", "#/$defs/x", "#/definitions/x",
 *     with ~0, ~1 and percent-escapes), $defs and definitions.
 * Annotations and unknown keywords are ignored: format (not asserted),
 * title, description, default, examples, $comment, $schema, $id, $anchor,
 * and the draft-7 keywords dependencies and additionalItems, which
 * 2020-12 does not have. multipleOf allows for the rounding of decimal
 * fractions in doubles (19.99 is a multiple of 0.01). Patterns are PCRE2,
 * which agrees with ECMA-262 on the patterns schemas use.
 * Refused at compile time, with a message saying they are unsupported:
 * unevaluatedProperties, unevaluatedItems, $dynamicRef, $recursiveRef,
 * references that are not local JSON pointers (other documents, anchors),
 * $ref under a subschema with its own $id (a change of base URI), and the
 * draft-7 array form of items (use prefixItems). A $ref cycle that never
 * descends into the instance ({"$ref": "#"}, two definitions that refer to
 * each other through allOf) is refused too: it would recurse forever.
 *
 * Thread-safety: a compiled schema is immutable; any number of threads may
 * validate against it at once. */
#ifndef ALLOT_JSON_SCHEMA_H
#define ALLOT_JSON_SCHEMA_H
#include <cJSON.h>
#include "allot/buf.h"

/* Caps on a schema, checked at compile time (ALLOT_ETOOBIG past them). */
/* Subschemas (objects and booleans in schema positions) in one schema. */
#define ALLOT_JSON_SCHEMA_MAX_NODES 10000
/* Nesting of subschemas within subschemas, and of enum/const values. */
#define ALLOT_JSON_SCHEMA_MAX_DEPTH 64
/* JSON values held by enum, const, required and dependentRequired. */
#define ALLOT_JSON_SCHEMA_MAX_VALUES 100000
/* Bytes in one pattern or patternProperties regex. */
#define ALLOT_JSON_SCHEMA_MAX_PATTERN 8192

/* Caps on one validation (ALLOT_ETOOBIG past them, with the reason in
 * why). */
/* Subschemas applied within one another: only $ref can go this deep, as
 * a recursive schema follows a deeply nested instance. Such a schema
 * usually spends two levels per level of the instance (a property's
 * subschema, then its $ref), so it can follow about 60 levels. */
#define ALLOT_JSON_SCHEMA_MAX_RECURSION 128
/* Work units, about 10 ns each: one per subschema applied to a value, plus
 * a share for string lengths, regex matches, enum and uniqueItems
 * comparisons. A schema whose applicators multiply (anyOf within anyOf
 * through $ref) or a regex that backtracks on every string ends here,
 * after about 0.1 s, instead of running for hours. A typical 4 KB answer
 * takes a few thousand. */
#define ALLOT_JSON_SCHEMA_MAX_STEPS 10000000
/* PCRE2 limits on one regex match: the match and depth limits
 * (pcre2_set_match_limit, pcre2_set_depth_limit) are this plus 8 per byte
 * of the subject, the heap limit is in KiB. A catastrophic pattern such as
 * (a+)+$ stops there (ALLOT_ETOOBIG) within about a millisecond, while a
 * linear pattern passes on strings of any length; each match is charged
 * to the step budget as if it used its whole limit. */
#define ALLOT_JSON_SCHEMA_MATCH_LIMIT 20000
#define ALLOT_JSON_SCHEMA_MATCH_HEAP_LIMIT 8192

/* A compiled schema; immutable once compiled. */
struct allot_json_schema;

/* Compile schema, a cJSON tree the caller keeps: nothing of it is
 * referenced after return. schema and out must not be NULL (ALLOT_EINVAL
 * without a message); err may be NULL. On success *out is a new schema the caller
 * frees with allot_json_schema_free(); on failure *out is not touched and,
 * when err is not NULL, the reason is appended to err, naming the JSON
 * pointer of the bad part:
 *   "schema at /properties/a/pattern: invalid regex: ... at offset 3"
 *   "schema at /$ref: only local references (#...) are supported"
 * Errors: ALLOT_EINVAL (not a valid schema, or a feature refused above),
 * ALLOT_ETOOBIG (a compile-time cap), ALLOT_ENOMEM. */
int allot_json_schema_compile(const cJSON *schema, struct allot_json_schema **out,
                              struct allot_buf *err);

/* Validate instance against s. Returns 0 when it is valid; ALLOT_EINVAL
 * when it is not, with the first failure found appended to why (when not
 * NULL): the instance's JSON pointer, then what failed:
 *   "at /items/3/name: expected a string, got a number"
 *   "at the root: missing required property \"id\""
 * ALLOT_ETOOBIG when a validation cap was hit (the instance is neither
 * accepted nor refused; why says which cap), ALLOT_ENOMEM; ALLOT_EINVAL
 * without a message when s or instance is NULL. why is capped by its own
 * max: a message that does not fit is cut short, the result code is the
 * same. Usually allocates nothing: regex matching borrows scratch memory
 * kept by the schema, and only uniqueItems on more than 16 items
 * allocates (an array of item hashes). */
int allot_json_schema_validate(const struct allot_json_schema *s, const cJSON *instance,
                               struct allot_buf *why);

/* Free a compiled schema. NULL is a no-op. */
void allot_json_schema_free(struct allot_json_schema *s);

#endif
