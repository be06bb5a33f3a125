/* h1.c: the native HTTP/1.1 client for http:// providers.
 *
 * libcurl is general; on a fast local upstream its per-request work
 * (multi socket bookkeeping, URL parsing, status-line sscanf, liveness
 * poll()s) was a quarter of the loop thread's CPU (bench/README.md). For a
 * plain http:// provider this client does the same job with libuv TCP
 * handles and llhttp, behind the same interface (upstream.h):
 * client.c dispatches a provider here when its base_url is http://, no
 * proxy from the environment applies and http_client is not "curl".
 *
 * DESIGN. Per provider (one struct h1_provider each, built at
 * allot__h1_new): the constant parts of the request head, the resolved
 * addresses (an IP literal once, a host name through uv_getaddrinfo,
 * cached H1_DNS_TTL_MS), a LIFO of idle kept-alive connections and a free
 * list of transfer structs. A connection is read-watched for its whole
 * life, idle or busy (one epoll registration per connection, none per
 * request); bytes or EOF on an idle one mean the server closed it, and it
 * is closed. A request is one uv_try_write of two buffers (head, body),
 * uv_write for what the socket did not take. The response goes through
 * llhttp (HTTP_RESPONSE): 1xx heads are skipped, body bytes
 * (dechunked) go to on_data. A pause (ALLOT_UPSTREAM_PAUSE) pauses the
 * parser and stops reading. As with libcurl, the bytes of the on_data call
 * that paused are not consumed: they are handed over again on resume. They
 * and the unparsed rest of the read buffer stay where they are, in the
 * connection's read buffer (nothing is read into it while paused), and
 * are delivered and parsed on resume. No callback ever runs inside a call into this
 * module's API: failures found while starting, and resumes, run from a
 * uv_idle handle in the next loop iteration.
 *
 * Transfer states (enum xfer_state):
 *   X_FREE       in its provider's free list
 *   X_RESOLVING  waiting for the provider's host-name lookup
 *   X_CONNECTING a new connection is being opened (x->conn)
 *   X_EXCHANGING the request is written (or being written) on x->conn and
 *                the response read; x->paused while the consumer is slow
 *   X_FAILED     failed before allot__h1_start returned: connection gone,
 *                on_done pending from the idle handle
 * Any state but X_FREE -> X_FREE by finish (on_done) or cancel (none).
 * A reused connection that fails (EOF, reset, write error) before any
 * response byte arrived is replaced once by a fresh one (X_CONNECTING
 * again), as libcurl does: the server closed it while it was idle.
 *
 * Connection states: CONN_CONNECTING and CONN_BUSY belong to a transfer;
 * CONN_IDLE is in the provider's idle list. A connection is only pooled
 * after a complete response the server allows to keep alive, with the
 * request fully written and no stray byte after it; never after a cancel,
 * an abort, a parse error, a timeout or an incomplete body. */
#include <llhttp.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "allot/clock.h"
#include "allot/deadline.h"
#include "allot/error.h"
#include "allot/upstream.h"
#include "internal.h"

#define H1_READ_BUF (64 * 1024)   /* read buffer of a connection */
#define H1_PATH_MAX 512           /* request path appended to base_url */
#define H1_DNS_TTL_MS 60000       /* a host name's addresses are kept this long */
#define H1_MAX_ADDRS 4            /* addresses of a host tried in turn */
#define H1_MAX_IDLE 256           /* idle connections kept per provider */
#define H1_IDLE_MAX_AGE_MS 118000 /* libcurl's CURLOPT_MAXAGE_CONN default */
#define H1_SPARE_CONNS 64         /* closed connection structs kept for reuse */
#define H1_CT_MAX 256             /* Content-Type kept for on_head */
#define H1_HINT_MAX 64            /* a retry hint's value kept (retry_hint.c reads up to 63) */
#define H1_MSG_MAX 512

enum xfer_state { X_FREE, X_RESOLVING, X_CONNECTING, X_EXCHANGING, X_FAILED };
enum { HINT_S, HINT_MS }; /* Retry-After, retry-after-ms */
enum conn_state { CONN_CONNECTING, CONN_BUSY, CONN_IDLE };
enum feed_result { FEED_MORE, FEED_PAUSED, FEED_DONE };

struct h1_conn;
struct h1_xfer;

struct h1_provider {
    const struct allot_provider *p;
    struct allot__h1 *h1;
    int native; /* served here; 0: libcurl serves it */
    char host[256];
    char port_str[8];
    int port;
    int literal; /* host is an IP literal: addrs[0] never expires */
    /* Request head: pre + path + mid + Content-Length digits + CRLF CRLF.
     * mid holds the key: zeroed before it is freed. */
    char *pre, *mid;
    size_t pre_len, mid_len;
    struct sockaddr_storage addrs[H1_MAX_ADDRS];
    size_t n_addrs;
    uint64_t addrs_expire_ms;
    uv_getaddrinfo_t lookup;
    int resolving;
    unsigned lookup_gen;
    struct h1_xfer *wait_head, *wait_tail; /* X_RESOLVING transfers, oldest first */
    struct h1_conn *idle;                  /* most recently used first */
    size_t n_idle;
    struct h1_xfer *free_xfers;
};

struct h1_conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    llhttp_t parser;
    struct h1_provider *pv;
    struct h1_xfer *x; /* the transfer using it; NULL when idle or closing */
    enum conn_state state;
    int reading;
    int writing; /* a uv_write is pending */
    int closing;
    unsigned long uses; /* requests sent on it */
    uint64_t idle_since_ms;
    struct h1_conn *prev, *next; /* the provider's idle list; spare list */
    size_t held_off, held_len;   /* body bytes on_data paused on, in rbuf */
    size_t tail_off, tail_len;   /* unparsed bytes kept in rbuf while paused */
    char rbuf[H1_READ_BUF];
};

