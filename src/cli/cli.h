/* cli.h: the subcommands of the allot binary. Each lives in its own file
 * (cmd_*.c) and is listed in the table in main.c. */
#ifndef ALLOT_CLI_H
#define ALLOT_CLI_H
#include "allot/config.h"

struct allot_cli_cmd {
    const char *name;
    const char *summary; /* one line for `allot --help` */
    const char *usage;   /* full text for `allot CMD --help` */
    int (*exec)(int argc, char **argv);
};

extern const struct allot_cli_cmd allot_cli_serve, allot_cli_route, allot_cli_train, allot_cli_eval,
    allot_cli_report, allot_cli_config;

/* Load the config a command uses: the --config path when given, else
 * ./allot.yaml when it exists, else the embedded defaults. Prints errors
 * to stderr. Returns 0 or a negative ALLOT_E*. */
int allot_cli_load_config(const char *path, struct allot_config **out);

/* Print a command's usage to stdout. */
void allot_cli_usage(const struct allot_cli_cmd *cmd);

#endif
