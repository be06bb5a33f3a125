/* bench/kinds.c: the kind-of-work classifier, measured.
 *
 * Quality: stratified k-fold cross-validation on labelled requests
 * (data/kinds/ by default). Each fold's model is trained exactly as
 * `allot train kinds` trains the shipped one (same options, temperature
 * fitted on its own training folds only) and judged on the held-out fold.
 * Reported: accuracy on category and on tier, macro-F1 over the 16
 * categories, per-category precision/recall/F1, the tier confusion matrix,
 * judgment sent to labour (the costly mistake), expected calibration error
 * (10 equal-width confidence bins) and what the confidence threshold does.
 *
 * Also the same by data file: the public chat prompts are harder than the
 * written requests.
 *
 * Speed: one classification (instruction finding, features, model,
 * explanation: everything allot_classify does) of a ~1 KB request and of a
 * ~100 KB request with material, timed one call at a time on one thread:
 * calls per second, p50 and p99 in microseconds. Each call is a new
 * instruction to the classifier's memo (classify_memo.h): the calls go
 * round ALLOT_MEMO_ENTRIES + 1 requests that differ in two digits (set in
 * place, outside the timing). Then the
 * ~1 KB request again and again, as an agent's loop sends it: found in
 * the memo.
 *
 * usage: bench_kinds [--data PATH]... [--folds K] [--seed N] [--threshold X]
 *                    [--no-cv] [--no-speed] [--json]
 *                    [--epochs N] [--lr X] [--l2 X] [--no-calibrate] [--model FILE]
 *                    [--oof FILE] [--dropout P] [--tier-weight W]
 * --data may be given up to MAX_DATA times (files or directories, read in
 * turn, as `allot train kinds` reads them); default data/kinds.
 * --model FILE judges that model (from `allot train kinds`) on the data as
 * it is, without training: how a model does on traffic it never saw.
 * --oof FILE writes one JSON line per example, in data order, with its
 * out-of-fold prediction (file, line, label, predicted category, tiers,
 * confidence, the 16 probabilities): the list to audit labels from, and
 * to try ensembles or a second stage on.
 * (the training options default to those of `allot train kinds`) */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allot/classify.h"
#include "allot/classify_memo.h"
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/features.h"
#include "allot/kinds_data.h"
#include "allot/kinds_model.h"

#define MAX_DATA 16 /* --data paths, as allot train kinds takes */

#define N_CAT ALLOT_CAT__COUNT
#define N_TIER ALLOT_TIER__COUNT
#define ECE_BINS 10
#define N_SWEEP 6
static const double sweep_at[N_SWEEP] = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95};

struct cv_result {
    size_t n, right_cat, right_tier;
    size_t confusion[N_CAT][N_CAT]; /* [true][predicted] */
    size_t tier_confusion[N_TIER][N_TIER];
    double bin_conf[ECE_BINS], bin_right[ECE_BINS];
    size_t bin_n[ECE_BINS];
    size_t above, above_right; /* confidence >= threshold */
    /* the tier by probability mass (what the gateway routes on), and the
     * tier served once the threshold sends unsure requests to judgment */
    size_t mass_right, mass_confusion[N_TIER][N_TIER], routed[N_TIER][N_TIER];
    /* the same at other thresholds: the operating curve */
    size_t sweep[N_SWEEP][N_TIER][N_TIER];
    double seconds;
};

/* Results by data file (example i came from files[row_file[i]]): the
 * public chat prompts and the written requests are not equally hard. */
struct file_stats {
    char name[128];
    size_t n, right_cat, right_tier;
};
static struct file_stats *files;
static size_t n_files;
static uint32_t *row_file, *row_line;
static size_t n_row_file;

/* Each example's prediction, kept for --oof. */
struct row_pred {
    unsigned char cat, tier, mass_tier;
    float conf, tier_conf, p[N_CAT];
};
static struct row_pred *row_pred;

static void predict(const struct allot_kinds_model *m, const struct allot_kinds_trainset *t,
                    size_t row, double p[N_CAT])
{
    float z[N_CAT];
    allot_kinds_trainset_logits(m, t, row, z);
    allot_kinds_model_probs(m, z, p);
}

