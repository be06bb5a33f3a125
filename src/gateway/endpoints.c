/* endpoints.c: the gateway's routes other than the chat exchange:
 * GET /v1/models and /v1/models/{id}, POST /v1/route, GET /healthz,
 * GET /metrics, the 404 of stored-response routes (allot stores none), and the
 * error body every route uses: OpenAI's, or Anthropic's on the Messages
 * API's path. */
#include <cJSON.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "allot/anthropic.h"
#include "allot/clients.h"
#include "allot/cooldown.h"
#include "allot/budget.h"
#include "allot/chat_request.h"
#include "allot/classify.h"
#include "allot/clock.h"
#include "allot/cost.h"
#include "allot/decision.h"
#include "allot/error.h"
#include "allot/json_check.h"
#include "allot/responses.h"
#include "internal.h"

int allot__is_messages_path(struct allot_slice path)
{
    return allot_slice_eq(path, "/v1/messages") || allot_slice_eq(path, "/messages");
}

static int is_count_tokens_path(struct allot_slice path)
{
    return allot_slice_eq(path, "/v1/messages/count_tokens") ||
           allot_slice_eq(path, "/messages/count_tokens");
}

int allot__is_anthropic_path(struct allot_slice path)
{
    return allot__is_messages_path(path) || is_count_tokens_path(path);
}

int allot__is_responses_path(struct allot_slice path)
{
    return allot_slice_eq(path, "/v1/responses") || allot_slice_eq(path, "/responses");
}

/* /v1/responses/{id}, .../input_items, .../cancel: what works on stored
 * responses, and allot stores none. */
static int is_stored_response_path(struct allot_slice path)
{
    static const char v1[] = "/v1/responses/", bare[] = "/responses/";

    return (path.len > sizeof v1 - 1 && memcmp(path.ptr, v1, sizeof v1 - 1) == 0) ||
           (path.len > sizeof bare - 1 && memcmp(path.ptr, bare, sizeof bare - 1) == 0);
}

void allot__respond_error(struct allot_http_request *req, int status, const char *type,
                          const char *code, const char *message,
                          const struct allot_http_header *extra, size_t n_extra)
{
    struct allot_http_header h[ALLOT__MAX_RESPONSE_HEADERS + 1];
    struct allot_buf body;
    size_t n = 0, i;

    allot_buf_init(&body, 16384);
    if (allot__is_anthropic_path(req->path)) {
        if (allot_anthropic_error_body(status, message, &body)) {
            allot_buf_reset(&body);
            allot_anthropic_error_body(status, "error message too long", &body);
        }
    } else if (allot_buf_adds(&body, "{\"error\":{\"message\":") ||
               allot_buf_add_json_str(&body, message, strlen(message)) ||
               allot_buf_adds(&body, ",\"type\":") ||
               allot_buf_add_json_str(&body, type, strlen(type)) ||
               allot_buf_adds(&body, ",\"param\":null,\"code\":") ||
               allot_buf_add_json_str(&body, code, strlen(code)) || allot_buf_adds(&body, "}}")) {
        allot_buf_reset(&body);
        allot_buf_adds(&body, "{\"error\":{\"message\":\"error message too long\",\"type\":"
                              "\"server_error\",\"param\":null,\"code\":null}}");
    }
    h[n].name = ALLOT_SLICE_LIT("Content-Type");
    h[n++].value = ALLOT_SLICE_LIT("application/json");
    for (i = 0; i < n_extra && n < ALLOT__MAX_RESPONSE_HEADERS + 1; i++)
        h[n++] = extra[i];
    allot_http_respond(req, status, h, n, body.ptr, body.len);
    allot_buf_release(&body);
}

/* One entry of the model list: OpenAI's form, or Anthropic's (type,
 * display_name, created_at). */
