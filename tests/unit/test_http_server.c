/* test_http_server.c: the HTTP server driven over real loopback sockets.
 *
 * Each test runs a server on its own uv loop in a background thread (port
 * 0) and talks to it with plain blocking sockets from the test thread.
 * Every socket has a receive timeout, so a server bug fails a test instead
 * of hanging it. The handler is small: /echo answers with what it saw,
 * /chunked streams three chunks, /defer answers after ?ms=N milliseconds
 * (or never, until aborted), /stream?n=N streams N bytes honouring
 * backpressure (allot_http_chunk returning 1, then on_drain), /big?n=N
 * answers N bytes at once, /cut and /drop end with allot_http_abort;
 * anything else is a 404 showing the tag on_head set. on_head refuses
 * /locked before its body. */
#include <arpa/inet.h>
#include <errno.h>
#include <llhttp.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "allot/buf.h"
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/http_server.h"
#include "test.h"

/* ---- the server side (runs on the loop thread) ------------------------ */

enum tsrv_cmd { CMD_NONE, CMD_STOP_ACCEPTING, CMD_CLOSE_IDLE, CMD_CLOSE };

struct tsrv {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    struct allot_http_server *srv;
    int port;
    atomic_int cmd;
    atomic_int requests, aborts, drains, high_water, inflight_seen;
};

struct job {
    uv_timer_t timer;
    struct allot_http_request *req;
    struct tsrv *t;
    size_t remaining;
};

static char pattern[65536];

static void fill_pattern(void)
{
    size_t i;
    for (i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)('a' + i % 26);
}

static long query_num(const struct allot_http_request *req, const char *key, long dflt)
{
    char q[128];
    const char *p;
    size_t n = req->query.len < sizeof q - 1 ? req->query.len : sizeof q - 1;

    memcpy(q, req->query.ptr, n);
    q[n] = '\0';
    p = strstr(q, key);
    return p ? strtol(p + strlen(key), NULL, 10) : dflt;
}

static void job_closed(uv_handle_t *h)
{
    free(h->data);
}

static void job_done(struct job *j)
{
    j->req = NULL;
    uv_close((uv_handle_t *)&j->timer, job_closed);
}

static void defer_fire(uv_timer_t *tm)
{
    struct job *j = tm->data;
    struct allot_http_request *req = j->req;

    req->user = NULL;
    job_done(j);
    allot_http_respond(req, 200, NULL, 0, "deferred", 8);
}

static void stream_pump(struct job *j)
{
    struct allot_http_request *req = j->req;
    int rc;

    while (j->remaining) {
        size_t n = j->remaining < sizeof pattern ? j->remaining : sizeof pattern;
        rc = allot_http_chunk(req, pattern, n);
        if (rc < 0)
            return; /* on_abort follows */
        j->remaining -= n;
        if (rc == 1) {
            atomic_fetch_add(&j->t->high_water, 1);
            if (j->remaining)
                return; /* on_drain resumes */
        }
    }
    req->user = NULL;
    job_done(j);
    allot_http_chunked_end(req);
}

static struct job *job_new(struct tsrv *t, struct allot_http_request *req)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->req = req;
    j->t = t;
    uv_timer_init(&t->loop, &j->timer);
    j->timer.data = j;
    req->user = j;
    return j;
}

