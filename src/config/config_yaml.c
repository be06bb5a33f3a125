/* config_yaml.c: YAML text to a tree of allot__ynode (see config_yaml.h).
 *
 * The event API rather than libyaml's document API, for two reasons: the
 * document loader resolves aliases into shared nodes, so `&a [*a]` is a
 * cycle and a few lines of aliases can stand for millions of nodes (the
 * "billion laughs"); and events let us stop at a depth and size we choose.
 * The config schema needs neither aliases nor depth, so both are refused
 * with a message rather than defended against in every later pass. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "allot/error.h"
#include "config_yaml.h"

void allot__ynode_free(struct allot__ynode *n)
{
    size_t i;

    if (!n)
        return;
    for (i = 0; i < n->n; i++)
        allot__ynode_free(n->kids[i]);
    free(n->kids);
    if (n->raw) {
        explicit_bzero(n->raw, n->raw_len);
        free(n->raw);
    }
    if (n->val) {
        explicit_bzero(n->val, n->val_len);
        free(n->val);
    }
    free(n);
}

int allot__ynode_is_null(const struct allot__ynode *n)
{
    return !n || (n->type == ALLOT__YSCALAR && n->plain &&
                  (n->raw_len == 0 || !strcmp(n->raw, "~") || !strcmp(n->raw, "null") ||
                   !strcmp(n->raw, "Null") || !strcmp(n->raw, "NULL")));
}

struct allot__ynode *allot__ynode_get(const struct allot__ynode *m, const char *key,
                                      size_t *key_line)
{
    size_t i;

    if (!m || m->type != ALLOT__YMAP)
        return NULL;
    for (i = 0; i + 1 < m->n; i += 2) {
        const struct allot__ynode *k = m->kids[i];
        if (k->type == ALLOT__YSCALAR && !strcmp(k->raw, key)) {
            if (key_line)
                *key_line = k->line;
            return m->kids[i + 1];
        }
    }
    return NULL;
}

static int add_kid(struct allot__ynode *parent, struct allot__ynode *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        struct allot__ynode **k;
        if (cap > SIZE_MAX / sizeof *k)
            return ALLOT_ENOMEM;
        k = realloc(parent->kids, cap * sizeof *k);
        if (!k)
            return ALLOT_ENOMEM;
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

/* libyaml's reason, with a 1-based line. */
static void syntax_error(const yaml_parser_t *p, const char *yaml, size_t len, size_t *line,
                         char *err, size_t cap)
{
    const char *problem = p->problem ? p->problem : "malformed input";

    if (p->error == YAML_READER_ERROR) {
        /* the reader (bad UTF-8, control bytes) knows the byte offset only */
        size_t i, end = p->problem_offset < len ? p->problem_offset : len;
        *line = 1;
        for (i = 0; i < end; i++)
            *line += yaml[i] == '\n';
        snprintf(err, cap, "YAML syntax error: %s (byte %zu)", problem, p->problem_offset);
    } else if (p->context) {
        *line = p->problem_mark.line + 1;
        snprintf(err, cap, "YAML syntax error: %s (%s on line %zu)", problem, p->context,
                 p->context_mark.line + 1);
    } else {
        *line = p->problem_mark.line + 1;
        snprintf(err, cap, "YAML syntax error: %s", problem);
    }
}

/* A new node for a scalar or collection start event, or NULL (ENOMEM). */
static struct allot__ynode *node_new(const yaml_event_t *ev)
{
    struct allot__ynode *n = calloc(1, sizeof *n);

    if (!n)
        return NULL;
    n->line = ev->start_mark.line + 1;
    if (ev->type == YAML_SCALAR_EVENT) {
        n->type = ALLOT__YSCALAR;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->raw_len = ev->data.scalar.length;
        n->raw = malloc(n->raw_len + 1);
        if (!n->raw) {
            free(n);
            return NULL;
        }
        memcpy(n->raw, ev->data.scalar.value, n->raw_len);
        n->raw[n->raw_len] = '\0';
    } else {
        n->type = ev->type == YAML_MAPPING_START_EVENT ? ALLOT__YMAP : ALLOT__YSEQ;
    }
    return n;
}

int allot__yaml_parse(const char *yaml, size_t len, struct allot__ynode **out, size_t *err_line,
                      char *err, size_t err_cap)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct allot__ynode *stack[ALLOT__YAML_MAX_DEPTH], *root = NULL;
    size_t depth = 0, n_nodes = 0;
    int docs = 0, rc = 0, done = 0;

    if (!yaml_parser_initialize(&p))
        return ALLOT_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    while (!done && !rc) {
        struct allot__ynode *n;
        size_t line;

        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR) {
                rc = ALLOT_ENOMEM;
            } else {
                syntax_error(&p, yaml, len, err_line, err, err_cap);
                rc = ALLOT_ECONFIG;
            }
            break;
        }
        line = ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                *err_line = line;
                snprintf(err, err_cap, "a second YAML document ('---'); allot.yaml holds one");
                rc = ALLOT_ECONFIG;
            }
            break;
        case YAML_ALIAS_EVENT:
            *err_line = line;
            snprintf(err, err_cap, "YAML aliases (*name) are not supported; repeat the value");
            rc = ALLOT_ECONFIG;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++n_nodes > ALLOT__YAML_MAX_NODES) {
                *err_line = line;
                snprintf(err, err_cap, "more than %d YAML values", ALLOT__YAML_MAX_NODES);
                rc = ALLOT_ECONFIG;
                break;
            }
            if (!(n = node_new(&ev))) {
                rc = ALLOT_ENOMEM;
                break;
            }
            if (depth == 0) {
                root = n; /* one document, so one root */
            } else if (add_kid(stack[depth - 1], n)) {
                allot__ynode_free(n);
                rc = ALLOT_ENOMEM;
                break;
            }
            if (n->type != ALLOT__YSCALAR) {
                if (depth == ALLOT__YAML_MAX_DEPTH) {
                    *err_line = line;
                    snprintf(err, err_cap, "values nested more than %d deep",
                             ALLOT__YAML_MAX_DEPTH);
                    rc = ALLOT_ECONFIG;
                    break;
                }
                stack[depth++] = n;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth)
                depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc) {
        allot__ynode_free(root);
        return rc;
    }
    *out = root;
    return 0;
}
