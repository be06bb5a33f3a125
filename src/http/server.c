/* server.c: allot's HTTP/1.1 server on a libuv loop (see http_server.h).
 *
 * The gateway's front door, so the hot path is short: a request that
 * arrives in one read is parsed straight out of a per-server read buffer,
 * its URL and header bytes are copied once into the connection's head
 * buffer (header slices point there), and the response head and body leave
 * in one writev via uv_try_write; only what the kernel does not take is
 * copied into a write request from a per-server freelist. Connection
 * buffers are kept across keep-alive requests (freed when they grew large).
 *
 * Files: server.c the listener and the server's life; conn.c reading,
 * parsing, dispatch and deadlines; respond.c responses and writes;
 * internal.h the structs they share.
 *
 * DESIGN: a connection carries one request at a time; its life is the
 * state machine below (enum conn_state in internal.h, one comment per
 * state). One uv_timer per connection serves every deadline; which one it
 * is follows from the state.
 *
 *   IDLE ----first byte----> READING_HEAD ---head done---> READING_BODY
 *    ^  (idle timer; a fresh        (header timer: 408)       (body-stall
 *    |   connection gets the                                   timer: 408)
 *    |   header timeout)                                          |
 *    |                                                 message complete:
 *    |                                                 parser paused
 *    |                                                            v
 *    +--- writes done, keep-alive --- WRITING <--ended--- HANDLING
 *         (pipelined bytes parsed                (handler owns the request;
 *          next loop iteration)                   reading goes on, so a
 *                                                 client that leaves is seen)
 *
 *   400/408/413/431 from any reading state -> LINGERING: the error response
 *   is written, the write side shut down, input discarded until EOF or a
 *   short timer (so the client is not reset before it reads the error).
 *   Anything -> CLOSING: uv_close on both handles; the connection is freed
 *   in the close callback, which is also where on_abort is called for a
 *   request still in flight. on_abort is therefore never called from
 *   inside a call into this API, nor inside a parser callback.
 *
 * Send deadline: while a response has writes queued (HANDLING, WRITING)
 * the same timer holds the send timeout. It is re-armed when a write
 * request completes; when it fires, bytes that left within a write
 * request (libuv's write queue size shrank) also count as progress, so
 * only a client that took nothing for send_timeout_ms is cut off, without
 * touching the timer on every write.
 *
 * Connection limit: a connection over max_connections is accepted and
 * goes straight to LINGERING with a 503 (see conn_admit).
 *
 * Reading continues while the handler works (unlike pausing at the
 * socket): the bytes of pipelined requests are kept, unparsed, in the
 * connection's read buffer (capped; reading stops when it is full), and
 * EOF from a client that went away aborts the request at once so the
 * gateway can cancel its upstream call. When a response ends and bytes
 * are waiting, the connection goes on a per-server resume list drained by
 * a uv_idle handle, so the handler is never re-entered from inside its
 * own call to allot_http_respond (which matters for handlers that run
 * inside libcurl callbacks). Responses leave in request order because the
 * next request is not parsed until the previous response's writes end. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "allot/error.h"
#include "allot/log.h"
#include "http/internal.h"

/* Start serving a new connection c, or refuse it when max_connections
 * others are open: a 503 too_many_connections, then close. Refused ones
 * linger (so the client reads the 503, not a reset) up to
 * REFUSED_LINGER_MAX at a time; past that they are closed at once, so a
 * flood cannot pile up file descriptors. */
static void conn_admit(struct allot_http_conn *c)
{
    struct allot_http_server *s = c->server;
    size_t max = s->limits.max_connections;
    char msg[120];

    if (max == 0 || s->n_conns - 1 - s->n_refused < max) {
        allot__http_conn_start(c);
        return;
    }
    c->refused = 1;
    s->n_refused++;
    snprintf(msg, sizeof msg,
             "too many connections: the server is at its limit of %zu; retry later", max);
    allot__http_conn_fail(c, 503, msg);
    if (s->n_refused > REFUSED_LINGER_MAX)
        allot__http_conn_close(c);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct allot_http_server *s = l->data;
    struct allot_http_conn *c;

    if (status < 0) {
        allot_log_warn("http: accepting on port %d: %s", s->port, uv_strerror(status));
        return;
    }
    c = allot__http_conn_new(s);
    if (!c) {
        /* Not accepting makes libuv stop polling the listener. */
        allot_log_error("http: out of memory accepting on port %d; listener paused", s->port);
        return;
    }
    if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
        allot__http_conn_close(c);
        return;
    }
    (void)uv_tcp_nodelay(&c->tcp, 1);
    conn_admit(c);
}

