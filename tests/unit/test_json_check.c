#include <cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/json_check.h"
#include "allot/json_member.h"
#include "allot/utf8.h"
#include "edits.h"
#include "json_forms.h"
#include "test.h"

/* Check text (NUL-terminated) with flags, no member callback. */
static int check(const char *text, unsigned flags, struct allot_json_check_error *e)
{
    return allot_json_check(text, strlen(text), flags, NULL, NULL, e);
}

/* cJSON reads text whole: what the check accepts, cJSON must too. */
static int cjson_reads(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    int ok = v != NULL;
    cJSON_Delete(v);
    return ok;
}

TEST(json_check_accepts_valid_edge_forms)
{
    struct allot_json_check_error e;
    size_t i;

    for (i = 0; i < JSON_VALID_FORMS_N; i++) {
        const char *const *ok = json_valid_forms;
        e.kind = ALLOT_JSON_CHECK_OK;
        if (check(ok[i], 0, &e) != 0)
            fprintf(stderr, "  case %zu: %s at %zu\n", i, e.why, e.pos);
        ASSERT_INT_EQ(check(ok[i], 0, &e), 0);
        ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_OK); /* err untouched on success */
        ASSERT(cjson_reads(ok[i], strlen(ok[i])));
    }
}

TEST(json_check_refusals_give_kind_position_and_why)
{
    static const struct {
        const char *text;
        enum allot_json_check_kind kind;
        size_t pos, column;
        const char *why;
    } cases[] = {
        {"", ALLOT_JSON_CHECK_END, 0, 1, "unexpected end of input"},
        {"  \n ", ALLOT_JSON_CHECK_END, 4, 2, "unexpected end of input"},
        {"[1,", ALLOT_JSON_CHECK_END, 3, 4, "unexpected end of input"},
        {"{\"a\"", ALLOT_JSON_CHECK_END, 4, 5, "unexpected end of input"},
        {"{\"a", ALLOT_JSON_CHECK_UNTERMINATED, 3, 4, "unterminated string"},
        {"\"ab\\", ALLOT_JSON_CHECK_UNTERMINATED, 4, 5, "unterminated string"},
        {"[1,]", ALLOT_JSON_CHECK_UNEXPECTED, 3, 4, "unexpected character ']'"},
        {"{\"a\":1,}", ALLOT_JSON_CHECK_UNEXPECTED, 7, 8, "unexpected character '}'"},
        {"{\"a\" 1}", ALLOT_JSON_CHECK_UNEXPECTED, 5, 6, "unexpected character '1'"},
        {"{1:2}", ALLOT_JSON_CHECK_UNEXPECTED, 1, 2, "unexpected character '1'"},
        {"[1 2]", ALLOT_JSON_CHECK_UNEXPECTED, 3, 4, "unexpected character '2'"},
        {"tru", ALLOT_JSON_CHECK_UNEXPECTED, 0, 1, "unexpected character 't'"},
        {"[.5]", ALLOT_JSON_CHECK_UNEXPECTED, 1, 2, "unexpected character '.'"},
        {"\f1", ALLOT_JSON_CHECK_UNEXPECTED, 0, 1, "unexpected byte 0x0C"},
        {"[1,\xC3\xA9]", ALLOT_JSON_CHECK_UNEXPECTED, 3, 4, "unexpected byte 0xC3"},
        {"\xEF\xBB\xBF{}", ALLOT_JSON_CHECK_BOM, 0, 1, "byte order mark (send UTF-8 without one)"},
        {"{} x", ALLOT_JSON_CHECK_TRAILING, 3, 4, "unexpected data after the JSON value"},
        {"1 2", ALLOT_JSON_CHECK_TRAILING, 2, 3, "unexpected data after the JSON value"},
        {"[01]", ALLOT_JSON_CHECK_NUMBER, 1, 2, "invalid number"},
        {"[1.]", ALLOT_JSON_CHECK_NUMBER, 1, 2, "invalid number"},
        {"[-]", ALLOT_JSON_CHECK_NUMBER, 1, 2, "invalid number"},
        {"[1e]", ALLOT_JSON_CHECK_NUMBER, 1, 2, "invalid number"},
        {"[1e+]", ALLOT_JSON_CHECK_NUMBER, 1, 2, "invalid number"},
        {"[-01]", ALLOT_JSON_CHECK_NUMBER, 1, 2, "invalid number"},
        {"[1.5.2]", ALLOT_JSON_CHECK_NUMBER, 1, 2, "invalid number"},
        {"\"a\tb\"", ALLOT_JSON_CHECK_CONTROL, 2, 3, "unescaped control character in string"},
        {"\"a\xFF\"", ALLOT_JSON_CHECK_UTF8, 2, 3, "invalid UTF-8 in string"},
        {"\"\\x41\"", ALLOT_JSON_CHECK_ESCAPE, 1, 2, "invalid escape in string"},
        {"\"\\U0041\"", ALLOT_JSON_CHECK_ESCAPE, 1, 2, "invalid escape in string"},
        {"\"\\u00g1\"", ALLOT_JSON_CHECK_U_ESCAPE, 1, 2, "invalid \\u escape in string"},
        {"\"\\u12\"", ALLOT_JSON_CHECK_U_ESCAPE, 1, 2, "invalid \\u escape in string"},
        {"\"a\\u0000b\"", ALLOT_JSON_CHECK_NUL, 2, 3, "\\u0000 is not allowed in strings"},
        {"\"\\ud800\"", ALLOT_JSON_CHECK_SURROGATE, 1, 2, "unpaired UTF-16 surrogate in string"},
        {"\"\\ud800\\u0041\"", ALLOT_JSON_CHECK_SURROGATE, 1, 2,
         "unpaired UTF-16 surrogate in string"},
        {"\"\\ud800\\ud800\"", ALLOT_JSON_CHECK_SURROGATE, 1, 2,
         "unpaired UTF-16 surrogate in string"},
        {"\"\\udc00\\ud800\"", ALLOT_JSON_CHECK_SURROGATE, 1, 2,
         "unpaired UTF-16 surrogate in string"},
    };
    struct allot_json_check_error e;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&e, 0, sizeof e);
        if (check(cases[i].text, 0, &e) != ALLOT_EPARSE || e.kind != cases[i].kind ||
            e.pos != cases[i].pos || strcmp(e.why, cases[i].why) != 0)
            fprintf(stderr, "  case %zu: kind %d at %zu: %s\n", i, (int)e.kind, e.pos, e.why);
        ASSERT_INT_EQ(check(cases[i].text, 0, &e), ALLOT_EPARSE);
        ASSERT_INT_EQ(e.kind, cases[i].kind);
        ASSERT_INT_EQ(e.pos, cases[i].pos);
        ASSERT_INT_EQ(e.column, cases[i].column);
        ASSERT_STR_EQ(e.why, cases[i].why);
    }
}

