/* respond.c: HTTP responses: heads, bodies, chunks and server errors.
 *
 * A response head is built in the server's scratch buffer and leaves with
 * its body in one writev (uv_try_write) straight from the caller's memory;
 * only what the kernel does not take at once is copied into a write
 * request, taken from a small per-server freelist. Bytes always leave in
 * call order: uv_try_write refuses while anything is queued. Errors the
 * server answers itself (400/408/413/431/503) close the connection after a
 * short lingering read, so the client sees the error rather than a reset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "allot/error.h"
#include "allot/fmt.h"
#include "allot/log.h"
#include "http/internal.h"

/* The Date header value, formatted once per second per server. Spelled out
 * by hand: strftime's names follow the locale. */
static const char *server_date(struct allot_http_server *s)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;

    if (now != s->date_sec && gmtime_r(&now, &tm)) {
        snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->date_sec = now;
    }
    return s->date;
}

/* ---- write requests ---------------------------------------------------- */

static struct wreq *wreq_get(struct allot_http_server *s)
{
    struct wreq *w = s->free_wreqs;
    if (w) {
        s->free_wreqs = w->next;
        s->n_free_wreqs--;
        return w;
    }
    w = malloc(sizeof *w);
    if (w)
        allot_buf_init(&w->data, RESPONSE_MAX);
    return w;
}

static void wreq_put(struct allot_http_server *s, struct wreq *w)
{
    if (s->n_free_wreqs >= FREE_WREQS_MAX) {
        allot_buf_release(&w->data);
        free(w);
        return;
    }
    if (w->data.cap > WREQ_KEEP_MAX)
        allot_buf_release(&w->data);
    else
        allot_buf_reset(&w->data);
    w->next = s->free_wreqs;
    s->free_wreqs = w;
    s->n_free_wreqs++;
}

/* ---- the send deadline ------------------------------------------------- */

/* Queued bytes that have left so far; libuv shrinks the write queue size
 * as a write request is partly written, so this moves on every byte. */
static uint64_t bytes_sent(struct allot_http_conn *c)
{
    return c->wq_added - uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

/* The send deadline applies while a response is being written; the
 * reading states have their own deadlines, LINGERING and a cut response
 * a short fixed one. */
static int send_deadline_applies(const struct allot_http_conn *c)
{
    return c->state == CONN_HANDLING || (c->state == CONN_WRITING && !c->cut);
}

void allot__http_send_deadline(struct allot_http_conn *c)
{
    c->sent_mark = bytes_sent(c);
    allot__http_conn_timer_set(c, c->server->limits.send_timeout_ms);
}

int allot__http_send_progressed(struct allot_http_conn *c)
{
    if (bytes_sent(c) == c->sent_mark)
        return 0;
    allot__http_send_deadline(c);
    return 1;
}

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct allot_http_conn *c = w->conn;
    struct allot_http_server *s = c->server;

    c->n_writes--;
    wreq_put(s, w);
    if (c->closing)
        return; /* UV_ECANCELED from uv_close */
    if (status < 0) {
        allot__http_conn_close(c);
        return;
    }
    /* A write finished: progress. With none left while the handler still
     * works, no deadline runs until it writes again. */
    if (c->n_writes && send_deadline_applies(c))
        allot__http_send_deadline(c);
    else if (c->n_writes == 0 && c->state == CONN_HANDLING)
        allot__http_conn_timer_set(c, 0);
    if (c->want_drain && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < WRITE_LOW_WATER) {
        c->want_drain = 0;
        if (c->req_live && s->handler.on_drain)
            s->handler.on_drain(&c->req, s->handler.ctx);
        if (c->closing)
            return;
    }
    if (c->n_writes == 0 && c->state == CONN_WRITING)
        allot__http_response_done(c);
}

/* Send bufs in order after anything already queued: straight from the
 * caller's memory when the kernel takes it all, else the rest is copied.
 * Returns 0, or ALLOT_EIO / ALLOT_ENOMEM with the connection closing. */
