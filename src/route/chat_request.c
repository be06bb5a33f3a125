/* chat_request.c: read an OpenAI chat-completions body once, rewrite it by
 * splicing.
 *
 * Two passes over the body. The first is the strict, non-recursive JSON
 * check of json_check.h (RFC 8259: the four whitespace bytes only, strict
 * numbers, no raw control characters, valid escapes and surrogate pairs,
 * valid UTF-8, no \u0000, nesting at most CJSON_NESTING_LIMIT deep). It
 * gives the client a precise "invalid JSON at line L column C: why", and
 * on the way hands over the members of the top-level object, from which
 * the byte spans of the "model" and "stream_options" values are kept. The
 * second pass reads what routing needs: cJSON builds a tree of only the
 * small members (model, stream flags, response_format), and the messages
 * (the instruction, the material's size, a few structural signals) are
 * read off the checked text (json_text.h).
 *
 * Why check strictly first: cJSON is lenient where the upstreams we
 * forward to are not (it accepts control characters and invalid UTF-8 in
 * strings, "01", "1.", any byte <= 0x20 as whitespace, a byte order mark,
 * and turns "\u0000" into a silently truncated string), and it reports
 * only an error position, no reason. A body we route must be one the
 * upstream parses the same way, so whatever cJSON would let through that
 * strict parsers reject is refused here with a 400 instead of failing later
 * at the upstream. Since every byte of the body is walked anyway to find
 * the spans, the checks cost little. The check accepts a subset of what
 * cJSON accepts, so after it cJSON can only fail for want of memory.
 *
 * A body allot wrote itself (the translation of a Messages or Responses
 * request) is read the same way: the check costs less than a whole tree,
 * and the translators write strict JSON whatever the client sent (their
 * fuzz targets hold them to it), so it passes. allot_chat_request_parse_tree()
 * keeps the older reading of such a text, the whole tree without the
 * check, as the reference the tests hold this one to.
 *
 * The body the upstream gets is not a re-serialization of the tree: the
 * gateway must change the model (and sometimes stream_options) and leave
 * every other byte as the client sent it, because a round trip would change
 * number formats (1.0 -> 1), escapes, whitespace and key order. The rewrite
 * copies the body around the recorded spans.
 *
 * Duplicate keys: for every member routing reads, the last one counts (as
 * in Python's json and most upstreams; cJSON's own getters would take the
 * first). Duplicate top-level "model" or "stream_options" keys are refused
 * outright: an upstream that keeps the first would otherwise be sent a model
 * the gateway never routed. */
#include <stdlib.h>
#include <string.h>
#include "allot/chat_request.h"
#include "allot/error.h"
#include "allot/json_check.h"
#include "allot/json_member.h"
#include "allot/json_text.h"
#include "allot/json_tree.h"
#include "allot/thread_block.h"

/* Instruction text copied or sliced per message: bounds classifier work and
 * scratch memory regardless of body size. */
#define INSTRUCTION_MAX (64 * 1024)
#define SCRATCH_MAX (2 * INSTRUCTION_MAX + 16)
#define NO_INDEX ((size_t)-1)
/* cJSON refuses deeper nesting; refusing it first keeps the two in step */
_Static_assert(ALLOT_JSON_CHECK_MAX_DEPTH == CJSON_NESTING_LIMIT,
               "the strict check and cJSON must agree on the nesting limit");

/* ---- the scratch buffer, kept for the thread's next request ---- */

/* A request's scratch (its instruction texts, decoded) grows from nothing
 * by doubling: two or three allocations a request, and a free. A release
 * keeps the buffer (up to SPARE_MAX) in a block of its thread's instead,
 * and the thread's next parse starts from it: a gateway worker parses
 * every request on one thread. */
#define SPARE_MAX (64u << 10)

struct spare {
    char *ptr; /* NULL: none kept */
    size_t cap;
};

static void spare_release(void *p)
{
    free(((struct spare *)p)->ptr);
}

static struct allot_thread_block spares =
    ALLOT_THREAD_BLOCK_INIT(sizeof(struct spare), spare_release);

/* allot_buf_init(b, max), with the thread's kept buffer when it has one. */
static void scratch_init(struct allot_buf *b, size_t max)
{
    struct spare *sp = allot_thread_block_peek(&spares);

    allot_buf_init(b, max);
    if (sp && sp->ptr && sp->cap <= max + 1) {
        b->ptr = sp->ptr;
        b->cap = sp->cap;
        b->ptr[0] = '\0';
        sp->ptr = NULL;
        sp->cap = 0;
    }
}

/* allot_buf_release(b), keeping the buffer for the thread when it has
 * room for one. */
static void scratch_release(struct allot_buf *b)
{
    struct spare *sp;

    if (b->ptr && b->cap <= SPARE_MAX && (sp = allot_thread_block_get(&spares)) && !sp->ptr) {
        sp->ptr = b->ptr;
        sp->cap = b->cap;
        b->ptr = NULL;
        b->len = 0;
        b->cap = 0;
        return;
    }
    allot_buf_release(b);
}

/* ---- the spans, from the strict check's pass ---- */

/* A top-level member whose value span is wanted. */
struct member {
    const char *name; /* key to look for, ASCII */
    size_t off, len;  /* value span; len 0 when absent */
    int count;        /* occurrences */
    int wanted;       /* occurrences in the tree (our own text only) */
    int tree;         /* a peer's text: the last one goes into the tree */
};

/* What on_member needs: the text and the members looked for. */
struct span_search {
    const char *text;
    struct member *m;
    size_t nm;
};

