/* tmpdir.h: a scratch directory under /tmp for tests that need files (the
 * ledger's SQLite database, reports read from it). */
#ifndef ALLOT_TEST_TMPDIR_H
#define ALLOT_TEST_TMPDIR_H

struct tmpdir {
    char dir[64];   /* /tmp/allot-TAG-XXXXXX */
    char path[128]; /* DIR/allot.db, a database file name in it (not created) */
};

/* Create a fresh directory /tmp/allot-TAG-XXXXXX (TAG names the test file,
 * at most 32 characters) and set t's names. 0, or -1 when mkdtemp fails. */
int tmpdir_make(struct tmpdir *t, const char *tag);
/* Delete the files in the directory (SQLite's -wal and -shm too), then the
 * directory. Not recursive: tests make no subdirectories. */
void tmpdir_remove(struct tmpdir *t);

#endif
