/* cuSOLVER's calls of lib/kernels/gptq_cuda.c on LAPACK (column-major, as cuSOLVER), built as
 * libcusolver.so.12 for test_gptq_cuda_emulated. Pointers are host memory (cudart_shim.c); the
 * factorizations' info is written where cuSOLVER writes it. */
#include <cusolverDn.h>
#include <lapacke.h>

static int context;

static char fill(cublasFillMode_t uplo)
{
    return uplo == CUBLAS_FILL_MODE_UPPER ? 'U' : 'L';
}

cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t *handle)
{
    *handle = (cusolverDnHandle_t)(void *)&context;
    return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDestroy(cusolverDnHandle_t handle)
{
    return handle == (cusolverDnHandle_t)(void *)&context ? CUSOLVER_STATUS_SUCCESS : CUSOLVER_STATUS_NOT_INITIALIZED;
}

cusolverStatus_t cusolverDnSpotrf_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, float *a, int lda,
                                             int *lwork)
{
    (void)handle;
    (void)uplo;
    (void)n;
    (void)a;
    (void)lda;
    *lwork = 7;
    return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnSpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, float *a, int lda,
                                  float *work, int lwork, int *info)
{
    (void)handle;
    (void)work;
    if (lwork != 7)
        return CUSOLVER_STATUS_INVALID_VALUE;
    *info = (int)LAPACKE_spotrf(LAPACK_COL_MAJOR, fill(uplo), n, a, lda);
    return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnXtrtri_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo, cublasDiagType_t diag,
                                             int64_t n, cudaDataType type, void *a, int64_t lda, size_t *device_bytes,
                                             size_t *host_bytes)
{
    (void)handle;
    (void)uplo;
    (void)diag;
    (void)n;
    (void)type;
    (void)a;
    (void)lda;
    *device_bytes = 16;
    *host_bytes = 16;
    return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnXtrtri(cusolverDnHandle_t handle, cublasFillMode_t uplo, cublasDiagType_t diag, int64_t n,
                                  cudaDataType type, void *a, int64_t lda, void *device_work, size_t device_bytes,
                                  void *host_work, size_t host_bytes, int *info)
{
    (void)handle;
    if (type != CUDA_R_32F || !device_work || device_bytes != 16 || !host_work || host_bytes != 16)
        return CUSOLVER_STATUS_INVALID_VALUE;
    *info = (int)LAPACKE_strtri(LAPACK_COL_MAJOR, fill(uplo), diag == CUBLAS_DIAG_NON_UNIT ? 'N' : 'U', (lapack_int)n,
                                a, (lapack_int)lda);
    return CUSOLVER_STATUS_SUCCESS;
}
