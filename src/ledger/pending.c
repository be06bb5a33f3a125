/* pending.c: the ring of rows not yet committed, in a shared file mapping
 * (pending.h).
 *
 * Positions are logical byte counts that only grow; a record lives at
 * position % cap of the ring and never straddles its end: when the rest of
 * a lap is too short, a wrap record (it takes a sequence number of its
 * own) fills it, or, when fewer than 16 bytes are left, nothing does and
 * both writer and reader skip them. The committed point is kept twice in
 * the head page, written alternately, each copy with a check word, so a
 * kill while one is written leaves the other. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "allot/error.h"
#include "allot/log.h"
#include "allot/pending.h"

#define HEAD_BYTES 4096u
#define REC_HEAD 16u
#define WRAP_LEN 0xFFFFFFFFu
#define MIN_RING (64u << 10)
#define MAX_RING ((size_t)1 << 32)
#define MARK_KEY 0x9E3779B97F4A7C15ull

static const char magic[8] = {'A', 'L', 'L', 'O', 'T', 'P', 'R', '1'};

struct mark {
    uint64_t seq; /* the last committed record */
    uint64_t pos; /* where the record after it starts */
    uint64_t check;
};

struct head {
    char magic[8];
    uint32_t entry_size;
    uint32_t layout;
    uint64_t cap;
    struct mark marks[2];
};

struct rec {
    uint64_t seq; /* written last (release) */
    uint32_t len; /* bytes after the head, or WRAP_LEN */
    uint32_t pad;
};

struct allot_pending {
    char *path;
    int fd;
    unsigned char *map; /* HEAD_BYTES + cap */
    size_t map_len;
    struct head *head;
    unsigned char *ring;
    uint64_t cap;
    size_t entry_size;
    uint64_t write_pos, next_seq;
    uint64_t committed_seq, committed_pos;
    uint64_t replay_seq, replay_pos; /* where an earlier run's records begin */
    uint64_t *ends;                  /* end position of record seq, at seq % n_ends */
    size_t n_ends;
    int next_mark; /* the copy the next commit writes */
};

static uint64_t round8(uint64_t n)
{
    return (n + 7u) & ~(uint64_t)7u;
}

static uint64_t mark_check(const struct mark *m)
{
    return (m->seq * MARK_KEY) ^ m->pos ^ MARK_KEY;
}

static void io_error(struct allot_buf *err, const char *path, const char *what)
{
    if (err)
        allot_buf_addf(err, "pending rows '%s': %s: %s", path, what, strerror(errno));
}

/* The newer valid copy of the committed point; {0, 0} when neither is. */
static struct mark best_mark(const struct head *h, int *which)
{
    struct mark best = {0, 0, 0};
    int i;

    *which = 0;
    for (i = 0; i < 2; i++) {
        struct mark m;
        memcpy(&m, &h->marks[i], sizeof m);
        if (m.check == mark_check(&m) && m.seq >= best.seq) {
            best = m;
            *which = i;
        }
    }
    return best;
}

/* The record at logical position pos, if it is record number want: its
 * length in *len (WRAP_LEN for a wrap). 0 when it is, -1 when not. */
static int read_rec(const struct allot_pending *p, uint64_t pos, uint64_t want, uint32_t *len)
{
    uint64_t phys = pos % p->cap;
    const struct rec *r = (const struct rec *)(const void *)(p->ring + phys);
    uint64_t seq;

    if (p->cap - phys < REC_HEAD)
        return -1;
    seq = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
    if (seq != want)
        return -1;
    *len = r->len;
    if (*len == WRAP_LEN)
        return 0;
    if (*len < p->entry_size || REC_HEAD + round8(*len) > p->cap - phys)
        return -1;
    return 0;
}

/* The position a record of need bytes goes to after pos: pos itself, or
 * the start of the next lap when the rest of this one is too short. */
static uint64_t skip_short_tail(uint64_t cap, uint64_t pos)
{
    uint64_t phys = pos % cap;
    return cap - phys < REC_HEAD ? pos + (cap - phys) : pos;
}

/* Walk the records after the committed point: fn for each (may be NULL).
 * Sets *end_pos and *last_seq to the end of the walk. */
