/* ledger.c: the request ledger, one SQLite row per request (see ledger.h).
 *
 * DESIGN: the event loops must never wait on the disk, so appending is a
 * memcpy into an in-memory queue under a mutex, and one writer thread owns
 * the SQLite connection (redis bio.c). The queue is a list of fixed-size
 * chunks, allocated as rows arrive and recycled through a short free list:
 * an idle gateway holds a few kilobytes, a burst may grow the queue to its
 * cap of 65,536 rows, and no append ever copies the whole queue the way a
 * growing array would.
 *
 * The writer sleeps until a row arrives, then lets rows gather until the
 * oldest queued row is commit_ms old (or BATCH_NOW rows are queued, or
 * close began), takes the whole list in one pointer swap so the lock is
 * held for microseconds, and writes it in one transaction with one prepared
 * INSERT. A row therefore reaches a commit at most commit_ms plus the time
 * of the batch write in progress plus its own batch write after it was
 * appended (docs/ledger.md). WAL with synchronous=NORMAL makes a commit a
 * write without an fsync: a SIGKILL of allot loses nothing committed, a
 * power cut may lose the last commits.
 *
 * A failed write (disk full, a lock held past busy_timeout, a constraint)
 * drops the rows concerned, counts them in rows_failed and logs once per
 * burst of failures; the writer keeps going, so the gateway never stops
 * serving because its ledger cannot be written. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allot/buf.h"
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "allot/log.h"

#define QUEUE_MAX_ROWS 65536u /* the cap documented in ledger.h */
#define CHUNK_ROWS 128u       /* ~160 KB a chunk */
#define FREE_CHUNKS_MAX 8u    /* chunks kept for reuse after a burst */
#define BATCH_NOW 512u        /* this many queued rows: write without waiting */
#define COMMIT_MS_MAX 200
#define SCHEMA_VERSION 5 /* PRAGMA user_version; keep SET_VERSION_SQL in step */
#define SET_VERSION_SQL "PRAGMA user_version = 5"
/* An older store is brought up to date by adding every column of the
 * table below that it lacks (version 2 added explain, version 3 the quality
 * columns, version 4 prompt, version 5 client), so a store left half-way by an interrupted upgrade
 * is finished the same way. */

struct chunk {
    struct chunk *next;
    size_t n;
    struct allot_ledger_entry rows[CHUNK_ROWS];
};

struct allot_ledger {
    char *path;           /* for messages */
    sqlite3 *db;          /* writer thread only, after open */
    sqlite3_stmt *insert; /* writer thread only, after open */
    sqlite3_stmt *insert_event;
    long commit_ms;
    pthread_t thread;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* rows arrived, BATCH_NOW reached, or closing */
    struct chunk *head, *tail;
    size_t queued;      /* rows in head..tail */
    uint64_t oldest_us; /* monotonic time the oldest queued row came */
    struct chunk *free_list;
    size_t n_free;
    int closing;
    uint64_t rows_written, rows_failed;
};

/* The requests table, one column per entry field. It drives CREATE TABLE,
 * the INSERT and the binding, so the three cannot disagree. */
enum col_type { COL_TEXT, COL_INT64, COL_INT, COL_REAL, COL_HEAP_TEXT };

struct column {
    const char *name;
    enum col_type type;
    size_t off, size;
    const char *decl; /* SQL type and constraints */
};

/* clang-format off */
#define FIELD_(f) offsetof(struct allot_ledger_entry, f), sizeof(((struct allot_ledger_entry *)0)->f)
#define TEXT_(f) {#f, COL_TEXT, FIELD_(f), "TEXT NOT NULL DEFAULT ''"}
#define INT64_(f) {#f, COL_INT64, FIELD_(f), "INTEGER NOT NULL DEFAULT 0"}
#define INT_(f) {#f, COL_INT, FIELD_(f), "INTEGER NOT NULL DEFAULT 0"}
#define REAL_(f) {#f, COL_REAL, FIELD_(f), "REAL NOT NULL DEFAULT 0"}
/* clang-format on */

