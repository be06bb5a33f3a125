/* test_plot.c: the SVG routing chart (src/eval/plot.c). The document is
 * checked with a small well-formedness checker written here (no XML
 * library is a dependency): one root, balanced tags, quoted attributes
 * without duplicates, valid entities, valid UTF-8 and no control
 * characters. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/curve.h"
#include "allot/error.h"
#include "allot/plot.h"
#include "allot/utf8.h"
#include "test.h"

/* ---- a well-formedness checker ---- */

#define MAX_DEPTH 32
#define MAX_NAME 64
#define MAX_ATTRS 32

static int name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':';
}

static int name_char(char c)
{
    return name_start(c) || isdigit((unsigned char)c) || c == '.' || c == '-';
}

/* Read a name into out; the length read, 0 if none fits. */
static size_t read_name(const char *s, char *out)
{
    size_t n = 0;
    if (!name_start(s[0]))
        return 0;
    while (name_char(s[n]) && n + 1 < MAX_NAME) {
        out[n] = s[n];
        n++;
    }
    if (name_char(s[n]))
        return 0;
    out[n] = '\0';
    return n;
}

/* The length of the entity reference at s (which is at '&'), 0 if bad. */
static size_t entity_len(const char *s)
{
    static const char *const named[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    size_t k, n;

    for (k = 0; k < 5; k++)
        if (strncmp(s, named[k], strlen(named[k])) == 0)
            return strlen(named[k]);
    if (s[1] != '#')
        return 0;
    n = 2;
    if (s[2] == 'x') {
        for (n = 3; isxdigit((unsigned char)s[n]); n++)
            ;
        return n > 3 && s[n] == ';' ? n + 1 : 0;
    }
    for (; isdigit((unsigned char)s[n]); n++)
        ;
    return n > 2 && s[n] == ';' ? n + 1 : 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* NULL when doc is a well-formed XML document, else what is wrong. */
static const char *xml_check(const char *doc)
{
    char stack[MAX_DEPTH][MAX_NAME], attrs[MAX_ATTRS][MAX_NAME];
    const char *s = doc;
    size_t depth = 0, i, n = strlen(doc);
    int roots = 0;

    for (i = 0; i < n;) {
        size_t len = allot_utf8_seq_len((const unsigned char *)doc + i, n - i);
        if (!len)
            return "invalid UTF-8";
        if ((unsigned char)doc[i] < 0x20 && !is_space(doc[i]))
            return "control character";
        i += len;
    }
    if (strncmp(s, "<?xml ", 6) == 0) {
        s = strstr(s, "?>");
        if (!s)
            return "unterminated XML declaration";
        s += 2;
    }
    while (*s) {
        if (strncmp(s, "<!--", 4) == 0) {
            const char *end = strstr(s + 4, "--");
            if (!end || end[2] != '>')
                return "bad comment";
            s = end + 3;
        } else if (strncmp(s, "</", 2) == 0) {
            char name[MAX_NAME];
            size_t len = read_name(s + 2, name);
            if (!len)
                return "bad end tag name";
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0)
                return "end tag does not match";
            depth--;
            s += 2 + len;
            while (is_space(*s))
                s++;
            if (*s++ != '>')
                return "end tag not closed";
        } else if (*s == '<') {
            size_t len, n_attrs = 0;
            if (depth == 0 && roots++)
                return "more than one root element";
            if (depth == MAX_DEPTH)
                return "too deep";
            len = read_name(s + 1, stack[depth]);
            if (!len)
                return "bad start tag name";
            s += 1 + len;
            for (;;) {
                char quote;
                int spaced = is_space(*s);
                while (is_space(*s))
                    s++;
                if (*s == '>' || strncmp(s, "/>", 2) == 0)
                    break;
                if (!spaced)
                    return "attributes not separated";
                if (n_attrs == MAX_ATTRS)
                    return "too many attributes";
                len = read_name(s, attrs[n_attrs]);
                if (!len)
                    return "bad attribute name";
                for (i = 0; i < n_attrs; i++)
                    if (strcmp(attrs[i], attrs[n_attrs]) == 0)
                        return "duplicate attribute";
                n_attrs++;
                s += len;
                while (is_space(*s))
                    s++;
                if (*s++ != '=')
                    return "attribute without '='";
                while (is_space(*s))
                    s++;
                quote = *s++;
                if (quote != '"' && quote != '\'')
                    return "attribute value not quoted";
                for (; *s != quote; s++) {
                    if (!*s || *s == '<')
                        return "bad attribute value";
                    if (*s == '&') {
                        size_t e = entity_len(s);
                        if (!e)
                            return "bad entity in attribute";
                        s += e - 1;
                    }
                }
                s++;
            }
            if (*s == '>') {
                depth++;
                s++;
            } else {
                s += 2; /* empty element */
            }
        } else if (depth == 0) {
            if (!is_space(*s))
                return "text outside the root";
            s++;
        } else if (*s == '&') {
            size_t e = entity_len(s);
            if (!e)
                return "bad entity in text";
            s += e;
        } else if (*s == '>' && s - doc >= 2 && strncmp(s - 2, "]]>", 3) == 0) {
            return "]]> in text";
        } else {
            s++;
        }
    }
    if (depth)
        return "unclosed element";
    if (!roots)
        return "no root element";
    return NULL;
}

TEST(plot_xml_checker_can_fail)
{
    ASSERT(xml_check("<a><b/>x &amp; y &#233; &#xE9;</a>") == NULL);
    ASSERT(xml_check("<?xml version=\"1.0\"?>\n<a x='1' y=\"2\"/>\n") == NULL);
    ASSERT(xml_check("<a><b></a></b>") != NULL);
    ASSERT(xml_check("<a x=1/>") != NULL);
    ASSERT(xml_check("<a x=\"1\" x=\"2\"/>") != NULL);
    ASSERT(xml_check("<a x=\"1\"y=\"2\"/>") != NULL);
    ASSERT(xml_check("<a>A&B</a>") != NULL);
    ASSERT(xml_check("<a>&foo;</a>") != NULL);
    ASSERT(xml_check("<a x=\"<\"/>") != NULL);
    ASSERT(xml_check("<a>x < y</a>") != NULL);
    ASSERT(xml_check("<a/><b/>") != NULL);
    ASSERT(xml_check("<a>") != NULL);
    ASSERT(xml_check("<a>\xff</a>") != NULL);
    ASSERT(xml_check("<a>\x01</a>") != NULL);
    ASSERT(xml_check("") != NULL);
}

/* ---- the chart ---- */

/* Table A of test_curve.c: Q_weak 0.5, Q_strong 0.75. */
static const double pa[8] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
static const double wa[8] = {0, 0, 1, 0, 1, 0, 1, 1};
static const double sa[8] = {1, 1, 1, 0, 0, 1, 1, 1};

struct three {
    struct allot_curve router, random, oracle;
    struct allot_plot_series series[3];
    struct allot_plot plot;
};

static int three_curves(struct three *t, const double *p, const double *w, const double *s,
                        size_t n)
{
    int rc;
    memset(t, 0, sizeof *t);
    if ((rc = allot_curve_build(p, w, s, NULL, NULL, n, &t->router)) ||
        (rc = allot_curve_random(w, s, NULL, NULL, n, 10, &t->random)) ||
        (rc = allot_curve_oracle(w, s, NULL, NULL, n, &t->oracle)))
        return rc;
    t->series[0] =
        (struct allot_plot_series){"router", "router A&B <x>", &t->router, ALLOT_PLOT_SOLID};
    t->series[1] = (struct allot_plot_series){"random", "random", &t->random, ALLOT_PLOT_DASHED};
    t->series[2] = (struct allot_plot_series){"oracle", "oracle", &t->oracle, ALLOT_PLOT_DOTTED};
    t->plot.title = "Eval of \"A&B <x>\" on 'labour'";
    t->plot.x_label = "Strong model calls (%)";
    t->plot.y_label = "Mean quality";
    t->plot.series = t->series;
    t->plot.n_series = 3;
    t->plot.q_weak = t->router.q_weak;
    t->plot.q_strong = t->router.q_strong;
    t->plot.weak_label = "always weak: mini&co";
    t->plot.strong_label = "always strong: <big>";
    return 0;
}

static void three_release(struct three *t)
{
    allot_curve_release(&t->router);
    allot_curve_release(&t->random);
    allot_curve_release(&t->oracle);
}

TEST(plot_svg_is_well_formed_and_labelled)
{
    struct three t;
    struct allot_buf b;
    const char *svg, *err;

    ASSERT_INT_EQ(three_curves(&t, pa, wa, sa, 8), 0);
    t.plot.has_point = 1;
    t.plot.point_x = 0.25;
    t.plot.point_y = 0.75;
    t.plot.point_label = "threshold 0.3: 25% strong, quality 0.75";
    allot_buf_init(&b, 1 << 20);
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), 0);
    svg = allot_buf_cstr(&b);
    err = xml_check(svg);
    if (err)
        TEST_FAIL_("not well-formed: %s", err);
    ASSERT(strncmp(svg, "<?xml", 5) == 0);
    ASSERT_STR_CONTAINS(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"");
    ASSERT_STR_CONTAINS(svg, "width=\"720\" height=\"480\"");
    /* the series, findable by id, drawn in their styles */
    ASSERT_STR_CONTAINS(svg, "<polyline id=\"router\" class=\"series solid\"");
    ASSERT_STR_CONTAINS(svg, "<polyline id=\"random\" class=\"series dashed\"");
    ASSERT_STR_CONTAINS(svg, "<polyline id=\"oracle\" class=\"series dotted\"");
    ASSERT_STR_CONTAINS(svg, "id=\"always-weak\"");
    ASSERT_STR_CONTAINS(svg, "id=\"always-strong\"");
    ASSERT_STR_CONTAINS(svg, "id=\"legend\"");
    /* axes: labels and percent ticks */
    ASSERT_STR_CONTAINS(svg, ">Strong model calls (%)</text>");
    ASSERT_STR_CONTAINS(svg, ">Mean quality</text>");
    ASSERT_STR_CONTAINS(svg, ">0%</text>");
    ASSERT_STR_CONTAINS(svg, ">50%</text>");
    ASSERT_STR_CONTAINS(svg, ">100%</text>");
    /* the operating point: a dot and its label */
    ASSERT_STR_CONTAINS(svg, "<g id=\"operating-point\"");
    ASSERT_STR_CONTAINS(strstr(svg, "id=\"operating-point\""), "<circle");
    ASSERT_STR_CONTAINS(svg, ">threshold 0.3: 25% strong, quality 0.75</text>");
    /* names escaped everywhere they appear */
    ASSERT_STR_CONTAINS(svg, ">router A&amp;B &lt;x&gt;</text>");
    ASSERT_STR_CONTAINS(svg, "Eval of &quot;A&amp;B &lt;x&gt;&quot; on &apos;labour&apos;");
    ASSERT_STR_CONTAINS(svg, "always weak: mini&amp;co");
    ASSERT_STR_CONTAINS(svg, "always strong: &lt;big&gt;");
    ASSERT(!strstr(svg, "A&B"));
    ASSERT(!strstr(svg, "<x>"));
    ASSERT(!strstr(svg, "<big>"));
    /* self-contained */
    ASSERT(!strstr(svg, "<script"));
    ASSERT(!strstr(svg, "href"));
    ASSERT(!strstr(svg, "url("));
    allot_buf_release(&b);
    three_release(&t);
}

