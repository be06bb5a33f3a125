/* ledger_sqlite.c: the ledger's SQLite store (internal.h), a file.
 *
 * Prepared INSERTs (requests: of 1, 2, 4, 8, 16 and 32 rows; events: of
 * one), each batch in one BEGIN IMMEDIATE ... COMMIT, prepared too. WAL
 * with synchronous=NORMAL makes a commit a write without an fsync: a
 * SIGKILL of allot loses nothing committed, a power cut may lose the last
 * commits.
 *
 * A failed write (disk full, a lock held past busy_timeout, a constraint)
 * drops the rows concerned and reports them (allot__ledger_failed); the
 * writer keeps going. A statement of several rows that fails is written
 * again one row to a statement, so that a refused row costs only itself. */
#include <sqlite3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "allot/log.h"
#include "internal.h"

/* Request rows a batch inserts with one statement: SQLite's per-statement
 * work (running the program, ending the statement, ~6k instructions) is
 * then paid once for them. 32 rows of ~40 columns stay far below SQLite's
 * 32,766 parameters; the statement and what its parameters hold (struct
 * bound) take ~200 KB. A run of fewer rows (the end of a batch, or rows
 * before an event) goes to the statements of 16, 8, 4, 2 and 1 rows its
 * binary digits name: at most five statements, not up to thirty-one. */
#define MANY_ROWS 32
#define N_SIZES 6 /* statements of 1, 2, 4, 8, 16 and MANY_ROWS rows */

/* What the parameters of one row of an INSERT are bound to. Text is bound
 * SQLITE_STATIC to the copy in v, numbers from v's fields, so a value the
 * next row written through the same parameters repeats (most of them: the
 * endpoint, model, provider, status, the empty texts and zero counts)
 * needs no new bind: SQLite keeps bindings across sqlite3_reset(), and v
 * keeps the bytes they point to (a bind costs ~100-200 instructions, the
 * comparison a few dozen). v.prompt holds the pointer the heap text is
 * bound to: empty_text, or the row's own text (bound again for every row,
 * as the row is freed after its batch). */
struct bound {
    struct allot_ledger_entry v;
    int valid; /* every parameter of the row is bound from v */
};

/* An INSERT of 2^k request rows and what its parameters hold. */
struct insert {
    sqlite3_stmt *st;
    struct bound *bound; /* one a row */
};

struct allot__ledger_store {
    struct allot_ledger *l;
    sqlite3 *db;
    struct insert insert[N_SIZES]; /* insert[k]: 2^k rows */
    sqlite3_stmt *insert_event;
    sqlite3_stmt *begin, *commit; /* BEGIN IMMEDIATE, COMMIT: not parsed again a batch */
};

static const char empty_text[1] = "";

#define N_COLUMNS allot__ledger_n_columns
#define columns allot__ledger_columns

static const char schema_tail[] = ALLOT__LEDGER_INDEX_TS ";\n"
                                                         "CREATE TABLE IF NOT EXISTS events (\n"
                                                         "  id INTEGER PRIMARY KEY,\n"
                                                         "  ts_ms INTEGER NOT NULL DEFAULT 0,\n"
                                                         "  kind TEXT NOT NULL DEFAULT '',\n"
                                                         "  subject TEXT NOT NULL DEFAULT '',\n"
                                                         "  detail TEXT NOT NULL DEFAULT ''\n"
                                                         ");\n" ALLOT__LEDGER_INDEX_EVENTS ";\n";

static const char *name_of(const struct allot__ledger_store *s)
{
    return allot__ledger_name(s->l);
}

static int store_error(struct allot_buf *err, const char *name, const char *what)
{
    if (err)
        allot_buf_addf(err, "ledger '%s': %s", name, what);
    return ALLOT_ESTORE;
}

static int exec_sql(struct allot__ledger_store *s, const char *sql, struct allot_buf *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        store_error(err, name_of(s), msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return ALLOT_ESTORE;
    }
    return 0;
}