/* Judge model m on example i of t; add the outcome to r. */
static void score(const struct allot_kinds_model *m, const struct allot_kinds_trainset *t, size_t i,
                  double threshold, struct cv_result *r)
{
    int pred = 0, truth = t->label[i], bin, c;
    enum allot_tier pt, tt, mt = ALLOT_TIER_JUDGMENT, served;
    double conf, p[N_CAT], mass[N_TIER] = {0};

    predict(m, t, i, p);
    for (c = 0; c < N_CAT; c++) {
        if (p[c] > p[pred])
            pred = c;
        mass[allot_category_default_tier((enum allot_category)c)] += p[c];
    }
    for (c = 1; c < N_TIER; c++)
        if (mass[c] > mass[mt])
            mt = (enum allot_tier)c;
    conf = p[pred];
    pt = allot_category_default_tier((enum allot_category)pred);
    tt = allot_category_default_tier((enum allot_category)truth);
    served = mass[mt] >= threshold ? mt : ALLOT_TIER_JUDGMENT;
    if (i < n_row_file) {
        struct file_stats *fs = &files[row_file[i]];
        fs->n++;
        fs->right_cat += pred == truth;
        fs->right_tier += mt == tt;
    }
    if (row_pred) {
        row_pred[i].cat = (unsigned char)pred;
        row_pred[i].tier = (unsigned char)pt;
        row_pred[i].mass_tier = (unsigned char)mt;
        row_pred[i].conf = (float)conf;
        row_pred[i].tier_conf = (float)mass[mt];
        for (c = 0; c < N_CAT; c++)
            row_pred[i].p[c] = (float)p[c];
    }
    r->n++;
    r->right_cat += pred == truth;
    r->right_tier += pt == tt;
    r->mass_right += mt == tt;
    r->confusion[truth][pred]++;
    r->tier_confusion[tt][pt]++;
    r->mass_confusion[tt][mt]++;
    r->routed[tt][served]++;
    for (c = 0; c < N_SWEEP; c++)
        r->sweep[c][tt][mass[mt] >= sweep_at[c] ? mt : ALLOT_TIER_JUDGMENT]++;
    bin = (int)(conf * ECE_BINS);
    bin = bin >= ECE_BINS ? ECE_BINS - 1 : bin;
    r->bin_n[bin]++;
    r->bin_conf[bin] += conf;
    r->bin_right[bin] += pred == truth;
    if (conf >= threshold) {
        r->above++;
        r->above_right += pred == truth;
    }
}

static struct allot_kinds_train_opts train_opts;

static int cross_validate(const struct allot_kinds_trainset *t, unsigned k, uint64_t seed,
                          double threshold, struct cv_result *r)
{
    struct allot_kinds_train_opts o = train_opts;
    unsigned *fold = malloc(t->n * sizeof *fold), f;
    size_t *train = malloc(t->n * sizeof *train), n_train, i;
    uint64_t t0 = allot_clock_mono_us();
    int rc = 0;

    memset(r, 0, sizeof *r);
    if (!fold || !train) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    allot_kinds_stratified_folds(t, k, seed, fold);
    for (f = 0; f < k; f++) {
        struct allot_kinds_model *m = NULL;
        for (n_train = 0, i = 0; i < t->n; i++)
            if (fold[i] != f)
                train[n_train++] = i;
        rc = allot_kinds_train(t, train, n_train, &o, &m);
        if (rc)
            goto out;
        for (i = 0; i < t->n; i++)
            if (fold[i] == f)
                score(m, t, i, threshold, r);
        allot_kinds_model_free(m);
    }
    r->seconds = (double)(allot_clock_mono_us() - t0) / 1e6;
out:
    free(fold);
    free(train);
    return rc;
}

struct cat_stats {
    double precision, recall, f1;
    size_t support;
};

static double macro_f1(const struct cv_result *r, struct cat_stats *s)
{
    double sum = 0;
    int c, d;
    for (c = 0; c < N_CAT; c++) {
        size_t tp = r->confusion[c][c], pred = 0, truth = 0;
        for (d = 0; d < N_CAT; d++) {
            pred += r->confusion[d][c];
            truth += r->confusion[c][d];
        }
        s[c].support = truth;
        s[c].precision = pred ? (double)tp / (double)pred : 0;
        s[c].recall = truth ? (double)tp / (double)truth : 0;
        s[c].f1 = s[c].precision + s[c].recall > 0
                      ? 2 * s[c].precision * s[c].recall / (s[c].precision + s[c].recall)
                      : 0;
        sum += s[c].f1;
    }
    return sum / N_CAT;
}

