/* check.c: the checks on an answer (see check.h).
 *
 * DESIGN: everything that can be decided once is decided in
 * allot_checker_new(): the check set of each (tier, category) pair is
 * resolved into a flat table, and the patterns are compiled (and JIT
 * compiled when PCRE2 has a JIT for this machine). A check then costs a few
 * comparisons, a refusal search over the first REFUSAL_WINDOW bytes, and,
 * only when JSON was asked for, one strict JSON check and (with a schema)
 * one parse, schema compile and validation.
 *
 * The refusal list is deliberately narrow: a phrase counts only near the
 * start of the answer, where a model that declines says so. "The contract
 * says I cannot terminate early" deep in a summary is not a refusal. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/check.h"
#include "allot/error.h"
#include "allot/json_check.h"
#include "allot/json_schema.h"
#include "allot/json_tree.h"
#include "allot/thread_block.h"
#include "allot/utf8.h"

/* A refusal is looked for in this many bytes from the start. */
#define REFUSAL_WINDOW 400
/* PCRE2 limits: a user pattern cannot make a check take long. */
#define MATCH_LIMIT 100000u
#define DEPTH_LIMIT 1000u

/* The built-in refusal phrases: each anchored at the start of the answer,
 * after blanks and markdown emphasis. Case-insensitive; ' or U+2019. */
#define Q "(?:'|\\x{2019})"
#define CANT "(?:can" Q "?t|cannot|can not|am unable to|am not able to|won" Q "?t|will not)"
#define START "\\A[\\s*_\"]*"
static const char *const builtin_refusals[] = {
    START "(?:I" Q "m|I am) (?:very |so |really )?sorry[*_]*,? (?:but )?(?:I\\b|that" Q "s not)",
    START "(?:I" Q "m|I am) afraid (?:I|that)",
    START "I apologi[sz]e,? but",
    START "(?:Sorry|Unfortunately),? (?:but )?I " CANT,
    START "I " CANT " (?:help|assist|provide|comply|do that|do this|fulfil|complete|answer|"
          "create|generate|write|support|engage|share|give)",
    START "I must (?:decline|refuse|respectfully decline)",
    START "As an AI(?: language model| assistant)?,? I (?:" CANT "|don" Q "?t|do not)",
    START "(?:I" Q "m|I am) not (?:able|allowed|permitted) to (?:help|assist|provide|comply|do)",
    START "(?:This|That|Your) request (?:violates|goes against|is against)",
};
#undef START
#undef CANT
#undef Q

struct pattern {
    pcre2_code *re;
};

struct allot_checker {
    struct allot_check_set sets[ALLOT_TIER__COUNT][ALLOT_CAT__COUNT + 1]; /* [t][0]: tier only */
    pcre2_code *refusal; /* the built-in list, one alternation */
    pcre2_code *user_refusal[ALLOT_MAX_REFUSALS];
    size_t n_user_refusal;
    pcre2_code *owned[2 * (ALLOT_TIER__COUNT + ALLOT_CAT__COUNT)]; /* must(_not)_match */
    size_t n_owned;
    pcre2_match_context *mctx;
};

static const char *const check_names[ALLOT_CHECK__COUNT] = {
    [ALLOT_CHECK_PASS] = "pass",
    [ALLOT_CHECK_EMPTY] = "empty",
    [ALLOT_CHECK_TRUNCATED] = "truncated",
    [ALLOT_CHECK_REFUSAL] = "refusal",
    [ALLOT_CHECK_JSON] = "json",
    [ALLOT_CHECK_SCHEMA] = "schema",
    [ALLOT_CHECK_MUST_MATCH] = "must_match",
    [ALLOT_CHECK_MUST_NOT_MATCH] = "must_not_match",
    [ALLOT_CHECK_TOO_SHORT] = "too_short",
    [ALLOT_CHECK_TOO_LONG] = "too_long",
};

const char *allot_check_name(enum allot_check_id id)
{
    return (unsigned)id < ALLOT_CHECK__COUNT ? check_names[id] : "?";
}

