/* conn.c: one HTTP connection: reading, parsing, dispatch and deadlines.
 *
 * Bytes are parsed straight out of the server's shared read buffer when
 * nothing waits in the connection's own buffer (rbuf), which only holds
 * the bytes of pipelined requests while one is with the handler. The URL
 * and header bytes are copied once into the per-request head buffer (a
 * header split across reads accumulates there), and the header slices
 * handed to the handler point into it. on_message_complete pauses the
 * parser, so one request at a time reaches the handler; the state machine
 * is described in server.c (enum conn_state in internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/log.h"
#include "http/internal.h"

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void on_resume(uv_idle_t *h);

/* ---- small helpers ----------------------------------------------------- */

/* Forget a buffer's content; free it when a big request made it large. */
static void buf_recycle(struct allot_buf *b)
{
    if (b->cap > KEEP_BUF_MAX)
        allot_buf_release(b);
    else
        allot_buf_reset(b);
}

static void timer_cb(uv_timer_t *t);

/* Set the connection's deadline ms from now; ms <= 0: no deadline. Armed
 * lazily (deadline.h): a keep-alive request makes no timer call. */
void allot__http_conn_timer_set(struct allot_http_conn *c, long ms)
{
    if (ms <= 0)
        allot_deadline_clear(&c->deadline);
    else
        allot_deadline_set(&c->deadline, &c->timer, timer_cb,
                           uv_now(c->server->loop) + (uint64_t)ms);
}

