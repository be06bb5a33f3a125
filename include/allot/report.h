/* report.h: `allot report`, spend and savings from the ledger. */
#ifndef ALLOT_REPORT_H
#define ALLOT_REPORT_H
#include <stdint.h>
#include "allot/buf.h"

struct allot_report_opts {
    int64_t since_ms;   /* rows with ts_ms >= since_ms; 0 = from the start */
    int64_t until_ms;   /* rows with ts_ms < until_ms; 0 = up to now */
    int json;           /* 1: JSON, else a readable table */
    const char *client; /* only the requests of this client key (auth.keys name); NULL: all */
};

/* Read the ledger store (a SQLite path or a PostgreSQL URI, read-only, in
 * one snapshot) and write the report to out:
 * requests, tokens and spend by tier, by category and by model, totals, and
 * the saving against sending everything to the judgment tier (counterfactual
 * minus actual, and as a percentage). The report names the store without
 * its password. Errors: ALLOT_ESTORE with "ledger 'NAME': why" in err (a
 * missing file says so). */
int allot_report_run(const char *store, const struct allot_report_opts *opts, struct allot_buf *out,
                     struct allot_buf *err);

#endif