static int build_create(struct allot_buf *create)
{
    size_t i;
    int rc = allot_buf_adds(create, "CREATE TABLE IF NOT EXISTS requests (\n");

    for (i = 0; i < N_COLUMNS; i++)
        rc |= allot_buf_addf(create, "  %s %s%s\n", columns[i].name, columns[i].decl,
                             i + 1 < N_COLUMNS ? "," : "");
    rc |= allot_buf_addf(create, ");\n%s", schema_tail);
    return rc ? ALLOT_ENOMEM : 0;
}

/* The INSERT of rows rows, their parameters row after row. OR IGNORE: a
 * row already there (replayed from the pending file after a kill that
 * came just after its commit) is left as it is. It also means that no
 * constraint can abort the statement half-way (every column is bound a
 * value, never NULL), so SQLite keeps no statement journal for it: the
 * writer's work a row went down by a tenth (ON CONFLICT(id) DO NOTHING,
 * which leaves NOT NULL to abort, kept one). A trigger that raises ABORT
 * still does, and its statement's rows are written one by one. */
static int build_insert(struct allot_buf *insert, size_t rows)
{
    size_t i, r;
    int rc = allot_buf_adds(insert, "INSERT OR IGNORE INTO requests (");

    for (i = 0; i < N_COLUMNS; i++)
        rc |= allot_buf_addf(insert, "%s%s", columns[i].name, i + 1 < N_COLUMNS ? "," : "");
    rc |= allot_buf_adds(insert, ") VALUES ");
    for (r = 0; r < rows; r++) {
        rc |= allot_buf_adds(insert, r ? ",(" : "(");
        for (i = 0; i < N_COLUMNS; i++)
            rc |= allot_buf_adds(insert, i + 1 < N_COLUMNS ? "?," : "?)");
    }
    return rc ? ALLOT_ENOMEM : 0;
}

/* The INSERT statements of 1, 2, 4 ... MANY_ROWS rows. */
static int prepare_inserts(struct allot__ledger_store *s, struct allot_buf *err)
{
    struct allot_buf sql;
    size_t k;
    int rc = 0;

    allot_buf_init(&sql, 256 * 1024);
    for (k = 0; k < N_SIZES && !rc; k++) {
        allot_buf_reset(&sql);
        if ((rc = build_insert(&sql, (size_t)1 << k)) ||
            !(s->insert[k].bound = calloc((size_t)1 << k, sizeof(struct bound))))
            rc = store_error(err, name_of(s), "out of memory");
        else if (sqlite3_prepare_v3(s->db, allot_buf_cstr(&sql), -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->insert[k].st, NULL) != SQLITE_OK)
            rc = store_error(err, name_of(s), sqlite3_errmsg(s->db));
    }
    allot_buf_release(&sql);
    return rc;
}

/* ALTER TABLE ADD COLUMN for each column of the table the store lacks. */
static int add_missing_columns(struct allot__ledger_store *s, struct allot_buf *err)
{
    sqlite3_stmt *st = NULL;
    unsigned char *have = calloc(N_COLUMNS, 1);
    char sql[256];
    size_t i;
    int rc = 0;

    if (!have)
        return store_error(err, name_of(s), "out of memory");
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM pragma_table_info('requests')", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = store_error(err, name_of(s), sqlite3_errmsg(s->db));
        goto out;
    }
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
    for (i = 0; i < N_COLUMNS && !rc; i++) {
        if (have[i])
            continue;
        snprintf(sql, sizeof sql, "ALTER TABLE requests ADD COLUMN %s %s", columns[i].name,
                 columns[i].decl);
        rc = exec_sql(s, sql, err);
    }
out:
    sqlite3_finalize(st);
    free(have);
    return rc;
}

/* Pragmas, schema and the INSERT statement. The schema is created inside
 * one IMMEDIATE transaction so two processes opening a new file at once do
 * not both try to create it half-way. */
