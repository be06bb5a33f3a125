/* ledger_pg.c: the ledger's PostgreSQL store (internal.h), for several
 * allot instances sharing one ledger.
 *
 * DESIGN: libpq in blocking mode on the ledger's writer thread, which owns
 * the connection from open to close; no event loop ever waits on it.
 *
 * A batch is one transaction: its request rows go into a session-local
 * temporary table with one COPY (text format, rows escaped by
 * allot__pg_copy_text), then into requests with INSERT ... SELECT ... ON
 * CONFLICT (id) DO NOTHING; its events (rare) with a second COPY. The
 * temporary table makes a batch safe to write twice: when the connection
 * drops during COMMIT, allot cannot know whether the commit happened, so
 * it writes the batch again and the rows already there are skipped. (An
 * event has no natural key, so in that one case it may be written twice.)
 *
 * When the connection is lost (the server restarted, the network broke)
 * the writer keeps the batch, reconnects with a backoff of 100 ms doubling
 * to 5 s, and writes it again; rows that arrive meanwhile wait in the
 * ledger's queue (65,536 rows; appends fail past that). The loss and the
 * recovery are logged once each. Any other error (a refused statement, a
 * permission) drops the batch and is reported like a SQLite write error.
 * A close gives the server ALLOT__LEDGER_CLOSE_GRACE_MS to come back.
 *
 * The schema is created or upgraded under a transaction-scoped advisory
 * lock, so instances starting together do not race on CREATE TABLE. The
 * version lives in the one-row table allot_meta. */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "allot/log.h"
#include "allot/store_url.h"
#include "allot/utf8.h"
#include "internal.h"

#define COPY_FLUSH (256u * 1024u) /* send COPY data in pieces of this size */
#define COPY_BUF_MAX (4u << 20)   /* one row is at most ~100 KB escaped */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define SCHEMA_LOCK "7809644977405146228" /* pg_advisory_xact_lock key, allot's own */
#define WHY_MAX 768

struct allot__ledger_store {
    struct allot_ledger *l;
    const char *url;       /* the ledger's, for libpq and the scrubber */
    PGconn *conn;          /* NULL while disconnected */
    struct allot_buf sql;  /* COPY and merge statements, built once */
    size_t merge_at;       /* offset of the merge statement in sql */
    struct allot_buf copy; /* a COPY's data, sent in pieces */
    char why[WHY_MAX];     /* the last error, one line, no password */
    int down;              /* connection lost and not yet back (logged) */
    uint64_t down_us;      /* since when */
};

#define N_COLUMNS allot__ledger_n_columns
#define columns allot__ledger_columns

static const char *name_of(const struct allot__ledger_store *s)
{
    return allot__ledger_name(s->l);
}

/* PostgreSQL's type for a column; the constraints follow the first word of
 * the SQLite declaration ("INTEGER NOT NULL DEFAULT 0"). */
static const char *pg_type(enum allot__col_type t)
{
    switch (t) {
    case COL_INT64:
        return "BIGINT";
    case COL_INT:
        return "INTEGER";
    case COL_REAL:
        return "DOUBLE PRECISION";
    case COL_TEXT:
    case COL_HEAP_TEXT:
        break;
    }
    return "TEXT";
}

static const char *decl_tail(const char *decl)
{
    const char *sp = strchr(decl, ' ');
    return sp ? sp : "";
}

/* libpq's message as one line, without the password. */
static void set_why(struct allot__ledger_store *s, const char *msg)
{
    char line[WHY_MAX];
    size_t o = 0;
    const char *p;

    for (p = msg ? msg : ""; *p && o + 3 < sizeof line; p++) {
        if (*p == '\n') {
            while (p[1] == '\t' || p[1] == ' ')
                p++;
            while (o && line[o - 1] == '.')
                o--; /* "...request.; ..." reads badly */
            if (p[1] && o)
                line[o++] = ';', line[o++] = ' ';
        } else {
            line[o++] = *p == '\t' || *p == '\r' ? ' ' : *p;
        }
    }
    while (o && (line[o - 1] == ' ' || line[o - 1] == '.'))
        o--;
    line[o] = '\0';
    allot_store_scrub(s->url, o ? line : "unknown error", s->why, sizeof s->why);
}

/* Lost connection or a condition that passes (server shutting down or
 * starting, out of resources, a serialization failure): worth a retry. */
static int transient(const struct allot__ledger_store *s, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK || !state)
        return 1;
    return !strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strncmp(state, "53", 2) ||
           !strncmp(state, "40", 2);
}

