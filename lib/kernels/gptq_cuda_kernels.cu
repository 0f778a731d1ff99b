/* The device kernels of gptq_cuda.c (see gptq_cuda.h), with C launchers that return the CUDA
 * error code (0: cudaSuccess). Compiled with -fmad=false and IEEE division: each operation is
 * the CPU kernel's (gptq.c), in its order, so the in-block arithmetic rounds as it does there.
 * Everything runs on the default stream. */
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/gptq_cuda_kernels.h"

/* a[i][j] = hp[k-1-i][k-1-j] (+ damp on the diagonal): J (H + damp I) J, row-major k x k. */
__global__ void reverse_damp(const float *hp, float *a, size_t k, float damp)
{
    size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x, i = blockIdx.y * (size_t)blockDim.y + threadIdx.y;
    if (i >= k || j >= k)
        return;
    a[i * k + j] = hp[(k - 1 - i) * k + (k - 1 - j)] + (i == j ? damp : 0.0f);
}

/* u[a][b] = l[k-1-a][k-1-b] for b >= a, else 0: U = J L^-1 J (upper, row-major) from the
 * row-major lower triangle of l (cuSOLVER's column-major upper one). */
__global__ void flip_upper(const float *l, float *u, size_t k)
{
    size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x, a = blockIdx.y * (size_t)blockDim.y + threadIdx.y;
    if (a >= k || b >= k)
        return;
    u[a * k + b] = b >= a ? l[(k - 1 - a) * k + (k - 1 - b)] : 0.0f;
}

/* AutoGPTQ's Quantizer.find_params on one row's group (gptq.c's find_params). */
__device__ static void find_params(const float *w, size_t n, size_t r, size_t len, int sym, float maxq, float *scale,
                                   float *zero)
{
    float xmin = 0.0f, xmax = 0.0f;
    for (size_t i = 0; i < len; i++) {
        float v = w[i * n + r];
        xmin = v < xmin ? v : xmin;
        xmax = v > xmax ? v : xmax;
    }
    if (sym) {
        xmax = fabsf(xmin) > xmax ? fabsf(xmin) : xmax;
        if (xmin < 0.0f)
            xmin = -xmax;
    }
    if (xmin == 0.0f && xmax == 0.0f) {
        xmin = -1.0f;
        xmax = 1.0f;
    }
    *scale = __fdiv_rn(xmax - xmin, maxq);
    *zero = sym ? __fdiv_rn(maxq + 1.0f, 2.0f) : rintf(__fdiv_rn(-xmin, *scale));
}

/* One block of columns [i1, i1 + count), thread r on output row r (gptq.c's block_rows). */
__global__ void block_rows(olive_gptq_cuda_block b)
{
    size_t r = blockIdx.x * (size_t)blockDim.x + threadIdx.x, n = b.n, k = b.k;
    float sc = 0.0f, ze = 0.0f;
    if (r >= n)
        return;
    for (size_t i = 0; i < b.count; i++)
        b.w1[i * n + r] = b.w[(b.i1 + i) * n + r];
    if (!b.static_groups) {
        sc = b.gscale[r];
        ze = b.gzero[r];
    }
    for (size_t i = 0; i < b.count; i++) {
        size_t col = b.i1 + i;
        const float *hrow = b.u + col * k + b.i1; /* Hinv1[i, :] */
        float wv, v, e;
        if (!b.static_groups) {
            if (col % b.gs == 0) {
                size_t len = k - col < b.gs ? k - col : b.gs;
                find_params(b.w + col * n, n, r, len, b.sym, b.maxq, &sc, &ze);
                b.gscale[r] = sc;
                b.gzero[r] = ze;
                b.scales[r * b.n_groups + col / b.gs] = sc;
                b.zeros[r * b.n_groups + col / b.gs] = ze;
            }
        } else {
            size_t g = (size_t)b.sgroup[col];
            sc = b.sscale[g * n + r];
            ze = b.szero[g * n + r];
        }
        wv = b.w1[i * n + r];
        v = __fadd_rn(rintf(__fdiv_rn(wv, sc)), ze);
        v = v < 0.0f ? 0.0f : v > b.maxq ? b.maxq : v;
        b.q[col * n + r] = (uint8_t)v;
        e = __fdiv_rn(__fsub_rn(wv, __fmul_rn(sc, __fsub_rn(v, ze))), hrow[i]);
        b.err[i * n + r] = e;
        for (size_t j = i + 1; j < b.count; j++)
            b.w1[j * n + r] = __fsub_rn(b.w1[j * n + r], __fmul_rn(e, hrow[j]));
    }
}

static dim3 square_grid(size_t k, dim3 threads)
{
    return dim3((unsigned)((k + threads.x - 1) / threads.x), (unsigned)((k + threads.y - 1) / threads.y));
}

extern "C" int olive_gptq_cuda_reverse_damp(const float *hp, float *a, size_t k, float damp)
{
    dim3 threads(32, 8);
    reverse_damp<<<square_grid(k, threads), threads>>>(hp, a, k, damp);
    return (int)cudaGetLastError();
}

extern "C" int olive_gptq_cuda_flip_upper(const float *l, float *u, size_t k)
{
    dim3 threads(32, 8);
    flip_upper<<<square_grid(k, threads), threads>>>(l, u, k);
    return (int)cudaGetLastError();
}

extern "C" int olive_gptq_cuda_run_block(const olive_gptq_cuda_block *b)
{
    const unsigned threads = 128;
    block_rows<<<(unsigned)((b->n + threads - 1) / threads), threads>>>(*b);
    return (int)cudaGetLastError();
}
