/* chat_request.c: read an OpenAI chat-completions body once, rewrite it by
 * splicing.
 *
 * Two passes over the body. The first is our own strict, non-recursive
 * JSON validator (RFC 8259: the four whitespace bytes only, strict numbers,
 * no raw control characters, valid escapes and surrogate pairs, valid
 * UTF-8, no \u0000, nesting at most CJSON_NESTING_LIMIT deep). It gives the
 * client a precise "invalid JSON at line L column C: why", and on the way
 * records the byte spans of the top-level "model" and "stream_options"
 * values. The second pass is cJSON, which builds the tree routing reads
 * (model, stream flags, the instruction and a few structural signals).
 *
 * Why validate ourselves: cJSON is lenient where the upstreams we forward
 * to are not (it accepts control characters and invalid UTF-8 in strings,
 * "01", "1.", any byte <= 0x20 as whitespace, a byte order mark, and turns
 * "\u0000" into a silently truncated string), and it reports only an error
 * position, no reason. A body we route must be one the upstream parses the
 * same way, so whatever cJSON would let through that strict parsers reject
 * is refused here with a 400 instead of failing later at the upstream.
 * Since every byte of the body is walked anyway to find the spans, the
 * checks cost little. The validator accepts a subset of what cJSON accepts,
 * so after it cJSON can only fail for want of memory.
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allot/chat_request.h"
#include "allot/error.h"

/* Instruction text copied or sliced per message: bounds classifier work and
 * scratch memory regardless of body size. */
#define INSTRUCTION_MAX (64 * 1024)
#define SCRATCH_MAX (2 * INSTRUCTION_MAX + 16)
#define NO_INDEX ((size_t)-1)
/* cJSON refuses deeper nesting; refusing it first keeps the two in step */
#define DEPTH_MAX CJSON_NESTING_LIMIT

/* ---- the validator and span scanner ---- */

struct member {
    const char *name; /* key to look for at depth 1, ASCII */
    size_t off, len;  /* value span; len 0 when absent */
    int count;        /* occurrences */
};

/* Where and why a body is not JSON. */
struct json_error {
    size_t pos;
    const char *why; /* static text, or NULL: "unexpected character" */
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && is_ws(s[i]))
        i++;
    return i;
}

static int fail(struct json_error *err, size_t pos, const char *why)
{
    err->pos = pos;
    err->why = why;
    return ALLOT_EPARSE;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of the \uXXXX at s[i] (s[i] == '\\'), or -1. */
static long u_escape(const char *s, size_t n, size_t i)
{
    long v = 0;
    int d, h;

    if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    for (d = 2; d < 6; d++) {
        if ((h = hexval(s[i + d])) < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the valid UTF-8 sequence at s[i] (s[i] >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i], lo = 0x80, hi = 0xBF;
    size_t len, k;

    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    /* no overlong forms, no surrogates, nothing past U+10FFFF */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (k = 2; k < len; k++)
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* String bytes that need no check: printable ASCII but '"' and '\\'. */
static int plain_in_string(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* How many of the 16 bytes at s are plain_in_string(): strings are most of
 * a body, so they are skipped 16 bytes at a time where SSE2 exists (all of
 * x86-64). */
static size_t plain16(const char *s)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1F)), x);
    __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                             _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                                ctl);
    unsigned m = (unsigned)_mm_movemask_epi8(stop) | (unsigned)_mm_movemask_epi8(x);
    return m ? (size_t)__builtin_ctz(m) : 16;
}
#endif

/* s[*i] is '"'. Validates the string; on return *i is just past the
 * closing quote and *has_esc says whether it holds an escape. */
static int scan_string(const char *s, size_t n, size_t *i, int *has_esc, struct json_error *err)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t j = *i + 1, len;
    long cu, lo;
    int esc = 0;

    for (;;) {
#if defined(__SSE2__)
        while (n - j >= 16) {
            size_t k = plain16(s + j);
            j += k;
            if (k < 16)
                break;
        }
#endif
        while (j < n && plain_in_string(u[j]))
            j++;
        if (j >= n)
            return fail(err, n, "unterminated string");
        if (u[j] == '"')
            break;
        if (u[j] >= 0x80) {
            if (!(len = utf8_len(u, n, j)))
                return fail(err, j, "invalid UTF-8 in string");
            j += len;
        } else if (u[j] < 0x20) {
            return fail(err, j, "unescaped control character in string");
        } else { /* backslash */
            esc = 1;
            if (j + 1 >= n)
                return fail(err, n, "unterminated string");
            if (s[j + 1] != 'u') {
                if (!strchr("\"\\/bfnrt", s[j + 1]) || s[j + 1] == '\0')
                    return fail(err, j, "invalid escape in string");
                j += 2;
                continue;
            }
            if ((cu = u_escape(s, n, j)) < 0)
                return fail(err, j, "invalid \\u escape in string");
            if (cu == 0)
                return fail(err, j, "\\u0000 is not allowed in strings");
            if (cu >= 0xDC00 && cu <= 0xDFFF)
                return fail(err, j, "unpaired UTF-16 surrogate in string");
            if (cu >= 0xD800 && cu <= 0xDBFF) {
                lo = u_escape(s, n, j + 6);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(err, j, "unpaired UTF-16 surrogate in string");
                j += 6;
            }
            j += 6;
        }
    }
    *i = j + 1;
    if (has_esc)
        *has_esc = esc;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at s[*i]. */