struct h1_xfer {
    enum allot__xfer_kind kind; /* first: ALLOT__XFER_H1 */
    enum xfer_state state;
    struct h1_provider *pv;
    const struct allot_upstream_callbacks *cb;
    void *ctx;
    const char *body;
    size_t body_len;
    struct h1_conn *conn;
    uv_timer_t timer;               /* fires for the attempt's deadlines; initialised once */
    struct allot_deadline deadline; /* the one in force (deadline.h) */
    uint64_t start_ms, deadline_ms, connect_deadline_ms;
    uint64_t received; /* body bytes */
    size_t addr_i;     /* the address being connected to */
    unsigned lookup_gen;
    int in_start;     /* inside allot__h1_start: on_done must wait */
    int reused;       /* the connection served an earlier request */
    int retried;      /* the one retry on a fresh connection is used */
    int got_bytes;    /* a response byte arrived on this connection */
    int head_done;    /* the final head was passed to on_head */
    int complete;     /* the final response ended */
    int keep_alive;   /* ... and the server allows another request */
    int aborted;      /* a callback asked to stop */
    int paused;       /* on_data returned ALLOT_UPSTREAM_PAUSE */
    int in_value;     /* the last header callback was a value */
    int field_is_ct;  /* the header being read is Content-Type */
    int field_hint;   /* ... is Retry-After (HINT_S) or retry-after-ms (HINT_MS); else -1 */
    size_t field_len; /* of the header name being read, up to 15 */
    char field[15];   /* its bytes, as sent: one more than the longest name sought */
    char ct[H1_CT_MAX];
    size_t ct_len;
    int have_ct;
    /* Retry hints of the head being read: values kept as they come (in
     * pieces, maybe), read once the head is complete; len SIZE_MAX: too
     * long to be one. have_hint: either header was seen. */
    char hint[2][H1_HINT_MAX];
    size_t hint_len[2];
    int have_hint;
    int deferred_err; /* X_FAILED: for on_done */
    int queued;       /* in h1's deferred queue */
    int resume_wanted;
    struct h1_xfer *qprev, *qnext; /* h1's deferred queue */
    struct h1_xfer *prev, *next;   /* the provider's wait list or free list */
    struct h1_xfer *all_next;      /* every transfer struct of h1 */
    char deferred_msg[H1_MSG_MAX];
    char path[H1_PATH_MAX]; /* the path the head is built for */
    size_t head_fixed;      /* head bytes before the Content-Length digits */
    size_t head_len;
    char head[]; /* pre + path + mid + digits + "\r\n\r\n" */
};

struct allot__h1 {
    uv_loop_t *loop;
    const struct allot_config *cfg;
    struct h1_provider *pv;
    size_t n_pv;
    size_t active;
    int closing;
    size_t handles; /* open libuv handles (connections, timers, idle) */
    size_t lookups; /* uv_getaddrinfo in flight */
    uv_idle_t idle;
    struct h1_xfer *q_head, *q_tail; /* transfers with a deferred on_done or resume */
    struct h1_xfer *all;
    struct h1_conn *spare;
    size_t n_spare;
};

static enum feed_result feed(struct h1_conn *c, const char *p, size_t n);
static void acquire(struct h1_xfer *x, int fresh);
static void conn_open(struct h1_xfer *x);
static void on_idle(uv_idle_t *i);

/* ---- small helpers ----------------------------------------------------- */

static uint64_t now_ms(const struct allot__h1 *h1)
{
    return uv_now(h1->loop);
}

static void maybe_free(struct allot__h1 *h1)
{
    size_t i;
    struct h1_conn *c;

    if (!h1->closing || h1->handles || h1->lookups)
        return;
    for (i = 0; i < h1->n_pv; i++) {
        struct h1_provider *pv = &h1->pv[i];
        if (pv->mid) {
            explicit_bzero(pv->mid, pv->mid_len);
            free(pv->mid);
        }
        free(pv->pre);
    }
    while ((c = h1->spare)) {
        h1->spare = c->next;
        free(c);
    }
    free(h1->pv);
    free(h1);
}

static void queue_push(struct allot__h1 *h1, struct h1_xfer *x)
{
    if (x->queued)
        return;
    x->queued = 1;
    x->qnext = NULL;
    x->qprev = h1->q_tail;
    if (h1->q_tail)
        h1->q_tail->qnext = x;
    else
        h1->q_head = x;
    h1->q_tail = x;
    if (!uv_is_active((uv_handle_t *)&h1->idle))
        uv_idle_start(&h1->idle, on_idle);
}

static void queue_unlink(struct allot__h1 *h1, struct h1_xfer *x)
{
    if (!x->queued)
        return;
    if (x->qprev)
        x->qprev->qnext = x->qnext;
    else
        h1->q_head = x->qnext;
    if (x->qnext)
        x->qnext->qprev = x->qprev;
    else
        h1->q_tail = x->qprev;
    x->qprev = x->qnext = NULL;
    x->queued = 0;
}

static void wait_unlink(struct h1_provider *pv, struct h1_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        pv->wait_head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        pv->wait_tail = x->prev;
    x->prev = x->next = NULL;
}

/* ---- connections ------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
    struct h1_conn *c = h->data;
    struct allot__h1 *h1 = c->pv->h1;

    h1->handles--;
    if (!h1->closing && h1->n_spare < H1_SPARE_CONNS) {
        c->next = h1->spare;
        h1->spare = c;
        h1->n_spare++;
    } else {
        free(c);
    }
    maybe_free(h1);
}

static void idle_unlink(struct h1_conn *c)
{
    struct h1_provider *pv = c->pv;
    if (c->prev)
        c->prev->next = c->next;
    else
        pv->idle = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    pv->n_idle--;
}

/* Close c now; whatever it was doing is abandoned. Its transfer, if any,
 * must already have let go of it. */
