/* instruction.c: finding the instruction of a request among its material.
 *
 * One pass over the lines of the last user turn (memchr per line) sorts
 * them into paragraphs of plain text and blocks of material: fenced code,
 * XML-style tagged blocks, quoted lines, separator lines. The instruction is
 * then taken from the edges of the turn, where people and agents put it:
 *
 *   - a short turn (ALLOT_VIEW_SHORT_TURN bytes or less) is read in full,
 *     paragraph by paragraph, leaving the material blocks out;
 *   - a long turn is read at its leading and trailing short paragraphs (at
 *     most EDGE_PARAS each, EDGE_SHORT bytes each); a long first or last
 *     paragraph gives only its outer ALLOT_VIEW_EDGE bytes, at edge weight.
 *     What lies between is pasted material and is not read.
 *
 * The pass looks at each line's first bytes only (to classify it), so its
 * cost is one memchr sweep of the turn; the text read for features is
 * bounded by the span sizes, whatever the request's length. */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "allot/chat_request.h"
#include "allot/instruction.h"
#include "util/byte_table.h"

#define EDGE_PARAS 3   /* leading/trailing short paragraphs read */
#define EDGE_SHORT 300 /* a paragraph this short is read in full at an edge */
#define SHORT_PARAS 6  /* paragraphs read in full from a short turn */
#define TAG_NAME_MAX 24
#define LIST_ITEMS_MIN 5
#define TABULAR_LINES_MIN 3

void allot_instruction_from_request(const struct allot_chat_request *r,
                                    struct allot_instruction *out)
{
    memset(out, 0, sizeof *out);
    out->system = r->system;
    out->last_user = r->last_user;
    out->n_messages = r->n_messages;
    out->n_tool_results = r->n_tool_results;
    out->material_bytes = r->material_bytes;
    out->has_tools = r->has_tools;
    out->has_response_format = r->has_response_format;
    out->last_is_tool = r->last_is_tool;
}

struct para {
    size_t start, end;
};

/* The state of the line pass. */
struct scan {
    const char *p;
    size_t n;
    enum { IN_TEXT, IN_FENCE, IN_TAG, IN_QUOTE } state;
    char fence_ch;
    size_t fence_len;
    char tag[TAG_NAME_MAX];
    size_t tag_len;
    int in_para;
    struct para cur;
    struct para head[SHORT_PARAS];
    size_t n_head;
    struct para tail[EDGE_PARAS]; /* ring of the last paragraphs */
    size_t n_paras;
    unsigned n_documents, flags, list_items, tabular_lines;
};

