/* STUB: replaced by the real validator. */
#ifndef ALLOT_JSON_SCHEMA_H
#define ALLOT_JSON_SCHEMA_H
#include <cJSON.h>
#include "allot/buf.h"
struct allot_json_schema;
int allot_json_schema_compile(const cJSON *schema, struct allot_json_schema **out,
                              struct allot_buf *err);
int allot_json_schema_validate(const struct allot_json_schema *s, const cJSON *instance,
                               struct allot_buf *why);
void allot_json_schema_free(struct allot_json_schema *s);
#endif
