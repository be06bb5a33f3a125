#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/kinds.h"
#include "allot/utf8.h"
#include "test.h"

TEST(buf_cap_is_enforced)
{
    struct allot_buf b;
    allot_buf_init(&b, 8);
    ASSERT_INT_EQ(allot_buf_adds(&b, "12345678"), 0);
    ASSERT_INT_EQ(allot_buf_adds(&b, "9"), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&b), "12345678");
    allot_buf_release(&b);
}

TEST(buf_addf_and_json_escape)
{
    struct allot_buf b;
    allot_buf_init(&b, 1024);
    ASSERT_INT_EQ(allot_buf_addf(&b, "%d-%s ", 42, "x"), 0);
    ASSERT_INT_EQ(allot_buf_add_json_str(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&b), "42-x \"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\xc3\xa9\"");
    allot_buf_release(&b);
}

/* A formatted append is written in one pass when it fits the room made
 * for it, measured and written again when it does not, and refused whole
 * past the cap, leaving the buffer as it was. */
TEST(buf_addf_fits_grows_and_refuses)
{
    struct allot_buf b;
    char big[600];

    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    allot_buf_init(&b, 4096);
    ASSERT_INT_EQ(allot_buf_addf(&b, "[%d]", 7), 0);
    ASSERT_INT_EQ(allot_buf_addf(&b, "%s|", big), 0); /* longer than the room made at once */
    ASSERT_INT_EQ(b.len, 3 + sizeof big);
    ASSERT(strncmp(allot_buf_cstr(&b), "[7]yyy", 6) == 0);
    ASSERT_INT_EQ(allot_buf_cstr(&b)[b.len - 1], '|');
    ASSERT_INT_EQ(strlen(allot_buf_cstr(&b)), b.len);
    allot_buf_release(&b);

    allot_buf_init(&b, 10);
    ASSERT_INT_EQ(allot_buf_addf(&b, "%s", "abc"), 0);
    ASSERT_INT_EQ(allot_buf_addf(&b, "%d%s", 1234567, "8"), ALLOT_ETOOBIG); /* 11 bytes */
    ASSERT_STR_EQ(allot_buf_cstr(&b), "abc");
    ASSERT_INT_EQ(b.len, 3);
    ASSERT_INT_EQ(allot_buf_addf(&b, "%d", 1234567), 0); /* exactly to the cap */
    ASSERT_STR_EQ(allot_buf_cstr(&b), "abc1234567");
    ASSERT_INT_EQ(allot_buf_addf(&b, "%s", ""), 0);
    ASSERT_INT_EQ(allot_buf_addf(&b, "%c", 'z'), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&b), "abc1234567");
    allot_buf_release(&b);
}

/* allot_buf_add_json_str() as the rules say it, a byte at a time: printable
 * ASCII but '"' and the backslash as it is, those two and \n \r \t as
 * two-character escapes, other control bytes as \u00XX, whole UTF-8
 * sequences as they are, any other byte as U+FFFD. */
static void json_str_slowly(struct allot_buf *b, const unsigned char *p, size_t n)
{
    size_t i = 0, sl;
    allot_buf_adds(b, "\"");
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            allot_buf_addf(b, "\\%c", c);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            allot_buf_addf(b, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        } else if (c < 0x20) {
            allot_buf_addf(b, "\\u%04x", c);
        } else if (c < 0x80) {
            allot_buf_add(b, &c, 1);
        } else if ((sl = allot_utf8_seq_len(p + i, n - i)) > 0) {
            allot_buf_add(b, p + i, sl);
            i += sl;
            continue;
        } else {
            allot_buf_adds(b, "\xEF\xBF\xBD");
        }
        i++;
    }
    allot_buf_adds(b, "\"");
}

/* Texts of 0-99 bytes, mostly plain ASCII (runs past sixteen bytes, the
 * fast path's step), with escapes, control bytes, DEL, UTF-8 and broken
 * UTF-8 at any offset: the same JSON as the rules give. */