int allot__http_conn_write(struct allot_http_conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
    struct allot_http_server *s = c->server;
    size_t total = 0, skip;
    struct wreq *w;
    uv_buf_t b;
    unsigned i;
    int r, rc = 0;

    if (c->closing)
        return ALLOT_EIO;
    for (i = 0; i < nbufs; i++)
        total += bufs[i].len;
    r = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
    if (r == UV_EAGAIN || r == UV_ENOSYS) {
        r = 0;
    } else if (r < 0) {
        allot__http_conn_close(c);
        return ALLOT_EIO;
    }
    if ((size_t)r == total)
        return 0;
    skip = (size_t)r;
    w = wreq_get(s);
    if (!w) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (i = 0; i < nbufs && rc == 0; i++) {
        if (skip >= bufs[i].len) {
            skip -= bufs[i].len;
            continue;
        }
        rc = allot_buf_add(&w->data, bufs[i].base + skip, bufs[i].len - skip);
        skip = 0;
    }
    if (rc == 0) {
        w->conn = c;
        b = uv_buf_init(w->data.ptr, (unsigned)w->data.len);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) == 0) {
            c->wq_added += w->data.len;
            if (c->n_writes++ == 0 && send_deadline_applies(c))
                allot__http_send_deadline(c);
        } else {
            rc = ALLOT_EIO;
        }
    }
    if (rc)
        wreq_put(s, w);
out:
    if (rc)
        allot__http_conn_close(c);
    return rc;
}

void allot__http_server_release_writes(struct allot_http_server *s)
{
    struct wreq *w;
    while ((w = s->free_wreqs)) {
        s->free_wreqs = w->next;
        allot_buf_release(&w->data);
        free(w);
    }
    s->n_free_wreqs = 0;
    allot_buf_release(&s->scratch);
}

/* ---- response heads ---------------------------------------------------- */

enum framing { FRAME_LENGTH, FRAME_CHUNKED, FRAME_NONE };

/* Headers the server writes itself; a handler's copy would break framing. */
static int header_reserved(struct allot_slice name)
{
    if ((name.ptr[0] | 0x20) != 'c' && (name.ptr[0] | 0x20) != 'd' && (name.ptr[0] | 0x20) != 't')
        return 0; /* most names (x-allot-...): no string compare */
    switch (name.len) {
    case 4:
        return allot_slice_ieq(name, "date");
    case 10:
        return allot_slice_ieq(name, "connection");
    case 14:
        return allot_slice_ieq(name, "content-length");
    case 17:
        return allot_slice_ieq(name, "transfer-encoding");
    default:
        return 0;
    }
}

/* Does the header line p[0..n), "name: value" with the name's length
 * name_len, hold CR or LF, or a colon in the name? p must be followed by
 * at least 15 more readable bytes (HEAD_SLACK): the last step reads whole
 * sixteen bytes and masks off those past n, so a short line is one or two
 * loads and no copy. A gateway answer's head has about fifteen headers to
 * look at, on every response. */
static inline int line_breaks(const char *p, size_t name_len, size_t n)
{
    size_t i = 0;

#if defined(__SSE2__)
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n'), co = _mm_set1_epi8(':');
    for (; i < n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned m =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
        if (i < name_len) {
            unsigned c = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, co));
            if (name_len - i < 16)
                c &= (1u << (name_len - i)) - 1;
            m |= c;
        }
        if (n - i < 16)
            m &= (1u << (n - i)) - 1;
        if (m)
            return 1;
    }
    return 0;
#else
    for (; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || (i < name_len && p[i] == ':'))
            return 1;
    return 0;
#endif
}

/* The readable bytes a head keeps after its end for line_breaks(). */
#define HEAD_SLACK 16

/* Does v hold CR or LF? For values outside a head (no slack after them). */
static int has_crlf(struct allot_slice v)
{
    return memchr(v.ptr, '\r', v.len) || memchr(v.ptr, '\n', v.len);
}

static char *put(char *p, const void *src, size_t n)
{
    if (n)
        memcpy(p, src, n);
    return p + n;
}

#define CORS_TAIL "\r\nVary: Origin\r\nAccess-Control-Expose-Headers: *\r\n"
#define CHUNKED_LINE "Transfer-Encoding: chunked\r\n"
#define KEEP_ALIVE_END "Connection: keep-alive\r\n\r\n"
#define CLOSE_END "Connection: close\r\n\r\n"

/* Build a response head into out (reset first). origin: the request's
 * admitted CORS origin (allot__http_cors_origin), or empty for none. The head's exact size is added
 * up first and reserved in one go, then the pieces are copied in: one reservation instead of one
 * per piece (about 50 for a gateway answer's head). */
static int head_build(struct allot_http_server *s, struct allot_buf *out, int status,
                      const struct allot_http_header *hs, size_t n, const char *content_type,
                      enum framing framing, size_t len, int keep_alive, struct allot_slice origin)
{
    const char *reason, *date = server_date(s);
    const char *end = keep_alive ? KEEP_ALIVE_END : CLOSE_END;
    char code[4], num[24];
    size_t i, nl = 0, total, reason_len, date_len = strlen(date);
    size_t type_len = content_type ? strlen(content_type) : 0;
    size_t end_len = keep_alive ? sizeof KEEP_ALIVE_END - 1 : sizeof CLOSE_END - 1;
    int with_origin = origin.len && !has_crlf(origin), rc;
    char *p, *start;