static double ece(const struct cv_result *r)
{
    double e = 0;
    int b;
    for (b = 0; b < ECE_BINS; b++)
        if (r->bin_n[b])
            e += fabs(r->bin_conf[b] - r->bin_right[b]) / (double)r->n;
    return e;
}

/* Share of the requests of tier `from` that went to tier `to`. */
static double share(const size_t m[N_TIER][N_TIER], enum allot_tier from, enum allot_tier to)
{
    size_t total = 0;
    int t;
    for (t = 0; t < N_TIER; t++)
        total += m[from][t];
    return total ? (double)m[from][to] / (double)total : 0;
}

static void print_tiers(const char *title, const size_t m[N_TIER][N_TIER])
{
    static const char *const tn[] = {"judgment", "labour", "code"};
    int t, u;
    printf("\n  %s (rows: true, columns: predicted)\n  %-9s", title, "");
    for (u = 0; u < N_TIER; u++)
        printf(" %9s", tn[u]);
    printf("\n");
    for (t = 0; t < N_TIER; t++) {
        printf("  %-9s", tn[t]);
        for (u = 0; u < N_TIER; u++)
            printf(" %9zu", m[t][u]);
        printf("\n");
    }
}

/* --- loading, with each example's file --- */

struct loader {
    struct allot_kinds_trainset *set;
    struct allot_features *feat;
    size_t cap_files, cap_rows;
};

static int add_example(void *ctx, const struct allot_chat_request *req, enum allot_category cat,
                       const char *file, size_t line)
{
    struct loader *l = ctx;
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (n_files == 0 || strncmp(files[n_files - 1].name, base, sizeof files[0].name - 1) != 0) {
        if (n_files == l->cap_files) {
            size_t cap = l->cap_files ? 2 * l->cap_files : 64;
            struct file_stats *nf = realloc(files, cap * sizeof *nf);
            if (!nf)
                return ALLOT_ENOMEM;
            files = nf;
            l->cap_files = cap;
        }
        memset(&files[n_files], 0, sizeof files[0]);
        snprintf(files[n_files].name, sizeof files[0].name, "%s", base);
        n_files++;
    }
    if (n_row_file == l->cap_rows) {
        size_t cap = l->cap_rows ? 2 * l->cap_rows : 4096;
        uint32_t *nr = realloc(row_file, cap * sizeof *nr), *nl;
        if (!nr)
            return ALLOT_ENOMEM;
        row_file = nr;
        if (!(nl = realloc(row_line, cap * sizeof *nl)))
            return ALLOT_ENOMEM;
        row_line = nl;
        l->cap_rows = cap;
    }
    row_line[n_row_file] = (uint32_t)line;
    row_file[n_row_file++] = (uint32_t)(n_files - 1);
    return allot_kinds_trainset_add_request(l->set, req, cat, l->feat);
}

/* allot_kinds_data_load(), also noting which file each example came from. */
static int load(const char *path, struct allot_kinds_trainset *t, struct allot_buf *err)
{
    struct loader l = {t, malloc(sizeof *l.feat), 0, 0};
    int rc = l.feat ? allot_kinds_data_read(path, add_example, &l, err) : ALLOT_ENOMEM;
    free(l.feat);
    return rc;
}

static void print_files(int out_of_fold)
{
    size_t f;
    if (n_files < 2)
        return;
    printf("  %-28s %6s  %8s  %5s\n", out_of_fold ? "by file (out of fold)" : "by file", "n",
           "category", "tier");
    for (f = 0; f < n_files; f++)
        if (files[f].n)
            printf("  %-28s %6zu  %7.1f%%  %5.1f%%\n", files[f].name, files[f].n,
                   100.0 * (double)files[f].right_cat / (double)files[f].n,
                   100.0 * (double)files[f].right_tier / (double)files[f].n);
    printf("\n");
}

/* --oof: one JSON line per example with its out-of-fold prediction. The
 * file names are our own data files' base names (no quoting needed). */
