/* client.c: provider calls through libcurl multi inside a libuv loop,
 * and the public API of upstream.h, which sends a provider's transfers to
 * the native HTTP/1.1 client (h1.c) when that client serves it: an
 * http:// base_url, no proxy from the environment, http_client not curl.
 *
 * DESIGN: curl tells us which sockets to watch (socket callback) and when
 * to wake it (timer callback); libuv polls and times; we hand readiness
 * back with curl_multi_socket_action and harvest finished transfers with
 * curl_multi_info_read. Each socket curl opens gets a uv_poll_t, freed in
 * its close callback (never inside its own callback). A transfer is a
 * pooled struct owning a reusable easy handle: curl_easy_reset keeps the
 * handle's caches, and the multi handle keeps the connections, so a warm
 * request to a provider costs no connect and no handle allocation.
 *
 * Transfer states: RUNNING (added to the multi handle) -> DONE (removed,
 * on_done called, back in the pool). Cancel removes it from RUNNING
 * without a callback. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/log.h"
#include "allot/upstream.h"
#include "internal.h"

struct provider_headers {
    const struct allot_provider *provider;
    struct curl_slist *list;          /* Content-Type, Expect:, the key (and anthropic-version) */
    struct allot_upstream_xfer *pool; /* idle transfers set up for this provider */
};

struct allot_upstream_xfer {
    enum allot__xfer_kind kind; /* first (internal.h): ALLOT__XFER_CURL */
    struct allot_upstream *up;
    CURL *easy;
    const struct allot_upstream_callbacks *cb;
    void *ctx;
    const struct allot_model *model;
    struct provider_headers *ph; /* the provider this handle is set up for */
    const char *path;            /* the path its URL was set for */
    long status;
    int64_t hint_ms;   /* retry-after-ms of the head being read; ALLOT_UPSTREAM_NO_HINT */
    int64_t hint_s_ms; /* its Retry-After, in ms */
    int head_done;
    int aborted; /* a callback asked to stop */
    int running;
    struct curl_slist *extra; /* ph->list and this request's extra header, or NULL */
    struct allot_upstream_xfer *next_free;
    char url[1024];
    char errbuf[CURL_ERROR_SIZE];
};

struct allot_upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    const struct allot_config *cfg;
    struct provider_headers *headers;
    size_t n_headers;
    size_t active;
    int closing;
    struct sock_ctx *socks;
    struct sock_ctx **by_fd; /* the poll handle of each socket curl opened */
    size_t n_by_fd;
    uv_check_t check;     /* harvests finished transfers after each poll phase */
    int proxy_env;        /* a proxy is set in the environment (proxy_in_env) */
    struct allot__h1 *h1; /* the native client, for the providers it serves */
};

/* A socket curl opened, and its poll handle. The handle lives as long as
 * the socket (closed from curl's close-socket callback), not as long as
 * one transfer: between requests curl stops watching an idle keep-alive
 * connection (CURL_POLL_REMOVE), and re-registering it with epoll for the
 * next request would cost two epoll_ctl calls per request. Instead an idle
 * socket stays watched for readability; if it turns readable while idle
 * (the server closed it), watching stops and curl finds it dead on reuse. */
struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct allot_upstream *up;
    int events;                   /* what the poll handle watches; 0 when stopped */
    int tracked;                  /* curl is watching it for a transfer */
    struct sock_ctx *prev, *next; /* up->socks: every poll handle still open */
};

static void check_multi_info(struct allot_upstream *up);

static int curl_global_ready;
static uv_once_t curl_once = UV_ONCE_INIT;

static void curl_global(void)
{
    curl_global_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *sc = h->data;
    int flags = 0, running;

    if (!sc->tracked) {
        /* An idle connection spoke (EOF or stray bytes): stop watching. */
        uv_poll_stop(&sc->poll);
        sc->events = 0;
        return;
    }
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(sc->up->multi, sc->fd, flags, &running);
    check_multi_info(sc->up);
}

