/* plot.h: an SVG chart of routing curves, quality (y) against strong share
 * (x, 0-100%), for `allot eval`.
 *
 * The chart is a fixed 720x480 SVG 1.1 document, self-contained (no
 * scripts, no external references, no stylesheets): a title, labelled axes
 * with ticks and percent labels on x, light grid lines, a legend, one line
 * per series, horizontal reference lines for always-weak and always-strong
 * quality, and an optional operating point marked with a dot and a label.
 *
 * What a test or a user can find in it:
 *   <polyline id="SERIES-ID" class="series solid|dashed|dotted" .../>
 *   <g id="reference-lines"> with <line id="always-weak"/"always-strong">
 *   <g id="legend">, <g id="x-axis">, <g id="y-axis">, <text id="title">,
 *   <rect id="plot-area">
 *   <g id="operating-point"> holding a <circle> and a <text>
 * All text is XML-escaped (& < > " ' become entities), control characters
 * become spaces and invalid UTF-8 becomes U+FFFD, so model names cannot
 * break the document.
 *
 * Long curves (an eval of 14k requests has up to 14k points; more than
 * 400) are simplified in pixel space (Ramer-Douglas-Peucker) to at most a
 * few hundred vertices: no plotted vertex is dropped unless the line that
 * replaces it passes within a quarter of a pixel of it (a tolerance that
 * doubles only for a curve that would still need more than 500), so the
 * shape on screen does not change. */
#ifndef ALLOT_PLOT_H
#define ALLOT_PLOT_H
#include <stddef.h>
#include "allot/buf.h"
#include "allot/curve.h"

enum allot_plot_style {
    ALLOT_PLOT_SOLID = 0, /* the router */
    ALLOT_PLOT_DASHED,    /* e.g. random */
    ALLOT_PLOT_DOTTED,    /* e.g. the oracle */
};

struct allot_plot_series {
    const char *id;                  /* XML id: [A-Za-z_][A-Za-z0-9_.-]*, e.g. "router" */
    const char *label;               /* legend text; NULL: the id */
    const struct allot_curve *curve; /* its quality against strong_share is drawn */
    int style;                       /* enum allot_plot_style */
};

struct allot_plot {
    const char *title, *x_label, *y_label;  /* NULL: "Routing curve",
                                               "Strong model calls (%)", "Quality" */
    const struct allot_plot_series *series; /* drawn in order, coloured by index */
    size_t n_series;
    double q_weak, q_strong;               /* reference lines; NAN: not drawn */
    const char *weak_label, *strong_label; /* NULL: "always weak", "always strong" */
    int has_point;                         /* 1: mark the operating point */
    double point_x, point_y;               /* strong share (0..1) and quality */
    const char *point_label;               /* NULL: "31% strong, quality 0.78" */
};

/* Append the chart as an SVG document to out. The y range covers every
 * series, the reference lines and the point, padded and rounded to ticks.
 * Errors: ALLOT_EINVAL when p or out is NULL, n_series is 0 with no
 * reference line, a series has no curve or an empty one, an id is not an
 * XML name, is used twice or is one of the chart's own (listed above), a
 * style is unknown, or has_point is set with a point that is not finite or
 * has x outside [0, 1]; ALLOT_ETOOBIG when out's cap is hit; ALLOT_ENOMEM.
 * On error out is as it was before the call. */
int allot_plot_svg(const struct allot_plot *p, struct allot_buf *out);

#endif
