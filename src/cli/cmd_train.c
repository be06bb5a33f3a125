/* cmd_train.c: `allot train kinds`, the kind-of-work model from labelled
 * requests. */
#include <getopt.h>
#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "allot/accept.h"
#include "allot/clock.h"
#include "allot/curve.h"
#include "allot/eval.h"
#include "allot/outcomes.h"
#include "allot/error.h"
#include "allot/kinds_data.h"
#include "allot/kinds_ledger.h"
#include "allot/kinds_model.h"
#include "allot/store_url.h"
#include "cli.h"

#define MAX_DATA_PATHS 16

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Accuracy of m on the set it was trained on: a sanity figure only; the
 * honest one is bench/kinds's cross-validation. */
static double train_accuracy(const struct allot_kinds_model *m,
                             const struct allot_kinds_trainset *t)
{
    size_t i, right = 0;
    int c, best;
    for (i = 0; i < t->n; i++) {
        float z[ALLOT_CAT__COUNT];
        allot_kinds_trainset_logits(m, t, i, z);
        for (best = 0, c = 1; c < ALLOT_CAT__COUNT; c++)
            if (z[c] > z[best])
                best = c;
        right += best == t->label[i];
    }
    return t->n ? (double)right / (double)t->n : 0;
}

/* `allot train kinds --export-ledger STORE --out FILE`: the ledger's kept
 * instructions as requests to label (kinds_ledger.h). */
static int export_ledger(const char *store, const char *out_path, size_t n_data,
                         unsigned long limit, int quiet)
{
    struct allot_kinds_ledger_stats st;
    struct allot_buf err;
    int rc = 1;

    allot_buf_init(&err, 4096);
    if (!out_path || n_data) {
        fprintf(stderr, "allot train kinds: --export-ledger STORE takes --out FILE, and no "
                        "--data (it writes data to label; train on it afterwards)\n");
        rc = 2;
        goto out;
    }
    if (allot_kinds_ledger_export(store, out_path, limit, &st, &err) != 0) {
        fprintf(stderr, "allot train kinds: %s\n", allot_buf_cstr(&err));
        goto out;
    }
    if (!quiet)
        printf(
            "wrote %zu instructions to %s, least sure of their tier first (%zu repeats left out)\n"
            "correct each \"category\" that is wrong, then train on it beside the built-in "
            "data:\n  allot train kinds --data data/kinds --data %s --out MODEL\n",
            st.written, out_path, st.repeats, out_path);
    rc = 0;
out:
    allot_buf_release(&err);
    return rc;
}

