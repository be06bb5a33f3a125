/* test_ledger_v3.c: the ledger's schema version 3 (the quality columns and
 * the events table) and the upgrade of version 1 and 2 stores. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "test.h"
#include "tmpdir.h"

#define T0 1795946400000LL /* 2026-11-29 10:00 UTC */

/* The requests table of schema version 2: version 3's columns up to and
 * including explain (ledger.c's column table before MIGRATE_2_TO_3). */
#define V2_REQUESTS_COLUMNS                                                                        \
    "  id TEXT PRIMARY KEY NOT NULL,\n"                                                            \
    "  ts_ms INTEGER NOT NULL DEFAULT 0,\n"                                                        \
    "  endpoint TEXT NOT NULL DEFAULT '',\n"                                                       \
    "  requested_model TEXT NOT NULL DEFAULT '',\n"                                                \
    "  category TEXT NOT NULL DEFAULT '',\n"                                                       \
    "  confidence REAL NOT NULL DEFAULT 0,\n"                                                      \
    "  tier TEXT NOT NULL DEFAULT '',\n"                                                           \
    "  model TEXT NOT NULL DEFAULT '',\n"                                                          \
    "  provider TEXT NOT NULL DEFAULT '',\n"                                                       \
    "  source TEXT NOT NULL DEFAULT '',\n"                                                         \
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"                                                     \
    "  attempt_log TEXT NOT NULL DEFAULT '',\n"                                                    \
    "  status TEXT NOT NULL DEFAULT '',\n"                                                         \
    "  http_status INTEGER NOT NULL DEFAULT 0,\n"                                                  \
    "  error TEXT NOT NULL DEFAULT '',\n"                                                          \
    "  stream INTEGER NOT NULL DEFAULT 0,\n"                                                       \
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,\n"                                                \
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,\n"                                            \
    "  tokens_estimated INTEGER NOT NULL DEFAULT 0,\n"                                             \
    "  cost_usd REAL NOT NULL DEFAULT 0,\n"                                                        \
    "  counterfactual_usd REAL NOT NULL DEFAULT 0,\n"                                              \
    "  latency_ms REAL NOT NULL DEFAULT 0,\n"                                                      \
    "  ttft_ms REAL NOT NULL DEFAULT -1,\n"                                                        \
    "  reason TEXT NOT NULL DEFAULT ''"

#define EVENTS_V2                                                                                  \
    "CREATE TABLE events (\n"                                                                      \
    "  id INTEGER PRIMARY KEY,\n"                                                                  \
    "  ts_ms INTEGER NOT NULL DEFAULT 0,\n"                                                        \
    "  kind TEXT NOT NULL DEFAULT '',\n"                                                           \
    "  subject TEXT NOT NULL DEFAULT '',\n"                                                        \
    "  detail TEXT NOT NULL DEFAULT ''\n"                                                          \
    ");\n"                                                                                         \
    "CREATE INDEX events_ts_ms ON events(ts_ms);\n"

static const char v2_store[] =
    "CREATE TABLE requests (\n" V2_REQUESTS_COLUMNS ",\n  explain TEXT NOT NULL DEFAULT ''\n);\n"
    "CREATE INDEX requests_ts_ms ON requests(ts_ms);\n" EVENTS_V2
    "INSERT INTO requests (id, ts_ms, endpoint, category, tier, model, status, http_status,"
    " prompt_tokens, completion_tokens, cost_usd, counterfactual_usd, explain)"
    " VALUES ('req_v2', 1795946300000, '/v1/chat/completions', 'summarize', 'labour', 'local-b',"
    " 'ok', 200, 100, 20, 0.0001, 0.0025, 'summarize 0.93');\n"
    "PRAGMA user_version = 2;\n";

static const char v1_store[] =
    "CREATE TABLE requests (\n" V2_REQUESTS_COLUMNS "\n);\n"
    "CREATE INDEX requests_ts_ms ON requests(ts_ms);\n"
    "INSERT INTO requests (id, ts_ms, endpoint, category, tier, model, status, http_status,"
    " cost_usd, counterfactual_usd)"
    " VALUES ('req_v1', 1795946200000, '/v1/chat/completions', 'extract', 'labour', 'local-b',"
    " 'ok', 200, 0.0002, 0.003);\n"
    "PRAGMA user_version = 1;\n";

/* The columns version 3 added, as they are named in SQL. */
static const char *const v3_columns[] = {
    "check",
    "check_detail",
    "escalated",
    "escalation_usd",
    "escalation_prompt_tokens",
    "escalation_completion_tokens",
    "floor",
    "audit_of",
    "grade",
};

