/* The onnxruntime backend: ONNX Runtime, loaded at run time, runs models with the execution
 * provider an accelerator names. Its "devices" are the execution providers the loaded library
 * has; its buffers are host memory (ONNX Runtime copies to a device itself); its runtime is
 * ort_session.c. */
#include "backends/backend.h"

#include <stdio.h>

#include "backends/ort/ort_loader.h"
#include "backends/ort/ort_session.h"
#include "core/status.h"

/* The library, loaded by the lookup when it is not loaded yet; NULL when it cannot be. The
 * error of a failed lookup is not kept: probe() reports it. */
static const olive_ort *ort_or_null(void)
{
    const olive_ort *ort = olive_ort_loaded();
    if (!ort && olive_ort_load(&ort, NULL) != OLIVE_OK) {
        olive_error_clear();
        return NULL;
    }
    return ort;
}

static const char *ort_library_version(void)
{
    const olive_ort *ort = ort_or_null();
    return ort ? ort->version : NULL;
}

static int ort_probe(void)
{
    const olive_ort *ort;
    return olive_ort_load(&ort, NULL);
}

static int ort_device_count(void)
{
    const olive_ort *ort = ort_or_null();
    return ort ? (int)ort->n_providers : 0;
}

static int ort_device_info(int index, olive_backend_device_info *out)
{
    const olive_ort *ort = ort_or_null();
    int n = ort ? (int)ort->n_providers : 0;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "onnxruntime backend: device info output is NULL");
    if (index < 0 || index >= n)
        return olive_fail(OLIVE_EINVALID, "onnxruntime backend: device index %d out of range (%d execution providers)",
                          index, n);
    snprintf(out->name, sizeof out->name, "%s", ort->providers[index]);
    out->memory_bytes = 0;
    out->cc_major = out->cc_minor = 0;
    return OLIVE_OK;
}

static const olive_backend ort_backend = {
    .api_version = OLIVE_BACKEND_API_VERSION,
    .name = "onnxruntime",
    .device = "any",
    .library = "ONNX Runtime",
    .dev = {.library_version = ort_library_version,
            .probe = ort_probe,
            .device_count = ort_device_count,
            .device_info = ort_device_info},
    .buf = OLIVE_HOST_BUFFER_OPS,
    .rt = {.load = olive_ort_model_load,
           .provider = olive_ort_model_provider,
           .io_count = olive_ort_model_io_count,
           .io_info = olive_ort_model_io_info,
           .run = olive_ort_model_run,
           .cancel = olive_ort_model_cancel,
           .free = olive_ort_model_free},
};

const olive_backend *olive_ort_backend(void)
{
    return &ort_backend;
}
