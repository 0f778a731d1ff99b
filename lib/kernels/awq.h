/* AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
 * Acceleration") as AutoAWQ's quantizer runs it, for the linear layers that read one input:
 *
 *   - pseudo-quantization of a group of group_size weights (AutoAWQ's pseudo_quantize_tensor):
 *     with zero points, scale = max(max - min, 1e-5) / (2^bits - 1), zero =
 *     clamp(-round(min / scale), 0, 2^bits - 1), codes clamp(round(w / scale) + zero, 0,
 *     2^bits - 1); without, scale = max|w| / (2^(bits-1) - 1), codes
 *     clamp(round(w / scale), -2^(bits-1), 2^(bits-1) - 1);
 *   - scale search: w_mean[k] = mean over output rows of |w| / (max |w| of its group + 1e-6),
 *     x_mean[k] = mean |x[:, k]|; for ratio = i / n_grid (i = 0..n_grid-1): s = x_mean^ratio /
 *     (w_mean^(1-ratio) + 1e-4) with duo scaling, else x_mean^ratio, clamped to >= 1e-4 and
 *     divided by sqrt(max(s) * min(s)); the loss is the mean squared difference of X W^T and
 *     X (Q(W s) / s)^T over the layers' outputs; the first ratio of least loss wins;
 *   - clipping search (on weights already scaled, inputs divided by the scales, at most
 *     n_sample_tokens rows taken with AutoAWQ's stride): for each output row and group, the
 *     max |w| shrunk by (1 - i / 20) for i = 0..9, keeping the shrink of least mean squared
 *     group output error; the weights are clamped to it.
 * All in float32 arithmetic with rounding half to even (the clipping errors summed in float64,
 * so that near ties between shrinks are decided by the error, not by rounding); the scale
 * search's GEMMs through OpenBLAS. The clipping search runs the rows on threads and the dot
 * products of all shrinks and several tokens at once in vector registers, each sum still taken
 * in the scalar order, so the result does not depend on the CPU or the number of threads. */
#ifndef OLIVE_KERNELS_AWQ_H
#define OLIVE_KERNELS_AWQ_H

#include <stddef.h>

typedef struct olive_awq_config {
    int bits;
    size_t group_size; /* must divide k */
    int zero_point;
    int duo_scaling;
    size_t n_grid; /* 20 */
} olive_awq_config;

/* The scale and zero of one group of values (zero is 0 without zero points). */
void olive_awq_group_params(const olive_awq_config *c, const float *v, float *scale, float *zero);

/* Fake-quantizes w [rows][k] in place, group by group. */
void olive_awq_pseudo_quantize(const olive_awq_config *c, float *w, size_t rows, size_t k);

/* Best per-input-channel scales for `count` layers w[i] [n[i]][k] reading x [t][k] with
 * x_mean [k]. Writes the scales to best [k] and the ratio to *ratio. Errors: OLIVE_ENOMEM. */
int olive_awq_search_scale(const olive_awq_config *c, const float *const *w, const size_t *n, size_t count, size_t k,
                           const float *x, size_t t, const float *x_mean, float *best, double *ratio);

/* Clipping search and clamp of w [n][k] in place, for inputs x [t][k] (rows sampled inside
 * with AutoAWQ's stride to at most n_sample_tokens). Errors: OLIVE_ENOMEM. */
int olive_awq_search_clip(const olive_awq_config *c, float *w, size_t n, size_t k, const float *x, size_t t,
                          size_t n_sample_tokens);

#endif
