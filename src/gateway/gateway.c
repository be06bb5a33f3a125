/* gateway.c: the gateway process: workers, start-up and graceful stop.
 *
 * DESIGN: see gateway.h. Each worker thread owns one loop. Start-up: the
 * main thread opens the ledger, builds what all workers read (config,
 * /v1/models body, metrics shards), starts the workers and waits on a
 * semaphore until each one listens or fails. Stop: a signal on the main
 * thread wakes every worker through its uv_async; a worker stops
 * accepting, then a timer checks every 10 ms whether its exchanges are
 * done or the drain deadline passed (then they are failed and ledgered);
 * it then closes its handles and its loop ends. The ledger closes last,
 * after every worker has joined, so every row queued is written. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include "allot/clock.h"
#include "allot/anthropic.h"
#include "allot/clients.h"
#include "allot/cooldown.h"
#include "allot/budget.h"
#include "allot/ratelimit.h"
#include "allot/check.h"
#include "allot/classify.h"
#include "allot/error.h"
#include "allot/floor.h"
#include "allot/gateway.h"
#include "allot/log.h"
#include "allot/store_url.h"
#include "internal.h"

void allot__gateway_request_id(struct allot__worker *w, char out[40])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v;
    int i, n;

    /* "req_%08x%02x%010llx" of seed, worker and counter, without printf
     * (once per request on the loop thread) */
    w->id_counter++;
    memcpy(out, "req_", 4);
    for (i = 0, v = w->gw->id_seed; i < 8; i++, v >>= 4)
        out[4 + 7 - i] = hex[v & 15];
    for (i = 0, v = (unsigned)w->index & 0xff; i < 2; i++, v >>= 4)
        out[12 + 1 - i] = hex[v & 15];
    for (n = 10; n < 16 && w->id_counter >> (4 * n); n++) /* %010llx: 10 digits or more */
        ;
    for (i = 0, v = w->id_counter; i < n; i++, v >>= 4)
        out[14 + n - 1 - i] = hex[v & 15];
    out[14 + n] = '\0';
}

/* Errors the HTTP server answers itself (413, 400, 408, 431, 503) on the
 * Messages API's path are in Anthropic's format; elsewhere out stays
 * empty and the server writes its OpenAI-style default. */
static void format_error(struct allot_slice path, int status, const char *message,
                         struct allot_buf *out, void *ctx)
{
    (void)ctx;
    if (allot__is_anthropic_path(path))
        allot_anthropic_error_body(status, message, out);
}

static void on_request(struct allot_http_request *req, void *ctx)
{
    struct allot__worker *w = ctx;
    allot__endpoint_dispatch(w, req);
}

static void on_head(struct allot_http_request *req, void *ctx, struct allot_http_refusal *refuse)
{
    allot__endpoint_head(ctx, req, refuse);
}

static void on_abort(struct allot_http_request *req, void *ctx)
{
    (void)ctx;
    allot__exchange_abort(req);
}