static pcre2_code *compile(const char *pat, size_t len, uint32_t opts, struct allot_buf *err,
                           const char *what)
{
    int ecode = 0;
    PCRE2_SIZE eoff = 0;
    /* MATCH_INVALID_UTF: an answer with a stray byte that is not UTF-8 is
     * still searched (the invalid bytes match nothing) instead of failing
     * every match, which would let a refusal or a forbidden phrase through. */
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | opts,
                                   &ecode, &eoff, NULL);

    if (!re) {
        PCRE2_UCHAR why[120];
        pcre2_get_error_message(ecode, why, sizeof why);
        if (err)
            allot_buf_addf(err, "%s: invalid regular expression at offset %zu: %s", what,
                           (size_t)eoff, (const char *)why);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter runs */
    return re;
}

/* A tri-state config field over an inherited value. */
static int pick(int over, int base)
{
    return over >= 0 ? over : base;
}

static long pick_long(long over, long base)
{
    return over >= 0 ? over : base;
}

static const char *pick_str(const char *over, const char *base)
{
    return over ? over : base;
}

/* Fold one config set over a resolved one (field by field). */
static void fold(struct allot_check_conf *acc, const struct allot_check_conf *over)
{
    acc->not_empty = pick(over->not_empty, acc->not_empty);
    acc->not_refusal = pick(over->not_refusal, acc->not_refusal);
    acc->not_truncated = pick(over->not_truncated, acc->not_truncated);
    acc->json = pick(over->json, acc->json);
    acc->schema = pick(over->schema, acc->schema);
    acc->escalate = pick(over->escalate, acc->escalate);
    acc->min_chars = pick_long(over->min_chars, acc->min_chars);
    acc->max_chars = pick_long(over->max_chars, acc->max_chars);
    acc->must_match = (char *)pick_str(over->must_match, acc->must_match);
    acc->must_not_match = (char *)pick_str(over->must_not_match, acc->must_not_match);
    acc->stream = (char *)pick_str(over->stream, acc->stream);
}

/* The compiled form of a pattern text of the config (the resolved sets
 * point at the config's own strings). */
static const pcre2_code *pattern_for(const struct allot_checker *c, const struct allot_config *cfg,
                                     const char *text)
{
    size_t i;

    for (i = 0; text && i < ALLOT_TIER__COUNT + ALLOT_CAT__COUNT; i++) {
        const struct allot_check_conf *k = i < ALLOT_TIER__COUNT
                                               ? &cfg->quality.tier[i]
                                               : &cfg->quality.category[i - ALLOT_TIER__COUNT];
        if (k->must_match == text)
            return c->owned[2 * i];
        if (k->must_not_match == text)
            return c->owned[2 * i + 1];
    }
    return NULL;
}

int allot_checker_new(const struct allot_config *cfg, struct allot_checker **out,
                      struct allot_buf *err)
{
    struct allot_checker *c = calloc(1, sizeof *c);
    const struct allot_quality *q = &cfg->quality;
    struct allot_buf all;
    size_t i;
    int rc = 0, t, k;

