/* The memo of classifications (classify_memo.h): what it gives is what
 * classifying again gives, byte for byte, under every change of the
 * request that the features see; and it is used where an agent's loop
 * repeats an instruction. */
#include <stdio.h>
#include <string.h>
#include "allot/classify.h"
#include "allot/classify_memo.h"
#include "allot/kinds_model.h"
#include "test.h"

static const char *const systems[] = {
    "",
    "You are a careful assistant for a newsroom. Keep to the facts given.",
};

static const char *const turns[] = {
    "Summarise this article in five bullet points:\n\nThe library reopened on Monday after "
    "eighteen months of work. More than four hundred people queued outside.",
    "Write a C function that parses an ISO-8601 date.",
    "Which of these three libraries should we adopt?",
    "What could go wrong if we ship this on Friday?\n\n```diff\n@@ -1,2 +1,2 @@\n-a\n+b\n```",
    "Convert this YAML config to TOML:\n\n<doc>\nkey: value\nlist: [1, 2, 3]\n</doc>",
    "",
    "x = 3 * 4 + 7; solve for y when y = 2x - 5?",
};

/* Structural changes an agent's loop makes, and some it does not. */
struct shape {
    size_t n_messages, n_tool_results, material_bytes;
    int has_tools, has_response_format, last_is_tool;
};

static const struct shape shapes[] = {
    {1, 0, 0, 0, 0, 0},      {2, 0, 0, 0, 0, 0},      {3, 0, 0, 0, 0, 0},
    {4, 1, 900, 1, 0, 1},    {5, 2, 1800, 1, 0, 1},   {9, 4, 7000, 1, 0, 1},
    {10, 4, 9000, 1, 0, 1},  {11, 5, 9100, 1, 0, 0},  {12, 5, 70000, 1, 0, 1},
    {13, 6, 70100, 1, 1, 1}, {13, 6, 70100, 0, 1, 1}, {2, 0, 0, 0, 1, 0},
};

static void instruction(const char *sys, const char *turn, const struct shape *s,
                        struct allot_instruction *in)
{
    memset(in, 0, sizeof *in);
    in->system = allot_slice_cstr(sys);
    in->last_user = allot_slice_cstr(turn);
    in->n_messages = s->n_messages;
    in->n_tool_results = s->n_tool_results;
    in->material_bytes = s->material_bytes;
    in->has_tools = s->has_tools;
    in->has_response_format = s->has_response_format;
    in->last_is_tool = s->last_is_tool;
}

/* The built-in model, for classifying with no memo in the way. */
static struct allot_kinds_model *builtin(void)
{
    struct allot_kinds_model *m = NULL;
    if (allot_kinds_model_from_bytes(allot__kinds_builtin, allot__kinds_builtin_size, "built-in",
                                     &m, NULL) != 0)
        return NULL;
    return m;
}

TEST(classify_memo_gives_what_classifying_again_gives)
{
    struct allot_kinds_model *m = builtin();
    size_t a, b, s, round, differ = 0, hits0;

    ASSERT(m != NULL);
    allot_classifier_use_builtin();
    allot_classify_memo_forget();
    hits0 = allot_classify_memo_hits();
    ASSERT_INT_EQ(hits0, 0);
    /* twice over, so that the second round finds what the first kept */
    for (round = 0; round < 2; round++)
        for (a = 0; a < sizeof systems / sizeof systems[0]; a++)
            for (b = 0; b < sizeof turns / sizeof turns[0]; b++)
                for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                    struct allot_instruction in;
                    struct allot_classification memo, fresh;
                    instruction(systems[a], turns[b], &shapes[s], &in);
                    allot_classify(&in, &memo);
                    allot_classify_with(m, &in, &fresh);
                    if (memcmp(&memo, &fresh, sizeof memo) != 0) {
                        fprintf(stderr, "  system %zu, turn %zu, shape %zu: '%s' against '%s'\n", a,
                                b, s, memo.reason, fresh.reason);
                        differ++;
                    }
                }
    ASSERT_INT_EQ(differ, 0);
    /* the loop's steps found most of theirs: every shape after the first
     * in a bucket already seen, and the second round's last entries */
    ASSERT(allot_classify_memo_hits() > 20);
    allot_kinds_model_free(m);
}

/* Whether classifying in was a find in the memo: 1 or 0, as the thread's
 * count and allot_classify()'s answer agree; -1 when they do not. */
static int found(const struct allot_instruction *in, struct allot_classification *c)
{
    size_t before = allot_classify_memo_hits();
    int said = allot_classify(in, c), counted = allot_classify_memo_hits() == before + 1;
    return said == counted ? counted : -1;
}

