/* policy.c: examples from outcomes, and cross-validated predictions
 * (eval.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "allot/error.h"
#include "allot/eval.h"
#include "allot/rand.h"

#define MAX_THREADS 8

/* Features of a run of rows, on a thread of its own. */
struct chunk {
    const struct allot_outcomes *oc;
    const size_t *rows;  /* outcome rows */
    const float *labels; /* n x n_heads */
    size_t n;
    struct allot_accept_set set;
    struct allot_buf err;
    int rc;
    size_t bad; /* the chunk's row that failed */
};

static void *chunk_main(void *arg)
{
    struct chunk *c = arg;
    size_t i;
    for (i = 0; i < c->n && !c->rc; i++) {
        const struct allot_outcome_row *r = &c->oc->rows[c->rows[i]];
        c->rc = allot_accept_set_add(&c->set, r->prompt, r->messages_json,
                                     c->labels + i * c->set.n_heads, &c->err);
        c->bad = i;
    }
    return NULL;
}

/* The features of rows[0..n) into set, in order, on up to MAX_THREADS
 * threads (one per core): the result does not depend on the split. */
static int add_rows(struct allot_accept_set *set, const struct allot_outcomes *oc,
                    const size_t *rows, const float *labels, size_t n, struct allot_buf *err)
{
    struct chunk c[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t t, nt = cores > 1 ? (size_t)cores : 1, at = 0;
    int rc = 0, started[MAX_THREADS] = {0};

    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    if (n < 256)
        nt = 1;
    for (t = 0; t < nt; t++) {
        size_t len = n / nt + (t < n % nt);
        c[t].oc = oc;
        c[t].rows = rows + at;
        c[t].labels = labels + at * set->n_heads;
        c[t].n = len;
        c[t].rc = 0;
        c[t].bad = 0;
        allot_accept_set_init(&c[t].set, set->hash_bits, set->n_heads);
        allot_buf_init(&c[t].err, 4096);
        at += len;
        if (t > 0 && pthread_create(&th[t], NULL, chunk_main, &c[t]) == 0)
            started[t] = 1;
        else if (t > 0)
            chunk_main(&c[t]);
    }
    chunk_main(&c[0]);
    for (t = 1; t < nt; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    for (t = 0; t < nt; t++) {
        if (!rc && c[t].rc) {
            const struct allot_outcome_row *r = &oc->rows[c[t].rows[c[t].bad]];
            rc = c[t].rc;
            if (rc != ALLOT_ENOMEM)
                allot_buf_addf(err, "%s (%s, line %zu)", allot_buf_cstr(&c[t].err), r->source,
                               r->line);
        }
        if (!rc)
            rc = allot_accept_set_append(set, &c[t].set);
        allot_accept_set_release(&c[t].set);
        allot_buf_release(&c[t].err);
    }
    return rc;
}

static const struct allot_price *price_of(const struct allot_price *p, size_t n, const char *model)
{
    size_t i;
    for (i = 0; p && i < n; i++)
        if (!strcmp(p[i].model, model))
            return &p[i];
    return NULL;
}

static void model_list(const struct allot_outcomes *oc, struct allot_buf *err)
{
    size_t i;
    for (i = 0; i < oc->n_models; i++)
        allot_buf_addf(err, "%s'%s'", i ? ", " : "", oc->models[i]);
}

int allot_eval_data_build(const struct allot_outcomes *oc, const char *const *models,
                          size_t n_models, unsigned hash_bits, const struct allot_price *prices,
                          size_t n_prices, int64_t assumed_completion, struct allot_eval_data *out,
                          struct allot_buf *err)
{
    struct allot_eval_data d;
    const struct allot_price *pr[ALLOT_ACCEPT_MAX_HEADS];
    float labels[ALLOT_ACCEPT_MAX_HEADS], *lab = NULL;
    double lo = oc->quality_min, span = oc->quality_max - oc->quality_min;
    size_t i, h, n, k = 0;
    int rc = 0;

    memset(&d, 0, sizeof d);
    if (n_models == 0 || n_models > ALLOT_ACCEPT_MAX_HEADS) {
        allot_buf_addf(err, "between 1 and %d models, not %zu", ALLOT_ACCEPT_MAX_HEADS, n_models);
        return ALLOT_EINVAL;
    }
    if (!(span > 0)) {
        lo = 0;
        span = 1;
    }
    d.n_heads = n_models;
    d.priced = 1;
    d.assumed_completion = assumed_completion;
    for (h = 0; h < n_models; h++) {
        d.model[h] = allot_outcomes_model(oc, models[h]);
        if (d.model[h] < 0) {
            allot_buf_addf(err, "model '%s' is not in the data; its models are: ", models[h]);
            model_list(oc, err);
            return ALLOT_ENOTFOUND;
        }
        d.names[h] = oc->models[d.model[h]];
        pr[h] = price_of(prices, n_prices, models[h]);
        if (!pr[h])
            d.priced = 0;
    }
    allot_accept_set_init(&d.set, hash_bits, n_models);
    n = oc->n_rows;
    if (!(d.row = malloc(n * sizeof *d.row)) || !(d.q = malloc(n * n_models * sizeof *d.q)) ||
        !(d.raw = malloc(n * n_models * sizeof *d.raw)) ||
        !(d.cost = calloc(n * n_models, sizeof *d.cost))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if (!(lab = malloc(n * n_models * sizeof *lab))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        const struct allot_outcome_row *r = &oc->rows[i];
        size_t known = 0;
        int64_t est = (int64_t)((strlen(r->prompt) + 3) / 4);

        for (h = 0; h < n_models; h++) {
            double v = r->quality[d.model[h]];
            labels[h] = isnan(v) ? NAN : (float)((v - lo) / span);
            known += !isnan(v);
        }
        if (!known)
            continue;
        d.row[k] = i;
        for (h = 0; h < n_models; h++) {
            int m = d.model[h];
            int64_t pt = r->prompt_tokens[m] >= 0 ? r->prompt_tokens[m] : est;
            int64_t ct =
                r->completion_tokens[m] >= 0 ? r->completion_tokens[m] : assumed_completion;
            lab[k * n_models + h] = labels[h];
            d.raw[k * n_models + h] = r->quality[m];
            d.q[k * n_models + h] = labels[h];
            if (pr[h])
                d.cost[k * n_models + h] = ((double)pt * pr[h]->in + (double)ct * pr[h]->out) / 1e6;
        }
        if (r->prompt_tokens[d.model[0]] < 0)
            d.estimated_prompts++;
        k++;
    }
    if ((rc = add_rows(&d.set, oc, d.row, lab, k, err)))
        goto out;
    if (d.set.n == 0) {
        allot_buf_addf(err, "no row has a quality for these models");
        rc = ALLOT_EINVAL;
        goto out;
    }
    *out = d;
    memset(&d, 0, sizeof d);
out:
    free(lab);
    allot_eval_data_release(&d);
    return rc;
}

void allot_eval_data_release(struct allot_eval_data *d)
{
    allot_accept_set_release(&d->set);
    free(d->row);
    free(d->q);
    free(d->raw);
    free(d->cost);
    memset(d, 0, sizeof *d);
}

int allot_eval_cross_predict(const struct allot_eval_data *d, unsigned k, uint64_t seed,
                             const struct allot_accept_opts *o, double *pred, unsigned *fold,
                             int weak, int strong, double **ins, size_t *n_ins)
{
    size_t n = d->set.n, i, *perm = NULL, *train = NULL, nt;
    uint64_t s = seed;
    unsigned f;
    int rc = 0;

    if (k < 2 || k > n)
        return ALLOT_EINVAL;
    if (!(perm = malloc(n * sizeof *perm)) || !(train = malloc(n * sizeof *train))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++)
        perm[i] = i;
    allot_rand_shuffle(perm, n, &s);
    for (i = 0; i < n; i++)
        fold[perm[i]] = (unsigned)(i % k);
    for (f = 0; f < k && !rc; f++) {
        struct allot_accept_model *m = NULL;
        for (nt = 0, i = 0; i < n; i++)
            if (fold[i] != f)
                train[nt++] = i;
        if ((rc = allot_accept_train(&d->set, train, nt, d->names, o, &m)))
            break;
        for (i = 0; i < n; i++)
            if (fold[i] == f)
                allot_accept_predict_row(m, &d->set, i, pred + i * d->n_heads);
        if (ins) {
            double q[ALLOT_ACCEPT_MAX_HEADS];
            size_t H = d->n_heads, j;
            n_ins[f] = 0;
            for (j = 0; j < nt; j++) {
                i = train[j];
                if (isnan(d->q[i * H + (size_t)weak]) || isnan(d->q[i * H + (size_t)strong]))
                    continue;
                allot_accept_predict_row(m, &d->set, i, q);
                ins[f][n_ins[f]++] = allot_accept_score(q, weak, strong);
            }
        }
        allot_accept_model_free(m);
    }
out:
    free(perm);
    free(train);
    return rc;
}
