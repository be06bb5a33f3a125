/* fuzz_http_server.c: libFuzzer target for the HTTP server's connection
 * path: parsing, limits, dispatch, pipelining, responses and teardown.
 *
 * Each input is written into one end of a socketpair whose other end the
 * server adopts as an accepted connection (allot__http_server_adopt), in
 * segments whose size the first byte picks, with the loop run between
 * segments; then the write side is shut. The handler answers by the first
 * letter of the path: /c chunked, /d after a timer, /s a chunked stream
 * ended by a timer, /a allot_http_abort, anything else an echo. Bit 6 of
 * the first byte turns CORS on (origins https://a.example and "*"), so
 * preflights are answered by the server itself. Oracles:
 * ASan/UBSan, no leak, the connection always ends, nothing stays in
 * flight, and everything the server wrote parses as HTTP responses.
 *
 * Fuzz: clang -fsanitize=fuzzer,address,undefined with the sources of
 * src/http and src/util, -dict=tests/fuzz/http_server.dict, corpus
 * tests/fuzz/corpus/http_server/. tests/fuzz/replay.sh replays the corpus
 * with replay.c under ASan+UBSan. FUZZ_VERBOSE=1 prints what the server
 * wrote for each input. */
#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "allot/http_server.h"
#include "http/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 65536

struct fuzz {
    uv_loop_t loop;
    struct allot_http_server *srv;
    uv_poll_t poll; /* the client end: drained as the server writes */
    int fd;
    int saw_head; /* HEAD responses have no body: the oracle cannot tell */
    char *out;    /* everything the server wrote */
    size_t out_len, out_cap;
};

struct job {
    uv_timer_t timer;
    struct allot_http_request *req;
    int kind;
};

static void job_closed(uv_handle_t *h)
{
    free(h->data);
}

static void job_fire(uv_timer_t *t)
{
    struct job *j = t->data;
    struct allot_http_request *req = j->req;

    req->user = NULL;
    uv_close((uv_handle_t *)&j->timer, job_closed);
    if (j->kind == 's') {
        allot_http_chunk(req, "tail", 4);
        allot_http_chunked_end(req);
    } else {
        allot_http_respond(req, 202, NULL, 0, req->body.ptr, req->body.len);
    }
}

static void on_request(struct allot_http_request *req, void *ctx)
{
    static const struct allot_http_header h[] = {
        {ALLOT_SLICE_LIT("Content-Type"), ALLOT_SLICE_LIT("text/plain")},
    };
    struct fuzz *f = ctx;
    char kind = req->path.len > 1 ? req->path.ptr[1] : 0;
    struct allot_slice v;
    struct job *j;
    char out[128];
    int n;

    if (req->method == HTTP_HEAD)
        f->saw_head = 1;
    switch (kind) {
    case 'c':
        allot_http_chunked_start(req, 200, h, 1);
        if (req->body.len)
            allot_http_chunk(req, req->body.ptr, req->body.len);
        allot_http_chunk(req, "x", 1);
        allot_http_chunked_end(req);
        break;
    case 'd':
    case 's':
        j = calloc(1, sizeof *j);
        if (!j)
            abort();
        j->req = req;
        j->kind = kind;
        uv_timer_init(&f->loop, &j->timer);
        j->timer.data = j;
        req->user = j;
        if (kind == 's' && allot_http_chunked_start(req, 200, h, 1) == 0)
            allot_http_chunk(req, "head", 4);
        uv_timer_start(&j->timer, job_fire, 1, 0);
        break;
    case 'a':
        allot_http_abort(req);
        break;
    default:
        v = allot_http_request_header(req, "x-echo");
        n = snprintf(out, sizeof out, "%zu headers, %zu body bytes, x-echo %zu", req->n_headers,
                     req->body.len, v.len);
        allot_http_respond(req, 200, h, 1, out, (size_t)n);
        break;
    }
}

static void on_abort(struct allot_http_request *req, void *ctx)
{
    struct job *j = req->user;
    (void)ctx;
    if (j)
        uv_close((uv_handle_t *)&j->timer, job_closed);
}

static void format_error(struct allot_slice path, int status, const char *message,
                         struct allot_buf *out, void *ctx)
{
    (void)ctx;
    allot_buf_addf(out, "%d %.*s %s", status, (int)path.len, path.ptr, message);
}