static void on_drain(struct allot_http_request *req, void *ctx)
{
    (void)ctx;
    allot__exchange_drain(req);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void worker_shutdown(struct allot__worker *w)
{
    uv_timer_stop(&w->drain);
    if (w->http) {
        allot_http_server_close(w->http, NULL, NULL);
        w->http = NULL;
    }
    allot__exchange_fail_all(w);
    allot__audit_fail_all(w);
    allot__exchange_pool_free(w);
    free(w->accept_scratch);
    w->accept_scratch = NULL;
    if (w->up) {
        allot_upstream_free(w->up);
        w->up = NULL;
    }
    uv_close((uv_handle_t *)&w->drain, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
}

/* After SIGTERM, how long a keep-alive connection with no request in
 * progress stays open. A client that sends on it meanwhile is served (with
 * "Connection: close"); one that was about to send when it was closed
 * would see its request fail. A busy client sends within microseconds; an
 * idle one is unlikely to send in the instant the connection closes. */
#define DRAIN_IDLE_MS 250

static void on_drain_tick(uv_timer_t *t)
{
    struct allot__worker *w = t->data;
    uint64_t now = allot_clock_mono_us();

    if (!w->idle_closed && now >= w->drain_idle_us) {
        w->idle_closed = 1;
        if (w->http)
            allot_http_server_close_idle(w->http);
    }
    if ((w->exchanges == 0 && w->audits == 0 && w->idle_closed) || now >= w->drain_deadline_us) {
        if (w->exchanges || w->audits)
            allot_log_warn("worker %d: drain deadline passed with %zu request(s) and %zu "
                           "audit(s) in flight",
                           w->index, w->exchanges, w->audits);
        worker_shutdown(w);
    }
}

static void on_wake(uv_async_t *a)
{
    struct allot__worker *w = a->data;
    if (w->stopping)
        return;
    w->stopping = 1;
    w->drain_deadline_us =
        allot_clock_mono_us() + (uint64_t)w->gw->cfg->limits.drain_timeout_ms * 1000u;
    w->drain_idle_us = allot_clock_mono_us() + DRAIN_IDLE_MS * 1000u;
    if (w->http)
        allot_http_server_stop_accepting(w->http);
    uv_timer_start(&w->drain, on_drain_tick, 0, 10);
}

static void worker_main(void *arg)
{
    struct allot__worker *w = arg;
    struct allot__gateway *gw = w->gw;
    const struct allot_config *cfg = gw->cfg;
    struct allot_http_limits limits;
    struct allot_http_handler handler;
    int rc;

    memset(&handler, 0, sizeof handler);
    memset(&limits, 0, sizeof limits);
    handler.on_request = on_request;
    handler.on_abort = on_abort;
    handler.on_drain = on_drain;
    handler.format_error = format_error;
    handler.on_head = on_head;
    handler.ctx = w;
    limits.max_header_bytes = cfg->limits.max_header_bytes;
    limits.max_body_bytes = cfg->limits.max_body_bytes;
    limits.header_timeout_ms = cfg->limits.header_timeout_ms;
    limits.idle_timeout_ms = cfg->limits.idle_timeout_ms;
    limits.max_connections = cfg->limits.max_connections;
    limits.send_timeout_ms = cfg->limits.send_timeout_ms;
    limits.cors_origins = cfg->cors_origins;
    limits.n_cors_origins = cfg->n_cors_origins;

    rc = uv_loop_init(&w->loop);
    if (rc) {
        allot_buf_addf(&w->start_err, "worker %d: event loop: %s", w->index, uv_strerror(rc));
        w->start_rc = ALLOT_EIO;
        uv_sem_post(&gw->ready);
        return;
    }
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->drain);
    w->drain.data = w;
    rc = allot_upstream_new(&w->loop, cfg, &w->up);
    if (rc == 0)
        rc = allot_http_server_new(&w->loop, gw->host, gw->port, &limits, &handler, &w->http,
                                   &w->start_err);
    else
        allot_buf_addf(&w->start_err, "worker %d: upstream client: %s", w->index,
                       allot_strerror(rc));
    w->start_rc = rc;
    if (rc == 0 && gw->port == 0 && w->index == 0)
        gw->port = allot_http_server_port(w->http); /* the others share it */
    uv_sem_post(&gw->ready);
    if (rc) {
        worker_shutdown(w);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        return;
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_walk(&w->loop, close_walk, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w->loop) != 0)
        allot_log_warn("worker %d: event loop closed with handles open", w->index);
}

/* SIGHUP: load routing.classifier_model again. The file is read on this
 * (main) thread, never on an event loop; a file that fails to load leaves
 * the model in use as it was. path: the model file named by the config
 * just read, else by the one served. */
static void reload_classifier(const char *path)
{
    struct allot_buf err;
    char src[256];

    if (!path) {
        allot_log_info("SIGHUP: no routing.classifier_model configured; the %s model stays",
                       allot_classifier_source(src, sizeof src));
        return;
    }
    allot_buf_init(&err, 4096);
    if (allot_classifier_use_file(path, &err) == 0)
        allot_log_info("SIGHUP: classifier model reloaded from %s", path);
    else
        allot_log_error("SIGHUP: %s; keeping the model in use (%s)", allot_buf_cstr(&err),
                        allot_classifier_source(src, sizeof src));
    allot_buf_release(&err);
}

/* SIGHUP: read the config file again and serve its auth.keys: keys added,
 * revoked or given other limits take effect from the next request head.
 * The rest of the file is not applied (docs/config.md). A file that fails
 * to load, or names more clients than a process can hold, changes
 * nothing. *fresh gets the config read (the caller frees it), or NULL. */
static void reload_keys(struct allot__gateway *gw, struct allot_config **fresh)
{
    const char *path = gw->cfg->path;
    struct allot_clients_change chg;
    struct allot_buf err;
    size_t first;
    int rc;

    *fresh = NULL;
    if (!path) /* the built-in defaults: no file, no keys */
        return;
    allot_buf_init(&err, 64u << 10);
    if ((rc = allot_config_load(path, fresh, &err))) {
        size_t n = err.len;
        while (n && err.ptr[n - 1] == '\n')
            err.ptr[--n] = '\0';
        allot_log_error("SIGHUP: %s; auth.keys unchanged", n ? err.ptr : allot_strerror(rc));
        goto out;
    }
    if ((rc = allot_clients_update(gw->clients, *fresh, &chg, &first))) {
        allot_log_error("SIGHUP: %s: auth.keys unchanged (a process holds at most %d client "
                        "names since its start; restart allot to go beyond)",
                        path, ALLOT_MAX_CLIENT_SLOTS);
        goto out;
    }
    allot_buf_reset(&err);
    if (allot_budgets_seed(gw->budgets, gw->store, first, allot_clock_wall_ms(), &err))
        allot_log_warn("SIGHUP: the new keys' spend today could not be read from the "
                       "ledger (%s); their budgets count from now",
                       allot_buf_cstr(&err));
    if (chg.listed || chg.removed) /* silent where keys are not used */
        allot_log_info("SIGHUP: auth.keys reloaded from %s: %zu listed (%zu added, %zu removed, "
                       "%zu changed)%s",
                       path, chg.listed, chg.added, chg.removed, chg.changed,
                       chg.listed ? "" : "; no keys: every request is admitted");
out:
    allot_buf_release(&err);
}

/* Whether host (as given to listen) is a loopback address: only local
 * clients reach it. */
static int loopback_host(const char *host)
{
    return !strcmp(host, "localhost") || !strcmp(host, "::1") || !strncmp(host, "127.", 4);
}

/* Block until SIGTERM or SIGINT, handling SIGHUP meanwhile. */
static int wait_for_signal(struct allot__gateway *gw)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        struct allot_config *fresh = NULL;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            return sig;
        reload_keys(gw, &fresh);
        reload_classifier(fresh ? fresh->routing.classifier_model
                                : gw->cfg->routing.classifier_model);
        allot_config_free(fresh);
    }
}

