/* internal.h: the HTTP server's shared state, between server.c (listener
 * and lifecycle), conn.c (reading, parsing, dispatch, timers) and
 * respond.c (responses and writes). See server.c for the design.
 * Not part of the public API (allot__ prefix); tests and the fuzzer use
 * allot__http_server_adopt and allot__http_server_n_conns. */
#ifndef ALLOT_HTTP_INTERNAL_H
#define ALLOT_HTTP_INTERNAL_H
#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>
#include "allot/deadline.h"
#include "allot/buf.h"
#include "allot/http_server.h"

#define READ_BUF_SIZE 65536          /* the per-server read buffer */
#define RBUF_MAX 65536               /* unparsed bytes kept per connection */
#define RBUF_READ_STEP 16384         /* read size into the connection buffer */
#define WRITE_HIGH_WATER (1u << 20)  /* allot_http_chunk returns 1 above */
#define WRITE_LOW_WATER (256u << 10) /* on_drain once below, after that */
#define LINGER_MS 2000               /* reading after an error response */
#define KEEP_BUF_MAX (64u << 10)     /* larger buffers are freed between requests */
#define FREE_WREQS_MAX 32            /* write requests kept for reuse */
#define WREQ_KEEP_MAX (128u << 10)   /* larger write buffers are not kept */
#define RESPONSE_MAX ((size_t)1 << 30)
#define ERROR_BODY_MAX 65536
#define BODY_PREALLOC_MAX (1u << 20) /* trust Content-Length this far */
#define DEFAULT_MAX_HEADER_BYTES 32768
#define DEFAULT_MAX_BODY_BYTES (16u << 20)
#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_MS 60000
#define DEFAULT_SEND_TIMEOUT_MS 60000
#define REFUSED_LINGER_MAX 64 /* refused connections left to read their 503 */

enum conn_state {
    CONN_IDLE,         /* between requests: no byte of the next one yet */
    CONN_READING_HEAD, /* request line and headers arriving */
    CONN_READING_BODY, /* body arriving */
    CONN_HANDLING,     /* the handler owns the request; parser paused */
    CONN_WRITING,      /* the handler ended the response; writes pending */
    CONN_LINGERING,    /* an error response went out; draining input */
    CONN_CLOSING,      /* uv_close called; freed in the close callback */
};

enum last_header_cb { CB_NONE, CB_FIELD, CB_VALUE };

/* A uv_write whose bytes the server owns. Kept on a freelist. */
struct wreq {
    uv_write_t req;
    struct allot_http_conn *conn;
    struct allot_buf data;
    struct wreq *next;
};

struct allot_http_conn {
    uv_tcp_t tcp;                   /* first: the handle's address is the connection's */
    uv_timer_t timer;               /* fires for the deadline of the current state */
    struct allot_deadline deadline; /* that deadline (deadline.h) */
    uv_shutdown_t shutdown;
    struct allot_http_server *server;
    struct allot_http_conn *prev, *next; /* server->conns */
    struct allot_http_conn *resume_next; /* server->resume_head */
    enum conn_state state;
    llhttp_t parser;
    struct allot_buf rbuf; /* received, not yet parsed (pipelined) */
    struct allot_buf head; /* URL, then header names and values */
    size_t url_len;        /* the URL is head[0, url_len) */
    size_t name_off[ALLOT_HTTP_MAX_HEADERS], value_off[ALLOT_HTTP_MAX_HEADERS];
    enum last_header_cb last_cb;
    struct allot_http_request req;
    unsigned n_writes;  /* our uv_writes not yet called back */
    uint64_t wq_added;  /* bytes ever handed to uv_write on this connection */
    uint64_t sent_mark; /* wq_added minus queued bytes when the send deadline was armed */
    int handles_open;   /* tcp and timer until both are closed */
    int fail_status;    /* set by a parser callback that refused */
    char fail_msg[256];
    const char *fail_code;               /* the refusal's error code (on_head); NULL: none */
    struct allot_http_header fail_extra; /* the refusal's extra header; name.ptr NULL: none */
    unsigned req_live : 1;               /* handed to the handler, not yet ended */
    unsigned in_dispatch : 1;            /* inside on_request */
    unsigned reading : 1;                /* uv_read_start is in effect */
    unsigned resume_queued : 1;          /* on server->resume_head */
    unsigned http10 : 1;                 /* the request was HTTP/1.0 */
    unsigned is_head : 1;                /* HEAD request */
    unsigned no_body : 1;                /* the response must carry no body */
    unsigned chunked_resp : 1;           /* allot_http_chunked_start was called */
    unsigned raw_resp : 1;               /* chunked for HTTP/1.0: unframed, ends with close */
    unsigned want_drain : 1;             /* allot_http_chunk returned 1 */
    unsigned peer_eof : 1;               /* the client half-closed while we wrote */
    unsigned cut : 1;                    /* allot_http_abort: flush briefly, then close */
    unsigned refused : 1;                /* over max_connections: a 503, then close */
    unsigned preflight : 1;              /* a CORS preflight: answered by the server */
    unsigned head_done : 1;              /* the request's head is parsed */
    unsigned closing : 1;
};

