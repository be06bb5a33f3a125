/* test_instruction.c: finding the instruction of a request among its
 * material (instruction.h). Every view built here is also checked against
 * the invariants the features rely on: spans lie inside the system prompt
 * or the user turn, in text order, none empty, none overlapping. */
#include <stdio.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/chat_request.h"
#include "allot/error.h"
#include "allot/instruction.h"
#include "test.h"

/* A paragraph of plain prose, about 420 bytes, no list/table/quote marks. */
#define PROSE                                                                                      \
    "The quarterly numbers show revenue growing in every region while costs stayed "               \
    "flat, which the finance team attributes to the new procurement process and the "              \
    "renegotiated cloud contract that came into force in the spring. Headcount rose "              \
    "slightly in engineering and support but fell in sales after the reorganisation "              \
    "that merged the two regional teams into one group under a single director who "               \
    "now reports to the chief operating officer rather than the chief executive."

static void view_of(const char *system, const char *user, struct allot_instruction *in,
                    struct allot_instruction_view *v)
{
    memset(in, 0, sizeof *in);
    in->system = allot_slice_cstr(system ? system : "");
    in->last_user = allot_slice_cstr(user ? user : "");
    allot_instruction_view(in, v);
}

/* 1 when some span overlaps [lo, hi). */
static int any_span_overlaps(const struct allot_instruction_view *v, const char *lo, const char *hi)
{
    size_t i;
    for (i = 0; i < v->n_spans; i++) {
        const char *s = v->spans[i].ptr, *e = s + v->spans[i].len;
        if (s < hi && lo < e)
            return 1;
    }
    return 0;
}

/* 1 when some span contains needle. */
static int any_span_contains(const struct allot_instruction_view *v, const char *needle)
{
    size_t i;
    for (i = 0; i < v->n_spans; i++)
        if (memmem(v->spans[i].ptr, v->spans[i].len, needle, strlen(needle)))
            return 1;
    return 0;
}

static size_t span_bytes(const struct allot_instruction_view *v)
{
    size_t i, n = 0;
    for (i = 0; i < v->n_spans; i++)
        n += v->spans[i].len;
    return n;
}

/* The user-turn text the view reads: its spans, adjacent ones merged (the
 * zones HEAD, BODY and TAIL of one paragraph touch), separate ones joined
 * by " | ". Zone boundaries are left to instruction.c; what is read and
 * what is not is what these tests pin. */
static const char *read_text(const struct allot_instruction_view *v, char *buf, size_t cap)
{
    const char *prev_end = NULL;
    size_t i, o = 0;
    buf[0] = '\0';
    for (i = 0; i < v->n_spans; i++) {
        const struct allot_span *s = &v->spans[i];
        int k;
        if (s->zone == ALLOT_ZONE_SYSTEM)
            continue;
        k = snprintf(buf + o, cap - o, "%s%.*s", prev_end && s->ptr != prev_end ? " | " : "",
                     (int)s->len, s->ptr);
        if (k < 0 || (size_t)k >= cap - o)
            break;
        o += (size_t)k;
        prev_end = s->ptr + s->len;
    }
    return buf;
}

/* The user-turn byte ranges read, adjacent spans merged: [start, end)
 * offsets into the turn. Returns how many. */
static size_t read_ranges(const struct allot_instruction *in,
                          const struct allot_instruction_view *v, size_t r[][2], size_t cap)
{
    size_t i, n = 0;
    for (i = 0; i < v->n_spans; i++) {
        const struct allot_span *s = &v->spans[i];
        size_t a, b;
        if (s->zone == ALLOT_ZONE_SYSTEM)
            continue;
        a = (size_t)(s->ptr - in->last_user.ptr);
        b = a + s->len;
        if (n > 0 && r[n - 1][1] == a)
            r[n - 1][1] = b;
        else if (n < cap) {
            r[n][0] = a;
            r[n][1] = b;
            n++;
        }
    }
    return n;
}

