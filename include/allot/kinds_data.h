/* kinds_data.h: labelled requests for training and measuring the classifier.
 *
 * The format (docs/classifier.md): JSON Lines, one request a line:
 *   {"category": "summarize", "prompt": "Summarise this ..."}
 *   {"category": "decide", "messages": [...], "tools": [...],
 *    "response_format": {...}}
 * "category" is one of the 16 of KINDS.md; "prompt" (one user message) or
 * "messages" (a chat-completions messages array) is required; "tools" and
 * "response_format" are optional and read as a request would carry them.
 * Other keys ("source", "material_from", ...) are ignored. Each line is
 * turned into a chat-completions body and parsed by the gateway's own
 * parser, so training sees exactly what serving sees. Blank lines are
 * skipped. */
#ifndef ALLOT_KINDS_DATA_H
#define ALLOT_KINDS_DATA_H
#include <stddef.h>
#include "allot/buf.h"
#include "allot/chat_request.h"
#include "allot/kinds.h"
#include "allot/kinds_model.h"

/* Called once per example; the request lives only during the call. A
 * non-zero return stops the reading and is returned. */
typedef int (*allot_kinds_example_cb)(void *ctx, const struct allot_chat_request *r,
                                      enum allot_category category, const char *file, size_t line);

/* Read path: a .jsonl file, or a directory whose *.jsonl files are read in
 * name order. Errors: ALLOT_EIO (cannot open), ALLOT_EPARSE / ALLOT_EINVAL
 * for a malformed line, with "FILE:LINE: why" in err; ALLOT_ENOTFOUND for
 * a directory without .jsonl files; ALLOT_ENOMEM; or the callback's code. */
int allot_kinds_data_read(const char *path, allot_kinds_example_cb cb, void *ctx,
                          struct allot_buf *err);

/* Add request r, labelled cat, to t: its instruction (instruction.h) and
 * features (features.h, at t->hash_bits), computed in scratch. The step
 * allot_kinds_data_load() takes for each example, for a caller with its
 * own allot_kinds_data_read() callback. ALLOT_ENOMEM. */
int allot_kinds_trainset_add_request(struct allot_kinds_trainset *t,
                                     const struct allot_chat_request *r, enum allot_category cat,
                                     struct allot_features *scratch);

/* Read path as allot_kinds_data_read() does and add each example's
 * features (instruction.h, features.h, at t->hash_bits) to t. Errors: those
 * of allot_kinds_data_read(), and ALLOT_ENOMEM. */
int allot_kinds_data_load(const char *path, struct allot_kinds_trainset *t, struct allot_buf *err);

#endif