static int is_blank(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static size_t lead_spaces(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 4 && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* "```", "~~~~": the fence character and run length, or 0. */
static size_t fence_run(const char *s, size_t n, char *ch)
{
    size_t i = 0;
    if (n < 3 || (s[0] != '`' && s[0] != '~'))
        return 0;
    while (i < n && s[i] == s[0])
        i++;
    if (i < 3)
        return 0;
    *ch = s[0];
    return i;
}

/* "<name ...>" opening a line, with no "</name" later on the same line:
 * the start of a tagged block. Returns the name length, or 0. */
static size_t tag_open(const char *s, size_t n, char *name)
{
    size_t i = 1, k;
    if (n < 3 || s[0] != '<' || !is_alpha(s[1]))
        return 0;
    while (i < n && i <= TAG_NAME_MAX &&
           (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '-' || s[i] == ':'))
        i++;
    if (i >= n || i > TAG_NAME_MAX || (s[i] != '>' && s[i] != ' '))
        return 0;
    if (!memchr(s + i, '>', n - i))
        return 0;
    for (k = i; k + 2 + (i - 1) <= n; k++)
        if (s[k] == '<' && s[k + 1] == '/' && memcmp(s + k + 2, s + 1, i - 1) == 0)
            return 0; /* opened and closed on one line: inline markup */
    memcpy(name, s + 1, i - 1);
    return i - 1;
}

static int tag_close(const char *s, size_t n, const char *name, size_t name_len)
{
    size_t k;
    for (k = 0; k + 2 + name_len <= n; k++)
        if (s[k] == '<' && s[k + 1] == '/' && memcmp(s + k + 2, name, name_len) == 0)
            return 1;
    return 0;
}

/* "---", "***", "===", or "Document 3:", "Article #2", "[4]" at a line start. */
static int is_separator(const char *s, size_t n)
{
    static const char *const words[] = {"document", "doc",    "article", "source",  "text",
                                        "item",     "email",  "report",  "note",    "review",
                                        "summary",  "file",   "page",    "excerpt", "entry",
                                        "message",  "ticket", "abstract"};
    size_t i, k;
    if (n > 40) /* separators are short lines */
        return 0;
    if (n >= 3 && (s[0] == '-' || s[0] == '*' || s[0] == '=') && s[1] == s[0] && s[2] == s[0]) {
        for (i = 3; i < n && (s[i] == s[0] || s[i] == ' ' || s[i] == '\r'); i++)
            ;
        return i == n;
    }
    if (n >= 3 && s[0] == '[' && is_digit(s[1]))
        return 1;
    if (!is_alpha(s[0]))
        return 0;
    for (k = 0; k < sizeof words / sizeof words[0]; k++) {
        size_t wl = strlen(words[k]);
        if (n <= wl + 1)
            continue;
        for (i = 0; i < wl && lower(s[i]) == words[k][i]; i++)
            ;
        if (i < wl)
            continue;
        while (i < n && (s[i] == ' ' || s[i] == '#'))
            i++;
        if (i < n && is_digit(s[i]))
            return 1;
    }
    return 0;
}

static int is_list_item(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && s[1] == ' ')
        return 1;
    if (n >= 4 && (unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 &&
        (unsigned char)s[2] == 0xa2)
        return 1; /* U+2022 bullet */
    while (i < n && i < 3 && is_digit(s[i]))
        i++;
    return i > 0 && i + 1 < n && (s[i] == '.' || s[i] == ')') && s[i + 1] == ' ';
}

/* Commas, tabs and pipes in the first TABULAR_SPAN bytes of a line, each
 * count in its own 8 bits (a line's start is fewer than 256 bytes). */
#define TABULAR_SPAN 96 /* a line's start tells */

#ifdef __SSE2__
/* The same counts sixteen bytes at a time (SSE2, part of every x86-64):
 * every line of a request is looked at. */
static uint32_t tabular_counts(const char *s, size_t lim)
{
    char line[TABULAR_SPAN] = {0};
    __m128i comma = _mm_setzero_si128(), tab = comma, pipe = comma, zero = comma;
    size_t i;

    memcpy(line, s, lim);
    for (i = 0; i < TABULAR_SPAN; i += 16) { /* a match is -1: subtracted, it counts */
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(line + i));
        comma = _mm_sub_epi8(comma, _mm_cmpeq_epi8(v, _mm_set1_epi8(',')));
        tab = _mm_sub_epi8(tab, _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
        pipe = _mm_sub_epi8(pipe, _mm_cmpeq_epi8(v, _mm_set1_epi8('|')));
    }
    comma = _mm_sad_epu8(comma, zero); /* the lanes summed, in two halves */
    tab = _mm_sad_epu8(tab, zero);
    pipe = _mm_sad_epu8(pipe, zero);
    return (uint32_t)(_mm_cvtsi128_si32(comma) + _mm_extract_epi16(comma, 4)) |
           (uint32_t)(_mm_cvtsi128_si32(tab) + _mm_extract_epi16(tab, 4)) << 8 |
           (uint32_t)(_mm_cvtsi128_si32(pipe) + _mm_extract_epi16(pipe, 4)) << 16;
}
#else
/* one add a byte */
#define TABULAR_COUNT(c) ((c) == ',' ? 1u : (c) == '\t' ? 1u << 8 : (c) == '|' ? 1u << 16 : 0u)
static const uint32_t tabular_count[256] = {ALLOT_BYTE_TABLE(TABULAR_COUNT)};

static uint32_t tabular_counts(const char *s, size_t lim)
{
    uint32_t counts = 0;
    size_t i;
    for (i = 0; i < lim; i++)
        counts += tabular_count[(unsigned char)s[i]];
    return counts;
}
#endif

static int is_tabular(const char *s, size_t n)
{
    uint32_t counts = tabular_counts(s, n < TABULAR_SPAN ? n : TABULAR_SPAN);
    return (counts & 0xff) >= 3 || (counts >> 8 & 0xff) >= 2 || (counts >> 16) >= 3;
}

static void close_para(struct scan *sc)
{
    if (!sc->in_para)
        return;
    sc->in_para = 0;
    if (sc->n_head < SHORT_PARAS)
        sc->head[sc->n_head++] = sc->cur;
    sc->tail[sc->n_paras % EDGE_PARAS] = sc->cur;
    sc->n_paras++;
}

static void text_line(struct scan *sc, size_t at, const char *s, size_t n, size_t line_end)
{
    char name[TAG_NAME_MAX];
    size_t k;

    if (is_blank(s, n)) {
        close_para(sc);
        return;
    }
    if ((k = fence_run(s, n, &sc->fence_ch)) > 0) {
        close_para(sc);
        sc->state = IN_FENCE;
        sc->fence_len = k;
        sc->n_documents++;
        sc->flags |= ALLOT_MAT_FENCE;
        return;
    }
    if ((k = tag_open(s, n, name)) > 0) {
        close_para(sc);
        sc->state = IN_TAG;
        memcpy(sc->tag, name, k);
        sc->tag_len = k;
        sc->n_documents++;
        sc->flags |= ALLOT_MAT_TAGGED;
        return;
    }
    if (s[0] == '>') {
        close_para(sc);
        sc->state = IN_QUOTE;
        sc->n_documents++;
        sc->flags |= ALLOT_MAT_QUOTED;
        return;
    }
    if (is_separator(s, n)) {
        close_para(sc);
        sc->n_documents++;
        return;
    }
    if (!sc->in_para) {
        sc->in_para = 1;
        sc->cur.start = at;
        if (s[0] == '{' || s[0] == '[')
            sc->flags |= s[0] == '[' && n > 1 && is_digit(s[1]) ? 0u : (unsigned)ALLOT_MAT_JSON;
    }
    sc->cur.end = line_end;
}

/* Lines of material: what ends the block, and what the lines look like. */
static void material_line(struct scan *sc, const char *s, size_t n)
{
    char ch = 0;
    switch (sc->state) {
    case IN_FENCE:
        if (fence_run(s, n, &ch) >= sc->fence_len && ch == sc->fence_ch &&
            is_blank(s + fence_run(s, n, &ch), n - fence_run(s, n, &ch)))
            sc->state = IN_TEXT;
        break;
    case IN_TAG:
        if (tag_close(s, n, sc->tag, sc->tag_len))
            sc->state = IN_TEXT;
        break;
    default:
        break;
    }
}

static void scan_line(struct scan *sc, size_t at, size_t end)
{
    const char *line = sc->p + at;
    size_t n = end - at, ind = lead_spaces(line, n);
    const char *s = line + ind;
    size_t m = n - ind;

    if (m > 0 && s[m - 1] == '\r')
        m--;
    if (m >= 4 && (memcmp(s, "@@ ", 3) == 0 || memcmp(s, "+++ ", 4) == 0))
        sc->flags |= ALLOT_MAT_DIFF;
    if (m > 0 && is_list_item(s, m))
        sc->list_items++;
    if (m > 0 && is_tabular(s, m))
        sc->tabular_lines++;
    if (sc->state == IN_QUOTE && (m == 0 || s[0] != '>'))
        sc->state = IN_TEXT;
    if (sc->state == IN_TEXT)
        text_line(sc, at, s, m, end);
    else
        material_line(sc, s, m);
}

static void add_span(struct allot_instruction_view *v, const char *p, size_t len,
                     enum allot_zone zone)
{
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len == 0 || v->n_spans >= ALLOT_VIEW_MAX_SPANS)
        return;
    v->spans[v->n_spans].ptr = p;
    v->spans[v->n_spans].len = (uint32_t)len;
    v->spans[v->n_spans].zone = (uint8_t)zone;
    v->n_spans++;
    if (zone != ALLOT_ZONE_SYSTEM)
        v->instruction_bytes += len;
}

/* One paragraph at an edge of a long turn: in full when short, else the
 * outer ALLOT_VIEW_EDGE bytes (the start of a first paragraph, the end of a
 * last one). */
static void add_edge(struct allot_instruction_view *v, const char *p, struct para pa, int first)
{
    size_t len = pa.end - pa.start;
    if (len <= EDGE_SHORT * 2)
        add_span(v, p + pa.start, len, ALLOT_ZONE_BODY);
    else if (first)
        add_span(v, p + pa.start, ALLOT_VIEW_EDGE, ALLOT_ZONE_BODY);
    else
        add_span(v, p + pa.end - ALLOT_VIEW_EDGE, ALLOT_VIEW_EDGE, ALLOT_ZONE_BODY);
}

static void take_long_turn(struct allot_instruction_view *v, const char *p, const struct scan *sc)
{
    size_t lead = 0, trail = 0, i;
    struct para tail[EDGE_PARAS];
    size_t n_tail = sc->n_paras < EDGE_PARAS ? sc->n_paras : EDGE_PARAS;

    for (i = 0; i < n_tail; i++) /* oldest first */
        tail[i] = sc->tail[(sc->n_paras - n_tail + i) % EDGE_PARAS];
    /* leading: the first paragraph, then more while they stay short */
    while (lead < sc->n_head && lead < EDGE_PARAS &&
           (lead == 0 || sc->head[lead].end - sc->head[lead].start <= EDGE_SHORT))
        lead++;
    while (
        trail < n_tail && trail < sc->n_paras - lead &&
        (trail == 0 || tail[n_tail - 1 - trail].end - tail[n_tail - 1 - trail].start <= EDGE_SHORT))
        trail++;
    for (i = 0; i < lead; i++)
        add_edge(v, p, sc->head[i], 1);
    if (sc->n_paras == 1 && sc->head[0].end - sc->head[0].start > 2 * ALLOT_VIEW_EDGE) {
        /* one long paragraph: its end is an edge too */
        add_edge(v, p, sc->head[0], 0);
        return;
    }
    for (i = n_tail - trail; i < n_tail; i++)
        add_edge(v, p, tail[i], 0);
    if (sc->n_paras > lead + trail) {
        v->material_flags |= ALLOT_MAT_PASTED;
        v->n_documents++;
    }
}

/* The end of HEAD in a span: the first line ending in ':' within
 * ALLOT_VIEW_HEAD bytes (the instruction that introduces material), else
 * the last word boundary before ALLOT_VIEW_HEAD. */
static size_t head_len(const char *p, size_t n)
{
    size_t lim = n < ALLOT_VIEW_HEAD ? n : ALLOT_VIEW_HEAD, i, end = lim;
    const char *nl;
    for (i = 0; i < lim && (nl = memchr(p + i, '\n', lim - i)) != NULL; i++) {
        size_t k = i = (size_t)(nl - p);
        while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\r'))
            k--;
        if (k > 0 && p[k - 1] == ':')
            return i;
    }
    if (lim < n)
        while (end > lim / 2 && p[end] != ' ' && p[end] != '\n')
            end--;
    return end;
}

/* Carve HEAD from the start of the first user span and TAIL from the end
 * of the last; what is left stays BODY. An edge that is material (see
 * edge_roles) is dropped: not read at all. */
static void carve(struct allot_instruction_view *v, int head_ok, int tail_ok)
{
    struct allot_span out[ALLOT_VIEW_MAX_SPANS];
    size_t n = 0, i, first = v->n_spans, last = 0, budget_tail;

    for (i = 0; i < v->n_spans; i++) {
        if (v->spans[i].zone == ALLOT_ZONE_SYSTEM)
            continue;
        if (first == v->n_spans)
            first = i;
        last = i;
    }
    if (first == v->n_spans)
        return;
    for (i = 0; i < v->n_spans && n < ALLOT_VIEW_MAX_SPANS; i++) {
        struct allot_span s = v->spans[i];
        size_t h = 0, t = 0;
        if (s.zone == ALLOT_ZONE_SYSTEM) {
            out[n++] = s;
            continue;
        }
        if (first != last && ((i == first && !head_ok) || (i == last && !tail_ok))) {
            v->instruction_bytes -= s.len; /* an edge that is material: not read */
            continue;
        }
        if (i == first && head_ok)
            h = head_len(s.ptr, s.len);
        if (i == last && tail_ok) {
            budget_tail = s.len - h;
            t = budget_tail < ALLOT_VIEW_TAIL ? budget_tail : ALLOT_VIEW_TAIL;
            while (t > 0 && t < budget_tail && s.ptr[s.len - t] != ' ' && s.ptr[s.len - t] != '\n')
                t--; /* start TAIL at a word */
        }
        if (h > 0 && n < ALLOT_VIEW_MAX_SPANS)
            out[n++] = (struct allot_span){s.ptr, (uint32_t)h, ALLOT_ZONE_HEAD};
        if (s.len - h - t > 0 && n < ALLOT_VIEW_MAX_SPANS)
            out[n++] = (struct allot_span){s.ptr + h, (uint32_t)(s.len - h - t), ALLOT_ZONE_BODY};
        if (t > 0 && n < ALLOT_VIEW_MAX_SPANS)
            out[n++] = (struct allot_span){s.ptr + s.len - t, (uint32_t)t, ALLOT_ZONE_TAIL};
    }
    memcpy(v->spans, out, n * sizeof out[0]);
    v->n_spans = n;
}

/* Which edge holds the instruction. A long paragraph at one edge against
 * a short one at the other is material: "<a pasted report>\n\nWhat are
 * the risks?" asks at its end, "Summarise this:\n\n<a report>" at its
 * start. Two short or two long edges are both read as instruction. */
static void edge_roles(const struct scan *sc, int *head_ok, int *tail_ok)
{
    struct para first = sc->head[0], last = sc->tail[(sc->n_paras - 1) % EDGE_PARAS];
    size_t lf = first.end - first.start, ll = last.end - last.start;

    *head_ok = *tail_ok = 1;
    if (sc->n_paras < 2)
        return;
    if (lf > EDGE_SHORT && ll <= EDGE_SHORT)
        *head_ok = 0;
    else if (ll > EDGE_SHORT && lf <= EDGE_SHORT)
        *tail_ok = 0;
}

void allot_instruction_view(const struct allot_instruction *in, struct allot_instruction_view *v)
{
    struct scan sc;
    size_t at = 0, i;
    const char *p = in->last_user.ptr;
    int head_ok, tail_ok;

    memset(v, 0, sizeof *v);
    memset(&sc, 0, sizeof sc);
    if (in->system.len > 0)
        add_span(v, in->system.ptr,
                 in->system.len < ALLOT_VIEW_SYSTEM_READ ? in->system.len : ALLOT_VIEW_SYSTEM_READ,
                 ALLOT_ZONE_SYSTEM);
    sc.p = p;
    sc.n = in->last_user.len;
    v->turn_bytes = sc.n;
    while (at < sc.n) {
        const char *nl = memchr(p + at, '\n', sc.n - at);
        size_t end = nl ? (size_t)(nl - p) : sc.n;
        scan_line(&sc, at, end);
        at = end + 1;
    }
    close_para(&sc);

    v->n_documents = sc.n_documents;
    v->material_flags = sc.flags;
    if (sc.list_items >= LIST_ITEMS_MIN)
        v->material_flags |= ALLOT_MAT_LIST;
    if (sc.tabular_lines >= TABULAR_LINES_MIN)
        v->material_flags |= ALLOT_MAT_TABULAR;
    if (sc.n <= ALLOT_VIEW_SHORT_TURN) {
        for (i = 0; i < sc.n_head; i++)
            add_span(v, p + sc.head[i].start, sc.head[i].end - sc.head[i].start, ALLOT_ZONE_BODY);
        if (sc.n_paras > sc.n_head) /* and the last one */
            add_span(v, p + sc.tail[(sc.n_paras - 1) % EDGE_PARAS].start,
                     sc.tail[(sc.n_paras - 1) % EDGE_PARAS].end -
                         sc.tail[(sc.n_paras - 1) % EDGE_PARAS].start,
                     ALLOT_ZONE_BODY);
    } else {
        take_long_turn(v, p, &sc);
    }
    for (i = v->n_spans; i > 0; i--) {
        const struct allot_span *s = &v->spans[i - 1];
        if (s->zone != ALLOT_ZONE_SYSTEM) {
            v->question = s->ptr[s->len - 1] == '?';
            break;
        }
    }
    edge_roles(&sc, &head_ok, &tail_ok);
    carve(v, head_ok, tail_ok);
}