static int write_oof(const char *path, const struct allot_kinds_trainset *t)
{
    FILE *f = fopen(path, "w");
    size_t i;
    int rc = 0;
    if (!f) {
        fprintf(stderr, "bench_kinds: cannot write %s\n", path);
        return 1;
    }
    for (i = 0; i < t->n && i < n_row_file; i++) {
        const struct row_pred *p = &row_pred[i];
        enum allot_category truth = (enum allot_category)t->label[i];
        int c;
        fprintf(f,
                "{\"file\":\"%s\",\"line\":%u,\"category\":\"%s\",\"tier\":\"%s\","
                "\"predicted\":\"%s\",\"confidence\":%.3f,\"predicted_tier\":\"%s\","
                "\"tier_confidence\":%.3f,\"p\":[",
                files[row_file[i]].name, row_line[i], allot_category_name(truth),
                allot_tier_name(allot_category_default_tier(truth)),
                allot_category_name((enum allot_category)p->cat), p->conf,
                allot_tier_name((enum allot_tier)p->mass_tier), p->tier_conf);
        for (c = 0; c < N_CAT; c++)
            fprintf(f, "%s%.4f", c ? "," : "", p->p[c]);
        fprintf(f, "]}\n");
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_kinds: cannot write %s\n", path);
        rc = 1;
    }
    return rc;
}

/* --- speed --- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct speed {
    size_t bytes, calls;
    double per_sec, p50_us, p99_us;
};

static const char para[] =
    "The quarterly report covers revenue, churn and the migration of the billing service. "
    "Revenue grew eight percent on the quarter, led by the enterprise plan; churn fell to "
    "two point one percent after the onboarding changes shipped in May. The migration to "
    "PostgreSQL is half done: invoices and payments are moved, ledgers are not. ";

/* A request of about size bytes: a system prompt, an instruction, and
 * material (pasted paragraphs and a fenced block) making up the rest. */
static void make_request(size_t size, struct allot_buf *user)
{
    allot_buf_reset(user);
    allot_buf_adds(user, "Summarise the report below in five bullet points for the board, "
                         "keeping every figure exact.\n\n");
    while (user->len + sizeof para < size) {
        allot_buf_adds(user, para);
        if (user->len % 3 == 0)
            allot_buf_adds(user, "\n\n");
    }
    allot_buf_adds(user, "\n\nKeep it under 120 words.");
}

#define VARIANTS (ALLOT_MEMO_ENTRIES + 1) /* more than the memo keeps: each call a new one */

/* Time calls classifications of a request of about size bytes: new ones
 * (two digits of its last line set to the call's number modulo VARIANTS
 * before each call, in place, so the text stays where the cache has it),
 * or, when repeated, the same one each time. */
