/* crc32.h: CRC-32 (IEEE 802.3, the zlib/PNG polynomial) of a byte range,
 * for the checksums of allot's model files. Thread-safe. */
#ifndef ALLOT_CRC32_H
#define ALLOT_CRC32_H
#include <stddef.h>
#include <stdint.h>

uint32_t allot_crc32(const unsigned char *p, size_t n);

#endif
