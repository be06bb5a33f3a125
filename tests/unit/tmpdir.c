/* tmpdir.c: scratch directories for the unit tests (see tmpdir.h). Not a
 * test file: the runner links every .c file in tests/unit, and this one only
 * defines the helpers test_ledger.c and test_report.c share. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tmpdir.h"

int tmpdir_make(struct tmpdir *t, const char *tag)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/allot-%.32s-XXXXXX", tag);
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->path, sizeof t->path, "%s/allot.db", t->dir);
    return 0;
}

void tmpdir_remove(struct tmpdir *t)
{
    char p[512];
    struct dirent *de;
    DIR *d = opendir(t->dir);
    if (!d)
        return;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", t->dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(t->dir);
}
