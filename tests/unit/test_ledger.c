#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "allot/buf.h"
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "ledger/internal.h"
#include "test.h"
#include "tmpdir.h"

/* ledger.c's hook: start closing without waiting for the writer. */
void allot__ledger_begin_close(struct allot_ledger *l);

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void fill(struct allot_ledger_entry *e, const char *id, int64_t ts_ms)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->ts_ms = ts_ms;
    snprintf(e->endpoint, sizeof e->endpoint, "/v1/chat/completions");
    snprintf(e->requested_model, sizeof e->requested_model, "auto");
    snprintf(e->category, sizeof e->category, "summarize");
    e->confidence = 0.875;
    snprintf(e->tier, sizeof e->tier, "labour");
    snprintf(e->model, sizeof e->model, "local-small");
    snprintf(e->provider, sizeof e->provider, "local");
    snprintf(e->source, sizeof e->source, "classifier");
    e->attempts = 2;
    snprintf(e->attempt_log, sizeof e->attempt_log, "local-tiny:503,local-small:ok");
    snprintf(e->status, sizeof e->status, "ok");
    e->http_status = 200;
    e->stream = 1;
    e->prompt_tokens = 1234;
    e->completion_tokens = 567;
    e->tokens_estimated = 1;
    e->cost_usd = 0.0001234;
    e->counterfactual_usd = 0.0146;
    e->latency_ms = 812.5;
    e->ttft_ms = -1;
    snprintf(e->reason, sizeof e->reason, "classifier: summarize 0.88 \"quoted\" \xc3\xa9");
}

