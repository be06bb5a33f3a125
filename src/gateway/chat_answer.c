/* chat_answer.c: a plain chat completion's counts, content and finish
 * reason, read off the checked text (chat_answer.h).
 *
 * The text passes allot_json_check() first, so the walks below can trust
 * its shape: every string is closed and valid, every bracket matched. The
 * lookups mirror cJSON's for the tree exchange.c used to build: a member
 * of an object is its first of that name; a member looked up in anything
 * but an object is absent; the size of tool_calls counts an object's
 * members as cJSON_GetArraySize() does. */
#include <string.h>
#include "allot/chat_answer.h"
#include "allot/json_check.h"
#include "allot/json_text.h"

/* The first members of an object named in names[0..n) (ASCII). */
#define MAX_NAMES 3
struct lookup {
    const char *text;
    const char *const *names;
    size_t n;
    struct allot_slice found[MAX_NAMES]; /* value spans; ptr NULL: absent */
    size_t n_found;
    int whole;       /* walk every member (for last_end), not stop at the last name */
    size_t last_end; /* just past the last member's value; 0: none seen */
};

/* Returns 1 (stop) once every name is found: only the first counts. */
static int note_member(void *ctx, const struct allot_json_check_member *m)
{
    struct lookup *l = ctx;
    size_t k;

    for (k = 0; k < l->n; k++) {
        if (!l->found[k].ptr && allot_json_check_key_is(l->text, m, l->names[k])) {
            l->found[k].ptr = l->text + m->value_off;
            l->found[k].len = m->value_len;
            l->n_found++;
            break;
        }
    }
    l->last_end = m->value_off + m->value_len;
    return !l->whole && l->n_found == l->n;
}

/* The same for the top-level object, told its members by the check. */
static void note_top_member(void *ctx, const struct allot_json_check_member *m)
{
    note_member(ctx, m);
}

/* Look names up in the value v, if it is an object (else all absent). */
static void lookup(struct allot_slice v, const char *const *names, size_t n, struct lookup *l)
{
    memset(l, 0, sizeof *l);
    l->text = v.ptr;
    l->names = names;
    l->n = n;
    if (v.ptr && v.len && v.ptr[0] == '{')
        allot_json_check_members(v.ptr, v.len, note_member, l);
}

/* A token count as exchange.c's json_int() reads cJSON's number: 0 when
 * absent, not a number, or negative; -1 when only strtod() would say. */
static int64_t count_of(struct allot_slice v)
{
    int64_t c = 0;
    size_t i;

    if (!v.ptr || !v.len || !(v.ptr[0] == '-' || (v.ptr[0] >= '0' && v.ptr[0] <= '9')))
        return 0;
    if (v.ptr[0] == '-') /* below zero, or -0: json_int() gives 0 */
        return 0;
    if (v.len > 15) /* a double holds every integer of 15 digits exactly */
        return -1;
    for (i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1; /* a fraction or an exponent */
        c = c * 10 + (v.ptr[i] - '0');
    }
    return c;
}

static const char *const top_names[] = {"choices", "usage"};
static const char *const usage_names[] = {"prompt_tokens", "completion_tokens",
                                          "prompt_tokens_details"};
static const char *const details_names[] = {"cached_tokens", "cache_write_tokens"};
static const char *const choice_names[] = {"message", "finish_reason"};
static const char *const message_names[] = {"content", "tool_calls", "function_call"};

/* The element of choices that starts at rest.ptr (the array's text from
 * there on); first: it is choices[0]. Returns the element's length: an
 * object's is known once its members are walked, so it is not scanned
 * twice. */
static size_t read_choice(struct allot_slice rest, int first, struct allot_chat_answer *a)
{
    struct lookup lc, lm;
    struct allot_slice content;
    size_t end;

    if (rest.ptr[0] != '{') /* no members: nothing of it is read */
        return allot_json_text_value_end(rest.ptr, rest.len, 0);
    memset(&lc, 0, sizeof lc);
    lc.text = rest.ptr;
    lc.names = choice_names;
    lc.n = 2;
    lc.whole = 1;
    allot_json_check_members(rest.ptr, rest.len, note_member, &lc);
    /* the closing brace follows the last member, or the opening one */
    end = allot_json_check_skip_ws(rest.ptr, rest.len, lc.last_end ? lc.last_end : 1) + 1;
    lookup(lc.found[0], message_names, 3, &lm);
    content = allot_json_text_string_body(lm.found[0]);
    if (content.ptr) {
        size_t len = allot_json_text_decoded_len(content.ptr, content.len);
        a->content_bytes += len;
        if (first) {
            a->content = content;
            a->content_len = len;
        }
    }
    if (first) {
        a->has_tool_calls = allot_json_text_has_children(lm.found[1]) ||
                            (lm.found[2].ptr && lm.found[2].len && lm.found[2].ptr[0] == '{');
        a->finish_reason = allot_json_text_string_body(lc.found[1]);
    }
    return end;
}

