/* from_ledger.c: the ledger as outcome data (eval.h), from a SQLite file
 * or PostgreSQL alike (ledger_reader.h). */
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

/* One outcome line (docs/outcomes.md) of the current row; rows without a
 * prompt are skipped. */
static int outcome_line(void *ctx, struct allot_ledger_reader *rd, struct allot_buf *line)
{
    const char *id = allot_ledger_reader_text(rd, 0);
    const char *prompt = allot_ledger_reader_text(rd, 1);
    const char *cat = allot_ledger_reader_text(rd, 2);
    const char *check = allot_ledger_reader_text(rd, 3);
    const char *esc = allot_ledger_reader_text(rd, 4);
    int graded = !allot_ledger_reader_is_null(rd, 5);
    int good = graded ? allot_ledger_reader_double(rd, 5) >= 0.5 : !*esc && !strcmp(check, "pass");
    int rc;

    (void)ctx;
    if (!*prompt)
        return 0;
    rc = allot_buf_adds(line, "{\"id\":");
    rc = rc ? rc : allot_buf_add_json_str(line, id, strlen(id));
    rc = rc ? rc : allot_buf_adds(line, ",\"prompt\":");
    rc = rc ? rc : allot_buf_add_json_str(line, prompt, strlen(prompt));
    rc = rc ? rc : allot_buf_adds(line, ",\"category\":");
    rc = rc ? rc : allot_buf_add_json_str(line, cat, strlen(cat));
    rc = rc ? rc
            : allot_buf_addf(line,
                             ",\"outcomes\":{\"labour\":{\"correct\":%s},\"judgment\":{"
                             "\"correct\":true}}}\n",
                             good ? "true" : "false");
    return rc ? rc : 1;
}

int allot_eval_export_ledger(const char *store, const char *out_path, size_t *n_rows,
                             struct allot_buf *err)
{
    static const struct allot_ledger_query query = {4, export_sql};
    return allot_ledger_reader_write_lines(
        store, &query, 1, out_path, 0, outcome_line, NULL,
        "has no checked labour request with its prompt kept (store.keep_prompts: true keeps them)",
        n_rows, err);
}