static void free_sock(uv_handle_t *h)
{
    free(h->data);
}

static void sock_unlink(struct sock_ctx *sc)
{
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        sc->up->socks = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    sc->prev = sc->next = NULL;
}

static void sock_drop(struct sock_ctx *sc)
{
    struct allot_upstream *up = sc->up;
    if (sc->fd >= 0 && (size_t)sc->fd < up->n_by_fd && up->by_fd[sc->fd] == sc)
        up->by_fd[sc->fd] = NULL;
    sock_unlink(sc);
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, free_sock);
}

static struct sock_ctx *sock_find(struct allot_upstream *up, curl_socket_t s)
{
    return s >= 0 && (size_t)s < up->n_by_fd ? up->by_fd[s] : NULL;
}

static struct sock_ctx *sock_new(struct allot_upstream *up, curl_socket_t s)
{
    struct sock_ctx *sc;

    if (s < 0 || s > 1 << 24)
        return NULL;
    if ((size_t)s >= up->n_by_fd) {
        size_t n = up->n_by_fd ? up->n_by_fd : 256;
        struct sock_ctx **grown;
        while (n <= (size_t)s)
            n *= 2;
        grown = realloc(up->by_fd, n * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + up->n_by_fd, 0, (n - up->n_by_fd) * sizeof *grown);
        up->by_fd = grown;
        up->n_by_fd = n;
    }
    sc = calloc(1, sizeof *sc);
    if (!sc)
        return NULL;
    sc->fd = s;
    sc->up = up;
    if (uv_poll_init_socket(up->loop, &sc->poll, s) != 0) {
        free(sc);
        return NULL;
    }
    sc->poll.data = sc;
    sc->next = up->socks;
    if (up->socks)
        up->socks->prev = sc;
    up->socks = sc;
    up->by_fd[s] = sc;
    return sc;
}

static int on_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    struct allot_upstream *up = userp;
    struct sock_ctx *sc = socketp ? socketp : sock_find(up, s);
    int events = 0;
    (void)easy;

    if (action == CURL_POLL_REMOVE) {
        if (sc) {
            sc->tracked = 0;
            if (sc->events & UV_WRITABLE) {
                uv_poll_start(&sc->poll, UV_READABLE, on_poll);
                sc->events = UV_READABLE;
            }
        }
        return 0;
    }
    if (!sc && !(sc = sock_new(up, s)))
        return -1;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    sc->tracked = 1;
    curl_multi_assign(up->multi, s, sc);
    if (events != sc->events) {
        uv_poll_start(&sc->poll, events, on_poll);
        sc->events = events;
    }
    return 0;
}

/* curl opened a socket: a poll handle left for an earlier socket with the
 * same number (closed behind our back) must go before the new one is used. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct allot_upstream *up = clientp;
    curl_socket_t s = socket(addr->family, addr->socktype, addr->protocol);
    struct sock_ctx *stale;
    (void)purpose;
    if (s >= 0 && (stale = sock_find(up, s)))
        sock_drop(stale);
    return s;
}

/* curl closes a socket: stop watching it first, then close. */
static int on_close_socket(void *clientp, curl_socket_t s)
{
    struct allot_upstream *up = clientp;
    struct sock_ctx *sc = sock_find(up, s);
    if (sc)
        sock_drop(sc);
    return close(s);
}

static void on_check(uv_check_t *c)
{
    struct allot_upstream *up = c->data;
    check_multi_info(up);
    if (up->active == 0)
        uv_check_stop(&up->check);
}

