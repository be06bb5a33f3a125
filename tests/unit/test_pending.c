/* test_pending.c: the ring of uncommitted ledger rows (pending.h): what a
 * later open replays after a clean close, a kill, a torn write or a lap
 * of the ring, and what it refuses. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/pending.h"
#include "test.h"
#include "tmpdir.h"

struct row {
    int n;
    char text[116];
};

#define LAYOUT 7u
#define RING (64u << 10)

struct seen {
    int n[4096];
    char extra[4096][16];
    size_t count;
};

static int collect(void *ctx, const struct allot_pending_record *r)
{
    struct seen *s = ctx;
    struct row row;

    memcpy(&row, r->entry, sizeof row);
    if (s->count < 4096) {
        s->n[s->count] = row.n;
        snprintf(s->extra[s->count], sizeof s->extra[0], "%.*s", (int)r->extra_len, r->extra);
        s->count++;
    }
    return 0;
}

static uint64_t put_row(struct allot_pending *p, int n)
{
    struct row row;
    char extra[16];

    memset(&row, 0, sizeof row);
    row.n = n;
    snprintf(row.text, sizeof row.text, "row %d", n);
    snprintf(extra, sizeof extra, "x%d", n);
    return allot_pending_put(p, &row, extra, strlen(extra));
}

/* Reopen path and replay: the row numbers it holds, in order. */
static int reopen_and_replay(const char *path, struct allot_pending **p, struct seen *s)
{
    struct allot_buf err;
    size_t n = 0;
    int rc;

    allot_buf_init(&err, 1024);
    memset(s, 0, sizeof *s);
    rc = allot_pending_open(path, sizeof(struct row), LAYOUT, RING, p, &err);
    if (rc == 0)
        rc = allot_pending_replay(*p, collect, s, &n);
    if (rc == 0 && n != s->count)
        rc = -100;
    allot_buf_release(&err);
    return rc;
}

TEST(pending_replays_what_was_not_committed)
{
    struct tmpdir t;
    struct allot_pending *p;
    struct seen s;
    char path[160];
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    snprintf(path, sizeof path, "%s/rows.pending", t.dir);
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    ASSERT_INT_EQ(s.count, 0);
    for (i = 1; i <= 10; i++)
        ASSERT_INT_EQ(put_row(p, i), i);
    allot_pending_committed(p, 4);
    allot_pending_close(p);

    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    ASSERT_INT_EQ(s.count, 6);
    for (i = 0; i < 6; i++) {
        char want[16];
        ASSERT_INT_EQ(s.n[i], 5 + i);
        snprintf(want, sizeof want, "x%d", 5 + i);
        ASSERT_STR_EQ(s.extra[i], want);
    }
    /* numbers go on after the replayed ones; committing them empties it */
    ASSERT_INT_EQ(allot_pending_last_seq(p), 10);
    ASSERT_INT_EQ(put_row(p, 11), 11);
    allot_pending_committed(p, 11);
    allot_pending_close(p);
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    ASSERT_INT_EQ(s.count, 0);
    allot_pending_close(p);
    unlink(path);
    tmpdir_remove(&t);
}

TEST(pending_laps_of_the_ring_keep_exactly_the_uncommitted_rows)
{
    struct tmpdir t;
    struct allot_pending *p;
    struct seen s;
    char path[160];
    int i, next = 1, committed = 0, round;
    uint64_t seq, seq_of[8192];

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    snprintf(path, sizeof path, "%s/rows.pending", t.dir);
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    /* 64 KiB holds ~460 rows of 144 bytes: 40 rounds lap it ~10 times */
    for (round = 0; round < 40; round++) {
        int batch = 50 + (round * 37) % 150;
        for (i = 0; i < batch; i++) {
            seq = put_row(p, next);
            ASSERT(seq > 0);
            seq_of[next] = seq;
            next++;
        }
        committed = next - 1 - (round % 7) * 5; /* the last few stay pending */
        allot_pending_committed(p, seq_of[committed]);
        if (round % 5 == 4) { /* close and check what a restart would replay */
            allot_pending_close(p);
            ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
            ASSERT_INT_EQ(s.count, next - 1 - committed);
            for (i = 0; i < (int)s.count; i++)
                ASSERT_INT_EQ(s.n[i], committed + 1 + i);
        }
    }
    allot_pending_close(p);
    unlink(path);
    tmpdir_remove(&t);
}

