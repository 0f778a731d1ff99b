/* Host detection: features consistent with each other and with the JSON description, core
 * and memory figures sane, detection identical across threads, JSON well formed. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "olive/olive.h"
#include "backends/host.h"
#include "check.h"

#ifdef OLIVE_TEST_HAVE_DNNL
#include <oneapi/dnnl/dnnl_version.h>
#endif

static const char *const x86_features[] = {
    "sse4_2",      "avx",         "avx2",        "fma",      "f16c",     "avx512f",  "avx512bw", "avx512vl",
    "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
};

/* Each pair reads "the first implies the second": a CPU and OS that offer the first also
 * offer the second (Intel SDM feature dependencies; AVX-family state needs the YMM state the
 * AVX bit depends on). */
static const char *const implications[][2] = {
    {"avx", "sse4_2"},
    {"avx2", "avx"},
    {"fma", "avx"},
    {"f16c", "avx"},
    {"avx512f", "avx2"},
    {"avx512f", "fma"},
    {"avx512bw", "avx512f"},
    {"avx512vl", "avx512f"},
    {"avx512_vnni", "avx512f"},
    {"avx512_bf16", "avx512f"},
    {"avx512_fp16", "avx512bw"},
    {"avx512_fp16", "avx512vl"},
    {"avx_vnni", "avx2"},
    {"amx_int8", "amx_tile"},
    {"amx_bf16", "amx_tile"},
    {"dotprod", "neon"},
    {"i8mm", "neon"},
    {"sve", "neon"},
};

static void test_feature_consistency(olive_accelerator *acc)
{
    for (size_t i = 0; i < sizeof implications / sizeof implications[0]; i++) {
        if (olive_accelerator_has_feature(acc, implications[i][0]))
            CHECK_MSG(olive_accelerator_has_feature(acc, implications[i][1]), "%s without %s", implications[i][0],
                      implications[i][1]);
    }
#if defined(__x86_64__)
    /* Every x86-64 CPU that runs a current OS has SSE4.2 (x86-64-v2); none has NEON. */
    CHECK(olive_accelerator_has_feature(acc, "sse4_2"));
    CHECK(!olive_accelerator_has_feature(acc, "neon"));
#elif defined(__aarch64__)
    CHECK(olive_accelerator_has_feature(acc, "neon"));
    for (size_t i = 0; i < sizeof x86_features / sizeof x86_features[0]; i++)
        CHECK(!olive_accelerator_has_feature(acc, x86_features[i]));
#endif
    /* Names are matched without regard to case. */
    CHECK(olive_accelerator_has_feature(acc, "SSE4_2") == olive_accelerator_has_feature(acc, "sse4_2"));
    CHECK(olive_accelerator_has_feature(acc, "sse4.2") == 0);
}

static void test_feature_names(void)
{
    for (int f = 0; f < OLIVE_ISA_COUNT; f++) {
        const char *name = olive_isa_feature_name(f);
        CHECK(name != NULL);
        if (name)
            CHECK(olive_isa_feature_from_name(name) == f);
    }
    CHECK(olive_isa_feature_name(-1) == NULL);
    CHECK(olive_isa_feature_name(OLIVE_ISA_COUNT) == NULL);
    CHECK(olive_isa_feature_from_name(NULL) == -1);
    for (size_t i = 0; i < sizeof x86_features / sizeof x86_features[0]; i++)
        CHECK_MSG(olive_isa_feature_from_name(x86_features[i]) >= 0, "%s", x86_features[i]);
    CHECK(olive_isa_feature_from_name("neon") >= 0);
}

static void test_figures(olive_accelerator *acc)
{
    const olive_host_cpu *cpu = olive_host_cpu_get();
    CHECK(olive_accelerator_cpu_cores(acc) >= 1);
    CHECK(olive_accelerator_cpu_cores(acc) == cpu->logical_cores);
    CHECK(cpu->physical_cores >= 1 && cpu->physical_cores <= cpu->logical_cores);
    CHECK(cpu->affinity_cores >= 1);
    CHECK(olive_accelerator_memory_bytes(acc) > (uint64_t)16 << 20);
    CHECK(olive_accelerator_cpu_model(acc) != NULL && olive_accelerator_cpu_model(acc)[0] != '\0');
    CHECK(olive_accelerator_cuda_device_count(acc) >= 0);
}

static void *detect_in_thread(void *arg)
{
    (void)arg;
    return (void *)olive_host_cpu_get();
}

/* The first use may come from several threads at once: all must see one finished result. */
static void test_threads(void)
{
    pthread_t t[8];
    void *seen[8];
    for (int i = 0; i < 8; i++)
        CHECK(pthread_create(&t[i], NULL, detect_in_thread, NULL) == 0);
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_join(t[i], &seen[i]) == 0);
        CHECK(seen[i] == (void *)olive_host_cpu_get());
    }
    CHECK(olive_host_cpu_get()->logical_cores >= 1);
}

static json_t *member(json_t *obj, const char *key, json_type type)
{
    json_t *v = json_object_get(obj, key);
    CHECK_MSG(v != NULL, "missing member '%s'", key);
    if (v)
        CHECK_MSG(json_typeof(v) == type, "member '%s' has JSON type %d, expected %d", key, (int)json_typeof(v),
                  (int)type);
    return v && json_typeof(v) == type ? v : NULL;
}

