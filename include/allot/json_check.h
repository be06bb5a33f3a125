/* json_check.h: strict JSON validation (RFC 8259) in one pass, with a
 * precise "where and why" for the first problem.
 *
 * cJSON is lenient where the strict parsers behind it are not (control
 * characters and invalid UTF-8 in strings, "01", "1.", any byte <= 0x20 as
 * whitespace, a byte order mark) and says only where it stopped, not why.
 * A text that passes allot_json_check() is one cJSON reads the same way, so
 * cJSON after it can fail only for want of memory.
 *
 * The check can also hand back the members of a top-level object as it
 * passes them (key and value spans), so that a caller who needs to splice
 * those values need not scan the text a second time.
 *
 * Nothing here allocates, but allot_json_check_remembering() (below), which
 * keeps copies of a few values per thread; it is non-recursive, so hostile
 * nesting costs no C stack. Thread-safe: the only state is per thread. */
#ifndef ALLOT_JSON_CHECK_H
#define ALLOT_JSON_CHECK_H
#include <stddef.h>
#include <string.h>

/* Nesting deeper than this is refused: cJSON's CJSON_NESTING_LIMIT, so the
 * two agree on what is too deep. */
#define ALLOT_JSON_CHECK_MAX_DEPTH 1000

/* Flags for allot_json_check(). */
/* Accept the escape \u0000 in strings, which RFC 8259 allows but which a C
 * string cannot hold (cJSON ends the string there). Refused by default. */
#define ALLOT_JSON_CHECK_NUL_OK 0x1u

/* allot_json_check_remembering() keeps, per thread, the large values of
 * the named members of a top-level object (objects or arrays of
 * ALLOT_JSON_CHECK_REMEMBER_MIN to ALLOT_JSON_CHECK_REMEMBER_MAX bytes)
 * once it has seen one twice, and passes over a later value of such a
 * member that starts with the same bytes instead of checking it again.
 * ALLOT_JSON_CHECK_REMEMBER_KEPT values a thread. */
#define ALLOT_JSON_CHECK_REMEMBER_MIN 512
#define ALLOT_JSON_CHECK_REMEMBER_MAX (256u * 1024u)
#define ALLOT_JSON_CHECK_REMEMBER_KEPT 4

/* What is wrong, when allot_json_check() refuses a text. */
enum allot_json_check_kind {
    ALLOT_JSON_CHECK_OK = 0,
    ALLOT_JSON_CHECK_END,          /* the text ends inside the value (not in a string) */
    ALLOT_JSON_CHECK_UNTERMINATED, /* the text ends inside a string */
    ALLOT_JSON_CHECK_UNEXPECTED,   /* a byte that cannot come there */
    ALLOT_JSON_CHECK_BOM,          /* a UTF-8 byte order mark before the value */
    ALLOT_JSON_CHECK_TRAILING,     /* something other than whitespace after the value */
    ALLOT_JSON_CHECK_NUMBER,       /* "01", "1.", "-", "1e", "1x" */
    ALLOT_JSON_CHECK_CONTROL,      /* a raw byte below 0x20 in a string */
    ALLOT_JSON_CHECK_UTF8,         /* bytes in a string that are not UTF-8 */
    ALLOT_JSON_CHECK_ESCAPE,       /* a backslash escape JSON does not have */
    ALLOT_JSON_CHECK_U_ESCAPE,     /* \u without four hex digits */
    ALLOT_JSON_CHECK_NUL,          /* \u0000, without ALLOT_JSON_CHECK_NUL_OK */
    ALLOT_JSON_CHECK_SURROGATE,    /* a \uD800-\uDFFF escape not in a high-low pair */
    ALLOT_JSON_CHECK_DEPTH,        /* nesting deeper than ALLOT_JSON_CHECK_MAX_DEPTH */
};

/* The first problem in a text. */
struct allot_json_check_error {
    enum allot_json_check_kind kind;
    size_t pos;         /* byte offset of the problem; the text's length when it ran out */
    size_t line;        /* of pos, from 1 */
    size_t column;      /* of pos, from 1, in characters as an editor shows them */
    size_t byte_column; /* of pos, from 1, in bytes */
    /* Why, in a few words: "unterminated string", "invalid number",
     * "unexpected character ','", "unexpected byte 0x0C", ... */
    char why[48];
};

/* A member of the top-level object: offsets are from the start of the
 * text. The key span is the raw text between its quotes (escapes not
 * decoded; see allot_json_check_key_is); the value span runs from the
 * value's first byte to just past its last, without the whitespace
 * around it. */
struct allot_json_check_member {
    size_t key_off, key_len;
    int key_escaped; /* the key holds a backslash escape */
    size_t value_off, value_len;
};

