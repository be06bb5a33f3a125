/* sha256.c: SHA-256 through libcrypto's one-shot SHA256() (sha256.h). */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include "allot/json_check.h"
#include "allot/sha256.h"

void allot_sha256(const void *p, size_t n, unsigned char out[ALLOT_SHA256_LEN])
{
    SHA256(p, n, out);
}

void allot_sha256_hex(const unsigned char d[ALLOT_SHA256_LEN], char out[2 * ALLOT_SHA256_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < ALLOT_SHA256_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * ALLOT_SHA256_LEN] = '\0';
}

int allot_sha256_parse_hex(const char *s, size_t n, unsigned char out[ALLOT_SHA256_LEN])
{
    size_t i;

    if (n != 2 * ALLOT_SHA256_LEN)
        return -1;
    for (i = 0; i < ALLOT_SHA256_LEN; i++) {
        int hi = allot_json_check_hex(s[2 * i]), lo = allot_json_check_hex(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int allot_sha256_equal(const unsigned char a[ALLOT_SHA256_LEN],
                       const unsigned char b[ALLOT_SHA256_LEN])
{
    return CRYPTO_memcmp(a, b, ALLOT_SHA256_LEN) == 0;
}