static void drain(struct fuzz *f)
{
    for (;;) {
        ssize_t r;
        if (f->out_cap - f->out_len < 4096) {
            f->out_cap = f->out_cap * 2 + 65536;
            f->out = realloc(f->out, f->out_cap);
            if (!f->out)
                abort();
        }
        r = recv(f->fd, f->out + f->out_len, f->out_cap - f->out_len, 0);
        if (r <= 0)
            return;
        f->out_len += (size_t)r;
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    drain(p->data);
}

/* Whatever the server wrote must parse as a sequence of responses. */
static void check_output(const struct fuzz *f)
{
    llhttp_t p;
    llhttp_settings_t s;
    llhttp_errno_t e;

    if (f->saw_head || f->out_len == 0)
        return;
    llhttp_settings_init(&s);
    llhttp_init(&p, HTTP_RESPONSE, &s);
    e = llhttp_execute(&p, f->out, f->out_len);
    if (e != HPE_OK) {
        fprintf(stderr, "server wrote an unparsable response (%s: %s at %zu): %.*s\n",
                llhttp_errno_name(e), llhttp_get_error_reason(&p),
                (size_t)(llhttp_get_error_pos(&p) - f->out), (int)f->out_len, f->out);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *const origins[] = {"https://a.example", "*"};
    static const struct allot_http_limits plain = {
        .max_header_bytes = 512,
        .max_body_bytes = 2048,
        .header_timeout_ms = 1000,
        .idle_timeout_ms = 1000,
    };
    static const struct allot_http_limits cors = {
        .max_header_bytes = 512,
        .max_body_bytes = 2048,
        .header_timeout_ms = 1000,
        .idle_timeout_ms = 1000,
        .cors_origins = origins,
        .n_cors_origins = 2,
    };
    /* bit 6 of byte 0: CORS on (preflights answered by the server) */
    const struct allot_http_limits *limits = data[0] & 0x40 ? &cors : &plain;
    struct allot_http_handler h = {on_request, on_abort, NULL, NULL, NULL, NULL};
    struct fuzz f;
    size_t off = 1, seg;
    int sv[2], spins;

    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    memset(&f, 0, sizeof f);
    h.ctx = &f;
    if (data[0] & 0x80)
        h.format_error = format_error;
    seg = (data[0] & 15) ? (size_t)(data[0] & 15) * 7 : size;
    if (uv_loop_init(&f.loop))
        abort();
    if (allot_http_server_new(&f.loop, "127.0.0.1", 0, limits, &h, &f.srv, NULL))
        abort();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        abort();
    f.fd = sv[1];
    fcntl(f.fd, F_SETFL, fcntl(f.fd, F_GETFL) | O_NONBLOCK);
    if (allot__http_server_adopt(f.srv, sv[0]))
        abort();
    uv_poll_init(&f.loop, &f.poll, f.fd);
    f.poll.data = &f;
    uv_poll_start(&f.poll, UV_READABLE, on_poll);

    while (off < size) {
        size_t n = size - off < seg ? size - off : seg;
        ssize_t w = send(f.fd, data + off, n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN)
            break; /* the server closed */
        if (w > 0)
            off += (size_t)w;
        uv_run(&f.loop, UV_RUN_NOWAIT);
        drain(&f);
    }
    shutdown(f.fd, SHUT_WR);
    for (spins = 0; allot__http_server_n_conns(f.srv) > 0; spins++) {
        if (spins > 100000) {
            fprintf(stderr, "connection never ended\n");
            abort();
        }
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    if (allot_http_server_inflight(f.srv) != 0) {
        fprintf(stderr, "requests still in flight after the connection ended\n");
        abort();
    }
    drain(&f);
    uv_close((uv_handle_t *)&f.poll, NULL);
    allot_http_server_close(f.srv, NULL, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&f.loop))
        abort();
    close(f.fd);
    if (getenv("FUZZ_VERBOSE")) /* for debugging a replayed input */
        fprintf(stderr, "---- %zu bytes in, %zu out:\n%.*s\n", size, f.out_len, (int)f.out_len,
                f.out);
    check_output(&f);
    free(f.out);
    return 0;
}
