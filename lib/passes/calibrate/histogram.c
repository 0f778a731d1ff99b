/* See histogram.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/calibrate/histogram.h"

int olive_hist_init(olive_hist *h, size_t bins, float first, float last)
{
    float delta, step;
    memset(h, 0, sizeof *h);
    if (first == last) {
        first = first - 0.5f;
        last = last + 0.5f;
    }
    h->counts = olive_calloc(bins, sizeof *h->counts);
    h->edges = olive_malloc((bins + 1) * sizeof *h->edges);
    if (!h->counts || !h->edges) {
        olive_hist_free(h);
        return OLIVE_ENOMEM;
    }
    h->bins = bins;
    h->first = first;
    h->last = last;
    delta = last - first;
    step = delta / (float)bins;
    for (size_t i = 0; i < bins; i++) {
        float y = (float)i * step;
        h->edges[i] = y + first;
    }
    h->edges[bins] = last;
    return OLIVE_OK;
}

void olive_hist_add(olive_hist *h, const float *v, size_t n, int absolute)
{
    const float denom = h->last - h->first, nb = (float)h->bins;
    for (size_t i = 0; i < n; i++) {
        float x = absolute ? fabsf(v[i]) : v[i], f;
        long idx;
        if (!(x >= h->first && x <= h->last))
            continue;
        f = ((x - h->first) / denom) * nb;
        idx = (long)f;
        if ((size_t)idx == h->bins)
            idx--;
        if (x < h->edges[idx])
            idx--;
        if ((size_t)idx != h->bins - 1 && x >= h->edges[idx + 1])
            idx++;
        h->counts[idx]++;
    }
}

void olive_hist_free(olive_hist *h)
{
    free(h->counts);
    free(h->edges);
    memset(h, 0, sizeof *h);
}

/* numpy's searchsorted (left) in the running cdf: the first index whose cdf reaches `value`. */
static size_t search(const olive_hist *h, double total, double value)
{
    double cdf = 0.0;
    for (size_t i = 0; i < h->bins; i++) {
        cdf += (double)h->counts[i] / total;
        if (cdf >= value)
            return i;
    }
    return h->bins;
}

void olive_hist_percentile(const olive_hist *h, double percentile, int absolute, float min, float max, float *lo,
                           float *hi)
{
    double total = 0.0;
    for (size_t i = 0; i < h->bins; i++)
        total += (double)h->counts[i];
    if (absolute) {
        float e = h->edges[search(h, total, percentile / 100.0)];
        *lo = -e;
        *hi = e;
    } else {
        double cut = (100.0 - percentile) / 200.0;
        *hi = h->edges[search(h, total, 1.0 - cut)];
        *lo = h->edges[search(h, total, cut)];
    }
    if (*lo < min)
        *lo = min;
    if (*hi > max)
        *hi = max;
}
