/* gateway.h: `allot serve`, the routing gateway.
 *
 * DESIGN: N worker threads, each with its own libuv loop, HTTP server
 * (SO_REUSEPORT on the same address), upstream client (curl multi) and
 * metrics shard; nothing on a request's path is shared between threads but
 * the immutable config and the ledger's queue. The main thread waits for
 * signals. SIGTERM/SIGINT: every worker stops accepting, finishes what is
 * in flight within limits.drain_timeout_ms (what is left then is failed
 * and ledgered), then the ledger writes every queued row and closes. */
#ifndef ALLOT_GATEWAY_H
#define ALLOT_GATEWAY_H
#include "allot/buf.h"
#include "allot/config.h"

struct allot_gateway_opts {
    int workers;             /* 0: cfg->workers */
    const char *listen_host; /* NULL: cfg->listen_host */
    int listen_port;         /* -1: cfg->listen_port; 0: any free port */
    const char *store_path;  /* NULL: cfg->store_path */
    int quiet;               /* no per-request log lines */
};

/* Serve until SIGTERM or SIGINT. Prints "allot listening on HOST:PORT" to
 * stdout (flushed) once every worker listens. Returns 0 after a clean
 * stop, or a negative ALLOT_E* with the reason in err when start-up fails
 * (cannot listen, cannot open the ledger). */
int allot_gateway_run(const struct allot_config *cfg, const struct allot_gateway_opts *opts,
                      struct allot_buf *err);

#endif