TEST(pending_full_ring_refuses_until_commit)
{
    struct tmpdir t;
    struct allot_pending *p;
    struct seen s;
    char path[160], big[70000];
    int n = 0;
    uint64_t last = 0, seq;

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    snprintf(path, sizeof path, "%s/rows.pending", t.dir);
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    while ((seq = put_row(p, n + 1)) != 0) {
        last = seq;
        n++;
        ASSERT(n < 10000);
    }
    ASSERT(n > 400 && n < 470);
    allot_pending_committed(p, last);
    ASSERT(put_row(p, n + 1) > last);
    /* a row larger than the whole ring is never taken */
    memset(big, 'b', sizeof big);
    ASSERT_INT_EQ(allot_pending_put(p, big, big, sizeof big), 0);
    allot_pending_close(p);
    unlink(path);
    tmpdir_remove(&t);
}

TEST(pending_rows_survive_a_sigkill)
{
    struct tmpdir t;
    struct allot_pending *p;
    struct seen s;
    char path[160];
    pid_t pid;
    int status = 0;

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    snprintf(path, sizeof path, "%s/rows.pending", t.dir);
    pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct allot_buf err;
        allot_buf_init(&err, 1024);
        if (allot_pending_open(path, sizeof(struct row), LAYOUT, RING, &p, &err) == 0) {
            put_row(p, 1);
            put_row(p, 2);
            put_row(p, 3);
            allot_pending_committed(p, 1);
        }
        raise(SIGKILL); /* no close, no unmap, no flush */
        _exit(3);
    }
    ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0); /* the dead child's lock is gone */
    ASSERT_INT_EQ(s.count, 2);
    ASSERT_INT_EQ(s.n[0], 2);
    ASSERT_INT_EQ(s.n[1], 3);
    allot_pending_close(p);
    unlink(path);
    tmpdir_remove(&t);
}

TEST(pending_a_torn_record_or_mark_is_not_taken)
{
    struct tmpdir t;
    struct allot_pending *p;
    struct seen s;
    char path[160];
    FILE *f;
    uint64_t zero = 0, junk = 12345;

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    snprintf(path, sizeof path, "%s/rows.pending", t.dir);
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    put_row(p, 1);
    put_row(p, 2);
    put_row(p, 3); /* at ring offset 2 * 144: its sequence number is cut below */
    allot_pending_close(p);
    f = fopen(path, "r+b");
    ASSERT(f != NULL);
    ASSERT_INT_EQ(fseek(f, 4096 + 2 * (16 + 128), SEEK_SET), 0);
    ASSERT_INT_EQ(fwrite(&zero, sizeof zero, 1, f), 1);
    ASSERT_INT_EQ(fclose(f), 0);
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    ASSERT_INT_EQ(s.count, 2);
    ASSERT_INT_EQ(put_row(p, 3), 3); /* the number is given again, whole this time */
    allot_pending_committed(p, 1);
    allot_pending_committed(p, 2); /* the two copies of the mark now say 1 and 2 */
    allot_pending_close(p);

    /* the newer copy (marks[1], at byte 48: seq, pos, check) damaged, as a
     * kill while it was written would: the older one is used, and row 2
     * comes back (replayed twice is harmless: the store ignores a known id) */
    f = fopen(path, "r+b");
    ASSERT(f != NULL);
    ASSERT_INT_EQ(fseek(f, 48 + 8, SEEK_SET), 0);
    ASSERT_INT_EQ(fwrite(&junk, sizeof junk, 1, f), 1);
    ASSERT_INT_EQ(fclose(f), 0);
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    ASSERT_INT_EQ(s.count, 2);
    ASSERT_INT_EQ(s.n[0], 2);
    ASSERT_INT_EQ(s.n[1], 3);
    allot_pending_close(p);
    unlink(path);
    tmpdir_remove(&t);
}

TEST(pending_another_layout_is_set_aside_and_a_live_ring_is_refused)
{
    struct tmpdir t;
    struct allot_pending *p, *q;
    struct allot_buf err;
    struct seen s;
    char path[160], stale[170];

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    snprintf(path, sizeof path, "%s/rows.pending", t.dir);
    snprintf(stale, sizeof stale, "%s.stale", path);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_pending_open(path, 64, LAYOUT, RING, &p, &err), 0);
    {
        char e[64] = "entry of 64 bytes";
        ASSERT_INT_EQ(allot_pending_put(p, e, NULL, 0), 1);
    }
    /* the same file, open in this process: refused, not shared */
    ASSERT_INT_EQ(allot_pending_open(path, 64, LAYOUT, RING, &q, &err), ALLOT_EBUSY);
    ASSERT(q == NULL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "in use by another allot process");
    allot_pending_close(p);

    /* rows of another size: never read as ours */
    ASSERT_INT_EQ(reopen_and_replay(path, &p, &s), 0);
    ASSERT_INT_EQ(s.count, 0);
    ASSERT_INT_EQ(access(stale, F_OK), 0);
    allot_pending_close(p);
    allot_buf_release(&err);
    unlink(path);
    unlink(stale);
    tmpdir_remove(&t);
}

