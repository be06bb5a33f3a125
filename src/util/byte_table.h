/* byte_table.h: lookup tables over the 256 byte values, built by the
 * compiler from a predicate, so that a scan over text costs one load a
 * byte and the table says in code what it holds:
 *
 *     #define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
 *     static const unsigned char digit[256] = {ALLOT_BYTE_TABLE(IS_DIGIT)};
 *
 * F is a macro of one argument, the byte value 0..255 (an int constant
 * expression). */
#ifndef ALLOT_BYTE_TABLE_H
#define ALLOT_BYTE_TABLE_H

#define ALLOT__BYTES4(F, c) F(c), F((c) + 1), F((c) + 2), F((c) + 3)
#define ALLOT__BYTES16(F, c)                                                                       \
    ALLOT__BYTES4(F, c), ALLOT__BYTES4(F, (c) + 4), ALLOT__BYTES4(F, (c) + 8),                     \
        ALLOT__BYTES4(F, (c) + 12)
#define ALLOT__BYTES64(F, c)                                                                       \
    ALLOT__BYTES16(F, c), ALLOT__BYTES16(F, (c) + 16), ALLOT__BYTES16(F, (c) + 32),                \
        ALLOT__BYTES16(F, (c) + 48)
#define ALLOT_BYTE_TABLE(F)                                                                        \
    ALLOT__BYTES64(F, 0), ALLOT__BYTES64(F, 64), ALLOT__BYTES64(F, 128), ALLOT__BYTES64(F, 192)

#endif