static int make_store(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc = sqlite3_open(path, &db);

    if (rc == SQLITE_OK && (rc = sqlite3_exec(db, sql, NULL, NULL, &msg)) != SQLITE_OK)
        fprintf(stderr, "  make_store: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static sqlite3 *open_reader(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -999;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static double query_dbl(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    double v = -999.0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The first column of the first row as text, into buf; "(none)" when there
 * is no row, "(error)" when the query fails. */
static const char *query_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc;

    snprintf(buf, cap, "(error)");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            snprintf(buf, cap, "%s",
                     sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
        else if (rc == SQLITE_DONE)
            snprintf(buf, cap, "(none)");
    }
    sqlite3_finalize(st);
    return buf;
}

static int has_column(sqlite3 *db, const char *table, const char *column)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'",
             table, column);
    return query_int(db, sql) == 1;
}

/* A v3 request row with every quality field set. */
static void fill_v3(struct allot_ledger_entry *e, const char *id, int64_t ts_ms)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->ts_ms = ts_ms;
    snprintf(e->endpoint, sizeof e->endpoint, "/v1/chat/completions");
    snprintf(e->category, sizeof e->category, "extract");
    snprintf(e->tier, sizeof e->tier, "judgment");
    snprintf(e->model, sizeof e->model, "frontier-a");
    snprintf(e->status, sizeof e->status, "ok");
    e->http_status = 200;
    e->prompt_tokens = 900;
    e->completion_tokens = 300;
    e->cost_usd = 0.0123;
    e->counterfactual_usd = 0.0120;
    e->ttft_ms = -1;
    e->grade = -1;
    snprintf(e->check, sizeof e->check, "pass");
    snprintf(e->check_detail, sizeof e->check_detail,
             "json: the answer is not JSON: unexpected character 'H' at line 1 column 1");
    snprintf(e->escalated, sizeof e->escalated, "json");
    e->escalation_usd = 0.0003;
    e->escalation_prompt_tokens = 880;
    e->escalation_completion_tokens = 42;
    snprintf(e->floor, sizeof e->floor, "promoted");
}

/* Open path, append e (when not NULL), close. */
static int write_one(const char *path, const struct allot_ledger_entry *e, struct allot_buf *err)
{
    struct allot_ledger *l = NULL;
    int rc = allot_ledger_open(path, 10, &l, err);

    if (rc)
        return rc;
    if (e)
        rc = allot_ledger_append(l, e);
    allot_ledger_close(l);
    return rc;
}

/* The checks of the tests below run on an open reader in a function of
 * their own, so that a failing ASSERT returns to a caller that still
 * closes the database and removes the directory. */
static void check_new_store(sqlite3 *db, int *allot_test_failed_)
{
    char buf[256];
    size_t i;

    ASSERT_INT_EQ(query_int(db, "PRAGMA user_version"), 7);
    for (i = 0; i < sizeof v3_columns / sizeof v3_columns[0]; i++)
        if (!has_column(db, "requests", v3_columns[i]))
            TEST_FAIL_("no column %s", v3_columns[i]);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM pragma_table_info('requests')"), 40);
    ASSERT_STR_EQ(query_text(db,
                             "SELECT dflt_value FROM pragma_table_info('requests') WHERE "
                             "name = 'grade'",
                             buf, sizeof buf),
                  "-1");
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                "name = 'requests_audit_of'"),
                  1);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 2);

    ASSERT_STR_EQ(
        query_text(db, "SELECT \"check\" FROM requests WHERE id = 'req_q'", buf, sizeof buf),
        "pass");
    ASSERT_STR_EQ(
        query_text(db, "SELECT check_detail FROM requests WHERE id = 'req_q'", buf, sizeof buf),
        "json: the answer is not JSON: unexpected character 'H' at line 1 column 1");
    ASSERT_STR_EQ(
        query_text(db, "SELECT escalated FROM requests WHERE id = 'req_q'", buf, sizeof buf),
        "json");
    ASSERT(query_dbl(db, "SELECT escalation_usd FROM requests WHERE id = 'req_q'") == 0.0003);
    ASSERT_INT_EQ(query_int(db, "SELECT escalation_prompt_tokens FROM requests WHERE id = 'req_q'"),
                  880);
    ASSERT_INT_EQ(
        query_int(db, "SELECT escalation_completion_tokens FROM requests WHERE id = 'req_q'"), 42);
    ASSERT_STR_EQ(query_text(db, "SELECT floor FROM requests WHERE id = 'req_q'", buf, sizeof buf),
                  "promoted");
    ASSERT_STR_EQ(
        query_text(db, "SELECT audit_of FROM requests WHERE id = 'req_q'", buf, sizeof buf), "");
    ASSERT(query_dbl(db, "SELECT grade FROM requests WHERE id = 'req_q'") == -1.0);

    ASSERT_STR_EQ(
        query_text(db, "SELECT endpoint FROM requests WHERE id = 'audit_1'", buf, sizeof buf),
        "audit");
    ASSERT_STR_EQ(
        query_text(db, "SELECT audit_of FROM requests WHERE id = 'audit_1'", buf, sizeof buf),
        "req_q");
    ASSERT(query_dbl(db, "SELECT grade FROM requests WHERE id = 'audit_1'") == 0.0);
    ASSERT_STR_EQ(
        query_text(db, "SELECT \"check\" FROM requests WHERE id = 'audit_1'", buf, sizeof buf), "");
}

