/* internal.h: what the ledger's queue (ledger.c) shares with its stores,
 * SQLite (ledger_sqlite.c) and PostgreSQL (ledger_pg.c). Private to
 * src/ledger/ and the unit tests.
 *
 * The queue and the writer thread are the ledger's; a store only turns a
 * batch of rows into a transaction. A store is opened, written and closed
 * on the writer thread and nowhere else, so its connection (sqlite3 *,
 * PGconn *) has one owner for its whole life and never meets an event-loop
 * thread. */
#ifndef ALLOT_LEDGER_INTERNAL_H
#define ALLOT_LEDGER_INTERNAL_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"
#include "allot/ledger.h"

/* The schema version both stores record (SQLite: PRAGMA user_version;
 * PostgreSQL: allot_meta.version). An older store is brought up to date by
 * adding every column of allot__ledger_columns it lacks (version 2 added
 * explain, version 3 the quality columns, version 4 prompt, version 5
 * client, version 6 overhead_ms, cached_tokens and cache_write_tokens,
 * version 7 tier_confidence), so a store left half-way by an interrupted
 * upgrade is finished the same way. */
#define ALLOT__LEDGER_SCHEMA_VERSION 7

#define ALLOT__LEDGER_CHUNK_ROWS 128u /* ~160 KB a chunk */

/* A piece of the queue: rows in arrival order. */
struct allot__ledger_chunk {
    struct allot__ledger_chunk *next;
    size_t n;
    uint64_t first_us; /* monotonic time its first row came */
    struct allot_ledger_entry rows[ALLOT__LEDGER_CHUNK_ROWS];
    uint64_t pending[ALLOT__LEDGER_CHUNK_ROWS]; /* each row's record in the
                                                 * pending file (pending.h); 0: none */
};

/* The requests table, one column per entry field. It drives both stores'
 * CREATE TABLE, upgrade, INSERT/COPY and binding, so they cannot disagree
 * with each other or with struct allot_ledger_entry. */
enum allot__col_type { COL_TEXT, COL_INT64, COL_INT, COL_REAL, COL_HEAP_TEXT };

struct allot__ledger_column {
    const char *name; /* as written in SQL: "check" is quoted */
    enum allot__col_type type;
    size_t off, size;
    const char *decl; /* SQLite type and constraints; PostgreSQL swaps the
                       * first word for its own type (ledger_pg.c) */
};

extern const struct allot__ledger_column allot__ledger_columns[];
extern const size_t allot__ledger_n_columns;

/* The same indexes and events table in both stores. */
#define ALLOT__LEDGER_INDEX_TS "CREATE INDEX IF NOT EXISTS requests_ts_ms ON requests(ts_ms)"
#define ALLOT__LEDGER_INDEX_AUDIT                                                                  \
    "CREATE INDEX IF NOT EXISTS requests_audit_of ON requests(audit_of) WHERE audit_of != ''"
#define ALLOT__LEDGER_INDEX_EVENTS "CREATE INDEX IF NOT EXISTS events_ts_ms ON events(ts_ms)"

/* 0 when every column's size matches its type, else ALLOT_EINVAL: a field
 * whose type changed in ledger.h must change in the table too. */
int allot__ledger_columns_check(void);

/* Text of a text column of row e ("" for a NULL heap text), its length in
 * *len; never reads past the field. */
const char *allot__ledger_text(const struct allot_ledger_entry *e,
                               const struct allot__ledger_column *c, size_t *len);

struct allot_ledger;
struct allot__ledger_store; /* a store's own state, opaque here */

struct allot__ledger_backend {
    const char *kind; /* "SQLite", "PostgreSQL" */
    /* Open or connect to target, create or upgrade the schema. Errors:
     * ALLOT_ESTORE (and others) with "ledger 'NAME': why" in err, where
     * NAME is allot__ledger_name(l), never the password. */
    int (*open)(struct allot_ledger *l, const char *target, struct allot__ledger_store **out,
                struct allot_buf *err);
    /* Write the rows of list (requests and events) in one transaction if
     * it can; *written + *failed = the rows in list. May retry for as long
     * as allot__ledger_pause() lets it. Failures are reported through
     * allot__ledger_failed(). */
    void (*write)(struct allot__ledger_store *s, const struct allot__ledger_chunk *list,
                  uint64_t *written, uint64_t *failed);
    void (*close)(struct allot__ledger_store *s);
};

extern const struct allot__ledger_backend allot__ledger_sqlite;
extern const struct allot__ledger_backend allot__ledger_pg;

/* For the stores, on the writer thread. */

/* The store's name for messages: the path, or the URI without password. */
const char *allot__ledger_name(const struct allot_ledger *l);

/* Rows that could not be written: logged once at the start of a burst of
 * failures ("cannot write request rows: why"), counted towards the
 * warning that ends the burst. */
void allot__ledger_failed(struct allot_ledger *l, uint64_t rows, const char *why);

/* Sleep up to ms, waking early when close begins. Returns 1 when the store
 * should stop retrying: close began more than ALLOT__LEDGER_CLOSE_GRACE_MS
 * ago (a graceful stop never hangs on a store that is gone), else 0. */
int allot__ledger_pause(struct allot_ledger *l, long ms);
#define ALLOT__LEDGER_CLOSE_GRACE_MS 5000

/* Tests: 1 when the idle writer runs (its thread in *thread, when not
 * NULL), else 0. */
int allot__ledger_idle_writer(struct allot_ledger *l, pthread_t *thread);
/* Tests: keep the idle writer from taking rows (hold 1), as a machine
 * with no idle CPU would, or let it (0). */
void allot__ledger_hold_idle(struct allot_ledger *l, int hold);
/* Tests: make the idle writer stop (stall 1) after it takes a batch and
 * before it writes it, holding the store, as one that gets no CPU in the
 * middle of a batch would; 0 lets it go on. */
void allot__ledger_stall_idle(struct allot_ledger *l, int stall);

/* PostgreSQL COPY text format for one value: backslash, tab, newline and
 * carriage return escaped, and any byte that is not UTF-8 (a field cut
 * mid-character) replaced by U+FFFD, which PostgreSQL would refuse in a
 * UTF8 database. Appends to b; ALLOT_ETOOBIG when b's cap is hit. */
int allot__pg_copy_text(struct allot_buf *b, const char *s, size_t n);

#endif
