/* test.h: the unit-test framework (libuv's test/task.h, simplified).
 *
 * A test file defines tests with TEST(name) { ... } and nothing else: each
 * test registers itself at start-up. Typed asserts print both sides and
 * return from the test on failure. The runner (runner.c) runs every test,
 * or those whose name contains argv[1], and ends with "N passed, N failed". */
#ifndef ALLOT_TEST_H
#define ALLOT_TEST_H
#include <stdio.h>
#include <string.h>

typedef void (*allot_test_fn_cb)(int *failed);
void allot_test_register(const char *file, const char *name, allot_test_fn_cb fn);

#define TEST(name)                                                                                 \
    static void test_##name(int *allot_test_failed_);                                              \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        allot_test_register(__FILE__, #name, test_##name);                                         \
    }                                                                                              \
    static void test_##name(int *allot_test_failed_)

#define TEST_FAIL_(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        *allot_test_failed_ = 1;                                                                   \
        return;                                                                                    \
    } while (0)

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            TEST_FAIL_("assertion failed: %s", #cond);                                             \
    } while (0)

#define ASSERT_INT_EQ(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                  \
    } while (0)

#define ASSERT_INT_NE(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_)                                                                              \
            TEST_FAIL_("%s != %s: both %lld", #a, #b, a_);                                         \
    } while (0)

#define ASSERT_DBL_NEAR(a, b, eps)                                                                 \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps)))                                               \
            TEST_FAIL_("%s ~= %s: %.12g vs %.12g", #a, #b, a_, b_);                                \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                   \
                       b_ ? b_ : "(null)");                                                        \
    } while (0)

#define ASSERT_MEM_EQ(p, n, lit)                                                                   \
    do {                                                                                           \
        const char *p_ = (const char *)(p);                                                        \
        size_t n_ = (size_t)(n), l_ = strlen(lit);                                                 \
        if (n_ != l_ || memcmp(p_, (lit), l_) != 0)                                                \
            TEST_FAIL_("%s == %s: \"%.*s\" != \"%s\"", #p, #lit, (int)n_, p_, (lit));              \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                \
            TEST_FAIL_("%s contains \"%s\": got \"%s\"", #hay, n_, h_ ? h_ : "(null)");            \
    } while (0)

#endif
