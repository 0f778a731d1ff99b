/* Histograms of activations as onnxruntime's HistogramCollector builds them with numpy (one
 * np.histogram over all calibration values, since quantize_static collects every batch before
 * binning), and the Percentile range read from them, so that ranges come out bit-identical.
 * Built here in two runs over the calibration data (the range first, then the counts), never
 * holding more than one batch.
 *
 *   - edges: numpy's linspace in float32 from first to last (a zero-width range widened by 0.5
 *     on each side): edge i = i * ((last - first) / bins) + first, the last edge = last;
 *   - a value's bin: int((v - first) / (last - first) * bins) in float32, moved down when v
 *     is below its bin's edge and up when it reaches the next one, the last bin closed;
 *   - Percentile: the cumulative sum of count / total in float64, searchsorted (left) at
 *     percentile / 100 for |x| histograms (the range [-edge, edge]), or at the two tails
 *     (100 - percentile) / 200 for signed ones; each end clamped to the data's min and max. */
#ifndef OLIVE_PASSES_CALIBRATE_HISTOGRAM_H
#define OLIVE_PASSES_CALIBRATE_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct olive_hist {
    size_t bins;
    uint64_t *counts; /* [bins] */
    float *edges;     /* [bins + 1] */
    float first, last;
} olive_hist;

/* Errors: OLIVE_ENOMEM. */
int olive_hist_init(olive_hist *h, size_t bins, float first, float last);
/* Counts v[0..n) (|v| when absolute); values outside [first, last] and NaN are not counted. */
void olive_hist_add(olive_hist *h, const float *v, size_t n, int absolute);
void olive_hist_free(olive_hist *h);

/* The Percentile range [*lo, *hi] of a histogram of |x| (absolute) or of x, clamped to the
 * data's [min, max]. */
void olive_hist_percentile(const olive_hist *h, double percentile, int absolute, float min, float max, float *lo,
                           float *hi);

#endif
