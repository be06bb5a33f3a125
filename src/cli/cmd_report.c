/* cmd_report.c: `allot report`, spend and savings from the ledger. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "allot/report.h"
#include "cli.h"

/* "90m", "24h", "7d", "30s" (ago), a Unix time in ms, or
 * "YYYY-MM-DD[THH:MM[:SS]]" UTC. -1 when unreadable. */
static int64_t parse_time(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    struct tm tm;

    if (end != s && (*end == 's' || *end == 'm' || *end == 'h' || *end == 'd') && !end[1]) {
        int64_t mult = *end == 's' ? 1000 : *end == 'm' ? 60000 : *end == 'h' ? 3600000 : 86400000;
        return allot_clock_wall_ms() - (int64_t)v * mult;
    }
    if (end != s && !*end && v > 100000000000LL)
        return v;
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
    }
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!end || *end)
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

static int report_exec(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"store", required_argument, NULL, 's'},
                                         {"since", required_argument, NULL, 'S'},
                                         {"until", required_argument, NULL, 'U'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"client", required_argument, NULL, 'k'},
                                         {NULL, 0, NULL, 0}};
    struct allot_report_opts ro = {0, 0, 0, NULL};
    struct allot_config *cfg = NULL;
    const char *config_path = NULL, *store = NULL;
    struct allot_buf out, err;
    int c, rc = 1;

    allot_buf_init(&out, 64u << 20);
    allot_buf_init(&err, 4096);
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:S:U:jk:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            store = optarg;
            break;
        case 'S':
        case 'U': {
            int64_t t = parse_time(optarg);
            if (t < 0) {
                fprintf(stderr,
                        "allot report: --%s '%s': expected 24h, 7d, 90m, a Unix time in "
                        "ms or YYYY-MM-DD[THH:MM[:SS]] (UTC)\n",
                        c == 'S' ? "since" : "until", optarg);
                rc = 2;
                goto out;
            }
            if (c == 'S')
                ro.since_ms = t;
            else
                ro.until_ms = t;
            break;
        }
        case 'j':
            ro.json = 1;
            break;
        case 'k':
            ro.client = optarg;
            break;
        default:
            allot_cli_usage(&allot_cli_report);
            rc = 2;
            goto out;
        }
    }
    if (!store) {
        if (allot_cli_load_config(config_path, &cfg))
            goto out;
        store = allot_config_store(cfg);
    }
    /* Rows a killed gateway left uncommitted go in first (docs/ledger.md). */
    if (allot_ledger_recover(store, cfg ? cfg->store_pending : NULL, NULL, &err)) {
        fprintf(stderr, "allot report: %s\n", allot_buf_cstr(&err));
        goto out;
    }
    if (allot_report_run(store, &ro, &out, &err)) {
        fprintf(stderr, "allot report: %s\n", allot_buf_cstr(&err));
        goto out;
    }
    fputs(allot_buf_cstr(&out), stdout);
    rc = 0;
out:
    allot_buf_release(&out);
    allot_buf_release(&err);
    allot_config_free(cfg);
    return rc;
}

const struct allot_cli_cmd allot_cli_report = {
    "report", "spend, tokens and savings by tier, category, model and client key",
    "usage: allot report [--store STORE | --config FILE] [--since WHEN] [--until WHEN]\n"
    "                    [--client NAME] [--json]\n\n"
    "Read the ledger and print requests, tokens and spend by tier, by category, by\n"
    "model and (with auth.keys) by client, with the saving against sending everything\n"
    "to the judgment tier.\n"
    "  --store STORE  ledger file, or PostgreSQL as a URL postgresql://USER@HOST:PORT/DB\n"
    "                 (a password is better left to PGPASSWORD or ~/.pgpass; it is never\n"
    "                 printed) (default: the config's 'store', ./allot.db)\n"
    "  --since WHEN   only requests at or after WHEN: 24h, 7d, 90m, 30s (ago), a Unix\n"
    "                 time in ms, or YYYY-MM-DD[THH:MM[:SS]] in UTC\n"
    "  --until WHEN   only requests before WHEN\n"
    "  --client NAME  only the requests of that client key (auth.keys[].name): its spend\n"
    "                 by tier, category and model\n"
    "  --json         one JSON object (keys in docs/ledger.md)\n",
    report_exec};