static int walk(struct allot_pending *p, int (*fn)(void *, const struct allot_pending_record *),
                void *ctx, size_t *n, uint64_t *end_pos, uint64_t *last_seq)
{
    uint64_t pos = p->replay_pos, seq = p->replay_seq;
    size_t count = 0;
    int rc = 0;

    for (;;) {
        uint32_t len;
        pos = skip_short_tail(p->cap, pos);
        if (read_rec(p, pos, seq + 1, &len))
            break;
        seq++;
        if (len == WRAP_LEN) {
            pos += p->cap - pos % p->cap;
            if (p->ends)
                p->ends[seq % p->n_ends] = pos;
            continue;
        }
        if (fn) {
            const unsigned char *at = p->ring + pos % p->cap + REC_HEAD;
            struct allot_pending_record r = {seq, at, (const char *)at + p->entry_size,
                                             len - p->entry_size};
            if ((rc = fn(ctx, &r)))
                break;
        }
        count++;
        pos += REC_HEAD + round8(len);
        if (p->ends)
            p->ends[seq % p->n_ends] = pos;
    }
    if (n)
        *n = count;
    if (end_pos)
        *end_pos = pos;
    if (last_seq)
        *last_seq = seq;
    return rc;
}

static int map_file(struct allot_pending *p, size_t len, struct allot_buf *err)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (m == MAP_FAILED) {
        io_error(err, p->path, "mmap");
        return ALLOT_EIO;
    }
    p->map = m;
    p->map_len = len;
    p->head = (struct head *)(void *)p->map;
    p->ring = p->map + HEAD_BYTES;
    return 0;
}

/* A file of this layout: 1; another (or a short or foreign file): 0. */
static int head_fits(const struct head *h, size_t file_len, size_t entry_size, uint32_t layout)
{
    return memcmp(h->magic, magic, sizeof magic) == 0 && h->entry_size == entry_size &&
           h->layout == layout && h->cap >= MIN_RING && h->cap % 4096u == 0 &&
           h->cap + HEAD_BYTES == file_len;
}

static int create_ring(struct allot_pending *p, size_t cap, uint32_t layout, struct allot_buf *err)
{
    struct mark m = {0, 0, 0};
    int rc;

    if (ftruncate(p->fd, 0) != 0 || ftruncate(p->fd, (off_t)(HEAD_BYTES + cap)) != 0) {
        io_error(err, p->path, "cannot size the file");
        return ALLOT_EIO;
    }
    if ((rc = map_file(p, HEAD_BYTES + cap, err)))
        return rc;
    memset(p->head, 0, sizeof *p->head);
    p->head->entry_size = (uint32_t)p->entry_size;
    p->head->layout = layout;
    p->head->cap = cap;
    m.check = mark_check(&m);
    p->head->marks[0] = m;
    p->head->marks[1] = m;
    memcpy(p->head->magic, magic, sizeof magic); /* last: a half-made file is foreign */
    return 0;
}

int allot_pending_open(const char *path, size_t entry_size, uint32_t layout, size_t ring_bytes,
                       struct allot_pending **out, struct allot_buf *err)
{
    struct allot_pending *p = calloc(1, sizeof *p);
    struct stat st;
    struct mark m;
    size_t cap = ring_bytes < MIN_RING ? MIN_RING : ring_bytes;
    int rc = ALLOT_EIO, fresh = 0, which;

