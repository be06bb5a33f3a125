/* kinds_blob.c: the built-in kind-of-work model, linked into the binary.
 *
 * Built with -DALLOT_KINDS_MODEL_FILE="path": the model file trained from
 * data/kinds/ by `make` (build/kinds.model) is included byte for byte with
 * the assembler's .incbin, so `allot` needs no file at run time. Built
 * without it, for the bootstrap trainer that makes that file, the model is
 * empty. The bytes are checked like any model file when first used. */
#include <stddef.h>

#ifdef ALLOT_KINDS_MODEL_FILE
__asm__(".section .rodata\n"
        ".global allot__kinds_builtin\n"
        ".global allot__kinds_builtin_size\n"
        ".balign 16\n"
        "allot__kinds_builtin:\n"
        ".incbin \"" ALLOT_KINDS_MODEL_FILE "\"\n"
        "allot__kinds_builtin_end:\n"
        ".balign 8\n"
        "allot__kinds_builtin_size:\n"
        ".quad allot__kinds_builtin_end - allot__kinds_builtin\n"
        ".previous\n");
#else
const unsigned char allot__kinds_builtin[1] = {0};
const size_t allot__kinds_builtin_size = 0;
#endif