static int scan_number(const char *s, size_t n, size_t *i, struct json_error *err)
{
    size_t j = *i, start = *i;

    if (j < n && s[j] == '-')
        j++;
    if (j < n && s[j] == '0') {
        j++;
    } else if (j < n && is_digit(s[j])) {
        while (j < n && is_digit(s[j]))
            j++;
    } else {
        return fail(err, start, "invalid number");
    }
    if (j < n && s[j] == '.') {
        if (++j >= n || !is_digit(s[j]))
            return fail(err, start, "invalid number");
        while (j < n && is_digit(s[j]))
            j++;
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= n || !is_digit(s[j]))
            return fail(err, start, "invalid number");
        while (j < n && is_digit(s[j]))
            j++;
    }
    /* "01" and "1x": a number must end at a delimiter */
    if (j < n && (is_digit(s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '+' ||
                  s[j] == '-'))
        return fail(err, start, "invalid number");
    *i = j;
    return 0;
}

/* Does the raw key k[0..n) (between the quotes, already validated) decode
 * to name? Only ASCII names are looked for, so any escape decoding to a
 * non-ASCII code point is a mismatch. */
static int key_is(const char *k, size_t n, int has_esc, const char *name)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t nl = strlen(name), i = 0, o = 0;
    const char *e;

    if (!has_esc)
        return n == nl && memcmp(k, name, n) == 0;
    while (i < n) {
        char c = k[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return 0;
            if (k[i + 1] == 'u') {
                long v = u_escape(k, n, i);
                if (v <= 0 || v >= 0x80)
                    return 0;
                c = (char)v;
                i += 4;
            } else if (k[i + 1] != '\0' && (e = strchr(from, k[i + 1]))) {
                c = to[e - from];
            } else {
                return 0;
            }
            i += 2;
        } else {
            i++;
        }
        if (o >= nl || name[o] != c)
            return 0;
        o++;
    }
    return o == nl;
}

#define STR_(x) #x
#define STR(x) STR_(x)

static void set_bit(uint8_t *bits, size_t i, int on)
{
    if (on)
        bits[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

static int get_bit(const uint8_t *bits, size_t i)
{
    return bits[i / 8] >> (i % 8) & 1;
}

/* Validate the one JSON value at s[start, n) (leading whitespace allowed)
 * and set *end just past it. When the value is an object, record the value
 * span of each of its members named in m. Iterative, with the open
 * containers kept as a bit stack, so hostile nesting costs no C stack. */
static int scan_json(const char *s, size_t n, size_t start, struct member *m, size_t nm,
                     size_t *end, struct json_error *err)
{
    enum { VALUE, KEY, AFTER } state = VALUE;
    uint8_t is_object[(DEPTH_MAX + 7) / 8];
    size_t i = start, depth = 0, val_off = 0, k, key_off;
    struct member *pending = NULL; /* the depth-1 member whose value is read */
    int rc, esc;

    memset(is_object, 0, sizeof is_object);
    for (;;) {
        switch (state) {
        case VALUE: /* a value starts at i, after whitespace */
            i = skip_ws(s, n, i);
            if (i >= n)
                return fail(err, n, "unexpected end of input");
            state = AFTER;
            if (s[i] == '{' || s[i] == '[') {
                int obj = s[i] == '{';
                if (depth == DEPTH_MAX)
                    return fail(err, i, "nesting deeper than " STR(DEPTH_MAX) " levels");
                set_bit(is_object, depth++, obj);
                i = skip_ws(s, n, i + 1);
                if (i < n && s[i] == (obj ? '}' : ']')) {
                    depth--;
                    i++;
                } else {
                    state = obj ? KEY : VALUE;
                }
            } else if (s[i] == '"') {
                if ((rc = scan_string(s, n, &i, NULL, err)))
                    return rc;
            } else if (s[i] == '-' || is_digit(s[i])) {
                if ((rc = scan_number(s, n, &i, err)))
                    return rc;
            } else if (n - i >= 4 && memcmp(s + i, "true", 4) == 0) {
                i += 4;
            } else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) {
                i += 5;
            } else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) {
                i += 4;
            } else {
                return fail(err, i, NULL);
            }
            break;

        case KEY: /* a member starts at i, after '{' or ',' and whitespace */
            if (i >= n)
                return fail(err, n, "unexpected end of input");
            if (s[i] != '"')
                return fail(err, i, NULL);
            key_off = i + 1;
            if ((rc = scan_string(s, n, &i, &esc, err)))
                return rc;
            if (depth == 1) {
                pending = NULL;
                for (k = 0; k < nm; k++)
                    if (key_is(s + key_off, i - 1 - key_off, esc, m[k].name))
                        pending = &m[k];
            }
            i = skip_ws(s, n, i);
            if (i >= n)
                return fail(err, n, "unexpected end of input");
            if (s[i] != ':')
                return fail(err, i, NULL);
            i = skip_ws(s, n, i + 1);
            val_off = depth == 1 ? i : val_off;
            state = VALUE;
            break;

        case AFTER: /* a value ended at i */
            if (depth == 1 && pending) {
                pending->off = val_off;
                pending->len = i - val_off;
                pending->count++;
                pending = NULL;
            }
            if (depth == 0) {
                *end = i;
                return 0;
            }
            i = skip_ws(s, n, i);
            if (i >= n)
                return fail(err, n, "unexpected end of input");
            if (s[i] == ',') {
                i++;
                if (get_bit(is_object, depth - 1)) {
                    i = skip_ws(s, n, i);
                    state = KEY;
                } else {
                    state = VALUE;
                }
            } else if (s[i] == (get_bit(is_object, depth - 1) ? '}' : ']')) {
                depth--;
                i++;
            } else {
                return fail(err, i, NULL);
            }
            break;
        }
    }
}