static sqlite3 *open_reader(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t count_id(sqlite3 *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM requests WHERE id = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

struct appender {
    struct allot_ledger *l;
    int thread_no, n, errors;
};

static void *append_rows(void *arg)
{
    struct appender *a = arg;
    struct allot_ledger_entry e;
    char id[40];
    int i;
    for (i = 0; i < a->n; i++) {
        snprintf(id, sizeof id, "req_%d_%d", a->thread_no, i);
        fill(&e, id, 1795946400000LL + a->thread_no * 100000 + i);
        if (allot_ledger_append(a->l, &e) != 0)
            a->errors++;
    }
    return NULL;
}

TEST(ledger_round_trip_from_two_threads)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct appender a[2] = {{NULL, 0, 500, 0}, {NULL, 1, 500, 0}};
    pthread_t th[2];
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    char full_reason[256];
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    for (i = 0; i < 2; i++) {
        a[i].l = l;
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, append_rows, &a[i]), 0);
    }
    for (i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ASSERT_INT_EQ(a[0].errors + a[1].errors, 0);
    {
        /* a field filled to the brim without a NUL is stored cut, not overread */
        struct allot_ledger_entry e;
        fill(&e, "req_full", 1795946400000LL);
        memset(e.reason, 'r', sizeof e.reason);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    allot_ledger_close(l); /* a graceful close writes every queued row */

    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 1001);
    ASSERT_INT_EQ(query_int(db, "SELECT count(DISTINCT id) FROM requests"), 1001);
    ASSERT_INT_EQ(query_int(db, "PRAGMA user_version"), 7);
    ASSERT_INT_EQ(query_int(db, "PRAGMA page_size"), 16384); /* a file allot made */
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM pragma_table_info('requests')"), 40);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                "name = 'requests_ts_ms'"),
                  1);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM pragma_table_info('events')"), 5);
    ASSERT_INT_EQ(query_int(db, "SELECT length(reason) FROM requests WHERE id = 'req_full'"), 256);

    ASSERT_INT_EQ(sqlite3_prepare_v2(db,
                                     "SELECT id, ts_ms, endpoint, requested_model, category, "
                                     "confidence, tier, model, provider, source, attempts, "
                                     "attempt_log, status, http_status, error, stream, "
                                     "prompt_tokens, completion_tokens, tokens_estimated, "
                                     "cost_usd, counterfactual_usd, latency_ms, ttft_ms, reason "
                                     "FROM requests WHERE id = 'req_1_42'",
                                     -1, &st, NULL),
                  SQLITE_OK);
    ASSERT_INT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "req_1_42");
    ASSERT_INT_EQ(sqlite3_column_int64(st, 1), 1795946400000LL + 100000 + 42);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 2), "/v1/chat/completions");
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 3), "auto");
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 4), "summarize");
    ASSERT(sqlite3_column_double(st, 5) == 0.875);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 6), "labour");
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 7), "local-small");
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 8), "local");
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 9), "classifier");
    ASSERT_INT_EQ(sqlite3_column_int(st, 10), 2);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 11), "local-tiny:503,local-small:ok");
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 12), "ok");
    ASSERT_INT_EQ(sqlite3_column_int(st, 13), 200);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 14), "");
    ASSERT_INT_EQ(sqlite3_column_int(st, 15), 1);
    ASSERT_INT_EQ(sqlite3_column_int64(st, 16), 1234);
    ASSERT_INT_EQ(sqlite3_column_int64(st, 17), 567);
    ASSERT_INT_EQ(sqlite3_column_int(st, 18), 1);
    ASSERT(sqlite3_column_double(st, 19) == 0.0001234);
    ASSERT(sqlite3_column_double(st, 20) == 0.0146);
    ASSERT(sqlite3_column_double(st, 21) == 812.5);
    ASSERT(sqlite3_column_double(st, 22) == -1.0);
    snprintf(full_reason, sizeof full_reason, "classifier: summarize 0.88 \"quoted\" \xc3\xa9");
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 23), full_reason);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* reopening an existing ledger keeps its rows */
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    allot_ledger_close(l);
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 1001);
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(ledger_commits_within_the_window_without_close)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    uint64_t start, seen = 0;
    sqlite3 *db;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 100, &l, &err), 0);
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 0);

    fill(&e, "req_visible", allot_clock_wall_ms());
    start = allot_clock_mono_us();
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    while (allot_clock_mono_us() - start < 1000000u) {
        if (count_id(db, "req_visible") == 1) {
            seen = allot_clock_mono_us();
            break;
        }
        sleep_ms(5);
    }
    ASSERT(seen != 0);
    ASSERT((seen - start) / 1000u <= 300u);
    /* the writer counts the row once its COMMIT has returned, which can be
     * a moment after a reader already sees it */
    start = allot_clock_mono_us();
    while (allot_ledger_rows_written(l) == 0 && allot_clock_mono_us() - start < 1000000u)
        sleep_ms(1);
    ASSERT_INT_EQ(allot_ledger_rows_written(l), 1);
    ASSERT_INT_EQ(allot_ledger_rows_failed(l), 0);
    sqlite3_close(db);
    allot_ledger_close(l);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(ledger_append_after_close_began_is_eclosed)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    sqlite3 *db;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 200, &l, &err), 0);
    fill(&e, "req_before", 1);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    allot__ledger_begin_close(l);
    fill(&e, "req_after", 2);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), ALLOT_ECLOSED);
    allot_ledger_close(l);

    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(count_id(db, "req_before"), 1);
    ASSERT_INT_EQ(count_id(db, "req_after"), 0);
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(ledger_open_errors_name_the_file_and_cause)
{
    struct tmpdir t;
    struct allot_buf err, want;
    struct allot_ledger *l = NULL;
    char path[256];
    FILE *f;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    allot_buf_init(&want, 1024);

    snprintf(path, sizeof path, "%s/no/such/dir/x.db", t.dir);
    ASSERT_INT_EQ(allot_ledger_open(path, 100, &l, &err), ALLOT_ESTORE);
    ASSERT(l == NULL);
    allot_buf_addf(&want, "ledger '%s': unable to open database file", path);
    ASSERT_STR_EQ(allot_buf_cstr(&err), allot_buf_cstr(&want));

    /* a file that is not SQLite is refused, not overwritten */
    allot_buf_reset(&err);
    allot_buf_reset(&want);
    ASSERT((f = fopen(t.path, "w")) != NULL);
    fputs("this is a text file, not a database, and it is long enough to have a header\n", f);
    fclose(f);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 100, &l, &err), ALLOT_ESTORE);
    ASSERT(l == NULL);
    allot_buf_addf(&want, "ledger '%s': file is not a database", t.path);
    ASSERT_STR_EQ(allot_buf_cstr(&err), allot_buf_cstr(&want));

    /* a ledger written by a newer allot is not touched */
    allot_buf_reset(&err);
    ASSERT_INT_EQ(unlink(t.path), 0);
    {
        sqlite3 *db = NULL;
        ASSERT_INT_EQ(sqlite3_open(t.path, &db), SQLITE_OK);
        ASSERT_INT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }
    ASSERT_INT_EQ(allot_ledger_open(t.path, 100, &l, &err), ALLOT_ESTORE);
    ASSERT(l == NULL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "schema version 999 is newer than this allot");

    allot_buf_release(&err);
    allot_buf_release(&want);
    tmpdir_remove(&t);
}

/* Wait until the writer has dealt with n rows, for up to 3 s. */
static int wait_done(struct allot_ledger *l, uint64_t n)
{
    uint64_t start = allot_clock_mono_us();
    while (allot_clock_mono_us() - start < 3000000u) {
        if (allot_ledger_rows_written(l) + allot_ledger_rows_failed(l) >= n)
            return 0;
        sleep_ms(5);
    }
    return -1;
}