static const struct column columns[] = {
    {"id", COL_TEXT, FIELD_(id), "TEXT PRIMARY KEY NOT NULL"},
    INT64_(ts_ms),
    TEXT_(endpoint),
    TEXT_(requested_model),
    TEXT_(category),
    REAL_(confidence),
    TEXT_(tier),
    TEXT_(model),
    TEXT_(provider),
    TEXT_(source),
    INT_(attempts),
    TEXT_(attempt_log),
    TEXT_(status),
    INT_(http_status),
    TEXT_(error),
    INT_(stream),
    INT64_(prompt_tokens),
    INT64_(completion_tokens),
    INT_(tokens_estimated),
    REAL_(cost_usd),
    REAL_(counterfactual_usd),
    REAL_(latency_ms),
    {"ttft_ms", COL_REAL, FIELD_(ttft_ms), "REAL NOT NULL DEFAULT -1"},
    TEXT_(reason),
    TEXT_(explain),
    {"\"check\"", COL_TEXT, FIELD_(check), "TEXT NOT NULL DEFAULT ''"},
    TEXT_(check_detail),
    TEXT_(escalated),
    REAL_(escalation_usd),
    INT64_(escalation_prompt_tokens),
    INT64_(escalation_completion_tokens),
    TEXT_(floor),
    TEXT_(audit_of),
    {"grade", COL_REAL, FIELD_(grade), "REAL NOT NULL DEFAULT -1"},
    {"prompt", COL_HEAP_TEXT, FIELD_(prompt), "TEXT NOT NULL DEFAULT ''"},
    TEXT_(client),
};
#define N_COLUMNS (sizeof columns / sizeof columns[0])

static const char schema_tail[] = "CREATE INDEX IF NOT EXISTS requests_ts_ms ON requests(ts_ms);\n"
                                  "CREATE TABLE IF NOT EXISTS events (\n"
                                  "  id INTEGER PRIMARY KEY,\n"
                                  "  ts_ms INTEGER NOT NULL DEFAULT 0,\n"
                                  "  kind TEXT NOT NULL DEFAULT '',\n"
                                  "  subject TEXT NOT NULL DEFAULT '',\n"
                                  "  detail TEXT NOT NULL DEFAULT ''\n"
                                  ");\n"
                                  "CREATE INDEX IF NOT EXISTS events_ts_ms ON events(ts_ms);\n";
/* After an upgrade has added the column. */
static const char schema_indexes[] = "CREATE INDEX IF NOT EXISTS requests_audit_of ON "
                                     "requests(audit_of) WHERE audit_of != ''";

/* For the tests: start closing without waiting, so that an append racing
 * with allot_ledger_close() can be shown to get ALLOT_ECLOSED. */
void allot__ledger_begin_close(struct allot_ledger *l);

static int store_error(struct allot_buf *err, const char *path, const char *what)
{
    if (err)
        allot_buf_addf(err, "ledger '%s': %s", path, what);
    return ALLOT_ESTORE;
}

