/* anthropic_internal.h: what the Anthropic dialect's files share
 * (anthropic_json.c, anthropic_request.c, anthropic_answer.c): JSON
 * writing straight into a capped allot_buf. Not a public API. */
#ifndef ALLOT_ANTHROPIC_INTERNAL_H
#define ALLOT_ANTHROPIC_INTERNAL_H
#include <cJSON.h>
#include "allot/buf.h"

/* Integers print as integers up to 2^53, the exactly representable range. */
#define EXACT_INT_MAX 9007199254740992.0

/* The last member of obj named name, or NULL (obj not an object, or no
 * such member). */
const cJSON *allot__anth_member(const cJSON *obj, const char *name);
/* Undo appends: cut b back to len bytes (len <= b->len). */
void allot__anth_buf_cut(struct allot_buf *b, size_t len);
/* Append s as a JSON string. Errors as allot_buf_add_json_str. */
int allot__anth_add_str(struct allot_buf *b, const char *s);
/* Append d as a JSON number (null when not finite). */
int allot__anth_add_number(struct allot_buf *b, double d);
/* Append v serialised as JSON. ALLOT_ENOMEM, ALLOT_ETOOBIG. */
int allot__anth_add_json(struct allot_buf *b, const cJSON *v);

#endif