    allot_buf_reset(out);
    if (status < 100 || status > 999)
        status = 500;
    reason = allot_http_reason(status);
    reason_len = strlen(reason);
    code[0] = (char)('0' + status / 100);
    code[1] = (char)('0' + status / 10 % 10);
    code[2] = (char)('0' + status % 10);
    code[3] = ' ';
    total = 9 + 4 + reason_len + 2;
    for (i = 0; i < n; i++) /* all of them: one that may not go out takes less */
        total += hs[i].name.len + 2 + hs[i].value.len + 2;
    if (with_origin)
        total += 29 + origin.len + sizeof CORS_TAIL - 1;
    if (content_type)
        total += 14 + type_len + 2;
    total += 6 + date_len + 2;
    if (framing == FRAME_LENGTH) {
        nl = allot_fmt_u64(num, len);
        total += 16 + nl + 2;
    } else if (framing == FRAME_CHUNKED) {
        total += sizeof CHUNKED_LINE - 1;
    }
    total += end_len;
    if ((rc = allot_buf_reserve(out, total + HEAD_SLACK)))
        return rc;

    p = put(out->ptr + out->len, "HTTP/1.1 ", 9);
    p = put(p, code, 4);
    p = put(p, reason, reason_len);
    p = put(p, "\r\n", 2);
    /* A header goes out unless allot frames the response with it or it
     * could split the head: copied first, then its copy checked, where
     * the slack after the head's end is readable; one that fails is
     * taken back. */
    for (i = 0; i < n; i++) {
        const struct allot_http_header *h = &hs[i];
        if (!h->name.len || header_reserved(h->name))
            continue;
        start = p;
        p = put(p, h->name.ptr, h->name.len);
        p = put(p, ": ", 2);
        p = put(p, h->value.ptr, h->value.len);
        if (line_breaks(start, h->name.len, (size_t)(p - start))) {
            p = start;
            continue;
        }
        p = put(p, "\r\n", 2);
    }
    if (with_origin) {
        p = put(p, "Access-Control-Allow-Origin: ", 29);
        p = put(p, origin.ptr, origin.len);
        p = put(p, CORS_TAIL, sizeof CORS_TAIL - 1);
    }
    if (content_type) {
        p = put(p, "Content-Type: ", 14);
        p = put(p, content_type, type_len);
        p = put(p, "\r\n", 2);
    }
    p = put(p, "Date: ", 6);
    p = put(p, date, date_len);
    p = put(p, "\r\n", 2);
    if (framing == FRAME_LENGTH) {
        p = put(p, "Content-Length: ", 16);
        p = put(p, num, nl);
        p = put(p, "\r\n", 2);
    } else if (framing == FRAME_CHUNKED) {
        p = put(p, CHUNKED_LINE, sizeof CHUNKED_LINE - 1);
    }
    p = put(p, end, end_len);
    out->len = (size_t)(p - out->ptr);
    *p = '\0';
    return 0;
}

/* ---- ending a request -------------------------------------------------- */

static void end_request(struct allot_http_conn *c)
{
    c->req_live = 0;
    c->server->inflight--;
    if (c->closing)
        return;
    c->state = CONN_WRITING;
    if (c->n_writes == 0)
        allot__http_response_done(c);
}

static int conn_keep_alive(const struct allot_http_conn *c)
{
    return c->req.keep_alive && !c->server->stopping;
}

static int status_has_no_body(int status)
{
    return status < 200 || status == 204 || status == 304;
}

int allot_http_respond(struct allot_http_request *req, int status,
                       const struct allot_http_header *headers, size_t n_headers, const char *body,
                       size_t body_len)
{
    struct allot_http_conn *c = req->conn;
    struct allot_http_server *s = c->server;
    int no_body = status_has_no_body(status), rc;
    unsigned nb = 1;
    uv_buf_t b[2];

    if (!c->req_live || c->chunked_resp)
        return ALLOT_EINVAL;
    if (c->closing) {
        rc = ALLOT_EIO;
        goto out;
    }
    c->req.keep_alive = conn_keep_alive(c);
    rc = body_len > RESPONSE_MAX ? ALLOT_ETOOBIG : 0;
    if (rc == 0)
        rc = head_build(s, &s->scratch, status, headers, n_headers, NULL,
                        no_body ? FRAME_NONE : FRAME_LENGTH, body_len, c->req.keep_alive,
                        allot__http_cors_origin(c));
    if (rc) {
        allot__http_conn_close(c);
        goto out;
    }
    b[0] = uv_buf_init(s->scratch.ptr, (unsigned)s->scratch.len);
    if (!no_body && !c->is_head && body_len)
        b[nb++] = uv_buf_init((char *)body, (unsigned)body_len);
    rc = allot__http_conn_write(c, b, nb);
out:
    end_request(c);
    return rc;
}