/* The invariants of any view: spans inside their zone's text, system
 * first, user spans in text order and disjoint, HEAD (if any) the first
 * and TAIL (if any) the last of them and within their sizes,
 * instruction_bytes their sum. Returns the first violation, or NULL. */
static const char *view_violation(const struct allot_instruction *in,
                                  const struct allot_instruction_view *v)
{
    const char *prev_end = NULL;
    size_t i, user_bytes = 0, n_user = 0, last_user = 0;
    if (v->n_spans > ALLOT_VIEW_MAX_SPANS)
        return "too many spans";
    for (i = 0; i < v->n_spans; i++) {
        const struct allot_span *s = &v->spans[i];
        if (s->len == 0)
            return "empty span";
        if (s->zone == ALLOT_ZONE_SYSTEM) {
            if (i != 0)
                return "system span not first";
            if (s->ptr != in->system.ptr || s->len > in->system.len ||
                s->len > ALLOT_VIEW_SYSTEM_READ)
                return "system span is not the start of the system prompt";
            continue;
        }
        if (s->zone != ALLOT_ZONE_HEAD && s->zone != ALLOT_ZONE_BODY && s->zone != ALLOT_ZONE_TAIL)
            return "unknown zone";
        if (s->ptr < in->last_user.ptr || s->ptr + s->len > in->last_user.ptr + in->last_user.len)
            return "user span outside the user turn";
        if (prev_end && s->ptr < prev_end)
            return "user spans overlap or are out of order";
        if (s->zone == ALLOT_ZONE_HEAD && (n_user > 0 || s->len > ALLOT_VIEW_HEAD))
            return "HEAD not the first user span, or longer than ALLOT_VIEW_HEAD";
        if (s->zone == ALLOT_ZONE_TAIL && s->len > ALLOT_VIEW_TAIL)
            return "TAIL longer than ALLOT_VIEW_TAIL";
        prev_end = s->ptr + s->len;
        user_bytes += s->len;
        n_user++;
        last_user = i;
    }
    for (i = 0; i < v->n_spans; i++)
        if (v->spans[i].zone == ALLOT_ZONE_TAIL && i != last_user)
            return "TAIL not the last user span";
    if (user_bytes != v->instruction_bytes)
        return "instruction_bytes is not the sum of the user spans";
    if (v->turn_bytes != in->last_user.len)
        return "turn_bytes is not the user turn's length";
    return NULL;
}

#define ASSERT_VIEW_OK(in, v)                                                                      \
    do {                                                                                           \
        const char *why_ = view_violation((in), (v));                                              \
        if (why_)                                                                                  \
            TEST_FAIL_("view invariant: %s", why_);                                                \
    } while (0)

#define ASSERT_READS(v, want)                                                                      \
    do {                                                                                           \
        char rt_[8192];                                                                            \
        ASSERT_STR_EQ(read_text((v), rt_, sizeof rt_), (want));                                    \
    } while (0)

static void add_times(struct allot_buf *b, const char *s, size_t times)
{
    size_t i;
    for (i = 0; i < times; i++)
        allot_buf_adds(b, s);
}

