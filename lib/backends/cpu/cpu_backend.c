/* The CPU backend built on oneDNN: reports the oneDNN version this process loaded and checks
 * that oneDNN can create a CPU engine here. */
#include "backends/backend.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>

#include "backends/cpu/cpu_device.h"
#include "core/status.h"

static char version_text[48];
static dnnl_status_t engine_status;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* Runs once: the version is the loaded library's, not the headers', since the shared
 * library may be newer than the one we compiled against. */
static void probe_dnnl(void)
{
    const dnnl_version_t *v = dnnl_version();
    dnnl_engine_t engine = NULL;
    if (v)
        snprintf(version_text, sizeof version_text, "%d.%d.%d", v->major, v->minor, v->patch);
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (engine_status == dnnl_success)
        dnnl_engine_destroy(engine);
}

static const char *dnnl_library_version(void)
{
    pthread_once(&probe_once, probe_dnnl);
    return version_text[0] ? version_text : NULL;
}

static int dnnl_probe(void)
{
    pthread_once(&probe_once, probe_dnnl);
    if (engine_status != dnnl_success)
        return olive_fail(OLIVE_EUNSUPPORTED, "cpu backend: oneDNN %s cannot create a CPU engine (dnnl status %d)",
                          version_text[0] ? version_text : "(unknown version)", (int)engine_status);
    return OLIVE_OK;
}

static const olive_backend cpu_backend = {
    .api_version = OLIVE_BACKEND_API_VERSION,
    .name = "cpu",
    .device = "cpu",
    .library = "oneDNN",
    .dev = {.library_version = dnnl_library_version,
            .probe = dnnl_probe,
            .device_count = olive_cpu_device_count,
            .device_info = olive_cpu_device_info},
    .buf = OLIVE_HOST_BUFFER_OPS,
    /* No runtime: this backend serves libolive's own kernels; models run through ONNX Runtime. */
};

const olive_backend *olive_cpu_backend(void)
{
    return &cpu_backend;
}