/* 0 when r has status want; else the error in s->why and *retry set. */
static int check(struct allot__ledger_store *s, PGresult *r, ExecStatusType want, int *retry)
{
    if (r && PQresultStatus(r) == want)
        return 0;
    set_why(s, r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
    *retry = transient(s, r);
    return -1;
}

static int run(struct allot__ledger_store *s, const char *sql, ExecStatusType want, int *retry)
{
    PGresult *r = PQexec(s->conn, sql);
    int rc = check(s, r, want, retry);
    PQclear(r);
    return rc;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg; /* "relation already exists, skipping" is no news */
    (void)message;
}

/* Connect. Defaults first so the URI overrides them, except the client
 * encoding: rows are UTF-8 (allot__pg_copy_text makes them so). */
static int connect_db(struct allot__ledger_store *s)
{
    static const char *const keys[] = {
        "connect_timeout",  "application_name", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "dbname",           "client_encoding", NULL};
    const char *vals[] = {"5", "allot", "30", "10", "3", s->url, "UTF8", NULL};

    s->conn = PQconnectdbParams(keys, vals, 1);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        set_why(s, s->conn ? PQerrorMessage(s->conn) : "out of memory");
        PQfinish(s->conn);
        s->conn = NULL;
        return -1;
    }
    PQsetNoticeProcessor(s->conn, quiet_notices, NULL);
    return 0;
}

static void disconnect(struct allot__ledger_store *s)
{
    PQfinish(s->conn);
    s->conn = NULL;
}

/* The batch table of this session: it dies with the connection. */
static int session_setup(struct allot__ledger_store *s, int *retry)
{
    return run(s,
               "CREATE TEMP TABLE IF NOT EXISTS allot_batch (LIKE requests INCLUDING DEFAULTS)"
               " ON COMMIT DELETE ROWS",
               PGRES_COMMAND_OK, retry);
}

/* Which columns requests has: have[i] for columns[i]. */
static int existing_columns(struct allot__ledger_store *s, unsigned char *have, int *retry)
{
    PGresult *r = PQexec(s->conn, "SELECT column_name FROM information_schema.columns"
                                  " WHERE table_schema = current_schema()"
                                  " AND table_name = 'requests'");
    int rc = check(s, r, PGRES_TUPLES_OK, retry), row;
    size_t i;

    for (row = 0; rc == 0 && row < PQntuples(r); row++) {
        const char *name = PQgetvalue(r, row, 0);
        for (i = 0; i < N_COLUMNS; i++) {
            const char *c = columns[i].name;
            size_t n = strlen(c);
            if (c[0] == '"' ? (strlen(name) == n - 2 && !strncmp(name, c + 1, n - 2))
                            : !strcmp(name, c))
                have[i] = 1;
        }
    }
    PQclear(r);
    return rc;
}