TEST(instruction_short_prompt_is_all_instruction)
{
    const char *text = "Summarise this article in five bullet points.\n";
    struct allot_instruction in;
    struct allot_instruction_view v;

    view_of(NULL, text, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT(v.n_spans >= 1);
    ASSERT(v.spans[0].ptr == text);
    ASSERT_READS(&v, "Summarise this article in five bullet points.");
    ASSERT_INT_EQ(v.instruction_bytes, strlen(text) - 1); /* the newline is trimmed */
    ASSERT_INT_EQ(v.turn_bytes, strlen(text));
    ASSERT_INT_EQ(v.material_flags, 0);
    ASSERT_INT_EQ(v.n_documents, 0);
    ASSERT_INT_EQ(v.question, 0);
}

TEST(instruction_short_turn_reads_every_paragraph)
{
    const char *text = "Write a short poem.\n\nMake it about autumn.\n\nKeep it under eight lines.";
    struct allot_instruction in;
    struct allot_instruction_view v;

    view_of(NULL, text, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Write a short poem. | Make it about autumn. | Keep it under eight lines.");
    ASSERT_INT_EQ(v.material_flags & ALLOT_MAT_PASTED, 0);
}

TEST(instruction_code_fence_is_material)
{
    struct allot_buf b;
    struct allot_instruction in;
    struct allot_instruction_view v;
    const char *fence_lo, *fence_hi;

    allot_buf_init(&b, 1 << 20);
    allot_buf_adds(&b, "Summarise this:\n```c\n");
    add_times(&b, "static int add(int a, int b) { return a + b; } /* adds */\n", 18);
    allot_buf_adds(&b, "```\n");
    ASSERT(b.len < ALLOT_VIEW_SHORT_TURN); /* a short turn: read in full, but not the code */
    view_of(NULL, b.ptr, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    fence_lo = strstr(b.ptr, "```");
    fence_hi = b.ptr + b.len;
    ASSERT_READS(&v, "Summarise this:");
    ASSERT(!any_span_overlaps(&v, fence_lo, fence_hi));
    ASSERT(v.material_flags & ALLOT_MAT_FENCE);
    ASSERT_INT_EQ(v.n_documents, 1);

    /* the same in a long turn */
    allot_buf_reset(&b);
    allot_buf_adds(&b, "Summarise this:\n```c\n");
    add_times(&b, "static int add(int a, int b) { return a + b; } /* adds */\n", 100);
    allot_buf_adds(&b, "```\n");
    ASSERT(b.len > ALLOT_VIEW_SHORT_TURN);
    view_of(NULL, b.ptr, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Summarise this:");
    ASSERT(!any_span_overlaps(&v, strstr(b.ptr, "```"), b.ptr + b.len));
    ASSERT(v.material_flags & ALLOT_MAT_FENCE);
    ASSERT_INT_EQ(v.n_documents, 1);
    allot_buf_release(&b);
}

TEST(instruction_text_after_a_fence_is_read)
{
    const char *text = "Explain what this does:\n"
                       "```python\n"
                       "def f(x):\n"
                       "    return x * 2  # why?\n"
                       "```\n"
                       "What does it return for 3?";
    struct allot_instruction in;
    struct allot_instruction_view v;

    view_of(NULL, text, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Explain what this does: | What does it return for 3?");
    ASSERT(!any_span_contains(&v, "def f"));
    ASSERT(!any_span_contains(&v, "```"));
    ASSERT_INT_EQ(v.question, 1);
}

TEST(instruction_fence_closes_only_on_its_own_kind)
{
    /* a ``` inside a ~~~ block does not end it; an unclosed fence runs to the end */
    const char *text = "Explain:\n~~~~\n```\ninside one\n~~~\nstill inside\n~~~~\nWhat is it?";
    const char *unclosed = "Fix this:\n```\nint main(void) { return 0 }\nWhat is wrong?";
    struct allot_instruction in;
    struct allot_instruction_view v;

    view_of(NULL, text, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Explain: | What is it?");
    ASSERT_INT_EQ(v.n_documents, 1);

    view_of(NULL, unclosed, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Fix this:");
    ASSERT_INT_EQ(v.question, 0);
}

TEST(instruction_long_turn_reads_first_and_last_paragraphs)
{
    struct allot_buf b;
    struct allot_instruction in;
    struct allot_instruction_view v;
    const char *first = "Please summarise the following report for the board.";
    const char *last = "What are the three main risks?";
    const char *mid_lo, *mid_hi;

    allot_buf_init(&b, 1 << 20);
    allot_buf_adds(&b, first);
    allot_buf_adds(&b, "\n\n");
    add_times(&b, PROSE "\n\n", 5);
    allot_buf_adds(&b, last);
    allot_buf_adds(&b, "\n");
    ASSERT(b.len > ALLOT_VIEW_SHORT_TURN);
    view_of(NULL, b.ptr, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT(v.spans[0].ptr == b.ptr);
    ASSERT_READS(&v, "Please summarise the following report for the board. | "
                     "What are the three main risks?");
    mid_lo = b.ptr + strlen(first);
    mid_hi = strstr(b.ptr, last);
    ASSERT(!any_span_overlaps(&v, mid_lo, mid_hi));
    ASSERT(!any_span_contains(&v, "procurement"));
    ASSERT(v.material_flags & ALLOT_MAT_PASTED);
    ASSERT_INT_EQ(v.n_documents, 1);
    ASSERT_INT_EQ(v.question, 1);
    ASSERT_INT_EQ(v.instruction_bytes, strlen(first) + strlen(last));
    ASSERT_INT_EQ(v.turn_bytes, b.len);
    allot_buf_release(&b);
}

TEST(instruction_long_turn_reads_short_leading_paragraphs)
{
    /* an instruction split over a few short paragraphs before the paste */
    struct allot_buf b;
    struct allot_instruction in;
    struct allot_instruction_view v;

    allot_buf_init(&b, 1 << 20);
    allot_buf_adds(&b, "Translate the text below into German.\n\nKeep the tone formal.\n\n");
    add_times(&b, PROSE "\n\n", 5);
    allot_buf_adds(&b, "Thanks.");
    view_of(NULL, b.ptr, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Translate the text below into German. | Keep the tone formal. | Thanks.");
    ASSERT(!any_span_contains(&v, "procurement"));
    ASSERT(v.material_flags & ALLOT_MAT_PASTED);
    allot_buf_release(&b);
}

TEST(instruction_long_edge_paragraphs_read_at_their_outer_edges)
{
    /* first and last paragraphs are long: their start and their end */
    struct allot_buf b;
    struct allot_instruction in;
    struct allot_instruction_view v;
    size_t r[8][2], n, first_len;

    allot_buf_init(&b, 1 << 20);
    allot_buf_adds(&b, "Rewrite this in plain English. ");
    add_times(&b, PROSE " ", 2);
    first_len = b.len - 1;
    allot_buf_adds(&b, "\n\n");
    add_times(&b, PROSE "\n\n", 3);
    add_times(&b, PROSE " ", 2);
    allot_buf_adds(&b, "Which parts matter most?");
    ASSERT(first_len > 2 * ALLOT_VIEW_EDGE);
    view_of(NULL, b.ptr, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    n = read_ranges(&in, &v, r, 8);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(r[0][0], 0);
    ASSERT_INT_EQ(r[0][1], ALLOT_VIEW_EDGE);
    ASSERT_INT_EQ(r[1][0], b.len - ALLOT_VIEW_EDGE);
    ASSERT_INT_EQ(r[1][1], b.len);
    ASSERT_INT_EQ(v.question, 1);
    ASSERT(v.material_flags & ALLOT_MAT_PASTED);
    allot_buf_release(&b);
}

/* A long turn that is one paragraph: its first paragraph is also its last,
 * so both outer edges are the instruction (instruction.h: "the first and
 * last paragraphs are the instruction (only their outer edges when they are
 * long)"). The question at the very end must be read. */
TEST(instruction_long_single_paragraph_reads_both_edges)
{
    struct allot_buf b;
    struct allot_instruction in;
    struct allot_instruction_view v;
    size_t r[8][2], n, len;
    const char *why;
    int end_read;

    allot_buf_init(&b, 1 << 20);
    allot_buf_adds(&b, "Here is the transcript of the call. ");
    add_times(&b, PROSE " ", 8);
    allot_buf_adds(&b, "Who agreed to send the revised contract?");
    len = b.len;
    view_of(NULL, b.ptr, &in, &v);
    why = view_violation(&in, &v);
    n = read_ranges(&in, &v, r, 8);
    end_read = any_span_contains(&v, "revised contract?");
    allot_buf_release(&b);

    ASSERT(len > ALLOT_VIEW_SHORT_TURN);
    ASSERT(why == NULL);
    ASSERT(v.instruction_bytes <= 2 * ALLOT_VIEW_EDGE);
    ASSERT(n >= 1);
    ASSERT_INT_EQ(r[0][0], 0);
    ASSERT_INT_EQ(r[0][1], ALLOT_VIEW_EDGE);
    /* the end of the paragraph, where the question is */
    ASSERT(end_read);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(r[1][0], len - ALLOT_VIEW_EDGE);
    ASSERT_INT_EQ(r[1][1], len);
    ASSERT_INT_EQ(v.question, 1);
}

TEST(instruction_tagged_blocks_are_material)
{
    const char *text = "Summarise the documents below.\n"
                       "<document id=\"1\">\n"
                       "Alpha text about procurement.\n"
                       "More alpha text.\n"
                       "</document>\n"
                       "<document id=\"2\">\n"
                       "Beta text about hiring.\n"
                       "</document>\n"
                       "Keep it to one paragraph.";
    struct allot_instruction in;
    struct allot_instruction_view v;

    view_of(NULL, text, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Summarise the documents below. | Keep it to one paragraph.");
    ASSERT(!any_span_contains(&v, "procurement"));
    ASSERT(!any_span_contains(&v, "hiring"));
    ASSERT(!any_span_contains(&v, "<document"));
    ASSERT(v.material_flags & ALLOT_MAT_TAGGED);
    ASSERT_INT_EQ(v.n_documents, 2);
}

TEST(instruction_quoted_lines_are_material)
{
    const char *text = "Reply politely to this email:\n"
                       "> Hi, can we move the meeting to Friday?\n"
                       "> The budget review overran.\n"
                       "Sign it from Bob.";
    struct allot_instruction in;
    struct allot_instruction_view v;

    view_of(NULL, text, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Reply politely to this email: | Sign it from Bob.");
    ASSERT(!any_span_contains(&v, "Friday"));
    ASSERT(!any_span_contains(&v, "budget"));
    ASSERT(v.material_flags & ALLOT_MAT_QUOTED);
    ASSERT_INT_EQ(v.n_documents, 1);
    /* the question mark inside the quote is not the instruction's */
    ASSERT_INT_EQ(v.question, 0);
}

TEST(instruction_document_separators_are_counted)
{
    const char *text = "Compare these two proposals.\n"
                       "Document 1:\n"
                       "Use Postgres for everything.\n"
                       "Document 2:\n"
                       "Use SQLite on each node.\n"
                       "---\n"
                       "Which one is cheaper to run?";
    struct allot_instruction in;
    struct allot_instruction_view v;
    char rt[4096];

    view_of(NULL, text, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_INT_EQ(v.n_documents, 3);
    ASSERT(!any_span_contains(&v, "Document 1"));
    ASSERT(!any_span_contains(&v, "Document 2"));
    ASSERT(!any_span_contains(&v, "---"));
    read_text(&v, rt, sizeof rt);
    ASSERT(strncmp(rt, "Compare these two proposals. | ", 31) == 0);
    ASSERT(strlen(rt) > 28 && strcmp(rt + strlen(rt) - 28, "Which one is cheaper to run?") == 0);
    ASSERT_INT_EQ(v.question, 1);
}

TEST(instruction_material_kinds_are_flagged)
{
    struct allot_instruction in;
    struct allot_instruction_view v;

    view_of(NULL, "Review this diff:\n--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,2 @@\n-int a;\n+long a;\n",
            &in, &v);
    ASSERT(v.material_flags & ALLOT_MAT_DIFF);
    ASSERT_INT_EQ(v.material_flags & ALLOT_MAT_LIST, 0);

    view_of(NULL,
            "Total the amounts:\nname,date,amount,currency\nann,2024-01-02,10,EUR\n"
            "bob,2024-01-03,12,EUR\ncid,2024-01-04,7,EUR\n",
            &in, &v);
    ASSERT(v.material_flags & ALLOT_MAT_TABULAR);

    view_of(NULL, "Sort these:\n- pears\n- apples\n- plums\n- figs\n- kiwis\n", &in, &v);
    ASSERT(v.material_flags & ALLOT_MAT_LIST);
    view_of(NULL, "Sort these:\n- pears\n- apples\n- plums\n- figs\n", &in, &v);
    ASSERT_INT_EQ(v.material_flags & ALLOT_MAT_LIST, 0); /* four items are not a list */

    view_of(NULL, "Validate this config.\n\n{\"port\": 8080, \"host\": \"x\"}\n", &in, &v);
    ASSERT(v.material_flags & ALLOT_MAT_JSON);
    view_of(NULL, "Check the claim.\n\n[1] Smith, 2020.\n", &in, &v);
    ASSERT_INT_EQ(v.material_flags & ALLOT_MAT_JSON, 0); /* a citation, not JSON */

    view_of(NULL, "What is the capital of France?", &in, &v);
    ASSERT_INT_EQ(v.material_flags, 0);
}

TEST(instruction_system_prompt_is_a_capped_secondary_zone)
{
    struct allot_buf sys;
    struct allot_instruction in;
    struct allot_instruction_view v;

    allot_buf_init(&sys, 1 << 20);
    add_times(&sys, "You are a careful assistant for the finance team. ", 60);
    ASSERT(sys.len > ALLOT_VIEW_SYSTEM_READ);
    view_of(sys.ptr, "List the overdue invoices.", &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT(v.n_spans >= 2);
    ASSERT_INT_EQ(v.spans[0].zone, ALLOT_ZONE_SYSTEM);
    ASSERT(v.spans[0].ptr == sys.ptr);
    ASSERT(v.spans[0].len <= ALLOT_VIEW_SYSTEM_READ);
    ASSERT(v.spans[0].len >= ALLOT_VIEW_SYSTEM_READ - 1); /* less only a trimmed space */
    ASSERT_READS(&v, "List the overdue invoices.");
    /* the system prompt is not counted as instruction */
    ASSERT_INT_EQ(v.instruction_bytes, strlen("List the overdue invoices."));

    view_of("Be brief.", "Hello", &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_INT_EQ(v.spans[0].zone, ALLOT_ZONE_SYSTEM);
    ASSERT_MEM_EQ(v.spans[0].ptr, v.spans[0].len, "Be brief.");
    ASSERT_READS(&v, "Hello");
    allot_buf_release(&sys);
}

TEST(instruction_question_flag)
{
    struct allot_instruction in;
    struct allot_instruction_view v;

    view_of(NULL, "What port does PostgreSQL listen on?", &in, &v);
    ASSERT_INT_EQ(v.question, 1);
    view_of(NULL, "What port does PostgreSQL listen on?  \r\n\n", &in, &v);
    ASSERT_INT_EQ(v.question, 1); /* trailing whitespace does not hide it */
    view_of(NULL, "Tell me the default port.", &in, &v);
    ASSERT_INT_EQ(v.question, 0);
    view_of(NULL, "Is this right? Explain the port choice.", &in, &v);
    ASSERT_INT_EQ(v.question, 0); /* the instruction must end with '?' */
    /* a question in the system prompt is not the user's */
    view_of("Can you help the user?", "Write the release notes.", &in, &v);
    ASSERT_INT_EQ(v.question, 0);
    view_of("Can you help the user?", "", &in, &v);
    ASSERT_INT_EQ(v.question, 0);
}

TEST(instruction_huge_turn_reads_a_bounded_number_of_bytes)
{
    struct allot_buf b;
    struct allot_instruction in;
    struct allot_instruction_view v;
    char rt[8192];

    /* 100 KB of long paragraphs */
    allot_buf_init(&b, 1 << 21);
    allot_buf_adds(&b, "Find every date in the text below.\n\n");
    while (b.len < 100 * 1024)
        allot_buf_adds(&b, PROSE "\n\n");
    allot_buf_adds(&b, "Answer as a list.");
    view_of(NULL, b.ptr, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT(span_bytes(&v) <= 2 * 3 * 2 * 300);
    ASSERT_READS(&v, "Find every date in the text below. | Answer as a list.");
    ASSERT(v.material_flags & ALLOT_MAT_PASTED);

    /* 100 KB of short paragraphs: still only a few at each edge */
    allot_buf_reset(&b);
    while (b.len < 100 * 1024)
        allot_buf_adds(&b, "A short line of pasted log output here.\n\n");
    view_of(NULL, b.ptr, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT(span_bytes(&v) <= 6 * 300);
    read_text(&v, rt, sizeof rt);
    ASSERT(strlen(rt) < 6 * 300);

    /* 100 KB with no newline at all */
    allot_buf_reset(&b);
    while (b.len < 100 * 1024)
        allot_buf_adds(&b, "word ");
    view_of(NULL, b.ptr, &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT(v.n_spans >= 1);
    ASSERT(span_bytes(&v) <= 2 * ALLOT_VIEW_EDGE);
    allot_buf_release(&b);
}

TEST(instruction_empty_input_gives_no_spans)
{
    struct allot_instruction in;
    struct allot_instruction_view v;

    memset(&in, 0, sizeof in); /* NULL pointers, zero lengths */
    memset(&v, 0xab, sizeof v);
    allot_instruction_view(&in, &v);
    ASSERT_INT_EQ(v.n_spans, 0);
    ASSERT_INT_EQ(v.instruction_bytes, 0);
    ASSERT_INT_EQ(v.turn_bytes, 0);
    ASSERT_INT_EQ(v.n_documents, 0);
    ASSERT_INT_EQ(v.material_flags, 0);
    ASSERT_INT_EQ(v.question, 0);

    view_of("", "  \n\n\t\r\n   ", &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_INT_EQ(v.n_spans, 0);
    ASSERT_INT_EQ(v.instruction_bytes, 0);

    /* only material: no instruction */
    view_of(NULL, "```\nint x;\n```\n", &in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_INT_EQ(v.n_spans, 0);
    ASSERT_INT_EQ(v.instruction_bytes, 0);
    ASSERT(v.material_flags & ALLOT_MAT_FENCE);
}

TEST(instruction_tool_results_are_counted_not_read)
{
    static const char body[] =
        "{\"model\":\"auto\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"grep\","
        "\"parameters\":{\"type\":\"object\"}}}],\"messages\":["
        "{\"role\":\"system\",\"content\":\"You are a coding agent.\"},"
        "{\"role\":\"user\",\"content\":\"Find where the config is parsed.\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"grep\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"TOOLOUTPUT src/config.c:12: "
        "parse_config(); Summarise everything?\"}]}";
    struct allot_chat_request r;
    struct allot_buf err;
    struct allot_instruction in;
    struct allot_instruction_view v;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_chat_request_parse(&r, body, sizeof body - 1, &err), 0);
    allot_instruction_from_request(&r, &in);
    ASSERT_INT_EQ(in.last_is_tool, 1);
    ASSERT_INT_EQ(in.n_tool_results, 1);
    ASSERT_INT_EQ(in.n_messages, 4);
    ASSERT_INT_EQ(in.has_tools, 1);
    ASSERT_INT_EQ(in.has_response_format, 0);
    ASSERT(in.material_bytes >= strlen("TOOLOUTPUT src/config.c:12: parse_config();"));
    ASSERT(allot_slice_eq(in.system, "You are a coding agent."));
    ASSERT(allot_slice_eq(in.last_user, "Find where the config is parsed."));

    allot_instruction_view(&in, &v);
    ASSERT_VIEW_OK(&in, &v);
    ASSERT_READS(&v, "Find where the config is parsed.");
    ASSERT(!any_span_contains(&v, "TOOLOUTPUT"));
    ASSERT(!any_span_contains(&v, "parse_config"));
    ASSERT_INT_EQ(v.question, 0); /* the tool output's '?' is not the instruction's */
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}
