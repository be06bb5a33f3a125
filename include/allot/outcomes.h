/* outcomes.h: recorded outcomes, the data `allot eval` replays a routing
 * policy over and `allot train outcomes` learns from.
 *
 * A row is one request: its prompt and, per model, how good that model's
 * answer was (correct or not, or a judge's score) and, when known, what it
 * cost in tokens. Rows come from CSV files (one column per model, as in
 * RouteLLM's MMLU set and arena-bench's scores_wide.csv), from JSONL files
 * in allot's own format, or from a directory of files of one format. The
 * formats, and how the public sets are read, are in docs/outcomes.md.
 *
 * Ownership: allot_outcomes_load() returns one heap object that owns every
 * string and array it points to; allot_outcomes_free() frees it all. The
 * object is read-only after load and may be shared between threads. */
#ifndef ALLOT_OUTCOMES_H
#define ALLOT_OUTCOMES_H
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"

/* What the quality values mean for a whole data set. */
enum allot_quality_kind {
    ALLOT_QUALITY_CORRECT, /* every known value is 1 (correct) or 0 (wrong) */
    ALLOT_QUALITY_SCORE,   /* at least one value is a score (a judge's number) */
};

/* One request and how each model did on it. Every pointer points into the
 * struct allot_outcomes that holds the row. */
struct allot_outcome_row {
    const char *id; /* "" when none */
    /* The text: the prompt, or for messages the system prompt and the last
     * user turn joined with "\n\n" (as the gateway reads them,
     * chat_request.h: first system/developer message, last user message,
     * text parts joined with "\n", each capped at 64 KiB). Never empty. */
    const char *prompt;
    const char *messages_json; /* the messages array as JSON text when the row had
                                  messages, else NULL */
    const char *category;      /* "" when none */
    const char *source;        /* the file's base name without extension, e.g. "mmlu_anatomy" */
    size_t line;               /* first line of the row in its file, from 1 */
    const double *quality;     /* [n_models]: 1/0 for correct, the score for scores;
                                  NAN when unknown */
    const int64_t *prompt_tokens, *completion_tokens; /* [n_models]; -1 when unknown */
};

/* A loaded data set. */
struct allot_outcomes {
    char **models; /* [n_models]: column / key order of the first file */
    size_t n_models;
    enum allot_quality_kind kind;
    double quality_min, quality_max; /* observed range of the known values; NAN when none */
    struct allot_outcome_row *rows;  /* [n_rows], in file order, files sorted by name */
    size_t n_rows;
    size_t n_excluded; /* rows left out because their prompt is on an exclusion list */
    size_t n_files;    /* data files read (exclusion lists and model_judgment not counted) */
};

struct allot_outcomes_opts {
    /* JSONL of prompts to leave out (each line an object with "eval_prompt",
     * as RouteLLM's contaminated list, or "prompt"); NULL: none. Loading a
     * directory also uses every *contaminated_prompts.jsonl in it unless
     * no_auto_exclude; both lists apply when both are given. */
    const char *exclude_path;
    int no_auto_exclude;
    size_t max_rows; /* 0: no limit; else a cap on the rows kept (ALLOT_ETOOBIG past it) */
};

/* Read path: a file (.csv or .jsonl, by extension, any case) or a
 * directory of files of ONE format, read in name order. In a directory,
 * files with other extensions, hidden files and subdirectories are
 * ignored, and *contaminated_prompts.jsonl is an exclusion list, not data.
 * Files of one directory must name the same set of models. When CSV rows
 * have ids and a model_judgment/ directory sits beside the CSV file(s)
 * (arena-bench), each model's answer length there gives its completion
 * tokens, estimated as ceil(bytes / 4). o may be NULL (the defaults).
 *
 * On success *out is a new object for allot_outcomes_free(). On failure
 * *out is not touched and err gets one message naming the thing and the
 * cause ("FILE:LINE: why" for a row):
 *   ALLOT_EPARSE  text that is not CSV or JSON as required: bad quoting, an
 *                 unterminated quote at the end, a row with the wrong number
 *                 of fields, a value neither True/False nor a number, a JSON
 *                 line that is not valid JSON or not an object;
 *   ALLOT_EINVAL  well-formed text with the wrong content: no prompt, an
 *                 outcome without "correct" or "score" or with an unknown
 *                 key, a value of the wrong type, a score that is not a
 *                 finite number, files of one directory naming different
 *                 models, a directory mixing .csv and .jsonl files or
 *                 holding neither, a path that is not .csv or .jsonl;
 *   ALLOT_EIO     a file or directory that cannot be read (path, strerror);
 *   ALLOT_ETOOBIG more rows than o->max_rows, or a CSV row over 64 MiB;
 *   ALLOT_ENOMEM. */
int allot_outcomes_load(const char *path, const struct allot_outcomes_opts *o,
                        struct allot_outcomes **out, struct allot_buf *err);

/* Free oc and everything it owns. NULL is a no-op. */
void allot_outcomes_free(struct allot_outcomes *oc);

/* The index of a model by exact name, or -1. */
int allot_outcomes_model(const struct allot_outcomes *oc, const char *name);

#endif
