/* The CUDA runtime calls of lib/kernels/gptq_cuda.c, emulated on the host for
 * test_gptq_cuda_emulated: device memory is host memory (filled with garbage when allocated, as
 * device memory may be), copies are memcpy, and the kernel launchers run the kernels'
 * per-element functions (gptq_cuda_kernels.h, the code the .cu kernels run) over every element,
 * the rows of a block in reverse order (a kernel's rows run in any order). */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "emulated.h"
#include "kernels/gptq_cuda_kernels.h"

long emu_mallocs;
long emu_fail_malloc = -1;

cudaError_t cudaGetDeviceCount(int *count)
{
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)
{
    (void)device;
    memset(prop, 0, sizeof *prop);
    strcpy(prop->name, "emulated");
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t size)
{
    if (emu_mallocs++ == emu_fail_malloc)
        return cudaErrorMemoryAllocation;
    if (!(*p = malloc(size ? size : 1)))
        return cudaErrorMemoryAllocation;
    memset(*p, 0xA5, size);
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)
{
    (void)kind;
    memcpy(dst, src, count);
    return cudaSuccess;
}

cudaError_t cudaMemcpy2D(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                         enum cudaMemcpyKind kind)
{
    (void)kind;
    for (size_t i = 0; i < height; i++)
        memcpy((char *)dst + i * dpitch, (const char *)src + i * spitch, width);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t count)
{
    memset(p, value, count);
    return cudaSuccess;
}

const char *cudaGetErrorString(cudaError_t err)
{
    return err == cudaErrorMemoryAllocation ? "out of memory (emulated)" : "emulated failure";
}

cudaError_t cudaGetLastError(void)
{
    return cudaSuccess;
}

int olive_gptq_cuda_reverse_damp(const float *hp, float *a, size_t k, float damp)
{
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            a[i * k + j] = olive_gptq_reversed_at(hp, k, i, j, damp);
    return 0;
}

int olive_gptq_cuda_flip_upper(const float *l, float *u, size_t k)
{
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++)
            u[a * k + b] = olive_gptq_flipped_at(l, k, a, b);
    return 0;
}

int olive_gptq_cuda_run_block(const olive_gptq_cuda_block *b)
{
    for (size_t r = b->n; r-- > 0;)
        olive_gptq_block_row(b, r);
    return 0;
}
