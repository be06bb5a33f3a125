/* quality_checks.c: what the quality floor's checks add to a request.
 *
 * Times allot_check_answer() with the built-in labour checks on 4 KB
 * answers: plain text, JSON with response_format json_object, and JSON
 * validated against a json_schema response_format (the schema compiled
 * from the request every time, as the gateway does). Prints p50, p99 and
 * mean µs per check for each, with a baseline in the same run: the
 * cJSON parse of the same 4 KB answer body, which the gateway does for
 * every non-streamed answer anyway.
 *
 * Usage: build/bench_quality_checks [ITERATIONS]   (make bench-quality) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cJSON.h>
#include "allot/check.h"
#include "allot/config.h"

#define ANSWER_BYTES 4096

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A 4 KB answer: text, or a JSON object of records. */
static void make_text(char *dst, size_t cap)
{
    static const char para[] =
        "The vendor's proposal covers the migration of the billing service in three phases. "
        "Phase one moves the read path, phase two the nightly batch jobs, and phase three the "
        "write path with a two-week freeze. ";
    size_t o = 0, n = sizeof para - 1;
    while (o + n < cap - 1) {
        memcpy(dst + o, para, n);
        o += n;
    }
    dst[o] = '\0';
}

static void make_json(char *dst, size_t cap)
{
    size_t o = 0;
    int i, w;

    o += (size_t)snprintf(dst, cap, "{\"invoice\":\"INV-2026-0042\",\"currency\":\"EUR\",\"lines\":[");
    for (i = 0; o + 200 < cap; i++) {
        w = snprintf(dst + o, cap - o,
                     "%s{\"sku\":\"SKU-%05d\",\"description\":\"Replacement part number %d for "
                     "the north plant\",\"qty\":%d,\"unit_price\":%d.50,\"taxable\":%s}",
                     i ? "," : "", 1000 + i, i, 1 + i % 7, 10 + i, i % 2 ? "true" : "false");
        o += (size_t)w;
    }
    snprintf(dst + o, cap - o, "],\"total\":1234.5}");
}

static const char schema_rf[] =
    "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"invoice\",\"strict\":true,\"schema\":{"
    "\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"invoice\",\"currency\",\"lines\",\"total\"],\"properties\":{"
    "\"invoice\":{\"type\":\"string\",\"pattern\":\"^INV-[0-9]{4}-[0-9]{4}$\"},"
    "\"currency\":{\"enum\":[\"EUR\",\"USD\",\"GBP\"]},"
    "\"total\":{\"type\":\"number\",\"minimum\":0},"
    "\"lines\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"object\","
    "\"additionalProperties\":false,"
    "\"required\":[\"sku\",\"description\",\"qty\",\"unit_price\",\"taxable\"],\"properties\":{"
    "\"sku\":{\"type\":\"string\"},\"description\":{\"type\":\"string\",\"maxLength\":200},"
    "\"qty\":{\"type\":\"integer\",\"minimum\":1},\"unit_price\":{\"type\":\"number\"},"
    "\"taxable\":{\"type\":\"boolean\"}}}}}}}}";

struct result {
    double p50, p99, mean;
};

