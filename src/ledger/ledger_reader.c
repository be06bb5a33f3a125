/* ledger_reader.c: one read-only snapshot of the ledger, SQLite or
 * PostgreSQL behind the same calls (ledger_reader.h).
 *
 * SQLite: the file opened read-only, one BEGIN (WAL readers do not block
 * the writer). PostgreSQL: one connection in a REPEATABLE READ READ ONLY
 * transaction, results fetched in single-row mode so a scan of many rows
 * (the report's latencies) streams instead of landing in memory. */
#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "allot/error.h"
#include "allot/ledger_reader.h"
#include "allot/store_url.h"

struct allot_ledger_reader {
    char name[ALLOT_STORE_NAME_MAX];
    const char *url; /* PostgreSQL: the URI, for scrubbing messages */
    sqlite3 *db;     /* one of db and conn */
    sqlite3_stmt *st;
    PGconn *conn;
    PGresult *row; /* the current row (single-row mode) */
    int busy;      /* a PostgreSQL query has results left to read */
};

static int fail(struct allot_ledger_reader *r, struct allot_buf *err, const char *why)
{
    char line[1024], clean[1024];
    size_t o = 0;
    const char *p;

    /* libpq's messages run over several lines */
    for (p = why ? why : "unknown error"; *p && o + 3 < sizeof line; p++) {
        if (*p == '\n') {
            while (p[1] == '\t' || p[1] == ' ')
                p++;
            if (p[1] && o)
                line[o++] = ';', line[o++] = ' ';
        } else {
            line[o++] = *p == '\t' ? ' ' : *p;
        }
    }
    line[o] = '\0';
    if (err)
        allot_buf_addf(err, "ledger '%s': %s", r->name,
                       allot_store_scrub(r->url, line, clean, sizeof clean));
    return ALLOT_ESTORE;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_begin(struct allot_ledger_reader *r, const char *url, struct allot_buf *err)
{
    static const char *const keys[] = {"connect_timeout", "application_name", "dbname",
                                       "client_encoding", NULL};
    const char *vals[] = {"10", "allot report", url, "UTF8", NULL};
    PGresult *res;
    int rc = 0;

    r->url = url;
    r->conn = PQconnectdbParams(keys, vals, 1);
    if (!r->conn || PQstatus(r->conn) != CONNECTION_OK) {
        char why[1100];
        snprintf(why, sizeof why, "cannot connect: %s",
                 r->conn ? PQerrorMessage(r->conn) : "out of memory");
        return fail(r, err, why);
    }
    PQsetNoticeProcessor(r->conn, quiet_notices, NULL);
    res = PQexec(r->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail(r, err, PQerrorMessage(r->conn));
    PQclear(res);
    return rc;
}

static int sqlite_begin(struct allot_ledger_reader *r, const char *path, struct allot_buf *err)
{
    struct stat sb;

    if (stat(path, &sb) != 0) {
        if (err && errno == ENOENT)
            allot_buf_addf(err, "ledger '%s' does not exist (run `allot serve` first)", r->name);
        else if (err)
            allot_buf_addf(err, "ledger '%s': %s", r->name, strerror(errno));
        return ALLOT_ESTORE;
    }
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return fail(r, err, r->db ? sqlite3_errmsg(r->db) : "out of memory");
    sqlite3_busy_timeout(r->db, 5000);
    /* One read transaction: every query sees the same snapshot. */
    if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return fail(r, err, sqlite3_errmsg(r->db));
    return 0;
}

int allot_ledger_reader_open(const char *store, struct allot_ledger_reader **out,
                             struct allot_buf *err)
{
    struct allot_ledger_reader *r = calloc(1, sizeof *r);
    int rc;

    if (!r) {
        if (err)
            allot_buf_addf(err, "ledger: out of memory");
        return ALLOT_ENOMEM;
    }
    allot_store_redact(store, r->name, sizeof r->name);
    rc = allot_store_is_postgres(store) ? pg_begin(r, store, err) : sqlite_begin(r, store, err);
    if (rc) {
        allot_ledger_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

const char *allot_ledger_reader_name(const struct allot_ledger_reader *r)
{
    return r->name;
}

/* Read and drop what is left of a PostgreSQL query. */
static void pg_finish(struct allot_ledger_reader *r)
{
    PGresult *res;
    PQclear(r->row);
    r->row = NULL;
    while (r->busy && (res = PQgetResult(r->conn)) != NULL)
        PQclear(res);
    r->busy = 0;
}

int allot_ledger_reader_query(struct allot_ledger_reader *r, const char *sql, struct allot_buf *err)
{
    if (r->conn) {
        pg_finish(r);
        if (!PQsendQuery(r->conn, sql))
            return fail(r, err, PQerrorMessage(r->conn));
        r->busy = 1;
        if (!PQsetSingleRowMode(r->conn)) {
            pg_finish(r);
            return fail(r, err, "cannot read rows one at a time");
        }
        return 0;
    }
    sqlite3_finalize(r->st);
    r->st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &r->st, NULL) != SQLITE_OK)
        return fail(r, err, sqlite3_errmsg(r->db));
    return 0;
}

int allot_ledger_reader_next(struct allot_ledger_reader *r, struct allot_buf *err)
{
    int step, rc;

    if (r->conn) {
        PGresult *res;
        PQclear(r->row);
        r->row = NULL;
        if (!r->busy)
            return 0;
        res = PQgetResult(r->conn);
        switch (res ? PQresultStatus(res) : PGRES_TUPLES_OK) {
        case PGRES_SINGLE_TUPLE:
            r->row = res;
            return 1;
        case PGRES_TUPLES_OK: /* the end of the rows */
            PQclear(res);
            pg_finish(r);
            return 0;
        default:
            rc = fail(r, err, PQresultErrorMessage(res));
            PQclear(res);
            pg_finish(r);
            return rc;
        }
    }
    if (!r->st)
        return 0;
    step = sqlite3_step(r->st);
    if (step == SQLITE_ROW)
        return 1;
    if (step == SQLITE_DONE)
        return 0;
    return fail(r, err, sqlite3_errmsg(r->db));
}

const char *allot_ledger_reader_text(struct allot_ledger_reader *r, int col)
{
    const unsigned char *s;
    if (r->conn)
        return r->row && col < PQnfields(r->row) ? PQgetvalue(r->row, 0, col) : "";
    s = r->st ? sqlite3_column_text(r->st, col) : NULL;
    return s ? (const char *)s : "";
}

int64_t allot_ledger_reader_int64(struct allot_ledger_reader *r, int col)
{
    if (r->conn) {
        /* a SUM of BIGINT is NUMERIC in PostgreSQL: "12" or "12.0" */
        const char *s = allot_ledger_reader_text(r, col);
        char *end;
        long long v = strtoll(s, &end, 10);
        return *end == '.' || *end == 'e' || *end == 'E' ? (int64_t)strtod(s, NULL) : (int64_t)v;
    }
    return r->st ? sqlite3_column_int64(r->st, col) : 0;
}

double allot_ledger_reader_double(struct allot_ledger_reader *r, int col)
{
    if (r->conn)
        return strtod(allot_ledger_reader_text(r, col), NULL);
    return r->st ? sqlite3_column_double(r->st, col) : 0;
}

int allot_ledger_reader_is_null(struct allot_ledger_reader *r, int col)
{
    if (r->conn)
        return !r->row || col >= PQnfields(r->row) || PQgetisnull(r->row, 0, col);
    return !r->st || sqlite3_column_type(r->st, col) == SQLITE_NULL;
}

int allot_ledger_reader_version(struct allot_ledger_reader *r, int *version, struct allot_buf *err)
{
    int rc, v = 0;

    if (r->conn) {
        PGresult *res;
        pg_finish(r);
        /* to_regclass: a database without the ledger is not an SQL error,
         * which would end the snapshot's transaction */
        res = PQexec(r->conn, "SELECT to_regclass('allot_meta') IS NOT NULL");
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            rc = fail(r, err, PQerrorMessage(r->conn));
            PQclear(res);
            return rc;
        }
        rc = strcmp(PQgetvalue(res, 0, 0), "t") != 0;
        PQclear(res);
        if (rc) {
            if (err)
                allot_buf_addf(err,
                               "ledger '%s' has no ledger tables (run `allot serve` with this "
                               "store first)",
                               r->name);
            return ALLOT_ESTORE;
        }
        if ((rc = allot_ledger_reader_query(r, "SELECT max(version) FROM allot_meta", err)))
            return rc;
    } else if ((rc = allot_ledger_reader_query(r, "PRAGMA user_version", err))) {
        return rc;
    }
    if ((rc = allot_ledger_reader_next(r, err)) < 0)
        return rc;
    if (rc == 1)
        v = (int)allot_ledger_reader_int64(r, 0);
    while ((rc = allot_ledger_reader_next(r, err)) == 1)
        ;
    if (rc < 0)
        return rc;
    *version = v;
    return 0;
}

int allot_ledger_reader_write_lines(const char *store, const struct allot_ledger_query *queries,
                                    size_t n_queries, const char *out_path, size_t limit,
                                    allot_ledger_line_cb cb, void *ctx, const char *none_why,
                                    size_t *n_written, struct allot_buf *err)
{
    struct allot_ledger_reader *rd = NULL;
    struct allot_buf line;
    FILE *f = NULL;
    size_t n = 0, q = 0;
    int rc, step = 0, version = 0;

    allot_buf_init(&line, 256u << 10); /* a 16 KB instruction escaped, with room */
    if ((rc = allot_ledger_reader_open(store, &rd, err)) ||
        (rc = allot_ledger_reader_version(rd, &version, err)))
        goto out;
    while (q < n_queries && queries[q].since > version)
        q++;
    if (q == n_queries) {
        allot_buf_addf(err,
                       "ledger '%s': schema version %d keeps no prompts (allot keeps them from "
                       "version %d, with store.keep_prompts)",
                       allot_ledger_reader_name(rd), version, queries[n_queries - 1].since);
        rc = ALLOT_EINVAL;
        goto out;
    }
    if ((rc = allot_ledger_reader_query(rd, queries[q].sql, err)))
        goto out;
    if (!(f = fopen(out_path, "w"))) {
        allot_buf_addf(err, "'%s': cannot write", out_path);
        rc = ALLOT_EIO;
        goto out;
    }
    while ((limit == 0 || n < limit) && (step = allot_ledger_reader_next(rd, err)) == 1) {
        int keep;
        allot_buf_reset(&line);
        if ((keep = cb(ctx, rd, &line)) < 0) {
            allot_buf_addf(err, "'%s': %s", out_path, allot_strerror(keep));
            rc = keep;
            goto out;
        }
        if (keep == 0)
            continue;
        if (fwrite(line.ptr, 1, line.len, f) != line.len) {
            allot_buf_addf(err, "'%s': cannot write", out_path);
            rc = ALLOT_EIO;
            goto out;
        }
        n++;
    }
    if (step < 0) {
        rc = step;
        goto out;
    }
    if (n == 0) {
        allot_buf_addf(err, "ledger '%s' %s", allot_ledger_reader_name(rd), none_why);
        rc = ALLOT_EINVAL;
    }
out:
    if (f && fclose(f) != 0 && !rc) {
        allot_buf_addf(err, "'%s': cannot write", out_path);
        rc = ALLOT_EIO;
    }
    allot_ledger_reader_close(rd);
    allot_buf_release(&line);
    *n_written = n;
    return rc;
}

void allot_ledger_reader_close(struct allot_ledger_reader *r)
{
    if (!r)
        return;
    if (r->conn) {
        pg_finish(r);
        PQfinish(r->conn); /* the read-only transaction ends with it */
    }
    sqlite3_finalize(r->st);
    sqlite3_close(r->db); /* ends the read transaction; NULL is a no-op */
    free(r);
}
