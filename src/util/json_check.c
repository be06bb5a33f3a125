/* json_check.c: strict JSON validation in one non-recursive pass (see
 * json_check.h).
 *
 * One checker serves the gateway (chat_request.c, which also takes the
 * spans of the top-level members from it) and the fake upstream, so the
 * two cannot drift apart on what JSON is.
 *
 * DESIGN: a loop over three states (a value is due, a key is due, a value
 * has ended) with the open containers kept as a bit stack, one bit per
 * level (object or array), so hostile nesting costs 125 bytes of stack
 * and no recursion. Strings, most of a request body, are skipped 16 bytes
 * at a time with SSE2 where it exists. Line and column are worked out only
 * once an error is found, by walking the text up to it again: the common
 * case, a valid text, pays nothing for them. The scanner is made twice
 * (scan_plain, scan_keeping), so that only a check that remembers member
 * values (allot_json_check_remembering) pays for looking them up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/error.h"
#include "allot/json_check.h"
#include "allot/thread_block.h"
#include "allot/utf8.h"
#include "util/json_plain.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Where the check stands: the text and the first problem. */
struct scan {
    const char *s;
    size_t n;
    unsigned flags;
    const char *const *keep; /* members whose values are remembered; NULL: none */
    enum allot_json_check_kind kind;
    size_t pos;
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t allot_json_check_skip_ws_run(const char *text, size_t len, size_t i)
{
    while (i < len && is_ws(text[i]))
        i++;
    return i;
}

static int fail(struct scan *sc, size_t pos, enum allot_json_check_kind kind)
{
    sc->pos = pos;
    sc->kind = kind;
    return ALLOT_EPARSE;
}

int allot_json_check_hex(char c)
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