int allot_http_chunked_start(struct allot_http_request *req, int status,
                             const struct allot_http_header *headers, size_t n_headers)
{
    struct allot_http_conn *c = req->conn;
    struct allot_http_server *s = c->server;
    enum framing framing;
    uv_buf_t b;
    int rc;

    if (!c->req_live || c->chunked_resp)
        return ALLOT_EINVAL;
    if (c->closing)
        return ALLOT_EIO;
    c->chunked_resp = 1;
    c->no_body = c->is_head || status_has_no_body(status);
    /* An HTTP/1.0 client knows no chunked coding: the body goes unframed
     * and the end of the response is the end of the connection. */
    c->raw_resp = c->http10 && !c->no_body;
    c->req.keep_alive = conn_keep_alive(c) && !c->raw_resp;
    framing = c->http10 || (c->no_body && !c->is_head) ? FRAME_NONE : FRAME_CHUNKED;
    rc = head_build(s, &s->scratch, status, headers, n_headers, NULL, framing, 0, c->req.keep_alive,
                    allot__http_cors_origin(c));
    if (rc) {
        allot__http_conn_close(c);
        return rc;
    }
    b = uv_buf_init(s->scratch.ptr, (unsigned)s->scratch.len);
    return allot__http_conn_write(c, &b, 1);
}

int allot_http_chunk(struct allot_http_request *req, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    struct allot_http_conn *c = req->conn;
    char line[24], tmp[20];
    size_t ln = 0, tn = 0, v = n;
    unsigned nb = 0;
    uv_buf_t b[3];
    int rc;

    if (!c->req_live || !c->chunked_resp || n == 0)
        return ALLOT_EINVAL;
    if (c->closing)
        return ALLOT_EIO;
    if (c->no_body)
        return 0;
    if (n > RESPONSE_MAX)
        return ALLOT_ETOOBIG;
    if (!c->raw_resp) {
        while (v) {
            tmp[tn++] = hex[v & 15];
            v >>= 4;
        }
        while (tn)
            line[ln++] = tmp[--tn];
        line[ln++] = '\r';
        line[ln++] = '\n';
        b[nb++] = uv_buf_init(line, (unsigned)ln);
    }
    b[nb++] = uv_buf_init((char *)p, (unsigned)n);
    if (!c->raw_resp)
        b[nb++] = uv_buf_init((char *)"\r\n", 2);
    rc = allot__http_conn_write(c, b, nb);
    if (rc)
        return rc;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_HIGH_WATER) {
        c->want_drain = 1;
        return 1;
    }
    return 0;
}

int allot_http_chunked_end(struct allot_http_request *req)
{
    struct allot_http_conn *c = req->conn;
    uv_buf_t b = uv_buf_init((char *)"0\r\n\r\n", 5);
    int rc = 0;

    if (!c->req_live || !c->chunked_resp)
        return ALLOT_EINVAL;
    if (c->closing)
        rc = ALLOT_EIO;
    else if (!c->no_body && !c->raw_resp)
        rc = allot__http_conn_write(c, &b, 1);
    end_request(c);
    return rc;
}

void allot_http_abort(struct allot_http_request *req)
{
    struct allot_http_conn *c = req->conn;

    if (!c->req_live)
        return;
    c->req_live = 0;
    c->server->inflight--;
    if (c->closing)
        return;
    c->req.keep_alive = 0;
    c->cut = 1;
    if (c->n_writes == 0) {
        allot__http_conn_close(c);
        return;
    }
    /* Flush what is queued, then close (allot__http_response_done); a peer that does
     * not read gets cut off by the timer. */
    c->state = CONN_WRITING;
    allot__http_conn_timer_set(c, LINGER_MS);
}

/* ---- server-generated errors ------------------------------------------- */

/* code: the error code, or NULL for the one that goes with status. */
static void default_error_body(int status, const char *message, const char *code,
                               struct allot_buf *out)
{
    const char *type = status >= 500 ? "server_error" : "invalid_request_error";