static void on_timer(uv_timer_t *t)
{
    struct allot_upstream *up = t->data;
    int running;
    curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(up);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    struct allot_upstream *up = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&up->timer);
    else
        uv_timer_start(&up->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Whether the environment names a proxy that libcurl would use. Without
 * one, handles get CURLOPT_PROXY and CURLOPT_NOPROXY "": libcurl otherwise
 * looks the variables up (no_proxy, NO_PROXY, http_proxy, all_proxy,
 * ALL_PROXY: each getenv a scan of the environment) on every transfer. The
 * environment does not change while allot runs. */
static int proxy_in_env(void)
{
    static const char *const vars[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                       "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    size_t i;

    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return 1;
    }
    return 0;
}

/* Whether host (lower- or upper-case) is host_entry or in its domain. */
static int no_proxy_entry_matches(const char *host, const char *e, size_t n)
{
    size_t hl = strlen(host);
    while (n && (*e == ' ' || *e == '\t'))
        e++, n--;
    while (n && (e[n - 1] == ' ' || e[n - 1] == '\t'))
        n--;
    if (n && *e == '.')
        e++, n--;
    if (n >= 2 && e[0] == '[' && e[n - 1] == ']')
        e++, n -= 2;
    if (n == 0)
        return 0;
    if (n == 1 && *e == '*')
        return 1;
    if (hl == n && strncasecmp(host, e, n) == 0)
        return 1;
    return hl > n && host[hl - n - 1] == '.' && strncasecmp(host + hl - n, e, n) == 0;
}

int allot__proxy_applies(const char *host)
{
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    const char *np;
    size_t i;
    int set = 0;

    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            set = 1;
    }
    if (!set)
        return 0;
    np = getenv("no_proxy");
    if (!np || !*np)
        np = getenv("NO_PROXY");
    while (np && *np) {
        const char *comma = strchr(np, ',');
        size_t n = comma ? (size_t)(comma - np) : strlen(np);
        if (no_proxy_entry_matches(host, np, n))
            return 0;
        np = comma ? comma + 1 : NULL;
    }
    return 1;
}

int allot_upstream_new(uv_loop_t *loop, const struct allot_config *cfg, struct allot_upstream **out)
{
    struct allot_upstream *up = NULL;
    size_t i;
    int rc = ALLOT_ENOMEM;

    uv_once(&curl_once, curl_global);
    if (!curl_global_ready)
        return ALLOT_EUPSTREAM;
    up = calloc(1, sizeof *up);
    if (!up)
        goto out;
    up->loop = loop;
    up->cfg = cfg;
    up->proxy_env = proxy_in_env();
    if ((rc = allot__h1_new(loop, cfg, &up->h1)))
        goto out;
    rc = ALLOT_ENOMEM;
    up->multi = curl_multi_init();
    if (!up->multi)
        goto out;
    up->headers = calloc(cfg->n_providers ? cfg->n_providers : 1, sizeof *up->headers);
    if (!up->headers)
        goto out;
    for (i = 0; i < cfg->n_providers; i++) {
        struct curl_slist *l = NULL, *t;
        const struct allot_provider *p = &cfg->providers[i];
        up->headers[i].provider = p;
        up->n_headers = i + 1;
        if (!(t = curl_slist_append(l, "Content-Type: application/json")))
            goto out;
        l = t;
        if (!(t = curl_slist_append(l, "Expect:")))
            goto out_list;
        l = t;
        if (allot_provider_is_anthropic(p)) {
            if (!(t = curl_slist_append(l, "anthropic-version: " ALLOT_ANTHROPIC_VERSION)))
                goto out_list;
            l = t;
        }
        if (p->api_key && p->api_key[0]) {
            struct allot_buf auth;
            allot_buf_init(&auth, 8192);
            if (allot_buf_addf(&auth,
                               allot_provider_is_anthropic(p) ? "x-api-key: %s"
                                                              : "Authorization: Bearer %s",
                               p->api_key)) {
                allot_buf_release(&auth);
                goto out_list;
            }
            t = curl_slist_append(l, auth.ptr);
            memset(auth.ptr, 0, auth.len); /* the key lives on only in the slist */
            allot_buf_release(&auth);
            if (!t)
                goto out_list;
            l = t;
        }
        up->headers[i].list = l;
        continue;
    out_list:
        curl_slist_free_all(l);
        goto out;
    }
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, 1024L);
    if (uv_timer_init(loop, &up->timer) != 0)
        goto out;
    up->timer.data = up;
    uv_check_init(loop, &up->check);
    up->check.data = up;
    *out = up;
    up = NULL;
    rc = 0;