    if (i > n || n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    for (d = 2; d < 6; d++) {
        if ((h = allot_json_check_hex(s[i + d])) < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* s[*i] is '"'. Checks the string; on return *i is just past the closing
 * quote and *has_esc says whether it holds an escape. */
/* The characters after a backslash that JSON escapes are made of, but u:
 * a compare each (code and prose carry an escape every few dozen bytes). */
static inline int simple_escape(char c)
{
    return c == 'n' || c == '"' || c == '\\' || c == 't' || c == 'r' || c == '/' || c == 'b' ||
           c == 'f';
}

static int scan_string(struct scan *sc, size_t *i, int *has_esc)
{
    const char *s = sc->s;
    const unsigned char *u = (const unsigned char *)s;
    size_t n = sc->n, j = *i + 1, len;
    long cu, lo;
    int esc = 0;

    for (;;) {
        j = allot_json_plain_end(s, j, n); /* bytes that need no check */
        if (j >= n)
            return fail(sc, n, ALLOT_JSON_CHECK_UNTERMINATED);
        if (u[j] == '"')
            break;
        if (u[j] >= 0x80) {
            if (!(len = allot_utf8_seq_len(u + j, n - j)))
                return fail(sc, j, ALLOT_JSON_CHECK_UTF8);
            j += len;
        } else if (u[j] < 0x20) {
            return fail(sc, j, ALLOT_JSON_CHECK_CONTROL);
        } else { /* backslash */
            esc = 1;
            if (j + 1 >= n)
                return fail(sc, n, ALLOT_JSON_CHECK_UNTERMINATED);
            if (s[j + 1] != 'u') {
                if (!simple_escape(s[j + 1]))
                    return fail(sc, j, ALLOT_JSON_CHECK_ESCAPE);
                j += 2;
                continue;
            }
            if ((cu = u_escape(s, n, j)) < 0)
                return fail(sc, j, ALLOT_JSON_CHECK_U_ESCAPE);
            if (cu == 0 && !(sc->flags & ALLOT_JSON_CHECK_NUL_OK))
                return fail(sc, j, ALLOT_JSON_CHECK_NUL);
            if (cu >= 0xDC00 && cu <= 0xDFFF)
                return fail(sc, j, ALLOT_JSON_CHECK_SURROGATE);
            if (cu >= 0xD800 && cu <= 0xDBFF) {
                lo = u_escape(s, n, j + 6);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(sc, j, ALLOT_JSON_CHECK_SURROGATE);
                j += 6;
            }
            j += 6;
        }
    }
    *i = j + 1;
    *has_esc = esc;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at s[*i]. */
static int scan_number(struct scan *sc, size_t *i)
{
    const char *s = sc->s;
    size_t n = sc->n, j = *i, start = *i;

    if (j < n && s[j] == '-')
        j++;
    if (j < n && s[j] == '0') {
        j++;
    } else if (j < n && is_digit(s[j])) {
        while (j < n && is_digit(s[j]))
            j++;
    } else {
        return fail(sc, start, ALLOT_JSON_CHECK_NUMBER);
    }
    if (j < n && s[j] == '.') {
        if (++j >= n || !is_digit(s[j]))
            return fail(sc, start, ALLOT_JSON_CHECK_NUMBER);
        while (j < n && is_digit(s[j]))
            j++;
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= n || !is_digit(s[j]))
            return fail(sc, start, ALLOT_JSON_CHECK_NUMBER);
        while (j < n && is_digit(s[j]))
            j++;
    }
    /* "01" and "1x": a number must end at a delimiter */
    if (j < n &&
        (is_digit(s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '+' || s[j] == '-'))
        return fail(sc, start, ALLOT_JSON_CHECK_NUMBER);
    *i = j;
    return 0;
}

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

/* --- remembered member values (allot_json_check_remembering) ---
 *
 * A value is kept on its second sighting, so that a value seen once (the
 * messages of an agent's conversation, longer with every turn) costs no
 * copy: the first sighting leaves only a fingerprint (its length, flags
 * and a hash of its first and last EDGE bytes, not of all of it), and a
 * fingerprint that comes back has the value copied. A false match of
 * fingerprints only keeps a value that is not needed: passing over one
 * takes equal bytes, compared whole. */
#define SEEN_SLOTS 8
#define EDGE 64

struct kept {
    char *bytes; /* heap; NULL: an empty slot */
    size_t len, cap;
    unsigned flags;
    unsigned used; /* the memory's clock when last kept or passed over */
};

struct seen {
    size_t len; /* 0: an empty slot */
    unsigned flags;
    uint64_t print;
};

struct memory {
    struct kept kept[ALLOT_JSON_CHECK_REMEMBER_KEPT];
    struct seen seen[SEEN_SLOTS];
    unsigned next_seen, clock;
    size_t hits;
};

static void memory_release(void *p)
{
    struct memory *m = p;
    size_t i;
    for (i = 0; i < ALLOT_JSON_CHECK_REMEMBER_KEPT; i++)
        free(m->kept[i].bytes);
}

static struct allot_thread_block memories =
    ALLOT_THREAD_BLOCK_INIT(sizeof(struct memory), memory_release);

void allot_json_check_forget(void)
{
    allot_thread_block_drop(&memories);
}

size_t allot_json_check_remembered_hits(void)
{
    const struct memory *m = allot_thread_block_peek(&memories);
    return m ? m->hits : 0;
}

/* The length of a kept value (checked under flags) that s[i..n) starts
 * with, or 0. */
static size_t remembered_at(const char *s, size_t n, size_t i, unsigned flags)
{
    struct memory *m = allot_thread_block_peek(&memories);
    size_t k;
    if (!m)
        return 0;
    for (k = 0; k < ALLOT_JSON_CHECK_REMEMBER_KEPT; k++) {
        struct kept *v = &m->kept[k];
        if (v->bytes && v->flags == flags && v->len <= n - i && v->bytes[0] == s[i] &&
            memcmp(v->bytes, s + i, v->len) == 0) {
            v->used = ++m->clock;
            m->hits++;
            return v->len;
        }
    }
    return 0;
}

static uint64_t fingerprint(const char *v, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ len;
    size_t i;
    for (i = 0; i < EDGE; i++) /* len >= REMEMBER_MIN > 2 * EDGE */
        h = (h ^ (unsigned char)v[i]) * 0x100000001b3ull;
    for (i = len - EDGE; i < len; i++)
        h = (h ^ (unsigned char)v[i]) * 0x100000001b3ull;
    return h;
}

/* A member value v[0..len) that was checked: its fingerprint noted, or the
 * value kept when the fingerprint was noted before. */
static void remember(const char *v, size_t len, unsigned flags)
{
    struct memory *m;
    struct kept *slot;
    uint64_t print;
    size_t k;

    if (len < ALLOT_JSON_CHECK_REMEMBER_MIN || len > ALLOT_JSON_CHECK_REMEMBER_MAX ||
        !(m = allot_thread_block_get(&memories)))
        return;
    print = fingerprint(v, len);
    for (k = 0; k < SEEN_SLOTS; k++)
        if (m->seen[k].len == len && m->seen[k].flags == flags && m->seen[k].print == print)
            break;
    if (k == SEEN_SLOTS) { /* first sighting */
        m->seen[m->next_seen].len = len;
        m->seen[m->next_seen].flags = flags;
        m->seen[m->next_seen].print = print;
        m->next_seen = (m->next_seen + 1) % SEEN_SLOTS;
        return;
    }
    m->seen[k].len = 0;
    slot = &m->kept[0]; /* the least recently used */
    for (k = 1; k < ALLOT_JSON_CHECK_REMEMBER_KEPT; k++)
        if (m->kept[k].used < slot->used)
            slot = &m->kept[k];
    if (slot->cap < len) {
        char *b = realloc(slot->bytes, len);
        if (!b)
            return;
        slot->bytes = b;
        slot->cap = len;
    }
    memcpy(slot->bytes, v, len);
    slot->len = len;
    slot->flags = flags;
    slot->used = ++m->clock;
}

/* Is the key k[0..n) (no escapes) one of the names in list? */
static int key_listed(const char *const *list, const char *k, size_t n)
{
    for (; *list; list++) {
        const char *name = *list;
        size_t j = 0;
        while (j < n && name[j] == k[j]) /* stops at the name's NUL too */
            j++;
        if (j == n && name[n] == '\0')
            return 1;
    }
    return 0;
}

/* Check the one JSON value at s[0, n) (whitespace around it allowed).
 * Made twice (scan_plain, scan_keeping), so that a check that remembers
 * nothing pays nothing for remembering: remembering is a constant in each. */
static inline __attribute__((always_inline)) int
scan_json(struct scan *sc, allot_json_check_member_cb on_member, void *ctx, const int remembering)
{
    enum { VALUE, KEY, AFTER } state = VALUE;
    uint8_t is_object[(ALLOT_JSON_CHECK_MAX_DEPTH + 7) / 8];
    const char *s = sc->s;
    size_t n = sc->n, i = 0, depth = 0, key_off;
    struct allot_json_check_member m = {0, 0, 0, 0, 0};
    int rc, esc, keep = 0; /* the member's value may be remembered */
    size_t skipped = 0;    /* the bytes of a kept value passed over, for the member ending */

    memset(is_object, 0, sizeof is_object);
    for (;;) {
        switch (state) {
        case VALUE: /* a value starts at i, after whitespace */
            i = allot_json_check_skip_ws(s, n, i);
            if (i >= n)
                return fail(sc, n, ALLOT_JSON_CHECK_END);
            state = AFTER;
            if (remembering && depth == 1 && (s[i] == '{' || s[i] == '[') &&
                get_bit(is_object, 0) && !m.key_escaped &&
                (keep = key_listed(sc->keep, s + m.key_off, m.key_len)) &&
                (skipped = remembered_at(s, n, i, sc->flags)) > 0) {
                i += skipped; /* a kept value: the member's value ends there */
            } else if (s[i] == '{' || s[i] == '[') {
                int obj = s[i] == '{';
                if (depth == ALLOT_JSON_CHECK_MAX_DEPTH)
                    return fail(sc, i, ALLOT_JSON_CHECK_DEPTH);
                set_bit(is_object, depth++, obj);
                i = allot_json_check_skip_ws(s, n, i + 1);
                if (i < n && s[i] == (obj ? '}' : ']')) {
                    depth--;
                    i++;
                } else {
                    state = obj ? KEY : VALUE;
                }
            } else if (s[i] == '"') {
                if ((rc = scan_string(sc, &i, &esc)))
                    return rc;
            } else if (s[i] == '-' || is_digit(s[i])) {
                if ((rc = scan_number(sc, &i)))
                    return rc;
            } else if (n - i >= 4 && memcmp(s + i, "true", 4) == 0) {
                i += 4;
            } else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) {
                i += 5;
            } else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) {
                i += 4;
            } else {
                return fail(sc, i, ALLOT_JSON_CHECK_UNEXPECTED);
            }
            break;

        case KEY: /* a member starts at i, after '{' or ',' and whitespace */
            if (i >= n)
                return fail(sc, n, ALLOT_JSON_CHECK_END);
            if (s[i] != '"')
                return fail(sc, i, ALLOT_JSON_CHECK_UNEXPECTED);
            key_off = i + 1;
            if ((rc = scan_string(sc, &i, &esc)))
                return rc;
            if (depth == 1) {
                m.key_off = key_off;
                m.key_len = i - 1 - key_off;
                m.key_escaped = esc;
            }
            i = allot_json_check_skip_ws(s, n, i);
            if (i >= n)
                return fail(sc, n, ALLOT_JSON_CHECK_END);
            if (s[i] != ':')
                return fail(sc, i, ALLOT_JSON_CHECK_UNEXPECTED);
            i = allot_json_check_skip_ws(s, n, i + 1);
            if (depth == 1)
                m.value_off = i;
            state = VALUE;
            break;

        case AFTER: /* a value ended at i */
            if (depth == 0)
                goto end;
            if (depth == 1 && get_bit(is_object, 0)) {
                m.value_len = i - m.value_off;
                if (remembering) {
                    if (keep && !skipped && (s[m.value_off] == '{' || s[m.value_off] == '['))
                        remember(s + m.value_off, m.value_len, sc->flags);
                    skipped = 0;
                    keep = 0;
                }
                if (on_member)
                    on_member(ctx, &m);
            }
            i = allot_json_check_skip_ws(s, n, i);
            if (i >= n)
                return fail(sc, n, ALLOT_JSON_CHECK_END);
            if (s[i] == ',') {
                i++;
                if (get_bit(is_object, depth - 1)) {
                    i = allot_json_check_skip_ws(s, n, i);
                    state = KEY;
                } else {
                    state = VALUE;
                }
            } else if (s[i] == (get_bit(is_object, depth - 1) ? '}' : ']')) {
                depth--;
                i++;
            } else {
                return fail(sc, i, ALLOT_JSON_CHECK_UNEXPECTED);
            }
            break;
        }
    }
end:
    if ((i = allot_json_check_skip_ws(s, n, i)) < n)
        return fail(sc, i, ALLOT_JSON_CHECK_TRAILING);
    return 0;
}

static int scan_plain(struct scan *sc, allot_json_check_member_cb on_member, void *ctx)
{
    return scan_json(sc, on_member, ctx, 0);
}

static int scan_keeping(struct scan *sc, allot_json_check_member_cb on_member, void *ctx)
{
    return scan_json(sc, on_member, ctx, 1);
}

/* Fill err for the problem sc found. Columns count characters (bytes that
 * do not continue a UTF-8 sequence) as an editor shows them, and bytes. */
static void describe(const struct scan *sc, struct allot_json_check_error *err)
{
    static const char *const why[] = {
        [ALLOT_JSON_CHECK_OK] = "no error",
        [ALLOT_JSON_CHECK_END] = "unexpected end of input",
        [ALLOT_JSON_CHECK_UNTERMINATED] = "unterminated string",
        [ALLOT_JSON_CHECK_UNEXPECTED] = "unexpected end of input", /* unless a byte is there */
        [ALLOT_JSON_CHECK_BOM] = "byte order mark (send UTF-8 without one)",
        [ALLOT_JSON_CHECK_TRAILING] = "unexpected data after the JSON value",
        [ALLOT_JSON_CHECK_NUMBER] = "invalid number",
        [ALLOT_JSON_CHECK_CONTROL] = "unescaped control character in string",
        [ALLOT_JSON_CHECK_UTF8] = "invalid UTF-8 in string",
        [ALLOT_JSON_CHECK_ESCAPE] = "invalid escape in string",
        [ALLOT_JSON_CHECK_U_ESCAPE] = "invalid \\u escape in string",
        [ALLOT_JSON_CHECK_NUL] = "\\u0000 is not allowed in strings",
        [ALLOT_JSON_CHECK_SURROGATE] = "unpaired UTF-16 surrogate in string",
        [ALLOT_JSON_CHECK_DEPTH] = "nesting deeper than " STR(ALLOT_JSON_CHECK_MAX_DEPTH) " levels",
    };
    size_t i, pos = sc->pos < sc->n ? sc->pos : sc->n, line = 1, col = 1, bcol = 1;

    for (i = 0; i < pos; i++) {
        if (sc->s[i] == '\n') {
            line++;
            col = bcol = 1;
        } else {
            bcol++;
            if (((unsigned char)sc->s[i] & 0xC0) != 0x80)
                col++;
        }
    }
    err->kind = sc->kind;
    err->pos = pos;
    err->line = line;
    err->column = col;
    err->byte_column = bcol;
    if (sc->kind == ALLOT_JSON_CHECK_UNEXPECTED && pos < sc->n) {
        unsigned char c = (unsigned char)sc->s[pos];
        if (c > 0x20 && c < 0x7F)
            snprintf(err->why, sizeof err->why, "unexpected character '%c'", c);
        else
            snprintf(err->why, sizeof err->why, "unexpected byte 0x%02X", c);
    } else {
        snprintf(err->why, sizeof err->why, "%s", why[sc->kind]);
    }
}

int allot_json_check(const char *text, size_t len, unsigned flags,
                     allot_json_check_member_cb on_member, void *ctx,
                     struct allot_json_check_error *err)
{
    return allot_json_check_remembering(text, len, flags, NULL, on_member, ctx, err);
}

int allot_json_check_remembering(const char *text, size_t len, unsigned flags,
                                 const char *const *keep, allot_json_check_member_cb on_member,
                                 void *ctx, struct allot_json_check_error *err)
{
    struct scan sc = {text ? text : "", text ? len : 0, flags, keep, ALLOT_JSON_CHECK_OK, 0};
    int rc;

    if (sc.n >= 3 && memcmp(sc.s, "\xEF\xBB\xBF", 3) == 0)
        rc = fail(&sc, 0, ALLOT_JSON_CHECK_BOM);
    else
        rc = keep ? scan_keeping(&sc, on_member, ctx) : scan_plain(&sc, on_member, ctx);
    if (rc && err)
        describe(&sc, err);
    return rc;
}

int allot_json_check_escaped_key_is(const char *text, const struct allot_json_check_member *m,
                                    const char *name)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = text + m->key_off, *e;
    size_t n = m->key_len, nl = strlen(name), i = 0, o = 0;

    if (!m->key_escaped)
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

/* ---- members of a text known to be valid ---- */

/* Just past the closing quote of the string whose opening quote is at
 * s[i], or 0 when it has none; *esc (when not NULL) is set when the string
 * holds a backslash. A quote closes the string unless an odd run of
 * backslashes comes right before it. These walks meet mostly short keys
 * and values: with SSE2, one sixteen-byte step finds the end of a string
 * whose first '"' or '\\' is a quote within it; longer strings and escapes
 * go to memchr(), which takes long runs faster than a loop of our own. */
static size_t skip_string(const char *s, size_t n, size_t i, int *esc)
{
    size_t start = i + 1, q, b;
    const char *p;

#if defined(__SSE2__)
    if (start <= n && n - start >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + start));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
            _mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
        if (m && s[start + (size_t)__builtin_ctz(m)] == '"') {
            if (esc)
                *esc = 0;
            return start + (size_t)__builtin_ctz(m) + 1;
        }
    }
#endif
    for (i = start; i < n; i = q + 1) {
        if (!(p = memchr(s + i, '"', n - i)))
            return 0;
        q = (size_t)(p - s);
        for (b = q; b > start && s[b - 1] == '\\';)
            b--;
        if ((q - b) % 2 == 0) {
            if (esc)
                *esc = memchr(s + start, '\\', q - start) != NULL;
            return q + 1;
        }
    }
    return 0;
}

/* Just past the value that starts at s[i], or 0 when the text ends first. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    size_t depth = 0;

    while (i < n) {
        char c = s[i];
        if (c == '"') {
            if (!(i = skip_string(s, n, i, NULL)))
                return 0;
            if (!depth)
                return i;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (!depth)
                return i; /* the end of a scalar */
            if (!--depth)
                return i + 1;
        } else if (!depth && (c == ',' || is_ws(c))) {
            return i;
        }
        i++;
    }
    return depth ? 0 : i;
}