static void on_member(void *ctx, const struct allot_json_check_member *jm)
{
    struct span_search *ss = ctx;
    size_t k;

    for (k = 0; k < ss->nm; k++) {
        if (allot_json_check_key_is(ss->text, jm, ss->m[k].name)) {
            ss->m[k].off = jm->value_off;
            ss->m[k].len = jm->value_len;
            ss->m[k].count++;
        }
    }
}

/* The same for allot_json_check_members(), which stops once each member
 * looked for has been seen as often as wanted (the tree says how often). */
static int on_own_member(void *ctx, const struct allot_json_check_member *jm)
{
    struct span_search *ss = ctx;
    size_t k;

    on_member(ctx, jm);
    for (k = 0; k < ss->nm; k++)
        if (ss->m[k].count < ss->m[k].wanted)
            return 0;
    return 1;
}

/* Check text[0..n) strictly, and find the value spans of the members of
 * its top-level object named in m (offsets from text). */
static int check_json(const char *text, size_t n, struct member *m, size_t nm,
                      struct allot_json_check_error *jerr)
{
    struct span_search ss = {text, m, nm};
    /* definitions an agent sends with every request; not the messages,
     * which change from one request to the next */
    static const char *const keep[] = {"tools", "functions", "response_format", NULL};
    return allot_json_check_remembering(text, n, 0, keep, on_member, &ss, jerr);
}

/* ---- extraction ---- */

/* A string value's length: its C string, as the validator refused \u0000. */
static size_t str_len(const cJSON *v)
{
    return strlen(v->valuestring);
}

/* Shorten n to at most cap bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *p, size_t n, size_t cap)
{
    if (n <= cap)
        return n;
    while (cap > 0 && ((unsigned char)p[cap] & 0xC0) == 0x80)
        cap--;
    return cap;
}

static size_t add_sat(size_t a, size_t b)
{
    return a > (size_t)-1 - b ? (size_t)-1 : a + b;
}

/* Text bytes of a message content: a string, or the text parts of an array. */
static size_t content_bytes(const cJSON *content)
{
    size_t total = 0;
    const cJSON *part, *text;

    if (cJSON_IsString(content))
        return str_len(content);
    if (!cJSON_IsArray(content))
        return 0;
    cJSON_ArrayForEach(part, content)
    {
        text = allot_json_member(part, "text");
        if (cJSON_IsString(text))
            total = add_sat(total, str_len(text));
    }
    return total;
}

/* The text of a text part, or NULL. */
static const cJSON *text_part(const cJSON *part)
{
    const cJSON *type = allot_json_member(part, "type"), *text;

    if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0)
        return NULL;
    text = allot_json_member(part, "text");
    return cJSON_IsString(text) ? text : NULL;
}

/* Before a text part of an instruction: "\n" after the one before, if
 * room is left for it (room and first updated). Returns 0 to go on, 1 when
 * the instruction is full, or the error of appending. */
static int join_next(struct allot_buf *scratch, size_t *room, int *first)
{
    int rc;

    if (*first) {
        *first = 0;
        return 0;
    }
    if (*room < 1)
        return 1;
    if ((rc = allot_buf_add(scratch, "\n", 1)))
        return rc;
    (*room)--;
    return 0;
}

/* Set *slice to the instruction text of content: a string is sliced in
 * place, text parts are joined with "\n" into scratch (*scratch_off tells
 * where, as scratch may move while the other text is appended). */
static int instruction_text(const cJSON *content, struct allot_buf *scratch,
                            struct allot_slice *slice, size_t *scratch_off)
{
    size_t start = scratch->len, room = INSTRUCTION_MAX, n;
    const cJSON *part, *text;
    int rc, first = 1;

    *scratch_off = NO_INDEX;
    if (cJSON_IsString(content)) {
        const char *p = content->valuestring;
        *slice = allot_slice_of(p, utf8_cut(p, str_len(content), INSTRUCTION_MAX));
        return 0;
    }
    *slice = allot_slice_of("", 0);
    if (!cJSON_IsArray(content))
        return 0;
    cJSON_ArrayForEach(part, content)
    {
        if (!(text = text_part(part)))
            continue;
        if ((rc = join_next(scratch, &room, &first)) > 0)
            break;
        if (rc)
            return rc;
        n = utf8_cut(text->valuestring, str_len(text), room);
        if ((rc = allot_buf_add(scratch, text->valuestring, n)))
            return rc;
        room -= n;
    }
    if (!first) {
        *scratch_off = start;
        slice->len = scratch->len - start;
    }
    return 0;
}

static int role_is(const cJSON *role, const char *name)
{
    return strcmp(role->valuestring, name) == 0;
}

static int nonempty_array(const cJSON *v)
{
    return cJSON_IsArray(v) && v->child != NULL;
}

/* ---- the messages of a peer's text, read off the text ---- */

/* The last members of an object named a and b (b may be NULL): what
 * allot_json_member() finds in its tree. */
struct two_members {
    const char *text, *a, *b;
    struct allot_slice va, vb; /* value spans; ptr NULL: absent */
    size_t last_end;           /* just past the last member's value; 0: none */
};

static int note_two(void *ctx, const struct allot_json_check_member *m)
{
    struct two_members *tm = ctx;

    if (allot_json_check_key_is(tm->text, m, tm->a))
        tm->va = allot_slice_of(tm->text + m->value_off, m->value_len);
    else if (tm->b && allot_json_check_key_is(tm->text, m, tm->b))
        tm->vb = allot_slice_of(tm->text + m->value_off, m->value_len);
    tm->last_end = m->value_off + m->value_len;
    return 0; /* on to the end: the last one counts */
}