static void conn_close(struct h1_conn *c)
{
    if (c->closing)
        return;
    if (c->state == CONN_IDLE)
        idle_unlink(c);
    c->closing = 1;
    c->x = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* Detach x from its connection and close that connection. */
static void drop_conn(struct h1_xfer *x)
{
    struct h1_conn *c = x->conn;
    if (!c)
        return;
    x->conn = NULL;
    c->x = NULL;
    conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct h1_conn *c = h->data;
    (void)suggested;
    buf->base = c->rbuf;
    buf->len = sizeof c->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_start(struct h1_conn *c)
{
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

static void read_stop(struct h1_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* Put c, its response complete, in its provider's idle list (or close it
 * when the list is full). */
static void conn_pool(struct h1_conn *c)
{
    struct h1_provider *pv = c->pv;

    if (pv->n_idle >= H1_MAX_IDLE || pv->h1->closing) {
        conn_close(c);
        return;
    }
    c->x = NULL;
    c->state = CONN_IDLE;
    c->idle_since_ms = now_ms(pv->h1);
    c->prev = NULL;
    c->next = pv->idle;
    if (pv->idle)
        pv->idle->prev = c;
    pv->idle = c;
    pv->n_idle++;
    read_start(c); /* stays watched: EOF while idle closes it */
}

/* ---- finishing ---------------------------------------------------------- */

static void recycle(struct h1_xfer *x)
{
    struct h1_provider *pv = x->pv;
    struct allot__h1 *h1 = pv->h1;

    allot_deadline_clear(&x->deadline); /* an armed timer fires to no effect */
    if (x->state == X_RESOLVING)
        wait_unlink(pv, x);
    queue_unlink(h1, x);
    x->state = X_FREE;
    x->cb = NULL;
    x->ctx = NULL;
    x->body = NULL;
    x->paused = 0;
    x->resume_wanted = 0;
    x->prev = NULL;
    x->next = pv->free_xfers;
    pv->free_xfers = x;
    h1->active--;
}

/* The transfer ended: hand its connection back (kept alive only after a
 * clean, complete response), recycle it, then call on_done, which may
 * start another transfer. The caller must not touch x or its connection
 * afterwards. */
static void finish(struct h1_xfer *x, int err, const char *message)
{
    const struct allot_upstream_callbacks *cb = x->cb;
    void *ctx = x->ctx;
    struct h1_conn *c = x->conn;

    if (c) {
        x->conn = NULL;
        c->x = NULL;
        if (err == 0 && x->complete && x->keep_alive && !c->writing && !c->closing &&
            c->tail_len == 0)
            conn_pool(c);
        else
            conn_close(c);
    }
    recycle(x);
    cb->on_done(ctx, err, message ? message : "");
}

/* The transfer failed with err and a reason in libcurl's words; the
 * message names the provider and its URL. Inside allot__h1_start, on_done
 * waits for the idle handle. */
static void fail(struct h1_xfer *x, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct h1_xfer *x, int err, const char *fmt, ...)
{
    char reason[256];
    char msg[H1_MSG_MAX];
    const struct allot_provider *p = x->pv->p;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (err == ALLOT_ECLOSED)
        snprintf(msg, sizeof msg, "%s", reason);
    else
        snprintf(msg, sizeof msg, "upstream '%s' at %s: %s", p->name, p->base_url, reason);
    drop_conn(x);
    if (x->in_start) {
        allot_deadline_clear(&x->deadline);
        if (x->state == X_RESOLVING)
            wait_unlink(x->pv, x);
        x->state = X_FAILED;
        x->deferred_err = err;
        memcpy(x->deferred_msg, msg, sizeof msg);
        queue_push(x->pv->h1, x);
        return;
    }
    finish(x, err, msg);
}

/* The connection failed (EOF, reset, write error) with no response byte
 * seen: a reused connection gets one fresh replacement. */
static int retry_fresh(struct h1_xfer *x)
{
    if (!x->reused || x->got_bytes || x->retried)
        return 0;
    x->retried = 1;
    drop_conn(x);
    acquire(x, 1);
    return 1;
}

/* ---- timers -------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    struct h1_xfer *x = t->data;
    uint64_t now = uv_now(t->loop);
    unsigned long long took = (unsigned long long)(now - x->start_ms);

    /* none (the transfer ended or was recycled since), or moved later */
    if (!allot_deadline_due(&x->deadline, t, on_timer))
        return;

    if ((x->state == X_RESOLVING || x->state == X_CONNECTING) && now >= x->connect_deadline_ms &&
        x->connect_deadline_ms < x->deadline_ms) {
        if (x->state == X_RESOLVING)
            fail(x, ALLOT_ETIMEDOUT, "Resolving timed out after %llu milliseconds", took);
        else
            fail(x, ALLOT_ETIMEDOUT, "Connection timed out after %llu milliseconds", took);
        return;
    }
    fail(x, ALLOT_ETIMEDOUT, "Operation timed out after %llu milliseconds with %llu bytes received",
         took, (unsigned long long)x->received);
}

/* Set the attempt's next deadline, armed lazily (deadline.h): an attempt
 * on a pooled transfer, whose timer is still armed from its last one, due
 * before this one's deadline, makes no timer call. */
static void arm_timer(struct h1_xfer *x)
{
    uint64_t due = x->deadline_ms;

    if ((x->state == X_RESOLVING || x->state == X_CONNECTING) && x->connect_deadline_ms < due)
        due = x->connect_deadline_ms;
    allot_deadline_set(&x->deadline, &x->timer, on_timer, due);
}

/* ---- sending ------------------------------------------------------------- */

static const llhttp_settings_t parser_settings; /* the callbacks, under receiving */

static void on_write(uv_write_t *req, int status)
{
    struct h1_conn *c = req->data;
    struct h1_xfer *x = c->x;

    c->writing = 0;
    if (!x || c->closing || status == 0)
        return;
    if (retry_fresh(x))
        return;
    fail(x, ALLOT_EUPSTREAM, "Send failure: %s", uv_strerror(status));
}

/* x has connection c, connected: write the request. */
static void send_request(struct h1_xfer *x, struct h1_conn *c)
{
    uv_buf_t bufs[2];
    size_t total = x->head_len + x->body_len;
    int n;

    x->state = X_EXCHANGING;
    x->got_bytes = 0;
    x->head_done = 0;
    x->complete = 0;
    x->keep_alive = 0;
    x->received = 0;
    c->state = CONN_BUSY;
    c->x = x;
    c->uses++;
    c->tail_len = 0;
    c->held_len = 0;
    llhttp_init(&c->parser, HTTP_RESPONSE, &parser_settings);
    c->parser.data = c;
    bufs[0] = uv_buf_init(x->head, (unsigned)x->head_len);
    bufs[1] = uv_buf_init((char *)(uintptr_t)x->body, (unsigned)x->body_len);
    n = uv_try_write((uv_stream_t *)&c->tcp, bufs, x->body_len ? 2 : 1);
    if (n == UV_EAGAIN || n == UV_ENOSYS)
        n = 0;
    if (n < 0) {
        if (!retry_fresh(x))
            fail(x, ALLOT_EUPSTREAM, "Send failure: %s", uv_strerror(n));
        return;
    }
    if ((size_t)n < total) {
        uv_buf_t rest[2];
        unsigned nb = 0;
        size_t off = (size_t)n;
        int rc;
        if (off < x->head_len)
            rest[nb++] = uv_buf_init(x->head + off, (unsigned)(x->head_len - off));
        if (x->body_len) {
            size_t boff = off > x->head_len ? off - x->head_len : 0;
            rest[nb++] =
                uv_buf_init((char *)(uintptr_t)x->body + boff, (unsigned)(x->body_len - boff));
        }
        c->write_req.data = c;
        rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, rest, nb, on_write);
        if (rc) {
            if (!retry_fresh(x))
                fail(x, ALLOT_EUPSTREAM, "Send failure: %s", uv_strerror(rc));
            return;
        }
        c->writing = 1;
    }
}

/* ---- connecting ---------------------------------------------------------- */

static void on_connect(uv_connect_t *req, int status)
{
    struct h1_conn *c = req->data;
    struct h1_xfer *x = c->x;
    struct h1_provider *pv = c->pv;

    if (!x || c->closing)
        return; /* cancelled: the handle is closing */
    if (status < 0) {
        unsigned long long took = (unsigned long long)(now_ms(pv->h1) - x->start_ms);
        drop_conn(x);
        if (!pv->literal && x->addr_i + 1 < pv->n_addrs) {
            x->addr_i++;
            conn_open(x);
            return;
        }
        fail(x, ALLOT_EUPSTREAM,
             "Failed to connect to %s port %d after %llu ms: Couldn't connect to server (%s)",
             pv->host, pv->port, took, uv_strerror(status));
        return;
    }
    read_start(c);
    x->state = X_EXCHANGING;
    arm_timer(x);
    send_request(x, c);
}

static struct h1_conn *conn_get(struct allot__h1 *h1)
{
    struct h1_conn *c = h1->spare;
    if (c) {
        h1->spare = c->next;
        h1->n_spare--;
    } else {
        c = malloc(sizeof *c);
        if (!c)
            return NULL;
    }
    c->next = c->prev = NULL;
    return c;
}

/* Open a new connection for x to its provider's address x->addr_i. */
static void conn_open(struct h1_xfer *x)
{
    struct h1_provider *pv = x->pv;
    struct allot__h1 *h1 = pv->h1;
    struct h1_conn *c = conn_get(h1);
    int rc;

    x->state = X_CONNECTING;
    if (!c) {
        fail(x, ALLOT_EUPSTREAM, "Out of memory");
        return;
    }
    rc = uv_tcp_init(h1->loop, &c->tcp);
    if (rc) {
        c->next = h1->spare;
        h1->spare = c;
        h1->n_spare++;
        fail(x, ALLOT_EUPSTREAM, "Couldn't connect to server (%s)", uv_strerror(rc));
        return;
    }
    h1->handles++;
    c->tcp.data = c;
    c->pv = pv;
    c->x = x;
    c->state = CONN_CONNECTING;
    c->reading = c->writing = c->closing = 0;
    c->uses = 0;
    c->tail_off = c->tail_len = 0;
    c->held_off = c->held_len = 0;
    c->connect_req.data = c;
    x->conn = c;
    x->reused = 0;
    uv_tcp_nodelay(&c->tcp, 1);
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&pv->addrs[x->addr_i],
                        on_connect);
    if (rc) {
        fail(x, ALLOT_EUPSTREAM,
             "Failed to connect to %s port %d after 0 ms: Couldn't connect to server (%s)",
             pv->host, pv->port, uv_strerror(rc));
        return;
    }
    arm_timer(x);
}