static int add_model_entry(struct allot_buf *b, const char *id, const char *owner, int first,
                           int anthropic)
{
    int rc = allot_buf_adds(b, first ? "{\"id\":" : ",{\"id\":");
    rc = rc ? rc : allot_buf_add_json_str(b, id, strlen(id));
    if (anthropic) {
        rc = rc ? rc : allot_buf_adds(b, ",\"type\":\"model\",\"display_name\":");
        rc = rc ? rc : allot_buf_add_json_str(b, id, strlen(id));
        return rc ? rc : allot_buf_adds(b, ",\"created_at\":\"1970-01-01T00:00:00Z\"}");
    }
    rc = rc ? rc : allot_buf_adds(b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
    rc = rc ? rc : allot_buf_add_json_str(b, owner, strlen(owner));
    return rc ? rc : allot_buf_adds(b, "}");
}

/* The model list in one of the two formats: "auto", the aliases, the
 * tiers, the configured models. */
/* Whether model m serves one of the tiers in mask, or embeddings. */
static int model_listed(const struct allot_config *cfg, unsigned mask, const struct allot_model *m)
{
    size_t t, i;
    if (mask == (1u << ALLOT_TIER__COUNT) - 1)
        return 1;
    for (i = 0; i < cfg->embeddings.n_models; i++)
        if (cfg->embeddings.models[i] == m)
            return 1;
    for (t = 0; t < ALLOT_TIER__COUNT; t++)
        if (mask & 1u << t)
            for (i = 0; i < cfg->tiers[t].n_models; i++)
                if (cfg->tiers[t].models[i] == m)
                    return 1;
    return 0;
}

/* The listing for a client that may use the tiers in mask. */
static int models_list(const struct allot_config *cfg, int anthropic, unsigned mask,
                       struct allot_buf *b)
{
    const char *last = "auto";
    char id[32];
    size_t i;
    int rc = allot_buf_adds(b, anthropic ? "{\"data\":[" : "{\"object\":\"list\",\"data\":[");

    rc = rc ? rc : add_model_entry(b, "auto", "allot", 1, anthropic);
    for (i = 0; !rc && i < cfg->routing.n_aliases; i++) {
        const char *a = cfg->routing.aliases[i];
        if (strcmp(a, "auto") != 0 && a[strlen(a) - 1] != '*') /* a prefix is no name */
            rc = add_model_entry(b, last = a, "allot", 0, anthropic);
    }
    for (i = 0; !rc && i < ALLOT_TIER__COUNT; i++) {
        if (!(mask & 1u << i))
            continue;
        snprintf(id, sizeof id, "allot:%s", allot_tier_name((enum allot_tier)i));
        rc = add_model_entry(b, last = id, "allot", 0, anthropic);
    }
    for (i = 0; !rc && i < cfg->n_models; i++)
        if (model_listed(cfg, mask, &cfg->models[i]))
            rc = add_model_entry(b, last = cfg->models[i].name, cfg->models[i].provider->name, 0,
                                 anthropic);
    if (!anthropic)
        return rc ? rc : allot_buf_adds(b, "]}");
    rc = rc ? rc : allot_buf_adds(b, "],\"has_more\":false,\"first_id\":\"auto\",\"last_id\":");
    rc = rc ? rc : allot_buf_add_json_str(b, last, strlen(last));
    return rc ? rc : allot_buf_adds(b, "}");
}

/* GET /v1/models/{id} and /models/{id}: the id, percent-decoded into
 * out[cap] (an SDK may encode a '/' or ':' of the name). Returns 0 when path
 * is no such route, -1 when the id is empty, too long or badly encoded,
 * else 1. */
static int model_path_id(struct allot_slice path, char *out, size_t cap)
{
    static const char v1[] = "/v1/models/", bare[] = "/models/";
    size_t i, o = 0, skip;

    if (path.len >= sizeof v1 - 1 && memcmp(path.ptr, v1, sizeof v1 - 1) == 0)
        skip = sizeof v1 - 1;
    else if (path.len >= sizeof bare - 1 && memcmp(path.ptr, bare, sizeof bare - 1) == 0)
        skip = sizeof bare - 1;
    else
        return 0;
    for (i = skip; i < path.len; i++) {
        unsigned char c = (unsigned char)path.ptr[i];
        if (c == '%') {
            int hi = i + 2 < path.len ? allot_json_check_hex(path.ptr[i + 1]) : -1;
            int lo = hi >= 0 ? allot_json_check_hex(path.ptr[i + 2]) : -1;
            if (lo < 0)
                return -1;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return o ? 1 : -1;
}

/* Whether a client that may use the tiers in mask may name id as a
 * request's model (as allot_decide reads it), and the owner the listing
 * gives it: a name requests can use is a name retrieve finds. */
static const char *model_visible(const struct allot_config *cfg, unsigned mask, const char *id)
{
    struct allot_slice name = allot_slice_of(id, strlen(id));
    enum allot_tier t;
    size_t i;

    for (i = 0; i < cfg->n_models; i++)
        if (strcmp(cfg->models[i].name, id) == 0)
            return model_listed(cfg, mask, &cfg->models[i]) ? cfg->models[i].provider->name : NULL;
    if (strncasecmp(id, "allot:", 6) == 0) { /* "allot:labor" too */
        if (strcasecmp(id + 6, "embeddings") == 0)
            return cfg->embeddings.n_models ? "allot" : NULL;
        return allot_tier_parse(allot_slice_of(id + 6, name.len - 6), &t) == 0 && (mask & 1u << t)
                   ? "allot"
                   : NULL;
    }
    return allot_decision_is_alias(cfg, name) ? "allot" : NULL;
}

/* GET /v1/models/{id}: the entry the listing has for id, in the caller's
 * format (Anthropic's when it sends anthropic-version); 404 in that
 * format for a name the client cannot use. */
static void model_retrieve(struct allot_http_request *req, const struct allot_config *cfg,
                           unsigned mask, int anthropic, int have, const char *id)
{
    const char *owner = have > 0 ? model_visible(cfg, mask, id) : NULL;
    struct allot_http_header h[1] = {
        {ALLOT_SLICE_LIT("Content-Type"), ALLOT_SLICE_LIT("application/json")}};
    struct allot_buf b;
    char msg[320];
    int status = 200, rc;

    allot_buf_init(&b, 16384);
    if (owner) {
        rc = add_model_entry(&b, id, owner, 1, anthropic);
    } else {
        status = 404;
        if (have > 0)
            snprintf(msg, sizeof msg,
                     "The model '%.200s' does not exist or you do not have access to it", id);
        else
            snprintf(msg, sizeof msg, "the model name in the path is empty or badly encoded");
        if (anthropic) {
            rc = allot_anthropic_error_body(404, msg, &b);
        } else {
            allot_buf_release(&b);
            allot__respond_error(req, 404, "invalid_request_error", "model_not_found", msg, NULL,
                                 0);
            return;
        }
    }
    if (rc) {
        allot_buf_release(&b);
        allot__respond_error(req, 500, "server_error", "internal_error", "out of memory", NULL, 0);
        return;
    }
    allot_http_respond(req, status, h, 1, b.ptr, b.len);
    allot_buf_release(&b);
}

int allot__endpoint_models_init(struct allot__gateway *gw)
{
    unsigned f, mask;
    int rc = 0;

    for (f = 0; f < 2 && !rc; f++)
        for (mask = 1; mask < 1u << ALLOT_TIER__COUNT && !rc; mask++) {
            struct allot_buf b;
            allot_buf_init(&b, 1u << 20);
            rc = models_list(gw->cfg, (int)f, mask, &b);
            gw->models_json_len[f][mask] = b.len;
            if (rc || !(gw->models_json[f][mask] = allot_buf_detach(&b))) {
                allot_buf_release(&b);
                rc = rc ? rc : ALLOT_ENOMEM;
            }
        }
    return rc;
}

/* The tiers a client may use, a bit each (7: all). */
static unsigned tier_mask(unsigned list)
{
    unsigned m = 0;
    int t;
    for (t = 0; t < ALLOT_TIER__COUNT; t++)
        if (allot_tier_list_has(list, (enum allot_tier)t))
            m |= 1u << t;
    return m;
}

static void respond_json(struct allot_http_request *req, int status, const char *body, size_t len)
{
    struct allot_http_header h = {ALLOT_SLICE_LIT("Content-Type"),
                                  ALLOT_SLICE_LIT("application/json")};
    allot_http_respond(req, status, &h, 1, body, len);
}

/* POST /v1/route: the decision for a chat request, without calling anyone. */
static void route(struct allot__worker *w, struct allot_http_request *req)
{
    const char *body = req->body.ptr ? req->body.ptr : "";
    int client = req->tag - 1; /* allot__endpoint_head() admitted it */
    unsigned tiers = allot_clients_tiers(w->gw->clients, client);
    char msg[256];
    struct allot_chat_request chat;
    struct allot_instruction in;
    struct allot_decision d;
    struct allot_buf err, out, translated;
    int rc;

    memset(&chat, 0, sizeof chat);
    allot_buf_init(&err, 1024);
    allot_buf_init(&out, 16384);
    allot_buf_init(&translated, 2 * req->body.len + 4096);
    /* a Messages body (an Anthropic client: anthropic-version) or a
     * Responses body is routed as its translation would be */
    if (allot_http_request_header(req, "anthropic-version").ptr != NULL)
        rc = allot_anthropic_request(body, req->body.len, &translated, &err);
    else if (allot_responses_body_is(body, req->body.len))
        rc = allot_responses_request(body, req->body.len, &translated, &err, NULL);
    else
        rc = allot_buf_add(&translated, body, req->body.len);
    if (rc) {
        allot__respond_error(
            req, rc == ALLOT_ENOMEM ? 500 : 400, "invalid_request_error", "invalid_request",
            rc == ALLOT_EINVAL ? allot_buf_cstr(&err) : allot_strerror(rc), NULL, 0);
        goto out;
    }
    /* read as the exchange reads it, a translation like a client's body */
    rc =
        allot_chat_request_parse(&chat, translated.ptr ? translated.ptr : "", translated.len, &err);
    if (rc) {
        allot__respond_error(req, 400, "invalid_request_error",
                             rc == ALLOT_EPARSE ? "invalid_json" : "invalid_request",
                             allot_buf_cstr(&err), NULL, 0);
        goto out;
    }
    allot_instruction_from_request(&chat, &in);
    rc = allot_decide(w->gw->cfg, chat.model, allot_http_request_header(req, "x-allot-work"), &in,
                      &d, &err);
    if (rc) {
        allot__respond_error(req, rc == ALLOT_ENOTFOUND ? 404 : 400, "invalid_request_error",
                             rc == ALLOT_ENOTFOUND ? "model_not_found" : "invalid_request",
                             allot_buf_cstr(&err), NULL, 0);
        goto out;
    }
    allot__acceptability_route(w, &d, &in);
    /* In the exchange's order: the key's tiers, then the floor, which does
     * not promote a key's work to a tier it may not use. */
    if (allot_clients_keep_tiers(w->gw->cfg, tiers, allot_clients_name(w->gw->clients, client), &d,
                                 msg, sizeof msg) < 0) {
        allot__respond_error(req, 403, "invalid_request_error", "model_not_allowed", msg, NULL, 0);
        goto out;
    }
    if (allot_tier_list_has(tiers, ALLOT_TIER_JUDGMENT))
        allot__quality_preview(w, &d);
    rc = allot_decision_to_json(&d, &out);
    if (rc)
        allot__respond_error(req, 500, "server_error", "internal", allot_strerror(rc), NULL, 0);
    else
        respond_json(req, 200, out.ptr, out.len);
out:
    allot_chat_request_release(&chat);
    allot_buf_release(&err);
    allot_buf_release(&out);
    allot_buf_release(&translated);
}

/* Bytes of the string values under v (texts, tool inputs and results,
 * schemas' descriptions): what a request's tokens are estimated from.
 * Base64 image and document data, roles and block types are not counted. */
static size_t text_bytes(const cJSON *v)
{
    const cJSON *c, *type = cJSON_GetObjectItemCaseSensitive(v, "type");
    int base64 = cJSON_IsString(type) && strcmp(type->valuestring, "base64") == 0;
    size_t n = 0;
    if (cJSON_IsString(v))
        return strlen(v->valuestring);
    cJSON_ArrayForEach(c, v)
    {
        if (c->string && ((base64 && strcmp(c->string, "data") == 0) ||
                          strcmp(c->string, "role") == 0 || strcmp(c->string, "type") == 0))
            continue; /* not text: image bytes, and the names of roles and kinds */
        n += text_bytes(c);
    }
    return n;
}

/* POST /v1/messages/count_tokens: the request checked as /v1/messages
 * would check it, and its input tokens estimated (cost.h's bytes / 4) from
 * the text of its system prompt, messages and tools. Not a model's
 * tokenizer: an estimate, and the header says so. */
static void count_tokens(struct allot_http_request *req)
{
    static const char *const parts[] = {"system", "messages", "tools"};
    struct allot_http_header h[2] = {
        {ALLOT_SLICE_LIT("Content-Type"), ALLOT_SLICE_LIT("application/json")},
        {ALLOT_SLICE_LIT("x-allot-estimate"), ALLOT_SLICE_LIT("bytes/4")}};
    struct allot_buf translated, err;
    cJSON *root = NULL;
    char out[64];
    size_t bytes = 0, i;
    int rc, n;

    allot_buf_init(&translated, 2 * req->body.len + 4096);
    allot_buf_init(&err, 1024);
    /* count_tokens takes no max_tokens; the check wants one */
    root = cJSON_ParseWithLength(req->body.ptr, req->body.len);
    if (cJSON_IsObject(root) && !cJSON_GetObjectItemCaseSensitive(root, "max_tokens")) {
        char *text;
        cJSON_AddNumberToObject(root, "max_tokens", 1);
        text = cJSON_PrintUnformatted(root);
        rc = text ? allot_anthropic_request(text, strlen(text), &translated, &err) : ALLOT_ENOMEM;
        cJSON_free(text);
    } else {
        rc = allot_anthropic_request(req->body.ptr, req->body.len, &translated, &err);
    }
    if (rc) {
        allot__respond_error(
            req, rc == ALLOT_ENOMEM ? 500 : 400, "invalid_request_error", "invalid_request",
            rc == ALLOT_EINVAL ? allot_buf_cstr(&err) : allot_strerror(rc), NULL, 0);
        goto out;
    }
    for (i = 0; i < sizeof parts / sizeof parts[0]; i++)
        bytes += text_bytes(cJSON_GetObjectItemCaseSensitive(root, parts[i]));
    n = snprintf(out, sizeof out, "{\"input_tokens\":%lld}",
                 (long long)allot_tokens_estimate(bytes));
    allot_http_respond(req, 200, h, 2, out, (size_t)n);
out:
    cJSON_Delete(root);
    allot_buf_release(&translated);
    allot_buf_release(&err);
}

static void metrics(struct allot__worker *w, struct allot_http_request *req)
{
    struct allot_buf out;
    struct allot_http_header h = {ALLOT_SLICE_LIT("Content-Type"),
                                  ALLOT_SLICE_LIT("text/plain; version=0.0.4; charset=utf-8")};
    allot_buf_init(&out, 16u << 20);
    if (allot_metrics_render(w->gw->metrics, allot_ledger_rows_written(w->gw->ledger),
                             allot_ledger_rows_written_idle(w->gw->ledger),
                             allot_ledger_rows_failed(w->gw->ledger), &out) == 0 &&
        allot_budgets_render(w->gw->budgets, allot_clock_wall_ms(), &out) == 0 &&
        allot_cooldowns_render(w->gw->cooldowns, allot_clock_mono_us(), &out) == 0)
        allot_http_respond(req, 200, &h, 1, out.ptr, out.len);
    else
        allot__respond_error(req, 500, "server_error", "internal", "metrics too large", NULL, 0);
    allot_buf_release(&out);
}

/* Who is calling (auth.keys), from the head alone: a request without a
 * valid key is refused before its body is read (so an unauthenticated
 * caller never makes the gateway hold a body), in its API's error format
 * with WWW-Authenticate. The key is never echoed or logged. The caller's
 * client slot goes on in req->tag, plus one. */
void allot__endpoint_head(struct allot__worker *w, struct allot_http_request *req,
                          struct allot_http_refusal *refuse)
{
    enum allot_auth_result r;
    int client = -1;

    if (!allot_clients_required(w->gw->clients) || allot_slice_eq(req->path, "/healthz"))
        return;
    r = allot_clients_identify(w->gw->clients, allot_http_request_header(req, "authorization"),
                               allot_http_request_header(req, "x-api-key"), &client);
    if (r == ALLOT_AUTH_OK) {
        req->tag = client + 1;
        return;
    }
    allot_metrics_auth_failure(w->gw->metrics, w->index, r == ALLOT_AUTH_MISSING);
    refuse->status = 401;
    refuse->extra.name = ALLOT_SLICE_LIT("WWW-Authenticate");
    refuse->extra.value = ALLOT_SLICE_LIT("Bearer realm=\"allot\"");
    if (r == ALLOT_AUTH_MISSING) {
        refuse->code = "missing_api_key";
        snprintf(refuse->message, sizeof refuse->message, "%s",
                 "no API key: send one of this gateway's client keys (auth.keys) as "
                 "\"Authorization: Bearer KEY\" or \"x-api-key: KEY\"");
    } else {
        refuse->code = "invalid_api_key";
        snprintf(refuse->message, sizeof refuse->message, "%s",
                 "invalid API key: it is none of this gateway's client keys (auth.keys); the "
                 "key of the model provider belongs in allot.yaml, not in the client");
    }
}

int allot__is_embeddings_path(struct allot_slice path)
{
    return allot_slice_eq(path, "/v1/embeddings") || allot_slice_eq(path, "/embeddings");
}

void allot__endpoint_dispatch(struct allot__worker *w, struct allot_http_request *req)
{
    struct allot_slice p = req->path;
    int get = req->method == HTTP_GET || req->method == HTTP_HEAD;
    int post = req->method == HTTP_POST;
    int client = req->tag - 1; /* allot__endpoint_head() admitted it */
    char msg[256], id[256];
    int have_id;

    if (allot_slice_eq(p, "/v1/chat/completions") || allot_slice_eq(p, "/chat/completions") ||
        allot__is_messages_path(p) || allot__is_responses_path(p) || allot__is_embeddings_path(p)) {
        if (post)
            allot__exchange_start(w, req, client);
        else
            goto not_allowed;
    } else if (is_count_tokens_path(p)) {
        if (post)
            count_tokens(req);
        else
            goto not_allowed;
    } else if (allot_slice_eq(p, "/v1/models") || allot_slice_eq(p, "/models")) {
        unsigned mask = tier_mask(allot_clients_tiers(w->gw->clients, client));
        int f =
            allot_http_request_header(req, "anthropic-version").ptr != NULL; /* an Anthropic SDK */
        if (get)
            respond_json(req, 200, w->gw->models_json[f][mask], w->gw->models_json_len[f][mask]);
        else
            goto not_allowed;
    } else if ((have_id = model_path_id(p, id, sizeof id)) != 0) {
        if (get)
            model_retrieve(req, w->gw->cfg, tier_mask(allot_clients_tiers(w->gw->clients, client)),
                           allot_http_request_header(req, "anthropic-version").ptr != NULL, have_id,
                           id);
        else
            goto not_allowed;
    } else if (allot_slice_eq(p, "/v1/route")) {
        if (post)
            route(w, req);
        else
            goto not_allowed;
    } else if (is_stored_response_path(p)) {
        allot__respond_error(req, 404, "invalid_request_error", "not_found",
                             "allot stores no responses: each POST /v1/responses answer is "
                             "complete in itself (docs/responses.md)",
                             NULL, 0);
    } else if (allot_slice_eq(p, "/healthz")) {
        if (get)
            respond_json(req, 200, "{\"status\":\"ok\"}", 15);
        else
            goto not_allowed;
    } else if (allot_slice_eq(p, "/metrics")) {
        if (get)
            metrics(w, req);
        else
            goto not_allowed;
    } else {
        snprintf(msg, sizeof msg, "no route for %s %.*s", allot_http_method_name(req->method),
                 (int)(p.len > 128 ? 128 : p.len), p.ptr);
        allot__respond_error(req, 404, "invalid_request_error", "not_found", msg, NULL, 0);
    }
    return;
not_allowed:
    snprintf(msg, sizeof msg, "method %s is not allowed on %.*s",
             allot_http_method_name(req->method), (int)(p.len > 128 ? 128 : p.len), p.ptr);
    allot__respond_error(req, 405, "invalid_request_error", "method_not_allowed", msg, NULL, 0);
}