static void on_request(struct allot_http_request *req, void *ctx)
{
    struct tsrv *t = ctx;
    struct allot_slice echo;
    struct allot_buf out;

    atomic_fetch_add(&t->requests, 1);
    atomic_store(&t->inflight_seen, (int)allot_http_server_inflight(t->srv));
    if (allot_slice_eq(req->path, "/echo")) {
        static const struct allot_http_header h[] = {
            {ALLOT_SLICE_LIT("Content-Type"), ALLOT_SLICE_LIT("text/plain")},
            {ALLOT_SLICE_LIT("Content-Length"), ALLOT_SLICE_LIT("999")},     /* dropped */
            {ALLOT_SLICE_LIT("X-Bad"), ALLOT_SLICE_LIT("a\r\nInjected: 1")}, /* dropped */
            /* past the first sixteen bytes, and in the tail after them */
            {ALLOT_SLICE_LIT("X-Bad-Long"), ALLOT_SLICE_LIT("0123456789abcdefghij\nInjected: 2")},
            {ALLOT_SLICE_LIT("X-Bad-Tail"),
             ALLOT_SLICE_LIT("0123456789abcdefghijklmnopqrstuvwxyz\r")},
            {ALLOT_SLICE_LIT("X-Name-With-A-Long:Injected"), ALLOT_SLICE_LIT("3")},
            {ALLOT_SLICE_LIT("X:Injected"), ALLOT_SLICE_LIT("4")},
            {ALLOT_SLICE_LIT("X-Name-Long-Enough-For-Two\rInjected"), ALLOT_SLICE_LIT("5")},
            {ALLOT_SLICE_LIT("X-Short"), ALLOT_SLICE_LIT("1\r2")},
            {ALLOT_SLICE_LIT("X-Mid"), ALLOT_SLICE_LIT("abcdefghij\rk")},
            /* sixteen bytes exactly, the last one a CR; a name of sixteen
             * with a colon last */
            {ALLOT_SLICE_LIT("X-Sixteen-Bad"), ALLOT_SLICE_LIT("0123456789abcde\r")},
            {ALLOT_SLICE_LIT("X-Sixteen-Name:"), ALLOT_SLICE_LIT("6")},
            /* kept: a colon in a value, a long clean value, sixteen bytes
             * after one taken back */
            {ALLOT_SLICE_LIT("X-Colon"), ALLOT_SLICE_LIT("a:b")},
            {ALLOT_SLICE_LIT("X-Long-Header-Name-Kept"),
             ALLOT_SLICE_LIT("0123456789abcdefghijklmnopqrstuvwxyz-0123456789")},
            {ALLOT_SLICE_LIT("X-Sixteen"), ALLOT_SLICE_LIT("0123456789abcdef")},
        };
        echo = allot_http_request_header(req, "X-Echo");
        allot_buf_init(&out, 1 << 20);
        allot_buf_addf(&out, "M=%s P=%.*s Q=%.*s H=%.*s B=%.*s",
                       allot_http_method_name(req->method), (int)req->path.len, req->path.ptr,
                       (int)req->query.len, req->query.ptr, echo.ptr ? (int)echo.len : 1,
                       echo.ptr ? echo.ptr : "-", (int)req->body.len, req->body.ptr);
        allot_http_respond(req, 200, h, sizeof h / sizeof h[0], out.ptr, out.len);
        allot_buf_release(&out);
    } else if (allot_slice_eq(req->path, "/chunked")) {
        allot_http_chunked_start(req, 200, NULL, 0);
        allot_http_chunk(req, "hello", 5);
        allot_http_chunk(req, ", ", 2);
        allot_http_chunk(req, "0123456789abcdefg", 17);
        allot_http_chunked_end(req);
    } else if (allot_slice_eq(req->path, "/defer")) {
        struct job *j = job_new(t, req);
        uv_timer_start(&j->timer, defer_fire, (uint64_t)query_num(req, "ms=", 600000), 0);
    } else if (allot_slice_eq(req->path, "/stream")) {
        struct job *j = job_new(t, req);
        j->remaining = (size_t)query_num(req, "n=", 0);
        allot_http_chunked_start(req, 200, NULL, 0);
        stream_pump(j);
    } else if (allot_slice_eq(req->path, "/cut")) {
        allot_http_chunked_start(req, 200, NULL, 0);
        allot_http_chunk(req, "partial", 7);
        allot_http_abort(req);
    } else if (allot_slice_eq(req->path, "/drop")) {
        allot_http_abort(req);
    } else if (allot_slice_eq(req->path, "/big")) {
        size_t n = (size_t)query_num(req, "n=", 0), i;
        char *p = malloc(n + 1);
        for (i = 0; i < n; i++)
            p[i] = pattern[i % sizeof pattern];
        allot_http_respond(req, 200, NULL, 0, p, n);
        free(p);
    } else {
        char nf[96];
        int n = snprintf(nf, sizeof nf, "not found tag=%d P=%.*s Q=%.*s", req->tag,
                         (int)(req->path.len > 32 ? 32 : req->path.len), req->path.ptr,
                         (int)(req->query.len > 32 ? 32 : req->query.len), req->query.ptr);
        allot_http_respond(req, 404, NULL, 0, nf, (size_t)n);
    }
}

static void on_abort(struct allot_http_request *req, void *ctx)
{
    struct tsrv *t = ctx;
    struct job *j = req->user;

    atomic_fetch_add(&t->aborts, 1);
    /* The request is dead: ending it now is refused, harmlessly. */
    if (allot_http_respond(req, 200, NULL, 0, "late", 4) != ALLOT_EINVAL)
        abort();
    if (j)
        job_done(j);
}

static void on_drain(struct allot_http_request *req, void *ctx)
{
    struct tsrv *t = ctx;
    atomic_fetch_add(&t->drains, 1);
    if (req->user)
        stream_pump(req->user);
}

static void on_wake(uv_async_t *a)
{
    struct tsrv *t = a->data;
    switch (atomic_exchange(&t->cmd, CMD_NONE)) {
    case CMD_STOP_ACCEPTING:
        allot_http_server_stop_accepting(t->srv);
        break;
    case CMD_CLOSE_IDLE:
        allot_http_server_close_idle(t->srv);
        break;
    case CMD_CLOSE:
        allot_http_server_close(t->srv, NULL, NULL);
        uv_close((uv_handle_t *)&t->wake, NULL);
        break;
    default:
        break;
    }
}

static void tsrv_main(void *arg)
{
    struct tsrv *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
}

/* Refuses /locked on its head (as the gateway refuses a request without a
 * client key); the rest goes on, with a tag that on_request must see. */
static void on_head(struct allot_http_request *req, void *ctx, struct allot_http_refusal *refuse)
{
    (void)ctx;
    if (allot_slice_eq(req->path, "/locked")) {
        refuse->status = 401;
        refuse->code = "no_key";
        refuse->extra.name = ALLOT_SLICE_LIT("WWW-Authenticate");
        refuse->extra.value = ALLOT_SLICE_LIT("Bearer");
        snprintf(refuse->message, sizeof refuse->message, "no key for %s",
                 allot_http_request_header(req, "x-who").ptr ? "you" : "anyone");
    } else if (allot_slice_eq(req->path, "/tagged")) {
        req->tag = 42;
    }
}

static int tsrv_start(struct tsrv *t, const struct allot_http_limits *limits)
{
    struct allot_http_handler h = {on_request, on_abort, on_drain, NULL, NULL, NULL};
    struct allot_buf err;
    int rc;

    memset(t, 0, sizeof *t);
    fill_pattern();
    h.ctx = t;
    h.on_head = on_head;
    allot_buf_init(&err, 256);
    if (uv_loop_init(&t->loop))
        return -1;
    rc = allot_http_server_new(&t->loop, "127.0.0.1", 0, limits, &h, &t->srv, &err);
    if (rc) {
        fprintf(stderr, "  server: %s\n", allot_buf_cstr(&err));
        allot_buf_release(&err);
        return -1;
    }
    allot_buf_release(&err);
    t->port = allot_http_server_port(t->srv);
    uv_async_init(&t->loop, &t->wake, on_wake);
    t->wake.data = t;
    return uv_thread_create(&t->thread, tsrv_main, t) ? -1 : 0;
}

