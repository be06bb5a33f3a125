/* error.h: allot's error codes.
 *
 * Functions return int: 0 on success, a negative ALLOT_E* on failure. The
 * code says what kind of failure; the text a user sees is built by the
 * caller, naming the thing and the cause (STYLE.md). */
#ifndef ALLOT_ERROR_H
#define ALLOT_ERROR_H

enum allot_error {
    ALLOT_OK = 0,
    ALLOT_ENOMEM = -1,    /* allocation failed */
    ALLOT_EINVAL = -2,    /* bad argument or malformed input */
    ALLOT_ETOOBIG = -3,   /* a size cap was hit */
    ALLOT_EIO = -4,       /* read/write/socket failure */
    ALLOT_EPARSE = -5,    /* input could not be parsed */
    ALLOT_ENOTFOUND = -6, /* named thing does not exist */
    ALLOT_ECONFIG = -7,   /* configuration is invalid */
    ALLOT_EUPSTREAM = -8, /* the upstream failed */
    ALLOT_ETIMEDOUT = -9, /* a deadline passed */
    ALLOT_ESTORE = -10,   /* the ledger store failed */
    ALLOT_ECLOSED = -11,  /* the object is shutting down */
    ALLOT_EBUSY = -12,    /* in use by another process */
    ALLOT_EPERM = -13,    /* not allowed to whoever asked */
};

/* A static, human-readable name of an error code. Never NULL. */
const char *allot_strerror(int err);

#endif
