/* Builds the JSON description of the host (CPU, memory, CUDA devices, backends). */
#include "backends/host_describe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/host.h"
#include "core/alloc.h"
#include "core/status.h"

json_t *olive_json_text(const char *s)
{
    json_t *v;
    char *copy;
    if (!s)
        return json_null();
    v = json_string(s);
    if (v)
        return v;
    /* json_string refuses invalid UTF-8 (a vendor string in some legacy encoding). */
    copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

/* json_*_set_new / append_new take the value even when they fail, so each step only needs
 * its result checked. */
#define SET(obj, key, value) (json_object_set_new((obj), (key), (value)) == 0)
#define APPEND(arr, value) (json_array_append_new((arr), (value)) == 0)

static json_t *json_bytes(uint64_t n)
{
    return json_integer(n > INT64_MAX ? INT64_MAX : (json_int_t)n);
}

static json_t *describe_cpu(const olive_host_cpu *cpu)
{
    json_t *o = json_object(), *features = json_array();
    int ok = o && features;
    for (int f = 0; ok && f < OLIVE_ISA_COUNT; f++)
        if (olive_host_has(cpu, (olive_isa_feature)f))
            ok = APPEND(features, json_string(olive_isa_feature_name(f)));
    if (!ok) {
        json_decref(features);
        json_decref(o);
        return NULL;
    }
    ok = SET(o, "arch", json_string(cpu->arch)) && SET(o, "model", olive_json_text(cpu->model)) &&
         SET(o, "logical_cores", json_integer(cpu->logical_cores)) &&
         SET(o, "affinity_cores", json_integer(cpu->affinity_cores)) &&
         SET(o, "physical_cores", json_integer(cpu->physical_cores)) && SET(o, "features", features);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *describe_cuda(void)
{
    const olive_backend *cuda = olive_cuda_backend();
    int n = cuda ? cuda->dev.device_count() : 0;
    json_t *o = json_object(), *list = json_array();
    int ok = o && list;
    for (int i = 0; ok && i < n; i++) {
        olive_backend_device_info info;
        char cc[32];
        json_t *d;
        if (cuda->dev.device_info(i, &info) != OLIVE_OK)
            continue;
        snprintf(cc, sizeof cc, "%d.%d", info.cc_major, info.cc_minor);
        d = json_object();
        ok = d && APPEND(list, d) && SET(d, "name", olive_json_text(info.name)) &&
             SET(d, "memory_bytes", json_bytes(info.memory_bytes)) && SET(d, "compute_capability", json_string(cc));
    }
    if (!ok) {
        json_decref(list);
        json_decref(o);
        return NULL;
    }
    ok = SET(o, "available", json_boolean(json_array_size(list) > 0)) &&
         SET(o, "runtime_version", olive_json_text(cuda ? cuda->dev.library_version() : NULL)) &&
         SET(o, "devices", list);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *describe_cpu_backend(void)
{
    const olive_backend *cpu = olive_cpu_backend();
    json_t *o = json_object();
    int ok = o && SET(o, "library", olive_json_text(cpu->library)) &&
             SET(o, "version", olive_json_text(cpu->dev.library_version())) &&
             SET(o, "available", json_boolean(cpu->library && cpu->dev.probe() == OLIVE_OK));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *describe_backends(void)
{
    json_t *list = json_array();
    const olive_backend *b;
    for (size_t i = 0; list && (b = olive_backend_get(i)) != NULL; i++) {
        if (!APPEND(list, json_string(b->name))) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

int olive_host_describe(json_t *obj)
{
    const olive_host_cpu *cpu = olive_host_cpu_get();
    int ok = SET(obj, "cpu", describe_cpu(cpu)) && SET(obj, "memory_bytes", json_bytes(cpu->memory_bytes)) &&
             SET(obj, "cuda", describe_cuda()) && SET(obj, "cpu_backend", describe_cpu_backend()) &&
             SET(obj, "backends", describe_backends());
    return ok ? OLIVE_OK : olive_fail(OLIVE_ENOMEM, "out of memory describing the host as JSON");
}