/* Create or upgrade the schema in one transaction. */
static int setup_schema(struct allot__ledger_store *s, struct allot_buf *err)
{
    struct allot_buf sql;
    unsigned char *have = calloc(N_COLUMNS, 1);
    PGresult *r = NULL;
    int rc = ALLOT_ESTORE, retry, version = 0;
    size_t i;

    allot_buf_init(&sql, 64 * 1024);
    if (!have) {
        snprintf(s->why, sizeof s->why, "out of memory");
        goto out;
    }
    if (run(s, "BEGIN", PGRES_COMMAND_OK, &retry) ||
        run(s, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", PGRES_TUPLES_OK, &retry) ||
        run(s, "CREATE TABLE IF NOT EXISTS allot_meta (version INTEGER NOT NULL)", PGRES_COMMAND_OK,
            &retry))
        goto out;
    r = PQexec(s->conn, "SELECT max(version) FROM allot_meta");
    if (check(s, r, PGRES_TUPLES_OK, &retry))
        goto out;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        version = atoi(PQgetvalue(r, 0, 0));
    if (version > ALLOT__LEDGER_SCHEMA_VERSION) {
        snprintf(s->why, sizeof s->why,
                 "schema version %d is newer than this allot understands (%d)", version,
                 ALLOT__LEDGER_SCHEMA_VERSION);
        goto out;
    }
    allot_buf_adds(&sql, "CREATE TABLE IF NOT EXISTS requests (");
    for (i = 0; i < N_COLUMNS; i++)
        allot_buf_addf(&sql, "%s%s %s%s", i ? ", " : "", columns[i].name, pg_type(columns[i].type),
                       decl_tail(columns[i].decl));
    if (allot_buf_adds(&sql, ")")) {
        snprintf(s->why, sizeof s->why, "out of memory");
        goto out;
    }
    if (run(s, allot_buf_cstr(&sql), PGRES_COMMAND_OK, &retry) || existing_columns(s, have, &retry))
        goto out;
    for (i = 0; i < N_COLUMNS; i++) {
        if (have[i])
            continue;
        allot_buf_reset(&sql);
        allot_buf_addf(&sql, "ALTER TABLE requests ADD COLUMN IF NOT EXISTS %s %s%s",
                       columns[i].name, pg_type(columns[i].type), decl_tail(columns[i].decl));
        if (run(s, allot_buf_cstr(&sql), PGRES_COMMAND_OK, &retry))
            goto out;
    }
    if (run(s, ALLOT__LEDGER_INDEX_TS, PGRES_COMMAND_OK, &retry) ||
        run(s, ALLOT__LEDGER_INDEX_AUDIT, PGRES_COMMAND_OK, &retry) ||
        run(s,
            "CREATE TABLE IF NOT EXISTS events ("
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
            " ts_ms BIGINT NOT NULL DEFAULT 0, kind TEXT NOT NULL DEFAULT '',"
            " subject TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '')",
            PGRES_COMMAND_OK, &retry) ||
        run(s, ALLOT__LEDGER_INDEX_EVENTS, PGRES_COMMAND_OK, &retry))
        goto out;
    if (version != ALLOT__LEDGER_SCHEMA_VERSION) {
        char set[96];
        snprintf(set, sizeof set, "INSERT INTO allot_meta (version) VALUES (%d)",
                 ALLOT__LEDGER_SCHEMA_VERSION);
        if (run(s, "DELETE FROM allot_meta", PGRES_COMMAND_OK, &retry) ||
            run(s, set, PGRES_COMMAND_OK, &retry))
            goto out;
    }
    if (run(s, "COMMIT", PGRES_COMMAND_OK, &retry))
        goto out;
    rc = 0;
out:
    if (rc && err)
        allot_buf_addf(err, "ledger '%s': %s", name_of(s), s->why);
    if (rc && s->conn && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    PQclear(r);
    free(have);
    allot_buf_release(&sql);
    return rc;
}

/* "COPY allot_batch (cols) FROM STDIN" then, at merge_at, the INSERT that
 * moves the batch into requests. */
static int build_statements(struct allot__ledger_store *s)
{
    struct allot_buf cols;
    int rc = 0;
    size_t i;

    allot_buf_init(&cols, 16 * 1024);
    for (i = 0; i < N_COLUMNS; i++)
        rc |= allot_buf_addf(&cols, "%s%s", i ? "," : "", columns[i].name);
    rc |= allot_buf_addf(&s->sql, "COPY allot_batch (%s) FROM STDIN", allot_buf_cstr(&cols));
    s->merge_at = s->sql.len + 1;
    rc |= allot_buf_add(&s->sql, "", 1); /* the NUL that ends the COPY statement */
    rc |= allot_buf_addf(&s->sql,
                         "INSERT INTO requests (%s) SELECT %s FROM allot_batch"
                         " ON CONFLICT (id) DO NOTHING",
                         allot_buf_cstr(&cols), allot_buf_cstr(&cols));
    allot_buf_release(&cols);
    return rc ? ALLOT_ENOMEM : 0;
}

int allot__pg_copy_text(struct allot_buf *b, const char *s, size_t n)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run_start = 0, len;
    int rc = 0;

    while (i < n && !rc) {
        unsigned char c = p[i];
        const char *esc = c == '\\'   ? "\\\\"
                          : c == '\t' ? "\\t"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                                      : NULL;
        if (esc) {
            rc = allot_buf_add(b, s + run_start, i - run_start);
            if (!rc)
                rc = allot_buf_add(b, esc, 2);
            run_start = ++i;
        } else if (c < 0x80) {
            i++;
        } else if ((len = allot_utf8_seq_len(p + i, n - i)) > 0) {
            i += len;
        } else {
            rc = allot_buf_add(b, s + run_start, i - run_start);
            if (!rc)
                rc = allot_buf_add(b, fffd, 3);
            run_start = ++i;
        }
    }
    if (!rc)
        rc = allot_buf_add(b, s + run_start, i - run_start);
    return rc;
}

static int copy_real(struct allot_buf *b, double d)
{
    if (isnan(d))
        return allot_buf_adds(b, "NaN");
    if (isinf(d))
        return allot_buf_adds(b, d > 0 ? "Infinity" : "-Infinity");
    return allot_buf_addf(b, "%.17g", d);
}

/* One request row as a COPY line. */
static int copy_row(struct allot_buf *b, const struct allot_ledger_entry *e)
{
    const char *base = (const char *)e;
    size_t i, n;
    int rc = 0;

    for (i = 0; i < N_COLUMNS && !rc; i++) {
        const struct allot__ledger_column *c = &columns[i];
        const char *t;
        int64_t v64;
        int v;
        double d;

        if (i)
            rc = allot_buf_add(b, "\t", 1);
        switch (c->type) {
        case COL_TEXT:
        case COL_HEAP_TEXT:
            t = allot__ledger_text(e, c, &n);
            rc = rc ? rc : allot__pg_copy_text(b, t, n);
            break;
        case COL_INT64:
            memcpy(&v64, base + c->off, sizeof v64);
            rc = rc ? rc : allot_buf_addf(b, "%lld", (long long)v64);
            break;
        case COL_INT:
            memcpy(&v, base + c->off, sizeof v);
            rc = rc ? rc : allot_buf_addf(b, "%d", v);
            break;
        case COL_REAL:
            memcpy(&d, base + c->off, sizeof d);
            rc = rc ? rc : copy_real(b, d);
            break;
        }
    }
    return rc ? rc : allot_buf_add(b, "\n", 1);
}

/* An event (allot_ledger_event()) as a COPY line of events. */
static int copy_event(struct allot_buf *b, const struct allot_ledger_entry *e)
{
    int rc = allot_buf_addf(b, "%lld\t", (long long)e->ts_ms);
    rc = rc ? rc : allot__pg_copy_text(b, e->event, strnlen(e->event, sizeof e->event));
    rc = rc ? rc : allot_buf_add(b, "\t", 1);
    rc = rc ? rc : allot__pg_copy_text(b, e->category, strnlen(e->category, sizeof e->category));
    rc = rc ? rc : allot_buf_add(b, "\t", 1);
    rc = rc ? rc : allot__pg_copy_text(b, e->explain, strnlen(e->explain, sizeof e->explain));
    return rc ? rc : allot_buf_add(b, "\n", 1);
}

/* COPY the batch's events (events != 0) or request rows with sql. */
static int copy_in(struct allot__ledger_store *s, const char *sql,
                   const struct allot__ledger_chunk *list, int events, int *retry)
{
    const struct allot__ledger_chunk *c;
    PGresult *r;
    size_t i;
    int rc = 0, sent = 1, stuck;

    if (run(s, sql, PGRES_COPY_IN, retry))
        return -1;
    allot_buf_reset(&s->copy);
    for (c = list; c && !rc && sent; c = c->next) {
        for (i = 0; i < c->n && !rc && sent; i++) {
            if (!c->rows[i].event[0] != !events) /* not of this COPY */
                continue;
            rc = events ? copy_event(&s->copy, &c->rows[i]) : copy_row(&s->copy, &c->rows[i]);
            if (!rc && s->copy.len >= COPY_FLUSH) {
                sent = PQputCopyData(s->conn, s->copy.ptr, (int)s->copy.len) == 1;
                allot_buf_reset(&s->copy);
            }
        }
    }
    if (sent && s->copy.len)
        sent = PQputCopyData(s->conn, s->copy.ptr, (int)s->copy.len) == 1;
    allot_buf_reset(&s->copy);
    /* an unsendable row ends the COPY with an error: nothing of it stays */
    if (sent)
        sent = PQputCopyEnd(s->conn, rc ? "allot: a row too large to copy" : NULL) == 1;
    if (!sent) { /* the connection broke under the COPY: a new one will do it */
        set_why(s, PQerrorMessage(s->conn));
        *retry = 1;
        return -1;
    }
    r = PQgetResult(s->conn);
    if (check(s, r, PGRES_COMMAND_OK, retry))
        rc = -1;
    /* Still in COPY after its end was sent: libpq could not finish it, and
     * asking again would answer the same forever. Only a new connection
     * gets out of that. */
    stuck = r && PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    while (!stuck && (r = PQgetResult(s->conn)) != NULL) { /* the end of the command */
        stuck = PQresultStatus(r) == PGRES_COPY_IN;
        PQclear(r);
    }
    if (stuck)
        *retry = 1;
    return rc ? -1 : 0;
}

static int write_once(struct allot__ledger_store *s, const struct allot__ledger_chunk *list,
                      int *retry)
{
    const struct allot__ledger_chunk *c;
    size_t i, n_rows = 0, n_events = 0;

    *retry = 0;
    for (c = list; c; c = c->next)
        for (i = 0; i < c->n; i++)
            *(c->rows[i].event[0] ? &n_events : &n_rows) += 1;
    if (run(s, "BEGIN", PGRES_COMMAND_OK, retry))
        goto fail;
    if (n_rows && (copy_in(s, allot_buf_cstr(&s->sql), list, 0, retry) ||
                   run(s, s->sql.ptr + s->merge_at, PGRES_COMMAND_OK, retry)))
        goto fail;
    if (n_events &&
        copy_in(s, "COPY events (ts_ms, kind, subject, detail) FROM STDIN", list, 1, retry))
        goto fail;
    if (run(s, "COMMIT", PGRES_COMMAND_OK, retry))
        goto fail;
    return 0;
fail:
    /* a connection to retry on is dropped by the caller, which ends its
     * transaction; one that stays must be left clean */
    if (!*retry && PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    return -1;
}

static void note_down(struct allot__ledger_store *s, uint64_t rows)
{
    if (s->down)
        return;
    s->down = 1;
    s->down_us = allot_clock_mono_us();
    allot_log_error("ledger '%s': PostgreSQL connection lost: %s; keeping the %llu rows of this "
                    "batch and those queued behind it, reconnecting",
                    name_of(s), s->why, (unsigned long long)rows);
}

static void note_up(struct allot__ledger_store *s)
{
    if (!s->down)
        return;
    s->down = 0;
    allot_log_warn("ledger '%s': PostgreSQL connection back after %.1f s; the rows kept are "
                   "written",
                   name_of(s), (double)(allot_clock_mono_us() - s->down_us) / 1e6);
}

static void pg_write(struct allot__ledger_store *s, const struct allot__ledger_chunk *list,
                     uint64_t *written, uint64_t *failed)
{
    const struct allot__ledger_chunk *c;
    uint64_t n = 0;
    long backoff = BACKOFF_MIN_MS;
    int retry = 0;

    for (c = list; c; c = c->next)
        n += c->n;
    for (;;) {
        if (!s->conn) {
            if (allot__ledger_pause(s->l, 0))
                break; /* closing, and the grace is over */
            if (connect_db(s) || session_setup(s, &retry)) {
                disconnect(s);
                note_down(s, n);
                if (allot__ledger_pause(s->l, backoff))
                    break;
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
        }
        if (write_once(s, list, &retry) == 0) {
            note_up(s);
            *written = n;
            *failed = 0;
            return;
        }
        if (!retry) {
            allot__ledger_failed(s->l, n, s->why);
            *written = 0;
            *failed = n;
            return;
        }
        note_down(s, n);
        disconnect(s); /* the next attempt starts from a new connection */
        if (allot__ledger_pause(s->l, backoff))
            break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    {
        char why[WHY_MAX + 64];
        snprintf(why, sizeof why, "PostgreSQL still unreachable %d s after close began (%s)",
                 ALLOT__LEDGER_CLOSE_GRACE_MS / 1000, s->why);
        allot__ledger_failed(s->l, n, why);
    }
    *written = 0;
    *failed = n;
}

static void pg_close(struct allot__ledger_store *s)
{
    if (!s)
        return;
    disconnect(s);
    allot_buf_release(&s->sql);
    allot_buf_release(&s->copy);
    free(s);
}

static int pg_open(struct allot_ledger *l, const char *url, struct allot__ledger_store **out,
                   struct allot_buf *err)
{
    struct allot__ledger_store *s = calloc(1, sizeof *s);
    int rc = ALLOT_ESTORE, retry;

    if (!s) {
        allot_buf_addf(err, "ledger '%s': out of memory", allot__ledger_name(l));
        return ALLOT_ENOMEM;
    }
    s->l = l;
    s->url = url;
    allot_buf_init(&s->sql, 64 * 1024);
    allot_buf_init(&s->copy, COPY_BUF_MAX);
    if (build_statements(s)) {
        allot_buf_addf(err, "ledger '%s': out of memory", name_of(s));
        rc = ALLOT_ENOMEM;
        goto fail;
    }
    if (connect_db(s)) {
        allot_buf_addf(err, "ledger '%s': cannot connect: %s", name_of(s), s->why);
        goto fail;
    }
    if ((rc = setup_schema(s, err)))
        goto fail;
    if (session_setup(s, &retry)) {
        allot_buf_addf(err, "ledger '%s': %s", name_of(s), s->why);
        rc = ALLOT_ESTORE;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    pg_close(s);
    return rc;
}

const struct allot__ledger_backend allot__ledger_pg = {"PostgreSQL", pg_open, pg_write, pg_close};
