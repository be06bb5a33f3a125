/* ledger.c: the request ledger, one row per request (see ledger.h).
 *
 * DESIGN: the event loops must never wait on the store, so appending is a
 * memcpy into an in-memory queue under a mutex, and writer threads own
 * the store's connection from open to close (redis bio.c): a SQLite file
 * (ledger_sqlite.c) or a PostgreSQL database (ledger_pg.c), chosen by the
 * store's name (store_url.h). The queue is a list of fixed-size chunks,
 * allocated as rows arrive and recycled through a short free list: an idle
 * gateway holds a few kilobytes, a burst may grow the queue to its cap of
 * 65,536 rows, and no append ever copies the whole queue the way a growing
 * array would.
 *
 * Opening happens on the writer thread too, while allot_ledger_open()
 * waits for its verdict: a store that cannot be opened fails the open, and
 * libpq never runs on the caller's thread.
 *
 * The writer sleeps until a row arrives, then lets rows gather until the
 * oldest queued row is commit_ms old (or BATCH_NOW rows are queued, or
 * close began), takes the list's first chunks in one pointer swap so the
 * lock is held for microseconds, and has the store write them in one
 * transaction. Who writes: when the pending file protects the rows, a
 * second thread at SCHED_IDLE (idle_main()), which runs on idle CPU only,
 * so that SQLite's bursts never take a core from an event loop. It never
 * takes the queue's mutex (a thread that gets no CPU must not hold a lock
 * an event loop waits for): batches reach it through a hand-over slot
 * (hand_mu), and what it finished goes back through atomics (reclaim()).
 * A batch it has not begun LAG_MS after it was due, the writer writes
 * itself: the machine has no idle CPU. Batches are written one at a time
 * (write_mu), in the order they left the queue. A row therefore reaches a
 * commit at most commit_ms (+ LAG_MS without idle CPU) plus the time of
 * the batch write in progress plus its own batch write after it was
 * appended (docs/ledger.md).
 *
 * A store that cannot write drops the rows concerned (SQLite: disk full, a
 * lock held past busy_timeout) or keeps retrying them while the queue
 * fills (PostgreSQL: the connection is gone); either way the gateway never
 * stops serving because its ledger cannot be written, and a close gives a
 * store that is gone ALLOT__LEDGER_CLOSE_GRACE_MS before the rows left are
 * counted as failed. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "allot/buf.h"
#include "allot/clock.h"
#include "allot/crc32.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "allot/log.h"
#include "allot/pending.h"
#include "allot/store_url.h"
#include "internal.h"

#define QUEUE_MAX_ROWS 65536u /* the cap documented in ledger.h */
#define CHUNK_ROWS ALLOT__LEDGER_CHUNK_ROWS
#define FREE_CHUNKS_MAX 8u /* chunks kept for reuse after a burst */
#define BATCH_NOW 512u     /* this many queued rows: write without waiting */
#define COMMIT_MS_MAX 200
/* A batch handed to the writer in idle time that it has not begun LAG_MS
 * after it was due (the machine has no idle CPU) is written by the writer
 * at normal priority instead. */
#define LAG_MS 100
#define PENDING_RING_BYTES (16u << 20) /* ~7,500 rows of ~2.2 KB */
#define PENDING_SLOTS 8                /* PATH.pending, PATH.pending.1 .. .7 */
/* PostgreSQL: one file per database (by its URL without password), in the
 * working directory, so instances beside each other for different
 * databases never replay each other's rows. */
#define PENDING_DEFAULT_PG "./allot-ledger-%08x.pending"

struct allot_ledger {
    char *target;                    /* the path or URI as given */
    char name[ALLOT_STORE_NAME_MAX]; /* for messages: no password */
    const struct allot__ledger_backend *backend;
    long commit_ms;
    pthread_t thread;      /* the writer: opens, takes batches, closes */
    pthread_t idle_thread; /* the writer in idle time, when idle_running */

    /* The store and what writing it keeps, held by the thread writing a
     * batch (write_mu). The writer alone touches them while it opens. */
    pthread_mutex_t write_mu;
    struct allot__ledger_store *store;
    int failing;   /* in a burst of write failures */
    uint64_t lost; /* rows lost in that burst */
    /* The last explain text formatted and the bytes it was formatted from
     * (fill_explains()). */
    struct allot_ledger_explained last_from;
    char last_explain[sizeof(((struct allot_ledger_entry *)0)->explain)];
    int have_last;

    /* The two writers' hand-over (hand_mu; the event loops never take it,
     * so a writer at SCHED_IDLE that holds it makes no loop wait). */
    pthread_mutex_t hand_mu;
    pthread_cond_t hand_cv;             /* a batch handed over, one done, a verdict, stop */
    struct allot__ledger_chunk *handed; /* a batch the idle writer has not begun */
    int idle_busy;                      /* it is writing one (holding write_mu) */
    _Atomic int idle_running;           /* the idle writer: 1 runs, 0 none, -1 could not */
    int idle_held;                      /* allot__ledger_hold_idle() */
    int idle_stalled;                   /* allot__ledger_stall_idle() */
    int idle_stop;
    int close_began; /* close began, and when: for allot__ledger_pause() */
    uint64_t close_began_us;
    pthread_cond_t close_cv; /* close began */
    /* The writer's own: a batch it handed over may be outstanding, and
     * when that batch is LAG_MS past due. */
    int idle_owes;
    uint64_t handed_due_us;