/* The default point label, no reference lines, and text that is not
 * clean: control characters and bytes that are not UTF-8. */
TEST(plot_defaults_and_dirty_text)
{
    struct three t;
    struct allot_buf b;
    const char *svg, *err;

    ASSERT_INT_EQ(three_curves(&t, pa, wa, sa, 8), 0);
    t.plot.q_weak = NAN;
    t.plot.q_strong = NAN;
    t.plot.title = NULL;
    t.plot.x_label = NULL;
    t.plot.y_label = NULL;
    t.series[1].label = "bad\x01\x1b[31m bytes \xff\xc3 end";
    t.series[2].label = NULL; /* the id stands in */
    t.plot.has_point = 1;
    t.plot.point_x = 0.31;
    t.plot.point_y = 0.7;
    allot_buf_init(&b, 1 << 20);
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), 0);
    svg = allot_buf_cstr(&b);
    err = xml_check(svg);
    if (err)
        TEST_FAIL_("not well-formed: %s", err);
    ASSERT(!strstr(svg, "always-weak"));
    ASSERT(!strstr(svg, "always-strong"));
    ASSERT_STR_CONTAINS(svg, ">31% strong, quality 0.7</text>");
    ASSERT_STR_CONTAINS(svg, ">Routing curve</text>");
    ASSERT_STR_CONTAINS(svg, ">Quality</text>");
    ASSERT_STR_CONTAINS(svg, ">oracle</text>");
    ASSERT_STR_CONTAINS(svg, "bad  [31m bytes \xEF\xBF\xBD\xEF\xBF\xBD end");
    allot_buf_release(&b);
    three_release(&t);
}