static void on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct h1_provider *pv = req->data;
    struct allot__h1 *h1 = pv->h1;
    unsigned gen = pv->lookup_gen;
    struct addrinfo *ai;
    struct h1_xfer *x;

    h1->lookups--;
    pv->resolving = 0;
    if (h1->closing) {
        uv_freeaddrinfo(res);
        maybe_free(h1);
        return;
    }
    if (status == 0) {
        pv->n_addrs = 0;
        for (ai = res; ai && pv->n_addrs < H1_MAX_ADDRS; ai = ai->ai_next) {
            if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                ai->ai_addrlen > sizeof pv->addrs[0])
                continue;
            memcpy(&pv->addrs[pv->n_addrs++], ai->ai_addr, ai->ai_addrlen);
        }
        if (pv->n_addrs == 0)
            status = UV_EAI_NONAME;
        else
            pv->addrs_expire_ms = now_ms(h1) + H1_DNS_TTL_MS;
    }
    uv_freeaddrinfo(res);
    /* Transfers queued since (a failure's on_done may start one) wait for
     * the next lookup: they carry a later generation. */
    while ((x = pv->wait_head) && x->lookup_gen == gen) {
        wait_unlink(pv, x);
        if (status == 0) {
            x->addr_i = 0;
            conn_open(x);
        } else {
            x->state = X_CONNECTING; /* off the wait list */
            fail(x, ALLOT_EUPSTREAM, "Could not resolve host: %s (%s)", pv->host,
                 uv_strerror(status));
        }
    }
}