/* Called for each member of the top-level object, in text order, once its
 * value has been checked. A later error in the text refuses the text all
 * the same: a caller keeps what it was told only if the check returns 0. */
typedef void (*allot_json_check_member_cb)(void *ctx, const struct allot_json_check_member *m);

/* Check that text[0..len) is exactly one JSON value, optionally surrounded
 * by the four JSON whitespace bytes (space, tab, LF, CR), per RFC 8259 and
 * the flags: valid UTF-8 in strings, no raw control characters in them,
 * valid escapes and surrogate pairs, strict numbers, no \u0000 (unless
 * ALLOT_JSON_CHECK_NUL_OK), nesting at most ALLOT_JSON_CHECK_MAX_DEPTH.
 * Number ranges are not checked. on_member may be NULL; else it is called
 * with ctx for each member of a top-level object. text may be NULL when
 * len is 0.
 *
 * Returns 0, or ALLOT_EPARSE with *err (when err is not NULL) describing
 * the first problem; err is not touched on success. */
int allot_json_check(const char *text, size_t len, unsigned flags,
                     allot_json_check_member_cb on_member, void *ctx,
                     struct allot_json_check_error *err);

/* allot_json_check(), remembering the values of the top-level members
 * named in keep (a NULL-terminated list of ASCII names; keys written with
 * escapes are never kept). What it is for: an agent sends the same tool
 * definitions, often tens of KB of JSON schemas, with every request.
 * Those bytes were one whole valid value, and an object or array ends
 * where its bytes say, so the result and the member spans are the ones a
 * full check gives. The kept values are heap copies the thread owns and
 * frees when it exits. */
int allot_json_check_remembering(const char *text, size_t len, unsigned flags,
                                 const char *const *keep, allot_json_check_member_cb on_member,
                                 void *ctx, struct allot_json_check_error *err);

/* Drop the values the calling thread remembers and free their copies. */
void allot_json_check_forget(void);

/* How many member values the calling thread has passed over as
 * remembered, for tests. */
size_t allot_json_check_remembered_hits(void);

/* Called by allot_json_check_members() for each member: 0 to go on to
 * the next, non-zero to stop there. */
typedef int (*allot_json_check_scan_cb)(void *ctx, const struct allot_json_check_member *m);

/* For a text already known to be valid JSON (one allot wrote itself, or
 * one allot_json_check() passed): call on_member with ctx for each member
 * of its top-level object in text order, with the spans allot_json_check()
 * would give, until it says stop, checking nothing on the way. The text
 * after the last member looked at is not read at all. Not for a peer's
 * text: it does not see what is wrong with one, only stays inside
 * text[0..len).
 *
 * Returns 0 (the object's end reached, or on_member stopped the scan);
 * ALLOT_EPARSE when the text is not an object, or its shape is broken
 * where the scan had to look (members may have been reported before). */
int allot_json_check_members(const char *text, size_t len, allot_json_check_scan_cb on_member,
                             void *ctx);

/* Does the key of member m (in the text it was found in) decode to name, a
 * NUL-terminated ASCII string? Escapes are decoded; an escape that stands
 * for a code point past ASCII never matches. Keys without escapes (nearly
 * all) are compared inline, first byte first: the readers call this for
 * every member against several names, most of which differ there, so the
 * name's length is not counted for them. strncmp() stops at the name's
 * end, so a name shorter than the key is never read past. */
int allot_json_check_escaped_key_is(const char *text, const struct allot_json_check_member *m,
                                    const char *name);
static inline int allot_json_check_key_is(const char *text, const struct allot_json_check_member *m,
                                          const char *name)
{
    const char *key = text + m->key_off;

    if (m->key_escaped)
        return allot_json_check_escaped_key_is(text, m, name);
    if (m->key_len == 0)
        return name[0] == '\0';
    return key[0] == name[0] && strncmp(name, key, m->key_len) == 0 && name[m->key_len] == '\0';
}

/* allot_json_check_skip_ws() past the byte test: the run of whitespace. */
size_t allot_json_check_skip_ws_run(const char *text, size_t len, size_t i);

/* The index of the first byte at or after i in text[0..len) that is not
 * JSON whitespace (space, tab, LF, CR); len when there is none. Inline:
 * the checker asks between every two tokens, and a compact text (what
 * clients and upstreams send) has none there. Every JSON whitespace byte
 * is at most 0x20, so one compare answers most calls. */
static inline size_t allot_json_check_skip_ws(const char *text, size_t len, size_t i)
{
    if (i < len && (unsigned char)text[i] > 0x20)
        return i;
    return allot_json_check_skip_ws_run(text, len, i);
}

/* The value of the hex digit c (0-15), or -1 when c is not one. */
int allot_json_check_hex(char c);

#endif