TEST(plot_errors_leave_the_buffer_as_it_was)
{
    struct three t;
    struct allot_buf b;

    ASSERT_INT_EQ(three_curves(&t, pa, wa, sa, 8), 0);
    allot_buf_init(&b, 1 << 20);
    ASSERT_INT_EQ(allot_buf_adds(&b, "keep"), 0);
    ASSERT_INT_EQ(allot_plot_svg(NULL, &b), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, NULL), ALLOT_EINVAL);
    t.series[0].id = "my router"; /* not an XML name */
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), ALLOT_EINVAL);
    t.series[0].id = "random"; /* twice */
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), ALLOT_EINVAL);
    t.series[0].id = "legend"; /* the chart's own */
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), ALLOT_EINVAL);
    t.series[0].id = "router";
    t.series[0].style = 7;
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), ALLOT_EINVAL);
    t.series[0].style = ALLOT_PLOT_SOLID;
    t.plot.has_point = 1;
    t.plot.point_x = 1.5;
    t.plot.point_y = 0.7;
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), ALLOT_EINVAL);
    ASSERT_STR_EQ(allot_buf_cstr(&b), "keep");
    allot_buf_release(&b);

    /* the cap is hit part way: nothing of the chart stays */
    t.plot.has_point = 0;
    allot_buf_init(&b, 2000);
    ASSERT_INT_EQ(allot_buf_adds(&b, "keep"), 0);
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&b), "keep");
    ASSERT_INT_EQ(b.len, 4);
    allot_buf_release(&b);
    three_release(&t);
}

