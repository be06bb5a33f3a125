/* json_tree.c: the cJSON tree of checked JSON text (json_tree.h). */
#include "allot/json_tree.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "allot/json_check.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The reader's position in the text. */
struct reader {
    const char *s;
    size_t n, i;
};

/* The first index at or after j (< n) holding '"' or '\\', or n. */
static size_t quote_or_backslash(const char *s, size_t j, size_t n)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    while (n - j >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + j));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)));
        if (m)
            return j + (size_t)__builtin_ctz(m);
        j += 16;
    }
#endif
    while (j < n && s[j] != '"' && s[j] != '\\')
        j++;
    return j;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned h = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = (unsigned char)p[k];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10u;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10u;
        else
            return -1;
        h = h << 4 | d;
    }
    *out = h;
    return 0;
}

/* Decode the escape at s[*i] (the backslash) into out; *i moves past it.
 * Returns the bytes written, or -1 for an escape cJSON refuses. */
static int unescape(const char *s, size_t n, size_t *i, char *out)
{
    size_t j = *i;
    unsigned cp, lo;
    int len;

    if (n - j < 2)
        return -1;
    switch (s[j + 1]) {
    case 'b':
        *out = '\b';
        break;
    case 'f':
        *out = '\f';
        break;
    case 'n':
        *out = '\n';
        break;
    case 'r':
        *out = '\r';
        break;
    case 't':
        *out = '\t';
        break;
    case '"':
    case '\\':
    case '/':
        *out = s[j + 1];
        break;
    case 'u':
        if (n - j < 6 || hex4(s + j + 2, &cp) || (cp >= 0xDC00 && cp <= 0xDFFF))
            return -1;
        j += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (n - j < 6 || s[j] != '\\' || s[j + 1] != 'u' || hex4(s + j + 2, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            cp = 0x10000 + (((cp & 0x3FF) << 10) | (lo & 0x3FF));
            j += 6;
        }
        *i = j;
        if (cp < 0x80) {
            out[0] = (char)cp;
            return 1;
        }
        if (cp < 0x800) {
            out[0] = (char)(0xC0 | cp >> 6);
            len = 2;
        } else if (cp < 0x10000) {
            out[0] = (char)(0xE0 | cp >> 12);
            len = 3;
        } else {
            out[0] = (char)(0xF0 | cp >> 18);
            len = 4;
        }
        for (int k = len - 1; k > 0; k--, cp >>= 6)
            out[k] = (char)(0x80 | (cp & 0x3F));
        return len;
    default:
        return -1;
    }
    *i = j + 2;
    return 1;
}

/* The string whose opening quote is at r->i, as a new C string (its bytes
 * may include NULs from \u0000, as cJSON's do); r->i moves past the
 * closing quote. NULL: allocation failure or a malformed string. */
static char *read_string(struct reader *r)
{
    const char *s = r->s;
    size_t n = r->n, start = r->i + 1, j = quote_or_backslash(s, start, n), o;
    char *out;

    if (j < n && s[j] == '"') { /* no escapes: one copy */
        if (!(out = cJSON_malloc(j - start + 1)))
            return NULL;
        memcpy(out, s + start, j - start);
        out[j - start] = '\0';
        r->i = j + 1;
        return out;
    }
    /* escapes: the output is at most as long as the text up to the quote */
    {
        size_t end = j;
        while (end < n && s[end] != '"') {
            end = s[end] == '\\' ? end + 2 : end + 1;
            end = end < n ? quote_or_backslash(s, end, n) : n;
        }
        if (end >= n)
            return NULL;
        if (!(out = cJSON_malloc(end - start + 1)))
            return NULL;
        memcpy(out, s + start, j - start);
        o = j - start;
        while (j < end) {
            if (s[j] == '\\') {
                /* the escapes of text (code, prose) inline; \u and the
                 * rest by unescape() */
                char c = s[j + 1], e = c == 'n'    ? '\n'
                                       : c == '"'  ? '"'
                                       : c == '\\' ? '\\'
                                       : c == 't'  ? '\t'
                                       : c == '/'  ? '/'
                                       : c == 'r'  ? '\r'
                                                   : 0;
                int k;
                if (e) {
                    out[o++] = e;
                    j += 2;
                    continue;
                }
                if ((k = unescape(s, end, &j, out + o)) < 0) {
                    cJSON_free(out);
                    return NULL;
                }
                o += (size_t)k;
                continue;
            }
#if defined(__SSE2__)
            /* a run up to the next backslash, sixteen bytes a step: out has
             * room, as the output never outgrows the text (o <= j - start) */
            while (end - j >= 16) {
                __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + j));
                unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
                _mm_storeu_si128((__m128i *)(void *)(out + o), x);
                if (m) {
                    j += (size_t)__builtin_ctz(m);
                    o += (size_t)__builtin_ctz(m);
                    break;
                }
                j += 16;
                o += 16;
            }
            if (j < end && s[j] == '\\')
                continue;
#endif
            while (j < end && s[j] != '\\') /* no unescaped quote before end */
                out[o++] = s[j++];
        }
        out[o] = '\0';
        r->i = end + 1;
        return out;
    }
}

