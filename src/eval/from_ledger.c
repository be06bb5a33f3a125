/* from_ledger.c: the ledger as outcome data (eval.h), from a SQLite file
 * or PostgreSQL alike (ledger_reader.h). */
#include <stdio.h>
#include <string.h>
#include "allot/error.h"
#include "allot/eval.h"
#include "allot/ledger_reader.h"

/* A request counts when its instruction was kept and its first answer came
 * from labour and was checked: the labour answer was good (1) when it
 * passed its checks and was not escalated, bad (0) when it was escalated
 * or failed; an audit's grade of it, when there is one, decides instead.
 * The judgment tier is taken to be right. */
static const char export_sql[] =
    "SELECT r.id, r.prompt, r.category, r.\"check\", r.escalated,"
    " (SELECT a.grade FROM requests a WHERE a.audit_of = r.id AND a.endpoint = 'audit'"
    "  AND a.grade >= 0 ORDER BY a.ts_ms DESC LIMIT 1)"
    " FROM requests r WHERE r.endpoint <> 'audit' AND r.prompt <> ''"
    " AND (r.\"check\" <> '' OR r.escalated <> '') AND (r.tier = 'labour' OR r.escalated <> '')"
    " ORDER BY r.ts_ms, r.id";

static int put_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (fputc('"', f) == EOF)
        return -1;
    for (; *p; p++) {
        int rc;
        if (*p == '"' || *p == '\\')
            rc = fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            rc = fprintf(f, "\\u%04x", *p);
        else
            rc = fputc(*p, f) == EOF ? -1 : 1;
        if (rc < 0)
            return -1;
    }
    return fputc('"', f) == EOF ? -1 : 0;
}

int allot_eval_export_ledger(const char *store, const char *out_path, size_t *n_rows,
                             struct allot_buf *err)
{
    struct allot_ledger_reader *rd = NULL;
    FILE *f = NULL;
    int rc = 0, step, version = 0;

    *n_rows = 0;
    if ((rc = allot_ledger_reader_open(store, &rd, err)) ||
        (rc = allot_ledger_reader_version(rd, &version, err)))
        goto out;
    if (version < 4) {
        allot_buf_addf(err,
                       "ledger '%s': schema version %d keeps no prompts (allot keeps them from "
                       "version 4, with store.keep_prompts: true)",
                       allot_ledger_reader_name(rd), version);
        rc = ALLOT_EINVAL;
        goto out;
    }
    if ((rc = allot_ledger_reader_query(rd, export_sql, err)))
        goto out;
    if (!(f = fopen(out_path, "w"))) {
        allot_buf_addf(err, "'%s': cannot write", out_path);
        rc = ALLOT_EIO;
        goto out;
    }
    while ((step = allot_ledger_reader_next(rd, err)) == 1) {
        const char *id = allot_ledger_reader_text(rd, 0);
        const char *prompt = allot_ledger_reader_text(rd, 1);
        const char *cat = allot_ledger_reader_text(rd, 2);
        const char *check = allot_ledger_reader_text(rd, 3);
        const char *esc = allot_ledger_reader_text(rd, 4);
        int graded = !allot_ledger_reader_is_null(rd, 5);
        int good =
            graded ? allot_ledger_reader_double(rd, 5) >= 0.5 : !*esc && !strcmp(check, "pass");
        if (!*prompt)
            continue;
        if (fputs("{\"id\":", f) == EOF || put_str(f, id) || fputs(",\"prompt\":", f) == EOF ||
            put_str(f, prompt) || fputs(",\"category\":", f) == EOF || put_str(f, cat) ||
            fprintf(
                f, ",\"outcomes\":{\"labour\":{\"correct\":%s},\"judgment\":{\"correct\":true}}}\n",
                good ? "true" : "false") < 0) {
            allot_buf_addf(err, "'%s': cannot write", out_path);
            rc = ALLOT_EIO;
            goto out;
        }
        (*n_rows)++;
    }
    if (step < 0) {
        rc = step;
        goto out;
    }
    if (*n_rows == 0) {
        allot_buf_addf(err,
                       "ledger '%s' has no checked labour request with its prompt kept "
                       "(store.keep_prompts: true keeps them)",
                       allot_ledger_reader_name(rd));
        rc = ALLOT_EINVAL;
    }
out:
    if (f && fclose(f) != 0 && !rc) {
        allot_buf_addf(err, "'%s': cannot write", out_path);
        rc = ALLOT_EIO;
    }
    allot_ledger_reader_close(rd);
    return rc;
}