#include <sqlite3.h>
#include "allot/ledger.h"

static int count_rows(const char *db_path, const char *where)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[256];
    int n = -1;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM requests WHERE %s", where);
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A gateway's ledger killed with rows appended but not committed (a 200 ms
 * window): allot_ledger_recover() commits every one of them, prompt
 * included, once; a second recovery adds nothing. */
TEST(ledger_rows_appended_before_a_kill_are_recovered)
{
    struct tmpdir t;
    char pending[200];
    size_t recovered = 99;
    struct allot_buf err;
    pid_t pid;
    int status = 0;

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    snprintf(pending, sizeof pending, "%s.pending", t.path);
    pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct allot_ledger *l = NULL;
        struct allot_ledger_entry e;
        int i;
        allot_buf_init(&err, 1024);
        if (allot_ledger_open(t.path, 200, &l, &err))
            _exit(3);
        for (i = 0; i < 40; i++) {
            memset(&e, 0, sizeof e);
            snprintf(e.id, sizeof e.id, "req_kill_%d", i);
            snprintf(e.status, sizeof e.status, "ok");
            e.cost_usd = 0.001 * i;
            e.prompt = i == 7 ? strdup("the instruction of row 7") : NULL;
            if (allot_ledger_append(l, &e))
                _exit(4);
        }
        if (allot_ledger_event(l, 1, "promote", "extract", "an event is not kept") != 0)
            _exit(5);
        raise(SIGKILL); /* within the commit window: nothing committed yet */
        _exit(6);
    }
    ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ASSERT_INT_EQ(access(pending, F_OK), 0);
    ASSERT_INT_EQ(count_rows(t.path, "1"), 0);

    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_recover(t.path, NULL, &recovered, &err), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT_INT_EQ(recovered, 40);
    ASSERT_INT_EQ(count_rows(t.path, "1"), 40);
    ASSERT_INT_EQ(count_rows(t.path, "id = 'req_kill_39' AND status = 'ok' AND cost_usd > 0.038"),
                  1);
    ASSERT_INT_EQ(count_rows(t.path, "prompt = 'the instruction of row 7'"), 1);
    ASSERT_INT_EQ(allot_ledger_recover(t.path, NULL, &recovered, &err), 0);
    ASSERT_INT_EQ(recovered, 0);
    ASSERT_INT_EQ(count_rows(t.path, "1"), 40);
    /* "none": no pending file is made or read */
    ASSERT_INT_EQ(allot_ledger_recover(t.path, "none", &recovered, &err), 0);
    ASSERT_INT_EQ(recovered, 0);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* Rows committed in the normal way are not replayed by the next open. */
TEST(ledger_committed_rows_are_not_replayed)
{
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_buf err;
    size_t recovered = 99;
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 5, &l, &err), 0);
    for (i = 0; i < 10; i++) {
        memset(&e, 0, sizeof e);
        snprintf(e.id, sizeof e.id, "req_ok_%d", i);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    ASSERT_INT_EQ(allot_ledger_close(l), 0);
    ASSERT_INT_EQ(allot_ledger_recover(t.path, NULL, &recovered, &err), 0);
    ASSERT_INT_EQ(recovered, 0);
    ASSERT_INT_EQ(count_rows(t.path, "1"), 10);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* A live ledger's pending file is its own: a recovery next to it (allot
 * report while allot serve runs) leaves it alone and duplicates nothing. */
TEST(ledger_recover_leaves_a_live_ledgers_rows_alone)
{
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_buf err;
    size_t recovered = 99;
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "pending"), 0);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 200, &l, &err), 0);
    for (i = 0; i < 5; i++) {
        memset(&e, 0, sizeof e);
        snprintf(e.id, sizeof e.id, "req_live_%d", i);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    ASSERT_INT_EQ(allot_ledger_recover(t.path, NULL, &recovered, &err), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT_INT_EQ(recovered, 0);
    ASSERT_INT_EQ(allot_ledger_close(l), 0);
    ASSERT_INT_EQ(count_rows(t.path, "1"), 5);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}
