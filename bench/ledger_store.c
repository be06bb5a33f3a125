/* ledger_store.c: how fast the ledger's writer empties its queue into a
 * store, SQLite file or PostgreSQL URI (docs/ledger.md quotes it).
 *
 * Appends N realistic rows (text in every field a served request fills,
 * unique ids) as fast as it can, then closes the ledger, which writes
 * everything queued; rows/s = N / (time from the first append to the end
 * of close). N is at most 65,536, the queue's cap, so no append is
 * refused; the writer takes batches of 512 as they fill up.
 * Usage: build/bench_ledger_store STORE [N] [RUNS] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/clock.h"
#include "allot/ledger.h"
#include "allot/store_url.h"

static void fill(struct allot_ledger_entry *e, uint32_t run, long i)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "req_bench%08x%010ld", run, i);
    e->ts_ms = 1764460800000 + i;
    snprintf(e->endpoint, sizeof e->endpoint, "/v1/chat/completions");
    snprintf(e->requested_model, sizeof e->requested_model, "auto");
    snprintf(e->category, sizeof e->category, "summarize");
    e->confidence = 0.8125;
    snprintf(e->tier, sizeof e->tier, "labour");
    snprintf(e->model, sizeof e->model, "local-small");
    snprintf(e->provider, sizeof e->provider, "local");
    snprintf(e->source, sizeof e->source, "classifier");
    e->attempts = 1;
    snprintf(e->attempt_log, sizeof e->attempt_log, "local-small:ok");
    snprintf(e->status, sizeof e->status, "ok");
    e->http_status = 200;
    e->prompt_tokens = 412;
    e->completion_tokens = 96;
    e->cost_usd = 0.0001400;
    e->counterfactual_usd = 0.002676;
    e->latency_ms = 812.5;
    e->ttft_ms = 95.25;
    snprintf(e->reason, sizeof e->reason, "classifier: summarize (0.81) -> labour");
    snprintf(e->explain, sizeof e->explain,
             "summarize 0.81 (runner-up extract 0.07): for: 'summarise', 'bullet points', "
             "long pasted text; against: none");
    snprintf(e->check, sizeof e->check, "pass");
    e->grade = -1;
}

int main(int argc, char **argv)
{
    const char *store = argc > 1 ? argv[1] : NULL;
    long n = argc > 2 ? atol(argv[2]) : 50000, i;
    int runs = argc > 3 ? atoi(argv[3]) : 3, r;
    char name[ALLOT_STORE_NAME_MAX];
    struct allot_ledger_entry e;

    if (!store || n < 1 || n > 65536 || runs < 1) {
        fprintf(stderr, "usage: bench_ledger_store STORE [N <= 65536] [RUNS]\n");
        return 2;
    }
    for (r = 0; r < runs; r++) {
        struct allot_ledger *l = NULL;
        struct allot_buf err;
        uint64_t t0, t1, failed;

        allot_buf_init(&err, 4096);
        if (allot_ledger_open(store, 20, &l, &err)) {
            fprintf(stderr, "%s\n", allot_buf_cstr(&err));
            allot_buf_release(&err);
            return 1;
        }
        allot_buf_release(&err);
        t0 = allot_clock_mono_us();
        for (i = 0; i < n; i++) {
            fill(&e, (uint32_t)(t0 & 0xffffffffu), i);
            if (allot_ledger_append(l, &e)) {
                fprintf(stderr, "append %ld refused\n", i);
                break;
            }
        }
        failed = allot_ledger_close(l);
        t1 = allot_clock_mono_us();
        printf("%s: %ld rows in %.3f s: %.0f rows/s (%" PRIu64 " failed)\n",
               allot_store_redact(store, name, sizeof name), n, (double)(t1 - t0) / 1e6,
               (double)n * 1e6 / (double)(t1 - t0), failed);
    }
    return 0;
}