/* The checker and the floor, shared by every worker. */
static int quality_init(struct allot__gateway *gw, struct allot_buf *err)
{
    const struct allot_quality *q = &gw->cfg->quality;
    struct allot_floor_conf fc;
    char why[160];
    int rc = allot_checker_new(gw->cfg, &gw->checker, err);

    if (rc || !q->enabled || !q->floor_enabled)
        return rc;
    allot_floor_conf_default(&fc);
    fc.min_pass = q->floor_min_pass;
    fc.window = q->floor_window;
    fc.min_samples = q->floor_min_samples;
    fc.cooldown_ms = (int64_t)q->floor_cooldown_s * 1000;
    if (fc.cooldown_max_ms < fc.cooldown_ms)
        fc.cooldown_max_ms = fc.cooldown_ms;
    fc.probe_share = q->floor_probe_share;
    fc.probe_samples = q->floor_probe_samples;
    if (allot_floor_conf_check(&fc, why, sizeof why)) {
        allot_buf_addf(err, "quality.floor: %s", why);
        return ALLOT_ECONFIG;
    }
    return allot_floor_new(&fc, &gw->floor);
}

int allot_gateway_run(const struct allot_config *cfg, const struct allot_gateway_opts *opts,
                      struct allot_buf *err)
{
    struct allot__gateway gw;
    sigset_t set, old;
    int i, started = 0, rc;
    const char *store;

    memset(&gw, 0, sizeof gw);
    gw.cfg = cfg;
    gw.n_workers = opts->workers > 0 ? opts->workers : cfg->workers;
    if (gw.n_workers < 1)
        gw.n_workers = 1;
    gw.host = opts->listen_host ? opts->listen_host : cfg->listen_host;
    gw.port = opts->listen_port >= 0 ? opts->listen_port : cfg->listen_port;
    gw.quiet = opts->quiet;
    store = opts->store_path ? opts->store_path : allot_config_store(cfg);
    gw.store = store;
    gw.messages_passed_through = cfg->n_models > 0;
    for (size_t m = 0; m < cfg->n_models; m++)
        gw.messages_passed_through &= allot_provider_is_anthropic(cfg->models[m].provider);
    if (getrandom(&gw.id_seed, sizeof gw.id_seed, 0) != (ssize_t)sizeof gw.id_seed)
        gw.id_seed = (uint32_t)allot_clock_mono_us() ^ (uint32_t)getpid();