static void fail_set(struct allot_http_conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record why a parser callback refused; acted upon after execute returns. */
static void fail_set(struct allot_http_conn *c, int status, const char *fmt, ...)
{
    va_list ap;
    c->fail_status = status;
    va_start(ap, fmt);
    vsnprintf(c->fail_msg, sizeof c->fail_msg, fmt, ap);
    va_end(ap);
}

/* ---- the connection's request ------------------------------------------ */

static void request_reset(struct allot_http_conn *c)
{
    struct allot_http_request *r = &c->req;

    buf_recycle(&c->head);
    buf_recycle(&r->body);
    c->url_len = 0;
    c->last_cb = CB_NONE;
    c->fail_status = 0;
    c->http10 = c->is_head = c->no_body = 0;
    c->chunked_resp = c->raw_resp = c->want_drain = c->cut = 0;
    r->method = 0;
    r->path = allot_slice_of("", 0);
    r->query = allot_slice_of("", 0);
    r->n_headers = 0;
    r->keep_alive = 0;
    r->start_us = 0;
    r->user = NULL;
}

/* Value of a header by name while the head is still being parsed. */
static struct allot_slice span_header(const struct allot_http_conn *c, const char *name)
{
    size_t i;
    for (i = 0; i < c->req.n_headers; i++) {
        struct allot_slice n = {c->head.ptr + c->name_off[i], c->req.headers[i].name.len};
        if (allot_slice_ieq(n, name))
            return allot_slice_of(c->head.ptr + c->value_off[i], c->req.headers[i].value.len);
    }
    return allot_slice_of(NULL, 0);
}

struct allot_slice allot__http_cors_origin(const struct allot_http_conn *c)
{
    const struct allot_http_limits *l = &c->server->limits;
    struct allot_slice o;
    size_t i;

    if (!l->n_cors_origins || !c->head_done)
        return allot_slice_of(NULL, 0);
    o = span_header(c, "origin");
    for (i = 0; o.len && i < l->n_cors_origins; i++) {
        const char *a = l->cors_origins[i];
        /* "*" is any page, but not the opaque origin "null" (a local
         * file, a sandboxed frame): config refuses to list it */
        if (allot_slice_eq(o, a) || (!strcmp(a, "*") && !allot_slice_eq(o, "null")))
            return o;
    }
    return allot_slice_of(NULL, 0);
}

/* Point path, query and the header slices into the head buffer, which no
 * longer moves: it is not appended to until the request ends. */
static void request_fix_slices(struct allot_http_conn *c)
{
    struct allot_http_request *r = &c->req;
    const char *u = allot_buf_cstr(&c->head);
    size_t n = c->url_len, i, end;
    const char *q, *h;

    for (i = 0; i < r->n_headers; i++) {
        r->headers[i].name.ptr = u + c->name_off[i];
        r->headers[i].value.ptr = u + c->value_off[i];
    }
    if (n && u[0] != '/' && !(n == 1 && u[0] == '*')) {
        /* absolute-form (http://host/path?q) or authority-form (host:port,
         * CONNECT): what follows the authority is split as origin-form,
         * and no path at all is "/" */
        const char *sep = memmem(u, n, "://", 3);
        size_t from = n;
        for (i = sep ? (size_t)(sep - u) + 3 : n; i < n; i++)
            if (u[i] == '/' || u[i] == '?' || u[i] == '#') {
                from = i;
                break;
            }
        u += from;
        n -= from;
    }
    h = memchr(u, '#', n);
    end = h ? (size_t)(h - u) : n;
    q = memchr(u, '?', end);
    r->path = allot_slice_of(u, q ? (size_t)(q - u) : end);
    r->query = q ? allot_slice_of(q + 1, end - (size_t)(q - u) - 1) : allot_slice_of(u + end, 0);
    if (!r->path.len)
        r->path = ALLOT_SLICE_LIT("/");
}

/* ---- parser callbacks -------------------------------------------------- */

static int on_message_begin(llhttp_t *p)
{
    struct allot_http_conn *c = p->data;
    c->state = CONN_READING_HEAD;
    c->head_done = 0;
    c->req.start_us = allot_clock_mono_us();
    c->req.tag = 0;
    c->fail_code = NULL;
    c->fail_extra.name.ptr = NULL;
    allot__http_conn_timer_set(c, c->server->limits.header_timeout_ms);
    return 0;
}

static int head_add(struct allot_http_conn *c, const char *at, size_t n)
{
    int rc = allot_buf_add(&c->head, at, n);
    if (rc == ALLOT_ETOOBIG)
        fail_set(c, 431, "request head exceeds the limit of %zu bytes", c->head.max);
    else if (rc)
        fail_set(c, 503, "out of memory reading the request head");
    return rc ? -1 : 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct allot_http_conn *c = p->data;
    if (head_add(c, at, n))
        return -1;
    c->url_len += n;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct allot_http_conn *c = p->data;
    struct allot_http_request *r = &c->req;

    if (c->state != CONN_READING_HEAD)
        return 0; /* trailers of a chunked body are dropped */
    if (c->last_cb != CB_FIELD) {
        size_t i = r->n_headers;
        if (i == ALLOT_HTTP_MAX_HEADERS) {
            fail_set(c, 431, "request has more than %d headers", ALLOT_HTTP_MAX_HEADERS);
            return -1;
        }
        r->n_headers++;
        c->name_off[i] = c->value_off[i] = c->head.len;
        r->headers[i].name = r->headers[i].value = allot_slice_of(NULL, 0);
        c->last_cb = CB_FIELD;
    }
    if (head_add(c, at, n))
        return -1;
    r->headers[r->n_headers - 1].name.len += n;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct allot_http_conn *c = p->data;
    struct allot_http_request *r = &c->req;

    if (c->state != CONN_READING_HEAD || r->n_headers == 0)
        return 0;
    if (c->last_cb != CB_VALUE) {
        c->value_off[r->n_headers - 1] = c->head.len;
        c->last_cb = CB_VALUE;
    }
    if (head_add(c, at, n))
        return -1;
    r->headers[r->n_headers - 1].value.len += n;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct allot_http_conn *c = p->data;
    struct allot_http_server *s = c->server;
    int has_length = (p->flags & F_CONTENT_LENGTH) != 0;
    int has_body = (p->flags & F_CHUNKED) || (has_length && p->content_length > 0);

    c->state = CONN_READING_BODY;
    c->head_done = 1;
    c->req.method = (int)p->method;
    c->req.keep_alive = llhttp_should_keep_alive(p);
    c->is_head = p->method == HTTP_HEAD;
    c->http10 = p->http_major < 1 || (p->http_major == 1 && p->http_minor == 0);
    /* a browser's CORS preflight carries no credentials: answered here,
     * before on_head could refuse it for want of a client key */
    c->preflight = 0;
    if (s->limits.n_cors_origins && p->method == HTTP_OPTIONS && span_header(c, "origin").ptr &&
        span_header(c, "access-control-request-method").ptr)
        c->preflight = 1;
    if (s->handler.on_head && !c->preflight) {
        struct allot_http_refusal r;
        memset(&r, 0, sizeof r);
        request_fix_slices(c);
        s->handler.on_head(&c->req, s->handler.ctx, &r);
        if (r.status) { /* before the body, before any 413 or 100 Continue */
            fail_set(c, r.status, "%s", r.message);
            c->fail_code = r.code;
            c->fail_extra = r.extra;
            return -1;
        }
    }
    if (has_length && p->content_length > s->limits.max_body_bytes) {
        fail_set(c, 413, "request body of %llu bytes exceeds the limit of %zu bytes",
                 (unsigned long long)p->content_length, s->limits.max_body_bytes);
        return -1;
    }
    if (has_length && p->content_length > 0)
        (void)allot_buf_reserve(&c->req.body, p->content_length < BODY_PREALLOC_MAX
                                                  ? (size_t)p->content_length
                                                  : BODY_PREALLOC_MAX);
    if (has_body && !c->http10 && allot_slice_ieq(span_header(c, "expect"), "100-continue")) {
        uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
        if (allot__http_conn_write(c, &b, 1))
            return -1; /* closing */
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct allot_http_conn *c = p->data;
    int rc = allot_buf_add(&c->req.body, at, n);
    if (rc == ALLOT_ETOOBIG)
        fail_set(c, 413, "request body exceeds the limit of %zu bytes", c->req.body.max);
    else if (rc)
        fail_set(c, 503, "out of memory reading the request body");
    return rc ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED; /* one request at a time: execute returns here */
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- parse and dispatch ------------------------------------------------ */

static void dispatch(struct allot_http_conn *c)
{
    struct allot_http_server *s = c->server;

    if (!c->req.body.ptr)
        (void)allot_buf_add(&c->req.body, "", 0); /* body.ptr is never NULL */
    request_fix_slices(c);
    c->state = CONN_HANDLING;
    c->req_live = 1;
    s->inflight++;
    if (c->n_writes) /* a 100 Continue still queued */
        allot__http_send_deadline(c);
    else
        allot__http_conn_timer_set(c, 0);
    c->in_dispatch = 1;
    if (c->preflight)
        allot__http_preflight(c);
    else
        s->handler.on_request(&c->req, s->handler.ctx);
    c->in_dispatch = 0;
}

/* reason: llhttp's words for what it refused, or NULL. */
static void parse_failed(struct allot_http_conn *c, const char *reason)
{
    char msg[200];

    if (c->closing)
        return;
    if (c->fail_status) {
        allot__http_conn_fail(c, c->fail_status, c->fail_msg);
    } else {
        snprintf(msg, sizeof msg, "malformed HTTP request: %s",
                 reason && *reason ? reason : "no progress");
        allot__http_conn_fail(c, 400, msg);
    }
}

static int conn_parsing(const struct allot_http_conn *c)
{
    return c->state == CONN_IDLE || c->state == CONN_READING_HEAD || c->state == CONN_READING_BODY;
}

/* Parse data and hand complete requests to the handler, for as long as
 * each response ends within on_request. Returns the bytes consumed: fewer
 * than len when a request is with the handler (the rest waits). */
static size_t conn_parse(struct allot_http_conn *c, const char *data, size_t len)
{
    size_t off = 0, n;
    llhttp_errno_t e;

    while (off < len && conn_parsing(c)) {
        e = llhttp_execute(&c->parser, data + off, len - off);
        /* paused or refused: the error position is where parsing stopped */
        n = e == HPE_OK ? len - off : (size_t)(llhttp_get_error_pos(&c->parser) - (data + off));
        off += n;
        if (e == HPE_PAUSED) {
            llhttp_resume(&c->parser);
            dispatch(c);
        } else if (e != HPE_OK) {
            parse_failed(c, llhttp_get_error_reason(&c->parser));
            return len;
        } else if (n == 0) {
            parse_failed(c, NULL); /* no progress: never loop */
            return len;
        }
    }
    return off;
}

/* Parse what waits in rbuf; from the resume idle handle only. */
static void conn_resume(struct allot_http_conn *c)
{
    size_t used;

    if (c->closing || c->state != CONN_IDLE)
        return;
    used = c->rbuf.len ? conn_parse(c, c->rbuf.ptr, c->rbuf.len) : 0;
    if (c->closing || c->state == CONN_LINGERING)
        return;
    if (used) {
        memmove(c->rbuf.ptr, c->rbuf.ptr + used, c->rbuf.len - used);
        c->rbuf.len -= used;
        c->rbuf.ptr[c->rbuf.len] = '\0';
    }
    if (c->state == CONN_READING_BODY)
        allot__http_conn_timer_set(c, c->server->limits.idle_timeout_ms);
    if (c->rbuf.len == 0)
        buf_recycle(&c->rbuf);
    if (c->rbuf.len < RBUF_MAX)
        allot__http_conn_read_start(c);
}

static void resume_enqueue(struct allot_http_conn *c)
{
    struct allot_http_server *s = c->server;
    if (c->resume_queued)
        return;
    c->resume_queued = 1;
    c->resume_next = NULL;
    if (s->resume_tail)
        s->resume_tail->resume_next = c;
    else
        s->resume_head = c;
    s->resume_tail = c;
    uv_idle_start(&s->resume_idle, on_resume);
}

static void on_resume(uv_idle_t *h)
{
    struct allot_http_server *s = h->data;
    struct allot_http_conn *c, *list = s->resume_head;

    /* Connections queued while these run wait for the next iteration.
     * None is freed meanwhile: frees happen in close callbacks. */
    s->resume_head = s->resume_tail = NULL;
    while (list) {
        c = list;
        list = c->resume_next;
        c->resume_next = NULL;
        c->resume_queued = 0;
        conn_resume(c);
    }
    if (!s->resume_head)
        uv_idle_stop(h);
}

static void resume_remove(struct allot_http_conn *c)
{
    struct allot_http_server *s = c->server;
    struct allot_http_conn **pp = &s->resume_head, *prev = NULL;

    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->resume_next;
    }
    if (*pp) {
        *pp = c->resume_next;
        if (s->resume_tail == c)
            s->resume_tail = prev;
    }
    c->resume_queued = 0;
}

/* ---- ending a request -------------------------------------------------- */

/* The response's writes are done: close, or wait for the next request. */
void allot__http_response_done(struct allot_http_conn *c)
{
    struct allot_http_server *s = c->server;

    if (!c->req.keep_alive || c->raw_resp || c->peer_eof || s->stopping) {
        allot__http_conn_close(c);
        return;
    }
    request_reset(c);
    c->state = CONN_IDLE;
    allot__http_conn_timer_set(c, s->limits.idle_timeout_ms);
    /* Inside on_request the parse loop goes on by itself; elsewhere the
     * caller may be the handler, which must not be re-entered. */
    if (c->rbuf.len && !c->in_dispatch)
        resume_enqueue(c);
}

static void timer_cb(uv_timer_t *t)
{
    struct allot_http_conn *c = t->data;
    const struct allot_http_limits *l = &c->server->limits;
    char msg[120];

    if (!allot_deadline_due(&c->deadline, t, timer_cb)) /* none, or moved later */
        return;

    switch (c->state) {
    case CONN_READING_HEAD:
        snprintf(msg, sizeof msg, "request head not received within %ld ms", l->header_timeout_ms);
        allot__http_conn_fail(c, 408, msg);
        break;
    case CONN_READING_BODY:
        snprintf(msg, sizeof msg, "request body stalled for %ld ms", l->idle_timeout_ms);
        allot__http_conn_fail(c, 408, msg);
        break;
    case CONN_WRITING:
        if (c->cut) { /* allot_http_abort: the flush is over */
            allot__http_conn_close(c);
            break;
        }
        /* fall through */
    case CONN_HANDLING: /* armed only as the send deadline */
        if (c->n_writes == 0 || allot__http_send_progressed(c))
            break;
        allot_log_warn("http: closing a connection whose client took no response bytes for %ld ms",
                       l->send_timeout_ms);
        allot__http_conn_close(c); /* a request with the handler gets on_abort */
        break;
    default: /* IDLE (silent close), LINGERING */
        allot__http_conn_close(c);
        break;
    }
}

/* ---- reading ----------------------------------------------------------- */

/* Bytes go to the per-server buffer unless some already wait in rbuf, in
 * which case they are appended there, in order. */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct allot_http_conn *c = h->data;
    size_t room = RBUF_MAX - c->rbuf.len;

    (void)suggested;
    if (c->rbuf.len == 0) {
        *buf = uv_buf_init(c->server->read_buf, READ_BUF_SIZE);
        return;
    }
    if (room > RBUF_READ_STEP)
        room = RBUF_READ_STEP;
    if (room == 0 || allot_buf_reserve(&c->rbuf, room)) {
        *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init(c->rbuf.ptr + c->rbuf.len, (unsigned)room);
}

void allot__http_conn_read_start(struct allot_http_conn *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb))
        allot__http_conn_close(c);
    else
        c->reading = 1;
}