/* A row whose id the store already has (a replay of the pending file after
 * a kill that came just after the commit) is left as it is, in a batch of
 * its own or inside a statement of many rows, and costs no other row. */
TEST(ledger_a_row_already_stored_is_left_as_it_is)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    char id[40];
    sqlite3 *db;
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 5, &l, &err), 0);
    fill(&e, "req_first", 1000);
    e.prompt_tokens = 1;
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    ASSERT_INT_EQ(wait_done(l, 1), 0);
    for (i = 0; i < 40; i++) { /* one batch: statements of 32 and 8 rows */
        snprintf(id, sizeof id, i == 20 ? "req_first" : "req_more_%d", i);
        fill(&e, id, 2000 + i);
        e.prompt_tokens = 2;
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    ASSERT_INT_EQ(wait_done(l, 41), 0);
    ASSERT_INT_EQ(allot_ledger_rows_failed(l), 0); /* not an error: it is stored */
    allot_ledger_close(l);
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 40);
    ASSERT_INT_EQ(query_int(db, "SELECT prompt_tokens FROM requests WHERE id = 'req_first'"), 1);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests WHERE prompt_tokens = 2"), 39);
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* The writer in idle time (ledger.c) runs at SCHED_IDLE and commits when
 * the machine has CPU to spare; when it has none (the idle writer held
 * here), the writer at normal priority commits the rows LAG_MS late. */
TEST(ledger_writes_in_idle_time_and_catches_up_without_it)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct sched_param sp;
    pthread_t idle;
    uint64_t start, took_ms, n = 0;
    char id[40];
    sqlite3 *db;
    int policy = -1, i;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 20, &l, &err), 0);
    ASSERT_INT_EQ(allot__ledger_idle_writer(l, &idle), 1);
    ASSERT_INT_EQ(pthread_getschedparam(idle, &policy, &sp), 0);
    ASSERT_INT_EQ(policy, SCHED_IDLE);

    /* no idle CPU: not at commit_ms (20), but by commit_ms + LAG_MS (120) */
    allot__ledger_hold_idle(l, 1);
    start = allot_clock_mono_us();
    for (i = 0; i < 10; i++, n++) {
        snprintf(id, sizeof id, "held_%d", i);
        fill(&e, id, 1000 + i);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    ASSERT_INT_EQ(wait_done(l, n), 0);
    took_ms = (allot_clock_mono_us() - start) / 1000u;
    ASSERT(took_ms >= 110u);
    ASSERT_INT_EQ(allot_ledger_rows_written(l), 10);
    ASSERT_INT_EQ(allot_ledger_rows_written_idle(l), 0);

    /* idle CPU (a 2-core machine has some within seconds): the idle writer */
    allot__ledger_hold_idle(l, 0);
    start = allot_clock_mono_us();
    while (allot_ledger_rows_written_idle(l) == 0 && allot_clock_mono_us() - start < 10000000u) {
        snprintf(id, sizeof id, "free_%llu", (unsigned long long)n);
        fill(&e, id, 2000 + (int64_t)n);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
        ASSERT_INT_EQ(wait_done(l, ++n), 0);
    }
    ASSERT(allot_ledger_rows_written_idle(l) > 0);
    ASSERT(allot_ledger_rows_written_idle(l) <= allot_ledger_rows_written(l) - 10);
    allot_ledger_close(l);
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), (int64_t)n);
    sqlite3_close(db);

    /* without a pending file there is no idle writer: a row waiting for
     * idle CPU would not be safe from a kill */
    ASSERT_INT_EQ(allot_ledger_open_with(t.path, 20, "none", &l, &err), 0);
    ASSERT_INT_EQ(allot__ledger_idle_writer(l, NULL), 0);
    fill(&e, "alone", 3000);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    ASSERT_INT_EQ(wait_done(l, 1), 0);
    ASSERT_INT_EQ(allot_ledger_rows_written_idle(l), 0);
    allot_ledger_close(l);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* An idle writer that gets no CPU in the middle of a batch (holding the
 * store) never makes an append wait: it takes no lock an appender takes.
 * The rows queue, and are all committed once it goes on. */
