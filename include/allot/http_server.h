/* http_server.h: an HTTP/1.1 server on a libuv loop.
 *
 * One server per event loop; with several loops, each binds the same
 * address with SO_REUSEPORT and the kernel spreads connections. Requests
 * are parsed with llhttp (Node.js's parser; Debian's node-llhttp). Keep-alive and
 * pipelining: a connection carries one request at a time; bytes of a
 * pipelined next request wait, parsed, until the current response ends, so
 * responses leave in request order.
 *
 * Limits (all enforced by the server before the handler sees anything):
 * a head larger than max_header_bytes gets 431, a body larger than
 * max_body_bytes gets 413 (from Content-Length before reading, or while
 * reading a chunked body), malformed HTTP gets 400; each is followed by
 * closing the connection. A head not complete within header_timeout_ms and
 * a keep-alive connection idle for idle_timeout_ms are closed.
 *
 * Connection limit: with max_connections set, a connection accepted while
 * that many are open is answered 503 with code "too_many_connections" and
 * closed; the handler never sees it. Accepting and refusing (rather than
 * leaving connections in the kernel's backlog until one closes) tells the
 * client at once that the gateway is full, so it can back off or go
 * elsewhere, instead of waiting on a connect that looks healthy; the
 * listener also keeps draining the backlog, so the kernel never starts
 * dropping SYNs. Refused connections hold a file descriptor only briefly:
 * at most 64 of them linger (up to 2 s, so the client
 * reads the 503 rather than a reset); beyond that they are closed right
 * after a best-effort write of the 503. They do not count toward the limit.
 *
 * Send timeout: while a connection has response bytes queued that the
 * client is not taking (it stopped reading), the connection is closed once
 * no byte has left for send_timeout_ms; a request still in flight gets
 * on_abort, as for any disconnect. A slow but reading client is not cut
 * off: any progress restarts the clock.
 *
 * Ownership: the server owns connections and requests. A request is valid
 * from on_request until the handler finishes its response
 * (allot_http_respond or allot_http_chunked_end) or until on_abort returns,
 * whichever is first; after that the handler must not touch it.
 * All functions must be called on the server's loop thread. */
#ifndef ALLOT_HTTP_SERVER_H
#define ALLOT_HTTP_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "allot/buf.h"
#include "allot/slice.h"

#define ALLOT_HTTP_MAX_HEADERS 64

struct allot_http_server;
struct allot_http_conn;

struct allot_http_header {
    struct allot_slice name;
    struct allot_slice value;
};

struct allot_http_request {
    struct allot_http_conn *conn;
    int method;               /* enum llhttp_method of llhttp.h */
    struct allot_slice path;  /* without the query string */
    struct allot_slice query; /* after '?', may be empty */
    struct allot_http_header headers[ALLOT_HTTP_MAX_HEADERS];
    size_t n_headers;
    struct allot_buf body; /* the whole request body, NUL-terminated (ptr never NULL) */
    int keep_alive;        /* the client allows another request after this; the
                            * handler may set 0 before answering to close after */
    uint64_t start_us;     /* allot_clock_mono_us() when the head began */
    void *user;            /* free for the handler */
    int tag;               /* free for the handler: on_head may set it; 0 at each head */
};

/* What on_head fills in to refuse a request before its body is read. */
struct allot_http_refusal {
    int status;                     /* 0: go on */
    const char *code;               /* the error's code (static text); NULL: by status */
    struct allot_http_header extra; /* one more response header (static text); NULL: none */
    char message[256];
};

/* A field left 0 takes a default: 32 KiB head, 16 MiB body, 10 s head
 * timeout, 60 s idle timeout, no connection limit, 60 s send timeout.
 * limits may be NULL for all defaults. */
struct allot_http_limits {
    size_t max_header_bytes;
    size_t max_body_bytes;
    long header_timeout_ms;
    long idle_timeout_ms;
    size_t max_connections; /* open connections per server; 0 = unlimited */
    long send_timeout_ms;   /* queued response bytes making no progress */
    /* CORS: the origins (a page's "scheme://host[:port]", or "*" for any
     * but the opaque "null") whose requests get Access-Control-Allow-Origin (echoed),
     * Vary: Origin and Access-Control-Expose-Headers: *, and whose
     * preflights (OPTIONS with Access-Control-Request-Method) the server
     * answers itself, before on_head: 204 with the methods and the headers
     * asked for, or 403 for an origin not listed. None: no CORS at all.
     * The strings must outlive the server. */
    char *const *cors_origins;
    size_t n_cors_origins;
};

