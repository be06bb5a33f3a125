/* json_text.c: values off a checked JSON text (json_text.h). */
#include <string.h>
#include "allot/json_check.h"
#include "allot/json_text.h"

/* The index just past the string that opens at t[i]: the first quote
 * after an even run of backslashes. */
static size_t string_end(const char *t, size_t n, size_t i)
{
    size_t start = i + 1, q, b;
    const char *p;

    for (i = start; i < n; i = q + 1) {
        if (!(p = memchr(t + i, '"', n - i)))
            return n;
        q = (size_t)(p - t);
        for (b = q; b > start && t[b - 1] == '\\';)
            b--;
        if ((q - b) % 2 == 0)
            return q + 1;
    }
    return n;
}

size_t allot_json_text_value_end(const char *t, size_t n, size_t i)
{
    size_t depth = 0;

    if (i >= n)
        return n;
    if (t[i] == '"')
        return string_end(t, n, i);
    if (t[i] != '{' && t[i] != '[') {
        while (i < n && t[i] != ',' && t[i] != ']' && t[i] != '}' && t[i] != ' ' && t[i] != '\t' &&
               t[i] != '\n' && t[i] != '\r')
            i++;
        return i;
    }
    while (i < n) {
        if (t[i] == '"') {
            i = string_end(t, n, i);
            continue;
        }
        if (t[i] == '{' || t[i] == '[')
            depth++;
        else if ((t[i] == '}' || t[i] == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return n;
}

struct allot_slice allot_json_text_string_body(struct allot_slice v)
{
    struct allot_slice s = {NULL, 0};

    if (v.ptr && v.len >= 2 && v.ptr[0] == '"') {
        s.ptr = v.ptr + 1;
        s.len = v.len - 2;
    }
    return s;
}

int allot_json_text_has_children(struct allot_slice v)
{
    size_t i;

    if (!v.ptr || !v.len || (v.ptr[0] != '[' && v.ptr[0] != '{'))
        return 0;
    i = allot_json_check_skip_ws(v.ptr, v.len, 1);
    return i < v.len && v.ptr[i] != ']' && v.ptr[i] != '}';
}

static unsigned hex4(const char *s)
{
    unsigned cp = 0;
    int k;

    for (k = 0; k < 4; k++)
        cp = cp << 4 | (unsigned)allot_json_check_hex(s[k]);
    return cp;
}

size_t allot_json_text_decoded_len(const char *s, size_t n)
{
    size_t i, len = 0;
    const char *bs;

    for (i = 0; i < n; i++) {
        if (!(bs = memchr(s + i, '\\', n - i)))
            return len + (n - i);
        len += (size_t)(bs - s) - i;
        i = (size_t)(bs - s) + 1;
        if (i >= n)
            break;
        if (s[i] != 'u') {
            len++;
            continue;
        }
        if (i + 4 >= n)
            break;
        {
            unsigned cp = hex4(s + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* the low half follows: \uDCxx */
                i += 6;
                len += 4;
            } else {
                len += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
            }
        }
    }
    return len;
}

/* A code point as UTF-8 into out; returns its length. */
static size_t put_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The byte a one-letter escape stands for: \b \f \n \r \t, and
 * \" \\ \/ for themselves. */
static char simple_escape(char c)
{
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return c;
    }
}

size_t allot_json_text_unescape(const char *raw, size_t n, char *out, size_t cap)
{
    size_t i, o = 0, run;
    const char *bs;
    char one[4];
    size_t k;

    for (i = 0; i < n && o < cap; i++) {
        bs = memchr(raw + i, '\\', n - i);
        run = (bs ? (size_t)(bs - raw) : n) - i;
        if (run > cap - o)
            run = cap - o;
        memcpy(out + o, raw + i, run);
        o += run;
        if (!bs || o == cap)
            break;
        i = (size_t)(bs - raw) + 1;
        if (i >= n)
            break;
        if (raw[i] == 'u') {
            unsigned cp;
            if (i + 4 >= n)
                return o;
            cp = hex4(raw + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* \uD8xx\uDCxx: one code point */
                if (i + 6 >= n)
                    return o;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(raw + i + 3) - 0xDC00);
                i += 6;
            }
            k = put_utf8(cp, one);
        } else {
            one[0] = simple_escape(raw[i]);
            k = 1;
        }
        if (k > cap - o)
            break; /* not all of it fits: none of it */
        memcpy(out + o, one, k);
        o += k;
    }
    return o;
}

int allot_json_text_next_element(const char *t, size_t n, size_t *i, struct allot_slice *elem)
{
    size_t p = allot_json_check_skip_ws(t, n, *i == 0 ? 1 : *i), end;

    if (p < n && t[p] == ',')
        p = allot_json_check_skip_ws(t, n, p + 1);
    if (p >= n || t[p] == ']')
        return 0;
    end = allot_json_text_value_end(t, n, p);
    elem->ptr = t + p;
    elem->len = end - p;
    *i = end;
    return 1;
}