int allot_chat_answer_read(const char *text, size_t len, struct allot_chat_answer *out)
{
    struct allot_chat_answer a;
    struct lookup top, usage, details;
    struct allot_slice choices;
    size_t i;

    memset(&top, 0, sizeof top);
    top.text = text;
    top.names = top_names;
    top.n = 2;
    if (!len || allot_json_check(text, len, 0, note_top_member, &top, NULL) != 0 ||
        text[allot_json_check_skip_ws(text, len, 0)] != '{')
        return -1;
    memset(&a, 0, sizeof a);
    choices = top.found[0];
    if (choices.ptr && choices.ptr[0] == '{')
        return -1; /* cJSON would walk its members as elements */
    if (choices.ptr && choices.ptr[0] == '[') {
        int first = 1;
        i = allot_json_check_skip_ws(choices.ptr, choices.len, 1);
        while (i < choices.len && choices.ptr[i] != ']') {
            size_t end =
                i + read_choice((struct allot_slice){choices.ptr + i, choices.len - i}, first, &a);
            first = 0;
            i = allot_json_check_skip_ws(choices.ptr, choices.len, end);
            if (i < choices.len && choices.ptr[i] == ',')
                i = allot_json_check_skip_ws(choices.ptr, choices.len, i + 1);
        }
    }
    if (top.found[1].ptr && top.found[1].ptr[0] == '{') {
        a.has_usage = 1;
        lookup(top.found[1], usage_names, 3, &usage);
        lookup(usage.found[2], details_names, 2, &details);
        if ((a.prompt_tokens = count_of(usage.found[0])) < 0 ||
            (a.completion_tokens = count_of(usage.found[1])) < 0 ||
            (a.cached_tokens = count_of(details.found[0])) < 0 ||
            (a.cache_write_tokens = count_of(details.found[1])) < 0)
            return -1;
    }
    *out = a;
    return 0;
}

/* A chunk's top-level members, told by the check: the last choices, and
 * whether a usage or an error is not null (the only JSON value that
 * starts with 'n' is null). */
struct chunk_top {
    const char *text;
    struct allot_slice choices; /* ptr NULL: absent */
    int has_usage, has_error;
};

static void note_chunk_top(void *ctx, const struct allot_json_check_member *m)
{
    struct chunk_top *t = ctx;
    int not_null = t->text[m->value_off] != 'n';

    if (allot_json_check_key_is(t->text, m, "choices"))
        t->choices = allot_slice_of(t->text + m->value_off, m->value_len);
    else if (not_null && allot_json_check_key_is(t->text, m, "usage"))
        t->has_usage = 1;
    else if (not_null && allot_json_check_key_is(t->text, m, "error"))
        t->has_error = 1;
}

static const char *const chunk_choice_names[] = {"delta", "finish_reason"};
static const char *const delta_names[] = {"content", "tool_calls", "function_call"};

int allot_chat_chunk_read(const char *text, size_t len, struct allot_chat_chunk *out)
{
    struct chunk_top top = {text, {NULL, 0}, 0, 0};
    struct allot_chat_chunk k;
    struct lookup lc, ld;
    struct allot_slice choices;
    size_t i;

    if (!len || allot_json_check(text, len, 0, note_chunk_top, &top, NULL) != 0 ||
        text[allot_json_check_skip_ws(text, len, 0)] != '{')
        return -1;
    choices = top.choices;
    if (choices.ptr && choices.ptr[0] == '{')
        return -1; /* cJSON would walk its members as elements */
    memset(&k, 0, sizeof k);
    k.has_usage = top.has_usage;
    k.has_error = top.has_error;
    if (choices.ptr && choices.ptr[0] == '[' &&
        (i = allot_json_check_skip_ws(choices.ptr, choices.len, 1)) < choices.len &&
        choices.ptr[i] != ']') {
        /* the first element, with the rest of the array after it: a walk
         * of its members stops at its closing brace */
        lookup((struct allot_slice){choices.ptr + i, choices.len - i}, chunk_choice_names, 2, &lc);
        lookup(lc.found[0], delta_names, 3, &ld);
        k.content = allot_json_text_string_body(ld.found[0]);
        k.finish_reason = allot_json_text_string_body(lc.found[1]);
        k.tool_calls = allot_json_text_has_children(ld.found[1]) || ld.found[2].ptr != NULL;
    }
    *out = k;
    return 0;
}

size_t allot_chat_answer_unescape(const char *raw, size_t n, char *out)
{
    size_t o = allot_json_text_unescape(raw, n, out, n); /* decoding never lengthens */

    out[o] = '\0';
    return o;
}