int allot_json_check_members(const char *s, size_t n, allot_json_check_scan_cb on_member, void *ctx)
{
    struct allot_json_check_member m;
    size_t i = allot_json_check_skip_ws(s, n, 0), end;

    if (i >= n || s[i] != '{')
        return ALLOT_EPARSE;
    i = allot_json_check_skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        return 0;
    while (i < n && s[i] == '"') {
        if (!(end = skip_string(s, n, i, &m.key_escaped)))
            return ALLOT_EPARSE;
        m.key_off = i + 1;
        m.key_len = end - 1 - m.key_off;
        i = allot_json_check_skip_ws(s, n, end);
        if (i >= n || s[i] != ':')
            return ALLOT_EPARSE;
        m.value_off = i = allot_json_check_skip_ws(s, n, i + 1);
        if (!(end = skip_value(s, n, i)) || end == i)
            return ALLOT_EPARSE;
        m.value_len = end - i;
        if (on_member(ctx, &m))
            return 0;
        i = allot_json_check_skip_ws(s, n, end);
        if (i < n && s[i] == '}')
            return 0;
        if (i >= n || s[i] != ',')
            return ALLOT_EPARSE;
        i = allot_json_check_skip_ws(s, n, i + 1);
    }
    return ALLOT_EPARSE;
}
