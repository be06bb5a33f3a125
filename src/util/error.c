/* error.c: names of allot's error codes. */
#include "allot/error.h"

const char *allot_strerror(int err)
{
    switch (err) {
    case ALLOT_OK:
        return "ok";
    case ALLOT_ENOMEM:
        return "out of memory";
    case ALLOT_EINVAL:
        return "invalid argument";
    case ALLOT_ETOOBIG:
        return "size limit exceeded";
    case ALLOT_EIO:
        return "input/output error";
    case ALLOT_EPARSE:
        return "parse error";
    case ALLOT_ENOTFOUND:
        return "not found";
    case ALLOT_ECONFIG:
        return "invalid configuration";
    case ALLOT_EUPSTREAM:
        return "upstream failed";
    case ALLOT_ETIMEDOUT:
        return "timed out";
    case ALLOT_ESTORE:
        return "ledger store failed";
    case ALLOT_ECLOSED:
        return "shutting down";
    case ALLOT_EBUSY:
        return "in use by another process";
    case ALLOT_EPERM:
        return "not allowed";
    }
    return "unknown error";
}
