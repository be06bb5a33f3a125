/* fuzz_config.c: libFuzzer target for the allot.yaml loader.
 *
 * Feeds arbitrary bytes to allot_config_load_mem() and frees whatever it
 * returns; ASan/UBSan catch memory errors, LeakSanitizer leaks on error
 * paths. A successful load is also walked, as a consumer would, so a
 * config that loads but holds a dangling tier or provider pointer fails.
 * ${VAR} references resolve against the environment; FUZZ_CONFIG_KEY is
 * set so that path is exercised too (here rather than in
 * LLVMFuzzerInitialize, which replay.c does not call).
 *
 * Build and run (from the repository root), e.g. for 60 seconds:
 *   clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *     -Iinclude -Isrc -include src/util/banned.h src/util/[every .c]
 *     src/route/kinds.c src/config/[every .c] tests/fuzz/fuzz_config.c
 *     $(pkg-config --cflags --libs yaml-0.1) -lm -o /tmp/fuzz_config
 *   mkdir -p /tmp/corpus && /tmp/fuzz_config -dict=tests/fuzz/config.dict
 *     -max_total_time=60 /tmp/corpus tests/fuzz/corpus/config
 * Replayed as a plain test by tests/fuzz/replay.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct allot_config *c = NULL;
    struct allot_buf err;
    size_t i, t, sum = 0;
    static int env_set;

    if (!env_set)
        env_set = setenv("FUZZ_CONFIG_KEY", "sk-fuzz", 1) == 0;
    allot_buf_init(&err, 1 << 16);
    if (allot_config_load_mem("fuzz.yaml", (const char *)data, size, &c, &err) == 0) {
        for (t = 0; t < 3; t++)
            for (i = 0; i < c->tiers[t].n_models; i++)
                sum += strlen(c->tiers[t].models[i]->name) +
                       strlen(c->tiers[t].models[i]->provider->base_url);
        for (i = 0; i < c->routing.n_aliases; i++)
            sum += strlen(c->routing.aliases[i]);
        for (i = 0; i < c->n_models; i++)
            if (allot_config_find_model(c, c->models[i].name, strlen(c->models[i].name)) !=
                &c->models[i])
                abort(); /* names are unique */
        allot_config_free(c);
    }
    allot_buf_release(&err);
    return sum == (size_t)-1;
}
