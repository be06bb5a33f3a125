/* test_json_arena.c: cJSON trees in a request-scoped arena (json_arena.h).
 * The runner installs the hooks first, as allot's main does. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/json_arena.h"
#include "test.h"

static const char doc[] = "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":"
                          "\"Summarise this: \\\"quoted\\\" text \\u00e9\"}],\"n\":2.5}";

/* The tree of doc, checked. */
static int doc_ok(const cJSON *root)
{
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "messages"), 0);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    return cJSON_IsString(c) &&
           strcmp(c->valuestring, "Summarise this: \"quoted\" text \xc3\xa9") == 0 &&
           cJSON_GetObjectItemCaseSensitive(root, "n")->valuedouble == 2.5;
}

TEST(json_arena_tree_lives_in_the_arena_until_reset)
{
    struct allot_json_arena a, *prev;
    cJSON *root, *again;
    size_t used;

    ASSERT(allot_json_arena_installed());
    allot_json_arena_init(&a);
    ASSERT_INT_EQ((int)allot_json_arena_used(&a), 0);
    prev = allot_json_arena_enter(&a);
    root = cJSON_Parse(doc);
    allot_json_arena_leave(prev);
    ASSERT(root != NULL);
    ASSERT(doc_ok(root));
    used = allot_json_arena_used(&a);
    ASSERT(used >= sizeof doc); /* nodes and strings came from the arena */
    cJSON_Delete(root);         /* frees nothing: the tree is still readable memory */
    ASSERT_INT_EQ((int)allot_json_arena_used(&a), (int)used);

    allot_json_arena_reset(&a);
    ASSERT_INT_EQ((int)allot_json_arena_used(&a), 0);
    prev = allot_json_arena_enter(&a);
    again = cJSON_Parse(doc);
    allot_json_arena_leave(prev);
    ASSERT(doc_ok(again));
    ASSERT_INT_EQ((int)allot_json_arena_used(&a), (int)used);
#if !defined(__SANITIZE_ADDRESS__)
    ASSERT(again == root); /* the kept block is reused: no malloc on a warm arena */
#endif
    cJSON_Delete(again);
    allot_json_arena_release(&a);
    ASSERT_INT_EQ((int)allot_json_arena_used(&a), 0);
}

TEST(json_arena_none_current_means_malloc)
{
    struct allot_json_arena a, *prev;
    cJSON *heap, *in;
    char *text;

    allot_json_arena_init(&a);
    heap = cJSON_Parse(doc); /* no arena current: freed by cJSON_Delete (LeakSanitizer) */
    ASSERT(doc_ok(heap));
    ASSERT_INT_EQ((int)allot_json_arena_used(&a), 0);

    prev = allot_json_arena_enter(&a);
    in = cJSON_Parse(doc);
    ASSERT(allot_json_arena_enter(NULL) == &a); /* nested: none current inside */
    text = cJSON_PrintUnformatted(in);          /* from malloc, freed by cJSON_free */
    ASSERT(allot_json_arena_enter(&a) == NULL);
    allot_json_arena_leave(prev);
    ASSERT(allot_json_arena_enter(NULL) == prev); /* leave restored what was current */
    ASSERT(text != NULL);
    ASSERT_STR_CONTAINS(text, "\"model\":\"auto\"");
    cJSON_free(text);
    cJSON_Delete(in);
    cJSON_Delete(heap);
    allot_json_arena_release(&a);
}

TEST(json_arena_big_strings_and_many_blocks)
{
    struct allot_json_arena a, *prev;
    size_t n = 200000, i;
    char *big = malloc(n + 64);
    cJSON *root;

    ASSERT(big != NULL);
    memcpy(big, "{\"content\":\"", 12);
    for (i = 0; i < n; i++)
        big[12 + i] = (char)('a' + i % 26);
    memcpy(big + 12 + n, "\",\"list\":[", 10);
    big[22 + n] = '\0';
    allot_json_arena_init(&a);
    prev = allot_json_arena_enter(&a);
    /* a string bigger than any block, and more small nodes than one block holds */
    {
        char *doc2 = malloc(n + 64 + 4000 * 4);
        size_t len = strlen(big);
        memcpy(doc2, big, len);
        for (i = 0; i < 4000; i++) {
            memcpy(doc2 + len, i ? ",1" : "1", i ? 2 : 1);
            len += i ? 2 : 1;
        }
        memcpy(doc2 + len, "]}", 3);
        root = cJSON_Parse(doc2);
        free(doc2);
    }
    allot_json_arena_leave(prev);
    ASSERT(root != NULL);
    ASSERT_INT_EQ((int)strlen(cJSON_GetObjectItemCaseSensitive(root, "content")->valuestring),
                  (int)n);
    ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "list")), 4000);
    ASSERT(allot_json_arena_used(&a) > n + 4000 * sizeof(cJSON));
    cJSON_Delete(root);
    allot_json_arena_reset(&a); /* frees the big block and the extra ones (LeakSanitizer) */
    ASSERT_INT_EQ((int)allot_json_arena_used(&a), 0);
    allot_json_arena_release(&a);
    free(big);
}

struct other {
    struct allot_json_arena *a;
    size_t used_seen;
    int ok;
};

static void *other_thread(void *p)
{
    struct other *o = p;
    cJSON *root = cJSON_Parse(doc); /* this thread has no arena current */
    o->ok = doc_ok(root);
    o->used_seen = allot_json_arena_used(o->a);
    cJSON_Delete(root);
    return NULL;
}

TEST(json_arena_is_per_thread)
{
    struct allot_json_arena a, *prev;
    struct other o;
    pthread_t t;
    size_t before;

    allot_json_arena_init(&a);
    prev = allot_json_arena_enter(&a);
    cJSON_Delete(cJSON_Parse("[1]"));
    before = allot_json_arena_used(&a);
    o.a = &a;
    o.ok = 0;
    ASSERT_INT_EQ(pthread_create(&t, NULL, other_thread, &o), 0);
    pthread_join(t, NULL);
    allot_json_arena_leave(prev);
    ASSERT(o.ok);
    ASSERT_INT_EQ((int)o.used_seen, (int)before); /* its parse did not touch our arena */
    allot_json_arena_release(&a);
}