static int setup_store(struct allot__ledger_store *s, struct allot_buf *err)
{
    struct allot_buf create;
    sqlite3_stmt *st = NULL;
    char set_version[64];
    int rc, version;

    allot_buf_init(&create, 64 * 1024);
    sqlite3_busy_timeout(s->db, 5000);
    /* page_size applies to a file made now (an existing one keeps its
     * own): rows of several hundred bytes written in batches fill pages
     * whole, and a commit writes each changed page to the WAL in two
     * system calls, a checkpoint reads and writes it once more; 16 KiB
     * pages make a quarter of those calls (docs/ledger.md). The WAL is
     * checkpointed at 256 such pages, the 4 MiB of SQLite's default.
     * journal_mode=WAL answers with the mode in force; a file system
     * without shared memory keeps the old one, which is slower but safe. */
    if ((rc = exec_sql(s,
                       "PRAGMA page_size=16384; PRAGMA wal_autocheckpoint=256; "
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                       err)))
        goto out;
    if ((rc = build_create(&create))) {
        store_error(err, name_of(s), "out of memory");
        goto out;
    }
    if ((rc = exec_sql(s, "BEGIN IMMEDIATE", err)))
        goto out;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = store_error(err, name_of(s), sqlite3_errmsg(s->db));
        goto rollback;
    }
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > ALLOT__LEDGER_SCHEMA_VERSION) {
        if (err)
            allot_buf_addf(err,
                           "ledger '%s': schema version %d is newer than this allot "
                           "understands (%d)",
                           name_of(s), version, ALLOT__LEDGER_SCHEMA_VERSION);
        rc = ALLOT_ESTORE;
        goto rollback;
    }
    if ((rc = exec_sql(s, allot_buf_cstr(&create), err)))
        goto rollback;
    if (version >= 1 && version < ALLOT__LEDGER_SCHEMA_VERSION &&
        (rc = add_missing_columns(s, err)))
        goto rollback;
    if ((rc = exec_sql(s, ALLOT__LEDGER_INDEX_AUDIT, err)))
        goto rollback;
    snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d",
             ALLOT__LEDGER_SCHEMA_VERSION);
    if ((rc = exec_sql(s, set_version, err)))
        goto rollback;
    if ((rc = exec_sql(s, "COMMIT", err)))
        goto rollback;
    if ((rc = prepare_inserts(s, err)))
        goto out;
    if (sqlite3_prepare_v3(s->db,
                           "INSERT INTO events (ts_ms, kind, subject, detail) VALUES (?,?,?,?)", -1,
                           SQLITE_PREPARE_PERSISTENT, &s->insert_event, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(s->db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &s->begin,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(s->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &s->commit, NULL) !=
            SQLITE_OK) {
        rc = store_error(err, name_of(s), sqlite3_errmsg(s->db));
        goto out;
    }
    rc = 0;
    goto out;
rollback:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    allot_buf_release(&create);
    return rc;
}

static void sqlite_close(struct allot__ledger_store *s)
{
    size_t k;

    if (!s)
        return;
    for (k = 0; k < N_SIZES; k++) {
        sqlite3_finalize(s->insert[k].st);
        free(s->insert[k].bound);
    }
    sqlite3_finalize(s->insert_event);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        allot_log_error("ledger '%s': closing: %s", name_of(s), sqlite3_errmsg(s->db));
    free(s);
}

/* SQLite's memory statistics take a global mutex on every allocation and
 * free (several a row); allot reads none of them. Only possible before
 * SQLite initializes: when something in the process opened a database
 * first, the call is refused and the statistics stay on. */
static void memstatus_off(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sqlite_open(struct allot_ledger *l, const char *path, struct allot__ledger_store **out,
                       struct allot_buf *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct allot__ledger_store *s = calloc(1, sizeof *s);
    int rc;

    pthread_once(&once, memstatus_off);
    if (!s)
        return store_error(err, allot__ledger_name(l), "out of memory");
    s->l = l;
    /* NOMUTEX: the connection is the writer thread's alone (opened and
     * closed around it), so SQLite's per-call locking of it is waste: two
     * mutex operations for every bind of every column of every row. */
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = store_error(err, name_of(s), s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if ((rc = setup_store(s, err)))
        goto fail;
    *out = s;
    return 0;
fail:
    sqlite_close(s);
    return rc;
}

/* Bind e's columns to the parameters of st from first + 1 on, those whose
 * value differs from what bd says they hold (struct bound). */
static int bind_row(sqlite3_stmt *st, struct bound *bd, const struct allot_ledger_entry *e,
                    int first)
{
    const char *src_base = (const char *)e;
    char *dst_base = (char *)&bd->v;
    int known = bd->valid;
    size_t i, n;
    int rc = SQLITE_OK;

    bd->valid = 0; /* until every parameter is bound again */
    for (i = 0; i < N_COLUMNS && rc == SQLITE_OK; i++) {
        const struct allot__ledger_column *c = &columns[i];
        const char *src = src_base + c->off, *t;
        char *dst = dst_base + c->off;
        int idx = first + (int)i + 1;
        int v;
        int64_t v64;
        double d;

        switch (c->type) {
        case COL_TEXT:
            /* the whole field, bytes after the NUL too: one comparison,
             * no strnlen for a field that did not change */
            if (known && !memcmp(dst, src, c->size))
                break;
            memcpy(dst, src, c->size);
            /* strnlen: a field the caller filled to the brim is still safe */
            n = strnlen(dst, c->size);
            rc = sqlite3_bind_text(st, idx, dst, (int)n, SQLITE_STATIC);
            break;
        case COL_HEAP_TEXT:
            t = allot__ledger_text(e, c, &n);
            if (n == 0)
                t = empty_text;
            if (known && t == empty_text && !memcmp(dst, &t, sizeof t))
                break;
            memcpy(dst, &t, sizeof t);
            rc = sqlite3_bind_text(st, idx, t, (int)n, SQLITE_STATIC);
            break;
        case COL_INT64:
            if (known && !memcmp(dst, src, sizeof v64))
                break;
            memcpy(dst, src, sizeof v64);
            memcpy(&v64, src, sizeof v64);
            rc = sqlite3_bind_int64(st, idx, v64);
            break;
        case COL_INT:
            if (known && !memcmp(dst, src, sizeof v))
                break;
            memcpy(dst, src, sizeof v);
            memcpy(&v, src, sizeof v);
            rc = sqlite3_bind_int(st, idx, v);
            break;
        case COL_REAL:
            /* the bits, not ==, so no value passes for another (-0.0 == 0.0) */
            if (known && !memcmp(dst, src, sizeof d))
                break;
            memcpy(dst, src, sizeof d);
            memcpy(&d, src, sizeof d);
            rc = sqlite3_bind_double(st, idx, d);
            break;
        }
    }
    bd->valid = rc == SQLITE_OK;
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

/* Run a statement without results (BEGIN, COMMIT): SQLITE_OK or the
 * error, which sqlite3_errmsg() then describes. */
static int run_stmt(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int reset = sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : reset != SQLITE_OK ? reset : rc;
}

static int begin_txn(struct allot__ledger_store *s)
{
    return run_stmt(s->begin) == SQLITE_OK;
}

/* One batch's write in progress (sqlite_write()). */
struct batch {
    struct allot__ledger_store *s;
    uint64_t pending, ok, bad, skipped;
    int in_txn, give_up;
};

/* After a statement that failed: if the error ended the transaction
 * (SQLite rolls back on some, such as SQLITE_FULL), the rows it held are
 * lost too, and the next row begins a new one. */
static void after_failure(struct batch *b)
{
    if (!sqlite3_get_autocommit(b->s->db))
        return;
    if (b->pending)
        allot__ledger_failed(b->s->l, b->pending, "transaction rolled back");
    b->bad += b->pending;
    b->pending = 0;
    b->in_txn = 0;
}

/* Is a transaction open, beginning one if need be? When one cannot even
 * begin (the lock is held past busy_timeout), the rest of the batch is
 * dropped at once rather than waiting busy_timeout again for every row. */
static int in_txn(struct batch *b, uint64_t rows)
{
    if (!b->give_up && !b->in_txn && !(b->in_txn = begin_txn(b->s)))
        b->give_up = 1;
    if (b->give_up)
        b->skipped += rows;
    return !b->give_up;
}

/* Write an event with its own statement. */
static void put_event(struct batch *b, const struct allot_ledger_entry *e)
{
    sqlite3_stmt *st = b->s->insert_event;
    int rc;

    if (!in_txn(b, 1))
        return;
    rc = bind_event(st, e);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        b->pending++;
        return;
    }
    b->bad++;
    allot__ledger_failed(b->s->l, 1, sqlite3_errmsg(b->s->db));
    after_failure(b);
}

/* Write the 2^k request rows of rows with one statement; when it fails
 * and they are several, each row again on its own, so only the rows at
 * fault are lost. */
static void put_rows(struct batch *b, const struct allot_ledger_entry *const *rows, size_t k)
{
    struct insert *ins = &b->s->insert[k];
    sqlite3_stmt *st = ins->st;
    size_t r, n = (size_t)1 << k;
    int rc = SQLITE_OK;

    if (!in_txn(b, n))
        return;
    for (r = 0; r < n && rc == SQLITE_OK; r++)
        rc = bind_row(st, &ins->bound[r], rows[r], (int)(r * N_COLUMNS));
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        b->pending += n;
        return;
    }
    if (n == 1) {
        b->bad++;
        allot__ledger_failed(b->s->l, 1, sqlite3_errmsg(b->s->db));
        after_failure(b);
        return;
    }
    after_failure(b);
    for (r = 0; r < n; r++)
        put_rows(b, rows + r, 0);
}

/* Write a run of n <= MANY_ROWS request rows: a statement for each
 * binary digit of n, the largest first, so the rows keep their order. */
static void put_run(struct batch *b, const struct allot_ledger_entry *const *rows, size_t n)
{
    size_t k = N_SIZES;

    while (k-- > 0) {
        if (n & ((size_t)1 << k)) {
            put_rows(b, rows, k);
            rows += (size_t)1 << k;
        }
    }
}

/* Write rows in one transaction: request rows MANY_ROWS to a statement
 * where they come in a run, the rest of a run in fewer (put_run()),
 * events one by one. A statement error that ends the transaction loses
 * the rows inserted before it too; the remaining rows go into a new
 * transaction. */
static void sqlite_write(struct allot__ledger_store *s, const struct allot__ledger_chunk *list,
                         uint64_t *written, uint64_t *failed)
{
    struct batch b = {s, 0, 0, 0, 0, 0, 0};
    const struct allot_ledger_entry *run[MANY_ROWS];
    const struct allot__ledger_chunk *c;
    struct allot_ledger *l = s->l;
    size_t i, n_run = 0;

    for (c = list; c; c = c->next) {
        for (i = 0; i < c->n; i++) {
            const struct allot_ledger_entry *e = &c->rows[i];
            if (e->event[0]) { /* a run ends here: its rows first, in order */
                put_run(&b, run, n_run);
                n_run = 0;
                put_event(&b, e);
                continue;
            }
            run[n_run++] = e;
            if (n_run == MANY_ROWS) {
                put_run(&b, run, n_run);
                n_run = 0;
            }
        }
    }
    put_run(&b, run, n_run);
    if (b.skipped) {
        allot__ledger_failed(l, b.skipped, sqlite3_errmsg(s->db));
        b.bad += b.skipped;
    }
    if (b.in_txn) {
        if (run_stmt(s->commit) == SQLITE_OK) {
            b.ok += b.pending;
        } else {
            allot__ledger_failed(l, b.pending, sqlite3_errmsg(s->db));
            if (!sqlite3_get_autocommit(s->db))
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            b.bad += b.pending;
        }
    }
    *written = b.ok;
    *failed = b.bad;
}

const struct allot__ledger_backend allot__ledger_sqlite = {"SQLite", sqlite_open, sqlite_write,
                                                           sqlite_close};
