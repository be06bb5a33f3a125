/* store_url.h: what a ledger store name is, and how to show it.
 *
 * A store is named by one string: a PostgreSQL connection URI
 * ("postgresql://user:pw@host:5432/db?sslmode=require", or "postgres://")
 * selects PostgreSQL; anything else is the path of a SQLite file. The URI
 * may carry a password, in its user info or as a "password" parameter, so
 * every message that names a store shows it through allot_store_redact(). */
#ifndef ALLOT_STORE_URL_H
#define ALLOT_STORE_URL_H
#include <stddef.h>

/* 1 when store is a PostgreSQL URI (the scheme, case-insensitive), else 0. */
int allot_store_is_postgres(const char *store);

/* Copy store into dst (cap bytes, always NUL-terminated, cut if longer)
 * with the password of a URI (anything with "://": PostgreSQL's, or a
 * mistyped one) replaced by "***": the part of the user info after ':' and
 * the value of every "password" parameter. A path is copied as it is. Cutting happens after the
 * replacement, so no part of a password is ever copied. Returns dst. */
const char *allot_store_redact(const char *store, char *dst, size_t cap);

/* Copy msg into dst (cap bytes, always NUL-terminated) with every
 * occurrence of the password of the URI store (as allot_store_redact finds it), as written in
 * it, replaced by "***": for messages from a library that may quote a
 * piece of the URI (libpq quotes a bad percent-encoded token). Returns dst. */
const char *allot_store_scrub(const char *store, const char *msg, char *dst, size_t cap);

/* Size of a dst that holds any store name allot shows in full. */
#define ALLOT_STORE_NAME_MAX 512

#endif
