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

#endif
