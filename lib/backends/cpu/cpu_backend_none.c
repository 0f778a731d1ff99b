/* The CPU backend in builds without oneDNN: the host CPU is still a device, but no library
 * backs it. */
#include "backends/backend.h"

#include "backends/cpu/cpu_device.h"
#include "core/status.h"

static const char *no_library_version(void)
{
    return NULL;
}

static int cpu_probe(void)
{
    return OLIVE_OK;
}

static const olive_backend cpu_backend = {
    .api_version = OLIVE_BACKEND_API_VERSION,
    .name = "cpu",
    .device = "cpu",
    .library = NULL,
    .dev = {.library_version = no_library_version,
            .probe = cpu_probe,
            .device_count = olive_cpu_device_count,
            .device_info = olive_cpu_device_info},
    .buf = OLIVE_HOST_BUFFER_OPS,
    /* No runtime: this backend serves libolive's own kernels; models run through ONNX Runtime. */
};

const olive_backend *olive_cpu_backend(void)
{
    return &cpu_backend;
}
