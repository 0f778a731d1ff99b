/* GPTQ's GPU path (kernels/gptq_cuda.h) without a GPU: its host code and its kernels'
 * per-element code run against an emulated CUDA runtime (gptq_cuda_emulated/cudart_shim.c) whose
 * cuBLAS and cuSOLVER are OpenBLAS and LAPACK (the shims, loaded through OLIVE_CUBLAS_LIBRARY and
 * OLIVE_CUSOLVER_LIBRARY as the real ones would be). Run so, the GPU path must give the CPU
 * kernel's (gptq.h) outputs: the same Hessian (within float rounding of the two ssyrk orders), the
 * same codes, zero points, g_idx and damping, but where OpenBLAS rounds the column-major
 * cross-block GEMM and the CPU's row-major one differently: a few scales an ulp or two apart
 * (within 1e-6), at most 0.1% of the codes and 0.5% of the zero points (none so far). This
 * checks the layouts, the BLAS and LAPACK calls' arguments, the factor's reversal, the block
 * kernel's arithmetic and the outputs' order. Then: a Hessian that is not positive definite gives
 * the CPU's error, and running out of device memory at each allocation in turn gives
 * OLIVE_ENOMEM with nothing leaked. What this cannot check, the real GPU's rounding, is
 * scripts/device-check.sh's (tests/integration/test_gptq_cuda.py). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "olive/olive.h"

#include "check.h"
#include "emulated.h"
#include "kernels/gptq.h"
#include "kernels/gptq_cuda.h"

static unsigned long long state = 88172645463325252ull;

/* Uniform in [-1, 1) (xorshift64). */
static float uniform(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (float)((double)(state >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

typedef struct layer {
    size_t n, k, rows;
    int dead; /* input 5 always zero */
} layer;

/* A layer's Hessian from `rows` correlated inputs (a few strong channels), on the host and on
 * the "device", in batches of 16 rows of 4 samples; the GPU one checked against the CPU one. */
static void hessians(olive_gptq_cuda *g, const layer *l, olive_gptq_hessian *hc)
{
    size_t k = l->k;
    float *x = malloc(l->rows * k * sizeof *x);
    olive_gptq_hessian hg;
    olive_gptq_cuda_hessian dh;
    double worst = 0, top = 0;
    CHECK(x != NULL);
    for (size_t i = 0; i < l->rows * k; i++)
        x[i] = uniform() * (i % k < 3 ? 6.0f : 1.0f) + 0.3f * uniform();
    if (l->dead)
        for (size_t r = 0; r < l->rows; r++)
            x[r * k + 5] = 0.0f;
    CHECK_RC(olive_gptq_hessian_init(hc, k), OLIVE_OK);
    CHECK_RC(olive_gptq_hessian_init(&hg, k), OLIVE_OK);
    CHECK_RC(olive_gptq_cuda_hessian_init(g, &dh, k), OLIVE_OK);
    for (size_t r0 = 0; r0 < l->rows; r0 += 16) {
        size_t m = l->rows - r0 < 16 ? l->rows - r0 : 16;
        olive_gptq_hessian_add(hc, x + r0 * k, m, 4);
        CHECK_RC(olive_gptq_cuda_hessian_add(g, &dh, x + r0 * k, m, 4), OLIVE_OK);
    }
    olive_gptq_hessian_finish(hc);
    CHECK_RC(olive_gptq_cuda_hessian_finish(g, &dh, &hg), OLIVE_OK);
    olive_gptq_cuda_hessian_free(&dh);
    for (size_t i = 0; i < k * k; i++) {
        double d = fabs((double)hc->h[i] - hg.h[i]);
        worst = d > worst ? d : worst;
        top = fabs(hc->h[i]) > top ? fabs(hc->h[i]) : top;
    }
    CHECK_MSG(worst <= 1e-5 * top, "the Hessians differ by %g (largest entry %g)", worst, top);
    CHECK(hg.nsamples == hc->nsamples);
    olive_gptq_hessian_free(&hg);
    free(x);
}

static void same_as_cpu(olive_gptq_cuda *g, const layer *l, olive_gptq_config c)
{
    size_t n = l->n, k = l->k, ng = (k + c.group_size - 1) / c.group_size, codes_differ = 0, scales_differ = 0,
           zeros_differ = 0, g_idx_differ = 0;
    float *w = malloc(n * k * sizeof *w), *w2 = malloc(n * k * sizeof *w2), *h = malloc(k * k * sizeof *h);
    float *s1 = malloc(n * ng * sizeof *s1), *s2 = malloc(n * ng * sizeof *s2);
    float *z1 = malloc(n * ng * sizeof *z1), *z2 = malloc(n * ng * sizeof *z2);
    uint8_t *q1 = malloc(n * k), *q2 = malloc(n * k);
    int32_t *g1 = malloc(k * sizeof *g1), *g2 = malloc(k * sizeof *g2);
    double d1 = -1, d2 = -2, rel = 0;
    olive_gptq_hessian hc;
    CHECK(w && w2 && h && s1 && s2 && z1 && z2 && q1 && q2 && g1 && g2);
    hessians(g, l, &hc);
    for (size_t i = 0; i < n * k; i++)
        w[i] = w2[i] = uniform() * 0.05f;
    memcpy(h, hc.h, k * k * sizeof *h);
    CHECK_RC(olive_gptq_quantize(&c, w, n, k, h, q1, s1, z1, g1, &d1), OLIVE_OK);
    memcpy(h, hc.h, k * k * sizeof *h);
    CHECK_RC(olive_gptq_cuda_quantize(g, &c, w2, n, k, h, q2, s2, z2, g2, &d2), OLIVE_OK);
    for (size_t i = 0; i < n * k; i++)
        codes_differ += q1[i] != q2[i];
    for (size_t i = 0; i < n * ng; i++) {
        zeros_differ += z1[i] != z2[i];
        if (s1[i] != s2[i]) {
            double d = fabs((double)s1[i] - s2[i]) / fabs((double)s1[i]);
            scales_differ++;
            rel = d > rel ? d : rel;
        }
    }
    for (size_t i = 0; i < k; i++)
        g_idx_differ += g1[i] != g2[i];
    /* the same up to the rounding of the cross-block GEMM (see the top) */
    CHECK_MSG(codes_differ * 1000 <= n * k && zeros_differ * 200 <= n * ng && g_idx_differ == 0 && rel < 1e-6 &&
                  d1 == d2,
              "%zu x %zu, bits %d, group %zu, sym %d, desc_act %d, static_groups %d: codes %zu of %zu differ, zero "
              "points %zu, g_idx %zu, scales %zu (by %g), damping %g vs %g",
              n, k, c.bits, c.group_size, c.sym, c.desc_act, c.static_groups, codes_differ, n * k, zeros_differ,
              g_idx_differ, scales_differ, rel, d1, d2);
    printf("%zu x %zu, bits %d, group %zu, sym %d, desc_act %d, static_groups %d: %zu of %zu codes differ, %zu of %zu "
           "scales (by %g at most)\n",
           n, k, c.bits, c.group_size, c.sym, c.desc_act, c.static_groups, codes_differ, n * k, scales_differ, n * ng,
           rel);
    olive_gptq_hessian_free(&hc);
    free(w);
    free(w2);
    free(h);
    free(s1);
    free(s2);
    free(z1);
    free(z2);
    free(q1);
    free(q2);
    free(g1);
    free(g2);
}

static void layers(olive_gptq_cuda *g)
{
    /* K: one block, five blocks, blocks that do not divide K, groups longer than a block */
    static const layer shapes[] = {{48, 256, 640, 1}, {96, 640, 1200, 0}, {33, 200, 500, 1}, {64, 384, 900, 0}};
    static const olive_gptq_config configs[] = {
        {.bits = 4, .group_size = 32, .sym = 0, .damp_percent = 0.01, .block_size = 128},
        {.bits = 4, .group_size = 128, .sym = 1, .damp_percent = 0.01, .desc_act = 1, .block_size = 128},
        {.bits = 8, .group_size = 64, .damp_percent = 0.01, .desc_act = 1, .static_groups = 1, .block_size = 128},
        {.bits = 4, .group_size = 32, .damp_percent = 0.01, .desc_act = 1, .block_size = 128},
        {.bits = 4, .group_size = 256, .damp_percent = 0.01, .block_size = 128},
        {.bits = 4, .group_size = 16, .damp_percent = 0.01, .static_groups = 1, .block_size = 64},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t i = 0; i < sizeof configs / sizeof *configs; i++)
            same_as_cpu(g, &shapes[s], configs[i]);
}

/* H = -I: not positive definite with any damping (its mean diagonal is negative). */
static void not_positive_definite(olive_gptq_cuda *g)
{
    const size_t n = 8, k = 32;
    const olive_gptq_config c = {.bits = 4, .group_size = 32, .damp_percent = 0.01, .block_size = 128};
    float w[8 * 32] = {0}, h[32 * 32] = {0}, scales[8], zeros[8];
    uint8_t codes[8 * 32];
    int32_t g_idx[32];
    double damp = 0;
    char cpu[512];
    for (size_t i = 0; i < k; i++)
        h[i * k + i] = -1.0f;
    CHECK_RC(olive_gptq_quantize(&c, w, n, k, h, codes, scales, zeros, g_idx, &damp), OLIVE_EINVALID);
    snprintf(cpu, sizeof cpu, "%s", olive_error_last());
    memset(h, 0, sizeof h);
    for (size_t i = 0; i < k; i++)
        h[i * k + i] = -1.0f;
    CHECK_RC(olive_gptq_cuda_quantize(g, &c, w, n, k, h, codes, scales, zeros, g_idx, &damp), OLIVE_EINVALID);
    CHECK_CONTAINS(cpu, "not positive definite even with damping 1 (LAPACK info 1)");
    CHECK_ERROR_HAS("not positive definite even with damping 1 (cuSOLVER info 1)");
}

/* Out of device memory at each allocation of a quantization in turn (ASan: nothing leaks). */
static void out_of_memory(olive_gptq_cuda *g)
{
    const size_t n = 8, k = 64;
    const olive_gptq_config configs[] = {
        {.bits = 8, .group_size = 32, .damp_percent = 0.01, .desc_act = 1, .static_groups = 1, .block_size = 32},
        {.bits = 4, .group_size = 32, .damp_percent = 0.01, .block_size = 32},
    };
    float w[8 * 64], h[64 * 64], scales[8 * 2], zeros[8 * 2];
    uint8_t codes[8 * 64];
    int32_t g_idx[64];
    double damp = 0;
    for (size_t ci = 0; ci < 2; ci++) {
        long needed;
        emu_fail_malloc = -1;
        emu_mallocs = 0;
        memset(h, 0, sizeof h);
        for (size_t i = 0; i < k; i++)
            h[i * k + i] = 1.0f;
        for (size_t i = 0; i < n * k; i++)
            w[i] = uniform();
        CHECK_RC(olive_gptq_cuda_quantize(g, &configs[ci], w, n, k, h, codes, scales, zeros, g_idx, &damp), OLIVE_OK);
        needed = emu_mallocs;
        CHECK(needed >= 8);
        for (long f = 0; f < needed; f++) {
            emu_mallocs = 0;
            emu_fail_malloc = f;
            CHECK_RC(olive_gptq_cuda_quantize(g, &configs[ci], w, n, k, h, codes, scales, zeros, g_idx, &damp),
                     OLIVE_ENOMEM);
            CHECK_ERROR_HAS("out of memory (emulated)");
        }
        emu_fail_malloc = -1;
    }
    {
        olive_gptq_cuda_hessian dh;
        emu_mallocs = 0;
        emu_fail_malloc = 0;
        CHECK_RC(olive_gptq_cuda_hessian_init(g, &dh, 64), OLIVE_ENOMEM);
        emu_fail_malloc = -1;
    }
}

int main(void)
{
    olive_gptq_cuda *g = NULL;
    if (!getenv("OLIVE_CUBLAS_LIBRARY") || !getenv("OLIVE_CUSOLVER_LIBRARY")) {
        fprintf(stderr, "OLIVE_CUBLAS_LIBRARY and OLIVE_CUSOLVER_LIBRARY must name the shims (run by meson test)\n");
        return 1;
    }
    CHECK_RC(olive_gptq_cuda_open(&g), OLIVE_OK);
    if (!g)
        return check_summary("test_gptq_cuda_emulated");
    CHECK_STR(olive_gptq_cuda_device_name(g), "emulated");
    layers(g);
    not_positive_definite(g);
    out_of_memory(g);
    olive_gptq_cuda_close(g);
    return check_summary("test_gptq_cuda_emulated");
}
