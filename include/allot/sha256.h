/* sha256.h: SHA-256 of a byte range (OpenSSL's libcrypto), and the hex
 * form of a digest, for client keys (auth.keys in allot.yaml): allot keeps
 * only their digests. Thread-safe; no allocation. */
#ifndef ALLOT_SHA256_H
#define ALLOT_SHA256_H
#include <stddef.h>

#define ALLOT_SHA256_LEN 32

void allot_sha256(const void *p, size_t n, unsigned char out[ALLOT_SHA256_LEN]);

/* 64 lowercase hex digits and a NUL into out. */
void allot_sha256_hex(const unsigned char d[ALLOT_SHA256_LEN], char out[2 * ALLOT_SHA256_LEN + 1]);

/* Parse 64 hex digits (either case) of s (n bytes). 0 on success, -1 when
 * s is not exactly that. */
int allot_sha256_parse_hex(const char *s, size_t n, unsigned char out[ALLOT_SHA256_LEN]);

/* Compare two digests in time that does not depend on where they differ:
 * 1 when equal. */
int allot_sha256_equal(const unsigned char a[ALLOT_SHA256_LEN],
                       const unsigned char b[ALLOT_SHA256_LEN]);

#endif
