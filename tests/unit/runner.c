/* runner.c: runs the registered unit tests; ends with "N passed, N failed".
 * Usage: unit_tests [SUBSTRING]  (run only tests whose name contains it) */
#include <stdlib.h>
#include "allot/json_arena.h"
#include "test.h"

#define MAX_TESTS 1024

static struct {
    const char *file, *name;
    allot_test_fn_cb fn;
} tests[MAX_TESTS];
static int n_tests;

void allot_test_register(const char *file, const char *name, allot_test_fn_cb fn)
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "too many tests (max %d)\n", MAX_TESTS);
        abort();
    }
    tests[n_tests].file = file;
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    n_tests++;
}

static int by_file_then_name(const void *a, const void *b)
{
    const __typeof__(tests[0]) *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, i;
    const char *filter = argc > 1 ? argv[1] : NULL;

    allot_json_arena_install(); /* as allot's main: every test runs with the cJSON hooks */
    qsort(tests, (size_t)n_tests, sizeof tests[0], by_file_then_name);
    for (i = 0; i < n_tests; i++) {
        int f = 0;
        if (filter && !strstr(tests[i].name, filter))
            continue;
        tests[i].fn(&f);
        printf("%s %s\n", f ? "FAIL" : "ok  ", tests[i].name);
        fflush(stdout);
        if (f)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout); /* before LeakSanitizer runs at exit */
    return failed ? 1 : 0;
}
