/* kinds_data.c: reading labelled requests (kinds_data.h).
 *
 * Lines are read whole with getline (a request with material can be
 * hundreds of KB); each is parsed by cJSON, rebuilt as a chat-completions
 * body and parsed again by allot_chat_request_parse(), so a training
 * example and a served request go through the same instruction finding. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cJSON.h>
#include "allot/error.h"
#include "allot/features.h"
#include "allot/instruction.h"
#include "allot/kinds_data.h"

#define LINE_MAX_BYTES (16u << 20)

static int line_error(struct allot_buf *err, const char *file, size_t line, const char *why)
{
    allot_buf_addf(err, "%s:%zu: %s", file, line, why);
    return ALLOT_EINVAL;
}

/* The chat-completions body of one example, into body. */
static int build_body(const cJSON *ex, struct allot_buf *body, const char *file, size_t line,
                      struct allot_buf *err)
{
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(ex, "prompt");
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(ex, "messages");
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(ex, "tools");
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(ex, "response_format");
    char *part = NULL;
    int rc;

    allot_buf_reset(body);
    rc = allot_buf_adds(body, "{\"model\":\"auto\",\"messages\":");
    if (cJSON_IsString(prompt)) {
        rc = rc ? rc : allot_buf_adds(body, "[{\"role\":\"user\",\"content\":");
        rc = rc ? rc
                : allot_buf_add_json_str(body, prompt->valuestring, strlen(prompt->valuestring));
        rc = rc ? rc : allot_buf_adds(body, "}]");
    } else if (cJSON_IsArray(messages)) {
        part = cJSON_PrintUnformatted(messages);
        rc = rc ? rc : part ? allot_buf_adds(body, part) : ALLOT_ENOMEM;
        cJSON_free(part);
    } else {
        return line_error(err, file, line,
                          "needs \"prompt\" (a string) or \"messages\" (an array)");
    }
    if (!rc && tools) {
        part = cJSON_PrintUnformatted(tools);
        rc = part ? allot_buf_adds(body, ",\"tools\":") : ALLOT_ENOMEM;
        rc = rc ? rc : allot_buf_adds(body, part);
        cJSON_free(part);
    }
    if (!rc && rf) {
        part = cJSON_PrintUnformatted(rf);
        rc = part ? allot_buf_adds(body, ",\"response_format\":") : ALLOT_ENOMEM;
        rc = rc ? rc : allot_buf_adds(body, part);
        cJSON_free(part);
    }
    rc = rc ? rc : allot_buf_adds(body, "}");
    if (rc)
        allot_buf_addf(err, "%s:%zu: %s", file, line, allot_strerror(rc));
    return rc;
}

static int read_line(const char *text, size_t len, const char *file, size_t line,
                     allot_kinds_example_cb cb, void *ctx, struct allot_buf *body,
                     struct allot_buf *err)
{
    cJSON *ex = cJSON_ParseWithLength(text, len);
    const cJSON *cat;
    struct allot_chat_request r;
    struct allot_buf why;
    enum allot_category category;
    int rc;

    memset(&r, 0, sizeof r);
    allot_buf_init(&why, 4096);
    if (!ex || !cJSON_IsObject(ex)) {
        line_error(err, file, line, "not a JSON object");
        rc = ALLOT_EPARSE;
        goto out;
    }
    cat = cJSON_GetObjectItemCaseSensitive(ex, "category");
    if (!cJSON_IsString(cat) ||
        allot_category_parse(allot_slice_cstr(cat->valuestring), &category) != 0) {
        rc = line_error(err, file, line,
                        "\"category\" must be one of plan, decide, review, risk, tradeoff, "
                        "synthesize, solve, scan, extract, summarize, reformat, convert, "
                        "collect, answer, compose, implement");
        goto out;
    }
    rc = build_body(ex, body, file, line, err);
    if (rc)
        goto out;
    rc = allot_chat_request_parse(&r, body->ptr, body->len, &why);
    if (rc) {
        allot_buf_addf(err, "%s:%zu: not a valid request: %s", file, line, allot_buf_cstr(&why));
        goto out;
    }
    rc = cb(ctx, &r, category, file, line);
out:
    allot_chat_request_release(&r);
    allot_buf_release(&why);
    cJSON_Delete(ex);
    return rc;
}

static int read_file(const char *path, allot_kinds_example_cb cb, void *ctx, struct allot_buf *err)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    struct allot_buf body;
    int rc = 0;

    if (!f) {
        allot_buf_addf(err, "%s: cannot open: %s", path, strerror(errno));
        return ALLOT_EIO;
    }
    allot_buf_init(&body, LINE_MAX_BYTES + 4096);
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)n, i;
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
            ;
        if (i == len)
            continue;
        if (len > LINE_MAX_BYTES) {
            rc = line_error(err, path, lineno, "line longer than 16 MB");
            break;
        }
        rc = read_line(line, len, path, lineno, cb, ctx, &body, err);
    }
    free(line);
    fclose(f);
    allot_buf_release(&body);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int allot_kinds_data_read(const char *path, allot_kinds_example_cb cb, void *ctx,
                          struct allot_buf *err)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;

    if (stat(path, &st) != 0) {
        allot_buf_addf(err, "%s: %s", path, strerror(errno));
        return ALLOT_EIO;
    }
    if (!S_ISDIR(st.st_mode))
        return read_file(path, cb, ctx, err);
    d = opendir(path);
    if (!d) {
        allot_buf_addf(err, "%s: cannot open directory: %s", path, strerror(errno));
        return ALLOT_EIO;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 7 || strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        if (n == cap) {
            char **q = realloc(names, (cap ? cap * 2 : 16) * sizeof *names);
            if (!q) {
                rc = ALLOT_ENOMEM;
                break;
            }
            names = q;
            cap = cap ? cap * 2 : 16;
        }
        if (asprintf(&names[n], "%s/%s", path, e->d_name) < 0) {
            rc = ALLOT_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n == 0) {
        allot_buf_addf(err, "%s: no .jsonl files in this directory", path);
        rc = ALLOT_ENOTFOUND;
    }
    if (rc == 0)
        qsort(names, n, sizeof *names, cmp_str);
    for (i = 0; rc == 0 && i < n; i++)
        rc = read_file(names[i], cb, ctx, err);
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

struct loader {
    struct allot_kinds_trainset *set;
    struct allot_features *feat; /* 64 KB: on the heap, not the stack */
};

int allot_kinds_trainset_add_request(struct allot_kinds_trainset *t,
                                     const struct allot_chat_request *r, enum allot_category cat,
                                     struct allot_features *scratch)
{
    struct allot_instruction in;
    struct allot_instruction_view v;
    allot_instruction_from_request(r, &in);
    allot_instruction_view(&in, &v);
    allot_features_extract(&in, &v, t->hash_bits, scratch);
    return allot_kinds_trainset_add(t, scratch, cat);
}

static int add_example(void *ctx, const struct allot_chat_request *r, enum allot_category cat,
                       const char *file, size_t line)
{
    struct loader *l = ctx;
    (void)file;
    (void)line;
    return allot_kinds_trainset_add_request(l->set, r, cat, l->feat);
}

int allot_kinds_data_load(const char *path, struct allot_kinds_trainset *t, struct allot_buf *err)
{
    struct loader l;
    int rc;

    l.set = t;
    l.feat = malloc(sizeof *l.feat);
    if (!l.feat)
        return ALLOT_ENOMEM;
    rc = allot_kinds_data_read(path, add_example, &l, err);
    free(l.feat);
    return rc;
}