TEST(ledger_v3_new_store_has_the_quality_columns)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger_entry e;
    sqlite3 *db = NULL;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-v3"), 0);
    allot_buf_init(&err, 1024);
    fill_v3(&e, "req_q", T0);
    rc = write_one(t.path, &e, &err);
    /* an audit row: endpoint "audit", the request graded, the grade */
    fill_v3(&e, "audit_1", T0 + 1);
    snprintf(e.endpoint, sizeof e.endpoint, "audit");
    snprintf(e.audit_of, sizeof e.audit_of, "req_q");
    e.grade = 0;
    e.check[0] = e.check_detail[0] = e.escalated[0] = e.floor[0] = '\0';
    e.escalation_usd = 0;
    e.escalation_prompt_tokens = e.escalation_completion_tokens = 0;
    if (rc == 0)
        rc = write_one(t.path, &e, &err);
    if (rc == 0)
        db = open_reader(t.path);
    allot_buf_release(&err);
    if (db)
        check_new_store(db, allot_test_failed_);
    sqlite3_close(db);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(db != NULL);
}

static void check_events(sqlite3 *db, int *allot_test_failed_)
{
    char buf[1024];

    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 0);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM events"), 4);
    ASSERT_INT_EQ(query_int(db, "SELECT ts_ms FROM events WHERE kind = 'promote'"), T0);
    ASSERT_STR_EQ(
        query_text(db, "SELECT subject FROM events WHERE kind = 'promote'", buf, sizeof buf),
        "summarize");
    ASSERT_STR_EQ(
        query_text(db, "SELECT detail FROM events WHERE kind = 'promote'", buf, sizeof buf),
        "pass rate 0.61 below 0.9 over 40");
    ASSERT_STR_EQ(
        query_text(db, "SELECT detail FROM events WHERE kind = 'demote'", buf, sizeof buf), "");
    /* no kind: "event"; subject cut to 15 bytes, detail to 511, kind to 15 */
    ASSERT_STR_EQ(
        query_text(db, "SELECT kind FROM events WHERE ts_ms = 1795946400009", buf, sizeof buf),
        "event");
    ASSERT_STR_EQ(
        query_text(db, "SELECT subject FROM events WHERE ts_ms = 1795946400009", buf, sizeof buf),
        "a-subject-that-");
    ASSERT_INT_EQ(query_int(db, "SELECT length(detail) FROM events WHERE ts_ms = 1795946400009"),
                  511);
    ASSERT_STR_EQ(
        query_text(db, "SELECT kind FROM events WHERE ts_ms = 1795946400010", buf, sizeof buf),
        "a-kind-that-is-");
}

TEST(ledger_v3_events_go_to_the_events_table)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    sqlite3 *db = NULL;
    char detail[700];
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-v3"), 0);
    allot_buf_init(&err, 1024);
    rc = allot_ledger_open(t.path, 10, &l, &err);
    allot_buf_release(&err);
    if (rc == 0) {
        memset(detail, 'd', sizeof detail - 1);
        detail[sizeof detail - 1] = '\0';
        rc |= allot_ledger_event(l, T0, "promote", "summarize", "pass rate 0.61 below 0.9 over 40");
        rc |= allot_ledger_event(l, T0 + 5, "demote", "summarize", NULL);
        rc |= allot_ledger_event(l, T0 + 9, NULL, "a-subject-that-is-far-too-long", detail);
        rc |= allot_ledger_event(l, T0 + 10, "a-kind-that-is-far-too-long", "", "");
        allot_ledger_close(l);
    }
    if (rc == 0)
        db = open_reader(t.path);
    if (db)
        check_events(db, allot_test_failed_);
    sqlite3_close(db);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(db != NULL);
}

/* After a hand-made store of an older version was opened and one v3 row
 * appended: what the upgrade left. old_id is the row the old store held. */