/* allot_json_text_next_element() over the array arr, with members a and b
 * of each element (note_two): the walk over an object's members ends at its closing
 * brace, so the element is scanned once, not once for its end and again
 * for its members. An element that is not an object gets absent members. */
static int next_with_two(struct allot_slice arr, size_t *i, const char *a, const char *b,
                         struct allot_slice *elem, struct two_members *tm)
{
    const char *t = arr.ptr;
    size_t n = arr.len, p = allot_json_check_skip_ws(t, n, *i == 0 ? 1 : *i), end;

    if (p < n && t[p] == ',')
        p = allot_json_check_skip_ws(t, n, p + 1);
    if (p >= n || t[p] == ']')
        return 0;
    memset(tm, 0, sizeof *tm);
    tm->text = t + p;
    tm->a = a;
    tm->b = b;
    if (t[p] == '{') {
        allot_json_check_members(t + p, n - p, note_two, tm);
        /* the closing brace follows the last member, or the opening one */
        end = p + allot_json_check_skip_ws(t + p, n - p, tm->last_end ? tm->last_end : 1) + 1;
    } else {
        end = allot_json_text_value_end(t, n, p);
    }
    *elem = allot_slice_of(t + p, end - p);
    *i = end;
    return 1;
}

/* Does the string value v decode to name (NUL-terminated, short)? */
static int string_is(struct allot_slice v, const char *name)
{
    struct allot_slice body = allot_json_text_string_body(v);
    char buf[16];
    size_t n = strlen(name);

    if (!body.ptr || n >= sizeof buf)
        return 0;
    if (!memchr(body.ptr, '\\', body.len))
        return body.len == n && memcmp(body.ptr, name, n) == 0;
    return allot_json_text_decoded_len(body.ptr, body.len) == n &&
           allot_json_text_unescape(body.ptr, body.len, buf, n) == n && memcmp(buf, name, n) == 0;
}

/* Decoded text bytes of a message content: a string, or the text members
 * of an array's objects (content_bytes() on the tree). */
static size_t content_bytes_text(struct allot_slice content)
{
    struct allot_slice body = allot_json_text_string_body(content), part;
    struct two_members tm;
    size_t total = 0, at = 0;

    if (body.ptr)
        return allot_json_text_decoded_len(body.ptr, body.len);
    if (!content.len || content.ptr[0] != '[')
        return 0;
    while (next_with_two(content, &at, "text", NULL, &part, &tm)) {
        body = allot_json_text_string_body(tm.va);
        if (body.ptr)
            total = add_sat(total, allot_json_text_decoded_len(body.ptr, body.len));
    }
    return total;
}

/* Append string body s decoded to scratch, at most room bytes and cut as
 * utf8_cut(whole decoding, room) cuts: decoding stops a byte past room,
 * never inside an escape, and an escape is one UTF-8 sequence, so the cut
 * lands where the whole decoding's would. *n gets the bytes added. */
static int add_decoded(struct allot_buf *scratch, struct allot_slice s, size_t room, size_t *n)
{
    size_t want = s.len < room + 1 ? s.len : room + 1, w;
    int rc;

    if ((rc = allot_buf_reserve(scratch, want)))
        return rc;
    w = allot_json_text_unescape(s.ptr, s.len, scratch->ptr + scratch->len, want);
    *n = utf8_cut(scratch->ptr + scratch->len, w, room);
    scratch->len += *n;
    scratch->ptr[scratch->len] = '\0';
    return 0;
}

/* instruction_text() for a content value in the text: a string or the
 * text parts of an array, decoded (and joined with "\n") into scratch at
 * *scratch_off. */
static int instruction_text_of(struct allot_slice content, struct allot_buf *scratch,
                               struct allot_slice *slice, size_t *scratch_off)
{
    struct allot_slice body = allot_json_text_string_body(content), part;
    struct two_members tm;
    size_t start = scratch->len, room = INSTRUCTION_MAX, n, at = 0;
    int rc, first = 1;

    *scratch_off = NO_INDEX;
    *slice = allot_slice_of("", 0);
    if (body.ptr) {
        if ((rc = add_decoded(scratch, body, INSTRUCTION_MAX, &n)))
            return rc;
        *scratch_off = start;
        slice->len = n;
        return 0;
    }
    if (!content.len || content.ptr[0] != '[')
        return 0;
    while (next_with_two(content, &at, "type", "text", &part, &tm)) {
        body = allot_json_text_string_body(tm.vb);
        if (!string_is(tm.va, "text") || !body.ptr)
            continue;
        if ((rc = join_next(scratch, &room, &first)) > 0)
            break;
        if (rc)
            return rc;
        if ((rc = add_decoded(scratch, body, room, &n)))
            return rc;
        room -= n;
    }
    if (!first) {
        *scratch_off = start;
        slice->len = scratch->len - start;
    }
    return 0;
}

/* The messages of a peer's checked text (the array at msgs), read as
 * read_messages_tree() reads the tree, in one pass: the first system or
 * developer message and the last user message are the instruction, every
 * other message's text is material. */
static int read_messages_text(struct allot_chat_request *t, struct allot_slice msgs,
                              struct allot_buf *err)
{
    struct allot_slice msg, sys = {NULL, 0}, user = {NULL, 0};
    struct two_members tm;
    size_t i = 0, at = 0, sys_off = NO_INDEX, user_off = NO_INDEX;
    int have_sys = 0, have_user = 0, rc = 0;

