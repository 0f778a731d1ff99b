/* See gptq_cuda.h. The host side: the libraries (dlopen), device memory, the preparation that
 * gptq.c does on the host (repeated here in the same order), the factor and the column blocks.
 * cuBLAS and cuSOLVER declare their types in their headers; their functions are reached only
 * through the pointers loaded below. */
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "kernels/gptq_cuda.h"
#include "kernels/gptq_prep.h"
#include "kernels/gptq_cuda_kernels.h"

#ifndef OLIVE_CUDA_LIBDIR
#define OLIVE_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

/* The slice of cuBLAS and cuSOLVER used here (their v2 ABI: the same in CUDA 11, 12 and 13). */
typedef struct gptq_libs {
    cublasStatus_t (*create)(cublasHandle_t *);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*set_math_mode)(cublasHandle_t, cublasMath_t);
    cublasStatus_t (*sscal)(cublasHandle_t, int, const float *, float *, int);
    cublasStatus_t (*ssyrk)(cublasHandle_t, cublasFillMode_t, cublasOperation_t, int, int, const float *, const float *,
                            int, const float *, float *, int);
    cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float *,
                            const float *, int, const float *, int, const float *, float *, int);
    cusolverStatus_t (*dn_create)(cusolverDnHandle_t *);
    cusolverStatus_t (*dn_destroy)(cusolverDnHandle_t);
    cusolverStatus_t (*potrf_size)(cusolverDnHandle_t, cublasFillMode_t, int, float *, int, int *);
    cusolverStatus_t (*potrf)(cusolverDnHandle_t, cublasFillMode_t, int, float *, int, float *, int, int *);
    cusolverStatus_t (*trtri_size)(cusolverDnHandle_t, cublasFillMode_t, cublasDiagType_t, int64_t, cudaDataType,
                                   void *, int64_t, size_t *, size_t *);
    cusolverStatus_t (*trtri)(cusolverDnHandle_t, cublasFillMode_t, cublasDiagType_t, int64_t, cudaDataType, void *,
                              int64_t, void *, size_t, void *, size_t, int *);
} gptq_libs;

static gptq_libs libs;
static char libs_failure[512];
static pthread_once_t libs_once = PTHREAD_ONCE_INIT;

/* dlopen of the library `env` names when set, else the first of `names` found on the loader's
 * path, then in the toolkit's folder. */