struct allot_http_handler {
    /* A whole request (head and body) has arrived. The handler answers now
     * or later, on this loop. */
    void (*on_request)(struct allot_http_request *req, void *ctx);
    /* The connection died before the response was finished (the client
     * went away, or a write failed). The handler drops everything it holds
     * for req; req is freed after this returns. May be NULL. Called from
     * the loop, never from inside a call into this API: after ALLOT_EIO
     * from allot_http_chunked_start or allot_http_chunk it still follows,
     * unless the handler ends the request first. */
    void (*on_abort)(struct allot_http_request *req, void *ctx);
    /* A chunked response's write queue has drained below the low-water
     * mark after allot_http_chunk returned 1. May be NULL. */
    void (*on_drain)(struct allot_http_request *req, void *ctx);
    /* Writes the body of a server-generated error (400, 404 for bad paths
     * is the handler's job; this is for 400/413/431/408/503). When NULL, or
     * when it leaves out empty, the server writes an OpenAI-style
     * {"error":{...}} body. */
    void (*format_error)(struct allot_slice path, int status, const char *message,
                         struct allot_buf *out, void *ctx);
    void *ctx;
    /* A request's head (method, path, headers) has arrived, its body not
     * yet read. Setting refuse->status refuses it: the server answers as
     * for its own errors (format_error, else an OpenAI-style body with
     * refuse->code), adds refuse->extra, reads none of the body and closes
     * the connection. So a caller the handler turns away (no credentials)
     * never makes the server hold a body. May be NULL. */
    void (*on_head)(struct allot_http_request *req, void *ctx, struct allot_http_refusal *refuse);
};

/* Bind host:port with SO_REUSEPORT and listen on loop. port 0 picks a free
 * port (see allot_http_server_port). On failure returns ALLOT_EIO and
 * writes "cannot listen on HOST:PORT: reason" to err. */
int allot_http_server_new(uv_loop_t *loop, const char *host, int port,
                          const struct allot_http_limits *limits,
                          const struct allot_http_handler *handler, struct allot_http_server **out,
                          struct allot_buf *err);

/* The port actually bound. */
int allot_http_server_port(const struct allot_http_server *s);

/* Stop accepting: the connections the kernel has already queued on the
 * listener are accepted first (closing it would reset them), then it
 * closes. From now on every response ends its connection (keep-alive is
 * off), so a client busy on a connection gets its answer with
 * "Connection: close" and opens its next connection elsewhere (another
 * process on the same port: a rolling restart). Idle connections stay
 * open until allot_http_server_close_idle(): closing one while its client
 * is sending would fail that request. */
void allot_http_server_stop_accepting(struct allot_http_server *s);

/* Close the connections that have no request in progress (after
 * stop_accepting, once clients have had a moment to use them). */
void allot_http_server_close_idle(struct allot_http_server *s);

/* Requests received and not yet finished or aborted. */
size_t allot_http_server_inflight(const struct allot_http_server *s);

/* Close every connection now (in-flight requests get on_abort) and free
 * the server once libuv has closed all handles; the loop must keep running
 * until then. done_cb (may be NULL) is called when everything is freed. */
void allot_http_server_close(struct allot_http_server *s, void (*done_cb)(void *arg), void *arg);

/* Value of a request header (case-insensitive name); {NULL,0} when absent. */
struct allot_slice allot_http_request_header(const struct allot_http_request *req,
                                             const char *name);

/* Send a complete response with Content-Length. The server adds Date,
 * Content-Length and Connection. headers may be NULL when n_headers is 0;
 * handler headers named Date, Content-Length, Connection or
 * Transfer-Encoding, or holding CR or LF, are dropped. The body is copied
 * (not sent for HEAD, 1xx, 204, 304). Ends the request. Returns 0, or
 * ALLOT_EIO when the connection is already gone (the request is ended all
 * the same); ALLOT_EINVAL inside on_abort. */
int allot_http_respond(struct allot_http_request *req, int status,
                       const struct allot_http_header *headers, size_t n_headers, const char *body,
                       size_t body_len);

/* Start a chunked response: sends the head with Transfer-Encoding: chunked
 * (plus Date and Connection). */
int allot_http_chunked_start(struct allot_http_request *req, int status,
                             const struct allot_http_header *headers, size_t n_headers);
/* Send one chunk (copied; n may not be 0). Returns 0, 1 when the write
 * queue is above the high-water mark (the caller should pause its source
 * until on_drain), or ALLOT_EIO when the connection is gone. */
int allot_http_chunk(struct allot_http_request *req, const char *p, size_t n);
/* Send the last chunk. Ends the request. */
int allot_http_chunked_end(struct allot_http_request *req);

/* Close the connection now without finishing the response: a chunked
 * response is left without its terminating chunk, and a request not yet
 * answered gets no response at all, so the peer sees a cut transfer. Bytes
 * already queued are flushed first where possible. Ends the request;
 * on_abort is not called for it. (Used by the fake upstream to simulate a
 * model server dying mid-stream.) */
void allot_http_abort(struct allot_http_request *req);

/* The name of a request's method ("POST"), "UNKNOWN" for a value that is
 * none; the reason phrase of a status ("Not Found"), "Unknown" for one
 * not registered. Static strings; never fail. */
const char *allot_http_method_name(int method);
const char *allot_http_reason(int status);

#endif
