/* The device kernels of gptq_cuda.c (see gptq_cuda.h), with C launchers that return the CUDA
 * error code (0: cudaSuccess). Their per-element work is in gptq_cuda_kernels.h: the CPU
 * kernel's operations (gptq.c) in its order, rounded as there (also compiled with -fmad=false
 * and IEEE division). Everything runs on the default stream. */
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/gptq_cuda_kernels.h"

__global__ void reverse_damp(const float *hp, float *a, size_t k, float damp)
{
    size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x, i = blockIdx.y * (size_t)blockDim.y + threadIdx.y;
    if (i < k && j < k)
        a[i * k + j] = olive_gptq_reversed_at(hp, k, i, j, damp);
}

__global__ void flip_upper(const float *l, float *u, size_t k)
{
    size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x, a = blockIdx.y * (size_t)blockDim.y + threadIdx.y;
    if (a < k && b < k)
        u[a * k + b] = olive_gptq_flipped_at(l, k, a, b);
}

/* A thread per output row. */
__global__ void block_rows(olive_gptq_cuda_block b)
{
    size_t r = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (r < b.n)
        olive_gptq_block_row(&b, r);
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