TEST(json_check_line_and_columns_in_characters_and_bytes)
{
    /* "é" and "😀" are one column each but 2 and 4 bytes */
    const char *text = "{\"a\":\"\xC3\xA9\",\n \"b\":\"\xF0\x9F\x98\x80\" x}";
    struct allot_json_check_error e;

    ASSERT_INT_EQ(check(text, 0, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_UNEXPECTED);
    ASSERT_INT_EQ(e.pos, strchr(text, 'x') - text);
    ASSERT_INT_EQ(e.line, 2);
    ASSERT_INT_EQ(e.column, 10);
    ASSERT_INT_EQ(e.byte_column, 13);
    ASSERT_STR_EQ(e.why, "unexpected character 'x'");

    /* the end of the text is a position too: one past the last byte */
    ASSERT_INT_EQ(check("[\n\n1,", 0, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.pos, 5);
    ASSERT_INT_EQ(e.line, 3);
    ASSERT_INT_EQ(e.column, 3);

    /* err may be NULL; a NULL text of length 0 is the empty text */
    ASSERT_INT_EQ(allot_json_check("[", 1, 0, NULL, NULL, NULL), ALLOT_EPARSE);
    ASSERT_INT_EQ(allot_json_check(NULL, 0, 0, NULL, NULL, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_END);
    ASSERT_INT_EQ(e.pos, 0);
}

TEST(json_check_utf8_edge_cases)
{
    static const struct {
        const char *bytes;
        size_t len; /* what allot_utf8_seq_len says; 0: not UTF-8 */
    } cases[] = {
        {"\x41", 1},
        {"\xC2\x80", 2},
        {"\xF4\x8F\xBF\xBF", 4},
        {"\xC0\x80", 0},         /* overlong NUL */
        {"\xC1\xBF", 0},         /* overlong 2-byte */
        {"\xE0\x9F\xBF", 0},     /* overlong 3-byte */
        {"\xF0\x8F\xBF\xBF", 0}, /* overlong 4-byte */
        {"\xED\xA0\x80", 0},     /* U+D800, a surrogate */
        {"\xED\xBF\xBF", 0},     /* U+DFFF */
        {"\xF4\x90\x80\x80", 0}, /* U+110000 */
        {"\xF5\x80\x80\x80", 0}, /* past U+10FFFF by its lead byte */
        {"\xFF", 0},             /* never UTF-8 */
        {"\x80", 0},             /* a continuation byte alone */
        {"\xE2\x82\x41", 0},     /* a bad continuation */
        {"\xF0\x9F\x98\x41", 0}, /* a bad last continuation */
    };
    char text[16];
    struct allot_json_check_error e;
    size_t i, n;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = strlen(cases[i].bytes);
        ASSERT_INT_EQ(allot_utf8_seq_len((const unsigned char *)cases[i].bytes, n), cases[i].len);
        snprintf(text, sizeof text, "\"%s\"", cases[i].bytes);
        if (cases[i].len) {
            ASSERT_INT_EQ(check(text, 0, &e), 0);
        } else {
            ASSERT_INT_EQ(check(text, 0, &e), ALLOT_EPARSE);
            ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_UTF8);
            ASSERT_INT_EQ(e.pos, 1);
        }
    }
    /* a sequence cut short by the end of the text, or by the closing quote */
    ASSERT_INT_EQ(allot_utf8_seq_len((const unsigned char *)"\xE2\x82", 2), 0);
    ASSERT_INT_EQ(allot_utf8_seq_len((const unsigned char *)"\xF0\x9F\x98", 3), 0);
    ASSERT_INT_EQ(check("\"\xE2\x82\"", 0, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_UTF8);
    ASSERT_INT_EQ(allot_json_check("\"\xE2\x82", 3, 0, NULL, NULL, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_UTF8);
    ASSERT_INT_EQ(e.pos, 1);
    /* past 16 plain bytes (the SSE2 stride), a bad byte is still found */
    ASSERT_INT_EQ(check("\"abcdefghijklmnopqrstuvwxyz\xC0\xAF\"", 0, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_UTF8);
    ASSERT_INT_EQ(e.pos, 27);
    ASSERT_INT_EQ(check("\"abcdefghijklmnopqrstuvwxyz\x01\"", 0, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_CONTROL);
    ASSERT_INT_EQ(e.pos, 27);
}

TEST(json_check_nul_escape_only_with_the_flag)
{
    struct allot_json_check_error e;

    ASSERT_INT_EQ(check("{\"a\":\"x\\u0000y\"}", 0, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_NUL);
    ASSERT_INT_EQ(e.pos, 7);
    ASSERT_INT_EQ(check("{\"a\":\"x\\u0000y\"}", ALLOT_JSON_CHECK_NUL_OK, &e), 0);
    /* the flag lets through only that: other escapes are still checked */
    ASSERT_INT_EQ(check("\"\\u000\"", ALLOT_JSON_CHECK_NUL_OK, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_U_ESCAPE);
}

/* Build n nested arrays (n opening, then n closing brackets). */
static int nested(struct allot_buf *b, size_t n)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < n && !rc; i++)
        rc = allot_buf_add(b, "[", 1);
    for (i = 0; i < n && !rc; i++)
        rc = allot_buf_add(b, "]", 1);
    return rc;
}

TEST(json_check_depth_limit)
{
    struct allot_json_check_error e;
    struct allot_buf b;

    allot_buf_init(&b, 1 << 20);
    ASSERT_INT_EQ(nested(&b, ALLOT_JSON_CHECK_MAX_DEPTH), 0);
    ASSERT_INT_EQ(allot_json_check(b.ptr, b.len, 0, NULL, NULL, &e), 0);
    ASSERT(cjson_reads(b.ptr, b.len));

    allot_buf_reset(&b);
    ASSERT_INT_EQ(nested(&b, ALLOT_JSON_CHECK_MAX_DEPTH + 1), 0);
    ASSERT_INT_EQ(allot_json_check(b.ptr, b.len, 0, NULL, NULL, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_DEPTH);
    ASSERT_INT_EQ(e.pos, ALLOT_JSON_CHECK_MAX_DEPTH); /* the bracket one too deep */
    ASSERT_STR_EQ(e.why, "nesting deeper than 1000 levels");
    ASSERT(!cjson_reads(b.ptr, b.len)); /* cJSON agrees */

    /* hostile depth costs nothing but the walk to the limit */
    allot_buf_reset(&b);
    ASSERT_INT_EQ(nested(&b, 200000), 0);
    ASSERT_INT_EQ(allot_json_check(b.ptr, b.len, 0, NULL, NULL, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_DEPTH);
    allot_buf_release(&b);
}

#define MAX_SEEN 8

struct seen {
    int n;
    struct allot_json_check_member m[MAX_SEEN];
};

static void collect(void *ctx, const struct allot_json_check_member *m)
{
    struct seen *s = ctx;
    if (s->n < MAX_SEEN)
        s->m[s->n] = *m;
    s->n++;
}

TEST(json_check_member_spans)
{
    /* the top-level members only, in order, duplicates included; value
     * spans without the whitespace around them */
    const char *text = " { \"model\" :\t\"m\\\"\" , \"a\\u0062\":[1,{\"model\":2}],\n"
                       "\"s\":{\"x\":{}},\"model\":-1.5e3 ,\"e\":\"\"}\n";
    struct seen s;
    struct allot_json_check_error e;

    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(allot_json_check(text, strlen(text), 0, collect, &s, &e), 0);
    ASSERT_INT_EQ(s.n, 5);
    ASSERT_MEM_EQ(text + s.m[0].key_off, s.m[0].key_len, "model");
    ASSERT_INT_EQ(s.m[0].key_escaped, 0);
    ASSERT_MEM_EQ(text + s.m[0].value_off, s.m[0].value_len, "\"m\\\"\"");
    ASSERT_MEM_EQ(text + s.m[1].key_off, s.m[1].key_len, "a\\u0062");
    ASSERT_INT_EQ(s.m[1].key_escaped, 1);
    ASSERT(allot_json_check_key_is(text, &s.m[1], "ab"));
    ASSERT(!allot_json_check_key_is(text, &s.m[1], "a"));
    ASSERT_MEM_EQ(text + s.m[1].value_off, s.m[1].value_len, "[1,{\"model\":2}]");
    ASSERT_MEM_EQ(text + s.m[2].value_off, s.m[2].value_len, "{\"x\":{}}");
    ASSERT(allot_json_check_key_is(text, &s.m[3], "model"));
    ASSERT_MEM_EQ(text + s.m[3].value_off, s.m[3].value_len, "-1.5e3");
    ASSERT_MEM_EQ(text + s.m[4].value_off, s.m[4].value_len, "\"\"");

    /* an array or a scalar at the top has no members; nor has {} */
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(allot_json_check("[{\"a\":1},2]", 11, 0, collect, &s, &e), 0);
    ASSERT_INT_EQ(allot_json_check("{}", 2, 0, collect, &s, &e), 0);
    ASSERT_INT_EQ(allot_json_check("\"a\"", 3, 0, collect, &s, &e), 0);
    ASSERT_INT_EQ(s.n, 0);

    /* members before an error are reported; the check still refuses */
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(allot_json_check("{\"a\":1,\"b\":01}", 14, 0, collect, &s, &e), ALLOT_EPARSE);
    ASSERT_INT_EQ(s.n, 1);
    ASSERT_INT_EQ(e.kind, ALLOT_JSON_CHECK_NUMBER);
}

TEST(json_check_key_is_decodes_escapes)
{
    static const struct {
        const char *key; /* raw, between the quotes */
        const char *name;
        int eq;
    } cases[] = {
        {"model", "model", 1},       {"model", "mode", 0},        {"mode", "model", 0},
        {"\\u006dodel", "model", 1}, {"\\u006Dodel", "model", 1}, {"mo\\u0064el", "model", 1},
        {"a\\/b", "a/b", 1},         {"a\\\"b", "a\"b", 1},       {"a\\tb", "a\tb", 1},
        {"\\u00e9", "\xC3\xA9", 0}, /* non-ASCII never matches */
        {"mode\\u006c", "mode", 0},
    };
    struct allot_json_check_member m;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&m, 0, sizeof m);
        m.key_len = strlen(cases[i].key);
        m.key_escaped = strchr(cases[i].key, '\\') != NULL;
        if (allot_json_check_key_is(cases[i].key, &m, cases[i].name) != cases[i].eq)
            fprintf(stderr, "  case %zu\n", i);
        ASSERT_INT_EQ(allot_json_check_key_is(cases[i].key, &m, cases[i].name), cases[i].eq);
    }
}

TEST(json_check_hex_and_whitespace)
{
    const char *digits = "0123456789abcdefABCDEF";
    size_t i;

    for (i = 0; digits[i]; i++)
        ASSERT_INT_EQ(allot_json_check_hex(digits[i]), i < 16 ? (int)i : (int)i - 6);
    ASSERT_INT_EQ(allot_json_check_hex('g'), -1);
    ASSERT_INT_EQ(allot_json_check_hex('G'), -1);
    ASSERT_INT_EQ(allot_json_check_hex('/'), -1);
    ASSERT_INT_EQ(allot_json_check_hex(':'), -1);
    ASSERT_INT_EQ(allot_json_check_hex('\0'), -1);

    /* JSON whitespace is four bytes: not \f, \v or NUL */
    ASSERT_INT_EQ(allot_json_check_skip_ws(" \t\r\nx", 5, 0), 4);
    ASSERT_INT_EQ(allot_json_check_skip_ws(" \f", 2, 0), 1);
    ASSERT_INT_EQ(allot_json_check_skip_ws("  ", 2, 0), 2);
    ASSERT_INT_EQ(allot_json_check_skip_ws("a ", 2, 1), 2);
}

/* What allot_json_check_members() was told, member by member. */
struct scanned {
    size_t key_off[8], key_len[8];
    size_t off[8], len[8];
    int n, stop_after;
};

static int note_member(void *ctx, const struct allot_json_check_member *m)
{
    struct scanned *s = ctx;

    s->key_off[s->n] = m->key_off;
    s->key_len[s->n] = m->key_len;
    s->off[s->n] = m->value_off;
    s->len[s->n] = m->value_len;
    s->n++;
    return s->n == s->stop_after;
}

/* The same, every member, with the escaped keys as bits of stop_after. */
static int note_escaped(void *ctx, const struct allot_json_check_member *m)
{
    struct scanned *s = ctx;

    if (s->n >= 8)
        return 1;
    s->key_off[s->n] = m->key_off;
    s->key_len[s->n] = m->key_len;
    s->off[s->n] = m->value_off;
    s->len[s->n] = m->value_len;
    s->stop_after |= m->key_escaped << s->n;
    s->n++;
    return 0;
}

TEST(json_check_members_gives_the_spans_the_check_gives)
{
    const char *t = " {\"a\" : \"x\\\\\\\"}\" ,\"b\":[1,{\"c\":\"]\"}] ,\"c\":-1.5e3,\"d\":{}}";
    struct scanned s;

    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(allot_json_check_members(t, strlen(t), note_member, &s), 0);
    ASSERT_INT_EQ(s.n, 4);
    ASSERT_MEM_EQ(t + s.key_off[0], s.key_len[0], "a");
    ASSERT_MEM_EQ(t + s.key_off[3], s.key_len[3], "d");
    ASSERT_MEM_EQ(t + s.off[0], s.len[0], "\"x\\\\\\\"}\"");
    ASSERT_MEM_EQ(t + s.off[1], s.len[1], "[1,{\"c\":\"]\"}]");
    ASSERT_MEM_EQ(t + s.off[2], s.len[2], "-1.5e3");
    ASSERT_MEM_EQ(t + s.off[3], s.len[3], "{}");

    /* stopped after the first: the rest, broken here, is not read */
    memset(&s, 0, sizeof s);
    s.stop_after = 1;
    ASSERT_INT_EQ(allot_json_check_members("{\"a\":1,\"b\":[", 12, note_member, &s), 0);
    ASSERT_INT_EQ(s.n, 1);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(allot_json_check_members("{\"a\":1,\"b\":[", 12, note_member, &s), ALLOT_EPARSE);
    ASSERT_INT_EQ(allot_json_check_members("[1]", 3, note_member, &s), ALLOT_EPARSE);
    ASSERT_INT_EQ(allot_json_check_members("{\"a\":\"x", 7, note_member, &s), ALLOT_EPARSE);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(allot_json_check_members(" {} ", 4, note_member, &s), 0);
    ASSERT_INT_EQ(s.n, 0);
}

/* What allot_json_check() told of the same members, for the comparison
 * below. */
static void note_checked(void *ctx, const struct allot_json_check_member *m)
{
    struct scanned *s = ctx;

    if (s->n >= 8)
        return;
    s->key_off[s->n] = m->key_off;
    s->key_len[s->n] = m->key_len;
    s->off[s->n] = m->value_off;
    s->len[s->n] = m->value_len;
    s->stop_after |= m->key_escaped << s->n; /* the escaped keys, as bits */
    s->n++;
}

/* The walk of a valid text skips strings sixteen bytes at a time: an
 * escape (a quote, a backslash, a \u) at every place in a long key and a
 * long value, and just before the closing quote, gives the spans and the
 * escaped keys the full check gives. */
TEST(json_check_members_agree_with_the_check_at_every_escape_place)
{
    static const char *const escapes[] = {"\\\"", "\\\\", "\\u00e9", "\\n"};
    char key[64], val[96], text[256];
    size_t at, e;

    for (e = 0; e < sizeof escapes / sizeof escapes[0]; e++) {
        for (at = 0; at <= 40; at++) {
            struct scanned walked, checked;
            int n;

            memset(key, 'k', sizeof key);
            memcpy(key + at % 17, escapes[e], strlen(escapes[e])); /* ends by 23 */
            key[24] = '\0';
            memset(val, 'v', sizeof val);
            memcpy(val + at, escapes[e], strlen(escapes[e]));
            val[48] = '\0';
            n = snprintf(text, sizeof text,
                         "{\"%s\":\"%s\",\"n\":[\"%s\",{\"x\":\"%s\"}],\"%s\":\"%s\\\\\"}", key,
                         val, val, key, "plain", val);
            ASSERT(n > 0 && (size_t)n < sizeof text);
            memset(&walked, 0, sizeof walked);
            memset(&checked, 0, sizeof checked);
            ASSERT_INT_EQ(allot_json_check(text, (size_t)n, 0, note_checked, &checked, NULL), 0);
            ASSERT_INT_EQ(allot_json_check_members(text, (size_t)n, note_escaped, &walked), 0);
            ASSERT_INT_EQ(walked.n, 3);
            ASSERT_INT_EQ(checked.n, 3);
            ASSERT_INT_EQ(walked.stop_after, checked.stop_after);
            ASSERT_INT_EQ(checked.stop_after, 1); /* the first key only */
            ASSERT(memcmp(walked.key_off, checked.key_off, sizeof walked.key_off) == 0);
            ASSERT(memcmp(walked.key_len, checked.key_len, sizeof walked.key_len) == 0);
            ASSERT(memcmp(walked.off, checked.off, sizeof walked.off) == 0);
            ASSERT(memcmp(walked.len, checked.len, sizeof walked.len) == 0);
        }
    }
}

/* allot_json_parse_member() builds the same tree for the member as a full
 * parse and allot_json_member() (the last duplicate), or NULL. */
TEST(json_parse_member_equals_the_full_parse)
{
    static const char *const texts[] = {
        "{\"id\":\"c-1\",\"created\":1716,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
        "\"finish_reason\":null}],\"usage\":null}",
        "{\"choices\":[1],\"x\":{\"choices\":[2]},\"choices\":[3]}", /* the last top-level one */
        "{\"cho\\u0069ces\":\"escaped key\"}",
        " \t{ \"choices\" : {\"a\":[true,false,null,-1.5e3,\"\\u00e9\\n\"]} }\r\n",
        "{\"x\":{\"choices\":[2]}}", /* only a nested one: none */
        "{}",
    };
    size_t i;

    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cJSON *whole = cJSON_Parse(texts[i]);
        cJSON *want = allot_json_member(whole, "choices");
        cJSON *got = allot_json_parse_member(texts[i], strlen(texts[i]), "choices");
        char *a, *b;

        ASSERT(whole != NULL);
        ASSERT_INT_EQ(got != NULL, want != NULL);
        if (want) {
            a = cJSON_PrintUnformatted(want);
            b = cJSON_PrintUnformatted(got);
            ASSERT_STR_EQ(b, a);
            cJSON_free(a);
            cJSON_free(b);
        }
        cJSON_Delete(got);
        cJSON_Delete(whole);
    }
    /* what the strict check refuses (cJSON would take the first) is NULL:
     * the caller parses it whole */
    ASSERT(allot_json_parse_member("{\"choices\":[01]}", 16, "choices") == NULL);
    ASSERT(allot_json_parse_member("{\"choices\":[1]} x", 17, "choices") == NULL);
    ASSERT(allot_json_parse_member("[{\"choices\":1}]", 15, "choices") == NULL);
    ASSERT(allot_json_parse_member("", 0, "choices") == NULL);
}

/* Two trees give the same value for name: both absent, or equal when
 * printed. */
static int same_member(const cJSON *a, const cJSON *b)
{
    char *pa, *pb;
    int same;

    if (!a || !b)
        return !a && !b;
    pa = cJSON_PrintUnformatted(a);
    pb = cJSON_PrintUnformatted(b);
    same = pa && pb && strcmp(pa, pb) == 0;
    cJSON_free(pa);
    cJSON_free(pb);
    return same;
}

/* allot_json_parse_members(): each named member is found as in the whole
 * tree, by either rule for duplicates; the others are left out; a text
 * that is not a checked object is the whole parse. */
TEST(json_parse_members_finds_what_the_full_parse_finds)
{
    static const char *const names[] = {"choices", "usage", "error", NULL};
    static const char *const texts[] = {
        "{\"id\":\"c-1\",\"created\":1716,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
        "\"finish_reason\":null}],\"usage\":null}",
        "{\"choices\":[1],\"x\":{\"choices\":[2]},\"usage\":{\"a\":1},\"choices\":[3],\"usage\":"
        "null,\"error\":{\"message\":\"m\"}}",
        "{\"cho\\u0069ces\":\"escaped key\",\"\\u0075sage\":[]}",
        " \t{ \"error\" : {\"a\":[true,false,null,-1.5e3,\"\\u00e9\\n\"]} }\r\n",
        "{\"x\":{\"choices\":[2]}}",
        "{}",
        /* not a checked object: parsed whole, as cJSON does */
        "[{\"choices\":1}]",
        "{\"choices\":[01],\"model\":\"m\"}",
        "{\"choices\":[1]} x",
        "\"s\"",
    };
    size_t i, k;

    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cJSON *whole = cJSON_Parse(texts[i]), *got, *c;
        size_t n_names = 0;

        got = allot_json_parse_members(texts[i], strlen(texts[i]), names);
        ASSERT_INT_EQ(got != NULL, whole != NULL || texts[i][strlen(texts[i]) - 1] == 'x');
        if (!cJSON_IsObject(whole) ||
            allot_json_check(texts[i], strlen(texts[i]), 0, NULL, NULL, NULL) != 0) {
            /* as allot_json_parse(): the whole text (cJSON's reading) */
            cJSON *again = cJSON_ParseWithLength(texts[i], strlen(texts[i]));
            ASSERT(same_member(got, again));
            cJSON_Delete(again);
        } else {
            for (k = 0; names[k]; k++) {
                ASSERT(same_member(allot_json_member(got, names[k]),
                                   allot_json_member(whole, names[k])));
                ASSERT(same_member(cJSON_GetObjectItemCaseSensitive(got, names[k]),
                                   cJSON_GetObjectItemCaseSensitive(whole, names[k])));
            }
            cJSON_ArrayForEach(c, got)
            {
                ASSERT(c->string != NULL);
                for (k = 0; names[k] && strcmp(names[k], c->string); k++)
                    ;
                ASSERT(names[k] != NULL); /* nothing else is built */
                n_names++;
            }
            cJSON_ArrayForEach(c, whole)
            {
                for (k = 0; names[k] && strcmp(names[k], c->string); k++)
                    ;
                if (names[k])
                    n_names--;
            }
            ASSERT_INT_EQ(n_names, 0); /* every duplicate kept */
        }
        cJSON_Delete(got);
        cJSON_Delete(whole);
    }
    /* more duplicates than it keeps: the whole tree */
    {
        char many[512];
        size_t o = 0;
        cJSON *got;

        o += (size_t)snprintf(many + o, sizeof many - o, "{\"model\":\"m\"");
        for (k = 0; k <= ALLOT_JSON_PARSE_MEMBERS_MAX; k++)
            o += (size_t)snprintf(many + o, sizeof many - o, ",\"usage\":%zu", k);
        o += (size_t)snprintf(many + o, sizeof many - o, "}");
        got = allot_json_parse_members(many, o, names);
        ASSERT(cJSON_GetObjectItemCaseSensitive(got, "model") != NULL);
        ASSERT_INT_EQ(cJSON_GetArraySize(got), ALLOT_JSON_PARSE_MEMBERS_MAX + 2);
        cJSON_Delete(got);
        many[o - 1] = '\0'; /* one fewer: only the usages */
        o = (size_t)(strrchr(many, ',') - many);
        memcpy(many + o, "}", 2);
        got = allot_json_parse_members(many, o + 1, names);
        ASSERT(cJSON_GetObjectItemCaseSensitive(got, "model") == NULL);
        ASSERT_INT_EQ(cJSON_GetArraySize(got), ALLOT_JSON_PARSE_MEMBERS_MAX);
        cJSON_Delete(got);
    }
}

/* ---- remembered member values (allot_json_check_remembering) ---- */

static const char *const keep_tools[] = {"tools", "functions", NULL};

/* A body with a tools array of about 2 KB (24 small definitions) and the
 * given messages text; into b. */
static void agent_body(struct allot_buf *b, const char *messages)
{
    int i;
    allot_buf_reset(b);
    allot_buf_adds(b, "{\"model\":\"auto\",\"tools\":[");
    for (i = 0; i < 24; i++)
        allot_buf_addf(b,
                       "%s{\"type\":\"function\",\"function\":{\"name\":\"tool_%d\","
                       "\"parameters\":{\"type\":\"object\",\"required\":[\"a\"]}}}",
                       i ? "," : "", i);
    allot_buf_adds(b, "],\"messages\":");
    allot_buf_adds(b, messages);
    allot_buf_adds(b, "}");
}

/* The check of text with remembering and without agree: the result, the
 * error's kind and place, and every member span. */
static int agrees(const char *text, size_t len, unsigned flags)
{
    struct seen a, b;
    struct allot_json_check_error ea, eb;
    int ra, rb, i;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    ra = allot_json_check_remembering(text, len, flags, keep_tools, collect, &a, &ea);
    rb = allot_json_check(text, len, flags, collect, &b, &eb);
    if (ra != rb || a.n != b.n || ea.kind != eb.kind || ea.pos != eb.pos ||
        strcmp(ea.why, eb.why) != 0)
        return 0;
    for (i = 0; i < a.n && i < MAX_SEEN; i++) /* field by field: not the padding */
        if (a.m[i].key_off != b.m[i].key_off || a.m[i].key_len != b.m[i].key_len ||
            a.m[i].key_escaped != b.m[i].key_escaped || a.m[i].value_off != b.m[i].value_off ||
            a.m[i].value_len != b.m[i].value_len)
            return 0;
    return 1;
}

TEST(json_check_remembers_a_repeated_tools_value)
{
    struct allot_buf b;
    size_t hits;

    allot_buf_init(&b, 1 << 20);
    allot_json_check_forget();
    agent_body(&b, "[{\"role\":\"user\",\"content\":\"hi\"}]");
    ASSERT(b.len > ALLOT_JSON_CHECK_REMEMBER_MIN + 200);
    ASSERT(agrees(b.ptr, b.len, 0)); /* first sighting: noted */
    ASSERT(agrees(b.ptr, b.len, 0)); /* second: kept */
    hits = allot_json_check_remembered_hits();
    ASSERT(agrees(b.ptr, b.len, 0)); /* passed over */
    ASSERT_INT_EQ(allot_json_check_remembered_hits(), hits + 1);

    /* other messages after the same tools: passed over too */
    agent_body(&b, "[{\"role\":\"user\",\"content\":\"something else\"},"
                   "{\"role\":\"tool\",\"content\":\"42\"}]");
    ASSERT(agrees(b.ptr, b.len, 0));
    ASSERT_INT_EQ(allot_json_check_remembered_hits(), hits + 2);
    /* an error after it is found where a full check finds it */
    agent_body(&b, "[{\"role\":\"user\",\"content\":\"bad \x01 byte\"}]");
    ASSERT(agrees(b.ptr, b.len, 0));
    ASSERT_INT_EQ(allot_json_check_remembered_hits(), hits + 3);
    allot_json_check_forget();
    ASSERT_INT_EQ(allot_json_check_remembered_hits(), 0);
    allot_buf_release(&b);
}

/* Every body one edit away from a remembered one (a byte changed, put in or
 * taken out, anywhere, the kept value's bytes included) is judged as a full
 * check judges it. */
TEST(json_check_remembering_agrees_with_a_full_check_on_edits)
{
    struct allot_buf b, e;
    unsigned seed = 12345;
    size_t hits0;
    int i;

    allot_buf_init(&b, 1 << 20);
    allot_buf_init(&e, 1 << 20);
    allot_json_check_forget();
    agent_body(&b, "[{\"role\":\"user\",\"content\":\"hi\"}]");
    ASSERT(agrees(b.ptr, b.len, 0));
    ASSERT(agrees(b.ptr, b.len, 0));
    hits0 = allot_json_check_remembered_hits();
    for (i = 0; i < 3000; i++) {
        one_byte_edit(&b, i, &seed, &e);
        ASSERT(agrees(e.ptr, e.len, 0));
        ASSERT(agrees(b.ptr, b.len, 0)); /* the edits must not displace it */
    }
    /* the original passed over each time, and some edits (after the tools) too */
    ASSERT(allot_json_check_remembered_hits() > hits0 + 3000);
    allot_json_check_forget();
    allot_buf_release(&b);
    allot_buf_release(&e);
}

TEST(json_check_remembers_only_the_named_members_under_the_same_flags)
{
    struct allot_buf b, m;
    int i;

    allot_buf_init(&b, 1 << 20);
    allot_buf_init(&m, 1 << 20);
    allot_json_check_forget();
    /* a long messages value, the same each time: not named, never kept */
    allot_buf_adds(&m, "[");
    for (i = 0; i < 40; i++)
        allot_buf_addf(&m, "%s{\"role\":\"user\",\"content\":\"turn %d\"}", i ? "," : "", i);
    allot_buf_adds(&m, "]");
    allot_buf_reset(&b);
    allot_buf_adds(&b, "{\"messages\":");
    allot_buf_add(&b, m.ptr, m.len);
    allot_buf_adds(&b, ",\"t\\u006fols\":"); /* "tools", written with an escape */
    allot_buf_add(&b, m.ptr, m.len);
    allot_buf_adds(&b, "}");
    for (i = 0; i < 4; i++)
        ASSERT(agrees(b.ptr, b.len, 0));
    ASSERT_INT_EQ(allot_json_check_remembered_hits(), 0);

    /* kept under ALLOT_JSON_CHECK_NUL_OK, a value with \u0000 in it must
     * still be refused by a check without the flag */
    allot_buf_reset(&b);
    allot_buf_adds(&b, "{\"tools\":");
    allot_buf_add(&b, m.ptr, m.len - 1);
    allot_buf_adds(&b, ",\"\\u0000\"]}");
    for (i = 0; i < 3; i++)
        ASSERT(agrees(b.ptr, b.len, ALLOT_JSON_CHECK_NUL_OK));
    ASSERT_INT_EQ(allot_json_check_remembered_hits(), 1);
    ASSERT_INT_EQ(allot_json_check_remembering(b.ptr, b.len, 0, keep_tools, NULL, NULL, NULL),
                  ALLOT_EPARSE);
    ASSERT(agrees(b.ptr, b.len, 0));
    allot_json_check_forget();
    allot_buf_release(&b);
    allot_buf_release(&m);
}

static void *remember_in_a_thread(void *arg)
{
    struct allot_buf *b = arg;
    int i;
    for (i = 0; i < 3; i++)
        allot_json_check_remembering(b->ptr, b->len, 0, keep_tools, NULL, NULL, NULL);
    return (void *)(uintptr_t)allot_json_check_remembered_hits();
}

/* A thread's kept values are its own, and freed when it exits (the leak
 * checker of the sanitizer build would report them otherwise). */
TEST(json_check_remembered_values_are_the_threads_own)
{
    struct allot_buf b;
    pthread_t t;
    void *hits = NULL;

    allot_buf_init(&b, 1 << 20);
    allot_json_check_forget();
    agent_body(&b, "[]");
    ASSERT_INT_EQ(pthread_create(&t, NULL, remember_in_a_thread, &b), 0);
    ASSERT_INT_EQ(pthread_join(t, &hits), 0);
    ASSERT_INT_EQ((uintptr_t)hits, 1);
    ASSERT_INT_EQ(allot_json_check_remembered_hits(), 0); /* not this thread's */
    allot_buf_release(&b);
}