TEST(classify_memo_finds_the_next_step_of_a_loop_not_a_new_bucket)
{
    static const struct shape step[] = {
        {12, 5, 9100, 1, 0, 1},  /* kept */
        {13, 6, 9900, 1, 0, 1},  /* one more tool result: the same buckets */
        {14, 6, 10200, 1, 0, 0}, /* the last message not a tool result */
        {15, 7, 70000, 1, 0, 1}, /* material past 64 KB */
        {3, 0, 0, 1, 0, 1},      /* 2-3 messages */
    };
    const char *turn = "Fix the failing test in parser.c and run the suite again.";
    struct allot_instruction in;
    struct allot_classification c, again;

    allot_classifier_use_builtin();
    allot_classify_memo_forget();
    instruction(systems[1], turn, &step[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 0);
    ASSERT_INT_EQ(found(&in, &again), 1);
    ASSERT(memcmp(&c, &again, sizeof c) == 0);
    instruction(systems[1], turn, &step[1], &in);
    ASSERT_INT_EQ(found(&in, &again), 1);
    ASSERT(memcmp(&c, &again, sizeof c) == 0);
    instruction(systems[1], turn, &step[2], &in);
    ASSERT_INT_EQ(found(&in, &again), 0);
    instruction(systems[1], turn, &step[3], &in);
    ASSERT_INT_EQ(found(&in, &again), 0);
    instruction(systems[1], turn, &step[4], &in);
    ASSERT_INT_EQ(found(&in, &again), 0);
    /* one byte of the instruction, or of the system prompt, apart */
    instruction(systems[1], "Fix the failing test in parser.c and run the suite again!", &step[0],
                &in);
    ASSERT_INT_EQ(found(&in, &again), 0);
    instruction("You are a careful assistant for a newsroom. Keep to the facts given!", turn,
                &step[0], &in);
    ASSERT_INT_EQ(found(&in, &again), 0);
    /* the first is still kept, among the others */
    instruction(systems[1], turn, &step[1], &in);
    ASSERT_INT_EQ(found(&in, &again), 1);
    ASSERT(memcmp(&c, &again, sizeof c) == 0);
}

/* Instruction number i: a text of its own. */
static void numbered(char *buf, size_t cap, size_t i, const struct shape *s,
                     struct allot_instruction *in)
{
    snprintf(buf, cap, "Summarise note %zu of the batch in one line.", i);
    instruction("", buf, s, in);
}

/* The loops of many agents on one worker: each keeps its entry while
 * ALLOT_MEMO_ENTRIES are kept, and one found again outlives the one-off
 * instructions that come after it (the clock's second chance). */
TEST(classify_memo_keeps_many_loops_and_the_one_in_use)
{
    static char text[ALLOT_MEMO_ENTRIES + 1][64];
    struct allot_instruction in;
    struct allot_classification c;
    size_t i;

    allot_classifier_use_builtin();
    allot_classify_memo_forget();
    for (i = 0; i < ALLOT_MEMO_ENTRIES; i++) { /* every slot taken */
        numbered(text[i], sizeof text[i], i, &shapes[0], &in);
        ASSERT_INT_EQ(found(&in, &c), 0);
    }
    for (i = 0; i < ALLOT_MEMO_ENTRIES; i++) { /* and all still there */
        numbered(text[i], sizeof text[i], i, &shapes[0], &in);
        ASSERT_INT_EQ(found(&in, &c), 1);
    }
    /* all found since the clock's last pass: the first new one takes
     * slot 0 once every entry lost its mark; note 2, found again, is
     * marked, so the third new one passes it by for note 3's slot */
    numbered(text[ALLOT_MEMO_ENTRIES], sizeof text[0], ALLOT_MEMO_ENTRIES, &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 0); /* note 0's slot */
    numbered(text[0], sizeof text[0], 2, &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 1);
    numbered(text[0], sizeof text[0], ALLOT_MEMO_ENTRIES + 1, &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 0); /* note 1's slot */
    numbered(text[0], sizeof text[0], ALLOT_MEMO_ENTRIES + 2, &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 0); /* note 3's, not note 2's */
    numbered(text[0], sizeof text[0], 2, &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 1);
    numbered(text[0], sizeof text[0], 4, &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 1);
    numbered(text[0], sizeof text[0], ALLOT_MEMO_ENTRIES - 1, &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 1);
    numbered(text[0], sizeof text[0], 3, &shapes[0], &in); /* gone (and kept again) */
    ASSERT_INT_EQ(found(&in, &c), 0);
    numbered(text[0], sizeof text[0], 0, &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 0);
}

TEST(classify_memo_keeps_nothing_without_a_model_or_after_forget)
{
    struct allot_instruction in;
    struct allot_classification c;
    struct allot_classify_memo_key k;
    struct allot_instruction_view v;

    allot_classifier_use_builtin();
    allot_classify_memo_forget();
    instruction("", "Summarise this.", &shapes[0], &in);
    ASSERT_INT_EQ(found(&in, &c), 0);
    ASSERT_INT_EQ(found(&in, &c), 1);
    allot_classify_memo_forget();
    ASSERT_INT_EQ(allot_classify_memo_hits(), 0);
    ASSERT_INT_EQ(found(&in, &c), 0);
    /* serial 0 names no model: never kept, never found */
    allot_instruction_view(&in, &v);
    allot_classify_memo_key(0, &in, &v, &k);
    allot_classify_memo_keep(&k, &c);
    ASSERT(!allot_classify_memo_find(&k, &c));
}