TEST(ledger_append_never_waits_for_a_stalled_idle_writer)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    uint64_t start, t0, slowest = 0;
    char id[40];
    sqlite3 *db;
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 5, &l, &err), 0);
    ASSERT_INT_EQ(allot__ledger_idle_writer(l, NULL), 1);
    allot__ledger_stall_idle(l, 1);
    start = allot_clock_mono_us();
    for (i = 0; i < 3000; i++) { /* ~400 ms: the writer gives up on the idle one */
        snprintf(id, sizeof id, "stall_%d", i);
        fill(&e, id, 5000 + i);
        t0 = allot_clock_mono_us();
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
        if (allot_clock_mono_us() - t0 > slowest)
            slowest = allot_clock_mono_us() - t0;
        if (i % 10 == 9)
            sleep_ms(1);
    }
    ASSERT(allot_clock_mono_us() - start >= 300000u);
    ASSERT(slowest < 50000u); /* no append waited for the stalled writer */
    /* the first batch is the stalled writer's; no later one committed
     * before it (batches commit in order) */
    ASSERT_INT_EQ(allot_ledger_rows_written(l), 0);
    allot__ledger_stall_idle(l, 0);
    ASSERT_INT_EQ(wait_done(l, 3000), 0);
    ASSERT_INT_EQ(allot_ledger_rows_failed(l), 0);
    allot_ledger_close(l);
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(query_int(db, "SELECT count(DISTINCT id) FROM requests"), 3000);
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* Both writers at once, taking turns at random: every row is committed
 * once, and close leaves nothing in the pending file to recover. */
TEST(ledger_two_writers_lose_and_repeat_no_row)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct appender a[2] = {{NULL, 0, 3000, 0}, {NULL, 1, 3000, 0}};
    pthread_t th[2];
    size_t recovered = 99;
    sqlite3 *db;
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 1, &l, &err), 0);
    ASSERT_INT_EQ(allot__ledger_idle_writer(l, NULL), 1);
    for (i = 0; i < 2; i++) {
        a[i].l = l;
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, append_rows, &a[i]), 0);
    }
    for (i = 0; i < 40; i++) { /* hold and release while rows come */
        allot__ledger_hold_idle(l, i % 2);
        sleep_ms(3);
    }
    for (i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ASSERT_INT_EQ(a[0].errors + a[1].errors, 0);
    ASSERT_INT_EQ(allot_ledger_close(l), 0);
    ASSERT_INT_EQ(allot_ledger_recover(t.path, NULL, &recovered, &err), 0);
    ASSERT_INT_EQ((int64_t)recovered, 0);
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 6000);
    ASSERT_INT_EQ(query_int(db, "SELECT count(DISTINCT id) FROM requests"), 6000);
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(ledger_write_errors_are_counted_and_writing_goes_on)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    sqlite3 *db;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 20, &l, &err), 0);
    ASSERT((db = open_reader(t.path)) != NULL);

    /* A row the store refuses (a statement error) loses only that row. */
    ASSERT_INT_EQ(sqlite3_exec(db,
                               "CREATE TRIGGER refuse BEFORE INSERT ON requests WHEN "
                               "NEW.id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END",
                               NULL, NULL, NULL),
                  SQLITE_OK);
    fill(&e, "good1", 1);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    fill(&e, "bad", 2);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    fill(&e, "good2", 3);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    ASSERT_INT_EQ(wait_done(l, 3), 0);
    ASSERT_INT_EQ(allot_ledger_rows_written(l), 2);
    ASSERT_INT_EQ(allot_ledger_rows_failed(l), 1);
    ASSERT_INT_EQ(count_id(db, "good1"), 1);
    ASSERT_INT_EQ(count_id(db, "good2"), 1);
    ASSERT_INT_EQ(count_id(db, "bad"), 0);

    /* An error that ends the whole transaction (as SQLITE_FULL does)
     * loses the rows before it in the batch, but not the ones after. */
    ASSERT_INT_EQ(sqlite3_exec(db,
                               "DROP TRIGGER refuse; CREATE TRIGGER full BEFORE INSERT ON requests "
                               "WHEN NEW.id = 'bad2' BEGIN SELECT RAISE(ROLLBACK, 'full'); END",
                               NULL, NULL, NULL),
                  SQLITE_OK);
    fill(&e, "x1", 4);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    fill(&e, "bad2", 5);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    fill(&e, "x2", 6);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    ASSERT_INT_EQ(wait_done(l, 6), 0);
    ASSERT_INT_EQ(count_id(db, "bad2"), 0);
    ASSERT_INT_EQ(count_id(db, "x2"), 1);
    /* x1 is lost only when it shared bad2's batch */
    ASSERT_INT_EQ(allot_ledger_rows_written(l), 3 + count_id(db, "x1"));
    ASSERT_INT_EQ(allot_ledger_rows_written(l) + allot_ledger_rows_failed(l), 6);

    ASSERT_INT_EQ(sqlite3_exec(db, "DROP TRIGGER full", NULL, NULL, NULL), SQLITE_OK);
    fill(&e, "later", 7);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    ASSERT_INT_EQ(wait_done(l, 7), 0);
    ASSERT_INT_EQ(count_id(db, "later"), 1);
    sqlite3_close(db);
    allot_ledger_close(l);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* Rows go in MANY_ROWS to a statement (ledger_sqlite.c): a row the store
 * refuses inside such a run still loses only itself, an event in a run
 * keeps its place, and a run of rows is counted as rows. */
