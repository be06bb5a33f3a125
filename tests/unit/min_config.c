/* min_config.c: see min_config.h. */
#include <stdio.h>
#include "allot/buf.h"
#include "min_config.h"

int min_config_load(const char *tail, struct allot_config **c)
{
    struct allot_buf y, err;
    int rc;

    allot_buf_init(&y, 1 << 22); /* room for thousands of auth.keys */
    allot_buf_init(&err, 1 << 16);
    allot_buf_addf(&y,
                   "providers: [{name: p, base_url: http://127.0.0.1:9/v1}]\n"
                   "models: [{name: m, provider: p}]\n"
                   "tiers: {judgment: [m], labour: [m], code: [m]}\n%s",
                   tail);
    rc = allot_config_load_mem("t.yaml", y.ptr, y.len, c, &err);
    if (rc)
        fprintf(stderr, "%s", allot_buf_cstr(&err));
    allot_buf_release(&y);
    allot_buf_release(&err);
    return rc;
}
