/* json_tree.h: the cJSON tree of a text that passed the strict check.
 *
 * DESIGN: cJSON validates as it reads, one byte at a time (its string
 * reader is a byte loop with a second pass to unescape): about 20
 * instructions a byte, over half of all the work of an Anthropic Messages
 * request that carries a long conversation (28 KB: 650k instructions of
 * 1.19M). The gateway has already checked the text strictly
 * (json_check.h) before it asks for a tree, so reading it again need not
 * validate: allot_json_tree() finds each string's end sixteen bytes a
 * step, copies runs without escapes with memcpy and builds the same tree
 * cJSON_ParseWithLength() builds: the same node types, keys, strings
 * (escapes decoded to the same UTF-8 bytes), numbers (strtod of the same
 * characters, valueint saturated the same way), member order, duplicate
 * keys kept, and the first child's prev pointing at the last, as cJSON's
 * appends expect. The nodes and strings come from cJSON_malloc(), so
 * cJSON_Delete() frees the tree and json_arena.h's arenas hold it.
 *
 * Input: text must have passed allot_json_check() (any flags); on other
 * text the result is unspecified (NULL or some tree), but the reader
 * never reads outside text[0..len) and never recurses (nesting costs no C
 * stack). Returns NULL on allocation failure.
 *
 * Ownership: the caller owns the tree (cJSON_Delete, or its arena).
 * Thread-safe: no state. */
#ifndef ALLOT_JSON_TREE_H
#define ALLOT_JSON_TREE_H
#include <stddef.h>

#include <cjson/cJSON.h>

cJSON *allot_json_tree(const char *text, size_t len);

/* cJSON_ParseWithLength(text, len)'s tree, for text not checked yet (a
 * provider's answer or event): the strict check first (json_check.h), then
 * allot_json_tree(); text the check refuses goes to cJSON as before, so
 * what cJSON accepts and the check does not (a raw control byte in a
 * string, invalid UTF-8, trailing bytes) is read as it always was. NULL
 * where cJSON gives NULL, or on no memory. */
cJSON *allot_json_parse(const char *text, size_t len);

#endif