static int train_kinds(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"epochs", required_argument, NULL, 'e'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"hash-bits", required_argument, NULL, 'b'},
                                         {"no-calibrate", no_argument, NULL, 'n'},
                                         {"dropout", required_argument, NULL, 'p'},
                                         {"tier-weight", required_argument, NULL, 't'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"export-ledger", required_argument, NULL, 'x'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {NULL, 0, NULL, 0}};
    const char *data[MAX_DATA_PATHS], *out_path = NULL, *ledger = NULL;
    unsigned long limit = 0;
    size_t n_data = 0, i, per_cat[ALLOT_CAT__COUNT] = {0};
    struct allot_kinds_train_opts o;
    struct allot_kinds_trainset set;
    struct allot_kinds_model *m = NULL;
    struct allot_buf err;
    unsigned long v, bits = ALLOT_KINDS_HASH_BITS;
    uint64_t t0;
    int c, rc = 1, quiet = 0;

    allot_kinds_train_opts_default(&o);
    allot_buf_init(&err, 64u << 10);
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:o:e:s:b:p:t:nqx:l:", opts, NULL)) != -1) {
        switch (c) {
        case 'x':
            ledger = optarg;
            break;
        case 'l':
            if (parse_uint(optarg, 1, 100000000UL, &limit)) {
                fprintf(stderr,
                        "allot train kinds: bad value '%s' for --limit: expected 1 to "
                        "100000000\n",
                        optarg);
                rc = 2;
                goto out;
            }
            break;
        case 'p': {
            char *end;
            double d = strtod(optarg, &end);
            if (end == optarg || *end || !(d >= 0 && d <= 0.9)) {
                fprintf(stderr,
                        "allot train kinds: bad value '%s' for --dropout: expected 0 to 0.9\n",
                        optarg);
                rc = 2;
                goto out;
            }
            o.dropout = d;
            break;
        }
        case 't': {
            char *end;
            double d = strtod(optarg, &end);
            if (end == optarg || *end || !(d >= 0 && d <= 100)) {
                fprintf(stderr,
                        "allot train kinds: bad value '%s' for --tier-weight: expected 0 to 100\n",
                        optarg);
                rc = 2;
                goto out;
            }
            o.tier_weight = d;
            break;
        }
        case 'd':
            if (n_data == MAX_DATA_PATHS) {
                fprintf(stderr, "allot train kinds: at most %d --data paths\n", MAX_DATA_PATHS);
                rc = 2;
                goto out;
            }
            data[n_data++] = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'e':
        case 's':
        case 'b':
            if (parse_uint(optarg,
                           c == 'b'   ? ALLOT_HASH_BITS_MIN
                           : c == 'e' ? 1
                                      : 0,
                           c == 'b'   ? ALLOT_HASH_BITS_MAX
                           : c == 'e' ? 1000
                                      : 0xffffffffUL,
                           &v)) {
                fprintf(stderr, "allot train kinds: bad value '%s' for --%s\n", optarg,
                        c == 'e'   ? "epochs"
                        : c == 's' ? "seed"
                                   : "hash-bits");
                rc = 2;
                goto out;
            }
            if (c == 'e')
                o.epochs = (unsigned)v;
            else if (c == 's')
                o.seed = v;
            else
                bits = v;
            break;
        case 'n':
            o.calib_folds = 0;
            break;
        case 'q':
            quiet = 1;
            break;
        default:
            allot_cli_usage(&allot_cli_train);
            rc = 2;
            goto out;
        }
    }
    if (ledger) {
        rc = export_ledger(ledger, out_path, n_data, limit, quiet);
        goto out;
    }
    if (limit) {
        fprintf(stderr, "allot train kinds: --limit goes with --export-ledger\n");
        rc = 2;
        goto out;
    }
    if (n_data == 0 || !out_path) {
        fprintf(stderr, "allot train kinds: --data PATH and --out MODEL are required\n");
        rc = 2;
        goto out;
    }
    t0 = allot_clock_mono_us();
    allot_kinds_trainset_init(&set, (unsigned)bits);
    for (i = 0; i < n_data; i++) {
        int r = allot_kinds_data_load(data[i], &set, &err);
        if (r) {
            fprintf(stderr, "allot train kinds: %s\n",
                    err.len ? allot_buf_cstr(&err) : allot_strerror(r));
            goto out_set;
        }
    }
    for (i = 0; i < set.n; i++)
        per_cat[set.label[i]]++;
    if (set.n == 0) {
        fprintf(stderr, "allot train kinds: no examples in the data\n");
        goto out_set;
    }
    if (allot_kinds_train(&set, NULL, 0, &o, &m) != 0) {
        fprintf(stderr, "allot train kinds: training failed: out of memory\n");
        goto out_set;
    }
    if (allot_kinds_model_save(m, out_path, &err) != 0) {
        fprintf(stderr, "allot train kinds: %s\n", allot_buf_cstr(&err));
        goto out_set;
    }
    if (!quiet) {
        printf("trained %s on %zu examples in %.2f s: %u epochs, 2^%lu buckets, temperature "
               "%.3f, accuracy on the training data %.1f%%\n",
               out_path, set.n, (double)(allot_clock_mono_us() - t0) / 1e6, o.epochs, bits,
               m->temperature, 100 * train_accuracy(m, &set));
        for (c = 0; c < ALLOT_CAT__COUNT; c++)
            printf("%s%s %zu", c ? ", " : "examples: ", allot_category_name((enum allot_category)c),
                   per_cat[c]);
        printf("\n");
    }
    rc = 0;
