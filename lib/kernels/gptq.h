/* GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative
 * Pre-trained Transformers") for one linear layer, in the order AutoGPTQ's gptq.py runs it, so
 * that a layer quantized here and there from the same Hessian gets the same codes:
 *
 *   1. H = 2/n * sum over the n calibration samples of X^T X (X: a sample's rows of inputs),
 *      accumulated as AutoGPTQ's add_batch does (H *= n_old / n_new, then rows scaled by
 *      sqrt(2 / n_new)), in float32;
 *   2. dead inputs (H[i][i] == 0) get H[i][i] = 1 and their weights 0;
 *   3. with static_groups, each group's scale and zero point from the weights as they are;
 *   4. with desc_act, columns permuted by decreasing H[i][i] (stable);
 *   5. damping: H += damp_percent * mean(diag(H)) * I; Hinv = the upper Cholesky factor of
 *      H^-1 (Cholesky, inverse from it, Cholesky again: LAPACK spotrf / spotri / spotrf);
 *   6. columns in blocks of block_size: a group's scale and zero point are computed when its
 *      first column is reached (from the weights as they stood at the start of the block),
 *      each column is quantized, its error err = (w - q) / Hinv[i][i] fed back into the rest
 *      of the block (w[:, j] -= err * Hinv[i][j]), and the block's errors into the columns
 *      after it by one GEMM (W[:, i2:] -= Err @ Hinv[i1:i2, i2:], OpenBLAS sgemm).
 *
 * Quantization of a group of weights is AutoGPTQ's Quantizer: per output row, the range
 * [min(x, 0), max(x, 0)] (symmetric: [-m, m] with m = max(|min|, max) when min < 0, else
 * [0, max]; an all-zero range becomes [-1, 1]), scale = (max - min) / maxq, zero point
 * (maxq + 1) / 2 when symmetric, else round(-min / scale); codes
 * clamp(round(w / scale) + zero, 0, maxq), all in float32 with rounding half to even.
 *
 * Within a block the rows are independent: bands of rows run on the online cores, vectorized
 * (the same operations per row, so the codes do not depend on the threads or the CPU).
 *
 * Memory: the layer's weight (n x k floats) twice, its Hessian (k x k floats) twice, and one
 * block of n x block_size floats; nothing grows with the calibration set. */
#ifndef OLIVE_KERNELS_GPTQ_H
#define OLIVE_KERNELS_GPTQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct olive_gptq_hessian {
    size_t k;
    float *h; /* k x k, lower triangle accumulated (the upper one is filled at the end) */
    uint64_t nsamples;
} olive_gptq_hessian;

/* Errors: OLIVE_ENOMEM. */
int olive_gptq_hessian_init(olive_gptq_hessian *h, size_t k);
/* Adds `rows` input rows x[rows][k] that come from `samples` calibration samples. */
void olive_gptq_hessian_add(olive_gptq_hessian *h, const float *x, size_t rows, size_t samples);
/* Fills the upper triangle from the lower one (call once, before olive_gptq_quantize). */
void olive_gptq_hessian_finish(olive_gptq_hessian *h);
void olive_gptq_hessian_free(olive_gptq_hessian *h);

typedef struct olive_gptq_config {
    int bits;          /* 2..8 */
    size_t group_size; /* columns per scale, >= 1 */
    int sym;
    double damp_percent; /* > 0 */
    int desc_act;
    int static_groups;
    size_t block_size; /* columns per error-feedback block (AutoGPTQ: 128) */
} olive_gptq_config;

/* Quantizes w [k][n] (k inputs, one column per output channel: an ONNX MatMul weight) with the
 * Hessian h [k][k] (olive_gptq_hessian_finish'ed). Both are overwritten.
 * Outputs, all in the original column order:
 *   codes [n][k]                                  the integer codes (0..2^bits - 1);
 *   scales, zeros [n][ceil(k / group_size)]       per group g (g_idx below), zeros integral;
 *   g_idx [k]                                     the group of each column: i / group_size
 *                                                 unless desc_act without static_groups.
 * When H + damping is not positive definite, the damping is raised tenfold, twice; *damp_used
 * receives the fraction that worked. Errors: OLIVE_EINVALID (not positive definite even then;
 * the caller names the layer), OLIVE_ENOMEM. */
int olive_gptq_quantize(const olive_gptq_config *c, float *w, size_t n, size_t k, float *h, uint8_t *codes,
                        float *scales, float *zeros, int32_t *g_idx, double *damp_used);

#endif
