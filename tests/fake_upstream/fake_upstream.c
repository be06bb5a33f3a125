/* fake_upstream.c: a fake model server for allot's tests, demo and
 * benchmarks, speaking OpenAI's chat completions and Anthropic's Messages
 * API (the manual is docs/fake_upstream.md).
 *
 * It runs on allot's own HTTP server module so that it costs little and
 * behaves like a real keep-alive HTTP/1.1 server, and it must never be the
 * bottleneck of a benchmark: --workers N runs N event loops on N threads,
 * each with a server bound to the same port (SO_REUSEPORT), sharing only
 * the request counter (atomic) and the stats (one mutex).
 *
 * DESIGN: main parses the command line (a table drives parsing and
 * --help), creates every loop and server on its own thread before any
 * worker runs (so worker 0 can bind port 0 and the others reuse the port it
 * got), prints the "listening" line, then starts one thread per loop and
 * waits on its own loop for SIGINT/SIGTERM. Shutdown: main wakes each
 * worker with uv_async; the worker closes its server (in-flight requests are
 * aborted), then its exchange timers and the async handle, so its loop runs
 * out of handles and the thread ends; main joins them and frees all. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fake_upstream.h"
#include "allot/error.h"
#include "allot/log.h"

#define MAX_WORKERS 64
#define NAME_MAX_LEN 64

enum opt_type { OPT_STR, OPT_LONG, OPT_DOUBLE, OPT_FLAG };

struct opt_spec {
    const char *name;
    enum opt_type type;
    double min, max;
    size_t offset; /* into struct fake_options */
    const char *arg;
    const char *help;
};

#define OFF(f) offsetof(struct fake_options, f)
static const struct opt_spec opt_table[] = {
    {"--listen", OPT_STR, 0, 0, OFF(listen), "HOST:PORT",
     "address to listen on; port 0 picks a free port (required)"},
    {"--name", OPT_STR, 0, 0, OFF(name), "NAME", "name shown in answers and logs (fake)"},
    {"--workers", OPT_LONG, 1, MAX_WORKERS, OFF(workers), "N", "event loops/threads (1)"},
    {"--latency-ms", OPT_LONG, 0, FAKE_MAX_DELAY_MS, OFF(latency_ms), "N",
     "delay before the response head (0)"},
    {"--ttft-ms", OPT_LONG, 0, FAKE_MAX_DELAY_MS, OFF(ttft_ms), "N",
     "delay from the head to the first token (0)"},
    {"--tokens-per-sec", OPT_LONG, 0, FAKE_MAX_TPS, OFF(tokens_per_sec), "N",
     "token pace; 0 sends all tokens at once (0)"},
    {"--tokens", OPT_LONG, 0, FAKE_MAX_TOKENS, OFF(tokens), "N", "words per answer (16)"},
    {"--status", OPT_LONG, 100, 599, OFF(status), "N",
     "answer chat and Messages requests with this error status (all, or --fail-rate of them)"},
    {"--fail-rate", OPT_DOUBLE, 0, 1, OFF(fail_rate), "F",
     "share of chat and Messages requests that fail with --status (500 if unset)"},
    {"--seed", OPT_LONG, 0, 9.2e18, OFF(seed), "N", "seed of the --fail-rate dice (0)"},
    {"--expect-key", OPT_STR, 0, 0, OFF(expect_key), "KEY",
     "/stats reports key_ok: whether Authorization was exactly 'Bearer KEY' (chat), or "
     "x-api-key exactly KEY (Messages, which refuses other keys with 401)"},
    {"--idle-timeout-ms", OPT_LONG, 1, FAKE_MAX_DELAY_MS, OFF(idle_timeout_ms), "N",
     "close a keep-alive connection idle this long, without a word (120000)"},
    {"--quiet", OPT_FLAG, 0, 0, OFF(quiet), NULL, "no log line per request"},
};
#undef OFF

static void usage(FILE *f)
{
    size_t i;
    fprintf(f, "usage: fake_upstream --listen HOST:PORT [options]\n"
               "A fake OpenAI chat-completions and Anthropic Messages server "
               "(docs/fake_upstream.md).\n\n");
    for (i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++) {
        const struct opt_spec *o = &opt_table[i];
        char left[40];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-24s %s\n", left, o->help);
    }
    fprintf(f, "  %-24s %s\n", "--help", "this text");
}