/* "invalid JSON at line L column C: why" for an error at err->pos. Columns
 * count characters, as an editor shows them, from 1. */
static void describe(const char *s, size_t n, const struct json_error *err, struct allot_buf *out)
{
    size_t i, line = 1, col = 1, pos = err->pos < n ? err->pos : n;

    for (i = 0; i < pos; i++) {
        if (s[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)s[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    allot_buf_addf(out, "invalid JSON at line %zu column %zu: ", line, col);
    if (err->why) {
        allot_buf_adds(out, err->why);
    } else if (pos >= n) {
        allot_buf_adds(out, "unexpected end of input");
    } else {
        unsigned char c = (unsigned char)s[pos];
        if (c > 0x20 && c < 0x7F)
            allot_buf_addf(out, "unexpected character '%c'", c);
        else
            allot_buf_addf(out, "unexpected byte 0x%02X", c);
    }
}

/* ---- extraction ---- */

/* The last member of obj named name, or NULL (see the top comment). */
static cJSON *member(const cJSON *obj, const char *name)
{
    cJSON *c, *found = NULL;

    if (!cJSON_IsObject(obj))
        return NULL;
    cJSON_ArrayForEach(c, obj)
    {
        if (c->string && strcmp(c->string, name) == 0)
            found = c;
    }
    return found;
}

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
        text = member(part, "text");
        if (cJSON_IsString(text))
            total = add_sat(total, str_len(text));
    }
    return total;
}

/* The text of a text part, or NULL. */
static const cJSON *text_part(const cJSON *part)
{
    const cJSON *type = member(part, "type"), *text;

    if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0)
        return NULL;
    text = member(part, "text");
    return cJSON_IsString(text) ? text : NULL;
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
        if (!first) {
            if (room < 1)
                break;
            if ((rc = allot_buf_add(scratch, "\n", 1)))
                return rc;
            room--;
        }
        first = 0;
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

int allot_chat_request_parse(struct allot_chat_request *r, const char *body, size_t len,
                             struct allot_buf *err)
{
    struct allot_chat_request t;
    struct member spans[2] = {{"model", 0, 0, 0}, {"stream_options", 0, 0, 0}};
    struct json_error jerr = {0, NULL};
    struct top top;
    cJSON *msg, *role;
    size_t i, sys_idx = NO_INDEX, user_idx = NO_INDEX, sys_off, user_off, end;
    const char *parse_end = NULL;
    int rc;

    memset(&t, 0, sizeof t);
    allot_buf_init(&t.scratch, SCRATCH_MAX);
    if (!body) {
        body = "";
        len = 0;
    }

    /* 1. strict validation, and the spans of the top-level values */
    rc = ALLOT_EPARSE;
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        jerr.why = "byte order mark (send UTF-8 without one)";
        describe(body, len, &jerr, err);
        goto out;
    }
    if (scan_json(body, len, 0, spans, 2, &end, &jerr)) {
        describe(body, len, &jerr, err);
        goto out;
    }
    if ((end = skip_ws(body, len, end)) < len) {
        jerr.pos = end;
        jerr.why = "unexpected data after the JSON value";
        describe(body, len, &jerr, err);
        goto out;
    }

    /* 2. the tree: cJSON accepts all the validator does, so a failure here
     * is an allocation failure (cJSON does not say which). The end comes
     * back through parse_end, not the global cJSON_GetErrorPtr(); the
     * validator has already checked that only whitespace follows. */
    t.root = cJSON_ParseWithLengthOpts(body, len, &parse_end, 0);
    if (!t.root) {
        rc = ALLOT_ENOMEM;
        goto out;
    }

    /* 3. the fields */
    rc = ALLOT_EINVAL;
    if (!cJSON_IsObject(t.root)) {
        allot_buf_adds(err, "the request body must be a JSON object");
        goto out;
    }
    top_members(t.root, &top);
    if (!cJSON_IsString(top.model)) {
        allot_buf_adds(err, "'model' is required and must be a string");
        goto out;
    }
    t.model = allot_slice_of(top.model->valuestring, str_len(top.model));
    if (!nonempty_array(top.messages)) {
        allot_buf_adds(err, "'messages' must be a non-empty array");
        goto out;
    }
    if (top.stream && !cJSON_IsBool(top.stream) && !cJSON_IsNull(top.stream)) {
        allot_buf_adds(err, "'stream' must be a boolean");
        goto out;
    }
    t.stream = cJSON_IsTrue(top.stream);
    t.include_usage = cJSON_IsTrue(member(top.stream_options, "include_usage"));

    i = 0;
    cJSON_ArrayForEach(msg, top.messages)
    {
        if (!cJSON_IsObject(msg)) {
            allot_buf_addf(err, "'messages[%zu]' must be an object", i);
            goto out;
        }
        role = member(msg, "role");
        if (!cJSON_IsString(role)) {
            allot_buf_addf(err, "'messages[%zu].role' is required and must be a string", i);
            goto out;
        }
        if (sys_idx == NO_INDEX && (role_is(role, "system") || role_is(role, "developer")))
            sys_idx = i;
        if (role_is(role, "user"))
            user_idx = i;
        if (role_is(role, "tool") || role_is(role, "function"))
            t.n_tool_results++;
        i++;
    }
    t.n_messages = i;

    t.system = t.last_user = allot_slice_of("", 0);
    sys_off = user_off = NO_INDEX;
    i = 0;
    cJSON_ArrayForEach(msg, top.messages)
    {
        cJSON *content = member(msg, "content");
        int rc2 = 0;
        if (i == sys_idx)
            rc2 = instruction_text(content, &t.scratch, &t.system, &sys_off);
        else if (i == user_idx)
            rc2 = instruction_text(content, &t.scratch, &t.last_user, &user_off);
        else
            t.material_bytes = add_sat(t.material_bytes, content_bytes(content));
        if (rc2) {
            rc = rc2;
            goto out;
        }
        i++;
    }
    /* scratch has stopped moving: point the joined texts into it */
    if (sys_off != NO_INDEX)
        t.system.ptr = t.scratch.ptr + sys_off;
    if (user_off != NO_INDEX)
        t.last_user.ptr = t.scratch.ptr + user_off;

    t.has_tools = nonempty_array(top.tools) || nonempty_array(top.functions);
    if (top.response_format && !cJSON_IsNull(top.response_format)) {
        cJSON *type = member(top.response_format, "type");
        t.has_response_format =
            !(cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0);
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
    if (rc) {
        cJSON_Delete(t.root);
        allot_buf_release(&t.scratch);
        memset(r, 0, sizeof *r);
        allot_buf_init(&r->scratch, SCRATCH_MAX);
        return rc;
    }
    *r = t;
    return 0;
}

/* ---- rewrite ---- */

static int is_empty_object(const char *s, size_t n, size_t brace)
{
    size_t i = skip_ws(s, n, brace + 1);
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
    size_t off = r->stream_options_off, end = off + r->stream_options_len, obj_end;
    struct member iu = {"include_usage", 0, 0, 0};
    struct json_error jerr;
    const cJSON *v = member(r->root, "stream_options");
    int rc;

    *unchanged = 0;
    if (!cJSON_IsObject(v) || body[off] != '{')
        return allot_buf_adds(so, "{\"include_usage\":true}");
    if (scan_json(body, end, off, &iu, 1, &obj_end, &jerr) || obj_end != end)
        return ALLOT_EINVAL;
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
    if (!r->root || !body || !upstream_model || r->model_len == 0 || r->model_off > len ||
        r->model_len > len - r->model_off || r->stream_options_off > len ||
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
            brace = skip_ws(body, len, 0);
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

void allot_chat_request_release(struct allot_chat_request *r)
{
    cJSON_Delete(r->root);
    allot_buf_release(&r->scratch);
    memset(r, 0, sizeof *r);
    allot_buf_init(&r->scratch, SCRATCH_MAX);
}
