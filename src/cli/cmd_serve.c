/* cmd_serve.c: `allot serve`, the gateway. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/error.h"
#include "allot/gateway.h"
#include "allot/log.h"
#include "cli.h"

static int parse_listen(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long p;
    size_t hl;

    if (!colon)
        return ALLOT_EINVAL;
    p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return ALLOT_EINVAL;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap)
        return ALLOT_EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

static int serve_exec(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"store", required_argument, NULL, 's'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {NULL, 0, NULL, 0}};
    struct allot_gateway_opts go = {0, NULL, -1, NULL, 0};
    struct allot_config *cfg = NULL;
    struct allot_buf err;
    const char *config_path = NULL;
    char host[256];
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:l:w:s:qv", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'l':
            if (parse_listen(optarg, host, sizeof host, &go.listen_port)) {
                fprintf(stderr, "allot serve: --listen '%s': expected HOST:PORT\n", optarg);
                return 2;
            }
            go.listen_host = host;
            break;
        case 'w':
            go.workers = atoi(optarg);
            if (go.workers < 1 || go.workers > 256) {
                fprintf(stderr, "allot serve: --workers '%s': expected 1 to 256\n", optarg);
                return 2;
            }
            break;
        case 's':
            go.store_path = optarg;
            break;
        case 'q':
            go.quiet = 1;
            break;
        case 'v':
            allot_log_set_level(ALLOT_LOG_DEBUG);
            break;
        default:
            allot_cli_usage(&allot_cli_serve);
            return 2;
        }
    }
    if (allot_cli_load_config(config_path, &cfg) != 0)
        return 1;
    allot_buf_init(&err, 4096);
    rc = allot_gateway_run(cfg, &go, &err);
    if (rc)
        fprintf(stderr, "allot serve: %s\n", err.len ? err.ptr : allot_strerror(rc));
    allot_buf_release(&err);
    allot_config_free(cfg);
    return rc ? 1 : 0;
}

const struct allot_cli_cmd allot_cli_serve = {
    "serve", "run the gateway (OpenAI- and Anthropic-compatible HTTP APIs)",
    "usage: allot serve [--config FILE] [--listen HOST:PORT] [--workers N] [--store STORE]\n"
    "                   [--quiet] [--verbose]\n\n"
    "Serve the OpenAI chat-completions and Responses APIs and the Anthropic\n"
    "Messages API, and route each request by its kind of work.\n\n"
    "  --config FILE       allot.yaml to use (default: ./allot.yaml if present, else the\n"
    "                      embedded demo defaults: simulated providers on 127.0.0.1:4101/4102)\n"
    "  --listen HOST:PORT  address to listen on (default: config 'listen', 127.0.0.1:4000);\n"
    "                      port 0 picks a free port\n"
    "  --workers N         event-loop threads, one per core (default: config 'workers', 1)\n"
    "  --store STORE       ledger: a SQLite file, or PostgreSQL as a URL\n"
    "                      postgresql://USER@HOST:PORT/DB[?sslmode=...] (password from\n"
    "                      PGPASSWORD or ~/.pgpass, or in the URL; never printed); an\n"
    "                      unreachable server stops the start (default: config 'store',\n"
    "                      ./allot.db)\n"
    "  --quiet             no log line per request\n"
    "  --verbose           debug logging\n\n"
    "Endpoints: POST /v1/chat/completions, POST /v1/responses (OpenAI's Responses\n"
    "API, translated; stateless: nothing is stored), POST /v1/messages (the\n"
    "Anthropic Messages API, translated) and POST /v1/messages/count_tokens\n"
    "(an estimate), POST /v1/embeddings (the config's embeddings models),\n"
    "GET /v1/models[/{id}], POST /v1/route, GET /healthz, GET /metrics. Model\n"
    "\"auto\" (or an alias) is routed by kind of work; \"allot:judgment\",\n"
    "\"allot:labour\" and \"allot:code\" pick a tier; a configured model name picks\n"
    "that model. The header X-Allot-Work: CATEGORY|TIER overrides the classifier.\n"
    "With auth.keys in the config, every route but GET /healthz needs one of the\n"
    "client keys (Authorization: Bearer KEY, or x-api-key: KEY); others get 401.\n"
    "A model failing limits.cooldown_after times in a row rests: requests skip it\n"
    "for the next model of their list meanwhile.\n"
    "SIGTERM/SIGINT: stop accepting, finish in-flight requests\n"
    "(limits.drain_timeout_ms; idle keep-alive connections get 250 ms to send one\n"
    "more, answered with Connection: close), write every ledger row (PostgreSQL:\n"
    "retried for 5 s if the server is gone), exit 0. To restart without failing a\n"
    "request, start the new allot serve on the same address first (SO_REUSEPORT).\n"
    "SIGHUP: read the config file again and serve its auth.keys (added, revoked,\n"
    "new limits: from the next request on) and reload routing.classifier_model; a\n"
    "file that fails to load is logged and what is in use kept. Other changes need\n"
    "a restart.\n",
    serve_exec};
