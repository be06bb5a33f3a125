/* cmd_config.c: `allot config check|keys|new-key`. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include "allot/error.h"
#include "allot/sha256.h"
#include "cli.h"

#define KEY_RANDOM_BYTES 32 /* 256 bits */

/* `allot config new-key NAME`: a fresh client key on stdout, with the
 * auth.keys entry that admits it (its SHA-256 only). */
static int new_key(const char *name)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[KEY_RANDOM_BYTES], d[ALLOT_SHA256_LEN];
    char key[16 + KEY_RANDOM_BYTES * 2], hex[2 * ALLOT_SHA256_LEN + 1];
    size_t i, o;
    int rc = 1;

    for (i = 0; name[i]; i++) {
        if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f) {
            fprintf(stderr, "allot config new-key: NAME cannot have spaces or control "
                            "characters\n");
            return 2;
        }
    }
    if (i == 0 || i > 128) {
        fprintf(stderr, "allot config new-key: NAME must be 1 to 128 bytes\n");
        return 2;
    }
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        fprintf(stderr, "allot config new-key: no random bytes from the kernel\n");
        goto out;
    }
    o = (size_t)snprintf(key, sizeof key, "sk-allot-");
    for (i = 0; i < KEY_RANDOM_BYTES; i += 3) { /* base64url without padding */
        unsigned v = (unsigned)raw[i] << 16 | (i + 1 < KEY_RANDOM_BYTES ? raw[i + 1] : 0u) << 8 |
                     (i + 2 < KEY_RANDOM_BYTES ? raw[i + 2] : 0u);
        size_t n = i + 2 < KEY_RANDOM_BYTES ? 4 : i + 1 < KEY_RANDOM_BYTES ? 3 : 2, j;
        for (j = 0; j < n; j++)
            key[o++] = b64url[(v >> (18 - 6 * j)) & 63];
    }
    key[o] = '\0';
    allot_sha256(key, o, d);
    allot_sha256_hex(d, hex);
    printf("# the key: give it to the client (its OPENAI_API_KEY / ANTHROPIC_API_KEY);\n"
           "# allot cannot show it again\n"
           "%s\n"
           "# under auth.keys in allot.yaml (only the key's SHA-256):\n"
           "    - name: %s\n"
           "      key_sha256: %s\n",
           key, name, hex);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    explicit_bzero(raw, sizeof raw);
    explicit_bzero(key, sizeof key);
    return rc;
}

static int config_exec(int argc, char **argv)
{
    const char *path = NULL;
    int i;

    if (argc < 2) {
        allot_cli_usage(&allot_cli_config);
        return 2;
    }
    if (strcmp(argv[1], "new-key") == 0) {
        if (argc != 3 || argv[2][0] == '-') {
            fprintf(stderr, "usage: allot config new-key NAME\n");
            return 2;
        }
        return new_key(argv[2]);
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "allot config: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(argv[1], "check") == 0) {
        struct allot_config *cfg = NULL;
        size_t t;
        if (allot_cli_load_config(path, &cfg))
            return 1;
        printf("%s: ok (%zu provider%s, %zu model%s", cfg->path ? cfg->path : "(embedded defaults)",
               cfg->n_providers, cfg->n_providers == 1 ? "" : "s", cfg->n_models,
               cfg->n_models == 1 ? "" : "s");
        for (t = 0; t < ALLOT_TIER__COUNT; t++)
            printf(", %s: %zu", allot_tier_name((enum allot_tier)t), cfg->tiers[t].n_models);
        if (cfg->embeddings.n_models)
            printf(", embeddings: %zu", cfg->embeddings.n_models);
        printf(")");
        if (cfg->n_client_keys)
            printf(", %zu client key%s", cfg->n_client_keys, cfg->n_client_keys == 1 ? "" : "s");
        printf("\n");
        allot_config_free(cfg);
        return 0;
    }
    if (strcmp(argv[1], "keys") == 0) {
        struct allot_buf out;
        allot_buf_init(&out, 1u << 20);
        allot_config_describe_keys(&out);
        fputs(allot_buf_cstr(&out), stdout);
        allot_buf_release(&out);
        return 0;
    }
    fprintf(stderr, "allot config: unknown subcommand '%s'\n", argv[1]);
    allot_cli_usage(&allot_cli_config);
    return 2;
}

const struct allot_cli_cmd allot_cli_config = {
    "config", "check a config file, list every config key, or make a client key",
    "usage: allot config check [--config FILE]\n"
    "       allot config keys\n"
    "       allot config new-key NAME\n\n"
    "check    validate allot.yaml (or FILE, or the embedded defaults when neither exists)\n"
    "         without serving; errors give file, line, key and what was expected.\n"
    "keys     every config key with its type, default, bounds and meaning.\n"
    "new-key  a new random client key (256 bits) for NAME, and the auth.keys entry\n"
    "         that admits it, which holds only the key's SHA-256 (docs/config.md).\n",
    config_exec};
