/* cmd_route.c: `allot route`, the decision for a request, explained. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/anthropic.h"
#include "allot/chat_request.h"
#include "allot/classify.h"
#include "allot/decision.h"
#include "allot/error.h"
#include "allot/responses.h"
#include "cli.h"

#define MAX_REQUEST (64u << 20)

static int read_file(const char *path, struct allot_buf *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char chunk[65536];
    size_t n;
    int rc = 0;

    if (!f) {
        fprintf(stderr, "allot route: cannot open '%s': %m\n", path);
        return ALLOT_EIO;
    }
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = allot_buf_add(out, chunk, n);
    if (rc)
        fprintf(stderr, "allot route: '%s' is larger than %u bytes\n", path, MAX_REQUEST);
    if (f != stdin)
        fclose(f);
    return rc;
}

static void print_json(const struct allot_decision *d)
{
    struct allot_buf o;
    allot_buf_init(&o, 1u << 20);
    if (allot_decision_to_json(d, &o) == 0)
        printf("%s\n", o.ptr);
    allot_buf_release(&o);
}

static void print_text(const struct allot_decision *d)
{
    const struct allot_classification *c = &d->classification;
    char src[256];
    size_t i;

    printf("category    %s\n", d->has_category ? allot_category_name(d->category) : "-");
    printf("tier        %s\n", d->has_tier ? allot_tier_name(d->tier) : "-");
    printf("confidence  %.2f (category), %.2f (tier)\n", d->confidence, d->tier_confidence);
    printf("source      %s\n", allot_decision_source_name(d->source));
    printf("models      ");
    for (i = 0; i < d->n_models; i++)
        printf("%s%s", i ? " -> " : "", d->models[i]->name);
    printf("\nreason      %s\n", d->reason);
    if (!d->classified) {
        printf("override    %s (the classifier did not run)\n",
               d->source == ALLOT_SRC_HEADER ? "X-Allot-Work"
               : d->source == ALLOT_SRC_TIER ? "a tier named in \"model\""
                                             : "a model named in \"model\"");
        return;
    }
    printf("runner-up   %s %.2f\n", allot_category_name(c->runner_up), c->runner_up_confidence);
    if (c->override)
        printf("override    %s\n", c->override);
    printf("for         ");
    for (i = 0; i < c->n_pro; i++)
        printf("%s%s %+.2f", i ? ", " : "", c->pro[i].name, c->pro[i].weight);
    printf("%s\nagainst     ", c->n_pro ? "" : "-");
    for (i = 0; i < c->n_con; i++)
        printf("%s%s %+.2f", i ? ", " : "", c->con[i].name, c->con[i].weight);
    printf("%s\n            (weights: push toward %s over %s, in calibrated log-odds)\n",
           c->n_con ? "" : "-", allot_category_name(c->category),
           allot_category_name(c->runner_up));
    printf("model       %s\n", allot_classifier_source(src, sizeof src));
}

static int route_exec(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"work", required_argument, NULL, 'w'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"api", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *file = NULL, *work = NULL, *model = "auto", *api = NULL;
    struct allot_config *cfg = NULL;
    struct allot_chat_request chat;
    struct allot_instruction in;
    struct allot_decision d;
    struct allot_buf body, err, translated;
    int c, json = 0, rc = 1, trc;

    memset(&chat, 0, sizeof chat);
    allot_buf_init(&body, MAX_REQUEST);
    allot_buf_init(&err, 4096);
    allot_buf_init(&translated, 2 * MAX_REQUEST + 4096);
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:w:m:ja:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'w':
            work = optarg;
            break;
        case 'm':
            model = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'a':
            if (strcmp(optarg, "chat") && strcmp(optarg, "responses") &&
                strcmp(optarg, "messages")) {
                fprintf(stderr,
                        "allot route: bad value '%s' for --api: expected chat, responses or "
                        "messages\n",
                        optarg);
                rc = 2;
                goto out;
            }
            api = optarg;
            break;
        default:
            allot_cli_usage(&allot_cli_route);
            rc = 2;
            goto out;
        }
    }
    if (!file && optind >= argc) {
        fprintf(stderr, "allot route: give the instruction as an argument, or --file REQ.json\n");
        rc = 2;
        goto out;
    }
    if (file) {
        if (read_file(file, &body))
            goto out;
    } else {
        const char *text = argv[optind];
        allot_buf_adds(&body, "{\"model\":");
        allot_buf_add_json_str(&body, model, strlen(model));
        allot_buf_adds(&body, ",\"messages\":[{\"role\":\"user\",\"content\":");
        if (allot_buf_add_json_str(&body, text, strlen(text)) || allot_buf_adds(&body, "}]}")) {
            fprintf(stderr, "allot route: instruction too long\n");
            goto out;
        }
    }
    if (allot_cli_load_config(config_path, &cfg))
        goto out;
    /* a Responses or Messages body is routed as its translation would be */
    if (!api)
        api = file && allot_responses_body_is(body.ptr, body.len) ? "responses" : "chat";
    if (strcmp(api, "responses") == 0)
        trc = allot_responses_request(body.ptr ? body.ptr : "", body.len, &translated, &err, NULL);
    else if (strcmp(api, "messages") == 0)
        trc = allot_anthropic_request(body.ptr ? body.ptr : "", body.len, &translated, &err);
    else
        trc = allot_buf_add(&translated, body.ptr ? body.ptr : "", body.len);
    if (trc) {
        fprintf(stderr, "allot route: %s\n",
                trc == ALLOT_EINVAL ? allot_buf_cstr(&err) : allot_strerror(trc));
        goto out;
    }
    /* read as the gateway reads it, a translation like a client's body */
    if (allot_chat_request_parse(&chat, translated.ptr, translated.len, &err)) {
        fprintf(stderr, "allot route: %s\n", allot_buf_cstr(&err));
        goto out;
    }
    allot_instruction_from_request(&chat, &in);
    if (allot_decide(cfg, chat.model, allot_slice_cstr(work), &in, &d, &err)) {
        fprintf(stderr, "allot route: %s\n", allot_buf_cstr(&err));
        goto out;
    }
    if (json)
        print_json(&d);
    else
        print_text(&d);
    rc = 0;
out:
    allot_chat_request_release(&chat);
    allot_buf_release(&body);
    allot_buf_release(&err);
    allot_buf_release(&translated);
    allot_config_free(cfg);
    return rc;
}

const struct allot_cli_cmd allot_cli_route = {
    "route", "show the routing decision for a request, without calling a model",
    "usage: allot route [--config FILE] [--work CATEGORY|TIER] [--model NAME] [--json] TEXT\n"
    "       allot route [--config FILE] [--work CATEGORY|TIER] [--json]\n"
    "                   [--api chat|responses|messages] --file REQUEST.json\n\n"
    "Print the category, tier, confidence, models (first serves, the rest are fallbacks)\n"
    "and the reason for a request; when the classifier decided, also the runner-up, the\n"
    "features that pushed for and against the category, any rule that overrode the\n"
    "model, and which model file was used (routing.classifier_model, or built-in).\n"
    "TEXT is sent as one user message with model \"auto\" (or --model); --file reads a\n"
    "whole request body (- for stdin): chat completions, or OpenAI Responses (a body\n"
    "with \"input\" and no \"messages\"), or with --api messages an Anthropic Messages\n"
    "request; the latter two are routed as their translations are.\n"
    "--work sets what the X-Allot-Work header would. --json prints one JSON object.\n",
    route_exec};