static int exec_sql(struct allot_ledger *l, const char *sql, struct allot_buf *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(l->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        store_error(err, l->path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return ALLOT_ESTORE;
    }
    return 0;
}

static int build_sql(struct allot_buf *create, struct allot_buf *insert)
{
    size_t i;
    int rc = 0;

    rc |= allot_buf_adds(create, "CREATE TABLE IF NOT EXISTS requests (\n");
    rc |= allot_buf_adds(insert, "INSERT INTO requests (");
    for (i = 0; i < N_COLUMNS; i++) {
        const char *sep = i + 1 < N_COLUMNS ? "," : "";
        /* a field whose type changed in ledger.h must change here too */
        if ((columns[i].type == COL_INT64 && columns[i].size != sizeof(int64_t)) ||
            (columns[i].type == COL_INT && columns[i].size != sizeof(int)) ||
            (columns[i].type == COL_REAL && columns[i].size != sizeof(double)))
            return ALLOT_EINVAL;
        rc |= allot_buf_addf(create, "  %s %s%s\n", columns[i].name, columns[i].decl, sep);
        rc |= allot_buf_addf(insert, "%s%s", columns[i].name, sep);
    }
    rc |= allot_buf_addf(create, ");\n%s", schema_tail);
    rc |= allot_buf_adds(insert, ") VALUES (");
    for (i = 0; i < N_COLUMNS; i++)
        rc |= allot_buf_adds(insert, i + 1 < N_COLUMNS ? "?," : "?)");
    return rc ? ALLOT_ENOMEM : 0;
}

/* ALTER TABLE ADD COLUMN for each column of the table the store lacks. */
static int add_missing_columns(struct allot_ledger *l, struct allot_buf *err)
{
    sqlite3_stmt *st = NULL;
    unsigned char have[sizeof columns / sizeof columns[0]] = {0};
    char sql[256];
    size_t i;
    int rc = 0;

    if (sqlite3_prepare_v2(l->db, "SELECT name FROM pragma_table_info('requests')", -1, &st,
                           NULL) != SQLITE_OK)
        return store_error(err, l->path, sqlite3_errmsg(l->db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (i = 0; name && i < N_COLUMNS; i++) {
            const char *c = columns[i].name;
            size_t n = strlen(c);
            if (c[0] == '"' ? (strlen(name) == n - 2 && !strncmp(name, c + 1, n - 2))
                            : !strcmp(name, c))
                have[i] = 1;
        }
    }
    sqlite3_finalize(st);
    for (i = 0; i < N_COLUMNS && !rc; i++) {
        if (have[i])
            continue;
        snprintf(sql, sizeof sql, "ALTER TABLE requests ADD COLUMN %s %s", columns[i].name,
                 columns[i].decl);
        rc = exec_sql(l, sql, err);
    }
    return rc;
}

/* Pragmas, schema and the INSERT statement. The schema is created inside
 * one IMMEDIATE transaction so two processes opening a new file at once do
 * not both try to create it half-way. */
static int setup_store(struct allot_ledger *l, struct allot_buf *err)
{
    struct allot_buf create, insert;
    sqlite3_stmt *st = NULL;
    int rc, version;

    allot_buf_init(&create, 64 * 1024);
    allot_buf_init(&insert, 64 * 1024);
    sqlite3_busy_timeout(l->db, 5000);
    /* journal_mode=WAL answers with the mode in force; a file system
     * without shared memory keeps the old one, which is slower but safe. */
    if ((rc = exec_sql(l, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err)))
        goto out;
    if ((rc = build_sql(&create, &insert))) {
        store_error(err, l->path,
                    rc == ALLOT_ENOMEM ? "out of memory"
                                       : "internal error: the column table does not match "
                                         "struct allot_ledger_entry");
        goto out;
    }
    if ((rc = exec_sql(l, "BEGIN IMMEDIATE", err)))
        goto out;
    if (sqlite3_prepare_v2(l->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = store_error(err, l->path, sqlite3_errmsg(l->db));
        goto rollback;
    }
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > SCHEMA_VERSION) {
        if (err)
            allot_buf_addf(err,
                           "ledger '%s': schema version %d is newer than this allot "
                           "understands (%d)",
                           l->path, version, SCHEMA_VERSION);
        rc = ALLOT_ESTORE;
        goto rollback;
    }
    if ((rc = exec_sql(l, allot_buf_cstr(&create), err)))
        goto rollback;
    if (version >= 1 && version < SCHEMA_VERSION && (rc = add_missing_columns(l, err)))
        goto rollback;
    if ((rc = exec_sql(l, schema_indexes, err)))
        goto rollback;
    if ((rc = exec_sql(l, SET_VERSION_SQL, err)))
        goto rollback;
    if ((rc = exec_sql(l, "COMMIT", err)))
        goto rollback;
    if (sqlite3_prepare_v3(l->db, allot_buf_cstr(&insert), -1, SQLITE_PREPARE_PERSISTENT,
                           &l->insert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(l->db,
                           "INSERT INTO events (ts_ms, kind, subject, detail) VALUES (?,?,?,?)", -1,
                           SQLITE_PREPARE_PERSISTENT, &l->insert_event, NULL) != SQLITE_OK) {
        rc = store_error(err, l->path, sqlite3_errmsg(l->db));
        goto out;
    }
    rc = 0;
    goto out;
rollback:
    if (!sqlite3_get_autocommit(l->db))
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    allot_buf_release(&create);
    allot_buf_release(&insert);
    return rc;
}

static int bind_row(sqlite3_stmt *st, const struct allot_ledger_entry *e)
{
    const char *base = (const char *)e;
    size_t i;
    int rc = SQLITE_OK;

    for (i = 0; i < N_COLUMNS && rc == SQLITE_OK; i++) {
        const struct column *c = &columns[i];
        const void *p = base + c->off;
        int idx = (int)i + 1;
        int v;
        int64_t v64;
        double d;

        switch (c->type) {
        case COL_HEAP_TEXT: {
            const char *t;
            memcpy(&t, p, sizeof t);
            rc = sqlite3_bind_text(st, idx, t ? t : "", -1, SQLITE_STATIC);
            break;
        }
        case COL_TEXT:
            /* strnlen: a field the caller filled to the brim is still safe */
            rc = sqlite3_bind_text(st, idx, p, (int)strnlen(p, c->size), SQLITE_STATIC);
            break;
        case COL_INT64:
            memcpy(&v64, p, sizeof v64);
            rc = sqlite3_bind_int64(st, idx, v64);
            break;
        case COL_INT:
            memcpy(&v, p, sizeof v);
            rc = sqlite3_bind_int(st, idx, v);
            break;
        case COL_REAL:
            memcpy(&d, p, sizeof d);
            rc = sqlite3_bind_double(st, idx, d);
            break;
        }
    }
    return rc;
}

/* An event entry: kind in event, subject in category, detail in explain,
 * time in ts_ms (allot_ledger_event()). */
static int bind_event(sqlite3_stmt *st, const struct allot_ledger_entry *e)
{
    int rc = sqlite3_bind_int64(st, 1, e->ts_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, e->event, (int)strnlen(e->event, sizeof e->event),
                               SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, e->category, (int)strnlen(e->category, sizeof e->category),
                               SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 4, e->explain, (int)strnlen(e->explain, sizeof e->explain),
                               SQLITE_STATIC);
    return rc;
}

/* Writer-thread state for logging once per burst of failures. */
struct burst {
    int failing;
    uint64_t lost;
};

static void note_failure(struct allot_ledger *l, struct burst *b, uint64_t rows, const char *why)
{
    if (!b->failing)
        allot_log_error("ledger '%s': cannot write request rows: %s (rows are dropped until "
                        "writing works again)",
                        l->path, why);
    b->failing = 1;
    b->lost += rows;
}

static int begin_txn(struct allot_ledger *l)
{
    return sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
}

/* Write rows in one transaction. Returns through *written and *failed. A
 * statement error that ends the transaction (SQLite rolls back on some
 * errors, such as SQLITE_FULL) loses the rows inserted before it too; the
 * remaining rows go into a new transaction. When a transaction cannot even
 * begin (the lock is held past busy_timeout), the rest of the batch is
 * dropped at once rather than waiting busy_timeout again for every row. */
static void write_batch(struct allot_ledger *l, struct chunk *list, struct burst *b,
                        uint64_t *written, uint64_t *failed)
{
    uint64_t pending = 0, ok = 0, bad = 0, skipped = 0;
    int in_txn = 0, give_up = 0, rc;
    sqlite3_stmt *st;
    struct chunk *c;
    size_t i;

    for (c = list; c; c = c->next) {
        for (i = 0; i < c->n; i++) {
            if (give_up) {
                skipped++;
                continue;
            }
            if (!in_txn && !(in_txn = begin_txn(l))) {
                give_up = 1;
                skipped++;
                continue;
            }
            st = c->rows[i].event[0] ? l->insert_event : l->insert;
            rc = st == l->insert ? bind_row(st, &c->rows[i]) : bind_event(st, &c->rows[i]);
            if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
            if (rc == SQLITE_DONE) {
                pending++;
            } else {
                bad++;
                note_failure(l, b, 1, sqlite3_errmsg(l->db));
            }
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            if (sqlite3_get_autocommit(l->db)) { /* the error ended the transaction */
                if (pending)
                    note_failure(l, b, pending, "transaction rolled back");
                bad += pending;
                pending = 0;
                in_txn = 0;
            }
        }
    }
    if (skipped) {
        note_failure(l, b, skipped, sqlite3_errmsg(l->db));
        bad += skipped;
    }
    if (in_txn) {
        if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
            ok += pending;
        } else {
            note_failure(l, b, pending, sqlite3_errmsg(l->db));
            if (!sqlite3_get_autocommit(l->db))
                sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
            bad += pending;
        }
    }
    if (b->failing && bad == 0 && ok > 0) {
        allot_log_warn("ledger '%s': writing again; %llu rows were lost", l->path,
                       (unsigned long long)b->lost);
        b->failing = 0;
        b->lost = 0;
    }
    *written = ok;
    *failed = bad;
}

/* The heap texts of a chunk's rows, written or dropped. */
static void free_prompts(struct chunk *c)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        free(c->rows[i].prompt);
        c->rows[i].prompt = NULL;
    }
    c->n = 0;
}