    *out = NULL;
    if (!p || !(p->path = strdup(path))) {
        rc = ALLOT_ENOMEM;
        goto fail;
    }
    p->fd = -1;
    p->entry_size = entry_size;
    cap = cap > MAX_RING ? MAX_RING : (cap + 4095u) & ~(size_t)4095u;
    p->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (p->fd < 0) {
        io_error(err, path, "cannot open");
        goto fail;
    }
    if (flock(p->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            rc = ALLOT_EBUSY;
            if (err)
                allot_buf_addf(err,
                               "pending rows '%s': in use by another allot process writing the "
                               "same ledger",
                               path);
        } else {
            io_error(err, path, "cannot lock");
        }
        goto fail;
    }
    if (fstat(p->fd, &st) != 0) {
        io_error(err, path, "cannot stat");
        goto fail;
    }
    if (st.st_size == 0) {
        fresh = 1;
    } else if ((size_t)st.st_size >= HEAD_BYTES + MIN_RING &&
               (rc = map_file(p, (size_t)st.st_size, err)) == 0 &&
               head_fits(p->head, (size_t)st.st_size, entry_size, layout)) {
        fresh = 0;
    } else {
        char stale[4096];
        if (p->map) {
            munmap(p->map, p->map_len);
            p->map = NULL;
        }
        snprintf(stale, sizeof stale, "%s.stale", path);
        allot_log_warn("pending rows '%s': written by another version of allot (or damaged); "
                       "kept as '%s', not replayed",
                       path, stale);
        if (rename(path, stale) != 0) {
            io_error(err, path, "cannot set the old file aside");
            rc = ALLOT_EIO;
            goto fail;
        }
        fresh = 1; /* the lock and the descriptor follow the renamed file */
        close(p->fd);
        p->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (p->fd < 0 || flock(p->fd, LOCK_EX | LOCK_NB) != 0) {
            io_error(err, path, "cannot open a new file");
            rc = ALLOT_EIO;
            goto fail;
        }
    }
    if (fresh && (rc = create_ring(p, cap, layout, err)))
        goto fail;
    p->cap = p->head->cap;
    m = best_mark(p->head, &which);
    p->next_mark = !which;
    p->committed_seq = p->replay_seq = m.seq;
    p->committed_pos = p->replay_pos = m.pos;
    /* Records are at least a head and an entry; a wrap record per lap. */
    p->n_ends = (size_t)(p->cap / round8(REC_HEAD + entry_size)) + 4;
    if (!(p->ends = calloc(p->n_ends, sizeof *p->ends))) {
        rc = ALLOT_ENOMEM;
        goto fail;
    }
    walk(p, NULL, NULL, NULL, &p->write_pos, &p->next_seq);
    p->next_seq++;
    *out = p;
    return 0;
fail:
    allot_pending_close(p);
    return rc;
}

int allot_pending_replay(struct allot_pending *p,
                         int (*fn)(void *ctx, const struct allot_pending_record *r), void *ctx,
                         size_t *n)
{
    return walk(p, fn, ctx, n, NULL, NULL);
}

/* Write record head seq/len at logical position pos; seq last. */
static void put_head(struct allot_pending *p, uint64_t pos, uint64_t seq, uint32_t len)
{
    struct rec *r = (struct rec *)(void *)(p->ring + pos % p->cap);
    r->len = len;
    r->pad = 0;
    __atomic_store_n(&r->seq, seq, __ATOMIC_RELEASE);
}

uint64_t allot_pending_put(struct allot_pending *p, const void *entry, const char *extra,
                           size_t extra_len)
{
    uint64_t len = (uint64_t)p->entry_size + extra_len, need = REC_HEAD + round8(len);
    uint64_t pos = skip_short_tail(p->cap, p->write_pos), tail, seq;
    unsigned char *at;

    if (len >= WRAP_LEN || need > p->cap)
        return 0;
    tail = p->cap - pos % p->cap;
    if (tail < need) { /* a wrap record, then the record at the next lap's start */
        if (pos + tail + need - p->committed_pos > p->cap)
            return 0;
        seq = p->next_seq++;
        put_head(p, pos, seq, WRAP_LEN);
        pos += tail;
        p->ends[seq % p->n_ends] = pos;
    } else if (pos + need - p->committed_pos > p->cap) {
        return 0;
    }
    at = p->ring + pos % p->cap + REC_HEAD;
    memcpy(at, entry, p->entry_size);
    if (extra_len)
        memcpy(at + p->entry_size, extra, extra_len);
    seq = p->next_seq++;
    put_head(p, pos, seq, (uint32_t)len);
    p->write_pos = pos + need;
    p->ends[seq % p->n_ends] = p->write_pos;
    return seq;
}

void allot_pending_committed(struct allot_pending *p, uint64_t seq)
{
    struct mark m;

    /* Only records still pending are in the table of ends: the ring holds
     * fewer than n_ends of them. */
    if (seq <= p->committed_seq || seq >= p->next_seq || p->next_seq - seq > p->n_ends)
        return;
    m.seq = seq;
    m.pos = p->ends[seq % p->n_ends];
    m.check = mark_check(&m);
    memcpy(&p->head->marks[p->next_mark], &m, sizeof m);
    p->next_mark = !p->next_mark;
    p->committed_seq = seq;
    p->committed_pos = m.pos;
}

uint64_t allot_pending_last_seq(const struct allot_pending *p)
{
    return p->next_seq - 1;
}

void allot_pending_close(struct allot_pending *p)
{
    if (!p)
        return;
    if (p->map)
        munmap(p->map, p->map_len);
    if (p->fd >= 0)
        close(p->fd); /* releases the lock */
    free(p->ends);
    free(p->path);
    free(p);
}