    /* Set by whichever writer committed, read without mu: the counters,
     * the pending record up to which rows are committed, and the chunks
     * written, for the queue to take back (reclaim()). */
    _Atomic uint64_t rows_written, rows_failed, rows_idle;
    _Atomic uint64_t committed_seq;
    struct allot__ledger_chunk *_Atomic returned;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* rows arrived, BATCH_NOW reached, closing, opened */
    struct allot__ledger_chunk *head, *tail;
    size_t queued;      /* rows in head..tail */
    uint64_t oldest_us; /* monotonic time the oldest queued row came */
    struct allot__ledger_chunk *free_list;
    size_t n_free;
    int opened;                 /* 0 opening, 1 open, -1 the open failed */
    int open_rc;                /* the store's open result */
    struct allot_buf *open_err; /* the opener's err, until opened != 0 */
    int closing;
    /* The pending file (pending.h), written under mu: a request row's copy
     * until its batch commits. NULL: none. */
    struct allot_pending *pending;
    uint64_t released;    /* committed_seq as last given to the pending file */
    char *pending_arg;    /* as given to allot_ledger_open_with(); NULL: default */
    char *pending_path;   /* the file in use */
    uint64_t unprotected; /* rows the pending file had no room for, this burst */
    size_t recovered;     /* rows of a killed run committed at open */
};

/* clang-format off */
#define FIELD_(f) offsetof(struct allot_ledger_entry, f), sizeof(((struct allot_ledger_entry *)0)->f)
#define TEXT_(f) {#f, COL_TEXT, FIELD_(f), "TEXT NOT NULL DEFAULT ''"}
#define INT64_(f) {#f, COL_INT64, FIELD_(f), "INTEGER NOT NULL DEFAULT 0"}
#define INT_(f) {#f, COL_INT, FIELD_(f), "INTEGER NOT NULL DEFAULT 0"}
#define REAL_(f) {#f, COL_REAL, FIELD_(f), "REAL NOT NULL DEFAULT 0"}
/* clang-format on */

const struct allot__ledger_column allot__ledger_columns[] = {
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
    {"overhead_ms", COL_REAL, FIELD_(overhead_ms), "REAL NOT NULL DEFAULT -1"},
    INT64_(cached_tokens),
    INT64_(cache_write_tokens),
    {"tier_confidence", COL_REAL, FIELD_(tier_confidence), "REAL NOT NULL DEFAULT -1"},
};
const size_t allot__ledger_n_columns =
    sizeof allot__ledger_columns / sizeof allot__ledger_columns[0];

int allot__ledger_columns_check(void)
{
    size_t i;
    for (i = 0; i < allot__ledger_n_columns; i++) {
        const struct allot__ledger_column *c = &allot__ledger_columns[i];
        if ((c->type == COL_INT64 && c->size != sizeof(int64_t)) ||
            (c->type == COL_INT && c->size != sizeof(int)) ||
            (c->type == COL_REAL && c->size != sizeof(double)))
            return ALLOT_EINVAL;
    }
    return 0;
}

const char *allot__ledger_text(const struct allot_ledger_entry *e,
                               const struct allot__ledger_column *c, size_t *len)
{
    const char *p = (const char *)e + c->off;
    const char *t;

    if (c->type == COL_HEAP_TEXT) {
        memcpy(&t, p, sizeof t);
        t = t ? t : "";
        *len = strlen(t);
        return t;
    }
    /* strnlen: a field the caller filled to the brim is still safe */
    *len = strnlen(p, c->size);
    return p;
}

/* For the tests: start closing without waiting, so that an append racing
 * with allot_ledger_close() can be shown to get ALLOT_ECLOSED. */
void allot__ledger_begin_close(struct allot_ledger *l);

const char *allot__ledger_name(const struct allot_ledger *l)
{
    return l->name;
}

void allot__ledger_failed(struct allot_ledger *l, uint64_t rows, const char *why)
{
    if (!l->failing)
        allot_log_error("ledger '%s': cannot write request rows: %s (rows are dropped until "
                        "writing works again)",
                        l->name, why);
    l->failing = 1;
    l->lost += rows;
}

static void deadline_ts(uint64_t mono_us, struct timespec *ts)
{
    ts->tv_sec = (time_t)(mono_us / 1000000u);
    ts->tv_nsec = (long)(mono_us % 1000000u) * 1000;
}

int allot__ledger_pause(struct allot_ledger *l, long ms)
{
    uint64_t until = allot_clock_mono_us() + (uint64_t)(ms > 0 ? ms : 0) * 1000u, end, now;
    const uint64_t grace = (uint64_t)ALLOT__LEDGER_CLOSE_GRACE_MS * 1000u;
    struct timespec ts;
    int give_up;

    /* hand_mu, not mu: the idle writer may be the one waiting */
    pthread_mutex_lock(&l->hand_mu);
    for (;;) {
        end = until;
        if (l->close_began && l->close_began_us + grace < end)
            end = l->close_began_us + grace; /* a close shortens the wait */
        if ((now = allot_clock_mono_us()) >= end)
            break;
        deadline_ts(end, &ts);
        pthread_cond_timedwait(&l->close_cv, &l->hand_mu, &ts);
    }
    give_up = l->close_began && now >= l->close_began_us + grace;
    pthread_mutex_unlock(&l->hand_mu);
    return give_up;
}

