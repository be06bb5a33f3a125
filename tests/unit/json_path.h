/* json_path.h: reading JSON in unit tests: bodies written with ' for ",
 * and values found by a dotted path. */
#ifndef ALLOT_TEST_JSON_PATH_H
#define ALLOT_TEST_JSON_PATH_H
#include <cJSON.h>

/* JSON written with ' for " reads better in C; json_sq() swaps them back.
 * A few rotating static buffers, so several can be alive in one
 * expression; aborts on text over 16 KB. */
const char *json_sq(const char *s);
/* The value at a dotted path of member names and array indexes
 * ("messages.1.tool_calls.0.id"), or NULL. */
const cJSON *json_at(const cJSON *v, const char *path);
/* The string at path, or NULL. */
const char *json_str(const cJSON *v, const char *path);
/* The number at path, or -12345. */
double json_num(const cJSON *v, const char *path);
/* The size of the array or object at path, or -1. */
int json_size(const cJSON *v, const char *path);
/* The keys of an object, comma-separated, in order (a static buffer). */
const char *json_keys(const cJSON *v);

#endif