out:
    if (up) {
        for (i = 0; i < up->n_headers; i++)
            curl_slist_free_all(up->headers[i].list);
        free(up->headers);
        if (up->multi)
            curl_multi_cleanup(up->multi);
        allot__h1_free(up->h1);
        free(up);
    }
    return rc;
}

static struct provider_headers *headers_for(struct allot_upstream *up,
                                            const struct allot_provider *p)
{
    size_t i;
    for (i = 0; i < up->n_headers; i++)
        if (up->headers[i].provider == p)
            return &up->headers[i];
    return NULL;
}

/* A header line of a head: a retry hint is read at once (the line is
 * whole); a status line starts a head, interim or final, afresh. Only a
 * line that starts with 'r' or "HTTP/" is looked at further. */
static void on_header_line(struct allot_upstream_xfer *x, const char *p, size_t len)
{
    static const char name[] = "retry-after";
    const size_t nl = sizeof name - 1;
    const char *v;
    int ms;

    if ((p[0] | 0x20) != 'r') {
        if (len > 5 && memcmp(p, "HTTP/", 5) == 0)
            x->hint_ms = x->hint_s_ms = ALLOT_UPSTREAM_NO_HINT;
        return;
    }
    if (len <= nl || strncasecmp(p, name, nl) != 0)
        return;
    ms = len > nl + 3 && strncasecmp(p + nl, "-ms", 3) == 0;
    v = p + nl + (ms ? 3 : 0);
    if (*v != ':')
        return; /* another header: "retry-after-foo" */
    v++;
    len -= (size_t)(v - p);
    while (len && (v[len - 1] == '\n' || v[len - 1] == '\r'))
        len--;
    /* repeated: the last one counts */
    if (ms)
        x->hint_ms = allot_upstream_retry_hint(allot_slice_of(v, len), 1, 0);
    else
        x->hint_s_ms = allot_upstream_retry_hint(allot_slice_of(v, len), 0, allot_clock_wall_ms());
}

static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
    struct allot_upstream_xfer *x = userp;
    size_t len = size * n;
    long status = 0;
    char *ct = NULL;

    if (x->head_done || x->aborted)
        return len;
    if (len > 2 || (len >= 1 && p[0] != '\r' && p[0] != '\n')) {
        on_header_line(x, p, len);
        return len;
    }
    /* End of a head. Skip interim 1xx responses. */
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200)
        return len;
    x->head_done = 1;
    x->status = status;
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (x->cb->on_head(x->ctx, status, allot_slice_cstr(ct),
                       x->hint_ms >= 0 ? x->hint_ms : x->hint_s_ms) != 0) {
        x->aborted = 1;
        return 0;
    }
    return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *userp)
{
    struct allot_upstream_xfer *x = userp;
    size_t len = size * n;
    int rc;

    if (x->aborted)
        return 0;
    rc = x->cb->on_data(x->ctx, p, len);
    if (rc == ALLOT_UPSTREAM_PAUSE)
        return CURL_WRITEFUNC_PAUSE;
    if (rc != 0) {
        x->aborted = 1;
        return 0;
    }
    return len;
}

/* Free a header list whose copies include the provider's key, zeroed first. */
static void free_zeroed(struct curl_slist *l)
{
    for (struct curl_slist *c = l; c; c = c->next)
        explicit_bzero(c->data, strlen(c->data));
    curl_slist_free_all(l);
}

static void recycle(struct allot_upstream_xfer *x)
{
    if (x->extra) { /* back to the provider's own list */
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->ph->list);
        free_zeroed(x->extra);
        x->extra = NULL;
    }
    x->running = 0;
    x->cb = NULL;
    x->ctx = NULL;
    x->next_free = x->ph->pool;
    x->ph->pool = x;
    x->up->active--;
}