static void tsrv_cmd(struct tsrv *t, enum tsrv_cmd cmd)
{
    atomic_store(&t->cmd, cmd);
    uv_async_send(&t->wake);
}

/* Close the server and join the loop thread; 0 when the loop ended clean. */
static int tsrv_stop(struct tsrv *t)
{
    tsrv_cmd(t, CMD_CLOSE);
    uv_thread_join(&t->thread);
    return uv_loop_close(&t->loop);
}

static const struct allot_http_limits default_limits = {
    .max_header_bytes = 65536,
    .max_body_bytes = 1 << 20,
    .header_timeout_ms = 2000,
    .idle_timeout_ms = 5000,
};

/* ---- the client side (test thread) ------------------------------------ */

struct tconn {
    int fd;
    char *buf;
    size_t len, cap;
};

struct tresp {
    int status;
    char head[8192];
    char *body; /* decoded body, NUL-terminated */
    size_t body_len;
    char *raw; /* the bytes after the head, as sent */
    size_t raw_len;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Connect; rcvbuf > 0 sets SO_RCVBUF first (before the window is agreed). */
static int tconnect_rcvbuf(struct tconn *tc, int port, int rcvbuf)
{
    struct sockaddr_in a;
    struct timeval tv = {3, 0};
    int one = 1;

    memset(tc, 0, sizeof *tc);
    tc->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (tc->fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(tc->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setsockopt(tc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(tc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(tc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(tc->fd, (struct sockaddr *)&a, sizeof a);
}

static int tconnect(struct tconn *tc, int port)
{
    return tconnect_rcvbuf(tc, port, 0);
}

static void tclose(struct tconn *tc)
{
    if (tc->fd >= 0)
        close(tc->fd);
    tc->fd = -1;
    free(tc->buf);
    tc->buf = NULL;
}

static int tsend(struct tconn *tc, const char *p)
{
    size_t n = strlen(p);
    while (n) {
        ssize_t w = send(tc->fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Receive until the buffer holds at least n bytes; -1 on EOF or timeout. */
static int tfill(struct tconn *tc, size_t n)
{
    while (tc->len < n) {
        ssize_t r;
        if (tc->cap - tc->len < 65536) {
            tc->cap = tc->cap * 2 + 65536;
            tc->buf = realloc(tc->buf, tc->cap + 1);
        }
        r = recv(tc->fd, tc->buf + tc->len, tc->cap - tc->len, 0);
        if (r <= 0)
            return -1;
        tc->len += (size_t)r;
    }
    tc->buf[tc->len] = '\0';
    return 0;
}

/* Offset just past the first "\r\n" at or after from; receives as needed. */
static long tfind_crlf(struct tconn *tc, size_t from, const char *sep)
{
    size_t sl = strlen(sep);
    for (;;) {
        char *p = tc->len > from ? memmem(tc->buf + from, tc->len - from, sep, sl) : NULL;
        if (p)
            return (long)(p - tc->buf + (long)sl);
        if (tfill(tc, tc->len + 1))
            return -1;
    }
}

static void tresp_free(struct tresp *r)
{
    free(r->body);
    free(r->raw);
    r->body = r->raw = NULL;
}

/* 1 when the server closes the connection (EOF or reset) within the
 * receive timeout, with no further bytes. */
/* Still open: no byte and no end of stream waiting (does not block). */
static int topen(struct tconn *tc)
{
    struct pollfd p = {tc->fd, POLLIN, 0};
    return tc->len == 0 && poll(&p, 1, 0) == 0;
}

static int tclosed(struct tconn *tc)
{
    char c;
    ssize_t r;
    if (tc->len)
        return 0;
    r = recv(tc->fd, &c, 1, 0);
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* Read one response. no_body: a reply to HEAD. Returns 0 or -1. */
static int tread(struct tconn *tc, struct tresp *r, int no_body)
{
    long he, pos;
    size_t hl, n, body_cap = 1;

    memset(r, 0, sizeof *r);
    he = tfind_crlf(tc, 0, "\r\n\r\n");
    if (he < 0)
        return -1;
    hl = (size_t)he < sizeof r->head - 1 ? (size_t)he : sizeof r->head - 1;
    memcpy(r->head, tc->buf, hl);
    r->head[hl] = '\0';
    if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
        return -1;
    r->body = calloc(1, 1);
    pos = he;
    if (no_body || r->status == 100) {
        /* nothing */
    } else if (strstr(r->head, "\r\nTransfer-Encoding: chunked\r\n")) {
        for (;;) {
            long le = tfind_crlf(tc, (size_t)pos, "\r\n");
            if (le < 0)
                return -1;
            n = strtoul(tc->buf + pos, NULL, 16);
            pos = le;
            if (n == 0) {
                if (tfill(tc, (size_t)pos + 2) || memcmp(tc->buf + pos, "\r\n", 2))
                    return -1;
                pos += 2;
                break;
            }
            if (tfill(tc, (size_t)pos + n + 2) || memcmp(tc->buf + pos + n, "\r\n", 2))
                return -1;
            if (r->body_len + n + 1 > body_cap) {
                body_cap = (r->body_len + n + 1) * 2;
                r->body = realloc(r->body, body_cap);
            }
            memcpy(r->body + r->body_len, tc->buf + pos, n);
            r->body_len += n;
            r->body[r->body_len] = '\0';
            pos += (long)n + 2;
        }
    } else if (strstr(r->head, "\r\nContent-Length: ")) {
        n = strtoul(strstr(r->head, "\r\nContent-Length: ") + 18, NULL, 10);
        if (tfill(tc, (size_t)pos + n))
            return -1;
        r->body = realloc(r->body, n + 1);
        memcpy(r->body, tc->buf + pos, n);
        r->body_len = n;
        r->body[n] = '\0';
        pos += (long)n;
    } else { /* until EOF */
        while (tfill(tc, tc->len + 1) == 0)
            ;
        n = tc->len - (size_t)pos;
        r->body = realloc(r->body, n + 1);
        memcpy(r->body, tc->buf + pos, n);
        r->body_len = n;
        r->body[n] = '\0';
        pos = (long)tc->len;
    }
    r->raw_len = (size_t)pos - (size_t)he;
    r->raw = malloc(r->raw_len + 1);
    memcpy(r->raw, tc->buf + he, r->raw_len);
    r->raw[r->raw_len] = '\0';
    memmove(tc->buf, tc->buf + pos, tc->len - (size_t)pos);
    tc->len -= (size_t)pos;
    return 0;
}

/* Wait up to ms for an atomic counter to reach want. */
static int wait_for(atomic_int *v, int want, long ms)
{
    while (atomic_load(v) < want && ms > 0) {
        sleep_ms(5);
        ms -= 5;
    }
    return atomic_load(v) >= want;
}

/* ---- tests ------------------------------------------------------------- */

TEST(http_server_get_respond)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT(t.port > 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo?x=1&y=2 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 200);
    ASSERT(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ASSERT_STR_EQ(r.body, "M=GET P=/echo Q=x=1&y=2 H=- B=");
    ASSERT_STR_CONTAINS(r.head, "\r\nContent-Type: text/plain\r\n");
    ASSERT_STR_CONTAINS(r.head, "\r\nContent-Length: 30\r\n");
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: keep-alive\r\n");
    ASSERT_STR_CONTAINS(r.head, " GMT\r\n");
    ASSERT_STR_CONTAINS(r.head, "\r\nDate: ");
    ASSERT(!strstr(r.head, "999"));      /* the handler's Content-Length is dropped */
    ASSERT(!strstr(r.head, "Injected")); /* so are headers with CR, LF or a colon in the name */
    ASSERT(!strstr(r.head, "X-Bad-Tail"));
    ASSERT(!strstr(r.head, "X-Short"));
    ASSERT(!strstr(r.head, "X-Mid"));
    ASSERT(!strstr(r.head, "X-Sixteen-"));
    ASSERT_STR_CONTAINS(r.head, "\r\nX-Colon: a:b\r\n");
    ASSERT_STR_CONTAINS(r.head, "\r\nX-Sixteen: 0123456789abcdef\r\n");
    ASSERT_STR_CONTAINS(
        r.head, "\r\nX-Long-Header-Name-Kept: 0123456789abcdefghijklmnopqrstuvwxyz-0123456789\r\n");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_keep_alive_two_requests)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo?n=1 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=GET P=/echo Q=n=1 H=- B=");
    tresp_free(&r);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo?n=2 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=GET P=/echo Q=n=2 H=- B=");
    tresp_free(&r);
    ASSERT_INT_EQ(atomic_load(&t.requests), 2);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_pipelined_responses_in_order)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;
    int i;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    /* The first answer is deferred: the second must still come after it. */
    ASSERT_INT_EQ(tsend(&tc,
                        "GET /defer?ms=50 HTTP/1.1\r\nHost: a\r\n\r\n"
                        "GET /echo?second HTTP/1.1\r\nHost: a\r\n\r\n"
                        "POST /echo?third HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"),
                  0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "deferred");
    tresp_free(&r);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=GET P=/echo Q=second H=- B=");
    tresp_free(&r);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=POST P=/echo Q=third H=- B=xyz");
    tresp_free(&r);
    /* Many small pipelined requests in one write, answered synchronously. */
    {
        char big[64 * 40];
        size_t off = 0;
        for (i = 0; i < 60; i++)
            off += (size_t)snprintf(big + off, sizeof big - off,
                                    "GET /echo?i=%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
        ASSERT_INT_EQ(tsend(&tc, big), 0);
        for (i = 0; i < 60; i++) {
            char want[64];
            snprintf(want, sizeof want, "M=GET P=/echo Q=i=%d H=- B=", i);
            ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
            ASSERT_STR_EQ(r.body, want);
            tresp_free(&r);
        }
    }
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_post_bodies_arrive_whole)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    /* Content-Length, with head and body split over several writes. */
    ASSERT_INT_EQ(tsend(&tc, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Le"), 0);
    sleep_ms(10);
    ASSERT_INT_EQ(tsend(&tc, "ngth: 11\r\n\r\nhello"), 0);
    sleep_ms(10);
    ASSERT_INT_EQ(tsend(&tc, " world"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=POST P=/echo Q= H=- B=hello world");
    tresp_free(&r);
    /* Chunked transfer-encoding, chunks split over writes. */
    ASSERT_INT_EQ(tsend(&tc, "POST /echo HTTP/1.1\r\nHost: a\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n5\r\nhel"),
                  0);
    sleep_ms(10);
    ASSERT_INT_EQ(tsend(&tc, "lo\r\n6\r\n world\r\n"), 0);
    sleep_ms(10);
    ASSERT_INT_EQ(tsend(&tc, "0\r\nX-Trailer: t\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=POST P=/echo Q= H=- B=hello world");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_header_lookup_is_case_insensitive_and_split_safe)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nHost: a\r\nx-eCHo: mixed case\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=GET P=/echo Q= H=mixed case B=");
    tresp_free(&r);
    /* A header name and value cut across reads still come out whole. */
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nHost: a\r\nX-Ec"), 0);
    sleep_ms(10);
    ASSERT_INT_EQ(tsend(&tc, "ho: split-"), 0);
    sleep_ms(10);
    ASSERT_INT_EQ(tsend(&tc, "value\r\nAccept: */*\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=GET P=/echo Q= H=split-value B=");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_chunked_response_framing)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.head, "\r\nTransfer-Encoding: chunked\r\n");
    ASSERT(!strstr(r.head, "Content-Length"));
    ASSERT_STR_EQ(r.raw, "5\r\nhello\r\n2\r\n, \r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n");
    tresp_free(&r);
    /* HTTP/1.0 cannot take chunks: raw body, then close. */
    ASSERT_INT_EQ(tsend(&tc, "GET /chunked HTTP/1.0\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT(!strstr(r.head, "Transfer-Encoding"));
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: close\r\n");
    ASSERT_STR_EQ(r.body, "hello, 0123456789abcdefg");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_head_has_no_body_and_http10_closes)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n"
                             "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"),
                  0);
    ASSERT_INT_EQ(tread(&tc, &r, 1), 0);
    ASSERT_INT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.head, "\r\nContent-Length: 24\r\n");
    tresp_free(&r);
    /* No body bytes came after the HEAD reply: the next is a clean reply. */
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=GET P=/echo Q= H=- B=");
    tresp_free(&r);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.0\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: close\r\n");
    tresp_free(&r);
    ASSERT(tclosed(&tc));
    tclose(&tc);
    /* A client asking for close gets it. */
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: close\r\n");
    tresp_free(&r);
    ASSERT(tclosed(&tc));
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_expect_100_continue)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                             "Expect: 100-continue\r\n\r\n"),
                  0);
    ASSERT_INT_EQ(tread(&tc, &r, 1), 0);
    ASSERT_STR_EQ(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
    tresp_free(&r);
    ASSERT_INT_EQ(tsend(&tc, "body"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "M=POST P=/echo Q= H=- B=body");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

static const struct allot_http_limits small_limits = {
    .max_header_bytes = 1024,
    .max_body_bytes = 4096,
    .header_timeout_ms = 200,
    .idle_timeout_ms = 300,
};

TEST(http_server_413_for_large_content_length)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &small_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                             "Content-Length: 10000000\r\n\r\n{\"partial\":"),
                  0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 413);
    ASSERT_STR_CONTAINS(r.head, "\r\nContent-Type: application/json\r\n");
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: close\r\n");
    ASSERT_STR_EQ(r.body, "{\"error\":{\"message\":\"request body of 10000000 bytes exceeds the "
                          "limit of 4096 bytes\",\"type\":\"invalid_request_error\","
                          "\"param\":null,\"code\":\"request_too_large\"}}");
    tresp_free(&r);
    ASSERT(tclosed(&tc));
    tclose(&tc);
    ASSERT_INT_EQ(atomic_load(&t.requests), 0);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_on_head_refuses_before_the_body)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, NULL), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    /* a body announced and never sent: the answer comes anyway */
    ASSERT_INT_EQ(tsend(&tc, "POST /locked HTTP/1.1\r\nHost: a\r\nX-Who: me\r\n"
                             "Content-Length: 1000000\r\n\r\n{\"partial\":"),
                  0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 401);
    ASSERT_STR_CONTAINS(r.head, "\r\nWWW-Authenticate: Bearer\r\n");
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: close\r\n");
    ASSERT_STR_EQ(r.body, "{\"error\":{\"message\":\"no key for you\",\"type\":"
                          "\"invalid_request_error\",\"param\":null,\"code\":\"no_key\"}}");
    tresp_free(&r);
    ASSERT(tclosed(&tc));
    tclose(&tc);
    ASSERT_INT_EQ(atomic_load(&t.requests), 0);

    /* the next connection is not refused, and a tag set on the head is kept:
     * "/tagged" is no route of the test handler, which answers 404 with it */
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /tagged HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_STR_CONTAINS(r.body, "tag=42");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_413_for_chunked_body_past_limit)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;
    int i;

    ASSERT_INT_EQ(tsrv_start(&t, &small_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
    for (i = 0; i < 5; i++) { /* 5 x 1000 bytes > 4096 */
        char chunk[1100];
        memset(chunk, 'x', sizeof chunk);
        memcpy(chunk, "3e8\r\n", 5);
        memcpy(chunk + 1005, "\r\n", 3);
        if (tsend(&tc, chunk))
            break; /* the server may have shut us out already */
    }
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 413);
    ASSERT_STR_CONTAINS(r.body, "\"code\":\"request_too_large\"");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(atomic_load(&t.requests), 0);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_431_for_huge_headers)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;
    char big[3000];

    ASSERT_INT_EQ(tsrv_start(&t, &small_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nHost: a\r\nX-Big: "), 0);
    tsend(&tc, big); /* may fail once the server has answered */
    tsend(&tc, "\r\n\r\n");
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 431);
    ASSERT_STR_CONTAINS(r.head, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    ASSERT_STR_CONTAINS(r.body, "request head exceeds the limit of 1024 bytes");
    tresp_free(&r);
    tclose(&tc);
    /* Too many headers is the same failure. */
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    {
        char many[80 * 8];
        size_t off = 0;
        int i;
        for (i = 0; i < 70; i++)
            off += (size_t)snprintf(many + off, sizeof many - off, "H%d: v\r\n", i);
        ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\n"), 0);
        ASSERT_INT_EQ(tsend(&tc, many), 0);
        tsend(&tc, "\r\n");
    }
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 431);
    ASSERT_STR_CONTAINS(r.body, "more than 64 headers");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_400_for_garbage)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "\x16\x03\x01 this is not HTTP\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 400);
    ASSERT_STR_CONTAINS(r.body, "malformed HTTP request: Invalid method");
    ASSERT_STR_CONTAINS(r.body, "\"type\":\"invalid_request_error\"");
    tresp_free(&r);
    ASSERT(tclosed(&tc));
    tclose(&tc);
    /* A bad request after a good one on the same connection. */
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"
                             "POST /echo HTTP/1.1\r\nContent-Length: zz\r\n\r\n"),
                  0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 200);
    tresp_free(&r);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 400);
    ASSERT_STR_CONTAINS(r.body, "Content-Length");
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

/* The request target in its four forms (RFC 9112 3.2): path and query
 * are split the same way whatever comes before the path. */
TEST(http_server_request_targets_in_every_form)
{
    static const struct {
        const char *line, *body;
    } cases[] = {
        {"GET /echo?x=1#frag HTTP/1.1", "M=GET P=/echo Q=x=1 H=- B="},
        {"GET http://example.com/echo?a=b HTTP/1.1", "M=GET P=/echo Q=a=b H=- B="},
        {"GET http://example.com:8080/echo HTTP/1.1", "M=GET P=/echo Q= H=- B="},
        {"GET http://example.com?q=1 HTTP/1.1", "P=/ Q=q=1"},
        {"GET http://example.com HTTP/1.1", "P=/ Q="},
        {"OPTIONS * HTTP/1.1", "P=* Q="},
        {"CONNECT example.com:443 HTTP/1.1", "P=/ Q="},
    };
    struct tsrv t;
    struct tconn tc;
    struct tresp r;
    char req[200];
    size_t i;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(req, sizeof req, "%s\r\nHost: a\r\n\r\n", cases[i].line);
        ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
        ASSERT_INT_EQ(tsend(&tc, req), 0);
        ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
        if (strstr(cases[i].body, "P=/echo")) {
            ASSERT_INT_EQ(r.status, 200);
            ASSERT_STR_EQ(r.body, cases[i].body);
        } else { /* no /echo route: the 404 names the path and query seen */
            ASSERT_INT_EQ(r.status, 404);
            ASSERT_STR_CONTAINS(r.body, cases[i].body);
        }
        tresp_free(&r);
        tclose(&tc);
    }
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

/* A request whose length could be read two ways is refused, never
 * guessed at: behind a proxy that read it the other way, the rest of the
 * body would be taken for a second request (request smuggling). */
TEST(http_server_refuses_ambiguous_framing)
{
    static const char *const bad[] = {
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"
        "abcde",
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabcd",
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\nabcd",
    };
    struct tsrv t;
    struct tconn tc;
    struct tresp r;
    size_t i;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
        ASSERT_INT_EQ(tsend(&tc, bad[i]), 0);
        ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
        ASSERT_INT_EQ(r.status, 400);
        ASSERT_STR_CONTAINS(r.body, "malformed HTTP request: ");
        ASSERT_INT_EQ((int)atomic_load(&t.requests), 0); /* the handler saw none */
        tresp_free(&r);
        ASSERT(tclosed(&tc));
        tclose(&tc);
    }
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_names_never_fail)
{
    ASSERT_STR_EQ(allot_http_method_name(HTTP_POST), "POST");
    ASSERT_STR_EQ(allot_http_method_name(HTTP_OPTIONS), "OPTIONS");
    ASSERT_STR_EQ(allot_http_method_name(-1), "UNKNOWN");
    ASSERT_STR_EQ(allot_http_method_name(255), "UNKNOWN");
    ASSERT_STR_EQ(allot_http_reason(200), "OK");
    ASSERT_STR_EQ(allot_http_reason(404), "Not Found");
    ASSERT_STR_EQ(allot_http_reason(429), "Too Many Requests");
    ASSERT_STR_EQ(allot_http_reason(599), "Unknown");
    ASSERT_STR_EQ(allot_http_reason(0), "Unknown");
}

