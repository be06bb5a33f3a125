/* The ledger's kept instructions written out to label (kinds_ledger.h),
 * from a real SQLite ledger written by the ledger itself. */
#include <cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/kinds_ledger.h"
#include "allot/ledger.h"
#include "test.h"
#include "tmpdir.h"

#define DISTINCT 2500 /* more than the repeat set's first 1,024 slots hold at half load */

static int append(struct allot_ledger *l, const char *id, int64_t ts, const char *endpoint,
                  const char *category, double confidence, double tier_confidence,
                  const char *prompt)
{
    struct allot_ledger_entry e;
    int rc;
    memset(&e, 0, sizeof e);
    snprintf(e.id, sizeof e.id, "%s", id);
    e.ts_ms = ts;
    snprintf(e.endpoint, sizeof e.endpoint, "%s", endpoint);
    snprintf(e.category, sizeof e.category, "%s", category);
    e.confidence = confidence;
    e.tier_confidence = tier_confidence;
    snprintf(e.tier, sizeof e.tier, "%s", *category ? "labour" : "");
    snprintf(e.source, sizeof e.source, "classifier");
    snprintf(e.status, sizeof e.status, "ok");
    e.prompt = prompt ? strdup(prompt) : NULL;
    rc = allot_ledger_append(l, &e);
    if (rc)
        free(e.prompt);
    return rc;
}

/* Every line of path parsed; *n set. NULL when a line is not JSON. */
static cJSON **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    static char line[1 << 16];
    cJSON **v = NULL;
    *n = 0;
    if (!f)
        return NULL;
    while (fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        cJSON **grown = realloc(v, (*n + 1) * sizeof *v);
        if (!j || !grown) {
            cJSON_Delete(j);
            free(grown ? grown : v);
            fclose(f);
            return NULL;
        }
        v = grown;
        v[(*n)++] = j;
    }
    fclose(f);
    return v;
}

static const char *str_of(const cJSON *j, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(s) ? s->valuestring : "";
}

static double num_of(const cJSON *j, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(s) ? s->valuedouble : -1;
}