static int measure(size_t size, size_t calls, int repeated, struct speed *out)
{
    struct allot_buf user;
    struct allot_instruction in;
    struct allot_classification c;
    double *us = malloc(calls * sizeof *us), total = 0;
    size_t i, v;
    static const char sys[] = "You are a careful analyst working for the finance team.";

    if (!us)
        return ALLOT_ENOMEM;
    allot_buf_init(&user, 1u << 22);
    make_request(size, &user);
    memset(&in, 0, sizeof in);
    in.system = allot_slice_of(sys, sizeof sys - 1);
    in.last_user = allot_slice_of(user.ptr, user.len);
    in.n_messages = 2;
    allot_classify(&in, &c); /* load the model outside the timing */
    for (i = 0; i < calls; i++) {
        struct timespec a, b;
        if (!repeated) {
            v = i % VARIANTS; /* "under 1vv words." */
            user.ptr[user.len - 9] = (char)('0' + v / 10 % 10);
            user.ptr[user.len - 8] = (char)('0' + v % 10);
            /* the system prompt read every time, as for a thread's first
             * request with it: not copied from the last call (features.h) */
            allot_features_forget();
        }
        clock_gettime(CLOCK_MONOTONIC, &a);
        allot_classify(&in, &c);
        clock_gettime(CLOCK_MONOTONIC, &b);
        us[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
        total += us[i];
    }
    qsort(us, calls, sizeof *us, cmp_double);
    out->bytes = user.len + sizeof sys - 1;
    out->calls = calls;
    out->per_sec = (double)calls / (total / 1e6);
    out->p50_us = us[calls / 2];
    out->p99_us = us[(size_t)((double)calls * 0.99)];
    free(us);
    allot_buf_release(&user);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"folds", required_argument, NULL, 'k'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"threshold", required_argument, NULL, 't'},
                                         {"no-cv", no_argument, NULL, 'C'},
                                         {"no-speed", no_argument, NULL, 'S'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"epochs", required_argument, NULL, 'e'},
                                         {"lr", required_argument, NULL, 'r'},
                                         {"l2", required_argument, NULL, 'l'},
                                         {"no-calibrate", no_argument, NULL, 'n'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"oof", required_argument, NULL, 'o'},
                                         {"dropout", required_argument, NULL, 'D'},
                                         {"tier-weight", required_argument, NULL, 'T'},
                                         {NULL, 0, NULL, 0}};
    const char *data[MAX_DATA] = {"data/kinds"}, *model_path = NULL, *oof_path = NULL;
    size_t n_data = 0, d;
    unsigned k = 5;
    uint64_t seed = 1;
    double threshold = 0.8; /* the shipped routing.confidence_threshold */
    int c, do_cv = 1, do_speed = 1, json = 0, rc = 1;
    struct allot_kinds_trainset set;
    struct cv_result *r = calloc(1, sizeof *r);
    struct cat_stats st[N_CAT];
    struct speed small = {0}, big = {0}, again = {0};
    struct allot_buf err;
    double mf1 = 0;

    allot_buf_init(&err, 1u << 16);
    allot_kinds_trainset_init(&set, ALLOT_KINDS_HASH_BITS);
    allot_kinds_train_opts_default(&train_opts);
    while ((c = getopt_long(argc, argv, "d:k:s:t:CSje:r:l:nm:o:D:T:", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            train_opts.dropout = atof(optarg);
            break;
        case 'T':
            train_opts.tier_weight = atof(optarg);
            break;
        case 'o':
            oof_path = optarg;
            break;
        case 'm':
            model_path = optarg;
            break;
        case 'e':
            train_opts.epochs = (unsigned)atoi(optarg);
            break;
        case 'r':
            train_opts.learning_rate = atof(optarg);
            break;
        case 'l':
            train_opts.l2 = atof(optarg);
            break;
        case 'n':
            train_opts.calib_folds = 0;
            break;
        case 'd':
            if (n_data == MAX_DATA) {
                fprintf(stderr, "bench_kinds: at most %d --data paths\n", MAX_DATA);
                goto out;
            }
            data[n_data++] = optarg;
            break;
        case 'k':
            k = (unsigned)atoi(optarg);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 't':
            threshold = atof(optarg);
            break;
        case 'C':
            do_cv = 0;
            break;
        case 'S':
            do_speed = 0;
            break;
        case 'j':
            json = 1;
            break;
        default:
            fprintf(stderr, "usage: bench_kinds [--data PATH]... [--folds K] [--seed N] "
                            "[--threshold X] [--no-cv] [--no-speed] [--json] [--epochs N] "
                            "[--lr X] [--l2 X] [--no-calibrate] [--model FILE] [--oof FILE] "
                            "[--dropout P] [--tier-weight W]\n");
            return 2;
        }
    }
    if (!r || k < 2)
        goto out;
    if (do_cv) {
        for (d = 0; d < (n_data ? n_data : 1); d++)
            if (load(data[d], &set, &err) != 0) {
                fprintf(stderr, "bench_kinds: %s\n", allot_buf_cstr(&err));
                goto out;
            }
        if (oof_path && !(row_pred = calloc(set.n, sizeof *row_pred)))
            goto out;
        if (model_path) { /* a fixed model judged on all of the data: no training */
            struct allot_kinds_model *m = NULL;
            size_t i;
            uint64_t t0 = allot_clock_mono_us();
            if (allot_kinds_model_load(model_path, &m, &err) != 0) {
                fprintf(stderr, "bench_kinds: %s\n", allot_buf_cstr(&err));
                goto out;
            }
            for (i = 0; i < set.n; i++)
                score(m, &set, i, threshold, r);
            r->seconds = (double)(allot_clock_mono_us() - t0) / 1e6;
            allot_kinds_model_free(m);
        } else if (cross_validate(&set, k, seed, threshold, r) != 0) {
            fprintf(stderr, "bench_kinds: cross-validation failed: out of memory\n");
            goto out;
        }
        mf1 = macro_f1(r, st);
        if (oof_path && write_oof(oof_path, &set) != 0)
            goto out;
    }
    if (do_speed && (measure(1024, 20000, 0, &small) != 0 || measure(100 * 1024, 2000, 0, &big) != 0 ||
                     measure(1024, 20000, 1, &again) != 0))
        goto out;

    if (json) {
        printf("{\"examples\":%zu,\"folds\":%u", r->n, k);
        if (do_cv) {
            printf(",\"category_accuracy\":%.4f,\"tier_accuracy\":%.4f,"
                   "\"tier_accuracy_top_category\":%.4f,\"macro_f1\":%.4f,"
                   "\"judgment_to_labour\":%.4f,\"judgment_to_labour_routed\":%.4f,"
                   "\"labour_to_judgment_routed\":%.4f,\"ece\":%.4f,\"threshold\":%.2f,"
                   "\"coverage\":%.4f,\"accuracy_above_threshold\":%.4f,\"per_category\":{",
                   (double)r->right_cat / (double)r->n, (double)r->mass_right / (double)r->n,
                   (double)r->right_tier / (double)r->n, mf1,
                   share(r->mass_confusion, ALLOT_TIER_JUDGMENT, ALLOT_TIER_LABOUR),
                   share(r->routed, ALLOT_TIER_JUDGMENT, ALLOT_TIER_LABOUR),
                   share(r->routed, ALLOT_TIER_LABOUR, ALLOT_TIER_JUDGMENT), ece(r), threshold,
                   (double)r->above / (double)r->n,
                   r->above ? (double)r->above_right / (double)r->above : 0);
            for (c = 0; c < N_CAT; c++)
                printf("%s\"%s\":{\"precision\":%.4f,\"recall\":%.4f,\"f1\":%.4f,\"support\":%zu}",
                       c ? "," : "", allot_category_name((enum allot_category)c), st[c].precision,
                       st[c].recall, st[c].f1, st[c].support);
            printf("}");
            printf(",\"threshold_sweep\":[");
            for (c = 0; c < N_SWEEP; c++)
                printf("%s{\"threshold\":%.2f,\"judgment_to_labour\":%.4f,"
                       "\"labour_to_judgment\":%.4f}",
                       c ? "," : "", sweep_at[c],
                       share(r->sweep[c], ALLOT_TIER_JUDGMENT, ALLOT_TIER_LABOUR),
                       share(r->sweep[c], ALLOT_TIER_LABOUR, ALLOT_TIER_JUDGMENT));
            printf("],\"per_file\":{");
            for (c = 0; c < (int)n_files; c++)
                printf("%s\"%s\":{\"examples\":%zu,\"category_accuracy\":%.4f,"
                       "\"tier_accuracy\":%.4f}",
                       c ? "," : "", files[c].name, files[c].n,
                       files[c].n ? (double)files[c].right_cat / (double)files[c].n : 0,
                       files[c].n ? (double)files[c].right_tier / (double)files[c].n : 0);
            printf("}");
        }
        if (do_speed)
            printf(",\"speed\":{\"small\":{\"bytes\":%zu,\"per_sec\":%.0f,\"p50_us\":%.2f,"
                   "\"p99_us\":%.2f},\"large\":{\"bytes\":%zu,\"per_sec\":%.0f,\"p50_us\":%.2f,"
                   "\"p99_us\":%.2f},\"small_again\":{\"bytes\":%zu,\"per_sec\":%.0f,"
                   "\"p50_us\":%.2f,\"p99_us\":%.2f}}",
                   small.bytes, small.per_sec, small.p50_us, small.p99_us, big.bytes, big.per_sec,
                   big.p50_us, big.p99_us, again.bytes, again.per_sec, again.p50_us,
                   again.p99_us);
        printf("}\n");
    } else {
        if (do_cv) {
            char from[1024];
            size_t o = 0;
            for (d = 0; d < (n_data ? n_data : 1) && o < sizeof from; d++) {
                int w = snprintf(from + o, sizeof from - o, "%s%s", d ? ", " : "", data[d]);
                o += w > 0 ? (size_t)w : 0;
            }
            if (model_path)
                printf("model %s judged on %zu examples from %s (%.1f s)\n\n", model_path, r->n,
                       from, r->seconds);
            else
                printf("cross-validation: %zu examples from %s, %u stratified folds, seed %llu "
                       "(%.1f s)\n\n",
                       r->n, from, k, (unsigned long long)seed, r->seconds);
            printf("  category accuracy   %5.1f%%\n", 100.0 * (double)r->right_cat / (double)r->n);
            printf("  tier accuracy       %5.1f%%   (target >= 92%%; the tier with the most "
                   "probability)\n",
                   100.0 * (double)r->mass_right / (double)r->n);
            printf("  (tier of the top category %.1f%%)\n",
                   100.0 * (double)r->right_tier / (double)r->n);
            printf("  category macro-F1   %5.3f    (target >= 0.80)\n", mf1);
            printf("  judgment -> labour  %5.1f%%   of judgment requests (target < 4%%)\n",
                   100 * share(r->mass_confusion, ALLOT_TIER_JUDGMENT, ALLOT_TIER_LABOUR));
            printf("  as routed, unsure (< %.2f) to judgment: judgment -> labour %.1f%%, "
                   "labour -> judgment %.1f%%\n",
                   threshold, 100 * share(r->routed, ALLOT_TIER_JUDGMENT, ALLOT_TIER_LABOUR),
                   100 * share(r->routed, ALLOT_TIER_LABOUR, ALLOT_TIER_JUDGMENT));
            printf("  calibration (ECE)   %5.3f    (%d bins)\n", ece(r), ECE_BINS);
            printf("  at confidence >= %.2f: %.1f%% of requests, %.1f%% of them right\n\n",
                   threshold, 100.0 * (double)r->above / (double)r->n,
                   r->above ? 100.0 * (double)r->above_right / (double)r->above : 0);
            printf("  %-11s %9s %6s %6s %7s\n", "category", "precision", "recall", "F1", "support");
            for (c = 0; c < N_CAT; c++)
                printf("  %-11s %9.3f %6.3f %6.3f %7zu\n",
                       allot_category_name((enum allot_category)c), st[c].precision, st[c].recall,
                       st[c].f1, st[c].support);
            print_tiers("tiers", r->mass_confusion);
            print_tiers("tiers as routed", r->routed);
            printf("\n  confidence_threshold (unsure -> judgment): what it costs and saves\n");
            printf("  %9s %19s %19s %17s\n", "threshold", "judgment -> labour",
                   "labour -> judgment", "code -> judgment");
            for (c = 0; c < N_SWEEP; c++)
                printf("  %9.2f %18.1f%% %18.1f%% %16.1f%%\n", sweep_at[c],
                       100 * share(r->sweep[c], ALLOT_TIER_JUDGMENT, ALLOT_TIER_LABOUR),
                       100 * share(r->sweep[c], ALLOT_TIER_LABOUR, ALLOT_TIER_JUDGMENT),
                       100 * share(r->sweep[c], ALLOT_TIER_CODE, ALLOT_TIER_JUDGMENT));
            printf("\n");
            print_files(!model_path);
            printf("  calibration bins: confidence -> accuracy (n)\n");
            for (c = 0; c < ECE_BINS; c++)
                if (r->bin_n[c])
                    printf("    [%.1f, %.1f)  %.2f -> %.2f  (%zu)\n", c / 10.0, (c + 1) / 10.0,
                           r->bin_conf[c] / (double)r->bin_n[c],
                           r->bin_right[c] / (double)r->bin_n[c], r->bin_n[c]);
            printf("\n");
        }
        if (do_speed) {
            char src[256];
            printf("speed (built-in model: %s), one thread, one call at a time:\n",
                   allot_classifier_source(src, sizeof src));
            printf(
                "  %6zu B request   %9.0f /s   p50 %7.2f us   p99 %7.2f us   (target p99 < 20)\n",
                small.bytes, small.per_sec, small.p50_us, small.p99_us);
            printf(
                "  %6zu B request   %9.0f /s   p50 %7.2f us   p99 %7.2f us   (target p99 < 300)\n",
                big.bytes, big.per_sec, big.p50_us, big.p99_us);
            printf("  %6zu B again     %9.0f /s   p50 %7.2f us   p99 %7.2f us   (the same "
                   "instruction: the memo's copy)\n",
                   again.bytes, again.per_sec, again.p50_us, again.p99_us);
        }
    }
    rc = 0;
out:
    allot_kinds_trainset_release(&set);
    free(files);
    free(row_file);
    free(row_line);
    free(row_pred);
    allot_classifier_shutdown();
    allot_buf_release(&err);
    free(r);
    return rc;
}
