#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/outcomes.h"
#include "test.h"
#include "tmpdir.h"

#define MMLU_DIR "../shared/data/routellm_mmlu"
#define ARENA_CSV "../shared/data/arena_bench_v1/scores_wide.csv"

/* Write text to dir/name; the full path goes to path. 0 or -1. */
static int write_file(const char *dir, const char *name, const char *text, char *path, size_t cap)
{
    FILE *f;
    size_t n = strlen(text);
    int ok;

    snprintf(path, cap, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")))
        return -1;
    ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

TEST(outcomes_csv_quotes_newlines_bom_and_values)
{
    static const char csv[] = "\xEF\xBB\xBFid,prompt,category,small,big\n"
                              "q1,\"Say \"\"hi\"\", then\nA. one\nB. two\",trivia,True,False\n"
                              "q2,plain prompt,,true,1\n"
                              "\n"
                              "q3,\" spaced, \",math, ,0\n"
                              "q4,last,,FALSE,"; /* no final newline; a blank value */
    struct tmpdir td;
    char path[256];
    struct allot_outcomes *oc = NULL;
    struct allot_buf err;
    const struct allot_outcome_row *r;
    int rc;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(tmpdir_make(&td, "outcomes"), 0);
    ASSERT_INT_EQ(write_file(td.dir, "mmlu_tiny.csv", csv, path, sizeof path), 0);
    rc = allot_outcomes_load(path, NULL, &oc, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(oc->n_models, 2);
    ASSERT_STR_EQ(oc->models[0], "small");
    ASSERT_STR_EQ(oc->models[1], "big");
    ASSERT_INT_EQ(allot_outcomes_model(oc, "big"), 1);
    ASSERT_INT_EQ(allot_outcomes_model(oc, "bi"), -1);
    ASSERT_INT_EQ(oc->kind, ALLOT_QUALITY_CORRECT);
    ASSERT_DBL_NEAR(oc->quality_min, 0, 0);
    ASSERT_DBL_NEAR(oc->quality_max, 1, 0);
    ASSERT_INT_EQ(oc->n_rows, 4);
    ASSERT_INT_EQ(oc->n_files, 1);
    ASSERT_INT_EQ(oc->n_excluded, 0);

    r = &oc->rows[0];
    ASSERT_STR_EQ(r->id, "q1");
    ASSERT_STR_EQ(r->prompt, "Say \"hi\", then\nA. one\nB. two");
    ASSERT_STR_EQ(r->category, "trivia");
    ASSERT_STR_EQ(r->source, "mmlu_tiny");
    ASSERT(r->messages_json == NULL);
    ASSERT_INT_EQ(r->line, 2);
    ASSERT_DBL_NEAR(r->quality[0], 1, 0);
    ASSERT_DBL_NEAR(r->quality[1], 0, 0);
    ASSERT_INT_EQ(r->prompt_tokens[0], -1);
    ASSERT_INT_EQ(r->completion_tokens[1], -1);

    r = &oc->rows[1];
    ASSERT_STR_EQ(r->prompt, "plain prompt");
    ASSERT_STR_EQ(r->category, "");
    ASSERT_INT_EQ(r->line, 5);
    ASSERT_DBL_NEAR(r->quality[0], 1, 0);
    ASSERT_DBL_NEAR(r->quality[1], 1, 0);

    r = &oc->rows[2]; /* after a blank line; spaces kept inside quotes */
    ASSERT_STR_EQ(r->prompt, " spaced, ");
    ASSERT_INT_EQ(r->line, 7);
    ASSERT(isnan(r->quality[0])); /* " " is blank */
    ASSERT_DBL_NEAR(r->quality[1], 0, 0);

    r = &oc->rows[3];
    ASSERT_STR_EQ(r->id, "q4");
    ASSERT_INT_EQ(r->line, 8);
    ASSERT_DBL_NEAR(r->quality[0], 0, 0);
    ASSERT(isnan(r->quality[1]));

    allot_outcomes_free(oc);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(outcomes_csv_crlf_and_scores)
{
    /* CRLF line ends, a CRLF inside a quoted field (kept), judge scores */
    static const char csv[] = "question,m1,m2,m3\r\n"
                              "\"two\r\nlines\",7,8.5,\r\n"
                              "one,1,10,2e0\r\n";
    struct tmpdir td;
    char path[256];
    struct allot_outcomes *oc = NULL;
    struct allot_buf err;
    int rc;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(tmpdir_make(&td, "outcomes"), 0);
    ASSERT_INT_EQ(write_file(td.dir, "s.CSV", csv, path, sizeof path), 0);
    rc = allot_outcomes_load(path, NULL, &oc, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(oc->n_rows, 2);
    ASSERT_INT_EQ(oc->n_models, 3);
    ASSERT_INT_EQ(oc->kind, ALLOT_QUALITY_SCORE);
    ASSERT_DBL_NEAR(oc->quality_min, 1, 0);
    ASSERT_DBL_NEAR(oc->quality_max, 10, 0);
    ASSERT_STR_EQ(oc->rows[0].prompt, "two\r\nlines");
    ASSERT_STR_EQ(oc->rows[0].id, "");
    ASSERT_INT_EQ(oc->rows[0].line, 2);
    ASSERT_DBL_NEAR(oc->rows[0].quality[0], 7, 0);
    ASSERT_DBL_NEAR(oc->rows[0].quality[1], 8.5, 0);
    ASSERT(isnan(oc->rows[0].quality[2]));
    ASSERT_STR_EQ(oc->rows[1].prompt, "one");
    ASSERT_INT_EQ(oc->rows[1].line, 4);
    ASSERT_DBL_NEAR(oc->rows[1].quality[2], 2, 0);

    allot_outcomes_free(oc);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(outcomes_jsonl_prompt_messages_tokens)
{
    static const char jsonl[] =
        "{\"id\":\"q1\",\"prompt\":\"What is 2+2?\",\"outcomes\":{\"small\":{\"correct\":true,"
        "\"completion_tokens\":5},\"big\":{\"correct\":false,\"prompt_tokens\":12}}}\n"
        "\r\n"
        "{\"id\":7,\"category\":\"code\",\"messages\":[{\"role\":\"system\",\"content\":\"Be "
        "brief.\"},{\"role\":\"user\",\"content\":\"old\"},{\"role\":\"assistant\",\"content\":"
        "\"x\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"part "
        "one\"},{\"type\":\"text\",\"text\":\"part two\"}]}],\"extra\":1,"
        "\"outcomes\":{\"big\":{\"correct\":true},\"judge\":{\"correct\":null}}}\n"
        "{\"messages\":[{\"role\":\"user\",\"content\":\"only user\"}],\"outcomes\":{}}";
    struct tmpdir td;
    char path[256];
    struct allot_outcomes *oc = NULL;
    struct allot_buf err;
    const struct allot_outcome_row *r;
    int rc;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(tmpdir_make(&td, "outcomes"), 0);
    ASSERT_INT_EQ(write_file(td.dir, "own.jsonl", jsonl, path, sizeof path), 0);
    rc = allot_outcomes_load(path, NULL, &oc, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(oc->n_rows, 3);
    /* models in order of first appearance, the union over the file */
    ASSERT_INT_EQ(oc->n_models, 3);
    ASSERT_STR_EQ(oc->models[0], "small");
    ASSERT_STR_EQ(oc->models[1], "big");
    ASSERT_STR_EQ(oc->models[2], "judge");
    ASSERT_INT_EQ(oc->kind, ALLOT_QUALITY_CORRECT);

    r = &oc->rows[0];
    ASSERT_STR_EQ(r->id, "q1");
    ASSERT_STR_EQ(r->prompt, "What is 2+2?");
    ASSERT(r->messages_json == NULL);
    ASSERT_STR_EQ(r->source, "own");
    ASSERT_INT_EQ(r->line, 1);
    ASSERT_DBL_NEAR(r->quality[0], 1, 0);
    ASSERT_DBL_NEAR(r->quality[1], 0, 0);
    ASSERT(isnan(r->quality[2]));
    ASSERT_INT_EQ(r->completion_tokens[0], 5);
    ASSERT_INT_EQ(r->prompt_tokens[0], -1);
    ASSERT_INT_EQ(r->prompt_tokens[1], 12);
    ASSERT_INT_EQ(r->completion_tokens[1], -1);

    r = &oc->rows[1];
    ASSERT_STR_EQ(r->id, "7");
    ASSERT_STR_EQ(r->category, "code");
    ASSERT_INT_EQ(r->line, 3);
    ASSERT_STR_EQ(r->prompt, "Be brief.\n\npart one\npart two");
    ASSERT(r->messages_json != NULL);
    ASSERT(strncmp(r->messages_json, "[{\"role\":\"system\"", 17) == 0);
    ASSERT(r->messages_json[strlen(r->messages_json) - 1] == ']');
    ASSERT(isnan(r->quality[0]));
    ASSERT_DBL_NEAR(r->quality[1], 1, 0);
    ASSERT(isnan(r->quality[2]));

    r = &oc->rows[2];
    ASSERT_STR_EQ(r->prompt, "only user");
    ASSERT_STR_EQ(r->messages_json, "[{\"role\":\"user\",\"content\":\"only user\"}]");
    ASSERT(isnan(r->quality[0]) && isnan(r->quality[1]) && isnan(r->quality[2]));

    allot_outcomes_free(oc);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(outcomes_jsonl_scores)
{
    static const char jsonl[] =
        "{\"prompt\":\"a\",\"outcomes\":{\"x\":{\"score\":1},\"y\":{\"score\":0}}}\n"
        "{\"prompt\":\"b\",\"outcomes\":{\"x\":{\"score\":-2.5e0},\"y\":{\"score\":null,"
        "\"completion_tokens\":3}}}\n";
    struct tmpdir td;
    char path[256];
    struct allot_outcomes *oc = NULL;
    struct allot_buf err;
    int rc;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(tmpdir_make(&td, "outcomes"), 0);
    ASSERT_INT_EQ(write_file(td.dir, "s.jsonl", jsonl, path, sizeof path), 0);
    rc = allot_outcomes_load(path, NULL, &oc, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    /* scores of 1 and 0 are still scores: "score" says so */
    ASSERT_INT_EQ(oc->kind, ALLOT_QUALITY_SCORE);
    ASSERT_DBL_NEAR(oc->quality_min, -2.5, 0);
    ASSERT_DBL_NEAR(oc->quality_max, 1, 0);
    ASSERT(isnan(oc->rows[1].quality[1]));
    ASSERT_INT_EQ(oc->rows[1].completion_tokens[1], 3);

    allot_outcomes_free(oc);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(outcomes_malformed_input_names_file_and_line)
{
    static const struct {
        const char *name, *text;
        int rc;
        const char *where, *why;
    } cases[] = {
        /* CSV */
        {"f.csv", "prompt,a,b\n\"x\",True,True\n\"y\nz\",True\n", ALLOT_EPARSE,
         "f.csv:3:", "2 fields where the header has 3"},
        {"f.csv", "prompt,a,b\nx,True,True,False\n", ALLOT_EPARSE, "f.csv:2:", "4 fields"},
        {"f.csv", "prompt,a\nq,True\nr,maybe\n", ALLOT_EPARSE,
         "f.csv:3:", "column 'a': 'maybe' is neither True/False nor a number"},
        {"f.csv", "prompt,a\nq,nan\n", ALLOT_EPARSE, "f.csv:2:", "'nan'"},
        {"f.csv", "prompt,a\nq,+1\n", ALLOT_EPARSE, "f.csv:2:", "'+1'"},
        {"f.csv", "prompt,a\nq,1e999\n", ALLOT_EINVAL, "f.csv:2:", "out of range"},
        {"f.csv", "prompt,a\nq,True\n\"open,True\nmore,False\n", ALLOT_EPARSE,
         "f.csv:3:", "unterminated quoted field"},
        {"f.csv", "prompt,a\nq\"x,True\n", ALLOT_EPARSE, "f.csv:2:", "malformed quoting"},
        {"f.csv", "prompt,a\n\"q\"x,True\n", ALLOT_EPARSE, "f.csv:2:", "malformed quoting"},
        {"f.csv", "text,a\nq,True\n", ALLOT_EINVAL, "f.csv:1:", "no 'prompt'"},
        {"f.csv", "prompt\nq\n", ALLOT_EINVAL, "f.csv:1:", "no model columns"},
        {"f.csv", "prompt,a,a\nq,1,1\n", ALLOT_EINVAL, "f.csv:1:", "'a' appears twice"},
        {"f.csv", "prompt,question,a\nq,r,1\n", ALLOT_EINVAL, "f.csv:1:", "say the same"},
        {"f.csv", "prompt,,a\nq,r,1\n", ALLOT_EINVAL, "f.csv:1:", "column 2 has no name"},
        {"f.csv", "prompt,a\n\"\",1\n", ALLOT_EINVAL, "f.csv:2:", "empty prompt"},
        {"f.csv", "", ALLOT_EPARSE, "f.csv:", "empty file"},
        /* JSONL */
        {"f.jsonl",
         "{\"prompt\":\"a\",\"outcomes\":{\"m\":{\"correct\":true}}}\n{\"prompt\": \"x\",",
         ALLOT_EPARSE, "f.jsonl:2:", "invalid JSON"},
        {"f.jsonl", "\n\n[1,2]\n", ALLOT_EPARSE, "f.jsonl:3:", "not a JSON object"},
        {"f.jsonl", "{\"id\":\"1\",\"outcomes\":{}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "no 'prompt' or 'messages'"},
        {"f.jsonl", "{\"prompt\":3,\"outcomes\":{}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "'prompt' must be a string"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":[1]}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "'outcomes' must be an object"},
        {"f.jsonl", "{\"prompt\":\"p\"}\n", ALLOT_EINVAL, "f.jsonl:1:", "no 'outcomes'"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":{\"accuracy\":1}}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "unknown key 'accuracy'"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":{\"completion_tokens\":1}}}\n",
         ALLOT_EINVAL, "f.jsonl:1:", "neither 'correct' nor 'score'"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":{\"correct\":1}}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "'correct' must be true, false or null"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":{\"score\":\"7\"}}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "'score' must be a number"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":{\"score\":1e999}}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "score out of range"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":{\"score\":1,\"correct\":true}}}\n",
         ALLOT_EINVAL, "f.jsonl:1:", "both 'correct' and 'score'"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":{\"score\":1,\"prompt_tokens\":1.5}}}\n",
         ALLOT_EINVAL, "f.jsonl:1:", "whole number"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":true}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "must be an object"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"m\":{\"score\":1},\"m\":{\"score\":2}}}\n",
         ALLOT_EINVAL, "f.jsonl:1:", "model 'm' twice"},
        {"f.jsonl",
         "{\"prompt\":\"p\",\"messages\":[{\"role\":\"user\",\"content\":\"p\"}],\"outcomes\":{}}"
         "\n",
         ALLOT_EINVAL, "f.jsonl:1:", "both 'prompt' and 'messages'"},
        {"f.jsonl", "{\"messages\":[{\"content\":\"p\"}],\"outcomes\":{}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "'messages[0].role'"},
        {"f.jsonl", "{\"messages\":[{\"role\":\"assistant\",\"content\":\"p\"}],\"outcomes\":{}}\n",
         ALLOT_EINVAL, "f.jsonl:1:", "no system or user text"},
        {"f.jsonl", "{\"prompt\":\"p\",\"id\":[],\"outcomes\":{}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "'id' must be"},
        {"f.jsonl", "{\"prompt\":\"p\",\"prompt\":\"q\",\"outcomes\":{}}\n", ALLOT_EINVAL,
         "f.jsonl:1:", "key 'prompt' twice"},
        {"f.jsonl", "{\"prompt\":\"p\",\"outcomes\":{}}\n", ALLOT_EINVAL, "f.jsonl", "no models"},
        {"f.txt", "prompt,a\n", ALLOT_EINVAL, "f.txt", "not a .csv or .jsonl file"},
    };
    struct tmpdir td;
    char path[256];
    struct allot_outcomes *oc;
    struct allot_buf err;
    size_t i;
    int rc;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(tmpdir_make(&td, "outcomes"), 0);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        allot_buf_reset(&err);
        oc = NULL;
        if (write_file(td.dir, cases[i].name, cases[i].text, path, sizeof path) != 0)
            break;
        rc = allot_outcomes_load(path, NULL, &oc, &err);
        if (rc != cases[i].rc || !strstr(allot_buf_cstr(&err), cases[i].where) ||
            !strstr(allot_buf_cstr(&err), cases[i].why))
            fprintf(stderr, "  case %zu: rc %d, err \"%s\"\n", i, rc, allot_buf_cstr(&err));
        ASSERT_INT_EQ(rc, cases[i].rc);
        ASSERT(oc == NULL);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), cases[i].where);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), cases[i].why);
        unlink(path);
    }
    ASSERT_INT_EQ(i, sizeof cases / sizeof cases[0]);

    /* a path that is not there */
    allot_buf_reset(&err);
    snprintf(path, sizeof path, "%s/absent.csv", td.dir);
    ASSERT_INT_EQ(allot_outcomes_load(path, NULL, &oc, &err), ALLOT_EIO);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "absent.csv: No such file or directory");

    allot_buf_release(&err);
    tmpdir_remove(&td);
}

/* A directory holding the given files: load it, return rc, the result
 * (for the caller to free) and the message. */
static int load_dir(const char *const *files, size_t n, const struct allot_outcomes_opts *o,
                    struct allot_outcomes **oc, struct allot_buf *err)
{
    struct tmpdir td;
    char path[256];
    size_t i;
    int rc = -100;

    *oc = NULL;
    if (tmpdir_make(&td, "outcomes") != 0)
        return rc;
    for (i = 0; i < n; i += 2) {
        if (write_file(td.dir, files[i], files[i + 1], path, sizeof path) != 0)
            goto out;
    }
    rc = allot_outcomes_load(td.dir, o, oc, err);
out:
    tmpdir_remove(&td);
    return rc;
}

TEST(outcomes_directory_model_sets_formats_and_exclusions)
{
    static const char *const mixed_csv[] = {"a.csv", "prompt,m1,m2\nq,1,0\n", "b.csv",
                                            "prompt,m1,m3\nr,1,0\n"};
    static const char *const missing_csv[] = {"a.csv", "prompt,m1,m2\nq,1,0\n", "b.csv",
                                              "prompt,m1\nr,1\n"};
    static const char *const mixed_jsonl[] = {
        "a.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"x\":{\"score\":1},\"y\":{\"score\":2}}}\n",
        "b.jsonl", "{\"prompt\":\"q\",\"outcomes\":{\"x\":{\"score\":1}}}\n"};
    static const char *const extra_jsonl[] = {
        "a.jsonl", "{\"prompt\":\"p\",\"outcomes\":{\"x\":{\"score\":1}}}\n", "b.jsonl",
        ("{\"prompt\":\"q\",\"outcomes\":{\"x\":{\"score\":1}}}\n"
         "{\"prompt\":\"r\",\"outcomes\":{\"z\":{\"score\":1}}}\n")};
    static const char *const two_formats[] = {
        "a.csv", "prompt,m1\nq,1\n", "b.jsonl",
        "{\"prompt\":\"q\",\"outcomes\":{\"m1\":{\"correct\":true}}}\n"};
    static const char *const nothing[] = {"notes.txt", "hello\n"};
    /* columns in another order, a contaminated list, an ignored file */
    static const char *const good[] = {"b.csv",
                                       "prompt,m2,m1\n\"two\nlines\",0,1\nkeep,1,0\n",
                                       "a.csv",
                                       "prompt,m1,m2\ndrop me,1,1\nfirst,0,1\n",
                                       "mmlu_contaminated_prompts.jsonl",
                                       ("{\"train_prompt\":\"x\",\"eval_prompt\":\"drop me\"}\n"
                                        "{\"eval_prompt\":\"two\\nlines\"}\n"),
                                       "README.md",
                                       "not data\n"};
    struct allot_outcomes *oc = NULL;
    struct allot_outcomes_opts o;
    struct allot_buf err;
    int rc;

    allot_buf_init(&err, 4096);
    rc = load_dir(mixed_csv, 4, NULL, &oc, &err);
    ASSERT_INT_EQ(rc, ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/b.csv:1: model 'm3' is not among the models of");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/a.csv");

    allot_buf_reset(&err);
    ASSERT_INT_EQ(load_dir(missing_csv, 4, NULL, &oc, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/b.csv: lacks model 'm2', a model of");

    allot_buf_reset(&err);
    ASSERT_INT_EQ(load_dir(mixed_jsonl, 4, NULL, &oc, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/b.jsonl: lacks model 'y'");

    allot_buf_reset(&err);
    ASSERT_INT_EQ(load_dir(extra_jsonl, 4, NULL, &oc, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/b.jsonl:2: model 'z' is not among the models of");

    allot_buf_reset(&err);
    ASSERT_INT_EQ(load_dir(two_formats, 4, NULL, &oc, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "holds both .csv");

    allot_buf_reset(&err);
    ASSERT_INT_EQ(load_dir(nothing, 2, NULL, &oc, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "no .csv or .jsonl data files");

    allot_buf_reset(&err);
    rc = load_dir(good, 8, NULL, &oc, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(oc->n_files, 2);
    ASSERT_INT_EQ(oc->n_excluded, 2);
    ASSERT_INT_EQ(oc->n_rows, 2);
    ASSERT_STR_EQ(oc->models[0], "m1"); /* a.csv is first by name */
    ASSERT_STR_EQ(oc->rows[0].prompt, "first");
    ASSERT_STR_EQ(oc->rows[0].source, "a");
    ASSERT_INT_EQ(oc->rows[0].line, 3);
    ASSERT_STR_EQ(oc->rows[1].prompt, "keep");
    ASSERT_STR_EQ(oc->rows[1].source, "b");
    ASSERT_INT_EQ(oc->rows[1].line, 4);
    ASSERT_DBL_NEAR(oc->rows[1].quality[0], 0, 0); /* m1, b.csv's second column */
    ASSERT_DBL_NEAR(oc->rows[1].quality[1], 1, 0);
    allot_outcomes_free(oc);

    /* no_auto_exclude keeps every row; the list is still not data */
    memset(&o, 0, sizeof o);
    o.no_auto_exclude = 1;
    ASSERT_INT_EQ(load_dir(good, 8, &o, &oc, &err), 0);
    ASSERT_INT_EQ(oc->n_rows, 4);
    ASSERT_INT_EQ(oc->n_excluded, 0);
    ASSERT_INT_EQ(oc->n_files, 2);
    allot_outcomes_free(oc);

    /* the row cap */
    o.max_rows = 3;
    allot_buf_reset(&err);
    ASSERT_INT_EQ(load_dir(good, 8, &o, &oc, &err), ALLOT_ETOOBIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/b.csv:4: more than 3 rows");
    ASSERT(oc == NULL);

    allot_buf_release(&err);
}

TEST(outcomes_explicit_exclusion_list)
{
    struct tmpdir td;
    char data[256], list[256];
    struct allot_outcomes *oc = NULL;
    struct allot_outcomes_opts o;
    struct allot_buf err;

    allot_buf_init(&err, 4096);
    memset(&o, 0, sizeof o);
    ASSERT_INT_EQ(tmpdir_make(&td, "outcomes"), 0);
    ASSERT_INT_EQ(write_file(td.dir, "d.jsonl",
                             "{\"prompt\":\"a\",\"outcomes\":{\"m\":{\"correct\":true}}}\n"
                             "{\"prompt\":\"b\",\"outcomes\":{\"m\":{\"correct\":false}}}\n",
                             data, sizeof data),
                  0);
    ASSERT_INT_EQ(write_file(td.dir, "x.jsonl", "{\"prompt\":\"b\"}\n", list, sizeof list), 0);
    o.exclude_path = list;
    ASSERT_INT_EQ(allot_outcomes_load(data, &o, &oc, &err), 0);
    ASSERT_INT_EQ(oc->n_rows, 1);
    ASSERT_INT_EQ(oc->n_excluded, 1);
    ASSERT_STR_EQ(oc->rows[0].prompt, "a");
    allot_outcomes_free(oc);

    ASSERT_INT_EQ(write_file(td.dir, "x.jsonl", "{\"text\":\"b\"}\n", list, sizeof list), 0);
    ASSERT_INT_EQ(allot_outcomes_load(data, &o, &oc, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "x.jsonl:1: no 'eval_prompt' or 'prompt'");

    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(outcomes_model_judgment_gives_completion_tokens)
{
    /* answers of 9 bytes ("caf\u00e9 ok!" is 9 bytes of UTF-8) and 0 bytes;
     * the question text quotes the start marker, the answer the end one */
    static const char judgment[] =
        "{\"question_id\":\"q1\",\"model\":\"org/m1\",\"user_prompt\":\"[Question]\\nsay [The "
        "Start of Assistant's Answer]\\n\\n\\n[The Start of Reference Answer]\\nr\\n[The End of "
        "Reference Answer]\\n\\n[The Start of Assistant's Answer]\\ncaf\\u00e9 ok!\\n[The End "
        "of Assistant's Answer]\",\"score\":3}\n"
        "{\"question_id\":\"q2\",\"model\":\"org/m1\",\"user_prompt\":\"[The End of Reference "
        "Answer]\\n\\n[The Start of Assistant's Answer]\\n\\n[The End of Assistant's "
        "Answer]\",\"score\":null}\n"
        "{\"question_id\":\"q9\",\"model\":\"org/m1\",\"user_prompt\":\"x\"}\n"
        "{\"question_id\":\"q1\",\"model\":\"other\",\"user_prompt\":\"x\"}\n";
    struct tmpdir td;
    char path[256], sub[128], jpath[256];
    struct allot_outcomes *oc = NULL;
    struct allot_buf err;
    int rc;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(tmpdir_make(&td, "outcomes"), 0);
    snprintf(sub, sizeof sub, "%s/model_judgment", td.dir);
    ASSERT_INT_EQ(mkdir(sub, 0700), 0);
    rc = write_file(sub, "m1.jsonl", judgment, jpath, sizeof jpath);
    if (rc == 0)
        rc =
            write_file(td.dir, "scores_wide.csv",
                       "question_id,prompt,org/m1,m2\nq1,hello,3,\nq2,bye,,5\n", path, sizeof path);
    if (rc == 0)
        rc = allot_outcomes_load(path, NULL, &oc, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    unlink(jpath);
    rmdir(sub);
    tmpdir_remove(&td);
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(oc->n_files, 1);
    ASSERT_INT_EQ(oc->rows[0].completion_tokens[0], 3); /* ceil(9 / 4) */
    ASSERT_INT_EQ(oc->rows[1].completion_tokens[0], 0);
    ASSERT_INT_EQ(oc->rows[0].completion_tokens[1], -1);
    ASSERT_INT_EQ(oc->rows[1].completion_tokens[1], -1);
    ASSERT_INT_EQ(oc->rows[0].prompt_tokens[0], -1);
    allot_outcomes_free(oc);
    allot_buf_release(&err);
}

TEST(outcomes_real_mmlu)
{
    struct allot_outcomes *oc = NULL;
    struct allot_outcomes_opts o;
    struct allot_buf err;
    size_t i, right[2] = {0, 0};
    double t0, ms;
    int rc, weak, strong;

    if (access(MMLU_DIR, R_OK) != 0) {
        printf("  skipped: %s is absent\n", MMLU_DIR);
        return;
    }
    allot_buf_init(&err, 4096);
    t0 = now_ms();
    rc = allot_outcomes_load(MMLU_DIR, NULL, &oc, &err);
    ms = now_ms() - t0;
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    printf("  mmlu: %zu rows (%zu excluded) from %zu files in %.1f ms\n", oc->n_rows,
           oc->n_excluded, oc->n_files, ms);
    /* RouteLLM's decontamination: 5 of the 14,042 prompts */
    ASSERT_INT_EQ(oc->n_excluded, 5);
    ASSERT_INT_EQ(oc->n_rows, 14042 - 5);
    ASSERT_INT_EQ(oc->n_files, 57);
    ASSERT_INT_EQ(oc->n_models, 2);
    ASSERT_INT_EQ(oc->kind, ALLOT_QUALITY_CORRECT);
    weak = allot_outcomes_model(oc, "mistralai/Mixtral-8x7B-Instruct-v0.1");
    strong = allot_outcomes_model(oc, "gpt-4-1106-preview");
    ASSERT_INT_EQ(weak, 0);
    ASSERT_INT_EQ(strong, 1);
    ASSERT_STR_EQ(oc->rows[0].source, "mmlu_abstract_algebra");
    ASSERT_INT_EQ(oc->rows[0].line, 2);
    allot_outcomes_free(oc);
    oc = NULL;

    /* the README's accuracies are over all 14,042 rows: load without the
     * exclusion list */
    memset(&o, 0, sizeof o);
    o.no_auto_exclude = 1;
    ASSERT_INT_EQ(allot_outcomes_load(MMLU_DIR, &o, &oc, &err), 0);
    ASSERT_INT_EQ(oc->n_rows, 14042);
    ASSERT_INT_EQ(oc->n_excluded, 0);
    for (i = 0; i < oc->n_rows; i++) {
        ASSERT(!isnan(oc->rows[i].quality[0]) && !isnan(oc->rows[i].quality[1]));
        right[0] += oc->rows[i].quality[0] == 1;
        right[1] += oc->rows[i].quality[1] == 1;
    }
    ASSERT_DBL_NEAR((double)right[0] / (double)oc->n_rows, 0.681, 0.001);
    ASSERT_DBL_NEAR((double)right[1] / (double)oc->n_rows, 0.806, 0.001);
    allot_outcomes_free(oc);
    allot_buf_release(&err);
}

TEST(outcomes_real_arena_bench)
{
    struct allot_outcomes *oc = NULL;
    struct allot_buf err;
    size_t i, m, unknown = 0, tokens = 0;
    double t0, ms;
    int rc, gpt4;

    if (access(ARENA_CSV, R_OK) != 0) {
        printf("  skipped: %s is absent\n", ARENA_CSV);
        return;
    }
    allot_buf_init(&err, 4096);
    t0 = now_ms();
    rc = allot_outcomes_load(ARENA_CSV, NULL, &oc, &err);
    ms = now_ms() - t0;
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(oc->n_rows, 300);
    ASSERT_INT_EQ(oc->n_models, 15);
    ASSERT_INT_EQ(oc->kind, ALLOT_QUALITY_SCORE);
    ASSERT(oc->quality_min >= 1 && oc->quality_max <= 10);
    for (i = 0; i < oc->n_rows; i++) {
        for (m = 0; m < oc->n_models; m++) {
            unknown += isnan(oc->rows[i].quality[m]);
            tokens += oc->rows[i].completion_tokens[m] >= 0;
        }
    }
    printf("  arena: %zu rows, %zu unknown scores, completion tokens for %zu of %zu in %.1f ms\n",
           oc->n_rows, unknown, tokens, oc->n_rows * oc->n_models, ms);
    ASSERT_INT_EQ(unknown, 39); /* the judge gave no score: blanks */
    if (access("../shared/data/arena_bench_v1/model_judgment", R_OK) == 0) {
        ASSERT(tokens * 10 >= oc->n_rows * oc->n_models * 9);
        gpt4 = allot_outcomes_model(oc, "gpt-4-1106-preview");
        ASSERT(gpt4 >= 0);
        ASSERT_STR_EQ(oc->rows[0].id, "66c00ddde3dc4128a14d6afd5e899342");
        /* its answer there is 1,938 bytes */
        ASSERT_INT_EQ(oc->rows[0].completion_tokens[gpt4], 485);
        ASSERT_DBL_NEAR(oc->rows[0].quality[0], 3, 0); /* Llama-2-70b-chat */
    }
    allot_outcomes_free(oc);
    allot_buf_release(&err);
}
