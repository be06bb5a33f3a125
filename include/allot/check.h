/* check.h: the checks on an answer (the quality floor, docs/quality.md).
 *
 * A checker is built once from the config: the check set of every
 * (tier, category) pair is resolved (a category's keys override its tier's,
 * the tier's override the built-in labour defaults), and every pattern is
 * compiled with PCRE2 (JIT when available). After that it is immutable and
 * may be used from any thread.
 *
 * An answer passes when each enabled check passes, in this order: not
 * empty, not truncated, not a refusal, JSON, schema, must_match,
 * must_not_match, min_chars, max_chars. The first failure is the verdict.
 *
 * Ownership: the checker owns its compiled patterns; a check set returned
 * by allot_checker_set() lives as long as the checker. Nothing an answer
 * points to is kept. */
#ifndef ALLOT_CHECK_H
#define ALLOT_CHECK_H
#include <stddef.h>
#include <cJSON.h>
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/kinds.h"

struct allot_checker;

enum allot_check_id {
    ALLOT_CHECK_PASS = 0,
    ALLOT_CHECK_EMPTY,          /* "empty": no content and no tool calls */
    ALLOT_CHECK_TRUNCATED,      /* "truncated": finish_reason "length" */
    ALLOT_CHECK_REFUSAL,        /* "refusal": opens with a refusal phrase */
    ALLOT_CHECK_JSON,           /* "json": JSON asked for, the content is not JSON */
    ALLOT_CHECK_SCHEMA,         /* "schema": JSON that fails response_format's schema */
    ALLOT_CHECK_MUST_MATCH,     /* "must_match" */
    ALLOT_CHECK_MUST_NOT_MATCH, /* "must_not_match" */
    ALLOT_CHECK_TOO_SHORT,      /* "too_short": under min_chars */
    ALLOT_CHECK_TOO_LONG,       /* "too_long": over max_chars */
    ALLOT_CHECK__COUNT
};

/* Flags of a resolved check set. */
#define ALLOT_CHECK_F_NOT_EMPTY 0x01u
#define ALLOT_CHECK_F_NOT_REFUSAL 0x02u
#define ALLOT_CHECK_F_NOT_TRUNCATED 0x04u
#define ALLOT_CHECK_F_JSON 0x08u
#define ALLOT_CHECK_F_SCHEMA 0x10u

/* The checks that apply to answers of one tier for one category. */
struct allot_check_set {
    int active;                /* at least one check is on: answers are checked */
    unsigned flags;            /* ALLOT_CHECK_F_* */
    long min_chars, max_chars; /* -1: no bound */
    const void *must_match;    /* compiled pattern (pcre2_code); NULL: none */
    const void *must_not_match;
    int escalate;                   /* a failure goes to the next tier up */
    enum allot_stream_check stream; /* what a streamed answer gets */
    int escalate_to;                /* enum allot_tier, or -1: nowhere to go */
};

/* An answer as the checks see it. content need not be NUL-terminated. */
struct allot_answer {
    const char *content;
    size_t content_len;
    int has_tool_calls;
    const char *finish_reason; /* NUL-terminated; NULL when absent */
};

/* What the checks said. detail is short, header-safe text, e.g.
 * "refusal: opens with \"I'm sorry, but I can't\"" or
 * "schema: at /items/0/price: expected a number, got a string". */
struct allot_check_verdict {
    enum allot_check_id failed; /* ALLOT_CHECK_PASS when every check passed */
    char detail[192];
};

/* Build the checker. Errors: ALLOT_ECONFIG when a pattern does not compile
 * (err names it; allot_config_load has already refused such a file, so this
 * only happens for configs built by hand), ALLOT_ENOMEM. */
int allot_checker_new(const struct allot_config *cfg, struct allot_checker **out,
                      struct allot_buf *err);
void allot_checker_free(struct allot_checker *c);

/* The check set for answers served by tier t for category cat (has_category
 * 0: the tier's own set). Never NULL; .active is 0 when nothing is checked
 * (or quality.enabled is false). */
const struct allot_check_set *allot_checker_set(const struct allot_checker *c, enum allot_tier t,
                                                int has_category, enum allot_category cat);

/* Check one answer. response_format is the request's "response_format"
 * (NULL when none): it says whether JSON, and which schema, is expected.
 * Returns 0 with out->failed set (ALLOT_CHECK_PASS or the failed check), or
 * ALLOT_ENOMEM. A schema the client sent that allot cannot compile fails
 * nothing: the verdict is a pass, and detail says why the schema was not
 * applied. */
int allot_check_answer(const struct allot_checker *c, const struct allot_check_set *set,
                       const cJSON *response_format, const struct allot_answer *a,
                       struct allot_check_verdict *out);

/* "pass", "empty", "truncated", "refusal", "json", "schema", "must_match",
 * "must_not_match", "too_short", "too_long". */
const char *allot_check_name(enum allot_check_id id);

/* Is the text a refusal (the built-in list and the checker's own
 * patterns, at its start)? For tests and `allot route`. */
int allot_checker_is_refusal(const struct allot_checker *c, const char *text, size_t len);

#endif