static void read_stop(struct allot_http_conn *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct allot_http_conn *c = st->data;
    struct allot_http_server *s = c->server;
    size_t n = (size_t)nread, used;

    if (nread < 0) {
        if (nread == UV_ENOBUFS) {
            read_stop(c);
            return;
        }
        c->reading = 0; /* libuv stopped reading */
        if (nread == UV_EOF && c->state == CONN_WRITING)
            c->peer_eof = 1; /* a half-close: finish writing, then close */
        else
            allot__http_conn_close(c); /* a request with the handler gets on_abort */
        return;
    }
    if (nread == 0 || c->closing || c->state == CONN_LINGERING)
        return;
    if (buf->base != s->read_buf) { /* appended in place to rbuf */
        c->rbuf.len += n;
        c->rbuf.ptr[c->rbuf.len] = '\0';
        if (conn_parsing(c))
            resume_enqueue(c);
    } else if (!conn_parsing(c) || c->resume_queued) {
        if (allot_buf_add(&c->rbuf, buf->base, n)) {
            allot__http_conn_close(c);
            return;
        }
    } else {
        used = conn_parse(c, buf->base, n);
        if (c->closing || c->state == CONN_LINGERING)
            return;
        if (used < n && allot_buf_add(&c->rbuf, buf->base + used, n - used)) {
            allot__http_conn_close(c);
            return;
        }
        if (c->state == CONN_READING_BODY)
            allot__http_conn_timer_set(c, s->limits.idle_timeout_ms);
    }
    if (c->rbuf.len >= RBUF_MAX)
        read_stop(c);
}

