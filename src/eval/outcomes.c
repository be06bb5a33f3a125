/* outcomes.c: read recorded outcomes from CSV, JSONL, or a directory of
 * either (see outcomes.h, docs/outcomes.md).
 *
 * One pass per file, the file read whole. CSV goes through libcsv, fed one
 * line at a time: libcsv reports fields and rows but never where they are,
 * and a row can only end at a line feed (the terminator function says so),
 * so the line a row starts on is the first line with content since the
 * last row ended. JSONL lines go through the strict check of json_check.h
 * (a precise "why" for a bad line, and the raw spans of "messages" and
 * "id"), then cJSON.
 *
 * A JSONL file may name a model for the first time on any line, so values
 * are first collected as sparse cells (row, model, quality, tokens); once
 * every file is read they are laid out into dense [n_rows][n_models]
 * arrays and the rows pointed into them. A malformed row is refused before
 * anything of it is kept, whether or not an exclusion list would drop it.
 *
 * Memory: strings (prompts, ids, names) live in an arena (strtab.c) of
 * 256 KiB blocks owned by the result; rows, model names and the quality
 * and token arrays are one allocation each. Nothing is global: loads may
 * run in parallel. */
#include <cJSON.h>
#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "allot/chat_request.h"
#include "allot/error.h"
#include "allot/json_check.h"
#include "allot/outcomes.h"
#include "eval/internal.h"

#define CSV_ROW_MAX (64u * 1024 * 1024) /* bytes of one CSV row's fields */
#define SCRATCH_MAX ((size_t)1 << 30)   /* a messages body or joined prompt */
#define TOKENS_MAX 9007199254740992.0   /* 2^53: past it a JSON number is not exact */

/* Grow an array to hold need elements of size bytes: the new pointer, or
 * NULL with p left as it was. *cap is updated only on success. */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    size_t ncap = *cap ? *cap : 16;
    void *np;

    if (need <= *cap)
        return p;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return NULL;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / size)
        return NULL;
    np = realloc(p, ncap * size);
    if (np)
        *cap = ncap;
    return np;
}

/* ---- files and lines ---- */

/* Read the file at path whole, NUL-terminated. ALLOT_EIO (err names the
 * path and the cause), ALLOT_ENOMEM. */