    while (next_with_two(msgs, &at, "role", "content", &msg, &tm)) {
        if (msg.ptr[0] != '{') {
            allot_buf_addf(err, "'messages[%zu]' must be an object", i);
            return ALLOT_EINVAL;
        }
        if (!tm.va.ptr || tm.va.ptr[0] != '"') {
            allot_buf_addf(err, "'messages[%zu].role' is required and must be a string", i);
            return ALLOT_EINVAL;
        }
        t->last_is_tool = string_is(tm.va, "tool") || string_is(tm.va, "function");
        if (t->last_is_tool)
            t->n_tool_results++;
        if (!have_sys && (string_is(tm.va, "system") || string_is(tm.va, "developer"))) {
            have_sys = 1;
            sys = tm.vb;
        } else if (string_is(tm.va, "user")) {
            if (have_user) /* an earlier user turn is material */
                t->material_bytes = add_sat(t->material_bytes, content_bytes_text(user));
            have_user = 1;
            user = tm.vb;
        } else {
            t->material_bytes = add_sat(t->material_bytes, content_bytes_text(tm.vb));
        }
        i++;
    }
    t->n_messages = i;
    t->system = t->last_user = allot_slice_of("", 0);
    if ((have_sys && (rc = instruction_text_of(sys, &t->scratch, &t->system, &sys_off))) ||
        (have_user && (rc = instruction_text_of(user, &t->scratch, &t->last_user, &user_off))))
        return rc;
    /* scratch has stopped moving: point the texts into it */
    if (sys_off != NO_INDEX)
        t->system.ptr = t->scratch.ptr + sys_off;
    if (user_off != NO_INDEX)
        t->last_user.ptr = t->scratch.ptr + user_off;
    return 0;
}

/* Whether the checked value at m's span (the last of its name) is an
 * array with something in it, as nonempty_array() says of its tree. */
static int span_nonempty_array(const char *body, const struct member *m)
{
    return m->count && body[m->off] == '[' &&
           allot_json_text_has_children(allot_slice_of(body + m->off, m->len));
}

/* The top-level members routing reads, the last of each name. */
struct top {
    cJSON *model, *messages, *stream, *stream_options, *tools, *functions, *response_format;
};

static void top_members(const cJSON *root, struct top *t)
{
    cJSON *c;

    memset(t, 0, sizeof *t);
    cJSON_ArrayForEach(c, root)
    {
        const char *k = c->string;
        if (!k)
            continue;
        if (strcmp(k, "model") == 0)
            t->model = c;
        else if (strcmp(k, "messages") == 0)
            t->messages = c;
        else if (strcmp(k, "stream") == 0)
            t->stream = c;
        else if (strcmp(k, "stream_options") == 0)
            t->stream_options = c;
        else if (strcmp(k, "tools") == 0)
            t->tools = c;
        else if (strcmp(k, "functions") == 0)
            t->functions = c;
        else if (strcmp(k, "response_format") == 0)
            t->response_format = c;
    }
}

/* What parse_begin() reads its text as. */
enum reading {
    CLIENT_TEXT, /* checked strictly, then only what routing reads */
    OWN_TEXT,    /* known valid: not checked, the whole tree (parse_tree) */
};

/* parse_begin() on OWN_TEXT: the text is not what it should be (or cJSON
 * ran out of memory); read it as CLIENT_TEXT to say why. */
#define READ_AGAIN 1

/* parse_begin() for OWN_TEXT: the tree first, which tells how often each
 * member looked for is there; then the text's top-level members are
 * scanned only as far as it takes to see them all (the model, first in
 * what our translators write, at once). */
static int parse_own_text(struct allot_chat_request *t, const char *body, size_t len,
                          struct member *spans, size_t n_spans)
{
    struct span_search ss = {body, spans, n_spans};
    const char *parse_end = NULL;
    const cJSON *c;
    size_t k;

    t->root = cJSON_ParseWithLengthOpts(body, len, &parse_end, 0);
    if (!cJSON_IsObject(t->root) ||
        allot_json_check_skip_ws(body, len, (size_t)(parse_end - body)) != len)
        return READ_AGAIN;
    cJSON_ArrayForEach(c, t->root)
    {
        for (k = 0; k < n_spans; k++)
            spans[k].wanted += c->string && strcmp(c->string, spans[k].name) == 0;
    }
    for (k = 0; k < n_spans && spans[k].wanted == 0; k++)
        ;
    if (k == n_spans)
        return 0; /* none there: nothing to scan for */
    if (allot_json_check_members(body, len, on_own_member, &ss))
        return READ_AGAIN;
    for (k = 0; k < n_spans; k++)
        if (spans[k].count != spans[k].wanted)
            return READ_AGAIN;
    return 0;
}

/* The tree of a checked object text holding only the members of spans
 * marked tree, the last of each name: members routing never reads (the
 * tools' schemas, sampling settings, metadata) are not built at all. Each
 * value was checked with the text and is read as such (json_tree.h), so
 * reading one fails only for want of memory. */
static int selected_tree(struct allot_chat_request *t, const char *body, const struct member *spans,
                         size_t n_spans)
{
    cJSON *v;
    size_t k;

    if (!(t->root = cJSON_CreateObject()))
        return ALLOT_ENOMEM;
    for (k = 0; k < n_spans; k++) {
        if (!spans[k].tree || spans[k].count == 0)
            continue;
        v = allot_json_tree(body + spans[k].off, spans[k].len);
        if (!v)
            return ALLOT_ENOMEM;
        if (!cJSON_AddItemToObjectCS(t->root, spans[k].name, v)) { /* names are literals */
            cJSON_Delete(v);
            return ALLOT_ENOMEM;
        }
    }
    return 0;
}

