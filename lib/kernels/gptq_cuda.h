/* GPTQ on an NVIDIA GPU: the work of gptq.h (same configuration, same outputs, same errors) with
 * the Hessian, its factor and the column blocks on the device. cuBLAS (the Hessian by ssyrk, the
 * cross-block update by sgemm) and cuSOLVER (spotrf, then the triangular inverse Xtrtri) are
 * loaded at run time with dlopen: the files OLIVE_CUBLAS_LIBRARY and OLIVE_CUSOLVER_LIBRARY name
 * when set, else libcublas.so.13 / .12 / .so and libcusolver.so.12 / .11 / .so from the loader's
 * path, else from the CUDA Toolkit's lib64 folder the build found; the CUDA
 * runtime is linked statically, so only the driver is needed besides. Without them, without a
 * device, or in a build without CUDA, olive_gptq_cuda_open fails and the callers use gptq.h.
 *
 * The order of the algorithm is AutoGPTQ's and the CPU kernel's: host preparation (dead inputs,
 * static groups, act-order permutation, mean diagonal) as gptq.c does it; the damped Hessian
 * reversed, factored and inverted on the device (the upper Cholesky factor of (H + damp I)^-1,
 * the damping raised tenfold twice when H is not positive definite); then blocks of
 * block_size columns, each quantized by one kernel with a thread per output row (a group's
 * parameters at its first column from the weights as they stood at the block's start, each
 * column's codes and error, the error fed into the rest of the block: the CPU's operations in
 * its order, compiled without contraction into fused multiply-adds), and one sgemm carrying
 * the block's errors into the later columns.
 *
 * The codes may differ from the CPU kernel's in a few places (well under 1%) and the scales in
 * the last bits: cuBLAS and cuSOLVER sum in another order than OpenBLAS and LAPACK, so a value
 * near a rounding boundary may fall on its other side. Checked against the CPU kernel on a GPU
 * only by scripts/device-check.sh (tests/integration/test_gptq_cuda.py); everywhere else the
 * host code and the kernels' per-element code run against an emulated runtime whose cuBLAS and
 * cuSOLVER are OpenBLAS and LAPACK (tests/unit/kernels/test_gptq_cuda_emulated.c), and must
 * give the CPU kernel's codes.
 *
 * Device memory: the layer's weight (n x k floats), three k x k floats while the factor is
 * made (one after), its codes (n x k bytes) and two blocks of n x block_size floats; a Hessian
 * being accumulated holds k x k floats and a band of the calibration rows (64 MiB at most).
 * Not thread-safe: a context is used by one thread at a time. */
#ifndef OLIVE_KERNELS_GPTQ_CUDA_H
#define OLIVE_KERNELS_GPTQ_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gptq.h"

typedef struct olive_gptq_cuda olive_gptq_cuda;

/* A context on CUDA device 0 with cuBLAS and cuSOLVER handles. *out is freed with
 * olive_gptq_cuda_close. Errors: OLIVE_EUNSUPPORTED (a build without CUDA, no device or driver,
 * cuBLAS or cuSOLVER not found or refusing to start: the message says which), OLIVE_ENOMEM. */
int olive_gptq_cuda_open(olive_gptq_cuda **out);
void olive_gptq_cuda_close(olive_gptq_cuda *g);
/* The device's name, for messages (borrowed from g). */
const char *olive_gptq_cuda_device_name(const olive_gptq_cuda *g);

/* A Hessian accumulated on the device, as olive_gptq_hessian_add does on the host. */
typedef struct olive_gptq_cuda_hessian {
    size_t k;
    void *dev; /* k x k floats on the device */
    uint64_t nsamples;
} olive_gptq_cuda_hessian;

/* Errors: OLIVE_ENOMEM (device memory), OLIVE_EUNSUPPORTED (the device failed). */
int olive_gptq_cuda_hessian_init(olive_gptq_cuda *g, olive_gptq_cuda_hessian *h, size_t k);
/* Adds `rows` input rows x[rows][k] (host memory) from `samples` calibration samples.
 * Errors: as olive_gptq_cuda_hessian_init. */
int olive_gptq_cuda_hessian_add(olive_gptq_cuda *g, olive_gptq_cuda_hessian *h, const float *x, size_t rows,
                                size_t samples);
/* Copies the sums into `out` (olive_gptq_hessian_init'ed with the same k, empty) with both
 * triangles filled, as olive_gptq_hessian_finish leaves it. Errors: OLIVE_EUNSUPPORTED. */
int olive_gptq_cuda_hessian_finish(olive_gptq_cuda *g, const olive_gptq_cuda_hessian *h, olive_gptq_hessian *out);
void olive_gptq_cuda_hessian_free(olive_gptq_cuda_hessian *h);

/* olive_gptq_quantize on the device: the same arguments, outputs and errors (OLIVE_EINVALID when
 * not positive definite even with the damping raised; w and h are overwritten), and
 * OLIVE_ENOMEM when the device's memory does not hold the layer, OLIVE_EUNSUPPORTED when the
 * device or a library call fails (the message names the call). */
int olive_gptq_cuda_quantize(olive_gptq_cuda *g, const olive_gptq_config *c, float *w, size_t n, size_t k, float *h,
                             uint8_t *codes, float *scales, float *zeros, int32_t *g_idx, double *damp_used);

#endif