static int read_file(const char *path, char **text, size_t *len, struct allot_buf *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *p = NULL, *np;
    size_t cap = 4096, n = 0, got;
    int rc = ALLOT_EIO;

    if (!f || fstat(fileno(f), &st) != 0)
        goto io;
    /* the size is a hint: the file may change while it is read */
    if (st.st_size > 0 && (uintmax_t)st.st_size < SIZE_MAX / 2)
        cap = (size_t)st.st_size + 1;
    if (!(p = malloc(cap))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (;;) {
        if (n + 1 == cap) {
            if (cap > SIZE_MAX / 2 || !(np = realloc(p, cap * 2))) {
                rc = ALLOT_ENOMEM;
                goto out;
            }
            p = np;
            cap *= 2;
        }
        got = fread(p + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        goto io;
    p[n] = '\0';
    *text = p;
    *len = n;
    p = NULL;
    rc = 0;
    goto out;
io:
    allot_buf_addf(err, "%s: %s", path, strerror(errno ? errno : EIO));
out:
    free(p);
    if (f)
        fclose(f);
    return rc;
}

/* Skip a UTF-8 byte order mark at the start of a file. */
static size_t bom_len(const char *text, size_t len)
{
    return len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/* Lines of a text split at "\n", each without its "\n" or a "\r" before it. */
struct lines {
    const char *p, *end;
    size_t lineno; /* of the line last returned, from 1 */
};

static int next_line(struct lines *it, const char **line, size_t *len)
{
    const char *nl;
    size_t n;

    if (it->p >= it->end)
        return 0;
    nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    n = nl ? (size_t)(nl - it->p) : (size_t)(it->end - it->p);
    *line = it->p;
    if (n > 0 && it->p[n - 1] == '\r')
        n--;
    *len = n;
    it->p = nl ? nl + 1 : it->end;
    it->lineno++;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

enum format { FORMAT_NONE, FORMAT_CSV, FORMAT_JSONL };

static enum format format_of(const char *name)
{
    if (ends_with(name, ".csv"))
        return FORMAT_CSV;
    if (ends_with(name, ".jsonl"))
        return FORMAT_JSONL;
    return FORMAT_NONE;
}

static int is_exclusion_list(const char *name)
{
    return ends_with(name, "contaminated_prompts.jsonl");
}

/* Text to show in a message: at most 40 bytes of it. */
static int shown(size_t n)
{
    return n > 40 ? 40 : (int)n;
}

/* ---- the loader ---- */

/* One value, before the dense arrays exist. */
struct cell {
    size_t row, model;
    double quality; /* NAN: unknown */
    int64_t prompt_tokens, completion_tokens;
    int is_score;
};

/* The result, with what it owns. pub comes first: the public pointer is
 * the object's. */
struct outcomes_impl {
    struct allot_outcomes pub;
    struct arena strings;
    double *quality;
    int64_t *tokens; /* prompt tokens [n_rows * n_models], then completion tokens */
};

struct loader {
    const struct allot_outcomes_opts *o;
    struct allot_buf *err;
    struct outcomes_impl *im;
    struct arena tmp; /* exclusion prompts, paths */
    struct strmap exclude;
    /* models */
    char **models;
    size_t n_models, cap_models;
    int models_fixed;       /* after the first file: later files must match */
    const char *first_path; /* that file */
    unsigned char *seen;    /* [cap_models]: named in the current file */
    size_t *stamp;          /* [cap_models]: the serial of the last JSONL row naming it */
    size_t serial;
    /* rows and values */
    struct allot_outcome_row *rows;
    size_t n_rows, cap_rows;
    struct cell *cells;
    size_t n_cells, cap_cells;
    struct cell *pending; /* one JSONL row's values, before the row is kept */
    size_t cap_pending;
    size_t n_excluded, n_files;
    /* the file being read */
    const char *path, *source;
    struct allot_buf scratch; /* a messages body */
    struct allot_buf text;    /* a joined prompt */
};

static size_t model_find(const struct loader *ld, const char *name)
{
    size_t i;

    for (i = 0; i < ld->n_models; i++) {
        if (strcmp(ld->models[i], name) == 0)
            return i;
    }
    return NONE;
}

/* The index of model name, named at line of the current file: a new model
 * joins the set while the first file is read; after it, a name outside the
 * set is refused. Marks the model seen in this file. */
static int model_of(struct loader *ld, size_t line, const char *name, size_t *idx)
{
    size_t i = model_find(ld, name);
    void *p;

    if (i == NONE) {
        if (ld->models_fixed) {
            allot_buf_addf(ld->err, "%s:%zu: model '%s' is not among the models of %s", ld->path,
                           line, name, ld->first_path);
            return ALLOT_EINVAL;
        }
        if (!(p = grow(ld->models, &ld->cap_models, ld->n_models + 1, sizeof *ld->models)))
            return ALLOT_ENOMEM;
        ld->models = p;
        /* seen and stamp follow models' capacity */
        if (!(p = realloc(ld->seen, ld->cap_models)))
            return ALLOT_ENOMEM;
        ld->seen = p;
        if (!(p = realloc(ld->stamp, ld->cap_models * sizeof *ld->stamp)))
            return ALLOT_ENOMEM;
        ld->stamp = p;
        ld->seen[ld->n_models] = 0;
        ld->stamp[ld->n_models] = 0;
        if (!(ld->models[ld->n_models] =
                  allot__arena_strndup(&ld->im->strings, name, strlen(name))))
            return ALLOT_ENOMEM;
        i = ld->n_models++;
    }
    ld->seen[i] = 1;
    *idx = i;
    return 0;
}

/* Start reading a file: its path and source name. */
static int file_begin(struct loader *ld, const char *path)
{
    const char *base = strrchr(path, '/'), *dot;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    ld->path = path;
    if (!(ld->source = allot__arena_strndup(
              &ld->im->strings, base, dot && dot != base ? (size_t)(dot - base) : strlen(base))))
        return ALLOT_ENOMEM;
    if (ld->n_models)
        memset(ld->seen, 0, ld->n_models);
    return 0;
}

/* Finish a file: the first fixes the model set; a later one must have
 * named every model in it. */
static int file_end(struct loader *ld)
{
    size_t i;

    ld->n_files++;
    if (!ld->models_fixed) {
        if (ld->n_models == 0) {
            allot_buf_addf(ld->err, "%s: names no models", ld->path);
            return ALLOT_EINVAL;
        }
        ld->models_fixed = 1;
        ld->first_path = ld->path;
        return 0;
    }
    for (i = 0; i < ld->n_models; i++) {
        if (!ld->seen[i]) {
            allot_buf_addf(ld->err, "%s: lacks model '%s', a model of %s", ld->path, ld->models[i],
                           ld->first_path);
            return ALLOT_EINVAL;
        }
    }
    return 0;
}

/* The fields of a row other than its values. */
struct row_text {
    const char *id, *prompt, *messages, *category;
    size_t id_len, prompt_len, messages_len, category_len;
};

static const char *kept_str(struct loader *ld, const char *s, size_t n)
{
    return n ? allot__arena_strndup(&ld->im->strings, s, n) : "";
}

/* Keep a row read at line: *row is its index, or NONE when its prompt is
 * on the exclusion list. */
static int row_add(struct loader *ld, size_t line, const struct row_text *t, size_t *row)
{
    struct allot_outcome_row *r;
    void *p;

    *row = NONE;
    if (allot__strmap_get(&ld->exclude, t->prompt, t->prompt_len) != NONE) {
        ld->n_excluded++;
        return 0;
    }
    if (ld->o->max_rows && ld->n_rows >= ld->o->max_rows) {
        allot_buf_addf(ld->err, "%s:%zu: more than %zu rows (the cap)", ld->path, line,
                       ld->o->max_rows);
        return ALLOT_ETOOBIG;
    }
    if (!(p = grow(ld->rows, &ld->cap_rows, ld->n_rows + 1, sizeof *ld->rows)))
        return ALLOT_ENOMEM;
    ld->rows = p;
    r = &ld->rows[ld->n_rows];
    memset(r, 0, sizeof *r);
    r->id = kept_str(ld, t->id, t->id_len);
    r->prompt = kept_str(ld, t->prompt, t->prompt_len);
    r->category = kept_str(ld, t->category, t->category_len);
    r->messages_json =
        t->messages ? allot__arena_strndup(&ld->im->strings, t->messages, t->messages_len) : NULL;
    if (!r->id || !r->prompt || !r->category || (t->messages && !r->messages_json))
        return ALLOT_ENOMEM;
    r->source = ld->source;
    r->line = line;
    *row = ld->n_rows++;
    return 0;
}

static int cell_add(struct loader *ld, const struct cell *c)
{
    void *p = grow(ld->cells, &ld->cap_cells, ld->n_cells + 1, sizeof *ld->cells);

    if (!p)
        return ALLOT_ENOMEM;
    ld->cells = p;
    ld->cells[ld->n_cells++] = *c;
    return 0;
}

/* ---- CSV ---- */

/* A value as written in a CSV cell. */
enum csv_value { VALUE_UNKNOWN, VALUE_CORRECT, VALUE_SCORE, VALUE_BAD, VALUE_RANGE };

/* Is s[0..n) a number as JSON writes them? */
static int is_json_number(const char *s, size_t n)
{
    size_t i = 0, d;

    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    return i == n;
}

/* Read a cell: True/False (any case), 1/0, a number, or blank. s is
 * NUL-terminated at s[n] (or followed by trimmed blanks). */
static enum csv_value csv_value(const char *s, size_t n, double *v)
{
    char *end;

    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *v = NAN;
    if (n == 0)
        return VALUE_UNKNOWN;
    if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 1 && *s == '1')) {
        *v = 1;
        return VALUE_CORRECT;
    }
    if ((n == 5 && strncasecmp(s, "false", 5) == 0) || (n == 1 && *s == '0')) {
        *v = 0;
        return VALUE_CORRECT;
    }
    if (!is_json_number(s, n))
        return VALUE_BAD;
    /* the grammar is checked, so strtod reads exactly those bytes */
    *v = strtod(s, &end);
    if (!isfinite(*v)) {
        *v = NAN;
        return VALUE_RANGE;
    }
    return VALUE_SCORE;
}

struct span {
    size_t off, len;
};

struct csv_read {
    struct loader *ld;
    struct allot_buf fields; /* this row's fields, each followed by a NUL */
    struct span *field;
    size_t n_fields, cap_fields;
    int have_header;
    size_t n_cols, col_prompt, col_id, col_category;
    size_t *col_model; /* [n_cols]: model index, or NONE */
    size_t line;       /* of the chunk being fed */
    size_t row_line;   /* where the open row started; 0: none open */
    int rc;
};

static const char *field_at(const struct csv_read *cr, size_t i)
{
    return cr->fields.ptr + cr->field[i].off;
}

static int csv_header(struct csv_read *cr, size_t line)
{
    struct loader *ld = cr->ld;
    size_t i, m, *role, n_models = 0;
    const char *name;
    int rc;

    cr->n_cols = cr->n_fields;
    cr->col_prompt = cr->col_id = cr->col_category = NONE;
    if (!(cr->col_model = malloc(cr->n_cols * sizeof *cr->col_model)))
        return ALLOT_ENOMEM;
    for (i = 0; i < cr->n_cols; i++) {
        name = field_at(cr, i);
        cr->col_model[i] = NONE;
        if (cr->field[i].len == 0 || strlen(name) != cr->field[i].len) {
            allot_buf_addf(ld->err, "%s:%zu: column %zu has no name", ld->path, line, i + 1);
            return ALLOT_EINVAL;
        }
        if (strcmp(name, "prompt") == 0 || strcmp(name, "question") == 0)
            role = &cr->col_prompt;
        else if (strcmp(name, "id") == 0 || strcmp(name, "question_id") == 0)
            role = &cr->col_id;
        else if (strcmp(name, "category") == 0)
            role = &cr->col_category;
        else
            role = NULL;
        if (role) {
            if (*role != NONE) {
                allot_buf_addf(ld->err, "%s:%zu: columns '%s' and '%s' say the same thing",
                               ld->path, line, field_at(cr, *role), name);
                return ALLOT_EINVAL;
            }
            *role = i;
            continue;
        }
        m = model_find(ld, name);
        if (m != NONE && ld->seen[m]) {
            allot_buf_addf(ld->err, "%s:%zu: model column '%s' appears twice", ld->path, line,
                           name);
            return ALLOT_EINVAL;
        }
        if ((rc = model_of(ld, line, name, &cr->col_model[i])))
            return rc;
        n_models++;
    }
    if (cr->col_prompt == NONE) {
        allot_buf_addf(ld->err, "%s:%zu: no 'prompt' (or 'question') column", ld->path, line);
        return ALLOT_EINVAL;
    }
    if (n_models == 0) {
        allot_buf_addf(ld->err, "%s:%zu: no model columns", ld->path, line);
        return ALLOT_EINVAL;
    }
    cr->have_header = 1;
    return 0;
}

static int csv_row(struct csv_read *cr, size_t line)
{
    struct loader *ld = cr->ld;
    struct row_text t;
    struct cell c;
    enum csv_value kind;
    size_t i, row;
    double v;
    int rc;

    if (cr->n_fields != cr->n_cols) {
        allot_buf_addf(ld->err, "%s:%zu: %zu fields where the header has %zu", ld->path, line,
                       cr->n_fields, cr->n_cols);
        return ALLOT_EPARSE;
    }
    /* every value is checked before anything of the row is kept */
    for (i = 0; i < cr->n_cols; i++) {
        if (cr->col_model[i] == NONE)
            continue;
        kind = csv_value(field_at(cr, i), cr->field[i].len, &v);
        if (kind == VALUE_BAD || kind == VALUE_RANGE) {
            allot_buf_addf(ld->err,
                           kind == VALUE_BAD
                               ? "%s:%zu: column '%s': '%.*s' is neither True/False nor a number"
                               : "%s:%zu: column '%s': %.*s is out of range for a number",
                           ld->path, line, ld->models[cr->col_model[i]], shown(cr->field[i].len),
                           field_at(cr, i));
            return kind == VALUE_BAD ? ALLOT_EPARSE : ALLOT_EINVAL;
        }
    }
    memset(&t, 0, sizeof t);
    t.prompt = field_at(cr, cr->col_prompt);
    t.prompt_len = cr->field[cr->col_prompt].len;
    if (t.prompt_len == 0) {
        allot_buf_addf(ld->err, "%s:%zu: empty prompt", ld->path, line);
        return ALLOT_EINVAL;
    }
    if (cr->col_id != NONE) {
        t.id = field_at(cr, cr->col_id);
        t.id_len = cr->field[cr->col_id].len;
    }
    if (cr->col_category != NONE) {
        t.category = field_at(cr, cr->col_category);
        t.category_len = cr->field[cr->col_category].len;
    }
    if ((rc = row_add(ld, line, &t, &row)) || row == NONE)
        return rc;
    for (i = 0; i < cr->n_cols; i++) {
        if (cr->col_model[i] == NONE)
            continue;
        kind = csv_value(field_at(cr, i), cr->field[i].len, &v);
        if (kind == VALUE_UNKNOWN)
            continue;
        c.row = row;
        c.model = cr->col_model[i];
        c.quality = v;
        c.prompt_tokens = c.completion_tokens = -1;
        c.is_score = kind == VALUE_SCORE;
        if ((rc = cell_add(ld, &c)))
            return rc;
    }
    return 0;
}

/* libcsv: a field ended. The field's bytes are copied as the parser's
 * buffer is reused for the next one. */
static void csv_on_field(void *s, size_t len, void *data)
{
    struct csv_read *cr = data;
    void *p;
    int rc;

    if (cr->rc)
        return;
    if (!(p = grow(cr->field, &cr->cap_fields, cr->n_fields + 1, sizeof *cr->field))) {
        cr->rc = ALLOT_ENOMEM;
        return;
    }
    cr->field = p;
    cr->field[cr->n_fields].off = cr->fields.len;
    cr->field[cr->n_fields].len = len;
    /* s is NULL for an empty field before libcsv has allocated its buffer */
    rc = len ? allot_buf_add(&cr->fields, s, len) : 0;
    if (!rc)
        rc = allot_buf_add(&cr->fields, "", 1);
    if (rc == ALLOT_ETOOBIG)
        allot_buf_addf(cr->ld->err, "%s:%zu: a row longer than %u bytes", cr->ld->path,
                       cr->row_line ? cr->row_line : cr->line, CSV_ROW_MAX);
    cr->rc = rc;
    cr->n_fields++;
}

/* libcsv: a row ended (always at a line feed: see csv_is_term). */
static void csv_on_row(int c, void *data)
{
    struct csv_read *cr = data;
    size_t line = cr->row_line ? cr->row_line : cr->line;

    (void)c;
    if (!cr->rc)
        cr->rc = cr->have_header ? csv_row(cr, line) : csv_header(cr, line);
    allot_buf_reset(&cr->fields);
    cr->n_fields = 0;
    cr->row_line = 0;
}

/* Rows end at a line feed only, so that each chunk fed holds at most one
 * row end, at its last byte. */
static int csv_is_term(unsigned char c)
{
    return c == '\n';
}

/* The only byte trimmed around unquoted fields and after a closing quote:
 * the CR of a CRLF. Spaces and tabs are data (RFC 4180). */
static int csv_is_space(unsigned char c)
{
    return c == '\r';
}

static int has_content(const char *p, const char *end)
{
    for (; p < end; p++) {
        if (*p != '\r' && *p != '\n')
            return 1;
    }
    return 0;
}

static int read_csv(struct loader *ld, const char *text, size_t len)
{
    struct csv_parser parser;
    struct csv_read cr;
    const char *p, *end = text + len, *nl, *next;
    int rc, parser_ready = 0;

    memset(&cr, 0, sizeof cr);
    cr.ld = ld;
    allot_buf_init(&cr.fields, CSV_ROW_MAX);
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    parser_ready = 1;
    csv_set_term_func(&parser, csv_is_term);
    csv_set_space_func(&parser, csv_is_space);
    for (p = text + bom_len(text, len); p < end; p = next) {
        nl = memchr(p, '\n', (size_t)(end - p));
        next = nl ? nl + 1 : end;
        cr.line++;
        if (!cr.row_line && has_content(p, next))
            cr.row_line = cr.line;
        if (csv_parse(&parser, p, (size_t)(next - p), csv_on_field, csv_on_row, &cr) !=
            (size_t)(next - p)) {
            if (cr.rc)
                break;
            if (csv_error(&parser) == CSV_EPARSE) {
                allot_buf_addf(ld->err,
                               "%s:%zu: malformed quoting (a quote inside an unquoted field, or "
                               "text after a closing quote)",
                               ld->path, cr.line);
                rc = ALLOT_EPARSE;
            } else {
                rc = ALLOT_ENOMEM;
            }
            goto out;
        }
        if (cr.rc)
            break;
    }
    if (!cr.rc && csv_fini(&parser, csv_on_field, csv_on_row, &cr) != 0) {
        if (!cr.rc) {
            allot_buf_addf(ld->err, "%s:%zu: unterminated quoted field", ld->path, cr.row_line);
            rc = ALLOT_EPARSE;
            goto out;
        }
    }
    if ((rc = cr.rc))
        goto out;
    if (!cr.have_header) {
        allot_buf_addf(ld->err, "%s: empty file, no header", ld->path);
        rc = ALLOT_EPARSE;
    }
out:
    if (parser_ready)
        csv_free(&parser);
    allot_buf_release(&cr.fields);
    free(cr.field);
    free(cr.col_model);
    return rc;
}

/* ---- JSONL ---- */

/* The top-level members of a line that are read by span or counted. */
struct top_keys {
    const char *text;
    size_t n_prompt, n_messages, n_id, n_category, n_outcomes;
    size_t messages_off, messages_len, id_off, id_len;
};

static void on_top_member(void *ctx, const struct allot_json_check_member *m)
{
    struct top_keys *tk = ctx;

    if (allot_json_check_key_is(tk->text, m, "prompt")) {
        tk->n_prompt++;
    } else if (allot_json_check_key_is(tk->text, m, "messages")) {
        tk->n_messages++;
        tk->messages_off = m->value_off;
        tk->messages_len = m->value_len;
    } else if (allot_json_check_key_is(tk->text, m, "id")) {
        tk->n_id++;
        tk->id_off = m->value_off;
        tk->id_len = m->value_len;
    } else if (allot_json_check_key_is(tk->text, m, "category")) {
        tk->n_category++;
    } else if (allot_json_check_key_is(tk->text, m, "outcomes")) {
        tk->n_outcomes++;
    }
}

/* Check and parse one line of path as a JSON object. *root is NULL when
 * the line is blank. */
static int json_line(struct allot_buf *err, const char *path, size_t lineno, const char *line,
                     size_t len, allot_json_check_member_cb on_member, void *ctx, cJSON **root)
{
    struct allot_json_check_error jerr;
    const char *end = NULL;

    *root = NULL;
    if (allot_json_check_skip_ws(line, len, 0) == len)
        return 0;
    if (allot_json_check(line, len, 0, on_member, ctx, &jerr)) {
        allot_buf_addf(err, "%s:%zu: invalid JSON at column %zu: %s", path, lineno, jerr.column,
                       jerr.why);
        return ALLOT_EPARSE;
    }
    /* the check accepts a subset of what cJSON does: only memory can fail */
    if (!(*root = cJSON_ParseWithLengthOpts(line, len, &end, 0)))
        return ALLOT_ENOMEM;
    if (!cJSON_IsObject(*root)) {
        allot_buf_addf(err, "%s:%zu: not a JSON object", path, lineno);
        cJSON_Delete(*root);
        *root = NULL;
        return ALLOT_EPARSE;
    }
    return 0;
}

static int is_token_count(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= TOKENS_MAX &&
           v->valuedouble == floor(v->valuedouble);
}

/* One member of "outcomes": model name -> {"correct"|"score", tokens}. */
static int outcome_of(struct loader *ld, size_t lineno, const cJSON *v, struct cell *c)
{
    const char *model = v->string, *k;
    const cJSON *m;
    unsigned have = 0, bit;
    int rc;

    if (!*model) {
        allot_buf_addf(ld->err, "%s:%zu: an outcome with an empty model name", ld->path, lineno);
        return ALLOT_EINVAL;
    }
    if (!cJSON_IsObject(v)) {
        allot_buf_addf(ld->err,
                       "%s:%zu: outcome of '%s' must be an object such as {\"correct\": true} or "
                       "{\"score\": 7}",
                       ld->path, lineno, model);
        return ALLOT_EINVAL;
    }
    c->quality = NAN;
    c->prompt_tokens = c->completion_tokens = -1;
    c->is_score = 0;
    cJSON_ArrayForEach(m, v)
    {
        k = m->string;
        bit = strcmp(k, "correct") == 0             ? 1u
              : strcmp(k, "score") == 0             ? 2u
              : strcmp(k, "prompt_tokens") == 0     ? 4u
              : strcmp(k, "completion_tokens") == 0 ? 8u
                                                    : 0u;
        if (!bit) {
            allot_buf_addf(ld->err,
                           "%s:%zu: outcome of '%s': unknown key '%s' (correct, score, "
                           "prompt_tokens, completion_tokens)",
                           ld->path, lineno, model, k);
            return ALLOT_EINVAL;
        }
        if (have & bit) {
            allot_buf_addf(ld->err, "%s:%zu: outcome of '%s': '%s' twice", ld->path, lineno, model,
                           k);
            return ALLOT_EINVAL;
        }
        have |= bit;
        if (cJSON_IsNull(m))
            continue;
        if (bit == 1u && cJSON_IsBool(m)) {
            c->quality = cJSON_IsTrue(m) ? 1 : 0;
        } else if (bit == 2u && cJSON_IsNumber(m)) {
            /* cJSON reads 1e999 as infinity */
            if (!isfinite(m->valuedouble)) {
                allot_buf_addf(ld->err, "%s:%zu: outcome of '%s': score out of range", ld->path,
                               lineno, model);
                return ALLOT_EINVAL;
            }
            c->quality = m->valuedouble;
            c->is_score = 1;
        } else if (bit >= 4u && is_token_count(m)) {
            *(bit == 4u ? &c->prompt_tokens : &c->completion_tokens) = (int64_t)m->valuedouble;
        } else {
            allot_buf_addf(ld->err, "%s:%zu: outcome of '%s': '%s' must be %s", ld->path, lineno,
                           model, k,
                           bit == 1u   ? "true, false or null"
                           : bit == 2u ? "a number or null"
                                       : "a whole number of tokens or null");
            return ALLOT_EINVAL;
        }
    }
    if ((have & 3u) == 3u) {
        allot_buf_addf(ld->err, "%s:%zu: outcome of '%s' has both 'correct' and 'score'", ld->path,
                       lineno, model);
        return ALLOT_EINVAL;
    }
    if (!(have & 3u)) {
        allot_buf_addf(ld->err, "%s:%zu: outcome of '%s' has neither 'correct' nor 'score'",
                       ld->path, lineno, model);
        return ALLOT_EINVAL;
    }
    if ((rc = model_of(ld, lineno, model, &c->model)))
        return rc;
    return 0;
}

/* The prompt of a messages row, as the gateway would read the request:
 * into t (prompt and messages spans). */
static int messages_prompt(struct loader *ld, size_t lineno, const char *line,
                           const struct top_keys *tk, struct row_text *t)
{
    struct allot_chat_request req;
    struct allot_buf why;
    int rc;

    allot_buf_init(&why, 512);
    allot_buf_reset(&ld->scratch);
    allot_buf_reset(&ld->text);
    if ((rc = allot_buf_adds(&ld->scratch, "{\"model\":\"\",\"messages\":")) ||
        (rc = allot_buf_add(&ld->scratch, line + tk->messages_off, tk->messages_len)) ||
        (rc = allot_buf_adds(&ld->scratch, "}")))
        goto out;
    if ((rc = allot_chat_request_parse(&req, ld->scratch.ptr, ld->scratch.len, &why))) {
        if (rc != ALLOT_ENOMEM) {
            allot_buf_addf(ld->err, "%s:%zu: %s", ld->path, lineno, allot_buf_cstr(&why));
            rc = ALLOT_EINVAL;
        }
        goto out;
    }
    rc = allot_buf_add(&ld->text, req.system.ptr, req.system.len);
    if (!rc && req.system.len && req.last_user.len)
        rc = allot_buf_add(&ld->text, "\n\n", 2);
    if (!rc)
        rc = allot_buf_add(&ld->text, req.last_user.ptr, req.last_user.len);
    allot_chat_request_release(&req);
    if (rc)
        goto out;
    if (ld->text.len == 0) {
        allot_buf_addf(ld->err, "%s:%zu: 'messages' holds no system or user text", ld->path,
                       lineno);
        rc = ALLOT_EINVAL;
        goto out;
    }
    t->prompt = ld->text.ptr;
    t->prompt_len = ld->text.len;
    t->messages = line + tk->messages_off;
    t->messages_len = tk->messages_len;
out:
    allot_buf_release(&why);
    return rc;
}

static int jsonl_row(struct loader *ld, size_t lineno, const char *line, size_t len)
{
    struct top_keys tk;
    struct row_text t;
    cJSON *root = NULL, *v;
    size_t n = 0, i, row;
    const char *dup;
    void *p;
    int rc;

    memset(&tk, 0, sizeof tk);
    memset(&t, 0, sizeof t);
    tk.text = line;
    if ((rc = json_line(ld->err, ld->path, lineno, line, len, on_top_member, &tk, &root)) || !root)
        goto out;
    rc = ALLOT_EINVAL;
    dup = tk.n_prompt > 1     ? "prompt"
          : tk.n_messages > 1 ? "messages"
          : tk.n_id > 1       ? "id"
          : tk.n_category > 1 ? "category"
          : tk.n_outcomes > 1 ? "outcomes"
                              : NULL;
    if (dup) {
        allot_buf_addf(ld->err, "%s:%zu: key '%s' twice", ld->path, lineno, dup);
        goto out;
    }
    if (tk.n_prompt && tk.n_messages) {
        allot_buf_addf(ld->err, "%s:%zu: both 'prompt' and 'messages'; give one", ld->path, lineno);
        goto out;
    }
    if (tk.n_messages) {
        if ((rc = messages_prompt(ld, lineno, line, &tk, &t)))
            goto out;
        rc = ALLOT_EINVAL;
    } else {
        v = cJSON_GetObjectItemCaseSensitive(root, "prompt");
        if (!cJSON_IsString(v) || !*v->valuestring) {
            allot_buf_addf(ld->err, "%s:%zu: %s", ld->path, lineno,
                           !v                  ? "no 'prompt' or 'messages'"
                           : cJSON_IsString(v) ? "empty prompt"
                                               : "'prompt' must be a string");
            goto out;
        }
        t.prompt = v->valuestring;
        t.prompt_len = strlen(v->valuestring);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (cJSON_IsString(v)) {
        t.id = v->valuestring;
        t.id_len = strlen(v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        t.id = line + tk.id_off; /* as written: 7, 1e3 */
        t.id_len = tk.id_len;
    } else if (v && !cJSON_IsNull(v)) {
        allot_buf_addf(ld->err, "%s:%zu: 'id' must be a string or a number", ld->path, lineno);
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "category");
    if (cJSON_IsString(v)) {
        t.category = v->valuestring;
        t.category_len = strlen(v->valuestring);
    } else if (v && !cJSON_IsNull(v)) {
        allot_buf_addf(ld->err, "%s:%zu: 'category' must be a string", ld->path, lineno);
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "outcomes");
    if (!cJSON_IsObject(v)) {
        allot_buf_addf(ld->err, "%s:%zu: %s", ld->path, lineno,
                       v ? "'outcomes' must be an object of model name -> outcome"
                         : "no 'outcomes'");
        goto out;
    }
    /* the values first: a bad one refuses the row before it is kept */
    ld->serial++;
    for (v = v->child; v; v = v->next) {
        if (!(p = grow(ld->pending, &ld->cap_pending, n + 1, sizeof *ld->pending))) {
            rc = ALLOT_ENOMEM;
            goto out;
        }
        ld->pending = p;
        if ((rc = outcome_of(ld, lineno, v, &ld->pending[n])))
            goto out;
        if (ld->stamp[ld->pending[n].model] == ld->serial) {
            allot_buf_addf(ld->err, "%s:%zu: model '%s' twice in 'outcomes'", ld->path, lineno,
                           v->string);
            rc = ALLOT_EINVAL;
            goto out;
        }
        ld->stamp[ld->pending[n].model] = ld->serial;
        n++;
    }
    if ((rc = row_add(ld, lineno, &t, &row)) || row == NONE)
        goto out;
    for (i = 0; i < n; i++) {
        ld->pending[i].row = row;
        if ((rc = cell_add(ld, &ld->pending[i])))
            goto out;
    }
out:
    cJSON_Delete(root);
    return rc;
}

static int read_jsonl(struct loader *ld, const char *text, size_t len)
{
    size_t skip = bom_len(text, len);
    struct lines it = {text + skip, text + len, 0};
    const char *line;
    size_t n;
    int rc = 0;

    while (!rc && next_line(&it, &line, &n))
        rc = jsonl_row(ld, it.lineno, line, n);
    return rc;
}

/* ---- JSON Lines files other than the data ---- */

/* Called with each JSON line of path (blank lines skipped); root is freed
 * after the call. Non-zero stops the reading and is returned. */
typedef int (*json_line_cb)(struct loader *ld, void *ctx, const char *path, size_t lineno,
                            cJSON *root);

static int each_json_line(struct loader *ld, const char *path, json_line_cb cb, void *ctx)
{
    char *text = NULL;
    size_t len, n;
    struct lines it;
    const char *line;
    cJSON *root = NULL;
    int rc;

    if ((rc = read_file(path, &text, &len, ld->err)))
        goto out;
    it.p = text + bom_len(text, len);
    it.end = text + len;
    it.lineno = 0;
    while (next_line(&it, &line, &n)) {
        cJSON_Delete(root);
        if ((rc = json_line(ld->err, path, it.lineno, line, n, NULL, NULL, &root)))
            goto out;
        if (root && (rc = cb(ld, ctx, path, it.lineno, root)))
            goto out;
    }
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* ---- the exclusion list ---- */

static int exclusion_line(struct loader *ld, void *ctx, const char *path, size_t lineno,
                          cJSON *root)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "eval_prompt");
    char *prompt;
    size_t n;

    (void)ctx;
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    if (!cJSON_IsString(v)) {
        allot_buf_addf(ld->err, "%s:%zu: no 'eval_prompt' or 'prompt' string", path, lineno);
        return ALLOT_EINVAL;
    }
    n = strlen(v->valuestring);
    if (!(prompt = allot__arena_strndup(&ld->tmp, v->valuestring, n)) ||
        allot__strmap_put(&ld->exclude, prompt, n, 0))
        return ALLOT_ENOMEM;
    return 0;
}

static int read_exclusions(struct loader *ld, const char *path)
{
    return each_json_line(ld, path, exclusion_line, NULL);
}

/* ---- arena-bench's model_judgment: answer lengths ---- */

/* The length of the assistant's answer inside a judge prompt ("[The Start
 * of Assistant's Answer]\n...\n[The End of Assistant's Answer]", after the
 * reference answer when there is one), or NONE. */
static size_t answer_len(const char *s)
{
    static const char ref_end[] = "[The End of Reference Answer]";
    static const char start[] = "[The Start of Assistant's Answer]\n";
    static const char end[] = "\n[The End of Assistant's Answer]";
    size_t n = strlen(s);
    const char *a, *b, *from = strstr(s, ref_end), *last = NULL;

    a = strstr(from ? from : s, start);
    if (!a)
        return NONE;
    a += sizeof start - 1;
    /* the last end marker: the answer itself may quote the marker */
    for (b = a; (b = memmem(b, n - (size_t)(b - s), end, sizeof end - 1)); b++)
        last = b;
    return last ? (size_t)(last - a) : NONE;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* path + "/" + name in the loader's temporary arena. */
static char *join_path(struct loader *ld, const char *dir, const char *name)
{
    size_t d = strlen(dir), k = strlen(name);
    char *p;

    while (d > 1 && dir[d - 1] == '/')
        d--;
    if (d > SIZE_MAX - k - 2 || !(p = allot__arena_alloc(&ld->tmp, d + k + 2)))
        return NULL;
    memcpy(p, dir, d);
    p[d] = '/';
    memcpy(p + d + 1, name, k + 1);
    return p;
}

/* The regular files of dir of format only (FORMAT_NONE: .csv and .jsonl),
 * hidden ones left out, sorted by name, as full paths in the temporary
 * arena. */
static int list_dir(struct loader *ld, const char *dir, enum format only, char ***paths, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    char **names = NULL, *path;
    size_t cap = 0, count = 0;
    void *p;
    int rc = 0;

    if (!d) {
        allot_buf_addf(ld->err, "%s: %s", dir, strerror(errno));
        return ALLOT_EIO;
    }
    for (;;) {
        enum format f;
        errno = 0; /* readdir's NULL is the end, or an error when errno is set */
        if (!(de = readdir(d)))
            break;
        f = format_of(de->d_name);
        if (de->d_name[0] == '.' || f == FORMAT_NONE || (only != FORMAT_NONE && f != only))
            continue;
        if (!(path = join_path(ld, dir, de->d_name))) {
            rc = ALLOT_ENOMEM;
            goto out;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!(p = grow(names, &cap, count + 1, sizeof *names))) {
            rc = ALLOT_ENOMEM;
            goto out;
        }
        names = p;
        names[count++] = path;
    }
    if (errno) {
        allot_buf_addf(ld->err, "%s: %s", dir, strerror(errno));
        rc = ALLOT_EIO;
        goto out;
    }
    if (count)
        qsort(names, count, sizeof *names, by_name);
    *paths = names;
    *n = count;
    names = NULL;
out:
    free(names);
    closedir(d);
    return rc;
}

/* One judgment line: {"question_id", "model", "user_prompt"}; ctx is the
 * map from question id to row. */
static int judgment_line(struct loader *ld, void *ctx, const char *path, size_t lineno, cJSON *root)
{
    struct outcomes_impl *im = ld->im;
    const struct strmap *ids = ctx;
    size_t m, row, alen, nn = im->pub.n_rows * im->pub.n_models;
    cJSON *qid = cJSON_GetObjectItemCaseSensitive(root, "question_id");
    cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    cJSON *prompt = cJSON_GetObjectItemCaseSensitive(root, "user_prompt");
    int im_model;

    if (!cJSON_IsString(qid) || !cJSON_IsString(model) || !cJSON_IsString(prompt)) {
        allot_buf_addf(ld->err,
                       "%s:%zu: a judgment needs 'question_id', 'model' and "
                       "'user_prompt' strings",
                       path, lineno);
        return ALLOT_EINVAL;
    }
    im_model = allot_outcomes_model(&im->pub, model->valuestring);
    m = im_model < 0 ? NONE : (size_t)im_model;
    row = allot__strmap_get(ids, qid->valuestring, strlen(qid->valuestring));
    if (m == NONE || row == NONE)
        return 0;
    if ((alen = answer_len(prompt->valuestring)) == NONE) {
        allot_buf_addf(ld->err,
                       "%s:%zu: 'user_prompt' holds no \"[The Start of Assistant's "
                       "Answer]\" ... \"[The End of Assistant's Answer]\"",
                       path, lineno);
        return ALLOT_EINVAL;
    }
    im->tokens[nn + row * im->pub.n_models + m] = (int64_t)(alen / 4 + (alen % 4 != 0));
    return 0;
}

/* Set completion tokens from the answers in dir/ *.jsonl: lines of
 * {"question_id", "model", "user_prompt"}. Questions and models not in the
 * data are skipped. */
static int read_judgments(struct loader *ld, const char *dir)
{
    struct outcomes_impl *im = ld->im;
    struct strmap ids = {NULL, 0, 0};
    char **paths = NULL;
    size_t n_paths = 0, i;
    int rc = 0;

    for (i = 0; i < im->pub.n_rows; i++) {
        const char *id = im->pub.rows[i].id;
        if (*id && (rc = allot__strmap_put(&ids, id, strlen(id), i)))
            goto out;
    }
    if (!ids.n)
        goto out;
    if ((rc = list_dir(ld, dir, FORMAT_JSONL, &paths, &n_paths)))
        goto out;
    for (i = 0; i < n_paths && !rc; i++)
        rc = each_json_line(ld, paths[i], judgment_line, &ids);
out:
    free(paths);
    allot__strmap_release(&ids);
    return rc;
}

/* ---- the result ---- */

/* Lay the cells out into the dense arrays and hand rows and models to the
 * result. */
static int finish(struct loader *ld)
{
    struct outcomes_impl *im = ld->im;
    struct allot_outcomes *oc = &im->pub;
    size_t nm = ld->n_models, n, i;
    int any_score = 0;
    double lo = NAN, hi = NAN;

    if (ld->n_rows && nm > SIZE_MAX / sizeof(int64_t) / 2 / ld->n_rows)
        return ALLOT_ENOMEM;
    n = ld->n_rows * nm;
    if (n) {
        if (!(im->quality = malloc(n * sizeof *im->quality)) ||
            !(im->tokens = malloc(2 * n * sizeof *im->tokens)))
            return ALLOT_ENOMEM;
        for (i = 0; i < n; i++) {
            im->quality[i] = NAN;
            im->tokens[i] = im->tokens[n + i] = -1;
        }
    }
    for (i = 0; i < ld->n_cells; i++) {
        const struct cell *c = &ld->cells[i];
        size_t k = c->row * nm + c->model;
        im->quality[k] = c->quality;
        im->tokens[k] = c->prompt_tokens;
        im->tokens[n + k] = c->completion_tokens;
        if (isnan(c->quality))
            continue;
        any_score |= c->is_score;
        if (isnan(lo) || c->quality < lo)
            lo = c->quality;
        if (isnan(hi) || c->quality > hi)
            hi = c->quality;
    }
    for (i = 0; i < ld->n_rows; i++) {
        ld->rows[i].quality = im->quality + i * nm;
        ld->rows[i].prompt_tokens = im->tokens + i * nm;
        ld->rows[i].completion_tokens = im->tokens + n + i * nm;
    }
    oc->models = ld->models;
    oc->n_models = nm;
    oc->kind = any_score ? ALLOT_QUALITY_SCORE : ALLOT_QUALITY_CORRECT;
    oc->quality_min = lo;
    oc->quality_max = hi;
    oc->rows = ld->rows;
    oc->n_rows = ld->n_rows;
    oc->n_excluded = ld->n_excluded;
    oc->n_files = ld->n_files;
    ld->models = NULL;
    ld->rows = NULL;
    return 0;
}

static int read_data_file(struct loader *ld, const char *path, enum format fmt)
{
    char *text = NULL;
    size_t len;
    int rc;

    if ((rc = file_begin(ld, path)) || (rc = read_file(path, &text, &len, ld->err)))
        goto out;
    rc = fmt == FORMAT_CSV ? read_csv(ld, text, len) : read_jsonl(ld, text, len);
    if (!rc)
        rc = file_end(ld);
out:
    free(text);
    return rc;
}

void allot_outcomes_free(struct allot_outcomes *oc)
{
    struct outcomes_impl *im = (struct outcomes_impl *)oc;

    if (!im)
        return;
    allot__arena_release(&im->strings);
    free(im->pub.models);
    free(im->pub.rows);
    free(im->quality);
    free(im->tokens);
    free(im);
}

int allot_outcomes_model(const struct allot_outcomes *oc, const char *name)
{
    size_t i;

    for (i = 0; oc && name && i < oc->n_models && i < (size_t)INT_MAX; i++) {
        if (strcmp(oc->models[i], name) == 0)
            return (int)i;
    }
    return -1;
}

int allot_outcomes_load(const char *path, const struct allot_outcomes_opts *o,
                        struct allot_outcomes **out, struct allot_buf *err)
{
    static const struct allot_outcomes_opts defaults;
    struct loader ld;
    struct stat st;
    char **paths = NULL, *judge_dir = NULL;
    size_t n_paths = 0, i, n_data = 0;
    enum format fmt = FORMAT_NONE, f;
    const char *first_csv = NULL, *first_jsonl = NULL;
    int rc;

    memset(&ld, 0, sizeof ld);
    ld.o = o ? o : &defaults;
    ld.err = err;
    allot_buf_init(&ld.scratch, SCRATCH_MAX);
    allot_buf_init(&ld.text, SCRATCH_MAX);
    if (!path || !out) {
        rc = ALLOT_EINVAL;
        goto out;
    }
    if (!(ld.im = calloc(1, sizeof *ld.im))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if (stat(path, &st) != 0) {
        allot_buf_addf(err, "%s: %s", path, strerror(errno));
        rc = ALLOT_EIO;
        goto out;
    }
    if (ld.o->exclude_path && (rc = read_exclusions(&ld, ld.o->exclude_path)))
        goto out;

    if (S_ISDIR(st.st_mode)) {
        if ((rc = list_dir(&ld, path, FORMAT_NONE, &paths, &n_paths)))
            goto out;
        /* the exclusion lists first: they apply to every data file */
        for (i = 0; i < n_paths; i++) {
            if (is_exclusion_list(paths[i])) {
                if (!ld.o->no_auto_exclude && (rc = read_exclusions(&ld, paths[i])))
                    goto out;
                continue;
            }
            f = format_of(paths[i]);
            if (f == FORMAT_CSV && !first_csv)
                first_csv = paths[i];
            if (f == FORMAT_JSONL && !first_jsonl)
                first_jsonl = paths[i];
            fmt = f;
            n_data++;
        }
        rc = ALLOT_EINVAL;
        if (first_csv && first_jsonl) {
            allot_buf_addf(err, "%s: holds both .csv (%s) and .jsonl (%s) data files; name one",
                           path, first_csv, first_jsonl);
            goto out;
        }
        if (!n_data) {
            allot_buf_addf(err, "%s: no .csv or .jsonl data files", path);
            goto out;
        }
        for (i = 0; i < n_paths; i++) {
            if (!is_exclusion_list(paths[i]) && (rc = read_data_file(&ld, paths[i], fmt)))
                goto out;
        }
        if (fmt == FORMAT_CSV && !(judge_dir = join_path(&ld, path, "model_judgment"))) {
            rc = ALLOT_ENOMEM;
            goto out;
        }
    } else {
        fmt = format_of(path);
        if (fmt == FORMAT_NONE) {
            allot_buf_addf(err, "%s: not a .csv or .jsonl file", path);
            rc = ALLOT_EINVAL;
            goto out;
        }
        if ((rc = read_data_file(&ld, path, fmt)))
            goto out;
        if (fmt == FORMAT_CSV) {
            const char *slash = strrchr(path, '/');
            char *dir = slash ? allot__arena_strndup(&ld.tmp, path, (size_t)(slash - path)) : ".";
            if (!dir || !(judge_dir = join_path(&ld, *dir ? dir : "/", "model_judgment"))) {
                rc = ALLOT_ENOMEM;
                goto out;
            }
        }
    }
    if ((rc = finish(&ld)))
        goto out;
    if (judge_dir && stat(judge_dir, &st) == 0 && S_ISDIR(st.st_mode) &&
        (rc = read_judgments(&ld, judge_dir)))
        goto out;
    *out = &ld.im->pub;
    ld.im = NULL;
    rc = 0;
out:
    if (ld.im) {
        /* rows and models not yet handed over are the loader's */
        allot_outcomes_free(&ld.im->pub);
    }
    free(ld.models);
    free(ld.rows);
    free(ld.seen);
    free(ld.stamp);
    free(ld.cells);
    free(ld.pending);
    free(paths);
    allot__strmap_release(&ld.exclude);
    allot__arena_release(&ld.tmp);
    allot_buf_release(&ld.scratch);
    allot_buf_release(&ld.text);
    return rc;
}