/* The start all parses share: *t empty with its scratch buffer, then
 * body strictly validated (the spans of the top-level values in spans),
 * parsed into t->root (only the members of spans marked tree when any
 * is, see selected_tree()), and an object. Errors: ALLOT_EPARSE (err: "invalid
 * JSON at line L column C: why"), ALLOT_ENOMEM, ALLOT_EINVAL (not an
 * object); then parse_finish() releases what t holds. As OWN_TEXT,
 * parse_own_text() instead: anything amiss there is READ_AGAIN, with
 * nothing in err. */
static int parse_begin(struct allot_chat_request *t, const char *body, size_t len,
                       enum reading reading, struct member *spans, size_t n_spans,
                       struct allot_buf *err)
{
    struct allot_json_check_error jerr;
    size_t k, first;
    int rc, selective = 0;

    memset(t, 0, sizeof *t);
    scratch_init(&t->scratch, SCRATCH_MAX);
    if (!body) {
        body = "";
        len = 0;
    }

    if (reading == OWN_TEXT)
        return parse_own_text(t, body, len, spans, n_spans);

    /* 1. strict validation, and the spans of the top-level values */
    if ((rc = check_json(body, len, spans, n_spans, &jerr))) {
        allot_buf_addf(err, "invalid JSON at line %zu column %zu: %s", jerr.line, jerr.column,
                       jerr.why);
        return rc;
    }

    /* 2. the tree, read without validating again (json_tree.h): it reads
     * all the validator accepts, so a failure here is an allocation
     * failure. The validator has already checked that only whitespace
     * follows. */
    for (k = 0; k < n_spans; k++)
        selective |= spans[k].tree;
    first = allot_json_check_skip_ws(body, len, 0);
    if (!selective) {
        t->root = allot_json_tree(body, len);
        if (!t->root)
            return ALLOT_ENOMEM;
    } else if (first < len && body[first] == '{') {
        if ((rc = selected_tree(t, body, spans, n_spans)))
            return rc;
    }
    if (!cJSON_IsObject(t->root)) {
        allot_buf_adds(err, "the request body must be a JSON object");
        return ALLOT_EINVAL;
    }
    return 0;
}

/* The end both parses share: on success *r takes t; on error t's tree
 * and buffer go and *r is left holding nothing to release. Returns rc. */
static int parse_finish(struct allot_chat_request *r, struct allot_chat_request *t, int rc)
{
    if (rc) {
        cJSON_Delete(t->root);
        scratch_release(&t->scratch);
        memset(r, 0, sizeof *r);
        allot_buf_init(&r->scratch, SCRATCH_MAX);
        return rc;
    }
    *r = *t;
    return 0;
}

/* The messages of a tree (our own text's), read into *t: the first system
 * or developer message and the last user message are the instruction,
 * every other message's text is material. Errors: ALLOT_EINVAL (err says
 * which message), ALLOT_ENOMEM. */
static int read_messages_tree(struct allot_chat_request *t, const cJSON *messages,
                              struct allot_buf *err)
{
    const cJSON *msg, *role;
    size_t i, sys_idx = NO_INDEX, user_idx = NO_INDEX, sys_off, user_off;

    i = 0;
    cJSON_ArrayForEach(msg, messages)
    {
        if (!cJSON_IsObject(msg)) {
            allot_buf_addf(err, "'messages[%zu]' must be an object", i);
            return ALLOT_EINVAL;
        }
        role = allot_json_member(msg, "role");
        if (!cJSON_IsString(role)) {
            allot_buf_addf(err, "'messages[%zu].role' is required and must be a string", i);
            return ALLOT_EINVAL;
        }
        if (sys_idx == NO_INDEX && (role_is(role, "system") || role_is(role, "developer")))
            sys_idx = i;
        if (role_is(role, "user"))
            user_idx = i;
        t->last_is_tool = role_is(role, "tool") || role_is(role, "function");
        if (t->last_is_tool)
            t->n_tool_results++;
        i++;
    }
    t->n_messages = i;

    t->system = t->last_user = allot_slice_of("", 0);
    sys_off = user_off = NO_INDEX;
    i = 0;
    cJSON_ArrayForEach(msg, messages)
    {
        cJSON *content = allot_json_member(msg, "content");
        int rc2 = 0;
        if (i == sys_idx)
            rc2 = instruction_text(content, &t->scratch, &t->system, &sys_off);
        else if (i == user_idx)
            rc2 = instruction_text(content, &t->scratch, &t->last_user, &user_off);
        else
            t->material_bytes = add_sat(t->material_bytes, content_bytes(content));
        if (rc2)
            return rc2;
        i++;
    }
    /* scratch has stopped moving: point the joined texts into it */
    if (sys_off != NO_INDEX)
        t->system.ptr = t->scratch.ptr + sys_off;
    if (user_off != NO_INDEX)
        t->last_user.ptr = t->scratch.ptr + user_off;
    return 0;
}