/* Give x a connection: an idle kept-alive one unless fresh, else a new
 * one, resolving the host name first when its addresses are stale. */
static void acquire(struct h1_xfer *x, int fresh)
{
    struct h1_provider *pv = x->pv;
    struct allot__h1 *h1 = pv->h1;
    uint64_t now = now_ms(h1);
    struct h1_conn *c;
    int rc;

    while (!fresh && (c = pv->idle)) {
        idle_unlink(c);
        if (now - c->idle_since_ms > H1_IDLE_MAX_AGE_MS) {
            conn_close(c);
            continue;
        }
        x->conn = c;
        x->reused = 1;
        send_request(x, c);
        return;
    }
    x->connect_deadline_ms = now + (uint64_t)pv->p->connect_timeout_ms;
    if (pv->literal || (pv->n_addrs && now < pv->addrs_expire_ms)) {
        x->addr_i = 0;
        conn_open(x);
        return;
    }
    x->state = X_RESOLVING;
    x->lookup_gen = pv->resolving ? pv->lookup_gen : ++pv->lookup_gen;
    x->next = NULL;
    x->prev = pv->wait_tail;
    if (pv->wait_tail)
        pv->wait_tail->next = x;
    else
        pv->wait_head = x;
    pv->wait_tail = x;
    arm_timer(x);
    if (pv->resolving)
        return;
    {
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        pv->lookup.data = pv;
        rc = uv_getaddrinfo(h1->loop, &pv->lookup, on_lookup, pv->host, pv->port_str, &hints);
    }
    if (rc) {
        fail(x, ALLOT_EUPSTREAM, "Could not resolve host: %s (%s)", pv->host, uv_strerror(rc));
        return;
    }
    pv->resolving = 1;
    h1->lookups++;
}

/* ---- receiving ----------------------------------------------------------- */

static int on_message_begin(llhttp_t *hp)
{
    struct h1_conn *c = hp->data;
    struct h1_xfer *x = c->x;
    x->in_value = 0;
    x->field_len = 0;
    x->field_is_ct = 0;
    x->field_hint = -1;
    x->ct_len = 0;
    x->have_ct = 0;
    x->have_hint = 0;
    x->hint_len[HINT_S] = x->hint_len[HINT_MS] = 0;
    return 0;
}

static int on_header_field(llhttp_t *hp, const char *p, size_t n)
{
    struct h1_conn *c = hp->data;
    struct h1_xfer *x = c->x;

    if (x->in_value) { /* a new header begins */
        x->in_value = 0;
        x->field_len = 0;
    }
    if (n > sizeof x->field - x->field_len) {
        x->field_len = sizeof x->field; /* longer than any name looked for */
        return 0;
    }
    memcpy(x->field + x->field_len, p, n);
    x->field_len += n;
    return 0;
}

/* Is the header name being read `name` (lower case), in any case? */
static int field_is(const struct h1_xfer *x, const char *name, size_t len)
{
    return x->field_len == len && strncasecmp(x->field, name, len) == 0;
}

static int on_header_value(llhttp_t *hp, const char *p, size_t n)
{
    struct h1_conn *c = hp->data;
    struct h1_xfer *x = c->x;

    if (!x->in_value) {
        x->in_value = 1;
        x->field_is_ct = field_is(x, "content-type", 12);
        if (x->field_is_ct) { /* a repeated header: the last one wins, as with curl */
            x->ct_len = 0;
            x->have_ct = 1;
        }
        x->field_hint = field_is(x, "retry-after", 11)      ? HINT_S
                        : field_is(x, "retry-after-ms", 14) ? HINT_MS
                                                            : -1;
        if (x->field_hint >= 0) { /* repeated: the last one counts */
            x->hint_len[x->field_hint] = 0;
            x->have_hint = 1;
        }
    }
    if (x->field_is_ct) {
        size_t room = sizeof x->ct - x->ct_len;
        if (n > room)
            n = room;
        memcpy(x->ct + x->ct_len, p, n);
        x->ct_len += n;
    } else if (x->field_hint >= 0) {
        size_t *len = &x->hint_len[x->field_hint];
        if (*len != SIZE_MAX && n <= H1_HINT_MAX - *len) {
            memcpy(x->hint[x->field_hint] + *len, p, n);
            *len += n;
        } else {
            *len = SIZE_MAX; /* too long: no hint */
        }
    }
    return 0;
}

/* The retry hint of a complete head: retry-after-ms, else Retry-After. */
static int64_t head_hint(const struct h1_xfer *x)
{
    int64_t ms = ALLOT_UPSTREAM_NO_HINT, now = 0;
    int i;

    if (!x->have_hint)
        return ms;
    for (i = HINT_MS; i >= HINT_S && ms < 0; i--) {
        if (x->hint_len[i] == 0 || x->hint_len[i] == SIZE_MAX)
            continue;
        if (i == HINT_S && !now)
            now = allot_clock_wall_ms(); /* for an HTTP-date */
        ms = allot_upstream_retry_hint(allot_slice_of(x->hint[i], x->hint_len[i]), i == HINT_MS,
                                       now);
    }
    return ms;
}