/* Split "HOST:PORT" (HOST may be "[v6]"). */
static int parse_listen(struct fake_options *opt)
{
    const char *s = opt->listen, *colon = strrchr(s, ':');
    size_t hl;
    char *end;
    long port;

    if (!colon || colon == s)
        return ALLOT_EINVAL;
    hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof opt->host)
        return ALLOT_EINVAL;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return ALLOT_EINVAL;
    memcpy(opt->host, s, hl);
    opt->host[hl] = '\0';
    opt->port = port;
    return 0;
}

static int set_option(struct fake_options *opt, const struct opt_spec *o, const char *val)
{
    char *field = (char *)opt + o->offset, *end;
    long l;
    double d;

    switch (o->type) {
    case OPT_STR:
        memcpy(field, &val, sizeof val);
        return 0;
    case OPT_FLAG:
        l = 1;
        memcpy(field, &l, sizeof l);
        return 0;
    case OPT_LONG:
        errno = 0;
        l = strtol(val, &end, 10);
        if (errno || *end || end == val || (double)l < o->min || (double)l > o->max)
            break;
        memcpy(field, &l, sizeof l);
        return 0;
    case OPT_DOUBLE:
        errno = 0;
        d = strtod(val, &end);
        if (errno || *end || end == val || !(d >= o->min && d <= o->max))
            break;
        memcpy(field, &d, sizeof d);
        return 0;
    }
    fprintf(stderr, "fake_upstream: %s: '%s' is not a number from %g to %g\n", o->name, val, o->min,
            o->max);
    return ALLOT_EINVAL;
}

/* 0, 1 for --help, or ALLOT_EINVAL after printing why. */
static int parse_args(int argc, char **argv, struct fake_options *opt)
{
    int i;
    size_t j;

    memset(opt, 0, sizeof *opt);
    opt->name = "fake";
    opt->workers = 1;
    opt->tokens = 16;
    opt->fail_rate = -1;
    opt->idle_timeout_ms = 120000;
    for (i = 1; i < argc; i++) {
        const struct opt_spec *o = NULL;
        const char *arg = argv[i], *val = NULL, *eq;
        size_t nl;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return 1;
        eq = strchr(arg, '=');
        nl = eq ? (size_t)(eq - arg) : strlen(arg);
        for (j = 0; j < sizeof opt_table / sizeof opt_table[0]; j++)
            if (strlen(opt_table[j].name) == nl && strncmp(opt_table[j].name, arg, nl) == 0)
                o = &opt_table[j];
        if (!o) {
            fprintf(stderr, "fake_upstream: unknown option '%s' (see --help)\n", arg);
            return ALLOT_EINVAL;
        }
        if (o->type != OPT_FLAG) {
            val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) {
                fprintf(stderr, "fake_upstream: %s needs a value %s\n", o->name, o->arg);
                return ALLOT_EINVAL;
            }
        } else if (eq) {
            fprintf(stderr, "fake_upstream: %s takes no value\n", o->name);
            return ALLOT_EINVAL;
        }
        if (set_option(opt, o, val))
            return ALLOT_EINVAL;
    }
    if (!opt->listen) {
        fprintf(stderr, "fake_upstream: --listen HOST:PORT is required (see --help)\n");
        return ALLOT_EINVAL;
    }
    if (parse_listen(opt)) {
        fprintf(stderr, "fake_upstream: --listen '%s': expected HOST:PORT with PORT 0-65535\n",
                opt->listen);
        return ALLOT_EINVAL;
    }
    if (strlen(opt->name) == 0 || strlen(opt->name) > NAME_MAX_LEN) {
        fprintf(stderr, "fake_upstream: --name must be 1 to %d bytes\n", NAME_MAX_LEN);
        return ALLOT_EINVAL;
    }
    /* --status alone fails everything; --fail-rate alone fails with 500. */
    if (opt->status && opt->fail_rate < 0)
        opt->fail_rate = 1;
    if (!opt->status && opt->fail_rate > 0)
        opt->status = 500;
    if (opt->fail_rate < 0)
        opt->fail_rate = 0;
    return 0;
}

/* ---- workers ---------------------------------------------------------- */

static void on_server_closed(void *arg)
{
    struct fake_worker *w = arg;

    w->server = NULL;
    fake_worker_close_pool(w);
    uv_close((uv_handle_t *)&w->stop, NULL);
}

/* Begin closing w; on its loop's thread, once. */
static void worker_shutdown(struct fake_worker *w)
{
    if (w->closing || !w->server)
        return;
    w->closing = 1;
    allot_http_server_close(w->server, on_server_closed, w);
}

static void on_stop(uv_async_t *a)
{
    worker_shutdown(a->data);
}

