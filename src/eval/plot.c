/* plot.c: the SVG routing chart (plot.h).
 *
 * The chart is written in one pass, back to front: frame and grid, axes,
 * reference lines, series, operating point, legend, title. Writes go
 * through a small writer that remembers the first error and ignores what
 * follows it, so the drawing code reads as a list of shapes; the error is
 * checked once at the end, and on error the output is cut back to where it
 * started.
 *
 * Coordinates are rounded to 0.01 px. Long curves are simplified in pixel
 * space, where "does not change the shape" has a meaning: a vertex is
 * dropped only when it lies within the tolerance of the segment that
 * replaces it (Ramer-Douglas-Peucker). The tolerance starts at a quarter
 * pixel and doubles only if a curve would still need more than
 * MAX_VERTICES vertices, which takes a curve noisier than any eval makes. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/curve.h"
#include "allot/error.h"
#include "allot/plot.h"
#include "allot/utf8.h"

#define WIDTH 720
#define HEIGHT 480
#define PLOT_X0 72.0 /* plot area, in px */
#define PLOT_X1 696.0
#define PLOT_Y0 48.0  /* top */
#define PLOT_Y1 420.0 /* bottom */
#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

#define SIMPLIFY_ABOVE 400 /* curves with more points than this are simplified */
#define MAX_VERTICES 500
#define TOLERANCE_PX 0.25

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c",
                                      "#9467bd", "#8c564b", "#e377c2"};

/* ids the chart gives its own parts; a series may not take them */
static const char *const own_ids[] = {"title",         "plot-area",       "x-axis",
                                      "y-axis",        "reference-lines", "always-weak",
                                      "always-strong", "operating-point", "legend"};

struct svg {
    struct allot_buf *b;
    int rc; /* the first error; writes after it are ignored */
};

__attribute__((format(printf, 2, 3))) static void put(struct svg *g, const char *fmt, ...)
{
    va_list ap;
    if (g->rc)
        return;
    va_start(ap, fmt);
    g->rc = allot_buf_vaddf(g->b, fmt, ap);
    va_end(ap);
}

static void put_raw(struct svg *g, const char *s, size_t n)
{
    if (!g->rc && n)
        g->rc = allot_buf_add(g->b, s, n);
}

/* Text as XML character data or attribute value: the five markup
 * characters as entities, control characters (not allowed in XML 1.0) as
 * spaces, bytes that are not UTF-8 and the non-characters U+FFFE/U+FFFF as
 * U+FFFD. */
static void put_text(struct svg *g, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, run = 0;

    while (i < n) {
        unsigned char c = p[i];
        const char *rep = NULL;
        size_t len = 1;

        if (c >= 0x80) {
            len = allot_utf8_seq_len(p + i, n - i);
            if (len == 3 && c == 0xEF && p[i + 1] == 0xBF && p[i + 2] >= 0xBE)
                len = 0; /* U+FFFE, U+FFFF */
            if (len) {
                run += len;
                i += len;
                continue;
            }
            rep = "\xEF\xBF\xBD";
            len = 1;
        } else if (c == '&') {
            rep = "&amp;";
        } else if (c == '<') {
            rep = "&lt;";
        } else if (c == '>') {
            rep = "&gt;";
        } else if (c == '"') {
            rep = "&quot;";
        } else if (c == '\'') {
            rep = "&apos;";
        } else if (c < 0x20 || c == 0x7F) {
            rep = " ";
        }
        if (!rep) {
            run++;
            i++;
            continue;
        }
        put_raw(g, (const char *)p + i - run, run);
        run = 0;
        put_raw(g, rep, strlen(rep));
        i += len;
    }
    put_raw(g, (const char *)p + i - run, run);
}

/* Rough width in px of s at a font size: characters (not bytes) times an
 * average advance; enough to size a box behind the text. */
static double text_width(const char *s, double font_size)
{
    size_t chars = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            chars++;
    return (double)chars * font_size * 0.6;
}

