/* from_ledger.c: the ledger as outcome data (eval.h). */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include "allot/error.h"
#include "allot/eval.h"

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

int allot_eval_export_ledger(const char *db_path, const char *out_path, size_t *n_rows,
                             struct allot_buf *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    FILE *f = NULL;
    int rc = 0, step, version = 0;

    *n_rows = 0;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        allot_buf_addf(err, "ledger '%s': %s", db_path, sqlite3_errmsg(db));
        rc = ALLOT_ESTORE;
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version < 4) {
        allot_buf_addf(err,
                       "ledger '%s': schema version %d keeps no prompts (allot keeps them from "
                       "version 4, with store.keep_prompts: true)",
                       db_path, version);
        rc = ALLOT_EINVAL;
        goto out;
    }
    if (sqlite3_prepare_v2(db, export_sql, -1, &st, NULL) != SQLITE_OK) {
        allot_buf_addf(err, "ledger '%s': %s", db_path, sqlite3_errmsg(db));
        rc = ALLOT_ESTORE;
        goto out;
    }
    if (!(f = fopen(out_path, "w"))) {
        allot_buf_addf(err, "'%s': cannot write", out_path);
        rc = ALLOT_EIO;
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *prompt = (const char *)sqlite3_column_text(st, 1);
        const char *cat = (const char *)sqlite3_column_text(st, 2);
        const char *check = (const char *)sqlite3_column_text(st, 3);
        const char *esc = (const char *)sqlite3_column_text(st, 4);
        int graded = sqlite3_column_type(st, 5) != SQLITE_NULL;
        int good = graded ? sqlite3_column_double(st, 5) >= 0.5
                          : (!esc || !*esc) && check && !strcmp(check, "pass");
        if (!prompt || !*prompt)
            continue;
        if (fputs("{\"id\":", f) == EOF || put_str(f, id ? id : "") ||
            fputs(",\"prompt\":", f) == EOF || put_str(f, prompt) ||
            fputs(",\"category\":", f) == EOF || put_str(f, cat ? cat : "") ||
            fprintf(
                f, ",\"outcomes\":{\"labour\":{\"correct\":%s},\"judgment\":{\"correct\":true}}}\n",
                good ? "true" : "false") < 0) {
            allot_buf_addf(err, "'%s': cannot write", out_path);
            rc = ALLOT_EIO;
            goto out;
        }
        (*n_rows)++;
    }
    if (step != SQLITE_DONE) {
        allot_buf_addf(err, "ledger '%s': %s", db_path, sqlite3_errmsg(db));
        rc = ALLOT_ESTORE;
        goto out;
    }
    if (*n_rows == 0) {
        allot_buf_addf(err,
                       "ledger '%s' has no checked labour request with its prompt kept "
                       "(store.keep_prompts: true keeps them)",
                       db_path);
        rc = ALLOT_EINVAL;
    }
out:
    if (f && fclose(f) != 0 && !rc) {
        allot_buf_addf(err, "'%s': cannot write", out_path);
        rc = ALLOT_EIO;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}