static int on_headers_complete(llhttp_t *hp)
{
    struct h1_conn *c = hp->data;
    struct h1_xfer *x = c->x;
    long status = (long)hp->status_code;

    if (status < 200)
        return 0; /* an interim head: skipped, the final one follows */
    x->head_done = 1;
    if (x->cb->on_head(x->ctx, status,
                       x->have_ct ? allot_slice_of(x->ct, x->ct_len) : allot_slice_of(NULL, 0),
                       head_hint(x))) {
        x->aborted = 1;
        return -1;
    }
    return 0;
}

static int on_body(llhttp_t *hp, const char *p, size_t n)
{
    struct h1_conn *c = hp->data;
    struct h1_xfer *x = c->x;
    int rc;

    x->received += n;
    rc = x->cb->on_data(x->ctx, p, n);
    if (rc == ALLOT_UPSTREAM_PAUSE) {
        /* Not consumed: handed over again on resume (do_resume). */
        x->paused = 1;
        c->held_off = (size_t)(p - c->rbuf);
        c->held_len = n;
        return HPE_PAUSED;
    }
    if (rc) {
        x->aborted = 1;
        return -1;
    }
    return 0;
}

static int on_message_complete(llhttp_t *hp)
{
    struct h1_conn *c = hp->data;
    struct h1_xfer *x = c->x;

    if (!x->head_done)
        return 0; /* the end of an interim response */
    x->complete = 1;
    x->keep_alive = llhttp_should_keep_alive(hp);
    return HPE_PAUSED; /* a byte after the response is not ours to parse */
}

/* Constant, shared by every loop's connections. */
static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Parse n response bytes at p (inside c->rbuf). Returns FEED_DONE when the
 * transfer has finished (x and c must not be touched any more). */
static enum feed_result feed(struct h1_conn *c, const char *p, size_t n)
{
    struct h1_xfer *x = c->x;
    llhttp_errno_t e = llhttp_execute(&c->parser, p, n);
    /* paused or refused: the error position is where parsing stopped */
    size_t used = e == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&c->parser) - p);

    if (x->aborted) {
        fail(x, ALLOT_ECLOSED, "transfer aborted by allot");
        return FEED_DONE;
    }
    if (e == HPE_PAUSED) {
        if (x->complete) {
            if (used < n)
                x->keep_alive = 0; /* stray bytes after the response */
            finish(x, 0, NULL);
            return FEED_DONE;
        }
        c->tail_off = (size_t)(p + used - c->rbuf);
        c->tail_len = n - used;
        read_stop(c);
        return FEED_PAUSED;
    }
    if (e == HPE_PAUSED_UPGRADE || c->parser.upgrade) {
        fail(x, ALLOT_EUPSTREAM, "Weird server reply (an upgrade to another protocol)");
        return FEED_DONE;
    }
    if (e != HPE_OK) {
        fail(x, ALLOT_EUPSTREAM, "Weird server reply (%s)", llhttp_get_error_reason(&c->parser));
        return FEED_DONE;
    }
    return FEED_MORE;
}

/* The connection ended (EOF, or a read error err) while x was reading. */
static void on_conn_end(struct h1_xfer *x, ssize_t err)
{
    struct h1_conn *c = x->conn;

    if (retry_fresh(x))
        return;
    if (err == UV_EOF && x->got_bytes) {
        /* A close-delimited body ends here; llhttp says whether the
         * message was complete (on_message_complete runs if it was). */
        (void)llhttp_finish(&c->parser);
        if (x->aborted) {
            fail(x, ALLOT_ECLOSED, "transfer aborted by allot");
            return;
        }
        if (x->complete) {
            x->keep_alive = 0;
            finish(x, 0, NULL);
            return;
        }
    }
    if (!x->got_bytes)
        fail(x, ALLOT_EUPSTREAM, err == UV_EOF ? "Empty reply from server" : "Recv failure: %s",
             uv_strerror((int)err));
    else if (err != UV_EOF)
        fail(x, ALLOT_EUPSTREAM, "Recv failure: %s", uv_strerror((int)err));
    else if (!x->head_done)
        fail(x, ALLOT_EUPSTREAM, "transfer closed before the response head was complete");
    else if (c->parser.flags & F_CHUNKED)
        fail(x, ALLOT_EUPSTREAM, "transfer closed with outstanding read data remaining");
    else
        fail(x, ALLOT_EUPSTREAM, "transfer closed with %llu bytes remaining to read",
             (unsigned long long)c->parser.content_length);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct h1_conn *c = s->data;
    struct h1_xfer *x = c->x;

    if (nread == 0 || c->closing)
        return;
    if (!x) {
        /* Idle: the server closed it, or sent what nobody asked for. */
        conn_close(c);
        return;
    }
    if (nread < 0) {
        on_conn_end(x, nread);
        return;
    }
    x->got_bytes = 1;
    feed(c, buf->base, (size_t)nread);
}

/* ---- the deferred queue -------------------------------------------------- */

static void do_resume(struct h1_xfer *x)
{
    struct h1_conn *c = x->conn;

    if (x->state != X_EXCHANGING || x->paused || !c)
        return;
    if (c->held_len) {
        int rc = x->cb->on_data(x->ctx, c->rbuf + c->held_off, c->held_len);
        if (rc == ALLOT_UPSTREAM_PAUSE) {
            x->paused = 1;
            return;
        }
        c->held_len = 0;
        if (rc) {
            x->aborted = 1;
            fail(x, ALLOT_ECLOSED, "transfer aborted by allot");
            return;
        }
    }
    llhttp_resume(&c->parser);
    if (c->tail_len) {
        size_t off = c->tail_off, n = c->tail_len;
        c->tail_len = 0;
        if (feed(c, c->rbuf + off, n) != FEED_MORE)
            return;
    }
    read_start(c);
}