static void *worker_main(void *arg)
{
    struct fake_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Set up worker w's loop and server on port. */
static int worker_open(struct fake_worker *w, const struct fake_options *opt, int port,
                       struct allot_http_handler *handler)
{
    struct allot_http_limits limits = {
        .max_header_bytes = 64 * 1024,
        .max_body_bytes = 32u << 20,
        .header_timeout_ms = 30000,
        .idle_timeout_ms = opt->idle_timeout_ms,
    };
    struct allot_buf err;
    int rc;

    allot_buf_init(&err, 512);
    if (uv_loop_init(&w->loop) != 0) {
        fprintf(stderr, "fake_upstream: cannot create an event loop\n");
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if (uv_async_init(&w->loop, &w->stop, on_stop) != 0) {
        uv_loop_close(&w->loop);
        fprintf(stderr, "fake_upstream: cannot create an async handle\n");
        rc = ALLOT_ENOMEM;
        goto out;
    }
    w->stop.data = w;
    handler->ctx = w;
    rc = allot_http_server_new(&w->loop, opt->host, port, &limits, handler, &w->server, &err);
    if (rc) {
        fprintf(stderr, "fake_upstream %s: %s\n", opt->name,
                err.len ? allot_buf_cstr(&err) : allot_strerror(rc));
        uv_close((uv_handle_t *)&w->stop, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        goto out;
    }
out:
    allot_buf_release(&err);
    return rc;
}

/* ---- main ------------------------------------------------------------- */

struct main_ctx {
    uv_signal_t sigint, sigterm;
    struct fake_worker *workers;
    long n;
};

static void on_signal(uv_signal_t *s, int signum)
{
    struct main_ctx *m = s->data;
    long i;

    (void)signum;
    for (i = 0; i < m->n; i++)
        uv_async_send(&m->workers[i].stop);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
}

int main(int argc, char **argv)
{
    static struct allot_http_handler handlers[MAX_WORKERS];
    struct fake_options opt;
    struct fake_stats stats;
    struct fake_worker *workers = NULL;
    struct main_ctx m;
    atomic_uint_fast64_t seq;
    uv_loop_t main_loop;
    long i, opened = 0, started;
    int port, rc, status = 1, have_stats = 0;

    rc = parse_args(argc, argv, &opt);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (opt.quiet)
        allot_log_set_level(ALLOT_LOG_WARN);
    atomic_init(&seq, 0);
    if (fake_stats_init(&stats, opt.expect_key)) {
        fprintf(stderr, "fake_upstream: out of memory\n");
        goto out;
    }
    have_stats = 1;
    workers = calloc((size_t)opt.workers, sizeof *workers);
    if (!workers) {
        fprintf(stderr, "fake_upstream: out of memory\n");
        goto out;
    }
    port = (int)opt.port;
    for (i = 0; i < opt.workers; i++) {
        fake_worker_init(&workers[i], &opt, &stats, &seq);
        handlers[i] = fake_handler_template;
        if (worker_open(&workers[i], &opt, port, &handlers[i]))
            goto out;
        opened++;
        port = allot_http_server_port(workers[i].server);
    }
    if (uv_loop_init(&main_loop) != 0)
        goto out;
    m.workers = workers;
    m.n = opt.workers;
    uv_signal_init(&main_loop, &m.sigint);
    uv_signal_init(&main_loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    for (i = 0; i < opt.workers; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "fake_upstream: cannot start worker thread %ld\n", i);
            /* Stop whatever runs; the rest is closed below on this thread. */
            on_signal(&m.sigint, SIGTERM);
            break;
        }
        workers[i].thread_ok = 1;
    }
    started = i;
    if (started == opt.workers) {
        printf("fake_upstream %s listening on %s:%d\n", opt.name, opt.host, port);
        fflush(stdout);
    }
    uv_run(&main_loop, UV_RUN_DEFAULT);
    uv_loop_close(&main_loop);
    for (i = 0; i < opt.workers; i++)
        if (workers[i].thread_ok)
            pthread_join(workers[i].thread, NULL);
    status = started == opt.workers ? 0 : 1;
out:
    /* Loops that never got a thread (startup failed) are closed here. */
    for (i = 0; i < opened; i++) {
        struct fake_worker *w = &workers[i];
        if (!w->thread_ok) {
            worker_shutdown(w);
            uv_run(&w->loop, UV_RUN_DEFAULT);
        }
        uv_loop_close(&w->loop);
        fake_worker_release(w);
    }
    free(workers);
    if (have_stats)
        fake_stats_release(&stats);
    return status;
}
