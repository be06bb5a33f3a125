/* auth.h: who is calling: a request's key checked against auth.keys.
 *
 * DESIGN: the config keeps only each client key's SHA-256
 * (struct allot_client_key). allot_auth_new() sorts those digests once;
 * a request's key is hashed and looked up by binary search, then confirmed
 * with a constant-time compare. The time taken depends on the digest of
 * what was sent, never on how much of a real key it shares, so timing
 * tells an attacker nothing about a key. No allocation per request.
 *
 * Ownership: struct allot_auth borrows the config (names) and must not
 * outlive it. Immutable after creation: any thread may read it. */
#ifndef ALLOT_AUTH_H
#define ALLOT_AUTH_H
#include "allot/config.h"
#include "allot/slice.h"

struct allot_auth;

/* Index the config's client keys. A key found is reported as ids[i] for
 * cfg->client_keys[i] (ids NULL: as i). ALLOT_ENOMEM. With no keys
 * configured the result admits every request. */
int allot_auth_new(const struct allot_config *cfg, const int *ids, struct allot_auth **out);
void allot_auth_free(struct allot_auth *a);

/* 1 when keys are configured, i.e. requests must carry one. */
int allot_auth_required(const struct allot_auth *a);

enum allot_auth_result {
    ALLOT_AUTH_OK,      /* a configured key (or none are configured) */
    ALLOT_AUTH_MISSING, /* no key sent */
    ALLOT_AUTH_INVALID, /* a key was sent and none matched */
};

/* The client a request's credentials name. authorization is the
 * Authorization header ("Bearer KEY"; the scheme in any case), api_key
 * the x-api-key header; either may be absent ({NULL, 0}). A request is
 * admitted when either carries a configured key. On ALLOT_AUTH_OK *client
 * is the key's id (see allot_auth_new), or -1 when none are configured. */
enum allot_auth_result allot_auth_identify(const struct allot_auth *a,
                                           struct allot_slice authorization,
                                           struct allot_slice api_key, int *client);

#endif
