/* pending.h: ledger rows written but not yet committed, kept where a
 * killed process cannot lose them.
 *
 * DESIGN: the ledger commits rows in batches (store.commit_ms), so a
 * request whose answer the client already has may not be in the store
 * yet. Before the answer is sent, its row is copied into a ring in a file
 * mapped MAP_SHARED (FILE.pending next to the store): the copy is a memcpy,
 * no system call, and the bytes live in the kernel's page cache from that
 * moment, so a SIGKILL (or a crash) right after the answer loses nothing.
 * When the batch holding a row is committed, its space is released. The
 * next open of the same store replays what was never committed. A power
 * cut may lose the ring's last writes, as it may lose the store's
 * (SQLite's synchronous=NORMAL).
 *
 * A record is a 16-byte head (sequence number, length) and the row's
 * bytes; the sequence number is stored last, with release order, so a
 * record cut by a kill is never taken as whole, and the numbers only grow,
 * so a stale record of an earlier lap is never taken as new. The file's
 * first page holds the layout (entry size and version: a file written by
 * another layout is set aside, never misread) and the committed point.
 *
 * Thread-safety: none; the caller serializes every call on one object (the
 * ledger holds its queue mutex). Errors: ALLOT_EIO with "pending rows
 * 'PATH': why" in err, ALLOT_ENOMEM. */
#ifndef ALLOT_PENDING_H
#define ALLOT_PENDING_H
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"

struct allot_pending;

/* What one record of the ring points to while it is replayed: the fixed
 * part (entry_size bytes) and the variable tail (extra_len bytes). */
struct allot_pending_record {
    uint64_t seq;
    const void *entry;
    const char *extra;
    size_t extra_len;
};

/* Open or create the ring at path with room for ring_bytes of records
 * (rounded up to pages; at least 64 KiB). entry_size and layout describe
 * the rows: a file made with other values is renamed PATH.stale and a new
 * one made (a warning is logged). Another live process's ring (the file is
 * locked) gives ALLOT_EBUSY. */
int allot_pending_open(const char *path, size_t entry_size, uint32_t layout, size_t ring_bytes,
                       struct allot_pending **out, struct allot_buf *err);

/* The records an earlier run left uncommitted, oldest first: fn is called
 * for each (its return value, when nonzero, stops the walk and is
 * returned). They stay pending until allot_pending_committed() passes
 * them. *n gets the number visited. */
int allot_pending_replay(struct allot_pending *p,
                         int (*fn)(void *ctx, const struct allot_pending_record *r), void *ctx,
                         size_t *n);

/* Copy a row in: entry_size bytes of entry and extra_len bytes of extra.
 * Returns its sequence number (> 0), or 0 when the ring has no room (the
 * rows before it are not committed yet) or the row is larger than the ring:
 * the caller keeps the row anyway, only not safe from a kill. */
uint64_t allot_pending_put(struct allot_pending *p, const void *entry, const char *extra,
                           size_t extra_len);

/* Every record up to and including seq is in the store: its space may be
 * reused and a later open will not replay it. */
void allot_pending_committed(struct allot_pending *p, uint64_t seq);

/* The last sequence number given out (0 before the first). */
uint64_t allot_pending_last_seq(const struct allot_pending *p);

/* Unmap and close. The file stays: it holds the committed point. */
void allot_pending_close(struct allot_pending *p);

#endif
