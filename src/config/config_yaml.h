/* config_yaml.h: a YAML document as a small tree, private to src/config/.
 *
 * libyaml's event parser drives the build; each node keeps its line and,
 * for scalars, the text exactly as written, which is what error messages
 * quote. Aliases, a second document and deep nesting are refused, so a
 * tree is acyclic, at most ALLOT__YAML_MAX_DEPTH deep and at most
 * ALLOT__YAML_MAX_NODES big. */
#ifndef ALLOT_CONFIG_YAML_H
#define ALLOT_CONFIG_YAML_H
#include <stddef.h>

#define ALLOT__YAML_MAX_DEPTH 16 /* allot.yaml needs 5 */
#define ALLOT__YAML_MAX_NODES 100000

enum allot__ytype { ALLOT__YSCALAR, ALLOT__YSEQ, ALLOT__YMAP };

struct allot__ynode {
    enum allot__ytype type;
    int plain;      /* a scalar written without quotes */
    size_t line;    /* 1-based; 0 for a node made up by the caller */
    char *raw;      /* scalar as written, NUL-terminated copy */
    size_t raw_len; /* may include NUL bytes ("\0" escapes) */
    char *val;      /* the caller's (config.c: raw with ${VAR}
                     * expanded); freed, zeroed, with the tree */
    size_t val_len;
    struct allot__ynode **kids; /* sequence items; mapping key, value, ... */
    size_t n, cap;
};

/* Parse len bytes of YAML. On success *out is the root, NULL for an empty
 * document; free it with allot__ynode_free(). Errors: ALLOT_ECONFIG with
 * the 1-based line (0 when unknown) in *err_line and the reason in err
 * ("YAML syntax error: ..."), ALLOT_ENOMEM. */
int allot__yaml_parse(const char *yaml, size_t len, struct allot__ynode **out, size_t *err_line,
                      char *err, size_t err_cap);

/* Free a tree; every scalar is zeroed first (it may hold a secret). */
void allot__ynode_free(struct allot__ynode *n);

/* A plain empty scalar, "~" or "null": YAML's null. Also true for NULL. */
int allot__ynode_is_null(const struct allot__ynode *n);

/* The value of key in mapping m, and the key's line in *key_line when not
 * NULL; NULL when m is no mapping or lacks the key. */
struct allot__ynode *allot__ynode_get(const struct allot__ynode *m, const char *key,
                                      size_t *key_line);

#endif