/* Everything about a handle that depends only on its provider: set once,
 * when the handle is made, and kept across requests (no curl_easy_reset). */
static int setup_handle(struct allot_upstream_xfer *x)
{
    const struct allot_provider *p = x->ph->provider;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->ph->list);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "allot/0.1");
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x->up);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, x->up);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    if (!x->up->proxy_env) { /* none to find: spare libcurl the lookups per transfer */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return ALLOT_EUPSTREAM;
    return 0;
}

/* The transfer's headers: the provider's list and extra (a header line),
 * in a list of its own, freed by recycle(). -1: no memory, or too long. */
static int extra_headers(struct allot_upstream_xfer *x, struct allot_slice extra)
{
    char line[ALLOT_UPSTREAM_EXTRA_MAX + 1];
    struct curl_slist *l = NULL, *t;
    const struct curl_slist *c;

    if (extra.len > ALLOT_UPSTREAM_EXTRA_MAX)
        return -1;
    memcpy(line, extra.ptr, extra.len);
    line[extra.len] = '\0';
    for (c = x->ph->list; c; c = c->next) {
        if (!(t = curl_slist_append(l, c->data)))
            goto fail;
        l = t;
    }
    if (!(t = curl_slist_append(l, line)))
        goto fail;
    x->extra = t;
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->extra);
    return 0;
fail:
    free_zeroed(l);
    return -1;
}

int allot_upstream_start(struct allot_upstream *up, const struct allot_upstream_request *req,
                         const struct allot_upstream_callbacks *cb, void *ctx,
                         struct allot_upstream_xfer **out, struct allot_buf *err)
{
    const struct allot_provider *p = req->model->provider;
    struct provider_headers *ph = headers_for(up, p);
    struct allot_upstream_xfer *x;
    CURLMcode mc;
    int running;

    if (up->closing)
        return ALLOT_ECLOSED;
    if (allot__h1_serves(up->h1, p))
        return allot__h1_start(up->h1, req, cb, ctx, out, err);
    if (!ph) {
        allot_buf_addf(err, "upstream '%s': provider not configured", p->name);
        return ALLOT_EUPSTREAM;
    }
    x = ph->pool;
    if (x) {
        ph->pool = x->next_free;
    } else {
        x = calloc(1, sizeof *x);
        if (!x)
            return ALLOT_ENOMEM;
        x->kind = ALLOT__XFER_CURL;
        x->easy = curl_easy_init();
        x->up = up;
        x->ph = ph;
        if (!x->easy || setup_handle(x) != 0) {
            if (x->easy)
                curl_easy_cleanup(x->easy);
            free(x);
            allot_buf_addf(err, "upstream '%s': cannot set up a transfer", p->name);
            return ALLOT_EUPSTREAM;
        }
    }
    up->active++;
    x->cb = cb;
    x->ctx = ctx;
    x->model = req->model;
    x->status = 0;
    x->hint_ms = x->hint_s_ms = ALLOT_UPSTREAM_NO_HINT;
    x->head_done = 0;
    x->aborted = 0;
    x->errbuf[0] = '\0';
    if (x->path != req->path) {
        int n = snprintf(x->url, sizeof x->url, "%s%s", p->base_url, req->path);
        if (n < 0 || (size_t)n >= sizeof x->url) {
            allot_buf_addf(err, "upstream '%s': base_url too long", p->name);
            recycle(x);
            return ALLOT_EUPSTREAM;
        }
        curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
        x->path = req->path;
    }
    if (req->extra_header.len && extra_headers(x, req->extra_header)) {
        allot_buf_addf(err, "upstream '%s': cannot add a header", p->name);
        recycle(x);
        return ALLOT_EUPSTREAM;
    }
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    mc = curl_multi_add_handle(up->multi, x->easy);
    if (mc != CURLM_OK) {
        allot_buf_addf(err, "upstream '%s': %s", p->name, curl_multi_strerror(mc));
        recycle(x);
        return ALLOT_EUPSTREAM;
    }
    x->running = 1;
    *out = x;
    /* Send now rather than on the next loop iteration (curl asked for a
     * 0 ms timer). Transfers that finish here are harvested by the check
     * handle at the end of this iteration, never inside this call, so no
     * on_done runs before the caller has *out. */
    curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (!uv_is_active((uv_handle_t *)&up->check))
        uv_check_start(&up->check, on_check);
    return 0;
}