out_set:
    allot_kinds_trainset_release(&set);
out:
    allot_kinds_model_free(m);
    allot_buf_release(&err);
    return rc;
}

/* `allot train outcomes`: the acceptability model of a weak/strong pair,
 * its threshold calibrated on k-fold out-of-fold scores for the target. */
static int train_outcomes(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"weak", required_argument, NULL, 'w'},
                                         {"strong", required_argument, NULL, 's'},
                                         {"strong-share", required_argument, NULL, 'S'},
                                         {"quality", required_argument, NULL, 'Q'},
                                         {"kfold", required_argument, NULL, 'k'},
                                         {"epochs", required_argument, NULL, 'e'},
                                         {"seed", required_argument, NULL, 'r'},
                                         {"hash-bits", required_argument, NULL, 'b'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"from-ledger", required_argument, NULL, 'L'},
                                         {NULL, 0, NULL, 0}};
    const char *data = NULL, *out_path = NULL, *names[2] = {NULL, NULL}, *ledger = NULL;
    char tmp[64] = "", shown[ALLOT_STORE_NAME_MAX];
    struct allot_outcomes *oc = NULL;
    struct allot_eval_data d;
    struct allot_accept_opts o;
    struct allot_accept_model *m = NULL;
    struct allot_buf err;
    double share = NAN, quality = NAN, *pred = NULL, *a = NULL, *w = NULL, *sq = NULL;
    unsigned long v, bits = ALLOT_ACCEPT_HASH_BITS, k = 5;
    unsigned *fold = NULL;
    uint64_t t0 = allot_clock_mono_us();
    size_t i, n, np = 0;
    int c, rc = 1, quiet = 0;

    memset(&d, 0, sizeof d);
    allot_accept_opts_default(&o);
    allot_buf_init(&err, 1 << 16);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'w':
            names[0] = optarg;
            break;
        case 's':
            names[1] = optarg;
            break;
        case 'S':
        case 'Q':
            *(c == 'S' ? &share : &quality) = strtod(optarg, &end);
            if (*end || !(*(c == 'S' ? &share : &quality) >= 0) ||
                !(*(c == 'S' ? &share : &quality) <= 1))
                goto bad;
            break;
        case 'k':
            if (parse_uint(optarg, 2, 100, &k))
                goto bad;
            break;
        case 'e':
            if (parse_uint(optarg, 1, 1000, &v))
                goto bad;
            o.epochs = (unsigned)v;
            break;
        case 'r':
            if (parse_uint(optarg, 0, ULONG_MAX, &v))
                goto bad;
            o.seed = v;
            break;
        case 'b':
            if (parse_uint(optarg, ALLOT_HASH_BITS_MIN, ALLOT_HASH_BITS_MAX, &bits))
                goto bad;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'L':
            ledger = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (ledger) { /* the ledger's own outcomes: labour against judgment */
        size_t rows = 0;
        int fd;
        if (data || names[0] || names[1])
            goto usage;
        snprintf(tmp, sizeof tmp, "/tmp/allot-outcomes-XXXXXX.jsonl");
        if ((fd = mkstemps(tmp, 6)) < 0) {
            fprintf(stderr, "allot train outcomes: cannot create a temporary file\n");
            tmp[0] = '\0';
            goto out;
        }
        close(fd);
        if (allot_eval_export_ledger(ledger, tmp, &rows, &err)) {
            fprintf(stderr, "allot train outcomes: %s\n", allot_buf_cstr(&err));
            goto out;
        }
        if (!quiet)
            printf("from the ledger %s: %zu checked labour requests\n",
                   allot_store_redact(ledger, shown, sizeof shown), rows);
        data = tmp;
        names[0] = "labour";
        names[1] = "judgment";
    }
    if (optind != argc || !data || !out_path || !names[0] || !names[1] ||
        (!isnan(share) && !isnan(quality)))
        goto usage;
    if (isnan(share) && isnan(quality))
        share = 0.3;
    if (allot_outcomes_load(data, NULL, &oc, &err) ||
        allot_eval_data_build(oc, names, 2, (unsigned)bits, NULL, 0, 0, &d, &err)) {
        fprintf(stderr, "allot train outcomes: %s\n", allot_buf_cstr(&err));
        goto out;
    }
    n = d.set.n;
    if (!(pred = malloc(n * 2 * sizeof *pred)) || !(fold = malloc(n * sizeof *fold)) ||
        !(a = malloc(n * sizeof *a)) || !(w = malloc(n * sizeof *w)) ||
        !(sq = malloc(n * sizeof *sq))) {
        fprintf(stderr, "allot train outcomes: out of memory\n");
        goto out;
    }
    /* The threshold for the target, and for a quality target the share of
     * strong calls it takes, from k-fold out-of-fold scores: a model's
     * scores on its own training requests are over-confident, and a
     * threshold set on them sends fewer new requests to the strong model
     * than asked (docs/eval.md). */
    if (n >= k && allot_eval_cross_predict(&d, (unsigned)k, o.seed, &o, pred, fold, -1, -1, NULL,
                                           NULL) == 0) {
        for (i = 0; i < n; i++) {
            if (isnan(d.q[i * 2]) || isnan(d.q[i * 2 + 1]))
                continue;
            a[np] = allot_accept_score(pred + i * 2, 0, 1);
            w[np] = d.q[i * 2];
            sq[np++] = d.q[i * 2 + 1];
        }
    }
    if (!isnan(quality)) {
        struct allot_curve cv;
        share = NAN;
        if (np && allot_curve_build(a, w, sq, NULL, NULL, np, &cv) == 0) {
            share = allot_share_for_quality(&cv, quality);
            allot_curve_release(&cv);
        }
    }
    if (allot_accept_train(&d.set, NULL, 0, names, &o, &m) != 0) {
        fprintf(stderr, "allot train outcomes: training failed: out of memory\n");
        goto out;
    }
    m->quality_min = isfinite(oc->quality_min) ? oc->quality_min : 0;
    m->quality_max = isfinite(oc->quality_max) ? oc->quality_max : 1;
    m->weak = 0;
    m->strong = 1;
    m->target = isnan(quality) ? ALLOT_ACCEPT_TARGET_SHARE : ALLOT_ACCEPT_TARGET_QUALITY;
    m->target_value = isnan(quality) ? share : quality;
    m->threshold = np && !isnan(share) ? allot_threshold_for_share(a, np, share) : NAN;
    if (isnan(m->threshold)) {
        fprintf(stderr,
                "allot train outcomes: no threshold reaches the target on this data (too few "
                "requests with both models' outcomes?)\n");
        goto out;
    }
    if (allot_accept_model_save(m, out_path, &err) != 0) {
        fprintf(stderr, "allot train outcomes: %s\n", allot_buf_cstr(&err));
        goto out;
    }
    if (!quiet)
        printf("trained on %zu requests (%zu left out as contaminated) in %.2f s: %s\n"
               "weak '%s', strong '%s'; threshold %.4f: %.1f%% of these requests to the strong "
               "model%s\n",
               n, oc->n_excluded, (double)(allot_clock_mono_us() - t0) / 1e6, out_path, names[0],
               names[1], m->threshold, 100 * share,
               isnan(quality) ? "" : " (what the quality target takes, by cross-validation)");
    rc = 0;
    goto out;