static void *open_first(const char *env, const char *const *names, size_t n, const char *what)
{
    char path[1024];
    const char *last = "", *given = getenv(env);
    if (given && given[0]) {
        void *h = dlopen(given, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            snprintf(libs_failure, sizeof libs_failure, "%s not loaded from %s=%s: %s", what, env, given, dlerror());
        return h;
    }
    for (int in_toolkit = 0; in_toolkit < 2; in_toolkit++)
        for (size_t i = 0; i < n; i++) {
            void *h;
            if (in_toolkit)
                snprintf(path, sizeof path, "%s/%s", OLIVE_CUDA_LIBDIR, names[i]);
            else
                snprintf(path, sizeof path, "%s", names[i]);
            if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
                return h;
            last = dlerror();
        }
    snprintf(libs_failure, sizeof libs_failure, "%s not found (%s, %s, %s on the loader's path or in %s: %s)", what,
             names[0], names[1], names[2], OLIVE_CUDA_LIBDIR, last ? last : "");
    return NULL;
}

static int find(void *lib, const char *what, const char *name, void **fn)
{
    if ((*fn = dlsym(lib, name)))
        return 1;
    snprintf(libs_failure, sizeof libs_failure, "the %s found lacks %s (too old)", what, name);
    return 0;
}

/* Loaded once per process and kept: the libraries stay loaded (no dlclose). */
static void load_libs(void)
{
    static const char *const cublas_names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    static const char *const cusolver_names[] = {"libcusolver.so.12", "libcusolver.so.11", "libcusolver.so"};
    gptq_libs l;
    void *cublas = open_first("OLIVE_CUBLAS_LIBRARY", cublas_names, 3, "cuBLAS"), *cusolver;
    if (!cublas)
        return;
    if (!(cusolver = open_first("OLIVE_CUSOLVER_LIBRARY", cusolver_names, 3, "cuSOLVER")))
        return;
    memset(&l, 0, sizeof l);
    /* A void * converted to a function pointer: POSIX guarantees dlsym's result can be. */
#define FIND(lib, field, name)                                                                                         \
    do {                                                                                                               \
        void *p_;                                                                                                      \
        if (!find(lib, lib == cublas ? "cuBLAS" : "cuSOLVER", name, &p_))                                              \
            return;                                                                                                    \
        memcpy(&l.field, &p_, sizeof p_);                                                                              \
    } while (0)
    FIND(cublas, create, "cublasCreate_v2");
    FIND(cublas, destroy, "cublasDestroy_v2");
    FIND(cublas, set_math_mode, "cublasSetMathMode");
    FIND(cublas, sscal, "cublasSscal_v2");
    FIND(cublas, ssyrk, "cublasSsyrk_v2");
    FIND(cublas, sgemm, "cublasSgemm_v2");
    FIND(cusolver, dn_create, "cusolverDnCreate");
    FIND(cusolver, dn_destroy, "cusolverDnDestroy");
    FIND(cusolver, potrf_size, "cusolverDnSpotrf_bufferSize");
    FIND(cusolver, potrf, "cusolverDnSpotrf");
    FIND(cusolver, trtri_size, "cusolverDnXtrtri_bufferSize");
    FIND(cusolver, trtri, "cusolverDnXtrtri");
#undef FIND
    libs = l;
}

struct olive_gptq_cuda {
    cublasHandle_t blas;
    cusolverDnHandle_t solver;
    char name[256];
    void *scratch; /* calibration rows on their way to a Hessian */
    size_t scratch_bytes;
};

/* OLIVE_ENOMEM for a failed allocation, else OLIVE_EUNSUPPORTED, naming the call. */
static int cuda_fail(cudaError_t err, const char *what)
{
    cudaGetLastError(); /* clears a sticky launch error */
    return olive_fail(err == cudaErrorMemoryAllocation ? OLIVE_ENOMEM : OLIVE_EUNSUPPORTED, "CUDA: %s failed: %s", what,
                      cudaGetErrorString(err));
}

static int blas_fail(cublasStatus_t st, const char *what)
{
    return olive_fail(st == CUBLAS_STATUS_ALLOC_FAILED ? OLIVE_ENOMEM : OLIVE_EUNSUPPORTED,
                      "CUDA: cuBLAS %s failed (status %d)", what, (int)st);
}

static int solver_fail(cusolverStatus_t st, const char *what)
{
    return olive_fail(st == CUSOLVER_STATUS_ALLOC_FAILED ? OLIVE_ENOMEM : OLIVE_EUNSUPPORTED,
                      "CUDA: cuSOLVER %s failed (status %d)", what, (int)st);
}

#define CUDA_TRY(call, what)                                                                                           \
    do {                                                                                                               \
        cudaError_t e_ = (call);                                                                                       \
        if (e_ != cudaSuccess) {                                                                                       \
            rc = cuda_fail(e_, what);                                                                                  \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)
#define BLAS_TRY(call, what)                                                                                           \
    do {                                                                                                               \
        cublasStatus_t s_ = (call);                                                                                    \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                             \
            rc = blas_fail(s_, what);                                                                                  \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)
#define SOLVER_TRY(call, what)                                                                                         \
    do {                                                                                                               \
        cusolverStatus_t s_ = (call);                                                                                  \
        if (s_ != CUSOLVER_STATUS_SUCCESS) {                                                                           \
            rc = solver_fail(s_, what);                                                                                \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

int olive_gptq_cuda_open(olive_gptq_cuda **out)
{
    olive_gptq_cuda *g;
    struct cudaDeviceProp prop;
    int count = 0, rc = OLIVE_OK;
    cudaError_t err;
    cublasStatus_t bs;
    cusolverStatus_t ss;
    if ((err = cudaGetDeviceCount(&count)) != cudaSuccess || count < 1) {
        const char *why = err != cudaSuccess ? cudaGetErrorString(err) : "the driver reports no CUDA device";
        cudaGetLastError();
        return olive_fail(OLIVE_EUNSUPPORTED, "no CUDA device: %s", why);
    }
    pthread_once(&libs_once, load_libs);
    if (!libs.trtri)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s", libs_failure);
    if ((err = cudaSetDevice(0)) != cudaSuccess || (err = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) {
        cudaGetLastError();
        return olive_fail(OLIVE_EUNSUPPORTED, "CUDA device 0 cannot be used: %s", cudaGetErrorString(err));
    }
    if (!(g = olive_calloc(1, sizeof *g)))
        return OLIVE_ENOMEM;
    snprintf(g->name, sizeof g->name, "%.*s", (int)sizeof prop.name, prop.name);
    if ((bs = libs.create(&g->blas)) != CUBLAS_STATUS_SUCCESS) {
        g->blas = NULL;
        rc = olive_fail(OLIVE_EUNSUPPORTED, "cuBLAS does not start on %s (status %d)", g->name, (int)bs);
    } else if ((bs = libs.set_math_mode(g->blas, CUBLAS_PEDANTIC_MATH)) != CUBLAS_STATUS_SUCCESS) {
        /* plain float32 products (no TF32), as the CPU computes them */
        rc = olive_fail(OLIVE_EUNSUPPORTED, "cuBLAS refuses its float32 math mode (status %d)", (int)bs);
    } else if ((ss = libs.dn_create(&g->solver)) != CUSOLVER_STATUS_SUCCESS) {
        g->solver = NULL;
        rc = olive_fail(OLIVE_EUNSUPPORTED, "cuSOLVER does not start on %s (status %d)", g->name, (int)ss);
    }
    if (rc != OLIVE_OK) {
        olive_gptq_cuda_close(g);
        return rc;
    }
    *out = g;
    return OLIVE_OK;
}

void olive_gptq_cuda_close(olive_gptq_cuda *g)
{
    if (!g)
        return;
    if (g->solver)
        libs.dn_destroy(g->solver);
    if (g->blas)
        libs.destroy(g->blas);
    cudaFree(g->scratch);
    free(g);
}

const char *olive_gptq_cuda_device_name(const olive_gptq_cuda *g)
{
    return g->name;
}

/* x[0..count) *= alpha on the device, in pieces that cuBLAS's int counts hold. */
static cublasStatus_t scale(olive_gptq_cuda *g, float *x, size_t count, float alpha)
{
    for (size_t at = 0; at < count; at += (size_t)1 << 30) {
        size_t m = count - at < (size_t)1 << 30 ? count - at : (size_t)1 << 30;
        cublasStatus_t st = libs.sscal(g->blas, (int)m, &alpha, x + at, 1);
        if (st != CUBLAS_STATUS_SUCCESS)
            return st;
    }
    return CUBLAS_STATUS_SUCCESS;
}

int olive_gptq_cuda_hessian_init(olive_gptq_cuda *g, olive_gptq_cuda_hessian *h, size_t k)
{
    void *dev = NULL;
    cudaError_t err;
    (void)g;
    memset(h, 0, sizeof *h);
    if (!k || k > INT_MAX || k > SIZE_MAX / sizeof(float) / k)
        return olive_fail(OLIVE_ENOMEM, "a %zu x %zu Hessian does not fit in device memory", k, k);
    if ((err = cudaMalloc(&dev, k * k * sizeof(float))) != cudaSuccess)
        return cuda_fail(err, "cudaMalloc of a Hessian");
    if ((err = cudaMemset(dev, 0, k * k * sizeof(float))) != cudaSuccess) {
        cudaFree(dev);
        return cuda_fail(err, "cudaMemset of a Hessian");
    }
    h->k = k;
    h->dev = dev;
    return OLIVE_OK;
}

int olive_gptq_cuda_hessian_add(olive_gptq_cuda *g, olive_gptq_cuda_hessian *h, const float *x, size_t rows,
                                size_t samples)
{
    const size_t k = h->k, band = (((size_t)64 << 20) / sizeof(float) / k) ? ((size_t)64 << 20) / sizeof(float) / k : 1;
    const float one = 1.0f;
    uint64_t total = h->nsamples + samples;
    float keep = (float)((double)h->nsamples / (double)total), s = (float)sqrt(2.0 / (double)total);
    size_t need = (rows < band ? rows : band) * k * sizeof(float);
    int rc = OLIVE_OK;
    if (!rows || !samples)
        return OLIVE_OK;
    if (g->scratch_bytes < need) {
        void *p = NULL;
        cudaFree(g->scratch);
        g->scratch = NULL;
        g->scratch_bytes = 0;
        CUDA_TRY(cudaMalloc(&p, need), "cudaMalloc of calibration rows");
        g->scratch = p;
        g->scratch_bytes = need;
    }
    /* As olive_gptq_hessian_add: H *= n_old / n_new, then rows scaled by sqrt(2 / n_new); the
     * row-major lower triangle is cuBLAS's column-major upper one. */
    if (h->nsamples)
        BLAS_TRY(scale(g, h->dev, k * k, keep), "sscal");
    h->nsamples = total;
    for (size_t r0 = 0; r0 < rows; r0 += band) {
        size_t m = rows - r0 < band ? rows - r0 : band;
        CUDA_TRY(cudaMemcpy(g->scratch, x + r0 * k, m * k * sizeof(float), cudaMemcpyHostToDevice),
                 "copy of calibration rows to the device");
        BLAS_TRY(scale(g, g->scratch, m * k, s), "sscal");
        BLAS_TRY(libs.ssyrk(g->blas, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N, (int)k, (int)m, &one, g->scratch, (int)k,
                            &one, h->dev, (int)k),
                 "ssyrk");
    }
done:
    return rc;
}

int olive_gptq_cuda_hessian_finish(olive_gptq_cuda *g, const olive_gptq_cuda_hessian *h, olive_gptq_hessian *out)
{
    int rc = OLIVE_OK;
    (void)g;
    if (out->k != h->k)
        return olive_fail(OLIVE_EINTERNAL, "a %zu x %zu Hessian copied into a %zu x %zu one", h->k, h->k, out->k,
                          out->k);
    CUDA_TRY(cudaMemcpy(out->h, h->dev, h->k * h->k * sizeof(float), cudaMemcpyDeviceToHost),
             "copy of a Hessian from the device");
    out->nsamples = h->nsamples;
    olive_gptq_hessian_finish(out);
done:
    return rc;
}

void olive_gptq_cuda_hessian_free(olive_gptq_cuda_hessian *h)
{
    cudaFree(h->dev);
    memset(h, 0, sizeof *h);
}


/* Device buffers of one quantization. */
typedef struct gptq_dev {
    float *hp, *a, *u, *w, *w1, *err, *gscale, *gzero, *scales, *zeros, *sscale, *szero, *work;
    uint8_t *q;
    int32_t *sgroup;
    void *trtri_work;
    int *info;
} gptq_dev;

static void dev_free(gptq_dev *d)
{
    void *all[] = {d->hp,    d->a,      d->u,     d->w,    d->w1, d->err,    d->gscale,     d->gzero, d->scales,
                   d->zeros, d->sscale, d->szero, d->work, d->q,  d->sgroup, d->trtri_work, d->info};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        cudaFree(all[i]);
    memset(d, 0, sizeof *d);
}

/* The upper factor of (hp + damp I)^-1 into d->u, as gptq.c's hinv_factor: *info 0, or the
 * factorization's info (> 0) when it fails. */
static int hinv_factor(olive_gptq_cuda *g, gptq_dev *d, const float *hp_host, size_t k, float damp, int *info)
{
    int rc = OLIVE_OK, lwork = 0;
    size_t dev_bytes = 0, host_bytes = 0;
    float *diag = NULL;
    void *host_work = NULL;
    *info = 0;
    if (!isfinite(damp)) {
        *info = (int)k + 1;
        return OLIVE_OK;
    }
    for (size_t i = 0; i < k; i++)
        if (!isfinite(hp_host[i * k + i])) {
            *info = (int)(k - i);
            return OLIVE_OK;
        }
    CUDA_TRY((cudaError_t)olive_gptq_cuda_reverse_damp(d->hp, d->a, k, damp), "the Hessian's reversal kernel");
    SOLVER_TRY(libs.potrf_size(g->solver, CUBLAS_FILL_MODE_UPPER, (int)k, d->a, (int)k, &lwork), "spotrf_bufferSize");
    if (!d->work)
        CUDA_TRY(cudaMalloc((void **)&d->work, (size_t)(lwork > 0 ? lwork : 1) * sizeof(float)),
                 "cudaMalloc of spotrf's workspace");
    SOLVER_TRY(libs.potrf(g->solver, CUBLAS_FILL_MODE_UPPER, (int)k, d->a, (int)k, d->work, lwork, d->info), "spotrf");
    CUDA_TRY(cudaMemcpy(info, d->info, sizeof *info, cudaMemcpyDeviceToHost), "copy of spotrf's info");
    if (*info)
        goto done;
    SOLVER_TRY(libs.trtri_size(g->solver, CUBLAS_FILL_MODE_UPPER, CUBLAS_DIAG_NON_UNIT, (int64_t)k, CUDA_R_32F, d->a,
                               (int64_t)k, &dev_bytes, &host_bytes),
               "Xtrtri_bufferSize");
    if (!d->trtri_work)
        CUDA_TRY(cudaMalloc(&d->trtri_work, dev_bytes ? dev_bytes : 1), "cudaMalloc of Xtrtri's workspace");
    if (host_bytes && !(host_work = malloc(host_bytes))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    SOLVER_TRY(libs.trtri(g->solver, CUBLAS_FILL_MODE_UPPER, CUBLAS_DIAG_NON_UNIT, (int64_t)k, CUDA_R_32F, d->a,
                          (int64_t)k, d->trtri_work, dev_bytes, host_work, host_bytes, d->info),
               "Xtrtri");
    CUDA_TRY(cudaMemcpy(info, d->info, sizeof *info, cudaMemcpyDeviceToHost), "copy of Xtrtri's info");
    if (*info)
        goto done;
    CUDA_TRY((cudaError_t)olive_gptq_cuda_flip_upper(d->a, d->u, k), "the factor's reversal kernel");
    if (!(diag = malloc(k * sizeof *diag))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    CUDA_TRY(cudaMemcpy2D(diag, sizeof *diag, d->u, (k + 1) * sizeof(float), sizeof(float), k, cudaMemcpyDeviceToHost),
             "copy of the factor's diagonal");
    for (size_t i = 0; i < k; i++)
        if (!(diag[i] > 0.0f) || !isfinite(diag[i])) {
            *info = (int)(i + 1);
            break;
        }
done:
    free(diag);
    free(host_work);
    return rc;
}

int olive_gptq_cuda_quantize(olive_gptq_cuda *g, const olive_gptq_config *c, float *w, size_t n, size_t k, float *h,
                             uint8_t *codes, float *scales, float *zeros, int32_t *g_idx, double *damp_used)
{
    const float maxq = (float)((1 << c->bits) - 1);
    const size_t gs = c->group_size, n_groups = (k + gs - 1) / gs, bs = c->block_size ? c->block_size : 128;
    int32_t *sgroup = NULL;
    uint8_t *qt = NULL;
    double damp_frac = c->damp_percent;
    int rc = OLIVE_OK, info = 0;
    gptq_dev d;
    olive_gptq_cuda_block blk;
    olive_gptq_prep p;

    memset(&d, 0, sizeof d);
    if (k > INT_MAX || n > INT_MAX || (n && k > SIZE_MAX / sizeof(float) / n) || k > SIZE_MAX / sizeof(float) / k)
        return olive_fail(OLIVE_ENOMEM, "a %zu x %zu layer is too large for GPTQ on the device", n, k);
    /* The host preparation of gptq.c (w is [k][n]: a column of W is contiguous on the device). */
    OLIVE_TRY(olive_gptq_prepare(&p, c, w, n, k, h));
    qt = olive_malloc(n * k);
    if (c->static_groups)
        sgroup = olive_malloc(k * sizeof *sgroup);
    if (!qt || (c->static_groups && !sgroup)) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < k && sgroup; i++)
        sgroup[i] = (int32_t)(p.perm[i] / gs);
    CUDA_TRY(cudaMalloc((void **)&d.hp, k * k * sizeof(float)), "cudaMalloc of the Hessian");
    CUDA_TRY(cudaMalloc((void **)&d.a, k * k * sizeof(float)), "cudaMalloc of the Hessian's factor");
    CUDA_TRY(cudaMalloc((void **)&d.u, k * k * sizeof(float)), "cudaMalloc of the inverse's factor");
    CUDA_TRY(cudaMalloc((void **)&d.info, sizeof(int)), "cudaMalloc");
    CUDA_TRY(cudaMemcpy(d.hp, p.hp, k * k * sizeof(float), cudaMemcpyHostToDevice),
             "copy of the Hessian to the device");
    for (int attempt = 0; attempt < 3; attempt++) {
        if ((rc = hinv_factor(g, &d, p.hp, k, (float)damp_frac * p.mean, &info)) != OLIVE_OK)
            goto done;
        if (!info)
            break;
        damp_frac *= 10.0;
    }
    if (info) {
        rc = olive_fail(OLIVE_EINVALID,
                        "the Hessian is not positive definite even with damping %g (cuSOLVER info %d): the "
                        "calibration data may be too small or degenerate for this layer",
                        damp_frac / 10.0, info);
        goto done;
    }
    if (damp_used)
        *damp_used = damp_frac;
    cudaFree(d.hp);
    cudaFree(d.a);
    d.hp = d.a = NULL;
    CUDA_TRY(cudaMalloc((void **)&d.w, n * k * sizeof(float)), "cudaMalloc of the weights");
    CUDA_TRY(cudaMalloc((void **)&d.w1, n * bs * sizeof(float)), "cudaMalloc of a block");
    CUDA_TRY(cudaMalloc((void **)&d.err, n * bs * sizeof(float)), "cudaMalloc of a block's errors");
    CUDA_TRY(cudaMalloc((void **)&d.q, n * k), "cudaMalloc of the codes");
    CUDA_TRY(cudaMemcpy(d.w, p.wt, n * k * sizeof(float), cudaMemcpyHostToDevice), "copy of the weights to the device");
    if (c->static_groups) {
        CUDA_TRY(cudaMalloc((void **)&d.sscale, n_groups * n * sizeof(float)), "cudaMalloc of the scales");
        CUDA_TRY(cudaMalloc((void **)&d.szero, n_groups * n * sizeof(float)), "cudaMalloc of the zero points");
        CUDA_TRY(cudaMalloc((void **)&d.sgroup, k * sizeof(int32_t)), "cudaMalloc of the groups");
        CUDA_TRY(cudaMemcpy(d.sscale, p.sscale, n_groups * n * sizeof(float), cudaMemcpyHostToDevice),
                 "copy of scales");
        CUDA_TRY(cudaMemcpy(d.szero, p.szero, n_groups * n * sizeof(float), cudaMemcpyHostToDevice), "copy of zeros");
        CUDA_TRY(cudaMemcpy(d.sgroup, sgroup, k * sizeof(int32_t), cudaMemcpyHostToDevice), "copy of the groups");
    } else {
        CUDA_TRY(cudaMalloc((void **)&d.gscale, n * sizeof(float)), "cudaMalloc of a group's scales");
        CUDA_TRY(cudaMalloc((void **)&d.gzero, n * sizeof(float)), "cudaMalloc of a group's zero points");
        CUDA_TRY(cudaMalloc((void **)&d.scales, n * n_groups * sizeof(float)), "cudaMalloc of the scales");
        CUDA_TRY(cudaMalloc((void **)&d.zeros, n * n_groups * sizeof(float)), "cudaMalloc of the zero points");
    }
    memset(&blk, 0, sizeof blk);
    blk.n = n;
    blk.k = k;
    blk.gs = gs;
    blk.n_groups = n_groups;
    blk.maxq = maxq;
    blk.sym = c->sym;
    blk.static_groups = c->static_groups;
    blk.u = d.u;
    blk.w = d.w;
    blk.w1 = d.w1;
    blk.err = d.err;
    blk.q = d.q;
    blk.gscale = d.gscale;
    blk.gzero = d.gzero;
    blk.scales = d.scales;
    blk.zeros = d.zeros;
    blk.sgroup = d.sgroup;
    blk.sscale = d.sscale;
    blk.szero = d.szero;
    for (size_t i1 = 0; i1 < k; i1 += bs) {
        size_t i2 = i1 + bs < k ? i1 + bs : k;
        const float minus_one = -1.0f, one = 1.0f;
        blk.i1 = i1;
        blk.count = i2 - i1;
        if (n)
            CUDA_TRY((cudaError_t)olive_gptq_cuda_run_block(&blk), "the block kernel");
        /* W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]: column-major, W is n x k, Err1 n x count and
         * the row-major block of Hinv the transpose of a column-major (k - i2) x count one */
        if (i2 < k && n)
            BLAS_TRY(libs.sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)n, (int)(k - i2), (int)blk.count, &minus_one,
                                d.err, (int)n, d.u + i1 * k + i2, (int)k, &one, d.w + i2 * n, (int)n),
                     "sgemm");
    }
    CUDA_TRY(cudaMemcpy(qt, d.q, n * k, cudaMemcpyDeviceToHost), "copy of the codes from the device");
    if (c->static_groups) {
        for (size_t gi = 0; gi < n_groups; gi++)
            for (size_t r = 0; r < n; r++) {
                scales[r * n_groups + gi] = p.sscale[gi * n + r];
                zeros[r * n_groups + gi] = p.szero[gi * n + r];
            }
    } else {
        CUDA_TRY(cudaMemcpy(scales, d.scales, n * n_groups * sizeof(float), cudaMemcpyDeviceToHost),
                 "copy of the scales from the device");
        CUDA_TRY(cudaMemcpy(zeros, d.zeros, n * n_groups * sizeof(float), cudaMemcpyDeviceToHost),
                 "copy of the zero points from the device");
    }
    for (size_t j = 0; j < k; j++) {
        g_idx[j] = c->static_groups || !c->desc_act ? (int32_t)(j / gs) : (int32_t)(p.invperm[j] / gs);
        for (size_t r = 0; r < n; r++)
            codes[r * k + j] = qt[p.invperm[j] * n + r];
    }
done:
    dev_free(&d);
    olive_gptq_prep_free(&p);
    free(qt);
    free(sgroup);
    return rc;
}