struct allot_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_idle_t resume_idle; /* runs conn_resume for server->resume_head */
    struct allot_http_limits limits;
    struct allot_http_handler handler;
    int port;
    int listening;
    int stopping; /* stop_accepting was called: no more keep-alive */
    int closing;  /* allot_http_server_close was called */
    size_t inflight;
    size_t n_handles; /* listener, resume_idle, each connection */
    size_t n_conns;
    size_t n_refused; /* of n_conns: refused over max_connections */
    struct allot_http_conn *conns;
    struct allot_http_conn *resume_head, *resume_tail;
    struct wreq *free_wreqs;
    size_t n_free_wreqs;
    struct allot_buf scratch; /* a response head being built */
    time_t date_sec;
    char date[40]; /* IMF-fixdate of date_sec */
    void (*done_cb)(void *arg);
    void *done_arg;
    char read_buf[READ_BUF_SIZE];
};

/* ---- respond.c: CORS ---- */

/* The request's Origin when limits.cors_origins admits it, else {NULL, 0}.
 * Only after its head was parsed. */
struct allot_slice allot__http_cors_origin(const struct allot_http_conn *c);
/* Answer a CORS preflight (c->preflight) in place of the handler. */
void allot__http_preflight(struct allot_http_conn *c);

/* ---- server.c ---- */

/* Serve an already-connected stream socket fd (a socketpair end in the
 * fuzzer) as if it had been accepted. The server owns fd afterwards, also
 * on failure. Returns 0, ALLOT_ENOMEM or ALLOT_EIO. */
int allot__http_server_adopt(struct allot_http_server *s, int fd);
/* Connections not yet freed (closing ones included). */
size_t allot__http_server_n_conns(const struct allot_http_server *s);
/* A connection was freed: frees the server too when it is closing and
 * that was its last handle. */
void allot__http_server_conn_freed(struct allot_http_server *s);

/* ---- conn.c ---- */

/* A connection in state IDLE with its handles initialised and linked into
 * s; NULL on ENOMEM. The caller accepts or opens the socket, then calls
 * allot__http_conn_start (which arms the header timer and starts reading). */
struct allot_http_conn *allot__http_conn_new(struct allot_http_server *s);
void allot__http_conn_start(struct allot_http_conn *c);
/* uv_close both handles; freed (and on_abort called for a request still
 * with the handler) in the close callback. Idempotent. */
void allot__http_conn_close(struct allot_http_conn *c);
/* Resume reading when it had stopped. */
void allot__http_conn_read_start(struct allot_http_conn *c);
/* Arm the connection's single timer; ms <= 0 disarms it. */
void allot__http_conn_timer_set(struct allot_http_conn *c, long ms);
/* The response's writes are done: close, or wait for the next request. */
void allot__http_response_done(struct allot_http_conn *c);

/* ---- respond.c ---- */

/* Send bufs in order after anything already queued. Returns 0, or
 * ALLOT_EIO / ALLOT_ENOMEM with the connection closing. */
int allot__http_conn_write(struct allot_http_conn *c, const uv_buf_t *bufs, unsigned nbufs);
/* Answer with a server-generated error (400/408/413/431/503) and close. */
void allot__http_conn_fail(struct allot_http_conn *c, int status, const char *message);
/* Arm the send deadline: some queued byte must leave within
 * send_timeout_ms. Used while a response has writes pending. */
void allot__http_send_deadline(struct allot_http_conn *c);
/* The send deadline passed: when bytes left since it was armed, re-arm it
 * and return 1; return 0 when the client took nothing (stalled). */
int allot__http_send_progressed(struct allot_http_conn *c);
/* Free the server's write-request freelist and scratch buffer. */
void allot__http_server_release_writes(struct allot_http_server *s);

#endif