/* The heap texts of a chunk's rows, written or dropped. */
static void free_prompts(struct allot__ledger_chunk *c)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        free(c->rows[i].prompt);
        c->rows[i].prompt = NULL;
    }
    c->n = 0;
}

/* The record number of the last row of list that has one; 0: none. */
static uint64_t last_pending(const struct allot__ledger_chunk *list)
{
    uint64_t last = 0;
    size_t i;

    for (; list; list = list->next)
        for (i = 0; i < list->n; i++)
            if (list->pending[i])
                last = list->pending[i];
    return last;
}

struct replay {
    struct allot__ledger_chunk *head, *tail;
    uint64_t last;
    size_t n;
};

static int replay_row(void *ctx, const struct allot_pending_record *r)
{
    struct replay *rp = ctx;
    struct allot__ledger_chunk *c = rp->tail;
    struct allot_ledger_entry *e;

    if (!c || c->n == CHUNK_ROWS) {
        if (!(c = calloc(1, sizeof *c)))
            return ALLOT_ENOMEM;
        if (rp->tail)
            rp->tail->next = c;
        else
            rp->head = c;
        rp->tail = c;
    }
    e = &c->rows[c->n];
    memcpy(e, r->entry, sizeof *e);
    e->prompt = NULL; /* the pointer of the run that wrote it */
    if (r->extra_len && !(e->prompt = strndup(r->extra, r->extra_len)))
        return ALLOT_ENOMEM;
    e->event[0] = '\0'; /* only request rows are kept there */
    c->pending[c->n++] = r->seq;
    rp->last = r->seq;
    rp->n++;
    return 0;
}

/* On the writer thread, before a batch is stored: the explain text of
 * every row that left it to the writer (allot_ledger_entry_explain()).
 * The text is a function of explained's bytes, and the rows of an agent's
 * loop carry the same ones (classify_memo.h): a row whose bytes are the
 * last formatted row's gets a copy of its text. */
static void fill_explains(struct allot_ledger *l, struct allot__ledger_chunk *list)
{
    size_t i;

    for (; list; list = list->next) {
        for (i = 0; i < list->n; i++) {
            struct allot_ledger_entry *e = &list->rows[i];
            struct allot_classification c;
            const struct allot_ledger_explained *x = &e->explained;
            size_t k;

            if (!e->explain_later)
                continue;
            e->explain_later = 0;
            if (l->have_last && memcmp(x, &l->last_from, sizeof *x) == 0) {
                memcpy(e->explain, l->last_explain, sizeof e->explain);
                continue;
            }
            memcpy(&l->last_from, x, sizeof *x);
            /* out of the union first: the text overwrites it */
            memset(&c, 0, sizeof c);
            c.category = (enum allot_category)x->category;
            c.runner_up = (enum allot_category)x->runner_up;
            c.confidence = x->confidence;
            c.runner_up_confidence = x->runner_up_confidence;
            c.n_pro = x->n_pro;
            c.n_con = x->n_con;
            for (k = 0; k < ALLOT_EXPLAIN_TOP; k++) {
                memcpy(c.pro[k].name, x->name[k], ALLOT_FEATURE_NAME_MAX);
                c.pro[k].weight = x->weight[k];
                memcpy(c.con[k].name, x->name[ALLOT_EXPLAIN_TOP + k], ALLOT_FEATURE_NAME_MAX);
                c.con[k].weight = x->weight[ALLOT_EXPLAIN_TOP + k];
            }
            allot_classification_explain(&c, e->explain, sizeof e->explain);
            memcpy(l->last_explain, e->explain, sizeof e->explain);
            l->have_last = 1;
        }
    }
}

static void free_chunks(struct allot__ledger_chunk *c);
static int open_pending(struct allot_ledger *l, const char *pending, struct allot_buf *err);

/* On the writer thread, at open: commit the rows a killed run left in the
 * pending file. A row it did commit is skipped by the store (its id). */
static int replay_pending(struct allot_ledger *l)
{
    struct replay rp = {NULL, NULL, 0, 0};
    uint64_t written = 0, failed = 0;
    size_t n = 0;
    int rc;

    rc = allot_pending_replay(l->pending, replay_row, &rp, &n);
    if (rc == 0 && rp.n) {
        fill_explains(l, rp.head);
        l->backend->write(l->store, rp.head, &written, &failed);
        allot_pending_committed(l->pending, rp.last);
        l->recovered = rp.n;
        atomic_fetch_add(&l->rows_written, written);
        atomic_fetch_add(&l->rows_failed, failed);
        allot_log_warn("ledger '%s': recovered %zu row%s of an earlier run that stopped before "
                       "committing them (from '%s')%s",
                       l->name, rp.n, rp.n == 1 ? "" : "s", l->pending_path,
                       failed ? "; some could not be written" : "");
    }
    free_chunks(rp.head);
    if (rc && l->open_err)
        allot_buf_addf(l->open_err, "ledger '%s': cannot recover the rows in '%s': %s", l->name,
                       l->pending_path, allot_strerror(rc));
    return rc;
}

/* Under mu: what the writers finished, taken back. The pending file's
 * records up to the last committed row are released, and the chunks
 * written return to the free list (FREE_CHUNKS_MAX kept, the rest freed)
 * and their prompts are freed.
 * The appender calls it when it needs a chunk or the pending file's room;
 * the writer after each batch. */
