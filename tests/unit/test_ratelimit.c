/* test_ratelimit.c: requests per minute of client keys (ratelimit.h):
 * the burst, the steady rate, the wait it reports, and exactness when
 * several threads take at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/config.h"
#include "allot/clients.h"
#include "allot/ratelimit.h"
#include "min_config.h"
#include "test.h"

#define T0 1000000000ull /* us: any monotonic time */

static int load(struct allot_config **c)
{
    return min_config_load(
        "auth:\n"
        "  keys:\n"
        "    - {name: slow, key: sk-test-slow-000001, requests_per_minute: 60}\n"
        "    - {name: open, key: sk-test-open-000001}\n"
        "    - {name: busy, key: sk-test-busy-000001, requests_per_minute: 1000}\n",
        c);
}

TEST(ratelimit_burst_then_steady_rate)
{
    struct allot_config *c;
    struct allot_ratelimits *r;
    struct allot_clients *k;
    uint64_t retry;
    long limit, left;
    int i;

    ASSERT_INT_EQ(load(&c), 0);
    ASSERT_INT_EQ(allot_clients_new(c, &k), 0);
    ASSERT_INT_EQ(allot_ratelimits_new(k, &r), 0);
    /* 60 at once */
    for (i = 0; i < 60; i++) {
        ASSERT_INT_EQ(allot_ratelimits_take(r, 0, T0, &retry, &limit, &left), 1);
        ASSERT_INT_EQ(limit, 60);
        ASSERT_INT_EQ(left, 59 - i);
    }
    /* the 61st waits one second */
    ASSERT_INT_EQ(allot_ratelimits_take(r, 0, T0, &retry, &limit, &left), 0);
    ASSERT_INT_EQ(retry, 1000000);
    ASSERT_INT_EQ(allot_ratelimits_take(r, 0, T0 + 400000, &retry, &limit, &left), 0);
    ASSERT_INT_EQ(retry, 600000);
    /* then one a second */
    ASSERT_INT_EQ(allot_ratelimits_take(r, 0, T0 + 1000000, &retry, &limit, &left), 1);
    ASSERT_INT_EQ(left, 0);
    ASSERT_INT_EQ(allot_ratelimits_take(r, 0, T0 + 1500000, &retry, &limit, &left), 0);
    ASSERT_INT_EQ(allot_ratelimits_take(r, 0, T0 + 2000000, &retry, &limit, &left), 1);
    /* idle for a minute: the whole burst again */
    ASSERT_INT_EQ(allot_ratelimits_take(r, 0, T0 + 70000000, &retry, &limit, &left), 1);
    ASSERT_INT_EQ(left, 59);
    /* no limit, no client, no object: always admitted */
    for (i = 0; i < 1000; i++)
        ASSERT_INT_EQ(allot_ratelimits_take(r, 1, T0, &retry, &limit, &left), 1);
    ASSERT_INT_EQ(limit, 0);
    ASSERT_INT_EQ(allot_ratelimits_take(r, -1, T0, &retry, &limit, &left), 1);
    ASSERT_INT_EQ(allot_ratelimits_take(NULL, 0, T0, &retry, &limit, &left), 1);
    allot_ratelimits_free(r);
    allot_clients_free(k);
    allot_config_free(c);
}

struct racer {
    struct allot_ratelimits *r;
    int admitted;
};

static void *race(void *arg)
{
    struct racer *k = arg;
    uint64_t retry;
    long limit, left;
    int i;

    for (i = 0; i < 2000; i++)
        k->admitted += allot_ratelimits_take(k->r, 2, T0, &retry, &limit, &left);
    return NULL;
}

/* Four threads take 8,000 at the same instant: exactly the burst of 1,000
 * gets through. */
TEST(ratelimit_is_exact_across_threads)
{
    struct allot_config *c;
    struct allot_clients *cl;
    struct racer k[4];
    pthread_t th[4];
    int i, total = 0;

    ASSERT_INT_EQ(load(&c), 0);
    memset(k, 0, sizeof k);
    ASSERT_INT_EQ(allot_clients_new(c, &cl), 0);
    ASSERT_INT_EQ(allot_ratelimits_new(cl, &k[0].r), 0);
    for (i = 0; i < 4; i++) {
        k[i].r = k[0].r;
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, race, &k[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += k[i].admitted;
    }
    ASSERT_INT_EQ(total, 1000);
    allot_ratelimits_free(k[0].r);
    allot_clients_free(cl);
    allot_config_free(c);
}