static void test_describe(olive_accelerator *acc, const char *device, const char *provider)
{
    char *text = NULL;
    json_error_t err;
    json_t *root, *cpu, *features, *cuda, *devices, *backend, *backends;
    CHECK(olive_accelerator_describe_json(&text, acc) == OLIVE_OK);
    if (!text)
        return;
    root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    CHECK_MSG(root != NULL, "describe_json is not JSON: %s (line %d)", err.text, err.line);
    olive_free(text);
    if (!root)
        return;
    CHECK(strcmp(json_string_value(member(root, "device", JSON_STRING)), device) == 0);
    CHECK(strcmp(json_string_value(member(root, "provider", JSON_STRING)), provider) == 0);
    CHECK((uint64_t)json_integer_value(member(root, "memory_bytes", JSON_INTEGER)) ==
          olive_accelerator_memory_bytes(acc));

    cpu = member(root, "cpu", JSON_OBJECT);
    if (cpu) {
        CHECK(strcmp(json_string_value(member(cpu, "model", JSON_STRING)), olive_accelerator_cpu_model(acc)) == 0);
        CHECK(json_integer_value(member(cpu, "logical_cores", JSON_INTEGER)) == olive_accelerator_cpu_cores(acc));
        CHECK(json_integer_value(member(cpu, "physical_cores", JSON_INTEGER)) >= 1);
        features = member(cpu, "features", JSON_ARRAY);
        /* The list holds exactly the features has_feature reports. */
        size_t listed = 0;
        for (int f = 0; features && f < OLIVE_ISA_COUNT; f++) {
            const char *name = olive_isa_feature_name(f);
            int in_list = 0;
            for (size_t i = 0; i < json_array_size(features); i++)
                in_list |= strcmp(json_string_value(json_array_get(features, i)), name) == 0;
            CHECK_MSG(in_list == olive_accelerator_has_feature(acc, name), "feature %s: list %d, has %d", name, in_list,
                      olive_accelerator_has_feature(acc, name));
            listed += (size_t)in_list;
        }
        if (features)
            CHECK(listed == json_array_size(features));
    }

    cuda = member(root, "cuda", JSON_OBJECT);
    if (cuda) {
        json_t *available = json_object_get(cuda, "available");
        CHECK(json_is_boolean(available));
        devices = member(cuda, "devices", JSON_ARRAY);
        if (devices) {
            CHECK((int)json_array_size(devices) == olive_accelerator_cuda_device_count(acc));
            CHECK(json_is_true(available) == (json_array_size(devices) > 0));
            for (size_t i = 0; i < json_array_size(devices); i++) {
                json_t *d = json_array_get(devices, i);
                const char *cc = json_string_value(member(d, "compute_capability", JSON_STRING));
                int major = 0, minor = 0;
                CHECK(json_string_length(member(d, "name", JSON_STRING)) > 0);
                CHECK(json_integer_value(member(d, "memory_bytes", JSON_INTEGER)) > 0);
                CHECK(cc && sscanf(cc, "%d.%d", &major, &minor) == 2 && major >= 3);
            }
        }
    }

    backend = member(root, "cpu_backend", JSON_OBJECT);
    backends = member(root, "backends", JSON_ARRAY);
    if (backends) {
        CHECK(json_array_size(backends) >= 1);
        CHECK(strcmp(json_string_value(json_array_get(backends, 0)), "cpu") == 0);
#ifdef OLIVE_TEST_HAVE_CUDA
        CHECK(json_array_size(backends) == 3);
        if (json_array_size(backends) == 3)
            CHECK(strcmp(json_string_value(json_array_get(backends, 1)), "cuda") == 0);
#else
        CHECK(json_array_size(backends) == 2);
#endif
        /* ONNX Runtime's backend is always listed: its library is looked up when it is used. */
        CHECK(strcmp(json_string_value(json_array_get(backends, json_array_size(backends) - 1)), "onnxruntime") == 0);
    }
#ifdef OLIVE_TEST_HAVE_DNNL
    if (backend) {
        char want[32];
        snprintf(want, sizeof want, "%d.%d.%d", DNNL_VERSION_MAJOR, DNNL_VERSION_MINOR, DNNL_VERSION_PATCH);
        CHECK(strcmp(json_string_value(member(backend, "library", JSON_STRING)), "oneDNN") == 0);
        CHECK_MSG(strcmp(json_string_value(member(backend, "version", JSON_STRING)), want) == 0,
                  "oneDNN version %s, headers say %s", json_string_value(json_object_get(backend, "version")), want);
        CHECK(json_is_true(json_object_get(backend, "available")));
    }
#else
    if (backend)
        CHECK(json_is_null(json_object_get(backend, "library")));
#endif
    json_decref(root);
}

int main(void)
{
    olive_accelerator *cpu = NULL, *gpu = NULL;
    test_threads();
    test_feature_names();
    CHECK(olive_accelerator_new(&cpu, "cpu", NULL) == OLIVE_OK);
    CHECK(olive_accelerator_new(&gpu, "gpu", "CUDAExecutionProvider") == OLIVE_OK);
    if (cpu && gpu) {
        test_feature_consistency(cpu);
        test_figures(cpu);
        test_describe(cpu, "cpu", "CPUExecutionProvider");
        test_describe(gpu, "gpu", "CUDAExecutionProvider");
        /* Host facts are the same whichever accelerator asks. */
        CHECK(olive_accelerator_memory_bytes(cpu) == olive_accelerator_memory_bytes(gpu));
        CHECK(olive_accelerator_has_feature(cpu, "avx2") == olive_accelerator_has_feature(gpu, "avx2"));
    }
    olive_accelerator_free(cpu);
    olive_accelerator_free(gpu);
    return check_summary("test_host");
}