int allot__http_server_adopt(struct allot_http_server *s, int fd)
{
    struct allot_http_conn *c = allot__http_conn_new(s);

    if (!c) {
        close(fd);
        return ALLOT_ENOMEM;
    }
    if (uv_tcp_open(&c->tcp, fd)) {
        close(fd);
        allot__http_conn_close(c);
        return ALLOT_EIO;
    }
    conn_admit(c);
    return 0;
}

size_t allot__http_server_n_conns(const struct allot_http_server *s)
{
    return s->n_conns;
}

static void server_maybe_free(struct allot_http_server *s)
{
    void (*done_cb)(void *) = s->done_cb;
    void *arg = s->done_arg;

    if (!s->closing || s->n_handles)
        return;
    allot__http_server_release_writes(s);
    free(s);
    if (done_cb)
        done_cb(arg);
}

void allot__http_server_conn_freed(struct allot_http_server *s)
{
    s->n_handles--;
    server_maybe_free(s);
}

static void server_handle_closed(uv_handle_t *h)
{
    struct allot_http_server *s = h->data;
    s->n_handles--;
    server_maybe_free(s);
}

/* host: an IPv4 or IPv6 literal (brackets allowed), or "localhost". */
static int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    char h6[INET6_ADDRSTRLEN + 2];
    size_t n;

    memset(ss, 0, sizeof *ss);
    if (!host)
        return -1;
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof *in4;
        return 0;
    }
    n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof h6) {
        memcpy(h6, host + 1, n - 2);
        h6[n - 2] = '\0';
        host = h6;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -1;
}

/* socket, SO_REUSEADDR + SO_REUSEPORT, bind, listen: libuv 1.44 has no
 * UV_TCP_REUSEPORT. Returns the fd, or -1 with *why set. */
static int listen_socket(const struct sockaddr_storage *ss, socklen_t len, int *port,
                         const char **why)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_storage ss;
    } bound;
    socklen_t blen = sizeof bound;
    int fd, one = 1, e;

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 511) ||
        getsockname(fd, &bound.sa, &blen))
        goto fail;
    *port = ntohs(bound.sa.sa_family == AF_INET6 ? bound.in6.sin6_port : bound.in4.sin_port);
    return fd;
fail:
    e = errno;
    if (fd >= 0)
        close(fd);
    *why = uv_strerror(uv_translate_sys_error(e));
    return -1;
}

static void limits_or_defaults(struct allot_http_limits *l, const struct allot_http_limits *in)
{
    if (in)
        *l = *in;
    else
        memset(l, 0, sizeof *l);
    if (l->max_header_bytes == 0)
        l->max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    if (l->max_body_bytes == 0)
        l->max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    if (l->header_timeout_ms <= 0)
        l->header_timeout_ms = DEFAULT_HEADER_TIMEOUT_MS;
    if (l->idle_timeout_ms <= 0)
        l->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
    if (l->send_timeout_ms <= 0)
        l->send_timeout_ms = DEFAULT_SEND_TIMEOUT_MS;
}

int allot_http_server_new(uv_loop_t *loop, const char *host, int port,
                          const struct allot_http_limits *limits,
                          const struct allot_http_handler *handler, struct allot_http_server **out,
                          struct allot_buf *err)
{
    struct allot_http_server *s = NULL;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    const char *why = NULL;
    int fd = -1, bound_port = 0, rc = ALLOT_EIO, r;