TEST(ledger_rows_written_many_to_a_statement_fail_one_by_one)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    sqlite3 *db;
    char id[32];
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(sqlite3_exec(db,
                               "CREATE TRIGGER refuse BEFORE INSERT ON requests WHEN "
                               "NEW.id = 'run_37' BEGIN SELECT RAISE(ABORT, 'refused'); END",
                               NULL, NULL, NULL),
                  SQLITE_OK);
    for (i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "run_%d", i);
        fill(&e, id, 1000 + i);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
        if (i == 50)
            ASSERT_INT_EQ(allot_ledger_event(l, 1050, "promotion", "extract", "to judgment"), 0);
    }
    ASSERT_INT_EQ(wait_done(l, 101), 0);
    ASSERT_INT_EQ(allot_ledger_rows_written(l), 100); /* the event is a row too */
    ASSERT_INT_EQ(allot_ledger_rows_failed(l), 1);
    ASSERT_INT_EQ(count_id(db, "run_37"), 0);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests WHERE id LIKE 'run_%'"), 99);
    ASSERT_INT_EQ(query_int(db, "SELECT count(DISTINCT ts_ms) FROM requests"), 99);
    ASSERT_INT_EQ(query_int(db, "SELECT sum(prompt_tokens) FROM requests"), 99 * 1234);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM events WHERE kind = 'promotion'"), 1);
    sqlite3_close(db);
    allot_ledger_close(l);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(ledger_queue_is_capped_while_the_store_is_locked)
{
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    sqlite3 *db;
    int64_t accepted = 0;
    int rc = 0, i;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 1, &l, &err), 0);
    ASSERT((db = open_reader(t.path)) != NULL);
    /* Another process holds the write lock: the writer blocks in its
     * busy wait and rows pile up in the queue until the cap. */
    ASSERT_INT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    fill(&e, "", 1);
    /* at most one blocked batch and a full queue: 2 * 65,536 rows */
    for (i = 0; i <= 2 * 65536 && rc == 0; i++) {
        snprintf(e.id, sizeof e.id, "req_%d", i);
        if ((rc = allot_ledger_append(l, &e)) == 0)
            accepted++;
    }
    ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    /* the queue holds 65,536; the writer's blocked batch holds the rest */
    ASSERT(accepted >= 65536 && accepted <= 2 * 65536);
    ASSERT_INT_EQ(allot_ledger_rows_written(l) + allot_ledger_rows_failed(l), 0);
    ASSERT_INT_EQ(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    allot_ledger_close(l);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), accepted);
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(ledger_upgrades_a_version_1_store_in_place)
{
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_buf err;
    sqlite3 *db = NULL;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-v1"), 0);
    allot_buf_init(&err, 1024);
    /* a store as allot 0.1 (schema 1) left it: this schema without the
     * explain column, and one row */
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    fill(&e, "req_old", 1);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    allot_ledger_close(l);
    l = NULL;
    ASSERT_INT_EQ(sqlite3_open(t.path, &db), SQLITE_OK);
    ASSERT_INT_EQ(sqlite3_exec(db,
                               "DROP INDEX requests_audit_of;"
                               "ALTER TABLE requests DROP COLUMN explain;"
                               "ALTER TABLE requests DROP COLUMN \"check\";"
                               "ALTER TABLE requests DROP COLUMN check_detail;"
                               "ALTER TABLE requests DROP COLUMN escalated;"
                               "ALTER TABLE requests DROP COLUMN escalation_usd;"
                               "ALTER TABLE requests DROP COLUMN escalation_prompt_tokens;"
                               "ALTER TABLE requests DROP COLUMN escalation_completion_tokens;"
                               "ALTER TABLE requests DROP COLUMN floor;"
                               "ALTER TABLE requests DROP COLUMN audit_of;"
                               "ALTER TABLE requests DROP COLUMN grade;"
                               "PRAGMA user_version = 1;",
                               NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_close(db);
    db = NULL;
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    fill(&e, "req_new", 2);
    snprintf(e.explain, sizeof e.explain, "summarize 0.93 (next synthesize 0.04)");
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    allot_ledger_close(l);
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(query_int(db, "PRAGMA user_version"), 7);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests"), 2);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests WHERE id = 'req_old' AND explain "
                                "= ''"),
                  1);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests WHERE id = 'req_new' AND explain "
                                "LIKE 'summarize 0.93%'"),
                  1);
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* store.keep_prompts: the prompt column takes the heap text the ledger
 * owns (schema v4); rows without one store "". */
