/* classify.h: the kind-of-work classifier, behind a narrow interface.
 *
 * In: the instruction of a request (struct allot_instruction). Out: a
 * category, a confidence in [0,1] and a short human-readable reason. The
 * current implementation is a transparent rule set (src/route/classify.c);
 * the learned model of issue 3 replaces it behind this same interface. */
#ifndef ALLOT_CLASSIFY_H
#define ALLOT_CLASSIFY_H
#include <stddef.h>
#include "allot/kinds.h"
#include "allot/slice.h"

struct allot_chat_request;

struct allot_instruction {
    struct allot_slice system;    /* system prompt text */
    struct allot_slice last_user; /* last user turn text */
    size_t n_messages;
    size_t n_tool_results;
    size_t material_bytes;
    int has_tools;
    int has_response_format;
};

#define ALLOT_REASON_MAX 160

struct allot_classification {
    enum allot_category category;
    double confidence;             /* in [0, 1] */
    char reason[ALLOT_REASON_MAX]; /* e.g. "'review' cue: \"review this\"" */
};

/* Fill in from a parsed request (slices point into it). */
void allot_instruction_from_request(const struct allot_chat_request *r,
                                    struct allot_instruction *out);

/* Classify. Never fails on any input; always sets *out. Pure and
 * thread-safe; does not allocate. */
void allot_classify(const struct allot_instruction *in, struct allot_classification *out);

#endif