/* The points of the polyline with this id, in pixels; how many. */
static size_t polyline_points(const char *svg, const char *id, double *x, double *y, size_t max)
{
    char key[64];
    const char *s, *end;
    size_t n = 0;

    snprintf(key, sizeof key, "<polyline id=\"%s\"", id);
    s = strstr(svg, key);
    if (!s || !(s = strstr(s, " points=\"")))
        return 0;
    s += 9;
    end = strchr(s, '"');
    while (s < end && n < max) {
        char *e;
        x[n] = strtod(s, &e);
        if (*e != ',')
            return 0;
        y[n] = strtod(e + 1, &e);
        n++;
        s = e;
        while (*s == ' ')
            s++;
    }
    return n;
}

/* A 14,000-request eval: the router's curve has ~14k points and is drawn
 * with a few hundred vertices, every original point within half a pixel
 * of the line drawn. */
TEST(plot_downsamples_long_curves)
{
    enum { N = 14000, MAXV = 2 * N };
    double *p = malloc(N * sizeof *p), *w = malloc(N * sizeof *w), *s = malloc(N * sizeof *s);
    double *vx = malloc(MAXV * sizeof *vx), *vy = malloc(MAXV * sizeof *vy);
    double ax, bx, ay, by, worst = 0.0;
    struct three t;
    struct allot_buf b;
    const char *err;
    uint32_t x = 7;
    size_t i, nv, v = 0;

    ASSERT(p && w && s && vx && vy);
    for (i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        w[i] = (x >> 31) & 1;
        x = x * 1664525u + 1013904223u;
        s[i] = ((x >> 28) & 15) < 13; /* strong right 13/16 of the time */
        x = x * 1664525u + 1013904223u;
        p[i] = 0.5 + 0.3 * (w[i] - s[i]) + (double)(x >> 8) / (double)(1u << 24) * 0.7;
    }
    ASSERT_INT_EQ(three_curves(&t, p, w, s, N), 0);
    ASSERT(t.router.n > 10000);
    allot_buf_init(&b, 1 << 22);
    ASSERT_INT_EQ(allot_plot_svg(&t.plot, &b), 0);
    err = xml_check(allot_buf_cstr(&b));
    if (err)
        TEST_FAIL_("not well-formed: %s", err);
    nv = polyline_points(allot_buf_cstr(&b), "router", vx, vy, MAXV);
    ASSERT(nv >= 20 && nv <= 500);
    ASSERT(b.len < 100000);
    /* pixel = a + b * value, from the end points (share 0 at Q_weak,
     * share 1 at Q_strong, always kept) */
    ax = vx[0];
    bx = vx[nv - 1] - vx[0];
    by = (vy[nv - 1] - vy[0]) / (t.router.q_strong - t.router.q_weak);
    ay = vy[0] - by * t.router.q_weak;
    for (i = 0; i < t.router.n; i++) {
        double px = ax + bx * t.router.pts[i].strong_share;
        double py = ay + by * t.router.pts[i].quality, dx, dy, d;
        while (v + 2 < nv && vx[v + 1] < px)
            v++;
        dx = vx[v + 1] - vx[v];
        dy = vy[v + 1] - vy[v];
        d = fabs(dx * (py - vy[v]) - dy * (px - vx[v])) / hypot(dx, dy);
        if (d > worst)
            worst = d;
    }
    if (worst > 0.5)
        TEST_FAIL_("a point is %.3f px off the line drawn", worst);
    allot_buf_release(&b);
    three_release(&t);
    free(p);
    free(w);
    free(s);
    free(vx);
    free(vy);
}