TEST(ledger_keeps_a_prompt_and_frees_it)
{
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_buf err;
    sqlite3 *db = NULL;

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-prompt"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 10, &l, &err), 0);
    fill(&e, "req_p1", 1);
    e.prompt = strdup("Be brief.\n\nSummarise the \"notes\" below.");
    ASSERT(e.prompt != NULL);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0); /* the ledger owns it now */
    fill(&e, "req_p2", 2);
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    allot_ledger_close(l); /* LeakSanitizer: the prompt was freed */
    ASSERT((db = open_reader(t.path)) != NULL);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM requests WHERE id = 'req_p1' AND prompt = "
                                "'Be brief.' || char(10) || char(10) || "
                                "'Summarise the \"notes\" below.'"),
                  1);
    ASSERT_INT_EQ(
        query_int(db, "SELECT count(*) FROM requests WHERE id = 'req_p2' AND prompt = ''"), 1);
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* allot_ledger_entry_explain(): the writer stores the text
 * allot_classification_explain() gives, override and all. */
TEST(ledger_formats_explain_on_the_writer)
{
    static const char *const ids[] = {"req_plain", "req_override", "req_long"};
    char long_rule[200], want[3][512];
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_classification c;
    struct allot_buf err;
    sqlite3 *db = NULL;
    size_t i;

    memset(&c, 0, sizeof c);
    c.category = ALLOT_CAT_SUMMARIZE;
    c.confidence = 0.875;
    c.runner_up = ALLOT_CAT_SYNTHESIZE;
    c.runner_up_confidence = 0.0625;
    snprintf(c.pro[0].name, sizeof c.pro[0].name, "summarise");
    c.pro[0].weight = 2.125f;
    snprintf(c.pro[1].name, sizeof c.pro[1].name, "signal: tools defined");
    c.pro[1].weight = 0.5f;
    c.n_pro = 2;
    snprintf(c.con[0].name, sizeof c.con[0].name, "which of");
    c.con[0].weight = -1.25f;
    c.n_con = 1;
    memset(long_rule, 'r', sizeof long_rule - 1);
    long_rule[sizeof long_rule - 1] = '\0';

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-explain"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    for (i = 0; i < 3; i++) {
        c.override = i == 0 ? NULL : i == 1 ? "no instruction text" : long_rule;
        allot_classification_explain(&c, want[i], sizeof want[i]);
        fill(&e, ids[i], (int64_t)i + 1);
        allot_ledger_entry_explain(&e, &c);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    allot_ledger_close(l);
    ASSERT(strstr(want[1], "; override: no instruction text") != NULL);
    ASSERT((db = open_reader(t.path)) != NULL);
    for (i = 0; i < 3; i++) {
        sqlite3_stmt *st = NULL;
        ASSERT_INT_EQ(
            sqlite3_prepare_v2(db, "SELECT explain FROM requests WHERE id = ?", -1, &st, NULL),
            SQLITE_OK);
        sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
        ASSERT_INT_EQ(sqlite3_step(st), SQLITE_ROW);
        ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), want[i]);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* The writer copies the last text it formatted for a row explained by the
 * same bytes (an agent loop's rows), and formats anew for any other: rows
 * A A B A B B, where B differs from A in one weight's last bits and in
 * the runner-up's confidence, each get their own classification's text. */
TEST(ledger_explain_of_a_repeated_classification_is_its_own)
{
    static const char order[] = "AABABB";
    char want[2][512], id[16];
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_classification c[2];
    struct allot_buf err;
    sqlite3 *db = NULL;
    size_t i;

    memset(c, 0, sizeof c);
    c[0].category = ALLOT_CAT_SUMMARIZE;
    c[0].confidence = 0.875;
    c[0].runner_up = ALLOT_CAT_SYNTHESIZE;
    c[0].runner_up_confidence = 0.0625;
    snprintf(c[0].pro[0].name, sizeof c[0].pro[0].name, "summarise");
    c[0].pro[0].weight = 2.125f;
    c[0].n_pro = 1;
    c[1] = c[0];
    c[1].pro[0].weight = 2.135f;
    c[1].runner_up_confidence = 0.0725;
    allot_classification_explain(&c[0], want[0], sizeof want[0]);
    allot_classification_explain(&c[1], want[1], sizeof want[1]);
    ASSERT(strcmp(want[0], want[1]) != 0);

    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-explain-again"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 50, &l, &err), 0);
    for (i = 0; order[i]; i++) {
        snprintf(id, sizeof id, "req_%zu", i);
        fill(&e, id, (int64_t)i + 1);
        allot_ledger_entry_explain(&e, &c[order[i] - 'A']);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    allot_ledger_close(l);
    ASSERT((db = open_reader(t.path)) != NULL);
    for (i = 0; order[i]; i++) {
        sqlite3_stmt *st = NULL;
        snprintf(id, sizeof id, "req_%zu", i);
        ASSERT_INT_EQ(
            sqlite3_prepare_v2(db, "SELECT explain FROM requests WHERE id = ?", -1, &st, NULL),
            SQLITE_OK);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        ASSERT_INT_EQ(sqlite3_step(st), SQLITE_ROW);
        ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), want[order[i] - 'A']);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* The same sequence of pseudo-random numbers every run. */
static uint32_t next_rand(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 16;
}

/* Column c of e set to one of a few values that differ in what a store
 * could get wrong: text empty, short, non-ASCII or filled to the brim
 * without a NUL; numbers zero, negative, extreme; reals fractional,
 * integral, -0.0. */
static void vary_column(struct allot_ledger_entry *e, const struct allot__ledger_column *c,
                        uint32_t pick)
{
    static const char *const texts[] = {"", "a", "ok", "local-small", "caf\xc3\xa9 \"q\"'"};
    static const int ints[] = {0, 1, -1, 200, INT_MAX, INT_MIN};
    static const int64_t ints64[] = {0, 1, -1, 1234, INT64_MAX, INT64_MIN};
    static const double reals[] = {0.0, -0.0, -1.0, 0.875, 3.0, 1e300, 0.1};
    char *p = (char *)e + c->off;

    switch (c->type) {
    case COL_TEXT:
        if (pick % 6 == 5) {
            memset(p, 'x', c->size); /* no NUL */
            p[pick % c->size] = 'y';
        } else {
            snprintf(p, c->size, "%s", texts[pick % 5]);
        }
        break;
    case COL_INT:
        memcpy(p, &ints[pick % 6], sizeof(int));
        break;
    case COL_INT64:
        memcpy(p, &ints64[pick % 6], sizeof(int64_t));
        break;
    case COL_REAL:
        memcpy(p, &reals[pick % 7], sizeof(double));
        break;
    case COL_HEAP_TEXT:
        break; /* the prompt: the caller's */
    }
}

/* Every value of every column of every row is stored as a plain INSERT
 * binding all of them would store it (same type, same value), whatever the
 * rows before it in the same statement or batch held: rows change a
 * random half of their columns from the row before, in batches of 1 to
 * 40 rows with events among them, so every INSERT statement (of 1 to 32
 * rows) is used again and again with values kept and changed, before and
 * after a change of the schema makes SQLite prepare them again. */
TEST(ledger_stores_every_value_as_given)
{
    enum { N = 600 };
    static const char *const prompt_texts[] = {NULL, "", "Be brief.\n\nSummarise the notes."};
    struct allot_ledger_entry *rows = calloc(N, sizeof *rows);
    const char *prompts[N];
    struct tmpdir t;
    struct allot_buf err;
    struct allot_ledger *l = NULL;
    sqlite3 *db = NULL, *ref = NULL;
    sqlite3_stmt *st = NULL;
    char ref_path[160], sql[512];
    uint32_t seed = 7;
    uint64_t appended = 0;
    size_t i = 0, k;
    int schema_changed = 0;

    ASSERT(rows != NULL);
    ASSERT_INT_EQ(tmpdir_make(&t, "ledger-values"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 20, &l, &err), 0);
    while (i < N) {
        /* the first batch and the first after the schema changes use the
         * 32-row INSERT for sure: 40 rows and no event to cut the run */
        size_t group = i == 0 || schema_changed == 1 ? 40 : 1 + next_rand(&seed) % 40, g;
        for (g = 0; g < group && i < N; g++, i++) {
            struct allot_ledger_entry *e = &rows[i], q;
            if (i)
                *e = rows[i - 1];
            for (k = 0; k < allot__ledger_n_columns; k++)
                if (i == 0 || next_rand(&seed) % 2)
                    vary_column(e, &allot__ledger_columns[k], next_rand(&seed));
            snprintf(e->id, sizeof e->id, "vary_%zu", i);
            memset(e->event, 0, sizeof e->event);
            e->explain_later = 0;
            prompts[i] = prompt_texts[next_rand(&seed) % 3];
            q = *e;
            q.prompt = prompts[i] ? strdup(prompts[i]) : NULL;
            ASSERT(!prompts[i] || q.prompt);
            ASSERT_INT_EQ(allot_ledger_append(l, &q), 0);
            appended++;
            if (group < 40 && next_rand(&seed) % 16 == 0) {
                ASSERT_INT_EQ(allot_ledger_event(l, 1, "promotion", "extract", "to judgment"), 0);
                appended++;
            }
        }
        /* the group is one batch (appending it takes far less than the
         * 20 ms the writer lets rows gather; a split batch only tests
         * less) */
        ASSERT_INT_EQ(wait_done(l, appended), 0);
        if (!schema_changed && i >= N / 2) {
            /* another connection changes the schema: SQLite prepares the
             * INSERTs again, and their bindings must come through */
            sqlite3 *other = open_reader(t.path);
            ASSERT(other != NULL);
            ASSERT_INT_EQ(sqlite3_exec(other, "CREATE INDEX test_reprepare ON requests(model)",
                                       NULL, NULL, NULL),
                          SQLITE_OK);
            sqlite3_close(other);
            schema_changed = 1;
        } else if (schema_changed == 1) {
            schema_changed = 2;
        }
    }
    ASSERT_INT_EQ(allot_ledger_close(l), 0);

    /* the reference: the same rows, each with every column bound */
    ASSERT((db = open_reader(t.path)) != NULL);
    snprintf(ref_path, sizeof ref_path, "%s.ref", t.path);
    ASSERT_INT_EQ(sqlite3_open(ref_path, &ref), SQLITE_OK);
    ASSERT_INT_EQ(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name = 'requests'",
                                     -1, &st, NULL),
                  SQLITE_OK);
    ASSERT_INT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_INT_EQ(sqlite3_exec(ref, (const char *)sqlite3_column_text(st, 0), NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_finalize(st);
    st = NULL;
    ASSERT_INT_EQ(sqlite3_exec(ref, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    {
        struct allot_buf ins;
        allot_buf_init(&ins, 4096);
        allot_buf_adds(&ins, "INSERT INTO requests VALUES (");
        for (k = 0; k < allot__ledger_n_columns; k++)
            allot_buf_adds(&ins, k ? ",?" : "?");
        allot_buf_adds(&ins, ")");
        ASSERT_INT_EQ(sqlite3_prepare_v2(ref, allot_buf_cstr(&ins), -1, &st, NULL), SQLITE_OK);
        allot_buf_release(&ins);
    }
    for (i = 0; i < N; i++) {
        for (k = 0; k < allot__ledger_n_columns; k++) {
            const struct allot__ledger_column *c = &allot__ledger_columns[k];
            const char *p = (const char *)&rows[i] + c->off;
            int idx = (int)k + 1, v;
            int64_t v64;
            double d;
            switch (c->type) {
            case COL_TEXT:
                sqlite3_bind_text(st, idx, p, (int)strnlen(p, c->size), SQLITE_TRANSIENT);
                break;
            case COL_HEAP_TEXT:
                sqlite3_bind_text(st, idx, prompts[i] ? prompts[i] : "", -1, SQLITE_TRANSIENT);
                break;
            case COL_INT:
                memcpy(&v, p, sizeof v);
                sqlite3_bind_int(st, idx, v);
                break;
            case COL_INT64:
                memcpy(&v64, p, sizeof v64);
                sqlite3_bind_int64(st, idx, v64);
                break;
            case COL_REAL:
                memcpy(&d, p, sizeof d);
                sqlite3_bind_double(st, idx, d);
                break;
            }
        }
        ASSERT_INT_EQ(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    sqlite3_finalize(st);
    ASSERT_INT_EQ(sqlite3_exec(ref, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(ref);

    snprintf(sql, sizeof sql, "ATTACH '%s' AS ref", ref_path);
    ASSERT_INT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM main.requests"), N);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM main.events"), (int64_t)appended - N);
    ASSERT_INT_EQ(query_int(db, "SELECT count(*) FROM main.requests x JOIN ref.requests y "
                                "ON x.id = y.id"),
                  N);
    for (k = 0; k < allot__ledger_n_columns; k++) {
        const char *name = allot__ledger_columns[k].name;
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM main.requests x JOIN ref.requests y ON x.id = y.id WHERE "
                 "typeof(x.%s) IS NOT typeof(y.%s) OR quote(x.%s) IS NOT quote(y.%s)",
                 name, name, name, name);
        if (query_int(db, sql) != 0)
            fprintf(stderr, "column %s differs\n", name);
        ASSERT_INT_EQ(query_int(db, sql), 0);
    }
    /* the values did vary: brim-full texts, both kinds of prompt, -1s */
    ASSERT(query_int(db, "SELECT count(*) FROM requests WHERE length(error) = 256") > 10);
    ASSERT(query_int(db, "SELECT count(*) FROM requests WHERE prompt = ''") > 10);
    ASSERT(query_int(db, "SELECT count(*) FROM requests WHERE prompt LIKE 'Be brief.%'") > 10);
    ASSERT(query_int(db, "SELECT count(DISTINCT http_status) FROM requests") == 6);
    sqlite3_close(db);
    free(rows);
    remove(ref_path);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}
