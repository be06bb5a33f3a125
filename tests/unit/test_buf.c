#include "allot/buf.h"
#include "allot/error.h"
#include "allot/kinds.h"
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