static void on_idle(uv_idle_t *i)
{
    struct allot__h1 *h1 = i->data;
    struct h1_xfer *last = h1->q_tail, *x;

    /* What is queued now; work queued by these callbacks waits a turn. */
    while ((x = h1->q_head)) {
        int was_last = x == last;
        queue_unlink(h1, x);
        if (x->state == X_FAILED) {
            char msg[H1_MSG_MAX];
            memcpy(msg, x->deferred_msg, sizeof msg);
            finish(x, x->deferred_err, msg);
        } else if (x->resume_wanted) {
            x->resume_wanted = 0;
            do_resume(x);
        }
        if (was_last)
            break;
    }
    if (!h1->q_head)
        uv_idle_stop(&h1->idle);
}

/* ---- set-up ----------------------------------------------------------------- */

/* Split an http:// base_url into host, port and path. Returns 0, or -1
 * for what this client leaves to libcurl (userinfo, a query, odd bytes). */
static int parse_base_url(const char *url, struct h1_provider *pv, const char **path,
                          size_t *auth_len)
{
    const char *a, *end, *h, *he, *q;
    size_t i;

    if (strncasecmp(url, "http://", 7) != 0)
        return -1;
    a = url + 7;
    for (q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f || *q == '?' || *q == '#' ||
            *q == '@' || *q == '\\')
            return -1;
    end = strchr(a, '/');
    if (!end)
        end = a + strlen(a);
    *path = end;
    *auth_len = (size_t)(end - a);
    if (*a == '[') {
        h = a + 1;
        he = memchr(h, ']', (size_t)(end - h));
        if (!he)
            return -1;
        q = he + 1;
    } else {
        h = a;
        he = memchr(a, ':', (size_t)(end - a));
        if (!he)
            he = end;
        q = he;
    }
    if (he == h || (size_t)(he - h) >= sizeof pv->host)
        return -1;
    memcpy(pv->host, h, (size_t)(he - h));
    pv->host[he - h] = '\0';
    pv->port = 80;
    if (q < end) {
        long port = 0;
        if (*q != ':' || q + 1 == end || end - q > 6)
            return -1;
        for (i = 1; q + i < end; i++) {
            if (q[i] < '0' || q[i] > '9')
                return -1;
            port = port * 10 + (q[i] - '0');
        }
        if (port < 1 || port > 65535)
            return -1;
        pv->port = (int)port;
    }
    snprintf(pv->port_str, sizeof pv->port_str, "%d", pv->port);
    return 0;
}

static int provider_setup(struct h1_provider *pv)
{
    const struct allot_provider *p = pv->p;
    const char *path;
    size_t auth_len;
    struct allot_buf mid;
    int rc = ALLOT_ENOMEM;

    if (allot_provider_forces_curl(p) || parse_base_url(p->base_url, pv, &path, &auth_len) ||
        allot__proxy_applies(pv->host))
        return 0; /* libcurl's */
    if (uv_ip4_addr(pv->host, pv->port, (struct sockaddr_in *)&pv->addrs[0]) == 0 ||
        uv_ip6_addr(pv->host, pv->port, (struct sockaddr_in6 *)&pv->addrs[0]) == 0) {
        pv->literal = 1;
        pv->n_addrs = 1;
    }
    pv->pre_len = 5 + strlen(path);
    pv->pre = malloc(pv->pre_len + 1);
    if (!pv->pre)
        return rc;
    snprintf(pv->pre, pv->pre_len + 1, "POST %s", path);
    /* The headers libcurl sent (client.c's list, its User-Agent and
     * default Accept), and Host as written in base_url. */
    allot_buf_init(&mid, 16384);
    if (allot_buf_addf(&mid,
                       " HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: allot/0.1\r\nAccept: */*\r\n"
                       "Content-Type: application/json\r\n",
                       (int)auth_len, p->base_url + 7))
        goto out;
    if (allot_provider_is_anthropic(p) &&
        allot_buf_adds(&mid, "anthropic-version: " ALLOT_ANTHROPIC_VERSION "\r\n"))
        goto out;
    if (p->api_key && p->api_key[0] &&
        allot_buf_addf(&mid,
                       allot_provider_is_anthropic(p) ? "x-api-key: %s\r\n"
                                                      : "Authorization: Bearer %s\r\n",
                       p->api_key))
        goto out;
    if (allot_buf_adds(&mid, "Content-Length: "))
        goto out;
    pv->mid = malloc(mid.len);
    if (!pv->mid)
        goto out;
    memcpy(pv->mid, mid.ptr, mid.len);
    pv->mid_len = mid.len;
    pv->native = 1;
    rc = 0;
out:
    if (mid.ptr)
        explicit_bzero(mid.ptr, mid.len);
    allot_buf_release(&mid);
    return rc;
}

int allot__h1_new(uv_loop_t *loop, const struct allot_config *cfg, struct allot__h1 **out)
{
    struct allot__h1 *h1 = calloc(1, sizeof *h1);
    size_t i;
    int rc = ALLOT_ENOMEM;

    if (!h1)
        return rc;
    h1->loop = loop;
    h1->cfg = cfg;
    h1->pv = calloc(cfg->n_providers ? cfg->n_providers : 1, sizeof *h1->pv);
    if (!h1->pv)
        goto out;
    h1->n_pv = cfg->n_providers;
    for (i = 0; i < cfg->n_providers; i++) {
        h1->pv[i].p = &cfg->providers[i];
        h1->pv[i].h1 = h1;
        if ((rc = provider_setup(&h1->pv[i])))
            goto out;
    }
    uv_idle_init(loop, &h1->idle);
    h1->idle.data = h1;
    h1->handles = 1;
    *out = h1;
    h1 = NULL;
    rc = 0;
out:
    if (h1) {
        h1->closing = 1;
        maybe_free(h1);
    }
    return rc;
}