bad:
    fprintf(stderr, "allot train outcomes: bad value '%s'\n", optarg);
    rc = 2;
    goto out;
usage:
    fprintf(stderr, "allot train outcomes: --data PATH --weak M --strong M --out FILE are "
                    "required (see allot train --help)\n");
    rc = 2;
out:
    if (tmp[0])
        unlink(tmp);
    allot_accept_model_free(m);
    allot_eval_data_release(&d);
    allot_outcomes_free(oc);
    allot_buf_release(&err);
    free(pred);
    free(fold);
    free(a);
    free(w);
    free(sq);
    return rc;
}

static int train_exec(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "kinds") == 0)
        return train_kinds(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "outcomes") == 0)
        return train_outcomes(argc - 1, argv + 1);
    fprintf(stderr, "allot train: what to train? `allot train kinds ...` or `allot train "
                    "outcomes ...`\n");
    allot_cli_usage(&allot_cli_train);
    return 2;
}

const struct allot_cli_cmd allot_cli_train = {
    "train", "train the kind-of-work classifier, or the acceptability model from outcomes",
    "usage: allot train kinds --data PATH [--data PATH ...] --out MODEL\n"
    "                         [--epochs N] [--seed N] [--hash-bits N] [--dropout P]\n"
    "                         [--tier-weight W] [--no-calibrate] [--quiet]\n\n"
    "Train the kind-of-work model (softmax regression over hashed features of the\n"
    "instruction) and write it to MODEL (docs/classifier.md has the format).\n"
    "PATH is a JSON Lines file or a directory of them, one labelled request a line:\n"
    "  {\"category\": \"summarize\", \"prompt\": \"...\"}\n"
    "  {\"category\": \"decide\", \"messages\": [...], \"tools\": [...]}\n"
    "--epochs (default 30) and --seed (default 1) set the training; the same data\n"
    "and seed give the same file. --dropout (default 0.5, 0 to 0.9) is the share of\n"
    "features hidden from each training step, so no single phrase is leaned on.\n"
    "--tier-weight (default 3, 0 to 100) weighs the tier's log loss beside the\n"
    "category's, so mistakes across tiers cost more than mistakes within one.\n"
    "--hash-bits (default 17: 131,072 buckets, a 2.6 MB model file). The\n"
    "temperature is fitted on 5-fold out-of-fold predictions unless\n"
    "--no-calibrate. Use the model with\n"
    "routing.classifier_model in allot.yaml; `allot serve` reloads it on SIGHUP.\n"
    "The built-in model is `make model`'s.\n"
    "\n"
    "usage: allot train kinds --export-ledger STORE --out FILE [--limit N] [--quiet]\n\n"
    "Write the instructions the ledger kept (store.keep_prompts: all keeps every routed\n"
    "request's) to FILE as JSON Lines to label, one a distinct instruction, least\n"
    "sure of its tier first, each with the category allot chose, its confidence, the\n"
    "tier's confidence, tier, source and request id. Correct the categories that are\n"
    "wrong (or delete the line), then train on the file beside data/kinds to teach\n"
    "the classifier your own traffic.\n"
    "STORE: a ledger file or a postgresql:// URL. --limit N: the first N only.\n"
    "\n"
    "usage: allot train outcomes --data PATH --weak M --strong M --out FILE\n"
    "       allot train outcomes --from-ledger STORE --out FILE\n"
    "                            [--strong-share S | --quality Q] [--kfold K] [--epochs N]\n"
    "                            [--seed N] [--hash-bits N] [--quiet]\n\n"
    "Learn the acceptability model from recorded outcomes (docs/eval.md): per model, its\n"
    "expected quality on a request, from hashed features of the request. The threshold\n"
    "for routing is set for the target: --strong-share S (default 0.3) of requests to the\n"
    "strong model, or --quality Q (a fraction of the strong model's quality), calibrated\n"
    "on K-fold (default 5) out-of-fold scores. PATH: outcome data (docs/outcomes.md).\n"
    "Measure it on other data with `allot eval --model FILE`. --from-ledger STORE (a ledger\n"
    "file or a postgresql:// URL) learns from your own traffic instead: the checked labour\n"
    "requests whose prompts the ledger kept\n"
    "(store.keep_prompts: true), labour right when its answer passed and was not\n"
    "escalated (or as its audit graded it), judgment taken to be right.\n",
    train_exec};
