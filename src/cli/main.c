/* main.c: `allot`, dispatching to subcommands from a table (tmux cmd.c). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "allot/classify.h"
#include "allot/error.h"
#include "allot/json_arena.h"
#include "cli.h"

#define ALLOT_VERSION "0.1.0"

static const struct allot_cli_cmd *const commands[] = {
    &allot_cli_serve, &allot_cli_route,  &allot_cli_train,
    &allot_cli_eval,  &allot_cli_report, &allot_cli_config,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void main_usage(FILE *f)
{
    size_t i;
    fprintf(f,
            "allot %s: an allocation system for LLM work.\n"
            "Expensive tokens for judgment, cheap tokens for labour.\n\n"
            "usage: allot COMMAND [OPTIONS]\n\ncommands:\n",
            ALLOT_VERSION);
    for (i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\n`allot COMMAND --help` for the options of a command.\n"
               "Docs: README.md and docs/ in the source tree.\n");
}

void allot_cli_usage(const struct allot_cli_cmd *cmd)
{
    printf("%s", cmd->usage);
}

int allot_cli_load_config(const char *path, struct allot_config **out)
{
    struct allot_buf err;
    int rc;

    allot_buf_init(&err, 64u << 10);
    if (path)
        rc = allot_config_load(path, out, &err);
    else if (access("allot.yaml", F_OK) == 0)
        rc = allot_config_load("allot.yaml", out, &err);
    else
        rc = allot_config_default(out, &err);
    if (rc == 0 && (*out)->routing.classifier_model) {
        rc = allot_classifier_use_file((*out)->routing.classifier_model, &err);
        if (rc) {
            allot_config_free(*out);
            *out = NULL;
        }
    }
    if (rc) {
        const char *e = allot_buf_cstr(&err);
        fprintf(stderr, "%s%s", e[0] ? e : allot_strerror(rc),
                e[0] && e[err.len - 1] == '\n' ? "" : "\n");
    }
    allot_buf_release(&err);
    return rc;
}

int main(int argc, char **argv)
{
    size_t i;

    allot_json_arena_install(); /* before any cJSON call */
    if (argc < 2) {
        main_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        main_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("allot %s\n", ALLOT_VERSION);
        return 0;
    }
    for (i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i]->name) == 0) {
            int j;
            for (j = 2; j < argc; j++) {
                if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
                    allot_cli_usage(commands[i]);
                    return 0;
                }
            }
            return commands[i]->exec(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "allot: unknown command '%s'\n\n", argv[1]);
    main_usage(stderr);
    return 2;
}