static int is_number_byte(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* The number at r->i into item, as cJSON's parse_number sets it. */
static int read_number(struct reader *r, cJSON *item)
{
    char small[64], *copy = small, *end;
    size_t j = r->i, len;
    double d;

    while (j < r->n && is_number_byte(r->s[j]))
        j++;
    len = j - r->i;
    {
        /* an integer of up to 15 digits is exact in a double: strtod's
         * value without strtod (ids, counts, "created" in every chunk) */
        const char *p = r->s + r->i;
        size_t k = p[0] == '-', digits = len - k;
        if (digits && digits <= 15) {
            uint64_t v = 0;
            while (k < len && p[k] >= '0' && p[k] <= '9')
                v = v * 10 + (uint64_t)(p[k++] - '0');
            if (k == len) {
                d = p[0] == '-' ? -(double)v : (double)v;
                goto done;
            }
        }
    }
    if (len >= sizeof small && !(copy = malloc(len + 1)))
        return -1;
    memcpy(copy, r->s + r->i, len);
    copy[len] = '\0';
    d = strtod(copy, &end);
    len = (size_t)(end - copy);
    if (copy != small)
        free(copy);
    if (!len)
        return -1;
done:
    item->type = cJSON_Number;
    item->valuedouble = d;
    item->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    r->i += len;
    return 0;
}

/* The literal word (true, false, null) at r->i into item as type. */
static int read_word(struct reader *r, cJSON *item, const char *word, int type)
{
    size_t len = strlen(word);

    if (r->n - r->i < len || memcmp(r->s + r->i, word, len) != 0)
        return -1;
    item->type = type;
    r->i += len;
    return 0;
}

static void skip_space(struct reader *r)
{
    while (r->i < r->n &&
           (r->s[r->i] == ' ' || r->s[r->i] == '\n' || r->s[r->i] == '\r' || r->s[r->i] == '\t'))
        r->i++;
}

/* One scalar, or the opening of an object or array, at r->i into item. */
static int read_value(struct reader *r, cJSON *item)
{
    if (r->i >= r->n)
        return -1;
    switch (r->s[r->i]) {
    case '{':
        item->type = cJSON_Object;
        r->i++;
        return 0;
    case '[':
        item->type = cJSON_Array;
        r->i++;
        return 0;
    case '"':
        item->type = cJSON_String;
        return (item->valuestring = read_string(r)) ? 0 : -1;
    case 't':
        item->valueint = 1; /* as cJSON sets it for true */
        return read_word(r, item, "true", cJSON_True);
    case 'f':
        return read_word(r, item, "false", cJSON_False);
    case 'n':
        return read_word(r, item, "null", cJSON_NULL);
    default:
        return read_number(r, item);
    }
}

cJSON *allot_json_parse(const char *text, size_t len)
{
    if (text && !allot_json_check(text, len, 0, NULL, NULL, NULL))
        return allot_json_tree(text, len);
    return text ? cJSON_ParseWithLength(text, len) : NULL;
}

cJSON *allot_json_tree(const char *text, size_t len)
{
    /* the open objects and arrays, outermost first, with their last child */
    cJSON *open[ALLOT_JSON_CHECK_MAX_DEPTH], *last[ALLOT_JSON_CHECK_MAX_DEPTH];
    struct reader r = {text, text ? len : 0, 0};
    cJSON *root = NULL, *item;
    size_t depth = 0;
    int ok = 0;

    skip_space(&r);
    for (;;) {
        /* a value: a member's key first when its parent is an object */
        char *key = NULL;
        if (depth && cJSON_IsObject(open[depth - 1])) {
            if (r.i >= r.n || r.s[r.i] != '"' || !(key = read_string(&r)))
                break;
            skip_space(&r);
            if (r.i >= r.n || r.s[r.i] != ':') {
                cJSON_free(key);
                break;
            }
            r.i++;
            skip_space(&r);
        }
        if (!(item = cJSON_malloc(sizeof *item))) {
            cJSON_free(key);
            break;
        }
        memset(item, 0, sizeof *item);
        item->string = key;
        if (!depth) {
            root = item;
        } else {
            if (last[depth - 1]) {
                last[depth - 1]->next = item;
                item->prev = last[depth - 1];
            } else {
                open[depth - 1]->child = item;
            }
            last[depth - 1] = item;
        }
        if (read_value(&r, item))
            break;
        skip_space(&r);
        if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
            if (depth == ALLOT_JSON_CHECK_MAX_DEPTH)
                break;
            open[depth] = item;
            last[depth++] = NULL;
            if (r.i < r.n && r.s[r.i] == (cJSON_IsObject(item) ? '}' : ']')) {
                r.i++;
                depth--; /* empty */
            } else {
                continue;
            }
            skip_space(&r);
        }
        /* after a value: a comma opens the next one, a bracket closes */
        int comma = 0;
        while (depth && r.i < r.n) {
            cJSON *parent = open[depth - 1];
            if (r.s[r.i] == ',') {
                r.i++;
                skip_space(&r);
                comma = 1;
                break;
            }
            if (r.s[r.i] != (cJSON_IsObject(parent) ? '}' : ']'))
                break;
            r.i++;
            parent->child->prev = last[depth - 1]; /* as cJSON leaves it */
            depth--;
            skip_space(&r);
        }
        if (!depth)
            ok = 1;
        if (!depth || !comma)
            break;
    }
    if (!ok) {
        /* close what is open so that the partial tree is well linked */
        while (depth) {
            cJSON *parent = open[--depth];
            if (parent->child)
                parent->child->prev = last[depth];
        }
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