/* A chat request read as reading says; READ_AGAIN as parse_begin(). */
static int parse_chat(struct allot_chat_request *r, const char *body, size_t len,
                      enum reading reading, struct allot_buf *err)
{
    struct allot_chat_request t;
    /* the first two are spliced by the rewrite; the rest are what routing
     * reads: in a peer's text the messages are read off the text and the
     * tools only looked at, the others built into the tree */
    struct member spans[] = {
        {"model", 0, 0, 0, 0, 1},           {"stream_options", 0, 0, 0, 0, 1},
        {"messages", 0, 0, 0, 0, 0},        {"stream", 0, 0, 0, 0, 1},
        {"response_format", 0, 0, 0, 0, 1}, {"tools", 0, 0, 0, 0, 0},
        {"functions", 0, 0, 0, 0, 0},
    };
    struct top top;
    size_t i;
    int rc;

    /* 1-2. validated, parsed, an object */
    /* our own text is scanned only as far as the two spans (the whole
     * tree is built): a peer's is walked in full by the check anyway */
    if ((rc = parse_begin(&t, body, len, reading, spans,
                          reading == OWN_TEXT ? 2 : sizeof spans / sizeof spans[0], err)))
        goto out;

    /* 3. the fields */
    rc = ALLOT_EINVAL;
    top_members(t.root, &top);
    if (!cJSON_IsString(top.model)) {
        allot_buf_adds(err, "'model' is required and must be a string");
        goto out;
    }
    t.model = allot_slice_of(top.model->valuestring, str_len(top.model));
    if (reading == OWN_TEXT ? !nonempty_array(top.messages)
                            : !span_nonempty_array(body, &spans[2])) {
        allot_buf_adds(err, "'messages' must be a non-empty array");
        goto out;
    }
    if (top.stream && !cJSON_IsBool(top.stream) && !cJSON_IsNull(top.stream)) {
        allot_buf_adds(err, "'stream' must be a boolean");
        goto out;
    }
    t.stream = cJSON_IsTrue(top.stream);
    t.include_usage = cJSON_IsTrue(allot_json_member(top.stream_options, "include_usage"));

    rc = reading == OWN_TEXT
             ? read_messages_tree(&t, top.messages, err)
             : read_messages_text(&t, allot_slice_of(body + spans[2].off, spans[2].len), err);
    if (rc)
        goto out;
    rc = ALLOT_EINVAL;

    if (reading == OWN_TEXT)
        t.has_tools = nonempty_array(top.tools) || nonempty_array(top.functions);
    else
        t.has_tools = span_nonempty_array(body, &spans[5]) || span_nonempty_array(body, &spans[6]);
    if (top.response_format && !cJSON_IsNull(top.response_format)) {
        cJSON *type = allot_json_member(top.response_format, "type");
        t.has_response_format = !(cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0);
        if (t.has_response_format)
            t.response_format = top.response_format;
    }

    /* 4. the spans, checked last as they always were */
    for (i = 0; i < 2; i++) {
        if (spans[i].count > 1) {
            allot_buf_addf(err, "duplicate top-level key '%s'", spans[i].name);
            goto out;
        }
    }
    t.model_off = spans[0].off;
    t.model_len = spans[0].len;
    t.stream_options_off = spans[1].off;
    t.stream_options_len = spans[1].len;
    rc = 0;

out:
    return parse_finish(r, &t, rc);
}

int allot_chat_request_parse(struct allot_chat_request *r, const char *body, size_t len,
                             struct allot_buf *err)
{
    return parse_chat(r, body, len, CLIENT_TEXT, err);
}

int allot_chat_request_parse_tree(struct allot_chat_request *r, const char *body, size_t len,
                                  struct allot_buf *err)
{
    int rc = parse_chat(r, body, len, OWN_TEXT, err);

    /* not what our translators write: the strict reading, for the reason
     * a client would be given */
    return rc == READ_AGAIN ? parse_chat(r, body, len, CLIENT_TEXT, err) : rc;
}

/* Bytes an embeddings input is estimated from: its text, or 4 a token. */
static size_t input_bytes(const cJSON *in)
{
    const cJSON *t;
    size_t n = 0;

    if (cJSON_IsString(in))
        return str_len(in);
    cJSON_ArrayForEach(t, in) n = add_sat(n, cJSON_IsNumber(t) ? 4 : 0);
    return n;
}

int allot_chat_request_parse_embeddings(struct allot_chat_request *r, const char *body, size_t len,
                                        struct allot_buf *err)
{
    struct allot_chat_request t;
    struct member spans[1] = {{"model", 0, 0, 0, 0, 0}};
    const cJSON *model, *input, *it;
    int rc;

    if ((rc = parse_begin(&t, body, len, CLIENT_TEXT, spans, 1, err)))
        goto out;
    rc = ALLOT_EINVAL;
    model = allot_json_member(t.root, "model");
    input = allot_json_member(t.root, "input");
    if (!cJSON_IsString(model)) {
        allot_buf_adds(err, "'model' is required and must be a string");
        goto out;
    }
    t.model = allot_slice_of(model->valuestring, str_len(model));
    if (cJSON_IsString(input) || (nonempty_array(input) && cJSON_IsNumber(input->child))) {
        t.material_bytes = input_bytes(input); /* one text, or one token array */
    } else if (nonempty_array(input)) {
        cJSON_ArrayForEach(it, input)
        {
            if (!cJSON_IsString(it) && !cJSON_IsArray(it)) {
                allot_buf_adds(err, "'input' must be a string, an array of strings or an array "
                                    "of token arrays");
                goto out;
            }
            t.material_bytes = add_sat(t.material_bytes, input_bytes(it));
        }
    } else {
        allot_buf_adds(err, "'input' is required: a string or a non-empty array");
        goto out;
    }
    if (spans[0].count > 1) {
        allot_buf_adds(err, "duplicate top-level key 'model'");
        goto out;
    }
    t.model_off = spans[0].off;
    t.model_len = spans[0].len;
    t.system = t.last_user = allot_slice_of("", 0);
    rc = 0;
out:
    return parse_finish(r, &t, rc);
}

