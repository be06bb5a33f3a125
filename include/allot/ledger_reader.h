/* ledger_reader.h: reading the ledger back with SQL, from a SQLite file
 * or PostgreSQL alike (`allot report`, `allot train outcomes
 * --from-ledger`).
 *
 * One read-only connection inside one snapshot: every query of a reader
 * sees the same rows while a gateway keeps writing. Queries are plain SQL
 * that both stores accept (no parameters: callers format their numbers
 * in, never text from input); rows are read one at a time, so a large
 * result is never held in memory whole. Values come back typed the way the
 * caller asks; NULL reads as "", 0 or 0.0. */
#ifndef ALLOT_LEDGER_READER_H
#define ALLOT_LEDGER_READER_H
#include <stdint.h>
#include "allot/buf.h"

struct allot_ledger_reader;

/* Open store (a SQLite path, or a PostgreSQL URI: store_url.h) for
 * reading. Errors: ALLOT_ESTORE with "ledger 'NAME' does not exist (run
 * `allot serve` first)" for a missing file, or "ledger 'NAME': why" (NAME
 * never shows a password); ALLOT_ENOMEM. */
int allot_ledger_reader_open(const char *store, struct allot_ledger_reader **out,
                             struct allot_buf *err);

/* The store's name for messages and reports: the path, or the URI with its
 * password replaced by "***". Owned by the reader. */
const char *allot_ledger_reader_name(const struct allot_ledger_reader *r);

/* The schema version (ledger.h): SQLite's user_version, PostgreSQL's
 * allot_meta. A PostgreSQL database without allot's tables is an error
 * ("has no ledger tables"). */
int allot_ledger_reader_version(struct allot_ledger_reader *r, int *version, struct allot_buf *err);

/* Start sql; then allot_ledger_reader_next() until it returns 0. A query
 * left unfinished is ended by the next query or by close. Errors:
 * ALLOT_ESTORE with "ledger 'NAME': why". */
int allot_ledger_reader_query(struct allot_ledger_reader *r, const char *sql,
                              struct allot_buf *err);
/* 1: a row is ready; 0: no more rows; < 0: ALLOT_ESTORE, why in err. */
int allot_ledger_reader_next(struct allot_ledger_reader *r, struct allot_buf *err);

/* Column col (from 0) of the current row. The text is valid until the
 * next call of allot_ledger_reader_next(). */
const char *allot_ledger_reader_text(struct allot_ledger_reader *r, int col);
int64_t allot_ledger_reader_int64(struct allot_ledger_reader *r, int col);
double allot_ledger_reader_double(struct allot_ledger_reader *r, int col);
int allot_ledger_reader_is_null(struct allot_ledger_reader *r, int col);

/* Makes the line of the current row of r: appends it to line (empty at
 * the call) and returns 1 to write it, 0 to skip the row, or a negative
 * ALLOT_E* to stop. */
typedef int (*allot_ledger_line_cb)(void *ctx, struct allot_ledger_reader *r,
                                    struct allot_buf *line);

/* A query and the oldest schema version whose columns it reads. */
struct allot_ledger_query {
    int since;
    const char *sql;
};

/* The kept instructions of store (store.keep_prompts) written out, the
 * step both `allot train outcomes --from-ledger` and `allot train kinds
 * --export-ledger` take: open store, run the first of queries[0..n) (n >= 1; the
 * newest schema's first) that the store's schema version has the columns
 * for, and write to out_path (created or truncated) the line cb makes of
 * each row, at most limit lines (0: all). *n_written gets the lines
 * written. A ledger older than every query (before version 4 there is no
 * prompt column) is ALLOT_EINVAL, "ledger 'NAME': schema version N keeps
 * no prompts ..."; no line written is ALLOT_EINVAL with "ledger 'NAME' "
 * and none_why in err. Other errors: those of allot_ledger_reader_open()
 * and _query(), ALLOT_EIO naming out_path, cb's ("'OUT': why"). On an
 * error out_path may hold part of the lines. */
int allot_ledger_reader_write_lines(const char *store, const struct allot_ledger_query *queries,
                                    size_t n_queries, const char *out_path, size_t limit,
                                    allot_ledger_line_cb cb, void *ctx, const char *none_why,
                                    size_t *n_written, struct allot_buf *err);

/* End the snapshot and close. NULL is a no-op. */
void allot_ledger_reader_close(struct allot_ledger_reader *r);

#endif
