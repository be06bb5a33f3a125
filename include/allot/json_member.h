/* json_member.h: member lookup in a cJSON object under allot's rule for
 * duplicate keys.
 *
 * The strict checker (json_check.h) lets duplicate keys through, and the
 * last one counts, as in most upstreams' parsers; cJSON's own lookup finds
 * the first (and ignores case in cJSON_GetObjectItem). Everything that
 * reads a request or an answer looks members up here instead.
 *
 * Errors: none. The result points into obj (owned by its tree). */
#ifndef ALLOT_JSON_MEMBER_H
#define ALLOT_JSON_MEMBER_H
#include <cJSON.h>

/* The last member of obj named name (case-sensitive), or NULL when obj is
 * not an object or has no such member. */
cJSON *allot_json_member(const cJSON *obj, const char *name);

/* The value of the last top-level member named name (an ASCII name; keys
 * compared decoded, as cJSON decodes them) of the JSON object in
 * text[0..len), read on its own: the text is checked whole
 * (allot_json_check(), flags 0) but only that member's value is built into
 * a tree (allot_json_tree(), json_tree.h), for reading one member of a large object cheaply. The
 * same tree allot_json_member(cJSON_Parse(text), name) gives. The caller owns it (cJSON_Delete;
 * from the current arena, json_arena.h). NULL when the text fails the check, is not an object, has
 * no such member, or on no memory: a caller that must tell these apart parses the whole text
 * instead. */
cJSON *allot_json_parse_member(const char *text, size_t len, const char *name);

#endif