/* ---- rewrite ---- */

static int is_empty_object(const char *s, size_t n, size_t brace)
{
    size_t i = allot_json_check_skip_ws(s, n, brace + 1);
    return i < n && s[i] == '}';
}

/* stream_options rebuilt from the tree with a single include_usage: true,
 * for an object with duplicate include_usage keys, where the byte-
 * preserving edit would leave one behind. The first keeps its place. */
static int rebuilt_usage_options(const cJSON *v, struct allot_buf *so)
{
    cJSON *copy = cJSON_Duplicate(v, 1), *yes = cJSON_CreateTrue(), *c, *next;
    char *dump;
    int seen = 0, rc;

    /* replaces the first include_usage, keeping its place and key */
    if (!copy || !yes || !cJSON_ReplaceItemInObjectCaseSensitive(copy, "include_usage", yes)) {
        cJSON_Delete(copy);
        cJSON_Delete(yes);
        return ALLOT_ENOMEM;
    }
    for (c = copy->child; c; c = next) {
        next = c->next;
        if (c->string && strcmp(c->string, "include_usage") == 0 && seen++)
            cJSON_Delete(cJSON_DetachItemViaPointer(copy, c));
    }
    dump = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    if (!dump)
        return ALLOT_ENOMEM;
    rc = allot_buf_adds(so, dump);
    cJSON_free(dump);
    return rc;
}

/* The new value of stream_options with include_usage true, into so. Sets
 * *unchanged when the client's value already says so. */
static int usage_options(const struct allot_chat_request *r, const char *body, struct allot_buf *so,
                         int *unchanged)
{
    size_t off = r->stream_options_off, end = off + r->stream_options_len;
    struct member iu = {"include_usage", 0, 0, 0, 0, 0};
    const cJSON *v = allot_json_member(r->root, "stream_options");
    int rc;

    *unchanged = 0;
    if (!cJSON_IsObject(v) || body[off] != '{')
        return allot_buf_adds(so, "{\"include_usage\":true}");
    /* the value alone, checked again: its members' spans (from off) */
    if (check_json(body + off, end - off, &iu, 1, NULL))
        return ALLOT_EINVAL;
    iu.off += off;
    if (iu.count == 1) {
        if (iu.len == 4 && memcmp(body + iu.off, "true", 4) == 0) {
            *unchanged = 1;
            return 0;
        }
        if ((rc = allot_buf_add(so, body + off, iu.off - off)) || (rc = allot_buf_adds(so, "true")))
            return rc;
        return allot_buf_add(so, body + iu.off + iu.len, end - (iu.off + iu.len));
    }
    if (iu.count == 0) {
        if ((rc = allot_buf_adds(so, "{\"include_usage\":true")) ||
            (rc = allot_buf_adds(so, is_empty_object(body, end, off) ? "" : ",")))
            return rc;
        return allot_buf_add(so, body + off + 1, end - (off + 1));
    }
    return rebuilt_usage_options(v, so);
}

int allot_chat_request_rewrite(const struct allot_chat_request *r, const char *body, size_t len,
                               const char *upstream_model, int force_include_usage,
                               struct allot_buf *out)
{
    struct allot_buf so;
    size_t len0 = out->len, pos = 0, so_off = 0, so_len = 0, brace;
    int rc, have_so = 0, unchanged = 0;

    /* so holds text built here from the body's own bytes; out has the cap */
    allot_buf_init(&so, (size_t)-1 / 2);
    /* the tree is read only for stream_options, which a reading built by
     * a translator (root NULL) never has */
    if ((!r->root && r->stream_options_len) || !body || !upstream_model || r->model_len == 0 ||
        r->model_off > len || r->model_len > len - r->model_off || r->stream_options_off > len ||
        r->stream_options_len > len - r->stream_options_off) {
        rc = ALLOT_EINVAL;
        goto out;
    }
    if (force_include_usage) {
        if (r->stream_options_len) {
            if ((rc = usage_options(r, body, &so, &unchanged)))
                goto out;
            so_off = r->stream_options_off;
            so_len = r->stream_options_len;
        } else {
            brace = allot_json_check_skip_ws(body, len, 0);
            if (brace >= len || body[brace] != '{') {
                rc = ALLOT_EINVAL;
                goto out;
            }
            if ((rc = allot_buf_adds(&so, "\"stream_options\":{\"include_usage\":true}")) ||
                (rc = allot_buf_adds(&so, is_empty_object(body, len, brace) ? "" : ",")))
                goto out;
            so_off = brace + 1;
            so_len = 0;
        }
        have_so = !unchanged;
    }

    /* at most two splices, in body order; they never overlap (distinct
     * top-level values, or an insertion right after the opening brace) */
    if (have_so && so_off < r->model_off) {
        if ((rc = allot_buf_add(out, body, so_off)) || (rc = allot_buf_add(out, so.ptr, so.len)))
            goto out;
        pos = so_off + so_len;
        have_so = 0;
    }
    if ((rc = allot_buf_add(out, body + pos, r->model_off - pos)) ||
        (rc = allot_buf_add_json_str(out, upstream_model, strlen(upstream_model))))
        goto out;
    pos = r->model_off + r->model_len;
    if (have_so) {
        if ((rc = allot_buf_add(out, body + pos, so_off - pos)) ||
            (rc = allot_buf_add(out, so.ptr, so.len)))
            goto out;
        pos = so_off + so_len;
    }
    rc = allot_buf_add(out, body + pos, len - pos);

out:
    allot_buf_release(&so);
    if (rc && out->ptr) {
        out->len = len0;
        out->ptr[len0] = '\0';
    }
    return rc;
}