TEST(http_server_408_and_idle_close)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &small_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nHost: a\r\n"), 0); /* never finished */
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 408);
    ASSERT_STR_CONTAINS(r.body, "request head not received within 200 ms");
    ASSERT_STR_CONTAINS(r.body, "\"code\":\"request_timeout\"");
    tresp_free(&r);
    ASSERT(tclosed(&tc));
    tclose(&tc);
    /* A keep-alive connection idle past idle_timeout_ms is closed. */
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 200);
    tresp_free(&r);
    ASSERT(tclosed(&tc)); /* within the 3 s receive timeout; idle is 300 ms */
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

/* The connection's deadline is armed lazily (conn.c): a request moves it
 * later without touching the timer, which then fires early and is armed
 * again for the rest. Neither timeout may come early or be lost: with a
 * 200 ms header timeout and a 300 ms idle one, requests 250 ms apart (past
 * the first armed time) are served on one connection, and the idle close
 * still comes, no sooner than 300 ms after the last answer. */
TEST(http_server_deadlines_moved_later_fire_on_time)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;
    uint64_t answered, closed;
    int i;

    ASSERT_INT_EQ(tsrv_start(&t, &small_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    for (i = 0; i < 3; i++) {
        if (i)
            sleep_ms(250);
        ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
        ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
        ASSERT_INT_EQ(r.status, 200);
        tresp_free(&r);
    }
    answered = allot_clock_mono_us();
    ASSERT(tclosed(&tc)); /* within the 3 s receive timeout */
    closed = allot_clock_mono_us();
    ASSERT(closed - answered >= 280 * 1000); /* idle is 300 ms (a little slack for the clocks) */
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_on_abort_when_client_leaves)
{
    struct tsrv t;
    struct tconn tc;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /defer HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT(wait_for(&t.requests, 1, 2000));
    ASSERT_INT_EQ(atomic_load(&t.inflight_seen), 1);
    tclose(&tc);
    ASSERT(wait_for(&t.aborts, 1, 2000));
    /* A half-close after a full request also counts as gone. */
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "POST /defer HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"), 0);
    ASSERT(wait_for(&t.requests, 2, 2000));
    shutdown(tc.fd, SHUT_WR);
    ASSERT(wait_for(&t.aborts, 2, 2000));
    tclose(&tc);
    /* Closing the server aborts what is still in flight. */
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /defer HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT(wait_for(&t.requests, 3, 2000));
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
    ASSERT_INT_EQ(atomic_load(&t.aborts), 3);
    tclose(&tc);
}