static void check_upgraded(sqlite3 *db, const char *old_id, int had_explain,
                           int *allot_test_failed_)
{
    char buf[256], q[512];
    size_t i;

    ASSERT_INT_EQ(query_int(db, "PRAGMA user_version"), 7);
    /* made by hand with SQLite's default page size, which it keeps */
    ASSERT_INT_EQ(query_int(db, "PRAGMA page_size"), 4096);
    for (i = 0; i < sizeof v3_columns / sizeof v3_columns[0]; i++)
        if (!has_column(db, "requests", v3_columns[i]))
            TEST_FAIL_("no column %s", v3_columns[i]);
    ASSERT(has_column(db, "requests", "explain"));
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM pragma_table_info('requests')"), 40);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM pragma_table_info('events')"), 5);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                "name = 'requests_audit_of'"),
                  1);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 2);
    /* the old row, with the defaults of the new columns */
    snprintf(q, sizeof q,
             "SELECT count(*) FROM requests WHERE id = '%s' AND \"check\" = '' AND "
             "check_detail = '' AND escalated = '' AND escalation_usd = 0 AND "
             "escalation_prompt_tokens = 0 AND escalation_completion_tokens = 0 AND "
             "floor = '' AND audit_of = '' AND grade = -1 AND status = 'ok'",
             old_id);
    ASSERT_INT_EQ(query_int(db, q), 1);
    snprintf(q, sizeof q, "SELECT explain FROM requests WHERE id = '%s'", old_id);
    ASSERT_STR_EQ(query_text(db, q, buf, sizeof buf), had_explain ? "summarize 0.93" : "");
    /* the new row, with its quality fields */
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests WHERE id = 'req_new' AND "
                                "\"check\" = 'pass' AND escalated = 'json' AND "
                                "escalation_prompt_tokens = 880 AND floor = 'promoted' AND "
                                "grade = -1"),
                  1);
}

static void upgrade_test(const char *sql, const char *old_id, int had_explain,
                         int *allot_test_failed_)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger_entry e;
    sqlite3 *db = NULL;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-up"), 0);
    allot_buf_init(&err, 1024);
    rc = make_store(t.path, sql);
    fill_v3(&e, "req_new", T0);
    if (rc == 0 && (rc = write_one(t.path, &e, &err)))
        fprintf(stderr, "  open: %s\n", allot_buf_cstr(&err));
    allot_buf_release(&err);
    if (rc == 0)
        db = open_reader(t.path);
    if (db)
        check_upgraded(db, old_id, had_explain, allot_test_failed_);
    sqlite3_close(db);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(db != NULL);
}

TEST(ledger_v3_upgrades_a_version_2_store)
{
    upgrade_test(v2_store, "req_v2", 1, allot_test_failed_);
}

TEST(ledger_v3_upgrades_a_version_1_store)
{
    upgrade_test(v1_store, "req_v1", 0, allot_test_failed_);
}

/* An upgrade adds the columns a store lacks, so a store that already has
 * some of them (an upgrade interrupted half-way, or a column added by hand)
 * is finished, not refused. */
TEST(ledger_v3_upgrade_finishes_a_half_upgraded_store)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    sqlite3 *db = NULL;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-up"), 0);
    allot_buf_init(&err, 1024);
    /* a v2 store that already has one of the version-3 columns */
    rc = make_store(t.path, "CREATE TABLE requests (\n" V2_REQUESTS_COLUMNS
                            ",\n  explain TEXT NOT NULL DEFAULT '',\n"
                            "  floor TEXT NOT NULL DEFAULT ''\n);\n"
                            "PRAGMA user_version = 2;\n");
    if (rc == 0)
        rc = allot_ledger_open(t.path, 10, &l, &err) == 0 ? 0 : -1;
    if (l)
        allot_ledger_close(l);
    allot_buf_release(&err);
    if (rc == 0 && (db = open_reader(t.path))) {
        rc = query_int(db, "PRAGMA user_version") == 7 &&
                     query_int(db, "SELECT count(*) FROM pragma_table_info('requests') WHERE "
                                   "name IN ('check', 'floor', 'grade', 'audit_of')") == 4
                 ? 0
                 : -3;
        sqlite3_close(db);
    }
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
}

TEST(ledger_v3_refuses_a_newer_store)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-v3"), 0);
    allot_buf_init(&err, 1024);
    /* far past any version this allot writes: opening must fail (a store
     * it would open would leave rc 0, so rc is set apart from the open's) */
    rc = make_store(t.path, "PRAGMA user_version = 999;");
    if (rc == 0)
        rc = allot_ledger_open(t.path, 10, &l, &err) == ALLOT_ESTORE ? 0 : -1;
    if (l)
        allot_ledger_close(l);
    if (rc == 0 && !strstr(allot_buf_cstr(&err), "schema version 999 is newer than this allot "
                                                 "understands ("))
        rc = -2;
    if (rc)
        fprintf(stderr, "  rc %d: %s\n", rc, allot_buf_cstr(&err));
    allot_buf_release(&err);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
}