int allot__h1_serves(const struct allot__h1 *h1, const struct allot_provider *p)
{
    const struct allot_provider *base = h1->cfg->providers;
    return p >= base && p < base + h1->n_pv && h1->pv[p - base].native;
}

/* ---- the API ------------------------------------------------------------- */

static struct h1_xfer *xfer_get(struct h1_provider *pv)
{
    struct allot__h1 *h1 = pv->h1;
    struct h1_xfer *x = pv->free_xfers;

    if (x) {
        pv->free_xfers = x->next;
        x->next = NULL;
        return x;
    }
    x = calloc(1, sizeof *x + pv->pre_len + H1_PATH_MAX + pv->mid_len + 24 +
                      ALLOT_UPSTREAM_EXTRA_MAX + 2);
    if (!x)
        return NULL;
    x->kind = ALLOT__XFER_H1;
    x->pv = pv;
    uv_timer_init(h1->loop, &x->timer);
    x->timer.data = x;
    h1->handles++;
    x->all_next = h1->all;
    h1->all = x;
    return x;
}

int allot__h1_start(struct allot__h1 *h1, const struct allot_upstream_request *req,
                    const struct allot_upstream_callbacks *cb, void *ctx,
                    struct allot_upstream_xfer **out, struct allot_buf *err)
{
    struct h1_provider *pv = &h1->pv[req->model->provider - h1->cfg->providers];
    size_t plen = strlen(req->path);
    struct h1_xfer *x;
    char digits[24];
    size_t nd = 0, len = req->body_len;
    uint64_t now;

    if (plen >= H1_PATH_MAX) {
        allot_buf_addf(err, "upstream '%s': request path too long", pv->p->name);
        return ALLOT_EUPSTREAM;
    }
    if (req->extra_header.len > ALLOT_UPSTREAM_EXTRA_MAX) {
        allot_buf_addf(err, "upstream '%s': extra header too long", pv->p->name);
        return ALLOT_EUPSTREAM;
    }
    x = xfer_get(pv);
    if (!x)
        return ALLOT_ENOMEM;
    if (x->head_fixed == 0 || strcmp(x->path, req->path) != 0) {
        char *h = x->head;
        memcpy(h, pv->pre, pv->pre_len);
        h += pv->pre_len;
        memcpy(h, req->path, plen);
        h += plen;
        memcpy(h, pv->mid, pv->mid_len);
        h += pv->mid_len;
        x->head_fixed = (size_t)(h - x->head);
        memcpy(x->path, req->path, plen + 1);
    }
    do {
        digits[nd++] = (char)('0' + len % 10);
        len /= 10;
    } while (len);
    x->head_len = x->head_fixed;
    while (nd)
        x->head[x->head_len++] = digits[--nd];
    if (req->extra_header.len) { /* after Content-Length: the fixed part ends with it */
        memcpy(x->head + x->head_len, "\r\n", 2);
        memcpy(x->head + x->head_len + 2, req->extra_header.ptr, req->extra_header.len);
        x->head_len += 2 + req->extra_header.len;
    }
    memcpy(x->head + x->head_len, "\r\n\r\n", 4);
    x->head_len += 4;

    h1->active++;
    x->cb = cb;
    x->ctx = ctx;
    x->body = req->body;
    x->body_len = req->body_len;
    x->conn = NULL;
    x->retried = 0;
    x->aborted = 0;
    x->paused = 0;
    x->got_bytes = 0;
    x->head_done = 0;
    x->complete = 0;
    x->received = 0;
    now = now_ms(h1);
    x->start_ms = now;
    x->deadline_ms = now + (uint64_t)pv->p->timeout_ms;
    x->connect_deadline_ms = x->deadline_ms;
    x->state = X_CONNECTING;
    x->in_start = 1;
    *out = (struct allot_upstream_xfer *)(void *)x;
    acquire(x, 0);
    if (x->state == X_EXCHANGING)
        arm_timer(x);
    x->in_start = 0;
    return 0;
}

void allot__h1_cancel(struct allot_upstream_xfer *ux)
{
    struct h1_xfer *x = (struct h1_xfer *)(void *)ux;

    if (!x || x->state == X_FREE)
        return;
    drop_conn(x); /* never pooled: the response was not read to its end */
    recycle(x);
}

void allot__h1_resume(struct allot_upstream_xfer *ux)
{
    struct h1_xfer *x = (struct h1_xfer *)(void *)ux;

    if (!x || x->state != X_EXCHANGING || !x->paused)
        return;
    x->paused = 0;
    x->resume_wanted = 1;
    queue_push(x->pv->h1, x);
}

size_t allot__h1_active(const struct allot__h1 *h1)
{
    return h1 ? h1->active : 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct allot__h1 *h1 = h->data;
    h1->handles--;
    maybe_free(h1);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct h1_xfer *x = h->data;
    struct allot__h1 *h1 = x->pv->h1;
    free(x);
    h1->handles--;
    maybe_free(h1);
}

void allot__h1_free(struct allot__h1 *h1)
{
    struct h1_xfer *x, *next;
    size_t i;

    if (!h1)
        return;
    /* Transfers still running belong to requests being torn down. */
    for (x = h1->all; x; x = x->all_next)
        if (x->state != X_FREE)
            allot__h1_cancel((struct allot_upstream_xfer *)(void *)x);
    h1->closing = 1;
    for (i = 0; i < h1->n_pv; i++) {
        struct h1_provider *pv = &h1->pv[i];
        while (pv->idle)
            conn_close(pv->idle);
        if (pv->resolving)
            uv_cancel((uv_req_t *)&pv->lookup);
    }
    for (x = h1->all; x; x = next) {
        next = x->all_next;
        uv_close((uv_handle_t *)&x->timer, on_timer_closed);
    }
    h1->all = NULL;
    uv_idle_stop(&h1->idle);
    uv_close((uv_handle_t *)&h1->idle, on_handle_closed);
}
