/* min_config.h: the smallest config that loads (one provider, one model
 * "m" in every tier), plus the YAML a test adds (auth.keys, limits, ...). */
#ifndef ALLOT_TEST_MIN_CONFIG_H
#define ALLOT_TEST_MIN_CONFIG_H
#include "allot/config.h"

/* Load the minimal config followed by tail (YAML, may be ""). Returns
 * allot_config_load_mem()'s code; its messages go to stderr on error. */
int min_config_load(const char *tail, struct allot_config **c);

#endif
