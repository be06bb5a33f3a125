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

/* allot_json_parse()'s tree of text[0..len) (json_tree.h) for a reader
 * that looks up, at the top level, only the members named in names (a
 * NULL-terminated list of ASCII names, keys compared decoded): when the
 * text is a JSON object that passes the check, the tree holds only those
 * members, every one of each in text order, so a lookup of any of them
 * by either rule (first or last of duplicates) finds what it finds in the
 * whole tree. What a stream event's readers want of it is two or three of
 * its members, not the id, model and fingerprint every event repeats.
 * Any other text is parsed whole, as allot_json_parse() does; more than
 * ALLOT_JSON_PARSE_MEMBERS_MAX matching members too. The members' names
 * are the strings of names, not copies: they must outlive the tree (string
 * literals do). The caller owns the tree (cJSON_Delete; from the current
 * arena, json_arena.h). NULL where
 * allot_json_parse() gives NULL, or on no memory. */
#define ALLOT_JSON_PARSE_MEMBERS_MAX 16
cJSON *allot_json_parse_members(const char *text, size_t len, const char *const *names);

#endif