    /* Signals are taken by sigwait on this thread only: block them before
     * any thread starts so the workers inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);

    rc = allot_ledger_open_with(store, cfg->store_commit_ms, cfg->store_pending, &gw.ledger, err);
    if (rc)
        goto out;
    rc = allot_clients_new(cfg, &gw.clients);
    if (rc == 0)
        rc = allot_metrics_new(cfg, gw.clients, gw.n_workers, &gw.metrics);
    if (rc == 0)
        rc = allot_budgets_new(gw.clients, &gw.budgets);
    if (rc == 0)
        rc = allot_ratelimits_new(gw.clients, &gw.rates);
    if (rc == 0)
        rc = allot_cooldowns_new(cfg, &gw.cooldowns);
    if (rc == 0) /* after the ledger's open: it commits what a killed run left */
        rc = allot_budgets_seed(gw.budgets, store, 0, allot_clock_wall_ms(), err);
    if (rc == 0)
        rc = allot__endpoint_models_init(&gw);
    if (rc == 0) { /* not by the first request, on a loop thread */
        allot_classifier_preload();
        tzset(); /* glibc reads /etc/localtime on the first gmtime_r (the Date header) */
    }
    if (rc == 0)
        rc = quality_init(&gw, err);
    if (rc == 0)
        rc = allot__acceptability_init(&gw, err);
    if (rc == 0)
        rc = uv_sem_init(&gw.ready, 0) == 0 ? 0 : ALLOT_EIO;
    gw.workers = rc == 0 ? calloc((size_t)gw.n_workers, sizeof *gw.workers) : NULL;
    if (rc == 0 && !gw.workers)
        rc = ALLOT_ENOMEM;
    if (rc) {
        if (!err->len)
            allot_buf_addf(err, "cannot start the gateway: %s", allot_strerror(rc));
        goto out;
    }
    for (i = 0; i < gw.n_workers; i++) {
        struct allot__worker *w = &gw.workers[i];
        w->index = i;
        w->gw = &gw;
        w->rng = (uint64_t)gw.id_seed << 16 ^ (uint64_t)i;
        allot_buf_init(&w->start_err, 1024);
        if (uv_thread_create(&w->thread, worker_main, w) != 0) {
            allot_buf_addf(err, "cannot start worker thread %d", i);
            rc = ALLOT_EIO;
            break;
        }
        started++;
        uv_sem_wait(&gw.ready); /* one at a time: worker 0 fixes a port 0 */
        if (w->start_rc) {
            allot_buf_addf(err, "%s", allot_buf_cstr(&w->start_err));
            rc = w->start_rc;
            break;
        }
    }
    if (rc == 0) {
        int sig;
        char name[ALLOT_STORE_NAME_MAX];
        printf("allot listening on %s:%d (%d worker%s, ledger %s)\n", gw.host, gw.port,
               gw.n_workers, gw.n_workers == 1 ? "" : "s",
               allot_store_redact(store, name, sizeof name));
        fflush(stdout);
        if (cfg->n_client_keys)
            allot_log_info("auth: %zu client key%s; requests without one get 401",
                           cfg->n_client_keys, cfg->n_client_keys == 1 ? "" : "s");
        else if (!loopback_host(gw.host))
            allot_log_warn("auth: no auth.keys and listening on %s: anyone who reaches this "
                           "address can spend your providers' credit (docs/config.md, Auth)",
                           gw.host);
        sig = wait_for_signal(&gw);
        allot_log_info("%s: draining in-flight requests (deadline %ld ms)",
                       sig == SIGINT ? "SIGINT" : "SIGTERM", cfg->limits.drain_timeout_ms);
    }
    for (i = 0; i < started; i++)
        if (gw.workers[i].start_rc == 0)
            uv_async_send(&gw.workers[i].wake);
    for (i = 0; i < started; i++)
        uv_thread_join(&gw.workers[i].thread);
    if (gw.workers)
        uv_sem_destroy(&gw.ready);
out:
    if (gw.ledger) {
        uint64_t failed = allot_ledger_close(gw.ledger); /* close's own failures too */
        if (failed)
            allot_log_error("ledger: %llu row(s) could not be written", (unsigned long long)failed);
    }
    for (i = 0; gw.workers && i < gw.n_workers; i++)
        allot_buf_release(&gw.workers[i].start_err);
    free(gw.workers);
    for (i = 0; i < 2 * (1 << ALLOT_TIER__COUNT); i++)
        free(gw.models_json[i / (1 << ALLOT_TIER__COUNT)][i % (1 << ALLOT_TIER__COUNT)]);
    allot_checker_free(gw.checker);
    allot__acceptability_free(&gw);
    allot_floor_free(gw.floor);
    allot_metrics_free(gw.metrics);
    allot_budgets_free(gw.budgets);
    allot_ratelimits_free(gw.rates);
    allot_cooldowns_free(gw.cooldowns);
    allot_clients_free(gw.clients); /* after the metrics, budgets and rates that read it */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
