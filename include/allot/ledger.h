/* ledger.h: the request ledger, one row per request, in a SQLite file or
 * a PostgreSQL database.
 *
 * DESIGN: the event loops never touch the store. allot_ledger_append()
 * copies the entry into a bounded in-memory queue (mutex + condition
 * variable) and returns; a writer thread opens and closes the store's
 * connection, and it or a writer at SCHED_IDLE (which runs on idle CPU
 * only; the first catches up when there is none) takes what is queued,
 * writes it in one transaction, and commits at least every commit_ms
 * (<= 200 ms; + 100 ms when the machine has no idle CPU). Each request row is also copied, at
 * append, into the pending file (pending.h, a shared file mapping) until
 * its batch commits, so a SIGKILL loses none: the next open of the store
 * (allot serve, allot report) commits what a killed run left. SQLite runs
 * in WAL mode with
 * synchronous=NORMAL. PostgreSQL rows survive a lost connection or a server
 * restart: the writer reconnects and writes the batch again, the queue
 * holding what arrives meanwhile. allot_ledger_close() writes every queued
 * row before it returns: a graceful stop loses none, unless the store stays
 * unreachable for 5 s (docs/ledger.md).
 *
 * Schema (table "requests"; see docs/ledger.md): one column per field of
 * struct allot_ledger_entry, same names. */
#ifndef ALLOT_LEDGER_H
#define ALLOT_LEDGER_H
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"
#include "allot/classify.h"

struct allot_ledger;

/* Every string field is NUL-terminated and truncated to fit. "" = none. */
/* What allot_classification_explain() reads of a classification without
 * an override, kept in the room of the explain text it becomes (so a row
 * costs the pending ring no more): pro then con, n_pro and n_con of each. */
struct allot_ledger_explained {
    double confidence, runner_up_confidence;
    float weight[2 * ALLOT_EXPLAIN_TOP];
    unsigned char category, runner_up, n_pro, n_con;
    char name[2 * ALLOT_EXPLAIN_TOP][ALLOT_FEATURE_NAME_MAX];
};

struct allot_ledger_entry {
    char id[40];              /* request id, "req_..." */
    int64_t ts_ms;            /* when the request arrived, Unix ms */
    char endpoint[40];        /* "/v1/chat/completions" */
    char requested_model[80]; /* "model" as the client sent it */
    char category[16];        /* "" when no category was decided */
    double confidence;        /* of the category; 0 when none */
    char tier[16];            /* "judgment" | "labour" | "code" | "" */
    char model[80];           /* configured model that answered (last tried) */
    char provider[64];
    char source[16];       /* decision source: model|tier|header|classifier|default */
    int attempts;          /* upstream attempts made */
    char attempt_log[256]; /* e.g. "frontier-a:503,frontier-b:ok" */
    char status[16];       /* "ok" | "failed" | "client_closed" | "rejected" */
    int http_status;       /* status sent to the client */
    char error[256];       /* why it failed; "" when ok */
    int stream;            /* 1 for stream: true */
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int tokens_estimated; /* 1 when usage was missing and estimated */
    double cost_usd;
    double counterfactual_usd; /* same tokens on the judgment tier's first model */
    double latency_ms;         /* request arrival to response end */
    double ttft_ms;            /* to the first byte of the answer; -1 if none */
    char reason[256];
    union {
        char explain[512]; /* the classifier's full explanation; "" when it did not run */
        /* while explain_later: what the writer formats explain from */
        struct allot_ledger_explained explained;
    };
    /* The quality floor (schema v3). */
    char check[16];         /* verdict on the answer returned: "pass", a check name, "" unchecked */
    char check_detail[192]; /* why the first failing check failed; "" when none failed */
    char escalated[16];     /* the check whose failure escalated the request; "" when none */
    double escalation_usd;  /* cost of the answers thrown away (included in cost_usd) */
    int64_t escalation_prompt_tokens; /* their tokens (not in prompt/completion_tokens) */
    int64_t escalation_completion_tokens;
    char floor[16];    /* "promoted" (sent up by the floor), "probe", or "" */
    char audit_of[40]; /* audit rows (endpoint "audit"): the request graded */
    double grade;      /* audit rows: 1 pass, 0 fail; -1 otherwise */
    /* The request's instruction (system prompt and last user turn), kept
     * with store.keep_prompts for `allot train outcomes --from-ledger`
     * (schema v4). Heap text the ledger owns once allot_ledger_append()
     * succeeded (it frees it after the write); NULL: none. */
    char *prompt;
    /* The client key's name (auth.keys) the request came with; "" when
     * auth is off (schema v5). */
    char client[132];
    /* allot's own time on the request (parse, routing, checks, translation,
     * the row; not the waits for the upstream or the client), ms; -1 for
     * rows without it (schema v6). */
    double overhead_ms;
    /* Of prompt_tokens, those the provider read from its prompt cache
     * (OpenAI's cached_tokens, Anthropic's cache_read_input_tokens) and
     * those it wrote to it (Anthropic's cache_creation_input_tokens), each
     * billed at the model's price.cached_input and price.cache_write; 0 when
     * the upstream reported none (schema v6). */
    int64_t cached_tokens;
    int64_t cache_write_tokens;
    /* The probability of the tier the classifier chose (its categories'
     * summed, decision.h): what routing.confidence_threshold is held
     * against; 1 when a header, the model name or a rule decided; 0 when
     * the classifier could not read the request (no instruction text, no
     * model: the default tier served); -1 when nothing was decided, or for
     * rows from before it (schema v7). */
    double tier_confidence;
    /* Not a request: when non-empty this entry is an event of the events
     * table (see allot_ledger_event()), not a row of requests. */
    char event[16];
    /* Set by allot_ledger_entry_explain(): explain is to be formatted from
     * explained by the ledger's writer thread; 0 (zeroed entry): explain
     * is stored as it is. */
    int explain_later;
};