static void deadline_ts(uint64_t mono_us, struct timespec *ts)
{
    ts->tv_sec = (time_t)(mono_us / 1000000u);
    ts->tv_nsec = (long)(mono_us % 1000000u) * 1000;
}

static void *writer_main(void *arg)
{
    struct allot_ledger *l = arg;
    struct burst b = {0, 0};
    struct chunk *batch, *c, *next;
    uint64_t written, failed, deadline;
    struct timespec ts;

    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->queued == 0 && !l->closing)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->queued == 0) /* closing and drained */
            break;
        /* Let rows gather until the oldest is commit_ms old. */
        deadline = l->oldest_us + (uint64_t)l->commit_ms * 1000u;
        while (!l->closing && l->queued < BATCH_NOW && allot_clock_mono_us() < deadline) {
            deadline_ts(deadline, &ts);
            pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        }
        batch = l->head;
        l->head = l->tail = NULL;
        l->queued = 0;
        pthread_mutex_unlock(&l->mu);

        write_batch(l, batch, &b, &written, &failed);

        pthread_mutex_lock(&l->mu);
        l->rows_written += written;
        l->rows_failed += failed;
        for (c = batch; c; c = next) {
            next = c->next;
            free_prompts(c);
            if (l->n_free < FREE_CHUNKS_MAX) {
                c->next = l->free_list;
                l->free_list = c;
                l->n_free++;
            } else {
                free(c);
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void free_chunks(struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        free_prompts(c);
        free(c);
        c = next;
    }
}

int allot_ledger_open(const char *path, long commit_ms, struct allot_ledger **out,
                      struct allot_buf *err)
{
    struct allot_ledger *l;
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc, mu_ok = 0, cv_ok = 0;

    l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        rc = ALLOT_ENOMEM;
        if (err)
            allot_buf_addf(err, "ledger '%s': out of memory", path);
        goto fail;
    }
    l->commit_ms = commit_ms < 1 ? 1 : commit_ms > COMMIT_MS_MAX ? COMMIT_MS_MAX : commit_ms;
    rc = sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        rc = store_error(err, path, l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if ((rc = setup_store(l, err)))
        goto fail;

    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        rc = store_error(err, path, "cannot create a mutex");
        goto fail;
    }
    mu_ok = 1;
    /* Deadlines are monotonic: a wall-clock step must not stall commits. */
    if (pthread_condattr_init(&ca) != 0) {
        rc = store_error(err, path, "cannot create a condition variable");
        goto fail;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cv_ok = pthread_cond_init(&l->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cv_ok) {
        rc = store_error(err, path, "cannot create a condition variable");
        goto fail;
    }
    /* The writer takes no signals: they belong to the event loops. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&l->thread, NULL, writer_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        rc = store_error(err, path, "cannot start the writer thread");
        goto fail;
    }
    pthread_setname_np(l->thread, "allot-ledger");
    *out = l;
    return 0;

fail:
    if (l) {
        if (cv_ok)
            pthread_cond_destroy(&l->cv);
        if (mu_ok)
            pthread_mutex_destroy(&l->mu);
        sqlite3_finalize(l->insert);
        sqlite3_finalize(l->insert_event);
        sqlite3_close(l->db);
        free(l->path);
        free(l);
    }
    return rc;
}

int allot_ledger_event(struct allot_ledger *l, int64_t ts_ms, const char *kind, const char *subject,
                       const char *detail)
{
    struct allot_ledger_entry *e = calloc(1, sizeof *e);
    int rc;

    if (!e)
        return ALLOT_ENOMEM;
    e->ts_ms = ts_ms;
    snprintf(e->event, sizeof e->event, "%s", kind && *kind ? kind : "event");
    snprintf(e->category, sizeof e->category, "%s", subject ? subject : "");
    snprintf(e->explain, sizeof e->explain, "%s", detail ? detail : "");
    rc = allot_ledger_append(l, e);
    free(e);
    return rc;
}

int allot_ledger_append(struct allot_ledger *l, const struct allot_ledger_entry *e)
{
    struct chunk *c;
    int rc = 0;

    pthread_mutex_lock(&l->mu);
    if (l->closing) {
        rc = ALLOT_ECLOSED;
        goto out;
    }
    if (l->queued >= QUEUE_MAX_ROWS) {
        rc = ALLOT_ETOOBIG;
        goto out;
    }
    c = l->tail;
    if (!c || c->n == CHUNK_ROWS) {
        if (l->free_list) {
            c = l->free_list;
            l->free_list = c->next;
            l->n_free--;
        } else if (!(c = malloc(sizeof *c))) {
            rc = ALLOT_ENOMEM;
            goto out;
        }
        c->next = NULL;
        c->n = 0;
        if (l->tail)
            l->tail->next = c;
        else
            l->head = c;
        l->tail = c;
    }
    c->rows[c->n++] = *e;
    /* The writer waits for the first row, then for BATCH_NOW rows. */
    if (++l->queued == 1) {
        l->oldest_us = allot_clock_mono_us();
        pthread_cond_signal(&l->cv);
    } else if (l->queued == BATCH_NOW) {
        pthread_cond_signal(&l->cv);
    }
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

uint64_t allot_ledger_rows_written(struct allot_ledger *l)
{
    uint64_t n;
    pthread_mutex_lock(&l->mu);
    n = l->rows_written;
    pthread_mutex_unlock(&l->mu);
    return n;
}

uint64_t allot_ledger_rows_failed(struct allot_ledger *l)
{
    uint64_t n;
    pthread_mutex_lock(&l->mu);
    n = l->rows_failed;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void allot__ledger_begin_close(struct allot_ledger *l)
{
    pthread_mutex_lock(&l->mu);
    l->closing = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void allot_ledger_close(struct allot_ledger *l)
{
    if (!l)
        return;
    allot__ledger_begin_close(l);
    pthread_join(l->thread, NULL); /* the writer drains the queue first */
    sqlite3_finalize(l->insert);
    sqlite3_finalize(l->insert_event);
    if (sqlite3_close(l->db) != SQLITE_OK)
        allot_log_error("ledger '%s': closing: %s", l->path, sqlite3_errmsg(l->db));
    free_chunks(l->head);
    free_chunks(l->free_list);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
}
