/* The Pareto frontier chart: every candidate as a point on the first two objectives, the
 * frontier highlighted and joined, each point labelled with its candidate index, written as
 * PNG and SVG with cairo. */
#ifndef OLIVE_WORKFLOW_SEARCH_CHART_H
#define OLIVE_WORKFLOW_SEARCH_CHART_H

#include <stddef.h>

typedef struct ws_chart_point {
    double x, y;
    int on_front;
    int pruned;
    size_t index; /* candidate index, drawn beside the point */
} ws_chart_point;

/* Writes the chart to `png_path` and `svg_path` (either may be NULL). Errors:
 * OLIVE_EUNSUPPORTED in a build without cairo; OLIVE_EIO naming the file; OLIVE_EINVALID
 * for no points. */
int ws_chart_write(const char *png_path, const char *svg_path, const ws_chart_point *pts, size_t n, const char *x_label,
                   const char *y_label);

#endif