/* ---- connections ------------------------------------------------------- */

struct allot_http_conn *allot__http_conn_new(struct allot_http_server *s)
{
    struct allot_http_conn *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    if (uv_tcp_init(s->loop, &c->tcp)) {
        free(c);
        return NULL;
    }
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->server = s;
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    allot_buf_init(&c->rbuf, RBUF_MAX);
    allot_buf_init(&c->head, s->limits.max_header_bytes);
    allot_buf_init(&c->req.body, s->limits.max_body_bytes);
    c->req.conn = c;
    request_reset(c);
    c->state = CONN_IDLE;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    s->n_handles++;
    return c;
}

/* A fresh connection: the first request gets the header timeout from now
 * (closed silently if it sends nothing). */
void allot__http_conn_start(struct allot_http_conn *c)
{
    allot__http_conn_timer_set(c, c->server->limits.header_timeout_ms);
    allot__http_conn_read_start(c);
}

static void conn_free(struct allot_http_conn *c)
{
    struct allot_http_server *s = c->server;

    if (c->refused)
        s->n_refused--;
    if (c->req_live) {
        c->req_live = 0;
        s->inflight--;
        if (s->handler.on_abort)
            s->handler.on_abort(&c->req, s->handler.ctx);
    }
    if (c->resume_queued)
        resume_remove(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    allot_buf_release(&c->rbuf);
    allot_buf_release(&c->head);
    allot_buf_release(&c->req.body);
    free(c);
    allot__http_server_conn_freed(s);
}

static void conn_handle_closed(uv_handle_t *h)
{
    struct allot_http_conn *c = h->data;
    if (--c->handles_open == 0)
        conn_free(c);
}

void allot__http_conn_close(struct allot_http_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->state = CONN_CLOSING;
    c->reading = 0;
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}
