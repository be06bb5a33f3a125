/* test_ledger_pg.c: the PostgreSQL store's COPY text format, without a
 * server (the integration test postgres.test.mjs writes to a real one). */
#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "ledger/internal.h"
#include "test.h"

static const char *copy(struct allot_buf *b, const char *s, size_t n)
{
    allot_buf_reset(b);
    if (allot__pg_copy_text(b, s, n))
        return "(error)";
    return allot_buf_cstr(b);
}

TEST(pg_copy_text_escapes_what_copy_reads_specially)
{
    struct allot_buf b;

    allot_buf_init(&b, 1 << 16);
    ASSERT_STR_EQ(copy(&b, "plain text", 10), "plain text");
    ASSERT_STR_EQ(copy(&b, "", 0), "");
    ASSERT_STR_EQ(copy(&b, "a\tb\nc\rd\\e", 9), "a\\tb\\nc\\rd\\\\e");
    /* "\N" would read as NULL: the backslash is doubled */
    ASSERT_STR_EQ(copy(&b, "\\N", 2), "\\\\N");
    ASSERT_STR_EQ(copy(&b, "\\.", 2), "\\\\.");
    /* other control bytes are data in the text format */
    ASSERT_STR_EQ(copy(&b, "\x01\x1f\x7f", 3), "\x01\x1f\x7f");
    /* only n bytes are read */
    ASSERT_STR_EQ(copy(&b, "abcdef", 3), "abc");
    allot_buf_release(&b);
}

TEST(pg_copy_text_keeps_utf8_and_repairs_what_is_not)
{
    struct allot_buf b;

    allot_buf_init(&b, 1 << 16);
    ASSERT_STR_EQ(copy(&b, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14),
                  "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    /* a field cut mid-character: the stray lead byte becomes U+FFFD */
    ASSERT_STR_EQ(copy(&b, "caf\xC3", 4), "caf\xEF\xBF\xBD");
    ASSERT_STR_EQ(copy(&b, "\xE2\x82", 2), "\xEF\xBF\xBD\xEF\xBF\xBD");
    /* Latin-1, an overlong form, an encoded surrogate */
    ASSERT_STR_EQ(copy(&b, "\xE9t\xE9", 3), "\xEF\xBF\xBDt\xEF\xBF\xBD");
    ASSERT_STR_EQ(copy(&b, "\xC0\xAF", 2), "\xEF\xBF\xBD\xEF\xBF\xBD");
    ASSERT_STR_EQ(copy(&b, "\xED\xA0\x80", 3), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    /* escapes and repairs together */
    ASSERT_STR_EQ(copy(&b, "\\\xFF\t", 3), "\\\\\xEF\xBF\xBD\\t");
    allot_buf_release(&b);
}

TEST(pg_copy_text_reports_a_full_buffer)
{
    struct allot_buf b;

    allot_buf_init(&b, 8);
    ASSERT_INT_EQ(allot__pg_copy_text(&b, "1234567", 7), 0);
    ASSERT_INT_EQ(allot__pg_copy_text(&b, "\t", 1), ALLOT_ETOOBIG);
    allot_buf_release(&b);
}
