/* cmd_config.c: `allot config check|keys`. */
#include <stdio.h>
#include <string.h>
#include "allot/error.h"
#include "cli.h"

static int config_exec(int argc, char **argv)
{
    const char *path = NULL;
    int i;

    if (argc < 2) {
        allot_cli_usage(&allot_cli_config);
        return 2;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "allot config: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(argv[1], "check") == 0) {
        struct allot_config *cfg = NULL;
        size_t t;
        if (allot_cli_load_config(path, &cfg))
            return 1;
        printf("%s: ok (%zu provider%s, %zu model%s", cfg->path ? cfg->path : "(embedded defaults)",
               cfg->n_providers, cfg->n_providers == 1 ? "" : "s", cfg->n_models,
               cfg->n_models == 1 ? "" : "s");
        for (t = 0; t < ALLOT_TIER__COUNT; t++)
            printf(", %s: %zu", allot_tier_name((enum allot_tier)t), cfg->tiers[t].n_models);
        printf(")\n");
        allot_config_free(cfg);
        return 0;
    }
    if (strcmp(argv[1], "keys") == 0) {
        struct allot_buf out;
        allot_buf_init(&out, 1u << 20);
        allot_config_describe_keys(&out);
        fputs(allot_buf_cstr(&out), stdout);
        allot_buf_release(&out);
        return 0;
    }
    fprintf(stderr, "allot config: unknown subcommand '%s'\n", argv[1]);
    allot_cli_usage(&allot_cli_config);
    return 2;
}

const struct allot_cli_cmd allot_cli_config = {
    "config", "check a config file, or list every config key",
    "usage: allot config check [--config FILE]\n"
    "       allot config keys\n\n"
    "check  validate allot.yaml (or FILE, or the embedded defaults when neither exists)\n"
    "       without serving; errors give file, line, key and what was expected.\n"
    "keys   every config key with its type, default, bounds and meaning.\n",
    config_exec};