static int is_xml_id(const char *s)
{
    size_t i;
    if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (i = 1; s[i]; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int check_args(const struct allot_plot *p)
{
    size_t k, j;

    if (p->n_series == 0 && !isfinite(p->q_weak) && !isfinite(p->q_strong))
        return ALLOT_EINVAL;
    if (p->n_series && !p->series)
        return ALLOT_EINVAL;
    for (k = 0; k < p->n_series; k++) {
        const struct allot_plot_series *s = &p->series[k];
        if (!is_xml_id(s->id) || !s->curve || !s->curve->pts || s->curve->n == 0)
            return ALLOT_EINVAL;
        if (s->style < ALLOT_PLOT_SOLID || s->style > ALLOT_PLOT_DOTTED)
            return ALLOT_EINVAL;
        for (j = 0; j < k; j++)
            if (strcmp(p->series[j].id, s->id) == 0)
                return ALLOT_EINVAL;
        for (j = 0; j < sizeof own_ids / sizeof own_ids[0]; j++)
            if (strcmp(own_ids[j], s->id) == 0)
                return ALLOT_EINVAL;
    }
    if (p->has_point &&
        (!isfinite(p->point_x) || !isfinite(p->point_y) || p->point_x < 0.0 || p->point_x > 1.0))
        return ALLOT_EINVAL;
    return 0;
}

/* ---- the y scale ---- */

struct scale {
    double lo, hi, step; /* data range shown, tick spacing */
    int decimals;        /* for tick labels */
};

static void widen(double *lo, double *hi, double v)
{
    if (!isfinite(v))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

/* 1, 2 or 5 times a power of ten, the smallest at least raw */
static double nice_step(double raw)
{
    double e = pow(10.0, floor(log10(raw))), f = raw / e;
    return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * e;
}

static void y_scale(const struct allot_plot *p, struct scale *sc)
{
    double lo = INFINITY, hi = -INFINITY, span;
    size_t k, j;

    for (k = 0; k < p->n_series; k++)
        for (j = 0; j < p->series[k].curve->n; j++)
            widen(&lo, &hi, p->series[k].curve->pts[j].quality);
    widen(&lo, &hi, p->q_weak);
    widen(&lo, &hi, p->q_strong);
    if (p->has_point)
        widen(&lo, &hi, p->point_y);
    if (!(lo <= hi)) { /* nothing finite to show */
        lo = 0.0;
        hi = 1.0;
    }
    span = hi - lo;
    if (span <= 1e-9 * fmax(1.0, fabs(hi))) {
        double d = fabs(hi) > 0.0 ? fabs(hi) * 0.05 : 0.5;
        sc->lo = lo - d;
        sc->hi = hi + d;
    } else {
        sc->lo = lo - span * 0.06;
        sc->hi = hi + span * 0.06;
    }
    sc->step = nice_step((sc->hi - sc->lo) / 6.0);
    sc->lo = floor(sc->lo / sc->step) * sc->step;
    sc->hi = ceil(sc->hi / sc->step) * sc->step;
    /* qualities that are fractions stay on a 0..1 axis */
    if (lo >= 0.0 && sc->lo < 0.0)
        sc->lo = 0.0;
    if (lo >= 0.0 && hi <= 1.0 && sc->hi > 1.0)
        sc->hi = 1.0;
    sc->decimals = sc->step >= 1.0 ? 0 : (int)ceil(-log10(sc->step) - 1e-9);
}

static double px_x(double share)
{
    return PLOT_X0 + share * (PLOT_X1 - PLOT_X0);
}

static double px_y(const struct scale *sc, double q)
{
    return PLOT_Y1 - (q - sc->lo) / (sc->hi - sc->lo) * (PLOT_Y1 - PLOT_Y0);
}

/* ---- simplification ---- */

/* Distance from (x, y) to the line through a and b (to a, if a == b). */
static double off_line(double x, double y, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, len = hypot(dx, dy);
    if (len == 0.0)
        return hypot(x - ax, y - ay);
    return fabs(dx * (y - ay) - dy * (x - ax)) / len;
}

/* Mark in keep[] the vertices Ramer-Douglas-Peucker keeps at tolerance
 * tol; stack has room for 2n indices. Returns how many are kept. */
static size_t simplify(const double *x, const double *y, size_t n, double tol, unsigned char *keep,
                       size_t *stack)
{
    size_t top = 0, kept = 2, i;

    memset(keep, 0, n);
    keep[0] = keep[n - 1] = 1;
    stack[top++] = 0;
    stack[top++] = n - 1;
    while (top) {
        size_t b = stack[--top], a = stack[--top], far = a;
        double worst = -1.0;
        for (i = a + 1; i < b; i++) {
            double d = off_line(x[i], y[i], x[a], y[a], x[b], y[b]);
            if (d > worst) {
                worst = d;
                far = i;
            }
        }
        if (far == a || worst <= tol)
            continue;
        keep[far] = 1;
        kept++;
        /* each split pushes two ranges and pops one: at most n pairs */
        stack[top++] = a;
        stack[top++] = far;
        stack[top++] = far;
        stack[top++] = b;
    }
    return kept;
}

/* Write "x,y x,y ..." for a curve's finite points, simplified if long. */
static int put_points(struct svg *g, const struct allot_curve *c, const struct scale *sc)
{
    double *x, *y;
    unsigned char *keep;
    size_t *stack, n = 0, j;
    int rc = 0;

    x = malloc(c->n * sizeof *x);
    y = malloc(c->n * sizeof *y);
    keep = malloc(c->n);
    stack = c->n <= SIZE_MAX / (2 * sizeof *stack) ? malloc(2 * c->n * sizeof *stack) : NULL;
    if (!x || !y || !keep || !stack) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (j = 0; j < c->n; j++) {
        const struct allot_curve_point *pt = &c->pts[j];
        if (!isfinite(pt->strong_share) || !isfinite(pt->quality))
            continue;
        x[n] = px_x(pt->strong_share);
        y[n] = px_y(sc, pt->quality);
        n++;
    }
    memset(keep, 1, n);
    if (n > SIMPLIFY_ABOVE) {
        double tol = TOLERANCE_PX;
        while (simplify(x, y, n, tol, keep, stack) > MAX_VERTICES)
            tol *= 2.0;
    }
    for (j = 0; j < n; j++)
        if (keep[j])
            put(g, "%s%.2f,%.2f", j ? " " : "", x[j], y[j]);
out:
    free(x);
    free(y);
    free(keep);
    free(stack);
    return rc;
}

/* ---- the parts of the chart ---- */

static void put_frame_and_axes(struct svg *g, const struct allot_plot *p, const struct scale *sc)
{
    int k;
    double v;

    put(g, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", WIDTH, HEIGHT);
    put(g,
        "<rect id=\"plot-area\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
        "fill=\"#fcfcfc\" stroke=\"#444444\" stroke-width=\"1\"/>\n",
        PLOT_X0, PLOT_Y0, PLOT_X1 - PLOT_X0, PLOT_Y1 - PLOT_Y0);

    put(g, "<g id=\"x-axis\" " FONT " font-size=\"12\" fill=\"#333333\">\n");
    for (k = 0; k <= 10; k++) {
        double x = px_x(k / 10.0);
        if (k > 0 && k < 10)
            put(g,
                "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e3e3e3\" "
                "stroke-width=\"1\"/>\n",
                x, PLOT_Y0, x, PLOT_Y1);
        put(g,
            "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#444444\" "
            "stroke-width=\"1\"/>\n",
            x, PLOT_Y1, x, PLOT_Y1 + 5.0);
        put(g, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%d%%</text>\n", x,
            PLOT_Y1 + 19.0, k * 10);
    }
    put(g, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"13\">",
        (PLOT_X0 + PLOT_X1) / 2.0, PLOT_Y1 + 42.0);
    put_text(g, p->x_label ? p->x_label : "Strong model calls (%)");
    put(g, "</text>\n</g>\n");

    put(g, "<g id=\"y-axis\" " FONT " font-size=\"12\" fill=\"#333333\">\n");
    for (k = 0;; k++) {
        double y;
        v = sc->lo + k * sc->step;
        if (v > sc->hi + sc->step * 1e-6 || k > 100)
            break;
        if (fabs(v) < sc->step * 1e-6)
            v = 0.0; /* no "-0.00" */
        y = px_y(sc, v);
        if (y > PLOT_Y0 + 0.5 && y < PLOT_Y1 - 0.5)
            put(g,
                "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e3e3e3\" "
                "stroke-width=\"1\"/>\n",
                PLOT_X0, y, PLOT_X1, y);
        put(g,
            "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#444444\" "
            "stroke-width=\"1\"/>\n",
            PLOT_X0 - 5.0, y, PLOT_X0, y);
        put(g, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%.*f</text>\n", PLOT_X0 - 8.0,
            y + 4.0, sc->decimals, v);
    }
    put(g,
        "<text x=\"18\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"13\" "
        "transform=\"rotate(-90 18 %.2f)\">",
        (PLOT_Y0 + PLOT_Y1) / 2.0, (PLOT_Y0 + PLOT_Y1) / 2.0);
    put_text(g, p->y_label ? p->y_label : "Quality");
    put(g, "</text>\n</g>\n");
}

/* A reference line's label sits at the left end, where the curves are
 * still near always-weak: above the higher line, below the lower one. */
static void put_reference(struct svg *g, const struct scale *sc, const char *id, double q,
                          const char *label, const char *colour, int above)
{
    double y;

    if (!isfinite(q))
        return;
    y = px_y(sc, q);
    put(g,
        "<line id=\"%s\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
        "stroke-width=\"1\" stroke-dasharray=\"2 2\"/>\n",
        id, PLOT_X0, y, PLOT_X1, y, colour);
    put(g, "<text x=\"%.2f\" y=\"%.2f\" fill=\"%s\">", PLOT_X0 + 6.0, above ? y - 5.0 : y + 14.0,
        colour);
    put_text(g, label);
    put(g, " (%.3g)</text>\n", q);
}

static void put_series_style(struct svg *g, size_t k, int style)
{
    put(g, "fill=\"none\" stroke=\"%s\" stroke-linejoin=\"round\" ",
        palette[k % (sizeof palette / sizeof palette[0])]);
    if (style == ALLOT_PLOT_DASHED)
        put(g, "stroke-width=\"1.8\" stroke-dasharray=\"7 5\"");
    else if (style == ALLOT_PLOT_DOTTED)
        put(g, "stroke-width=\"2.4\" stroke-dasharray=\"0.1 4.5\" stroke-linecap=\"round\"");
    else
        put(g, "stroke-width=\"2.2\"");
}

static const char *style_name(int style)
{
    return style == ALLOT_PLOT_DASHED ? "dashed" : style == ALLOT_PLOT_DOTTED ? "dotted" : "solid";
}

static int put_series(struct svg *g, const struct allot_plot *p, const struct scale *sc)
{
    size_t k;
    int rc;

    for (k = 0; k < p->n_series; k++) {
        const struct allot_plot_series *s = &p->series[k];
        put(g, "<polyline id=\"%s\" class=\"series %s\" ", s->id, style_name(s->style));
        put_series_style(g, k, s->style);
        put(g, " points=\"");
        if ((rc = put_points(g, s->curve, sc)))
            return rc;
        put(g, "\"/>\n");
    }
    return 0;
}

static void put_point(struct svg *g, const struct allot_plot *p, const struct scale *sc)
{
    char auto_label[96];
    const char *label = p->point_label;
    double x = px_x(p->point_x), y = px_y(sc, p->point_y), w, tx, ty;
    int right = x > PLOT_X0 + 0.62 * (PLOT_X1 - PLOT_X0); /* label left of the dot */

    if (!label) {
        snprintf(auto_label, sizeof auto_label, "%.0f%% strong, quality %.3g", p->point_x * 100.0,
                 p->point_y);
        label = auto_label;
    }
    w = text_width(label, 12.0);
    tx = right ? x - 10.0 : x + 10.0;
    ty = y - 10.0 < PLOT_Y0 + 16.0 ? y + 20.0 : y - 10.0;
    put(g, "<g id=\"operating-point\" " FONT " font-size=\"12\">\n");
    put(g,
        "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"17\" rx=\"3\" fill=\"#ffffff\" "
        "fill-opacity=\"0.85\"/>\n",
        right ? tx - w - 3.0 : tx - 3.0, ty - 13.0, w + 6.0);
    put(g,
        "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"#d62728\" stroke=\"#ffffff\" "
        "stroke-width=\"1.5\"/>\n",
        x, y);
    put(g, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" fill=\"#111111\">", tx, ty,
        right ? "end" : "start");
    put_text(g, label);
    put(g, "</text>\n</g>\n");
}

/* The legend, in the lower right corner of the plot area, where a curve
 * that rises from always-weak to always-strong leaves room. */
static void put_legend(struct svg *g, const struct allot_plot *p)
{
    double w = 0.0, h, x, y;
    size_t k;

    if (p->n_series == 0)
        return;
    for (k = 0; k < p->n_series; k++) {
        const char *label = p->series[k].label ? p->series[k].label : p->series[k].id;
        w = fmax(w, text_width(label, 12.0));
    }
    w += 54.0;
    h = 10.0 + 18.0 * (double)p->n_series;
    x = PLOT_X1 - w - 10.0;
    y = PLOT_Y1 - h - 10.0;
    put(g, "<g id=\"legend\" " FONT " font-size=\"12\" fill=\"#222222\">\n");
    put(g,
        "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#ffffff\" "
        "fill-opacity=\"0.9\" stroke=\"#bbbbbb\" stroke-width=\"1\"/>\n",
        x, y, w, h);
    for (k = 0; k < p->n_series; k++) {
        const struct allot_plot_series *s = &p->series[k];
        double ly = y + 14.0 + 18.0 * (double)k;
        put(g, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" ", x + 8.0, ly, x + 38.0, ly);
        put_series_style(g, k, s->style);
        put(g, "/>\n<text x=\"%.2f\" y=\"%.2f\">", x + 46.0, ly + 4.0);
        put_text(g, s->label ? s->label : s->id);
        put(g, "</text>\n");
    }
    put(g, "</g>\n");
}

int allot_plot_svg(const struct allot_plot *p, struct allot_buf *out)
{
    struct svg g;
    struct scale sc;
    const char *title;
    size_t start;
    int rc, strong_above;

    if (!p || !out)
        return ALLOT_EINVAL;
    if ((rc = check_args(p)))
        return rc;
    start = out->len;
    g.b = out;
    g.rc = 0;
    title = p->title ? p->title : "Routing curve";
    y_scale(p, &sc);

    put(&g, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    put(&g,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
        "height=\"%d\" viewBox=\"0 0 %d %d\">\n<title>",
        WIDTH, HEIGHT, WIDTH, HEIGHT);
    put_text(&g, title);
    put(&g, "</title>\n");
    put_frame_and_axes(&g, p, &sc);

    strong_above = !(isfinite(p->q_weak) && isfinite(p->q_strong) && p->q_strong < p->q_weak);
    put(&g, "<g id=\"reference-lines\" " FONT " font-size=\"11\">\n");
    put_reference(&g, &sc, "always-weak", p->q_weak, p->weak_label ? p->weak_label : "always weak",
                  "#7f7f7f", !strong_above);
    put_reference(&g, &sc, "always-strong", p->q_strong,
                  p->strong_label ? p->strong_label : "always strong", "#b22222", strong_above);
    put(&g, "</g>\n");

    rc = put_series(&g, p, &sc);
    if (p->has_point)
        put_point(&g, p, &sc);
    put_legend(&g, p);
    put(&g,
        "<text id=\"title\" x=\"%d\" y=\"28\" text-anchor=\"middle\" " FONT
        " font-size=\"16\" font-weight=\"bold\" fill=\"#111111\">",
        WIDTH / 2);
    put_text(&g, title);
    put(&g, "</text>\n</svg>\n");

    if (!rc)
        rc = g.rc;
    if (rc) {
        out->len = start;
        if (out->ptr)
            out->ptr[start] = '\0';
    }
    return rc;
}
