#include "workflow/search/chart.h"

#include <math.h>
#include <stdio.h>

#include "core/status.h"

#ifdef OLIVE_HAVE_CAIRO
#include <cairo-svg.h>
#include <cairo.h>

enum { W = 800, H = 600, LEFT = 90, RIGHT = 30, TOP = 50, BOTTOM = 70 };

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about 6 ticks over span. */
static double tick_step(double span)
{
    double raw = span / 6, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void range_of(const ws_chart_point *p, size_t n, int y, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = y ? p[i].y : p[i].x;
        if (v < *lo)
            *lo = v;
        if (v > *hi)
            *hi = v;
    }
    if (*hi - *lo < 1e-12 * (fabs(*hi) + 1)) { /* one value: a small band around it */
        double pad = fabs(*hi) * 0.05 + 1e-6;
        *lo -= pad;
        *hi += pad;
    } else {
        double pad = (*hi - *lo) * 0.08;
        *lo -= pad;
        *hi += pad;
    }
}

static void draw(cairo_t *cr, const ws_chart_point *p, size_t n, const char *xl, const char *yl)
{
    double x0, x1, y0, y1, pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
    char buf[64];
    cairo_text_extents_t te;
    range_of(p, n, 0, &x0, &x1);
    range_of(p, n, 1, &y0, &y1);
#define PX(v) (LEFT + ((v)-x0) / (x1 - x0) * pw)
#define PY(v) (TOP + ph - ((v)-y0) / (y1 - y0) * ph)
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    /* grid and ticks */
    cairo_set_line_width(cr, 1);
    cairo_set_font_size(cr, 12);
    for (int axis = 0; axis < 2; axis++) {
        double lo = axis ? y0 : x0, hi = axis ? y1 : x1, st = tick_step(hi - lo);
        for (double t = ceil(lo / st) * st; t <= hi; t += st) {
            double pos = axis ? PY(t) : PX(t);
            cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
            if (axis) {
                cairo_move_to(cr, LEFT, pos);
                cairo_line_to(cr, LEFT + pw, pos);
            } else {
                cairo_move_to(cr, pos, TOP);
                cairo_line_to(cr, pos, TOP + ph);
            }
            cairo_stroke(cr);
            snprintf(buf, sizeof buf, "%.4g", fabs(t) < st * 1e-9 ? 0.0 : t);
            cairo_text_extents(cr, buf, &te);
            cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
            if (axis)
                cairo_move_to(cr, LEFT - 8 - te.width, pos + te.height / 2);
            else
                cairo_move_to(cr, pos - te.width / 2, TOP + ph + 18);
            cairo_show_text(cr, buf);
        }
    }
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_rectangle(cr, LEFT, TOP, pw, ph);
    cairo_stroke(cr);
    /* axis labels and title */
    cairo_set_font_size(cr, 14);
    cairo_text_extents(cr, xl, &te);
    cairo_move_to(cr, LEFT + pw / 2 - te.width / 2, H - 20);
    cairo_show_text(cr, xl);
    cairo_save(cr);
    cairo_text_extents(cr, yl, &te);
    cairo_move_to(cr, 24, TOP + ph / 2 + te.width / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_show_text(cr, yl);
    cairo_restore(cr);
    cairo_set_font_size(cr, 16);
    cairo_move_to(cr, LEFT, 30);
    cairo_show_text(cr, "Pareto frontier (filled: on the frontier; hollow grey: pruned)");
    /* the frontier joined in x order */
    cairo_set_source_rgb(cr, 0.85, 0.33, 0.1);
    cairo_set_line_width(cr, 2);
    {
        double last = -INFINITY;
        int started = 0;
        for (size_t k = 0; k < n; k++) {
            size_t pick = n;
            for (size_t i = 0; i < n; i++)
                if (p[i].on_front && p[i].x > last && (pick == n || p[i].x < p[pick].x))
                    pick = i;
            if (pick == n)
                break;
            last = p[pick].x;
            if (started)
                cairo_line_to(cr, PX(p[pick].x), PY(p[pick].y));
            else
                cairo_move_to(cr, PX(p[pick].x), PY(p[pick].y));
            started = 1;
        }
        cairo_stroke(cr);
    }
    /* the points: one marker each, then its index */
    cairo_set_font_size(cr, 11);
    for (size_t i = 0; i < n; i++) {
        cairo_new_path(cr);
        cairo_arc(cr, PX(p[i].x), PY(p[i].y), p[i].on_front ? 6 : 4.5, 0, 2 * M_PI);
        if (p[i].on_front) {
            cairo_set_source_rgb(cr, 0.85, 0.33, 0.1);
            cairo_fill(cr);
        } else if (p[i].pruned) {
            cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
            cairo_set_line_width(cr, 1.5);
            cairo_stroke(cr);
        } else {
            cairo_set_source_rgb(cr, 0.2, 0.4, 0.7);
            cairo_fill(cr);
        }
        snprintf(buf, sizeof buf, "%zu", p[i].index);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, PX(p[i].x) + 8, PY(p[i].y) - 6);
        cairo_show_text(cr, buf);
    }
#undef PX
#undef PY
}

static int render(cairo_surface_t *s, const ws_chart_point *p, size_t n, const char *xl, const char *yl,
                  const char *path)
{
    cairo_t *cr = cairo_create(s);
    int ok;
    draw(cr, p, n, xl, yl);
    ok = cairo_status(cr) == CAIRO_STATUS_SUCCESS;
    cairo_destroy(cr);
    cairo_surface_flush(s); /* not finish: the image surface is written to PNG after this */
    ok = ok && cairo_surface_status(s) == CAIRO_STATUS_SUCCESS;
    return ok ? OLIVE_OK
              : olive_fail(OLIVE_EIO, "chart '%s': %s", path, cairo_status_to_string(cairo_surface_status(s)));
}

int ws_chart_write(const char *png_path, const char *svg_path, const ws_chart_point *pts, size_t n, const char *x_label,
                   const char *y_label)
{
    int rc = OLIVE_OK;
    if (!n)
        return olive_fail(OLIVE_EINVALID, "chart: no candidates to plot");
    if (png_path) {
        cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
        rc = render(s, pts, n, x_label, y_label, png_path);
        if (rc == OLIVE_OK && cairo_surface_write_to_png(s, png_path) != CAIRO_STATUS_SUCCESS)
            rc = olive_fail(OLIVE_EIO, "chart: cannot write '%s'", png_path);
        cairo_surface_destroy(s);
    }
    if (rc == OLIVE_OK && svg_path) {
        cairo_surface_t *s = cairo_svg_surface_create(svg_path, W, H);
        rc = render(s, pts, n, x_label, y_label, svg_path);
        cairo_surface_finish(s); /* writes the SVG file */
        if (rc == OLIVE_OK && cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
            rc = olive_fail(OLIVE_EIO, "chart: cannot write '%s'", svg_path);
        cairo_surface_destroy(s);
    }
    return rc;
}
#else
int ws_chart_write(const char *png_path, const char *svg_path, const ws_chart_point *pts, size_t n, const char *x_label,
                   const char *y_label)
{
    (void)png_path, (void)svg_path, (void)pts, (void)n, (void)x_label, (void)y_label;
    return olive_fail(OLIVE_EUNSUPPORTED, "plot_pareto_frontier: this build has no cairo to draw the chart");
}
#endif
