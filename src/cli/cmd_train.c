/* cmd_train.c: `allot train kinds`, the kind-of-work model from labelled
 * requests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/kinds_data.h"
#include "allot/kinds_model.h"
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

static int train_kinds(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},      {"out", required_argument, NULL, 'o'},
        {"epochs", required_argument, NULL, 'e'},    {"seed", required_argument, NULL, 's'},
        {"hash-bits", required_argument, NULL, 'b'}, {"no-calibrate", no_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},           {NULL, 0, NULL, 0}};
    const char *data[MAX_DATA_PATHS], *out_path = NULL;
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
    while ((c = getopt_long(argc, argv, "d:o:e:s:b:nq", opts, NULL)) != -1) {
        switch (c) {
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

static int train_exec(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "kinds") != 0) {
        fprintf(stderr,
                "allot train: what to train? `allot train kinds --data FILE --out MODEL`\n");
        allot_cli_usage(&allot_cli_train);
        return 2;
    }
    return train_kinds(argc - 1, argv + 1);
}

const struct allot_cli_cmd allot_cli_train = {
    "train", "train the kind-of-work classifier from labelled requests",
    "usage: allot train kinds --data PATH [--data PATH ...] --out MODEL\n"
    "                         [--epochs N] [--seed N] [--hash-bits N] [--no-calibrate] "
    "[--quiet]\n\n"
    "Train the kind-of-work model (softmax regression over hashed features of the\n"
    "instruction) and write it to MODEL (docs/classifier.md has the format).\n"
    "PATH is a JSON Lines file or a directory of them, one labelled request a line:\n"
    "  {\"category\": \"summarize\", \"prompt\": \"...\"}\n"
    "  {\"category\": \"decide\", \"messages\": [...], \"tools\": [...]}\n"
    "--epochs (default 30) and --seed (default 1) set the training; the same data\n"
    "and seed give the same file. --hash-bits (default 15: 32,768 buckets, a 2 MB\n"
    "model). The temperature is fitted on 5-fold out-of-fold predictions unless\n"
    "--no-calibrate. Use the model with routing.classifier_model in allot.yaml;\n"
    "`allot serve` reloads it on SIGHUP. The built-in model is `make model`'s.\n",
    train_exec};