/* ---- a translation's reading, built as it is written ---- */

#define BUILD_MODEL_MAX 1024

void allot_chat_build_begin(struct allot_chat_build *b, struct allot_chat_request *r)
{
    memset(b, 0, sizeof *b);
    memset(r, 0, sizeof *r);
    scratch_init(&r->scratch, SCRATCH_MAX + BUILD_MODEL_MAX);
    b->r = r;
    b->system_at = NO_INDEX;
}

static void build_fail(struct allot_chat_build *b, int rc)
{
    if (!b->rc)
        b->rc = rc;
}

void allot_chat_build_model(struct allot_chat_build *b, const char *name, size_t n, size_t off,
                            size_t len)
{
    struct allot_chat_request *r = b->r;

    if (n > BUILD_MODEL_MAX) {
        build_fail(b, ALLOT_ETOOBIG);
        return;
    }
    b->model_at = r->scratch.len;
    b->model_n = n;
    build_fail(b, allot_buf_add(&r->scratch, name, n));
    b->turn_at = r->scratch.len;
    r->model_off = off;
    r->model_len = len;
}

/* The instruction cut as instruction_text_of() cuts a string's. */
void allot_chat_build_system(struct allot_chat_build *b, const char *text, size_t n)
{
    struct allot_chat_request *r = b->r;

    r->n_messages++;
    r->last_is_tool = 0;
    if (b->system_at != NO_INDEX) { /* only the first is the instruction */
        r->material_bytes = add_sat(r->material_bytes, n);
        return;
    }
    b->system_at = r->scratch.len;
    b->system_n = utf8_cut(text, n, INSTRUCTION_MAX);
    build_fail(b, allot_buf_add(&r->scratch, text, b->system_n));
    b->turn_at = r->scratch.len;
}

/* A text part: joined as instruction_text_of() joins an array's (by
 * join_next()), or alone as it cuts a string (the same: the first part has
 * the whole room). */
void allot_chat_build_text(struct allot_chat_build *b, const char *text, size_t n)
{
    struct allot_chat_request *r = b->r;
    int rc;

    if (!b->turn_open) { /* the last user message's text gives way */
        b->turn_open = 1;
        b->turn_full = 0;
        b->turn_bytes = 0;
        b->room = INSTRUCTION_MAX;
        r->scratch.len = b->turn_at;
        b->turn_first = 1;
    }
    b->turn_bytes = add_sat(b->turn_bytes, n);
    if (b->turn_full)
        return;
    if ((rc = join_next(&r->scratch, &b->room, &b->turn_first)) != 0) {
        if (rc > 0)
            b->turn_full = 1;
        else
            build_fail(b, rc);
        return;
    }
    n = utf8_cut(text, n, b->room);
    build_fail(b, allot_buf_add(&r->scratch, text, n));
    b->room -= n;
}

void allot_chat_build_user(struct allot_chat_build *b)
{
    struct allot_chat_request *r = b->r;

    r->n_messages++;
    r->last_is_tool = 0;
    if (b->have_user) /* an earlier user turn is material */
        r->material_bytes = add_sat(r->material_bytes, b->user_bytes);
    b->have_user = 1;
    if (!b->turn_open) /* no text: an empty instruction */
        r->scratch.len = b->turn_at;
    b->user_bytes = b->turn_open ? b->turn_bytes : 0;
    b->user_n = r->scratch.len - b->turn_at;
    b->turn_open = 0;
}

void allot_chat_build_other(struct allot_chat_build *b, size_t bytes, int tool)
{
    struct allot_chat_request *r = b->r;

    r->n_messages++;
    r->last_is_tool = tool;
    if (tool)
        r->n_tool_results++;
    r->material_bytes = add_sat(r->material_bytes, bytes);
}

void allot_chat_build_fail(struct allot_chat_build *b)
{
    build_fail(b, ALLOT_EINVAL);
}

int allot_chat_build_end(struct allot_chat_build *b, int stream, int has_tools)
{
    struct allot_chat_request *r = b->r;
    const char *sc;

    if (b->turn_open) /* texts no user message took: not a translator's */
        build_fail(b, ALLOT_EINVAL);
    if (b->rc) {
        allot_chat_request_release(r);
        return b->rc;
    }
    sc = r->scratch.ptr ? r->scratch.ptr : "";
    r->model = allot_slice_of(sc + b->model_at, b->model_n);
    r->system = b->system_at != NO_INDEX ? allot_slice_of(sc + b->system_at, b->system_n)
                                         : allot_slice_of("", 0);
    r->last_user =
        b->have_user ? allot_slice_of(sc + b->turn_at, b->user_n) : allot_slice_of("", 0);
    r->stream = stream;
    r->has_tools = has_tools;
    return 0;
}

void allot_chat_request_release(struct allot_chat_request *r)
{
    cJSON_Delete(r->root);
    scratch_release(&r->scratch);
    memset(r, 0, sizeof *r);
    allot_buf_init(&r->scratch, SCRATCH_MAX);
}
