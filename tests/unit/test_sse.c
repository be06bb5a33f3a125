#include <stdlib.h>
#include "allot/error.h"
#include "allot/sse.h"
#include "test.h"

struct collected {
    struct allot_buf raw, data;
    int n;
};

static int collect(void *ctx, struct allot_slice raw, struct allot_slice data)
{
    struct collected *c = ctx;
    c->n++;
    allot_buf_add(&c->raw, raw.ptr, raw.len);
    allot_buf_add(&c->raw, "|", 1);
    allot_buf_add(&c->data, data.ptr, data.len);
    allot_buf_add(&c->data, "|", 1);
    return 0;
}

static const char stream[] = "data: {\"a\":1}\n\n"
                             ": comment\n\n"
                             "event: x\r\ndata: l1\r\ndata: l2\r\n\r\n"
                             "data: [DONE]\n\n";

TEST(sse_every_split_gives_the_same_events)
{
    size_t len = sizeof stream - 1, cut, cut2;
    for (cut = 0; cut <= len; cut++) {
        for (cut2 = cut; cut2 <= len; cut2 += 7) {
            struct allot_sse s;
            struct collected c = {0};
            allot_buf_init(&c.raw, 4096);
            allot_buf_init(&c.data, 4096);
            allot_sse_init(&s, 1024);
            ASSERT_INT_EQ(allot_sse_feed(&s, stream, cut, collect, &c), 0);
            ASSERT_INT_EQ(allot_sse_feed(&s, stream + cut, cut2 - cut, collect, &c), 0);
            ASSERT_INT_EQ(allot_sse_feed(&s, stream + cut2, len - cut2, collect, &c), 0);
            ASSERT_INT_EQ(c.n, 4);
            ASSERT_INT_EQ(allot_sse_pending(&s), 0);
            ASSERT_STR_EQ(allot_buf_cstr(&c.data), "{\"a\":1}||l1\nl2|[DONE]|");
            ASSERT_INT_EQ(c.raw.len, len + 4);
            allot_sse_release(&s);
            allot_buf_release(&c.raw);
            allot_buf_release(&c.data);
        }
    }
}

/* SSE spec: a line without a colon is a field name with an empty value, so
 * "data" alone is an empty data line; "data:x" needs no space; "datax: y"
 * is another field. */
TEST(sse_data_without_colon_or_space)
{
    static const char in[] = "data\n\n"
                             "data\r\ndata:x\r\n\r\n"
                             "datax: y\ndata:  two\n\n"
                             "datax: y\n\n";
    struct allot_sse s;
    struct collected c = {0};
    allot_buf_init(&c.raw, 4096);
    allot_buf_init(&c.data, 4096);
    allot_sse_init(&s, 1024);
    ASSERT_INT_EQ(allot_sse_feed(&s, in, sizeof in - 1, collect, &c), 0);
    ASSERT_INT_EQ(c.n, 4);
    /* empty; "" + "\n" + "x"; " two" (one space dropped); no data at all */
    ASSERT_STR_EQ(allot_buf_cstr(&c.data), "|\nx| two||");
    allot_sse_release(&s);
    allot_buf_release(&c.raw);
    allot_buf_release(&c.data);
}

TEST(sse_cut_stream_leaves_pending_and_cap_holds)
{
    struct allot_sse s;
    struct collected c = {0};
    allot_buf_init(&c.raw, 4096);
    allot_buf_init(&c.data, 4096);
    allot_sse_init(&s, 16);
    ASSERT_INT_EQ(allot_sse_feed(&s, "data: {\"x\"", 10, collect, &c), 0);
    ASSERT_INT_EQ(c.n, 0);
    ASSERT_INT_EQ(allot_sse_pending(&s), 10);
    ASSERT_INT_EQ(allot_sse_feed(&s, "0123456789", 10, collect, &c), ALLOT_ETOOBIG);
    allot_sse_release(&s);
    allot_buf_release(&c.raw);
    allot_buf_release(&c.data);
}

TEST(sse_cap_holds_for_an_event_fed_whole)
{
    /* 19 bytes, cap 16: refused whether it comes in one piece or two */
    static const char big[] = "data: 0123456789a\n\n";
    struct allot_sse s;
    struct collected c = {0};
    allot_buf_init(&c.raw, 4096);
    allot_buf_init(&c.data, 4096);
    allot_sse_init(&s, 16);
    ASSERT_INT_EQ(allot_sse_feed(&s, "data: ok\n\n", 10, collect, &c), 0);
    ASSERT_INT_EQ(allot_sse_feed(&s, big, sizeof big - 1, collect, &c), ALLOT_ETOOBIG);
    ASSERT_INT_EQ(c.n, 1);
    allot_sse_release(&s);
    allot_sse_init(&s, 16);
    ASSERT_INT_EQ(allot_sse_feed(&s, big, 5, collect, &c), 0);
    ASSERT_INT_EQ(allot_sse_feed(&s, big + 5, sizeof big - 6, collect, &c), ALLOT_ETOOBIG);
    ASSERT_INT_EQ(c.n, 1);
    /* exactly the cap is fine */
    allot_sse_release(&s);
    allot_sse_init(&s, 19);
    ASSERT_INT_EQ(allot_sse_feed(&s, big, sizeof big - 1, collect, &c), 0);
    ASSERT_INT_EQ(c.n, 2);
    allot_sse_release(&s);
    allot_buf_release(&c.raw);
    allot_buf_release(&c.data);
}