    allot_buf_init(&all, 8192);
    if (!c) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if (!(c->mctx = pcre2_match_context_create(NULL))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    pcre2_set_match_limit(c->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(c->mctx, DEPTH_LIMIT);

    for (i = 0; i < sizeof builtin_refusals / sizeof builtin_refusals[0]; i++) {
        if (allot_buf_addf(&all, "%s(?:%s)", i ? "|" : "", builtin_refusals[i])) {
            rc = ALLOT_ENOMEM;
            goto out;
        }
    }
    if (!(c->refusal = compile(all.ptr, all.len, PCRE2_CASELESS, err, "built-in refusals"))) {
        rc = ALLOT_ECONFIG;
        goto out;
    }
    for (i = 0; i < q->n_refusals; i++) {
        /* anchored like the built-ins: at the start, after blanks and emphasis */
        allot_buf_reset(&all);
        if (allot_buf_addf(&all, "\\A[\\s*_\"]*(?:%s)", q->refusals[i])) {
            rc = ALLOT_ENOMEM;
            goto out;
        }
        if (!(c->user_refusal[i] =
                  compile(all.ptr, all.len, PCRE2_CASELESS, err, "quality.refusals"))) {
            rc = ALLOT_ECONFIG;
            goto out;
        }
        c->n_user_refusal++;
    }
    for (i = 0; i < ALLOT_TIER__COUNT + ALLOT_CAT__COUNT; i++) {
        const struct allot_check_conf *kc =
            i < ALLOT_TIER__COUNT ? &q->tier[i] : &q->category[i - ALLOT_TIER__COUNT];
        if (kc->must_match && !(c->owned[2 * i] = compile(kc->must_match, strlen(kc->must_match), 0,
                                                          err, "quality.checks must_match"))) {
            rc = ALLOT_ECONFIG;
            goto out;
        }
        if (kc->must_not_match &&
            !(c->owned[2 * i + 1] = compile(kc->must_not_match, strlen(kc->must_not_match), 0, err,
                                            "quality.checks must_not_match"))) {
            rc = ALLOT_ECONFIG;
            goto out;
        }
    }

    for (t = 0; t < ALLOT_TIER__COUNT; t++) {
        for (k = 0; k <= ALLOT_CAT__COUNT; k++) {
            struct allot_check_set *s = &c->sets[t][k];
            struct allot_check_conf acc;

            memset(&acc, 0, sizeof acc);
            acc.min_chars = acc.max_chars = -1;
            acc.escalate = 1;           /* wherever there is a tier to go to */
            if (t == ALLOT_TIER_LABOUR) /* the built-in defaults that protect */
                acc.not_empty = acc.not_refusal = acc.not_truncated = acc.json = acc.schema = 1;
            fold(&acc, &q->tier[t]);
            if (k > 0)
                fold(&acc, &q->category[k - 1]);
            s->flags = (acc.not_empty > 0 ? ALLOT_CHECK_F_NOT_EMPTY : 0) |
                       (acc.not_refusal > 0 ? ALLOT_CHECK_F_NOT_REFUSAL : 0) |
                       (acc.not_truncated > 0 ? ALLOT_CHECK_F_NOT_TRUNCATED : 0) |
                       (acc.json > 0 ? ALLOT_CHECK_F_JSON : 0) |
                       (acc.schema > 0 ? ALLOT_CHECK_F_SCHEMA : 0);
            s->min_chars = acc.min_chars;
            s->max_chars = acc.max_chars;
            s->must_match = pattern_for(c, cfg, acc.must_match);
            s->must_not_match = pattern_for(c, cfg, acc.must_not_match);
            s->escalate = acc.escalate > 0;
            s->stream = acc.stream && !strcmp(acc.stream, "buffer") ? ALLOT_STREAM_CHECK_BUFFER
                                                                    : ALLOT_STREAM_CHECK_AFTER;
            s->escalate_to = t == ALLOT_TIER_LABOUR ? (int)ALLOT_TIER_JUDGMENT
                             : t == ALLOT_TIER_CODE && q->code_escalates_to &&
                                     !strcmp(q->code_escalates_to, "judgment")
                                 ? (int)ALLOT_TIER_JUDGMENT
                                 : -1;
            if (s->escalate_to >= 0 && cfg->tiers[s->escalate_to].n_models == 0)
                s->escalate_to = -1;
            s->active = q->enabled && (s->flags || s->min_chars >= 0 || s->max_chars >= 0 ||
                                       s->must_match || s->must_not_match);
        }
    }
    *out = c;
    c = NULL;
out:
    allot_buf_release(&all);
    allot_checker_free(c);
    return rc;
}

void allot_checker_free(struct allot_checker *c)
{
    size_t i;

    if (!c)
        return;
    pcre2_code_free(c->refusal);
    for (i = 0; i < c->n_user_refusal; i++)
        pcre2_code_free(c->user_refusal[i]);
    for (i = 0; i < sizeof c->owned / sizeof c->owned[0]; i++)
        pcre2_code_free(c->owned[i]);
    pcre2_match_context_free(c->mctx);
    free(c);
}

const struct allot_check_set *allot_checker_set(const struct allot_checker *c, enum allot_tier t,
                                                int has_category, enum allot_category cat)
{
    size_t k = has_category && (unsigned)cat < ALLOT_CAT__COUNT ? (size_t)cat + 1 : 0;
    return &c->sets[(unsigned)t < ALLOT_TIER__COUNT ? t : 0][k];
}

/* The match data search() uses, one a thread and kept: made and freed on
 * every answer it was two allocations a request. */
struct match_block {
    pcre2_match_data *md;
};

static void match_block_release(void *p)
{
    pcre2_match_data_free(((struct match_block *)p)->md);
}

static struct allot_thread_block match_blocks =
    ALLOT_THREAD_BLOCK_INIT(sizeof(struct match_block), match_block_release);

/* 1 when re matches somewhere in text, 0 when not, -1 when the match could
 * not finish (limit, or no memory): callers treat that as no match. The
 * start of the match goes to *at when at is not NULL. */
static int search(const struct allot_checker *c, const pcre2_code *re, const char *text, size_t len,
                  size_t *at)
{
    struct match_block *mb = allot_thread_block_get(&match_blocks);
    int rc;

    if (!mb || (!mb->md && !(mb->md = pcre2_match_data_create(1, NULL))))
        return -1;
    rc = pcre2_match(re, (PCRE2_SPTR)(text ? text : ""), len, 0, 0, mb->md, c->mctx);
    /* 0: a match whose groups did not fit the one-pair match data; the
     * whole match (pair 0) is there all the same */
    if (rc >= 0 && at)
        *at = (size_t)pcre2_get_ovector_pointer(mb->md)[0];
    return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* Up to n bytes of s as printable, header-safe text: controls, quotes and
 * backslashes become spaces, a byte that is not (or does not complete) a
 * UTF-8 sequence is dropped. */
static void snippet(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i = 0, o = 0, k;

    while (i < n && o + 1 < cap) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80) {
            dst[o++] = ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\' ? ' ' : (char)ch;
            i++;
            continue;
        }
        k = allot_utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k == 0) {
            i++;
            continue;
        }
        if (o + k + 1 > cap)
            break;
        memcpy(dst + o, s + i, k);
        o += k;
        i += k;
    }
    dst[o] = '\0';
}