TEST(http_server_stop_accepting_drains_in_flight)
{
    struct tsrv t;
    struct tconn busy, idle, reused, late;
    struct tresp r;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&idle, t.port), 0);
    ASSERT_INT_EQ(tsend(&idle, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&idle, &r, 0), 0);
    tresp_free(&r);
    ASSERT_INT_EQ(tconnect(&reused, t.port), 0);
    ASSERT_INT_EQ(tsend(&reused, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&reused, &r, 0), 0);
    tresp_free(&r);
    ASSERT_INT_EQ(tconnect(&busy, t.port), 0);
    ASSERT_INT_EQ(tsend(&busy, "GET /defer?ms=200 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT(wait_for(&t.requests, 3, 2000));
    tsrv_cmd(&t, CMD_STOP_ACCEPTING);
    sleep_ms(50);
    /* idle keep-alive connections stay open: a client may be sending on one */
    ASSERT(topen(&idle));
    /* a request on one is answered, with the connection's end announced */
    ASSERT_INT_EQ(tsend(&reused, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&reused, &r, 0), 0);
    ASSERT_STR_CONTAINS(r.head, " 200 ");
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: close\r\n");
    tresp_free(&r);
    ASSERT(tclosed(&reused));
    ASSERT_INT_EQ(tread(&busy, &r, 0), 0);
    ASSERT_STR_EQ(r.body, "deferred");
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: close\r\n");
    tresp_free(&r);
    ASSERT(tclosed(&busy));
    ASSERT(tconnect(&late, t.port) != 0); /* refused */
    tclose(&late);
    ASSERT(topen(&idle));
    tsrv_cmd(&t, CMD_CLOSE_IDLE);
    ASSERT(tclosed(&idle));
    tclose(&idle);
    tclose(&reused);
    tclose(&busy);
    ASSERT_INT_EQ(atomic_load(&t.aborts), 0);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_large_responses_and_backpressure)
{
    struct tsrv t;
    struct tconn tc;
    struct tresp r;
    size_t i, n = 16u << 20;
    int ok = 1;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    /* 4 MiB at once: more than the kernel takes in one write. */
    ASSERT_INT_EQ(tsend(&tc, "GET /big?n=4194304 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    sleep_ms(50);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.body_len, 4194304);
    for (i = 0; i < r.body_len && ok; i++)
        ok = r.body[i] == pattern[i % sizeof pattern];
    ASSERT(ok);
    tresp_free(&r);
    /* 16 MiB streamed while the client does not read: the server must
     * report the high-water mark, then call on_drain as the client reads. */
    ASSERT_INT_EQ(tsend(&tc, "GET /stream?n=16777216 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT(wait_for(&t.high_water, 1, 2000));
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.body_len, n);
    for (i = 0; i < r.body_len && ok; i++)
        ok = r.body[i] == pattern[i % sizeof pattern];
    ASSERT(ok);
    tresp_free(&r);
    ASSERT(atomic_load(&t.drains) >= 1);
    /* The connection is still good afterwards. */
    ASSERT_INT_EQ(tsend(&tc, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 200);
    tresp_free(&r);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

static void noop_request(struct allot_http_request *req, void *ctx)
{
    (void)ctx;
    allot_http_respond(req, 204, NULL, 0, NULL, 0);
}

TEST(http_server_listen_errors_and_hosts)
{
    struct allot_http_handler h = {noop_request, NULL, NULL, NULL, NULL, NULL};
    struct allot_http_server *a = NULL, *b = NULL;
    struct allot_buf err;
    uv_loop_t loop;
    int port;

    allot_buf_init(&err, 256);
    ASSERT_INT_EQ(uv_loop_init(&loop), 0);
    ASSERT_INT_EQ(allot_http_server_new(&loop, "example.com", 0, NULL, &h, &a, &err), ALLOT_EIO);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "cannot listen on example.com:0: ");
    ASSERT(a == NULL);
    /* Two servers share one port through SO_REUSEPORT. */
    ASSERT_INT_EQ(allot_http_server_new(&loop, "localhost", 0, NULL, &h, &a, &err), 0);
    port = allot_http_server_port(a);
    ASSERT_INT_EQ(allot_http_server_new(&loop, "127.0.0.1", port, NULL, &h, &b, &err), 0);
    ASSERT_INT_EQ(allot_http_server_port(b), port);
    allot_http_server_close(b, NULL, NULL);
    b = NULL;
    if (allot_http_server_new(&loop, "::1", 0, NULL, &h, &b, &err) == 0) /* IPv6 may be off */
        allot_http_server_close(b, NULL, NULL);
    allot_http_server_close(a, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_INT_EQ(uv_loop_close(&loop), 0);
    allot_buf_release(&err);
}

TEST(http_server_abort_cuts_the_response)
{
    struct tsrv t;
    struct tconn tc;
    char want[] = "\r\n\r\n7\r\npartial\r\n", ch;

    ASSERT_INT_EQ(tsrv_start(&t, &default_limits), 0);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /cut HTTP/1.1\r\nHost: a\r\n\r\nGET /echo HTTP/1.1\r\n\r\n"), 0);
    while (tfill(&tc, tc.len + 1) == 0) /* everything until the server closes */
        ;
    ASSERT(recv(tc.fd, &ch, 1, 0) == 0); /* closed, not timed out */
    ASSERT(tc.len > sizeof want);
    ASSERT_STR_CONTAINS(tc.buf, "HTTP/1.1 200 OK\r\n");
    /* The head, one chunk, and then nothing: no last chunk, no 2nd reply. */
    ASSERT_MEM_EQ(tc.buf + tc.len - (sizeof want - 1), sizeof want - 1, want);
    tclose(&tc);
    ASSERT_INT_EQ(tconnect(&tc, t.port), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /drop HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT(tclosed(&tc)); /* no response at all */
    tclose(&tc);
    ASSERT_INT_EQ(atomic_load(&t.requests), 2);
    ASSERT_INT_EQ(atomic_load(&t.aborts), 0); /* abort is not an on_abort */
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

/* ---- connection limit and send timeout -------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One GET /echo on a new connection; the status, or -1. */
static int echo_status(struct tconn *tc, int port)
{
    struct tresp r;
    int status;

    memset(&r, 0, sizeof r);
    if (tconnect(tc, port) || tsend(tc, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n") ||
        tread(tc, &r, 0)) {
        tresp_free(&r);
        return -1;
    }
    status = r.status;
    tresp_free(&r);
    return status;
}

TEST(http_server_max_connections_refuses_with_503)
{
    static const struct allot_http_limits lim = {.max_connections = 2};
    struct tsrv t;
    struct tconn a, b, c, d;
    struct tresp r;
    int status = -1, tries;

    ASSERT_INT_EQ(tsrv_start(&t, &lim), 0);
    ASSERT_INT_EQ(echo_status(&a, t.port), 200);
    ASSERT_INT_EQ(echo_status(&b, t.port), 200); /* both stay open (keep-alive) */
    /* The third is answered 503 at once, without sending a byte, and closed. */
    ASSERT_INT_EQ(tconnect(&c, t.port), 0);
    ASSERT_INT_EQ(tread(&c, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 503);
    ASSERT_STR_CONTAINS(r.head, "\r\nContent-Type: application/json\r\n");
    ASSERT_STR_CONTAINS(r.head, "\r\nConnection: close\r\n");
    ASSERT_STR_CONTAINS(r.body, "\"code\":\"too_many_connections\"");
    ASSERT_STR_CONTAINS(r.body, "\"type\":\"server_error\"");
    ASSERT_STR_CONTAINS(r.body, "limit of 2");
    tresp_free(&r);
    ASSERT(tclosed(&c));
    ASSERT_INT_EQ(atomic_load(&t.requests), 2); /* the handler never saw it */
    /* The open ones still work. */
    ASSERT_INT_EQ(tsend(&b, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_INT_EQ(tread(&b, &r, 0), 0);
    ASSERT_INT_EQ(r.status, 200);
    tresp_free(&r);
    /* Once one closes there is room again (c, still open on our side and
     * lingering on the server's, does not count). */
    tclose(&a);
    for (tries = 0; tries < 100 && status != 200; tries++) {
        status = echo_status(&d, t.port);
        if (status != 200) {
            tclose(&d);
            sleep_ms(20);
        }
    }
    ASSERT_INT_EQ(status, 200);
    tclose(&b);
    tclose(&c);
    tclose(&d);
    ASSERT_INT_EQ(atomic_load(&t.aborts), 0);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}

TEST(http_server_send_timeout_cuts_a_client_that_stops_reading)
{
    static const struct allot_http_limits lim = {.send_timeout_ms = 1000};
    static const char tail[] = "\r\n0\r\n\r\n";
    struct tsrv t;
    struct tconn tc;
    struct tresp r;
    uint64_t t0, waited;
    size_t i;
    int ok = 1;

    ASSERT_INT_EQ(tsrv_start(&t, &lim), 0);
    /* A client that never reads a 16 MiB stream: the queue backs up, the
     * handler pauses at the high-water mark, and after 1 s without
     * progress the connection is closed and the request aborted. */
    ASSERT_INT_EQ(tconnect_rcvbuf(&tc, t.port, 4096), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /stream?n=16777216 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT(wait_for(&t.high_water, 1, 2000));
    t0 = now_ms();
    ASSERT(wait_for(&t.aborts, 1, 4000));
    waited = now_ms() - t0;
    ASSERT(waited >= 700); /* not cut before the deadline */
    ASSERT_INT_EQ(atomic_load(&t.drains), 0);
    /* What was in the kernel arrives, then the end: the response is cut. */
    ASSERT(tread(&tc, &r, 0) < 0);
    tresp_free(&r);
    ASSERT(tc.len < (16u << 20));
    tclose(&tc);

    /* A slow reader that keeps taking bytes (64 KiB per 10 ms) is not cut
     * off, though the whole transfer lasts longer than the send timeout. */
    ASSERT_INT_EQ(tconnect_rcvbuf(&tc, t.port, 131072), 0);
    ASSERT_INT_EQ(tsend(&tc, "GET /stream?n=16777216 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    t0 = now_ms();
    while (ok && !(tc.len >= sizeof tail - 1 &&
                   memcmp(tc.buf + tc.len - (sizeof tail - 1), tail, sizeof tail - 1) == 0)) {
        ssize_t got;
        if (tc.cap - tc.len < 65536) {
            tc.cap = tc.cap * 2 + 65536;
            tc.buf = realloc(tc.buf, tc.cap + 1);
        }
        got = recv(tc.fd, tc.buf + tc.len, 65536, 0);
        ok = got > 0;
        if (ok)
            tc.len += (size_t)got;
        sleep_ms(10);
    }
    ASSERT(ok);
    ASSERT(now_ms() - t0 > 1000); /* longer than one send timeout */
    ASSERT_INT_EQ(tread(&tc, &r, 0), 0);
    ASSERT_INT_EQ(r.body_len, 16777216);
    for (i = 0; i < r.body_len && ok; i++)
        ok = r.body[i] == pattern[i % sizeof pattern];
    ASSERT(ok);
    tresp_free(&r);
    ASSERT_INT_EQ(atomic_load(&t.aborts), 1);
    tclose(&tc);
    ASSERT_INT_EQ(tsrv_stop(&t), 0);
}