TEST(buf_json_escape_matches_the_rules_at_any_offset)
{
    static const char *const odd[] = {"\"",       "\\",           "\n",
                                      "\x01",     "\x1f",         "\x7f",
                                      "\xc3\xa9", "\xe6\x9d\xb1", "\xf0\x9f\x98\x80",
                                      "\xff",     "\xc3",         "\x80"};
    struct allot_buf got, want;
    unsigned char text[128];
    unsigned seed = 99;
    int k;

    allot_buf_init(&got, 1 << 16);
    allot_buf_init(&want, 1 << 16);
    for (k = 0; k < 20000; k++) {
        size_t n = 0, len;
        seed = seed * 1103515245u + 12345u;
        len = (seed >> 16) % 100;
        while (n < len) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 8) % 10 < 8) {
                text[n++] = (unsigned char)(' ' + (seed >> 12) % 95); /* printable ASCII */
            } else {
                const char *o = odd[(seed >> 12) % (sizeof odd / sizeof odd[0])];
                size_t ol = strlen(o);
                if (n + ol > sizeof text)
                    break;
                memcpy(text + n, o, ol);
                n += ol;
            }
        }
        allot_buf_reset(&got);
        allot_buf_reset(&want);
        ASSERT_INT_EQ(allot_buf_add_json_str(&got, (const char *)text, n), 0);
        json_str_slowly(&want, text, n);
        ASSERT_INT_EQ(got.len, want.len);
        ASSERT(memcmp(got.ptr, want.ptr, got.len) == 0);
    }
    allot_buf_release(&got);
    allot_buf_release(&want);
}

/* Room is made in place as escapes need it: from an empty buffer and
 * behind earlier content, a text of escapes grows the buffer as far as
 * its output and no further; one byte of cap short, the append fails with
 * the buffer as it was (buf.h). */
TEST(buf_json_escape_grows_in_place_and_keeps_the_cap)
{
    static const char text[] = "\x01\x02\"\\\n\xff\xfe plain \x1f\x1e\x1d\t\r\xc3";
    struct allot_buf want, got;
    size_t n = sizeof text - 1;

    allot_buf_init(&want, 1 << 16);
    json_str_slowly(&want, (const unsigned char *)text, n);
    for (size_t prefix = 0; prefix < 70; prefix += 3) {
        /* exactly the room it needs: fits; one byte less: refused */
        allot_buf_init(&got, prefix + want.len);
        for (size_t k = 0; k < prefix; k++)
            allot_buf_add(&got, "p", 1);
        ASSERT_INT_EQ(allot_buf_add_json_str(&got, text, n), 0);
        ASSERT_INT_EQ(got.len, prefix + want.len);
        ASSERT(memcmp(got.ptr + prefix, want.ptr, want.len) == 0);
        ASSERT(got.ptr[got.len] == '\0');
        allot_buf_release(&got);

        allot_buf_init(&got, prefix + want.len - 1);
        for (size_t k = 0; k < prefix; k++)
            allot_buf_add(&got, "p", 1);
        ASSERT_INT_EQ(allot_buf_add_json_str(&got, text, n), ALLOT_ETOOBIG);
        ASSERT_INT_EQ(got.len, prefix);
        ASSERT(!got.ptr || got.ptr[prefix] == '\0');
        allot_buf_release(&got);
    }
    allot_buf_release(&want);
}

TEST(kinds_tables_match_kinds_md)
{
    enum allot_category c;
    enum allot_tier t;
    ASSERT_INT_EQ(allot_category_parse(ALLOT_SLICE_LIT("Summarise"), &c), 0);
    ASSERT_INT_EQ(c, ALLOT_CAT_SUMMARIZE);
    ASSERT_INT_EQ(allot_category_default_tier(ALLOT_CAT_RISK), ALLOT_TIER_JUDGMENT);
    ASSERT_INT_EQ(allot_category_default_tier(ALLOT_CAT_CONVERT), ALLOT_TIER_LABOUR);
    ASSERT_INT_EQ(allot_category_default_tier(ALLOT_CAT_IMPLEMENT), ALLOT_TIER_CODE);
    ASSERT_INT_EQ(allot_tier_parse(ALLOT_SLICE_LIT("labor"), &t), 0);
    ASSERT_INT_EQ(t, ALLOT_TIER_LABOUR);
    ASSERT_INT_EQ(allot_tier_parse(ALLOT_SLICE_LIT("gold"), &t), ALLOT_ENOTFOUND);
}