int allot_checker_is_refusal(const struct allot_checker *c, const char *text, size_t len)
{
    size_t i, n = len < REFUSAL_WINDOW ? len : REFUSAL_WINDOW;

    /* Do not cut a UTF-8 sequence: the pattern is matched as UTF-8. */
    while (n < len && n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    if (search(c, c->refusal, text, n, NULL) == 1)
        return 1;
    for (i = 0; i < c->n_user_refusal; i++) {
        if (search(c, c->user_refusal[i], text, n, NULL) == 1)
            return 1;
    }
    return 0;
}

static const char *json_string(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The validator's words in a detail: double quotes become single ones,
 * backslashes and control bytes spaces, so a detail is plain text. */
static void plain_text(char *s)
{
    for (; *s; s++) {
        if (*s == '"')
            *s = '\'';
        else if (*s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
    }
}

/* The JSON checker's reason, header-safe: it quotes the character it did
 * not expect (which may be a quote or a backslash) and writes \\u. */
static const char *json_why(const struct allot_json_check_error *e, const struct allot_answer *a)
{
    if (e->kind == ALLOT_JSON_CHECK_UNEXPECTED && e->pos < a->content_len &&
        (a->content[e->pos] == '"' || a->content[e->pos] == '\\'))
        return a->content[e->pos] == '"' ? "unexpected double quote" : "unexpected backslash";
    if (e->kind == ALLOT_JSON_CHECK_U_ESCAPE)
        return "invalid u escape in string";
    if (e->kind == ALLOT_JSON_CHECK_NUL)
        return "the escape u0000 is not allowed in strings";
    return e->why;
}

/* The JSON checks: the content must be one JSON value (json, or schema
 * with a schema given: a schema implies JSON), and with a schema it must
 * validate against it. */
static int check_json(const struct allot_check_set *set, const cJSON *response_format,
                      const struct allot_answer *a, struct allot_check_verdict *out)
{
    const char *type = json_string(response_format, "type");
    const cJSON *schema = NULL;
    struct allot_json_check_error jerr;
    struct allot_json_schema *compiled = NULL;
    struct allot_buf why;
    cJSON *doc = NULL;
    int rc = 0;

    if (!type || (strcmp(type, "json_object") && strcmp(type, "json_schema")))
        return 0;
    if (!strcmp(type, "json_schema"))
        schema = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(response_format, "json_schema"), "schema");
    if (!(set->flags & ALLOT_CHECK_F_JSON) && !((set->flags & ALLOT_CHECK_F_SCHEMA) && schema))
        return 0;
    allot_buf_init(&why, 512);
    if (allot_json_check(a->content ? a->content : "", a->content_len, 0, NULL, NULL, &jerr)) {
        out->failed = ALLOT_CHECK_JSON;
        snprintf(out->detail, sizeof out->detail,
                 "json: the answer is not JSON: %s at line %zu column %zu", json_why(&jerr, a),
                 jerr.line, jerr.column);
        goto out;
    }
    if (!(set->flags & ALLOT_CHECK_F_SCHEMA) || !schema)
        goto out;
    if (!(doc = allot_json_tree(a->content, a->content_len))) { /* checked above */
        rc = ALLOT_ENOMEM;
        goto out;
    }
    rc = allot_json_schema_compile(schema, &compiled, &why);
    if (rc == ALLOT_ENOMEM)
        goto out;
    if (rc) {
        rc = 0; /* the client's schema: not the answer's fault */
        snprintf(out->detail, sizeof out->detail, "schema not applied: %.150s",
                 allot_buf_cstr(&why));
        plain_text(out->detail);
        goto out;
    }
    rc = allot_json_schema_validate(compiled, doc, &why);
    if (rc == ALLOT_ENOMEM)
        goto out;
    if (rc) {
        rc = 0;
        out->failed = ALLOT_CHECK_SCHEMA;
        snprintf(out->detail, sizeof out->detail, "schema: %.170s", allot_buf_cstr(&why));
        plain_text(out->detail);
    }
out:
    allot_json_schema_free(compiled);
    cJSON_Delete(doc);
    allot_buf_release(&why);
    return rc;
}

int allot_check_answer(const struct allot_checker *c, const struct allot_check_set *set,
                       const cJSON *response_format, const struct allot_answer *a,
                       struct allot_check_verdict *out)
{
    size_t len = a->content_len, at = 0, i;
    char snip[64];
    int rc = 0, r;

    out->failed = ALLOT_CHECK_PASS;
    out->detail[0] = '\0';
    if (!set->active)
        goto out;
    if ((set->flags & ALLOT_CHECK_F_NOT_EMPTY) && !a->has_tool_calls) {
        for (i = 0; i < len && (a->content[i] == ' ' || a->content[i] == '\n' ||
                                a->content[i] == '\t' || a->content[i] == '\r');
             i++)
            ;
        if (i == len) {
            out->failed = ALLOT_CHECK_EMPTY;
            snprintf(out->detail, sizeof out->detail, "empty: the answer has no content%s",
                     len ? " (only whitespace)" : "");
            goto out;
        }
    }
    if ((set->flags & ALLOT_CHECK_F_NOT_TRUNCATED) && a->finish_reason &&
        !strcmp(a->finish_reason, "length")) {
        out->failed = ALLOT_CHECK_TRUNCATED;
        snprintf(out->detail, sizeof out->detail,
                 "truncated: finish_reason 'length' after %zu bytes", len);
        goto out;
    }
    if ((set->flags & ALLOT_CHECK_F_NOT_REFUSAL) && len &&
        allot_checker_is_refusal(c, a->content, len)) {
        snippet(snip, sizeof snip, a->content, len < 48 ? len : 48);
        out->failed = ALLOT_CHECK_REFUSAL;
        snprintf(out->detail, sizeof out->detail, "refusal: the answer opens with '%s'", snip);
        goto out;
    }
    if ((set->flags & (ALLOT_CHECK_F_JSON | ALLOT_CHECK_F_SCHEMA)) && response_format &&
        !a->has_tool_calls) {
        if ((rc = check_json(set, response_format, a, out)) || out->failed)
            goto out;
    }
    if (set->must_match && (r = search(c, set->must_match, a->content, len, NULL)) != 1) {
        out->failed = ALLOT_CHECK_MUST_MATCH;
        snprintf(out->detail, sizeof out->detail, "must_match: %s",
                 r == 0 ? "the pattern does not match"
                        : "the pattern could not be matched (match limit or invalid UTF-8)");
        goto out;
    }
    if (set->must_not_match && search(c, set->must_not_match, a->content, len, &at) == 1) {
        snippet(snip, sizeof snip, a->content + at, len - at < 40 ? len - at : 40);
        out->failed = ALLOT_CHECK_MUST_NOT_MATCH;
        snprintf(out->detail, sizeof out->detail, "must_not_match: matched at byte %zu: '%s'", at,
                 snip);
        goto out;
    }
    if (set->min_chars >= 0 && len < (size_t)set->min_chars) {
        out->failed = ALLOT_CHECK_TOO_SHORT;
        snprintf(out->detail, sizeof out->detail, "too_short: %zu bytes, at least %ld wanted", len,
                 set->min_chars);
        goto out;
    }
    if (set->max_chars >= 0 && len > (size_t)set->max_chars) {
        out->failed = ALLOT_CHECK_TOO_LONG;
        snprintf(out->detail, sizeof out->detail, "too_long: %zu bytes, at most %ld wanted", len,
                 set->max_chars);
        goto out;
    }
out:
    return rc;
}