    if (!handler || !handler->on_request) {
        why = "no request handler";
        rc = ALLOT_EINVAL;
        goto out;
    }
    if (port < 0 || port > 65535) {
        why = "port out of range";
        goto out;
    }
    if (parse_addr(host, port, &ss, &len)) {
        why = "not an IP address literal or localhost";
        goto out;
    }
    fd = listen_socket(&ss, len, &bound_port, &why);
    if (fd < 0)
        goto out;
    s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        why = "out of memory";
        rc = ALLOT_ENOMEM;
        goto out;
    }
    s->loop = loop;
    s->port = bound_port;
    s->handler = *handler;
    limits_or_defaults(&s->limits, limits);
    allot_buf_init(&s->scratch, RESPONSE_MAX);
    s->date_sec = (time_t)-1;
    uv_idle_init(loop, &s->resume_idle);
    s->resume_idle.data = s;
    s->n_handles = 1;
    r = uv_tcp_init(loop, &s->listener);
    if (r == 0) {
        s->listener.data = s;
        s->n_handles++;
        s->listening = 1;
        r = uv_tcp_open(&s->listener, fd);
        if (r)
            close(fd);
        else
            r = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    } else {
        close(fd);
    }
    if (r) {
        why = uv_strerror(r);
        allot_http_server_close(s, NULL, NULL); /* freed once the loop runs */
        goto out;
    }
    *out = s;
    rc = 0;
out:
    if (rc && err) {
        int v6 = host && strchr(host, ':') && host[0] != '[';
        allot_buf_addf(err, "cannot listen on %s%s%s:%d: %s", v6 ? "[" : "", host ? host : "(null)",
                       v6 ? "]" : "", port, why);
    }
    return rc;
}

int allot_http_server_port(const struct allot_http_server *s)
{
    return s->port;
}

/* Take every connection the kernel has completed on the listener: they
 * would be reset when it closes. libuv accepts in a loop until EAGAIN when
 * the listener is readable, so none is held between loop iterations. */
static void accept_backlog(struct allot_http_server *s)
{
    uv_os_fd_t lfd;
    int one = 1;

    if (uv_fileno((uv_handle_t *)&s->listener, &lfd) != 0)
        return;
    /* libuv keeps it non-blocking; a blocking accept here would hang the loop */
    if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK) != 0)
        return;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0)
            return; /* EAGAIN: none left (or an error the close makes moot) */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (allot__http_server_adopt(s, fd) != 0)
            return;
    }
}

void allot_http_server_stop_accepting(struct allot_http_server *s)
{
    s->stopping = 1;
    if (s->listening) {
        accept_backlog(s);
        s->listening = 0;
        uv_close((uv_handle_t *)&s->listener, server_handle_closed);
    }
}

void allot_http_server_close_idle(struct allot_http_server *s)
{
    struct allot_http_conn *c;

    /* allot__http_conn_close frees nothing now, so walking the list is safe. */
    for (c = s->conns; c; c = c->next)
        if (c->state == CONN_IDLE && c->rbuf.len == 0)
            allot__http_conn_close(c);
}

size_t allot_http_server_inflight(const struct allot_http_server *s)
{
    return s->inflight;
}

void allot_http_server_close(struct allot_http_server *s, void (*done_cb)(void *arg), void *arg)
{
    struct allot_http_conn *c;

    if (s->closing)
        return;
    s->closing = 1;
    s->stopping = 1;
    s->done_cb = done_cb;
    s->done_arg = arg;
    if (s->listening) {
        s->listening = 0;
        uv_close((uv_handle_t *)&s->listener, server_handle_closed);
    }
    uv_close((uv_handle_t *)&s->resume_idle, server_handle_closed);
    for (c = s->conns; c; c = c->next)
        allot__http_conn_close(c);
}

struct allot_slice allot_http_request_header(const struct allot_http_request *req, const char *name)
{
    size_t i;
    for (i = 0; i < req->n_headers; i++)
        if (allot_slice_ieq(req->headers[i].name, name))
            return req->headers[i].value;
    return allot_slice_of(NULL, 0);
}