static void check_multi_info(struct allot_upstream *up)
{
    CURLMsg *msg;
    int pending;

    while ((msg = curl_multi_info_read(up->multi, &pending))) {
        struct allot_upstream_xfer *x = NULL;
        const struct allot_upstream_callbacks *cb;
        void *ctx;
        char message[CURL_ERROR_SIZE + 256];
        int err = 0;
        CURLcode res;

        if (msg->msg != CURLMSG_DONE)
            continue;
        res = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(up->multi, msg->easy_handle);
        if (!x)
            continue;
        message[0] = '\0';
        if (x->aborted) {
            err = ALLOT_ECLOSED;
            snprintf(message, sizeof message, "transfer aborted by allot");
        } else if (res != CURLE_OK) {
            const struct allot_provider *p = x->model->provider;
            err = res == CURLE_OPERATION_TIMEDOUT ? ALLOT_ETIMEDOUT : ALLOT_EUPSTREAM;
            snprintf(message, sizeof message, "upstream '%s' at %s: %s", p->name, p->base_url,
                     x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
        }
        cb = x->cb;
        ctx = x->ctx;
        /* Back in the pool first: on_done may start the next attempt. */
        recycle(x);
        cb->on_done(ctx, err, message);
    }
}

void allot_upstream_cancel(struct allot_upstream_xfer *x)
{
    if (x && allot__xfer_kind_of(x) == ALLOT__XFER_H1) {
        allot__h1_cancel(x);
        return;
    }
    if (!x || !x->running)
        return;
    curl_multi_remove_handle(x->up->multi, x->easy);
    recycle(x);
}

void allot_upstream_resume(struct allot_upstream_xfer *x)
{
    if (x && allot__xfer_kind_of(x) == ALLOT__XFER_H1) {
        allot__h1_resume(x);
        return;
    }
    if (x && x->running)
        curl_easy_pause(x->easy, CURLPAUSE_CONT);
}

size_t allot_upstream_active(const struct allot_upstream *up)
{
    return up->active + allot__h1_active(up->h1);
}

static void free_upstream(uv_handle_t *h)
{
    struct allot_upstream *up = h->data;
    struct allot_upstream_xfer *x;
    size_t i;

    for (i = 0; i < up->n_headers; i++) {
        while ((x = up->headers[i].pool)) {
            up->headers[i].pool = x->next_free;
            curl_easy_cleanup(x->easy);
            free(x);
        }
        curl_slist_free_all(up->headers[i].list);
    }
    free(up->headers);
    free(up);
}

static void check_closed(uv_handle_t *h)
{
    struct allot_upstream *up = h->data;
    uv_close((uv_handle_t *)&up->timer, free_upstream);
}

void allot_upstream_free(struct allot_upstream *up)
{
    if (!up)
        return;
    up->closing = 1;
    allot__h1_free(up->h1);
    up->h1 = NULL;
    /* Transfers still running belong to requests that are being torn down;
     * their owners cancel them. What remains here is the pool. Cleaning up
     * the multi handle closes cached connections through on_close_socket. */
    curl_multi_cleanup(up->multi);
    up->multi = NULL;
    /* Poll handles of sockets curl did not close through us. */
    while (up->socks)
        sock_drop(up->socks);
    free(up->by_fd);
    up->by_fd = NULL;
    up->n_by_fd = 0;
    uv_timer_stop(&up->timer);
    uv_check_stop(&up->check);
    uv_close((uv_handle_t *)&up->check, check_closed);
}