static struct result timed(const struct allot_checker *c, const struct allot_check_set *set,
                           const cJSON *rf, const char *content, long n, uint64_t *t,
                           int *failed)
{
    struct allot_answer a = {content, strlen(content), 0, "stop"};
    struct allot_check_verdict v;
    struct result r;
    uint64_t sum = 0;
    long i;

    *failed = 0;
    for (i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        if (allot_check_answer(c, set, rf, &a, &v) || v.failed != ALLOT_CHECK_PASS)
            *failed = 1;
        t[i] = now_ns() - t0;
        sum += t[i];
    }
    qsort(t, (size_t)n, sizeof *t, cmp_u64);
    r.p50 = (double)t[n / 2] / 1000.0;
    r.p99 = (double)t[n * 99 / 100] / 1000.0;
    r.mean = (double)sum / (double)n / 1000.0;
    return r;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000, i;
    char *text = malloc(ANSWER_BYTES), *json = malloc(ANSWER_BYTES), *body = NULL;
    uint64_t *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t), sum = 0;
    struct allot_config *cfg = NULL;
    struct allot_checker *c = NULL;
    const struct allot_check_set *set;
    struct allot_buf err, wrapped;
    cJSON *rf_obj = NULL, *rf_schema = NULL;
    struct result base, rt, rj, rs;
    int failed, rc = 1;

    allot_buf_init(&err, 4096);
    allot_buf_init(&wrapped, 1 << 16);
    if (!text || !json || !t || n < 100) {
        fprintf(stderr, "usage: bench_quality_checks [ITERATIONS >= 100]\n");
        goto out;
    }
    make_text(text, ANSWER_BYTES);
    make_json(json, ANSWER_BYTES);
    if (allot_config_default(&cfg, &err) || allot_checker_new(cfg, &c, &err)) {
        fprintf(stderr, "%s\n", allot_buf_cstr(&err));
        goto out;
    }
    set = allot_checker_set(c, ALLOT_TIER_LABOUR, 1, ALLOT_CAT_EXTRACT);
    rf_obj = cJSON_Parse("{\"type\":\"json_object\"}");
    rf_schema = cJSON_Parse(schema_rf);
    if (!rf_obj || !rf_schema)
        goto out;

    /* Baseline: parsing the answer body the gateway parses anyway. */
    allot_buf_adds(&wrapped, "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                             "\"content\":");
    allot_buf_add_json_str(&wrapped, json, strlen(json));
    allot_buf_adds(&wrapped, "},\"finish_reason\":\"stop\"}]}");
    body = wrapped.ptr;
    for (i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        cJSON *root = cJSON_ParseWithLength(body, wrapped.len);
        t[i] = now_ns() - t0;
        sum += t[i];
        cJSON_Delete(root);
    }
    qsort(t, (size_t)n, sizeof *t, cmp_u64);
    base.p50 = (double)t[n / 2] / 1000.0;
    base.p99 = (double)t[n * 99 / 100] / 1000.0;
    base.mean = (double)sum / (double)n / 1000.0;

    rt = timed(c, set, NULL, text, n, t, &failed);
    if (failed)
        goto bad;
    rj = timed(c, set, rf_obj, json, n, t, &failed);
    if (failed)
        goto bad;
    rs = timed(c, set, rf_schema, json, n, t, &failed);
    if (failed)
        goto bad;

    printf("checks on a %d-byte answer, %ld runs each (µs per check)\n", ANSWER_BYTES, n);
    printf("%-44s %8s %8s %8s\n", "", "p50", "p99", "mean");
    printf("%-44s %8.2f %8.2f %8.2f\n", "baseline: cJSON parse of the answer body", base.p50,
           base.p99, base.mean);
    printf("%-44s %8.2f %8.2f %8.2f\n", "text: empty, truncated, refusal", rt.p50, rt.p99,
           rt.mean);
    printf("%-44s %8.2f %8.2f %8.2f\n", "json_object: + strict JSON check", rj.p50, rj.p99,
           rj.mean);
    printf("%-44s %8.2f %8.2f %8.2f\n", "json_schema: + parse, compile, validate", rs.p50, rs.p99,
           rs.mean);
    printf("target: under 50 µs for a 4 KB answer with schema validation: p99 %.2f µs, %s\n",
           rs.p99, rs.p99 < 50 ? "met" : "MISSED");
    printf("ratio to the baseline parse (p50): text %.2f, json %.2f, schema %.2f\n",
           rt.p50 / base.p50, rj.p50 / base.p50, rs.p50 / base.p50);
    rc = 0;
    goto out;
bad:
    fprintf(stderr, "a good answer failed its checks: the benchmark's inputs are wrong\n");
out:
    cJSON_Delete(rf_obj);
    cJSON_Delete(rf_schema);
    allot_checker_free(c);
    allot_config_free(cfg);
    allot_buf_release(&err);
    allot_buf_release(&wrapped);
    free(text);
    free(json);
    free(t);
    return rc;
}
