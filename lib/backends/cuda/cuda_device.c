/* The CUDA backend's device list, through the CUDA runtime (linked statically, so only the
 * driver is needed at run time). Without a driver or a GPU it sees 0 devices. */
#include "backends/backend.h"

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"

/* More than any single machine carries; devices past it are not listed. */
#define MAX_DEVICES 64

static olive_backend_device_info devices[MAX_DEVICES];
static int n_devices;
static char runtime_version[32];
static char failure[256];
static pthread_once_t query_once = PTHREAD_ONCE_INIT;

static void query(void)
{
    int version = 0, count = 0;
    cudaError_t err;
    if (cudaRuntimeGetVersion(&version) == cudaSuccess && version > 0)
        snprintf(runtime_version, sizeof runtime_version, "%d.%d", version / 1000, (version % 1000) / 10);
    err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        /* No driver, a driver older than the runtime, or no GPU: not an error for us. */
        snprintf(failure, sizeof failure, "%s", cudaGetErrorString(err));
        OLIVE_DEBUG("CUDA: no devices (%s)", failure);
        cudaGetLastError();
        return;
    }
    if (count > MAX_DEVICES)
        count = MAX_DEVICES;
    for (int i = 0; i < count; i++) {
        struct cudaDeviceProp prop;
        olive_backend_device_info *d = &devices[n_devices];
        err = cudaGetDeviceProperties(&prop, i);
        if (err != cudaSuccess) {
            OLIVE_DEBUG("CUDA: device %d skipped (%s)", i, cudaGetErrorString(err));
            cudaGetLastError();
            continue;
        }
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%.*s", (int)sizeof prop.name, prop.name);
        d->memory_bytes = (uint64_t)prop.totalGlobalMem;
        d->cc_major = prop.major;
        d->cc_minor = prop.minor;
        n_devices++;
    }
    if (n_devices == 0 && !failure[0])
        snprintf(failure, sizeof failure, "the driver reports no CUDA device");
}

static const char *cuda_library_version(void)
{
    pthread_once(&query_once, query);
    return runtime_version[0] ? runtime_version : NULL;
}

static int cuda_device_count(void)
{
    pthread_once(&query_once, query);
    return n_devices;
}

static int cuda_probe(void)
{
    pthread_once(&query_once, query);
    if (n_devices == 0)
        return olive_fail(OLIVE_EUNSUPPORTED, "cuda backend: no usable device: %s", failure);
    return OLIVE_OK;
}

static int cuda_device_info(int index, olive_backend_device_info *out)
{
    pthread_once(&query_once, query);
    if (!out)
        return olive_fail(OLIVE_EINVALID, "cuda backend: device info output is NULL");
    if (index < 0 || index >= n_devices)
        return olive_fail(OLIVE_EINVALID, "cuda backend: device index %d out of range (%d devices)", index, n_devices);
    *out = devices[index];
    return OLIVE_OK;
}

static const olive_backend cuda_backend = {
    .api_version = OLIVE_BACKEND_API_VERSION,
    .name = "cuda",
    .device = "gpu",
    .library = "CUDA runtime",
    .dev = {.library_version = cuda_library_version,
            .probe = cuda_probe,
            .device_count = cuda_device_count,
            .device_info = cuda_device_info},
    /* No buffers or runtime yet: models run on CUDA through ONNX Runtime's CUDA provider. */
};

const olive_backend *olive_cuda_backend(void)
{
    return &cuda_backend;
}
