/* Builds without CUDA: no GPTQ on the device (see gptq_cuda.h); callers use gptq.h. */
#include "core/status.h"
#include "kernels/gptq_cuda.h"

int olive_gptq_cuda_open(olive_gptq_cuda **out)
{
    (void)out;
    return olive_fail(OLIVE_EUNSUPPORTED, "this libolive was built without CUDA");
}

void olive_gptq_cuda_close(olive_gptq_cuda *g)
{
    (void)g;
}

const char *olive_gptq_cuda_device_name(const olive_gptq_cuda *g)
{
    (void)g;
    return "";
}

int olive_gptq_cuda_hessian_init(olive_gptq_cuda *g, olive_gptq_cuda_hessian *h, size_t k)
{
    (void)g;
    (void)h;
    (void)k;
    return olive_fail(OLIVE_EUNSUPPORTED, "this libolive was built without CUDA");
}

int olive_gptq_cuda_hessian_add(olive_gptq_cuda *g, olive_gptq_cuda_hessian *h, const float *x, size_t rows,
                                size_t samples)
{
    (void)g;
    (void)h;
    (void)x;
    (void)rows;
    (void)samples;
    return olive_fail(OLIVE_EUNSUPPORTED, "this libolive was built without CUDA");
}

int olive_gptq_cuda_hessian_finish(olive_gptq_cuda *g, const olive_gptq_cuda_hessian *h, olive_gptq_hessian *out)
{
    (void)g;
    (void)h;
    (void)out;
    return olive_fail(OLIVE_EUNSUPPORTED, "this libolive was built without CUDA");
}

void olive_gptq_cuda_hessian_free(olive_gptq_cuda_hessian *h)
{
    (void)h;
}

int olive_gptq_cuda_quantize(olive_gptq_cuda *g, const olive_gptq_config *c, float *w, size_t n, size_t k, float *h,
                             uint8_t *codes, float *scales, float *zeros, int32_t *g_idx, double *damp_used)
{
    (void)g;
    (void)c;
    (void)w;
    (void)n;
    (void)k;
    (void)h;
    (void)codes;
    (void)scales;
    (void)zeros;
    (void)g_idx;
    (void)damp_used;
    return olive_fail(OLIVE_EUNSUPPORTED, "this libolive was built without CUDA");
}