TEST(kinds_ledger_export_writes_each_kept_instruction_once_least_confident_first)
{
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_buf err;
    struct allot_kinds_ledger_stats st;
    char out[160], id[32], prompt[64];
    cJSON **lines;
    size_t n, i;
    int k;

    ASSERT_INT_EQ(tmpdir_make(&t, "kinds-ledger"), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    /* DISTINCT instructions, each sent twice: the category's confidence
     * rises with i, the tier's falls, so the order shows which one leads;
     * the second sending is surer of its tier, so it is the repeat left out */
    for (k = 0; k < 2; k++)
        for (i = 0; i < DISTINCT; i++) {
            snprintf(id, sizeof id, "req_%d_%zu", k, i);
            snprintf(prompt, sizeof prompt, "Summarise note %zu.", i);
            ASSERT_INT_EQ(append(l, id, 1000 + (int64_t)i, "/v1/chat/completions", "summarize",
                                 0.2 + 0.7 * (double)i / DISTINCT + 0.05 * k,
                                 0.95 - 0.5 * (double)i / DISTINCT + 0.02 * k, prompt),
                          0);
        }
    /* never written: no instruction kept, no category, an audit row */
    ASSERT_INT_EQ(append(l, "req_none", 1, "/v1/chat/completions", "answer", 0.01, 0.01, NULL), 0);
    ASSERT_INT_EQ(append(l, "req_nocat", 1, "/v1/embeddings", "", 0, 1, "embed me"), 0);
    ASSERT_INT_EQ(append(l, "aud_1", 1, "audit", "review", 0.01, -1, "an audit prompt"), 0);
    /* the least sure of its tier, with text that needs escaping */
    ASSERT_INT_EQ(append(l, "req_esc", 2, "/v1/messages", "extract", 0.9, 0.3,
                         "Be brief.\n\nList the \"dates\"\tin this \\ text.\x01"),
                  0);
    /* a row from before tier_confidence: its category's confidence stands in */
    ASSERT_INT_EQ(append(l, "req_old", 3, "/v1/chat/completions", "answer", 0.35, -1, "Old one."),
                  0);
    allot_ledger_close(l);

    snprintf(out, sizeof out, "%s/label.jsonl", t.dir);
    ASSERT_INT_EQ(allot_kinds_ledger_export(t.path, out, 0, &st, &err), 0);
    ASSERT_INT_EQ(st.written, DISTINCT + 2);
    ASSERT_INT_EQ(st.repeats, DISTINCT);
    ASSERT((lines = read_lines(out, &n)) != NULL);
    ASSERT_INT_EQ(n, DISTINCT + 2);
    ASSERT_STR_EQ(str_of(lines[0], "id"), "req_esc");
    ASSERT_STR_EQ(str_of(lines[0], "prompt"),
                  "Be brief.\n\nList the \"dates\"\tin this \\ text.\x01");
    ASSERT_STR_EQ(str_of(lines[0], "category"), "extract");
    ASSERT_STR_EQ(str_of(lines[0], "source"), "classifier");
    ASSERT_DBL_NEAR(num_of(lines[0], "confidence"), 0.9, 1e-9);
    ASSERT_DBL_NEAR(num_of(lines[0], "tier_confidence"), 0.3, 1e-9);
    ASSERT_STR_EQ(str_of(lines[1], "id"), "req_old");
    ASSERT_DBL_NEAR(num_of(lines[1], "tier_confidence"), -1, 1e-9);
    for (i = 2; i < n; i++) {
        char want[32];
        /* the first, less sure sending, the least sure of its tier first */
        snprintf(want, sizeof want, "req_0_%zu", DISTINCT - 1 - (i - 2));
        ASSERT_STR_EQ(str_of(lines[i], "id"), want);
        ASSERT_STR_EQ(str_of(lines[i], "tier"), "labour");
        if (i > 2)
            ASSERT(num_of(lines[i], "tier_confidence") >= num_of(lines[i - 1], "tier_confidence"));
    }
    for (i = 0; i < n; i++)
        cJSON_Delete(lines[i]);
    free(lines);

    /* limit: the first N lines, repeats not counted */
    ASSERT_INT_EQ(allot_kinds_ledger_export(t.path, out, 3, &st, &err), 0);
    ASSERT_INT_EQ(st.written, 3);
    ASSERT((lines = read_lines(out, &n)) != NULL);
    ASSERT_INT_EQ(n, 3);
    {
        char want[32];
        snprintf(want, sizeof want, "req_0_%d", DISTINCT - 1);
        ASSERT_STR_EQ(str_of(lines[2], "id"), want);
    }
    for (i = 0; i < n; i++)
        cJSON_Delete(lines[i]);
    free(lines);

    /* an unwritable output names it */
    allot_buf_reset(&err);
    ASSERT_INT_EQ(allot_kinds_ledger_export(t.path, "/nonexistent-dir/x.jsonl", 0, &st, &err),
                  ALLOT_EIO);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "'/nonexistent-dir/x.jsonl': cannot write");
    remove(out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(kinds_ledger_export_of_a_ledger_without_kept_instructions_says_how_to_keep_them)
{
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_buf err;
    struct allot_kinds_ledger_stats st = {7, 7};
    char out[160];

    ASSERT_INT_EQ(tmpdir_make(&t, "kinds-ledger"), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    ASSERT_INT_EQ(append(l, "req_a", 1, "/v1/chat/completions", "answer", 0.5, 0.5, NULL), 0);
    allot_ledger_close(l);
    snprintf(out, sizeof out, "%s/none.jsonl", t.dir);
    ASSERT_INT_EQ(allot_kinds_ledger_export(t.path, out, 0, &st, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "has no routed request with its instruction kept");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "store.keep_prompts: all");
    ASSERT_INT_EQ(st.written, 7); /* set only on success */
    remove(out);
    allot_buf_reset(&err);
    snprintf(out, sizeof out, "%s/missing.db", t.dir);
    ASSERT_INT_EQ(allot_kinds_ledger_export(out, "/dev/null", 0, &st, &err), ALLOT_ESTORE);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "does not exist");
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(kinds_ledger_export_reads_a_ledger_from_before_tier_confidence)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_kinds_ledger_stats st;
    sqlite3 *db = NULL;
    char out[160];
    cJSON **lines;
    size_t n, i;

    ASSERT_INT_EQ(tmpdir_make(&t, "kinds-ledger"), 0);
    allot_buf_init(&err, 4096);
    /* the columns the export reads, as schema version 6 had them */
    ASSERT_INT_EQ(sqlite3_open(t.path, &db), SQLITE_OK);
    ASSERT_INT_EQ(
        sqlite3_exec(db,
                     "CREATE TABLE requests (id TEXT PRIMARY KEY, ts_ms INTEGER, endpoint TEXT,"
                     " category TEXT, confidence REAL, tier TEXT, source TEXT, prompt TEXT);"
                     "INSERT INTO requests VALUES"
                     " ('req_b', 2, '/v1/chat/completions', 'solve', 0.7, 'judgment',"
                     "  'classifier', 'Prove it.'),"
                     " ('req_a', 1, '/v1/chat/completions', 'answer', 0.4, 'labour',"
                     "  'classifier', 'Why?');"
                     "PRAGMA user_version = 6;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    snprintf(out, sizeof out, "%s/old.jsonl", t.dir);
    ASSERT_INT_EQ(allot_kinds_ledger_export(t.path, out, 0, &st, &err), 0);
    ASSERT_INT_EQ(st.written, 2);
    ASSERT((lines = read_lines(out, &n)) != NULL);
    ASSERT_INT_EQ(n, 2);
    ASSERT_STR_EQ(str_of(lines[0], "id"), "req_a"); /* by the category's confidence */
    ASSERT_DBL_NEAR(num_of(lines[0], "tier_confidence"), -1, 1e-9);
    ASSERT_STR_EQ(str_of(lines[1], "prompt"), "Prove it.");
    for (i = 0; i < n; i++)
        cJSON_Delete(lines[i]);
    free(lines);
    /* before version 4 there is no prompt column: no query fits */
    ASSERT_INT_EQ(sqlite3_open(t.path, &db), SQLITE_OK);
    ASSERT_INT_EQ(sqlite3_exec(db, "PRAGMA user_version = 3;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    allot_buf_reset(&err);
    ASSERT_INT_EQ(allot_kinds_ledger_export(t.path, out, 0, &st, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "schema version 3 keeps no prompts (allot keeps them from version 4");
    remove(out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}
