/* test_store_url.c: telling a PostgreSQL URL from a SQLite path, and
 * never showing a password (store_url.h). */
#include <stdio.h>
#include <string.h>
#include "allot/store_url.h"
#include "test.h"

TEST(store_url_detects_postgres_by_scheme)
{
    ASSERT_INT_EQ(allot_store_is_postgres("postgresql://allot@db:5432/allot"), 1);
    ASSERT_INT_EQ(allot_store_is_postgres("postgres://allot@db/allot"), 1);
    ASSERT_INT_EQ(allot_store_is_postgres("PostgreSQL://db/allot"), 1);
    ASSERT_INT_EQ(allot_store_is_postgres("postgresql://"), 1);
    ASSERT_INT_EQ(allot_store_is_postgres("./allot.db"), 0);
    ASSERT_INT_EQ(allot_store_is_postgres("/var/lib/allot/postgresql.db"), 0);
    ASSERT_INT_EQ(allot_store_is_postgres("postgresql:/db"), 0);
    ASSERT_INT_EQ(allot_store_is_postgres("postgre://db"), 0);
    ASSERT_INT_EQ(allot_store_is_postgres("file:allot.db"), 0);
    ASSERT_INT_EQ(allot_store_is_postgres(""), 0);
    ASSERT_INT_EQ(allot_store_is_postgres(NULL), 0);
}

TEST(store_url_redacts_the_password_and_nothing_else)
{
    static const char *const cases[][2] = {
        {"postgresql://allot:s3cr3t@db.internal:5432/ledger",
         "postgresql://allot:***@db.internal:5432/ledger"},
        {"postgres://allot@127.0.0.1:5432/allot?sslmode=require",
         "postgres://allot@127.0.0.1:5432/allot?sslmode=require"},
        {"postgresql://db/allot?user=allot&password=hunter2&sslmode=verify-full",
         "postgresql://db/allot?user=allot&password=***&sslmode=verify-full"},
        {"postgresql://u:pw@h/d?password=pw2", "postgresql://u:***@h/d?password=***"},
        {"postgresql://db/allot?PASSWORD=x", "postgresql://db/allot?PASSWORD=***"},
        {"postgresql://db/allot?passwords=x", "postgresql://db/allot?passwords=x"},
        /* unencoded '@' and '/' in the password: all of it hidden anyway */
        {"postgresql://u:p@ss/w@rd@host:5432/db", "postgresql://u:***@host:5432/db"},
        {"postgresql://u:@host/db", "postgresql://u:***@host/db"},
        {"postgresql://[::1]:5432/db", "postgresql://[::1]:5432/db"},
        {"postgresql://", "postgresql://"},
        /* a mistyped scheme is still a URL with a password */
        {"postgre://u:secret@host/db", "postgre://u:***@host/db"},
        {"./allot.db", "./allot.db"},
        {"/tmp/a:b@c.db", "/tmp/a:b@c.db"},
    };
    char out[ALLOT_STORE_NAME_MAX];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_STR_EQ(allot_store_redact(cases[i][0], out, sizeof out), cases[i][1]);
    ASSERT_STR_EQ(allot_store_redact(NULL, out, sizeof out), "");
}

TEST(store_url_redaction_cut_short_never_shows_a_password)
{
    const char *url = "postgresql://allot:topsecretpassword@h/d";
    char out[64];
    size_t cap;

    /* every size: the output is a prefix of the redacted URL */
    for (cap = 1; cap < sizeof out; cap++) {
        allot_store_redact(url, out, cap);
        ASSERT(strlen(out) < cap);
        ASSERT(strncmp(out, "postgresql://allot:***@h/d", strlen(out)) == 0);
        ASSERT(strstr(out, "top") == NULL);
    }
}

TEST(store_url_scrubs_a_password_quoted_in_a_message)
{
    char out[256];

    ASSERT_STR_EQ(allot_store_scrub("postgresql://u:pa%zzss@h/d",
                                    "invalid percent-encoded token: \"pa%zzss\"", out, sizeof out),
                  "invalid percent-encoded token: \"***\"");
    ASSERT_STR_EQ(
        allot_store_scrub("postgresql://h/d?password=abc&x=1", "abc and abcd", out, sizeof out),
        "*** and ***d");
    ASSERT_STR_EQ(allot_store_scrub("postgresql://u@h/d", "connection refused", out, sizeof out),
                  "connection refused");
    ASSERT_STR_EQ(allot_store_scrub("./allot.db", "no such table", out, sizeof out),
                  "no such table");
}