    if (!code)
        code = status == 413   ? "request_too_large"
               : status == 431 ? "request_header_fields_too_large"
               : status == 408 ? "request_timeout"
               : status >= 500 ? "server_error"
                               : "bad_request";
    if (allot_buf_adds(out, "{\"error\":{\"message\":") == 0 &&
        allot_buf_add_json_str(out, message, strlen(message)) == 0)
        allot_buf_addf(out, ",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}", type, code);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    struct allot_http_conn *c = (struct allot_http_conn *)req->handle;
    if (status < 0 && !c->closing)
        allot__http_conn_close(c);
}

/* Answer a request the server refuses, then close: write the error, shut
 * down the write side and discard input until EOF or LINGER_MS, so the
 * client reads the error instead of a reset. */
void allot__http_conn_fail(struct allot_http_conn *c, int status, const char *message)
{
    struct allot_http_server *s = c->server;
    const char *u = allot_buf_cstr(&c->head), *q;
    struct allot_slice path = allot_slice_of(u, c->url_len);
    struct allot_slice origin = allot__http_cors_origin(c); /* a page may read the error */
    struct allot_buf body;
    uv_buf_t b[2];
    int rc;

    if (c->closing || c->state == CONN_LINGERING)
        return;
    allot_log_debug("http: answering %d: %s", status, message);
    c->state = CONN_LINGERING;
    c->req.keep_alive = 0;
    c->rbuf.len = 0; /* pipelined bytes will never be parsed */
    q = memchr(u, '?', path.len);
    if (q)
        path.len = (size_t)(q - u);
    allot_buf_init(&body, ERROR_BODY_MAX);
    if (s->handler.format_error)
        s->handler.format_error(path, status, message, &body, s->handler.ctx);
    if (body.len == 0)
        default_error_body(status, message, c->refused ? "too_many_connections" : c->fail_code,
                           &body);
    rc = head_build(s, &s->scratch, status, c->fail_extra.name.ptr ? &c->fail_extra : NULL,
                    c->fail_extra.name.ptr ? 1 : 0, "application/json", FRAME_LENGTH, body.len, 0,
                    origin);
    if (rc) {
        allot__http_conn_close(c);
        goto out;
    }
    b[0] = uv_buf_init(s->scratch.ptr, (unsigned)s->scratch.len);
    b[1] = uv_buf_init(body.ptr, (unsigned)body.len);
    if (allot__http_conn_write(c, b, body.len ? 2 : 1))
        goto out; /* closing */
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_cb)) {
        allot__http_conn_close(c);
        goto out;
    }
    allot__http_conn_timer_set(c, LINGER_MS);
    allot__http_conn_read_start(c);
out:
    allot_buf_release(&body);
}

/* ---- CORS preflight ---------------------------------------------------- */

void allot__http_preflight(struct allot_http_conn *c)
{
    struct allot_http_server *s = c->server;
    struct allot_slice origin = allot__http_cors_origin(c);
    struct allot_slice want = allot_http_request_header(&c->req, "access-control-request-headers");
    struct allot_http_header h[3];
    struct allot_buf body;
    char msg[320];
    size_t n = 0;

    if (!origin.ptr) {
        struct allot_slice o = allot_http_request_header(&c->req, "origin");
        snprintf(msg, sizeof msg,
                 "origin '%.*s' may not call this gateway from a browser: it is not in "
                 "cors.allow_origins",
                 (int)(o.len > 200 ? 200 : o.len), o.ptr ? o.ptr : "");
        allot_buf_init(&body, ERROR_BODY_MAX);
        if (s->handler.format_error)
            s->handler.format_error(c->req.path, 403, msg, &body, s->handler.ctx);
        if (body.len == 0)
            default_error_body(403, msg, "cors_origin_not_allowed", &body);
        h[0].name = ALLOT_SLICE_LIT("Content-Type");
        h[0].value = ALLOT_SLICE_LIT("application/json");
        allot_http_respond(&c->req, 403, h, 1, body.ptr, body.len);
        allot_buf_release(&body);
        return;
    }
    h[n].name = ALLOT_SLICE_LIT("Access-Control-Allow-Methods");
    h[n++].value = ALLOT_SLICE_LIT("GET, POST, OPTIONS");
    if (want.len) { /* whatever the page's client sends: keys, SDK headers */
        h[n].name = ALLOT_SLICE_LIT("Access-Control-Allow-Headers");
        h[n++].value = want;
    }
    h[n].name = ALLOT_SLICE_LIT("Access-Control-Max-Age");
    h[n++].value = ALLOT_SLICE_LIT("600");
    allot_http_respond(&c->req, 204, h, n, NULL, 0);
}