/* Have the ledger's writer thread fill e->explain with
 * allot_classification_explain(c) when it stores the row, instead of the
 * caller now: the same text, formatted off the caller's (the event
 * loop's) thread. What the text needs of c is copied into e->explained; a
 * classification with an override (a rule's name, rare) is formatted
 * now. */
void allot_ledger_entry_explain(struct allot_ledger_entry *e, const struct allot_classification *c);

/* Open the store, create or upgrade the schema, start the writer. path is
 * a SQLite file (created if missing) or a PostgreSQL URI, "postgresql://"
 * or "postgres://" (store_url.h), connected to before this returns.
 * commit_ms is clamped to [1, 200]. Errors: ALLOT_ESTORE with "ledger
 * 'NAME': why" in err, NAME being the path or the URI without its
 * password (an unreachable server is an error here, not later);
 * ALLOT_ENOMEM. */
int allot_ledger_open(const char *path, long commit_ms, struct allot_ledger **out,
                      struct allot_buf *err);

/* The same, with the pending file named: NULL for the default (a SQLite
 * store's PATH.pending, else ./allot-ledger-HASH.pending (HASH: a CRC-32
 * of the URL without password); when another live
 * process holds it, PATH.pending.1 to .7 in turn), "none" for no pending
 * file (a kill then loses the last commit window), or a path (used as it
 * is; ALLOT_EBUSY when another process holds it). Rows a killed run left
 * in it are committed before this returns. Errors also: ALLOT_EIO naming
 * the pending file. */
int allot_ledger_open_with(const char *path, long commit_ms, const char *pending,
                           struct allot_ledger **out, struct allot_buf *err);

/* Commit the rows a killed run left in the pending files of the store at
 * path (pending as above; every slot when NULL), if no live process holds
 * them; *recovered gets how many (may be NULL). A store without pending
 * files is left untouched. For `allot report`, before it reads. Errors as
 * allot_ledger_open_with(). */
int allot_ledger_recover(const char *path, const char *pending, size_t *recovered,
                         struct allot_buf *err);

/* Queue a copy of e. Thread-safe, never blocks on I/O. ALLOT_ETOOBIG when
 * the queue (65,536 rows) is full; ALLOT_ECLOSED after close began. On
 * success the ledger owns e->prompt; on failure the caller still does. */
int allot_ledger_append(struct allot_ledger *l, const struct allot_ledger_entry *e);

/* Queue an event (table events: ts_ms, kind, subject, detail), e.g. a
 * category promoted by the quality floor. Same queue and guarantees as a
 * request row; the strings are truncated to fit (kind 15 bytes, subject 15,
 * detail 511). */
int allot_ledger_event(struct allot_ledger *l, int64_t ts_ms, const char *kind, const char *subject,
                       const char *detail);

/* Rows committed so far, and rows that failed to write (since open). */
uint64_t allot_ledger_rows_written(struct allot_ledger *l);
uint64_t allot_ledger_rows_failed(struct allot_ledger *l);
/* Of the rows committed, those the writer in idle time committed (0
 * without it: no pending file, or no SCHED_IDLE; docs/ledger.md). */
uint64_t allot_ledger_rows_written_idle(struct allot_ledger *l);

/* Write everything queued, commit, stop the writer and close the store.
 * A store that cannot be written is retried (PostgreSQL) for at most 5 s
 * after close began; the rows left are then counted as failed and logged.
 * Returns the rows that failed to write since open (0 for NULL). */
uint64_t allot_ledger_close(struct allot_ledger *l);

#endif