static void reclaim(struct allot_ledger *l)
{
    struct allot__ledger_chunk *c, *next;
    uint64_t seq = atomic_load_explicit(&l->committed_seq, memory_order_acquire);

    if (l->pending && seq > l->released) {
        allot_pending_committed(l->pending, seq);
        l->released = seq;
    }
    if (!atomic_load_explicit(&l->returned, memory_order_relaxed))
        return;
    for (c = atomic_exchange_explicit(&l->returned, NULL, memory_order_acquire); c; c = next) {
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

/* Under mu: take the queue's first chunks, up to max rows (at least one
 * chunk; 0: the whole queue). */
static struct allot__ledger_chunk *take(struct allot_ledger *l, size_t max)
{
    struct allot__ledger_chunk *batch = l->head, *c, *last = NULL;
    size_t n = 0;

    for (c = l->head; c && (max == 0 || n == 0 || n + c->n <= max); c = c->next) {
        n += c->n;
        last = c;
    }
    if (!last)
        return NULL;
    l->head = last->next;
    last->next = NULL;
    if (l->head)
        l->oldest_us = l->head->first_us;
    else
        l->tail = NULL;
    l->queued -= n;
    return batch;
}

/* Write batch in one transaction. Called with write_mu held, so batches
 * reach the store one at a time and in the order the writer took them
 * from the queue (it hands them over in that order), and committed_seq
 * only grows. Takes no lock the event loops take: the counters, the last
 * committed record and the chunks go back through atomics (reclaim()). */
static void store_batch(struct allot_ledger *l, struct allot__ledger_chunk *batch, int idle)
{
    struct allot__ledger_chunk *c, *last = NULL, *old;
    uint64_t written = 0, failed = 0, seq;
    size_t n = 0;

    for (c = batch; c; c = c->next) {
        n += c->n;
        last = c;
    }
    fill_explains(l, batch);
    l->backend->write(l->store, batch, &written, &failed);
    if (written + failed != n) { /* a store's bug must not hide rows */
        allot_log_error("ledger '%s': internal error: a batch of %zu rows reported as %llu",
                        l->name, n, (unsigned long long)(written + failed));
        failed = n - written;
    }
    if (l->failing && failed == 0 && written > 0) {
        allot_log_warn("ledger '%s': writing again; %llu rows were lost", l->name,
                       (unsigned long long)l->lost);
        l->failing = 0;
        l->lost = 0;
    }
    /* The batch is in the store (or counted lost): its rows' copies in the
     * pending file may go. Rows are queued in the order of their records. */
    if ((seq = last_pending(batch)) != 0)
        atomic_store_explicit(&l->committed_seq, seq, memory_order_release);
    atomic_fetch_add(&l->rows_written, written);
    atomic_fetch_add(&l->rows_failed, failed);
    if (idle)
        atomic_fetch_add(&l->rows_idle, written);
    /* the rows' prompts are freed by reclaim(), on an appending thread
     * or the writer: a free into another thread's malloc arena takes that
     * arena's lock, which the idle writer must not hold while it gets no
     * CPU */
    if (!last)
        return;
    old = atomic_load_explicit(&l->returned, memory_order_relaxed);
    do
        last->next = old;
    while (!atomic_compare_exchange_weak_explicit(&l->returned, &old, batch, memory_order_release,
                                                  memory_order_relaxed));
}

/* On the writer: write batch itself, after the idle writer's batch in
 * progress if any (write_mu). */
static void store_here(struct allot_ledger *l, struct allot__ledger_chunk *batch)
{
    pthread_mutex_lock(&l->write_mu);
    store_batch(l, batch, 0);
    pthread_mutex_unlock(&l->write_mu);
}

/* Under mu, with rows queued: wait until the oldest queued row is
 * commit_ms old, BATCH_NOW rows are queued, or close began. */
static void wait_due(struct allot_ledger *l)
{
    struct timespec ts;
    uint64_t deadline;

    while (!l->closing && l->queued > 0 && l->queued < BATCH_NOW) {
        deadline = l->oldest_us + (uint64_t)l->commit_ms * 1000u;
        if (allot_clock_mono_us() >= deadline)
            break;
        deadline_ts(deadline, &ts);
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
}

/* The writer in idle time: a SCHED_IDLE thread, which runs only on CPU
 * that no other thread of the machine wants, so that a burst of SQLite
 * work never takes a core from an event loop (or from the clients and
 * upstreams beside it). It takes no lock an event loop takes: batches
 * come from the writer through handed (hand_mu), and go back through
 * store_batch()'s atomics. A batch it begins it finishes, holding
 * write_mu; one it has not begun LAG_MS after it was due the writer takes
 * back (hand_over()). */
static void *idle_main(void *arg)
{
    struct allot_ledger *l = arg;
    struct allot__ledger_chunk *batch;
    struct sched_param sp;
    int ok;

    /* Set here: glibc's thread attributes refuse SCHED_IDLE. */
    memset(&sp, 0, sizeof sp);
    ok = pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0;
    pthread_mutex_lock(&l->hand_mu);
    l->idle_running = ok ? 1 : -1;
    pthread_cond_broadcast(&l->hand_cv); /* start_idle_writer() waits for the verdict */
    while (ok) {
        while ((!l->handed || l->idle_held) && !l->idle_stop)
            pthread_cond_wait(&l->hand_cv, &l->hand_mu);
        if (l->idle_stop)
            break;
        /* write_mu first, so that the writer, finding the batch begun,
         * waits for its commit before writing any later one */
        pthread_mutex_unlock(&l->hand_mu);
        pthread_mutex_lock(&l->write_mu);
        pthread_mutex_lock(&l->hand_mu);
        batch = l->handed;
        if (batch) {
            l->handed = NULL;
            l->idle_busy = 1;
        }
        while (batch && l->idle_stalled) /* allot__ledger_stall_idle() */
            pthread_cond_wait(&l->hand_cv, &l->hand_mu);
        pthread_mutex_unlock(&l->hand_mu);
        if (batch)
            store_batch(l, batch, 1);
        pthread_mutex_unlock(&l->write_mu);
        pthread_mutex_lock(&l->hand_mu);
        l->idle_busy = 0;
        pthread_cond_broadcast(&l->hand_cv);
    }
    pthread_mutex_unlock(&l->hand_mu);
    return NULL;
}

/* On the writer, with batch taken from the queue: give it to the idle
 * writer, or write it here. The idle writer gets it when it is free, or
 * frees up before the batch is LAG_MS past due; otherwise the machine has
 * no idle CPU for it and the writer writes, first the batch the idle
 * writer has not begun (taken back, it is older), then this one. A batch
 * the idle writer has begun ends before either (write_mu). */
static void hand_over(struct allot_ledger *l, struct allot__ledger_chunk *batch, int closing)
{
    struct allot__ledger_chunk *c;
    struct timespec ts;
    uint64_t due = batch->first_us + (uint64_t)(l->commit_ms + LAG_MS) * 1000u, until;
    int given = 0;

    pthread_mutex_lock(&l->hand_mu);
    if (l->idle_running > 0 && !closing) {
        /* until the older batch handed over is late, if one waits */
        for (;;) {
            until = l->handed && l->handed_due_us < due ? l->handed_due_us : due;
            if (!(l->handed || l->idle_busy) || allot_clock_mono_us() >= until)
                break;
            deadline_ts(until, &ts);
            pthread_cond_timedwait(&l->hand_cv, &l->hand_mu, &ts);
        }
        if (!l->handed && !l->idle_busy) {
            l->idle_owes = 1;
            l->handed_due_us = due;
            l->handed = batch;
            pthread_cond_broadcast(&l->hand_cv);
            given = 1;
        }
    }
    if (!given && l->handed) { /* not begun: it goes first */
        for (c = l->handed; c->next; c = c->next)
            ;
        c->next = batch;
        batch = l->handed;
        l->handed = NULL;
    }
    if (!given)
        l->idle_owes = l->idle_busy;
    pthread_mutex_unlock(&l->hand_mu);
    if (!given)
        store_here(l, batch);
}

/* On the writer: whether the idle writer still owes the batch last handed
 * over; the batch, taken back, when it has not begun it LAG_MS after it
 * was due (the machine has no idle CPU for it), else NULL. */
static struct allot__ledger_chunk *take_back_late(struct allot_ledger *l)
{
    struct allot__ledger_chunk *batch = NULL;

    pthread_mutex_lock(&l->hand_mu);
    if (l->handed && allot_clock_mono_us() >= l->handed_due_us) {
        batch = l->handed;
        l->handed = NULL;
    }
    l->idle_owes = l->handed || l->idle_busy;
    pthread_mutex_unlock(&l->hand_mu);
    return batch;
}

/* The writer: opens the store, commits what a killed run left, then takes
 * each batch from the queue when it is due (the oldest row commit_ms old,
 * BATCH_NOW rows, or close) and hands it over (hand_over()). At close it
 * drains the queue, stops the idle writer and closes the store. */
static void *writer_main(void *arg)
{
    struct allot_ledger *l = arg;
    struct allot__ledger_chunk *batch;
    struct timespec ts;
    int rc, closing, idle;

    rc = l->backend->open(l, l->target, &l->store, l->open_err);
    if (rc == 0)
        rc = open_pending(l, l->pending_arg, l->open_err);
    if (rc == 0 && l->pending)
        rc = replay_pending(l);
    if (rc && l->store) {
        l->backend->close(l->store);
        l->store = NULL;
    }
    pthread_mutex_lock(&l->mu);
    l->open_rc = rc;
    l->opened = rc ? -1 : 1;
    l->open_err = NULL;
    pthread_cond_broadcast(&l->cv);
    if (rc) {
        pthread_mutex_unlock(&l->mu);
        return NULL;
    }
    for (;;) {
        reclaim(l);
        while (l->queued == 0 && !l->closing) {
            /* While the idle writer owes a batch, look every commit_ms (it
             * takes no mu to say it is done): to release the pending file
             * of an idle gateway, and to write a batch it has not begun
             * LAG_MS after it was due. */
            if (l->idle_owes) {
                deadline_ts(allot_clock_mono_us() + (uint64_t)l->commit_ms * 1000u, &ts);
                pthread_cond_timedwait(&l->cv, &l->mu, &ts);
                if ((batch = take_back_late(l))) {
                    pthread_mutex_unlock(&l->mu);
                    store_here(l, batch);
                    pthread_mutex_lock(&l->mu);
                }
                reclaim(l);
            } else {
                pthread_cond_wait(&l->cv, &l->mu);
            }
        }
        if (l->queued == 0) /* closing and drained */
            break;
        wait_due(l);
        if (l->queued == 0)
            continue;
        closing = l->closing;
        idle = atomic_load_explicit(&l->idle_running, memory_order_relaxed) > 0;
        /* the idle writer's batches are kept to BATCH_NOW rows, so that
         * one it begins and gets no CPU to finish holds up little */
        batch = take(l, idle && !closing ? BATCH_NOW : 0);
        pthread_mutex_unlock(&l->mu);
        hand_over(l, batch, closing);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    /* the idle writer's batch, begun or not, is written before the store
     * closes: a handed one is taken back, a begun one ends (write_mu) */
    pthread_mutex_lock(&l->hand_mu);
    batch = l->handed;
    l->handed = NULL;
    l->idle_stop = 1;
    pthread_cond_broadcast(&l->hand_cv);
    pthread_mutex_unlock(&l->hand_mu);
    pthread_mutex_lock(&l->write_mu);
    if (batch)
        store_batch(l, batch, 0);
    l->backend->close(l->store);
    l->store = NULL;
    pthread_mutex_unlock(&l->write_mu);
    pthread_mutex_lock(&l->mu);
    reclaim(l);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void free_chunks(struct allot__ledger_chunk *c)
{
    while (c) {
        struct allot__ledger_chunk *next = c->next;
        free_prompts(c);
        free(c);
        c = next;
    }
}

/* The layout of a pending record: the entry's size and the schema. */
#define PENDING_LAYOUT ((uint32_t)ALLOT__LEDGER_SCHEMA_VERSION)

/* Slot i of the pending files of store (pending as given to
 * allot_ledger_open_with(); NULL: the default) into dst: the file named,
 * or the default's slot i (STORE.pending, then STORE.pending.1 ...; for
 * PostgreSQL one file per database, by a CRC of its URL without password).
 * Returns how many slots there are: 1 for a named file, PENDING_SLOTS for
 * the default, 0 for "none". */
static int pending_slot(const char *store, const char *pending, int i, char *dst, size_t cap)
{
    char base[4096];

    if (pending && !strcmp(pending, "none"))
        return 0;
    if (pending) {
        snprintf(dst, cap, "%s", pending);
        return 1;
    }
    if (allot_store_is_postgres(store)) {
        char name[ALLOT_STORE_NAME_MAX];
        allot_store_redact(store, name, sizeof name);
        snprintf(base, sizeof base, PENDING_DEFAULT_PG,
                 (unsigned)allot_crc32((const unsigned char *)name, strlen(name)));
    } else {
        snprintf(base, sizeof base, "%s.pending", store);
    }
    if (i)
        snprintf(dst, cap, "%s.%d", base, i);
    else
        snprintf(dst, cap, "%s", base);
    return PENDING_SLOTS;
}

/* Open l's pending file: the one named, or the first free default slot. */
static int open_pending(struct allot_ledger *l, const char *pending, struct allot_buf *err)
{
    char path[4200];
    int i, n, rc = 0;

    for (i = 0, n = 1; i < n; i++) {
        struct allot_buf e;
        if ((n = pending_slot(l->target, pending, i, path, sizeof path)) == 0)
            break; /* "none" */
        allot_buf_init(&e, 1024);
        rc = allot_pending_open(path, sizeof(struct allot_ledger_entry), PENDING_LAYOUT,
                                PENDING_RING_BYTES, &l->pending, &e);
        if (rc == 0 && !(l->pending_path = strdup(path))) {
            allot_pending_close(l->pending);
            l->pending = NULL;
            rc = ALLOT_ENOMEM;
        }
        if (rc != ALLOT_EBUSY || i + 1 == n) {
            if (rc && err)
                allot_buf_addf(err, "ledger '%s': %s", l->name,
                               e.len ? allot_buf_cstr(&e) : allot_strerror(rc));
            allot_buf_release(&e);
            break;
        }
        allot_buf_release(&e);
    }
    return rc;
}

int allot_ledger_open(const char *path, long commit_ms, struct allot_ledger **out,
                      struct allot_buf *err)
{
    return allot_ledger_open_with(path, commit_ms, NULL, out, err);
}

int allot_ledger_recover(const char *path, const char *pending, size_t *recovered,
                         struct allot_buf *err)
{
    char slot[4200];
    size_t total = 0;
    int i, n, rc = 0;

    for (i = 0, n = 1; i < n && rc == 0; i++) {
        struct allot_ledger *l = NULL;
        struct allot_buf e;
        if ((n = pending_slot(path, pending, i, slot, sizeof slot)) == 0)
            break; /* "none" */
        if (access(slot, F_OK) != 0)
            continue;
        allot_buf_init(&e, 4096);
        rc = allot_ledger_open_with(path, 1, slot, &l, &e);
        if (rc == ALLOT_EBUSY) /* a live gateway holds it and will commit them */
            rc = 0;
        else if (rc && err)
            allot_buf_add(err, e.ptr ? e.ptr : "", e.len);
        allot_buf_release(&e);
        if (l) {
            total += l->recovered;
            allot_ledger_close(l);
        }
    }
    if (recovered)
        *recovered = total;
    return rc;
}

/* The three condition variables, on the monotonic clock; 1 when all are
 * made, else 0 with none left. */
static int init_cvs(struct allot_ledger *l, const pthread_condattr_t *ca)
{
    if (pthread_cond_init(&l->cv, ca) != 0)
        return 0;
    if (pthread_cond_init(&l->hand_cv, ca) != 0) {
        pthread_cond_destroy(&l->cv);
        return 0;
    }
    if (pthread_cond_init(&l->close_cv, ca) != 0) {
        pthread_cond_destroy(&l->cv);
        pthread_cond_destroy(&l->hand_cv);
        return 0;
    }
    return 1;
}

/* Start a writer thread named name. It takes no signals: they belong to
 * the event loops. Returns pthread_create()'s result. */
static int spawn(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_setname_np(*t, name);
    return rc;
}

/* Start the idle writer (idle_main()), once the store is open. Only with
 * a pending file: rows that wait for idle CPU are then safe from a kill
 * all the same. Where the thread cannot have SCHED_IDLE (not Linux, a
 * seccomp filter), the writer writes alone, as before. */
static void start_idle_writer(struct allot_ledger *l)
{
#ifdef SCHED_IDLE
    int rc;

    if (!l->pending || spawn(&l->idle_thread, idle_main, l, "allot-ledger-bg") != 0)
        return;
    pthread_mutex_lock(&l->hand_mu);
    while (l->idle_running == 0)
        pthread_cond_wait(&l->hand_cv, &l->hand_mu);
    rc = l->idle_running;
    pthread_mutex_unlock(&l->hand_mu);
    if (rc < 0) {
        pthread_join(l->idle_thread, NULL);
        pthread_mutex_lock(&l->hand_mu);
        l->idle_running = 0;
        pthread_mutex_unlock(&l->hand_mu);
    }
#else
    (void)l;
#endif
}

int allot_ledger_open_with(const char *path, long commit_ms, const char *pending,
                           struct allot_ledger **out, struct allot_buf *err)
{
    struct allot_ledger *l;
    pthread_condattr_t ca;
    char name[ALLOT_STORE_NAME_MAX];
    int rc, mu_ok = 0, cv_ok = 0, thread_ok = 0;

    l = calloc(1, sizeof *l);
    if (!l || !(l->target = strdup(path))) {
        rc = ALLOT_ENOMEM;
        if (err)
            allot_buf_addf(err, "ledger '%s': out of memory",
                           allot_store_redact(path, name, sizeof name));
        goto fail;
    }
    allot_store_redact(path, l->name, sizeof l->name);
    l->backend = allot_store_is_postgres(path) ? &allot__ledger_pg : &allot__ledger_sqlite;
    l->commit_ms = commit_ms < 1 ? 1 : commit_ms > COMMIT_MS_MAX ? COMMIT_MS_MAX : commit_ms;
    if (allot__ledger_columns_check()) {
        rc = ALLOT_ESTORE;
        if (err)
            allot_buf_addf(err,
                           "ledger '%s': internal error: the column table does not match "
                           "struct allot_ledger_entry",
                           l->name);
        goto fail;
    }

    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        rc = ALLOT_ESTORE;
        if (err)
            allot_buf_addf(err, "ledger '%s': cannot create a mutex", l->name);
        goto fail;
    }
    if (pthread_mutex_init(&l->write_mu, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        rc = ALLOT_ESTORE;
        if (err)
            allot_buf_addf(err, "ledger '%s': cannot create a mutex", l->name);
        goto fail;
    }
    if (pthread_mutex_init(&l->hand_mu, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        pthread_mutex_destroy(&l->write_mu);
        rc = ALLOT_ESTORE;
        if (err)
            allot_buf_addf(err, "ledger '%s': cannot create a mutex", l->name);
        goto fail;
    }
    mu_ok = 1;
    /* Deadlines are monotonic: a wall-clock step must not stall commits. */
    if (pthread_condattr_init(&ca) != 0) {
        rc = ALLOT_ESTORE;
        if (err)
            allot_buf_addf(err, "ledger '%s': cannot create a condition variable", l->name);
        goto fail;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cv_ok = init_cvs(l, &ca);
    pthread_condattr_destroy(&ca);
    if (!cv_ok) {
        rc = ALLOT_ESTORE;
        if (err)
            allot_buf_addf(err, "ledger '%s': cannot create a condition variable", l->name);
        goto fail;
    }
    if (pending && !(l->pending_arg = strdup(pending))) {
        rc = ALLOT_ENOMEM;
        goto fail;
    }
    /* The writer opens the store and reports into a buffer of its own, so
     * err is only touched here. */
    {
        struct allot_buf open_err;
        allot_buf_init(&open_err, 4096);
        l->open_err = &open_err;
        if ((rc = spawn(&l->thread, writer_main, l, "allot-ledger")) != 0) {
            allot_buf_release(&open_err);
            rc = ALLOT_ESTORE;
            if (err)
                allot_buf_addf(err, "ledger '%s': cannot start the writer thread", l->name);
            goto fail;
        }
        thread_ok = 1;
        pthread_mutex_lock(&l->mu);
        while (l->opened == 0)
            pthread_cond_wait(&l->cv, &l->mu);
        rc = l->open_rc;
        pthread_mutex_unlock(&l->mu);
        if (rc && err)
            allot_buf_add(err, open_err.ptr ? open_err.ptr : "", open_err.len);
        allot_buf_release(&open_err);
    }
    if (rc)
        goto fail;
    start_idle_writer(l);
    *out = l;
    return 0;

fail:
    if (l) {
        if (thread_ok)
            pthread_join(l->thread, NULL); /* it returned after a failed open */
        if (cv_ok) {
            pthread_cond_destroy(&l->cv);
            pthread_cond_destroy(&l->hand_cv);
            pthread_cond_destroy(&l->close_cv);
        }
        if (mu_ok) {
            pthread_mutex_destroy(&l->mu);
            pthread_mutex_destroy(&l->write_mu);
            pthread_mutex_destroy(&l->hand_mu);
        }
        allot_pending_close(l->pending);
        free(l->pending_path);
        free(l->pending_arg);
        free(l->target);
        free(l);
    }
    return rc;
}

_Static_assert(sizeof(struct allot_ledger_explained) <=
                   sizeof(((struct allot_ledger_entry *)0)->explain),
               "what explain is formatted from must fit in its room");
_Static_assert(ALLOT_CAT__COUNT <= 255, "a category fits in a byte");

void allot_ledger_entry_explain(struct allot_ledger_entry *e, const struct allot_classification *c)
{
    struct allot_ledger_explained *x = &e->explained;
    size_t k;

    if (c->override || c->n_pro > ALLOT_EXPLAIN_TOP || c->n_con > ALLOT_EXPLAIN_TOP) {
        allot_classification_explain(c, e->explain, sizeof e->explain);
        return;
    }
    x->category = (unsigned char)c->category;
    x->runner_up = (unsigned char)c->runner_up;
    x->confidence = c->confidence;
    x->runner_up_confidence = c->runner_up_confidence;
    x->n_pro = (unsigned char)c->n_pro;
    x->n_con = (unsigned char)c->n_con;
    for (k = 0; k < ALLOT_EXPLAIN_TOP; k++) {
        memcpy(x->name[k], c->pro[k].name, ALLOT_FEATURE_NAME_MAX);
        x->weight[k] = c->pro[k].weight;
        memcpy(x->name[ALLOT_EXPLAIN_TOP + k], c->con[k].name, ALLOT_FEATURE_NAME_MAX);
        x->weight[ALLOT_EXPLAIN_TOP + k] = c->con[k].weight;
    }
    e->explain_later = 1;
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
    struct allot__ledger_chunk *c;
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
    reclaim(l); /* what the writers finished: the pending file's room, chunks */
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
    if (c->n == 0)
        c->first_us = allot_clock_mono_us();
    c->pending[c->n] = 0;
    if (l->pending && !e->event[0]) { /* a request row: safe from a kill from now on */
        c->pending[c->n] =
            allot_pending_put(l->pending, e, e->prompt, e->prompt ? strlen(e->prompt) : 0);
        if (c->pending[c->n] == 0 && l->unprotected++ == 0)
            allot_log_warn("ledger '%s': the pending file '%s' is full (the store is behind): "
                           "rows are queued but a kill would lose them until it catches up",
                           l->name, l->pending_path);
        else if (c->pending[c->n] != 0 && l->unprotected)
            l->unprotected = 0;
    }
    c->rows[c->n++] = *e;
    /* The writer waits for the first row, then for BATCH_NOW rows. */
    if (++l->queued == 1) {
        l->oldest_us = c->first_us;
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
    return atomic_load(&l->rows_written);
}

uint64_t allot_ledger_rows_written_idle(struct allot_ledger *l)
{
    return atomic_load(&l->rows_idle);
}

uint64_t allot_ledger_rows_failed(struct allot_ledger *l)
{
    return atomic_load(&l->rows_failed);
}

int allot__ledger_idle_writer(struct allot_ledger *l, pthread_t *thread)
{
    int running;
    pthread_mutex_lock(&l->hand_mu);
    running = l->idle_running > 0;
    pthread_mutex_unlock(&l->hand_mu);
    if (running && thread)
        *thread = l->idle_thread;
    return running;
}

void allot__ledger_hold_idle(struct allot_ledger *l, int hold)
{
    pthread_mutex_lock(&l->hand_mu);
    l->idle_held = hold;
    pthread_cond_broadcast(&l->hand_cv);
    pthread_mutex_unlock(&l->hand_mu);
}

void allot__ledger_stall_idle(struct allot_ledger *l, int stall)
{
    pthread_mutex_lock(&l->hand_mu);
    l->idle_stalled = stall;
    pthread_cond_broadcast(&l->hand_cv);
    pthread_mutex_unlock(&l->hand_mu);
}

void allot__ledger_begin_close(struct allot_ledger *l)
{
    pthread_mutex_lock(&l->mu);
    l->closing = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_lock(&l->hand_mu);
    if (!l->close_began) {
        l->close_began = 1;
        l->close_began_us = allot_clock_mono_us();
    }
    pthread_cond_broadcast(&l->close_cv);
    pthread_mutex_unlock(&l->hand_mu);
}

uint64_t allot_ledger_close(struct allot_ledger *l)
{
    uint64_t failed;

    if (!l)
        return 0;
    allot__ledger_begin_close(l);
    pthread_join(l->thread, NULL); /* the writer drains the queue, stops the idle
                                    * writer, then closes the store */
    if (l->idle_running > 0)
        pthread_join(l->idle_thread, NULL);
    failed = atomic_load(&l->rows_failed);
    allot_pending_close(l->pending);
    free(l->pending_path);
    free(l->pending_arg);
    free_chunks(l->head);
    free_chunks(l->free_list);
    free_chunks(atomic_exchange(&l->returned, NULL));
    pthread_cond_destroy(&l->cv);
    pthread_cond_destroy(&l->hand_cv);
    pthread_cond_destroy(&l->close_cv);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->write_mu);
    pthread_mutex_destroy(&l->hand_mu);
    free(l->target);
    free(l);
    return failed;
}
